import { Testing } from 'cdktf';
import { GcpMultiRegionSpotInferenceService, GcpMultiRegionSpotInferenceServiceProps } from '../../../constructs/gcp';
import { FleetSpecError } from '../../../lib/spec';
import { ensureBundles, synth } from './helpers';

Testing.setupJest();
beforeAll(ensureBundles);

const REGIONS = [
  { region: 'us-central1', zones: ['us-central1-a', 'us-central1-b'] },
  { region: 'europe-west4', zones: ['europe-west4-a', 'europe-west4-b'] },
];

function build(overrides: Partial<GcpMultiRegionSpotInferenceServiceProps> = {}) {
  let svc!: GcpMultiRegionSpotInferenceService;
  const { resources } = synth((scope) => {
    svc = new GcpMultiRegionSpotInferenceService(scope, 'llm', { project: 'test-project', namePrefix: 'llm', regions: REGIONS, instanceTypes: ['g2-standard-8', 'g2-standard-12'], minCapacity: 2, maxCapacity: 6, onDemandBaseCapacity: 1, ...overrides });
  });
  const controller = Object.entries(resources.google_cloudfunctions2_function).find(([k]) => /OnDemandFallback/.test(k))![1] as any;
  return { svc, resources, controller, policy: JSON.parse(controller.service_config.environment_variables.POLICY_OPTIONS) };
}

describe('GcpMultiRegionSpotInferenceService homeRegion', () => {
  test('hosts the one controller in the home region, runs it on the other region\'s preemptions, and makes it the policy\'s homeRegion', () => {
    const { svc, resources, controller, policy } = build({ homeRegion: 'europe-west4', onDemandFallbackOptions: { policy: { spareSpotReplicas: 2 } } });
    expect(svc.controllerRegion).toBe('europe-west4');
    expect(controller.location).toBe('europe-west4');
    expect(policy).toEqual({ spareSpotReplicas: 2, homeRegion: 'europe-west4' });
    // Its own region's preemption hook runs it (the controller's trigger), and so does the other region's.
    const triggers = Object.fromEntries((Object.entries(resources.google_eventarc_trigger) as [string, any][]).map(([k, t]) => [k.replace(/_[A-F0-9]{8}$/, ''), t]));
    expect(Object.keys(triggers).sort()).toEqual(['llm_OnDemandFallback_PreemptionTrigger', 'llm_PreemptionTrigger-us-central1']);
    expect(triggers['llm_OnDemandFallback_PreemptionTrigger'].transport.pubsub.topic).toMatch(/^\$\{google_pubsub_topic\.llm_PreemptionHook-europe-west4_\w+\.id\}$/);
    const other = triggers['llm_PreemptionTrigger-us-central1'];
    expect(other.transport.pubsub.topic).toMatch(/^\$\{google_pubsub_topic\.llm_PreemptionHook-us-central1_\w+\.id\}$/);
    expect(other.location).toBe('europe-west4');
    expect(other.destination.cloud_run_service.region).toBe('europe-west4');
  });

  test('without one, the first region hosts the controller and no region is preferred', () => {
    const { svc, controller, policy } = build();
    expect(svc.controllerRegion).toBe('us-central1');
    expect(controller.location).toBe('us-central1');
    expect(policy).toEqual({});
  });

  test('a home region outside the regions, or a policy homeRegion that differs, is refused naming both', () => {
    const outside = () => build({ homeRegion: 'asia-east1' });
    expect(outside).toThrow(FleetSpecError);
    expect(outside).toThrow('homeRegion ("asia-east1") is not one of regions (us-central1, europe-west4); name one of them or add it to regions');
    expect(() => build({ homeRegion: 'us-central1', onDemandFallbackOptions: { policy: { homeRegion: 'europe-west4' } } })).toThrow(
      'onDemandFallbackOptions.policy.homeRegion ("europe-west4") differs from homeRegion ("us-central1")',
    );
  });
});
