import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { MultiRegionSpotInferenceService, MultiRegionSpotInferenceServiceProps } from '../../../constructs/aws';
import { FleetSpecError } from '../../../lib/spec';
import { AGENT_BUNDLE, GPU_TYPES } from './fixtures';

const REGIONS = [
  { region: 'us-east-1', zones: ['us-east-1a', 'us-east-1b'] },
  { region: 'us-west-2', zones: ['us-west-2a', 'us-west-2b'] },
];

function service(overrides: Partial<MultiRegionSpotInferenceServiceProps> = {}): MultiRegionSpotInferenceService {
  return new MultiRegionSpotInferenceService(new App(), 'Svc', {
    account: '123456789012',
    regions: REGIONS,
    minCapacity: 1,
    maxCapacity: 4,
    onDemandBaseCapacity: 1,
    instanceTypes: GPU_TYPES,
    agent: { bundlePath: AGENT_BUNDLE },
    dashboard: false,
    interruptionDrill: false,
    ...overrides,
  });
}

/** The fallback policy options the controller's Lambda reads (FALLBACK_POLICY_OPTIONS), in the controller's region. */
function controllerPolicy(s: MultiRegionSpotInferenceService): Record<string, unknown> {
  const fns = Template.fromStack(s.regionalStacks[s.controllerRegion]).findResources('AWS::Lambda::Function');
  const env = Object.values(fns).map((f: any) => f.Properties.Environment?.Variables ?? {}).find((v) => v.FALLBACK_POLICY_OPTIONS !== undefined);
  return JSON.parse(env.FALLBACK_POLICY_OPTIONS);
}

describe('MultiRegionSpotInferenceService homeRegion steers the spot too', () => {
  test('the home region hosts the controller and becomes its policy\'s homeRegion, beside the policy\'s own tuning', () => {
    const s = service({ homeRegion: 'us-west-2', onDemandFallbackOptions: { policy: { spareSpotReplicas: 2 } } });
    expect(s.controllerRegion).toBe('us-west-2');
    expect(controllerPolicy(s)).toEqual({ spareSpotReplicas: 2, homeRegion: 'us-west-2' });
  });

  test('without a home region the policy prefers no region', () => {
    expect(controllerPolicy(service())).toEqual({});
  });

  test('a policy homeRegion that differs from homeRegion, or names no region of the service, is refused with both values', () => {
    const differs = () => service({ homeRegion: 'us-west-2', onDemandFallbackOptions: { policy: { homeRegion: 'us-east-1' } } });
    expect(differs).toThrow(FleetSpecError);
    expect(differs).toThrow('onDemandFallbackOptions.policy.homeRegion ("us-east-1") differs from homeRegion ("us-west-2"); the policy takes the service\'s homeRegion: leave onDemandFallbackOptions.policy.homeRegion out, or make them the same region');
    expect(() => service({ onDemandFallbackOptions: { policy: { homeRegion: 'eu-west-1' } } })).toThrow('onDemandFallbackOptions.policy.homeRegion ("eu-west-1") is not one of regions (us-east-1, us-west-2), so no pool would ever be preferred; name one of them');
  });

  test('a policy homeRegion among the regions is kept as given', () => {
    expect(controllerPolicy(service({ onDemandFallbackOptions: { policy: { homeRegion: 'us-west-2' } } }))).toEqual({ homeRegion: 'us-west-2' });
  });
});
