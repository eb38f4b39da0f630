// One naming scheme across the clouds (docs/names.md) on Google Cloud: the classes' Gcp names (GcpInferenceLoadBalancer,
// GcpMultiRegionSpotInferenceService) with the old names as aliases, and namePrefix / bootCommands / agent.bundlePath
// on every fleet, service, queue worker and batch job; the old spellings still work, both together are refused.
import 'cdktf/lib/testing/adapters/jest';
import { join } from 'node:path';
import { Testing } from 'cdktf';
import {
  GcpBatchInference,
  GcpFleetLoadBalancer,
  GcpInferenceLoadBalancer,
  GcpMultiRegionSpotInferenceService,
  GcpMultiRegionSpotService,
  GcpQueueWorkerFleet,
  GcpSpotFleet,
  GcpSpotFleetProps,
  GcpSpotInferenceService,
} from '../../../constructs/gcp';
import { FleetSpecErrorCode } from '../../../lib/spec';
import { ensureBundles, fleetProps, one, synth } from './helpers';

Testing.setupJest();
beforeAll(ensureBundles);

const AGENT = join(__dirname, '..', '..', '..', 'dist', 'runtime', 'spot-agent-portable', 'index.js');

/** The shared fixture without its deprecated `name`. */
function props(overrides: Partial<GcpSpotFleetProps>): GcpSpotFleetProps {
  const { name: _name, ...rest } = fleetProps();
  return { ...rest, ...overrides };
}

const fleetJson = (p: GcpSpotFleetProps) => synth((scope) => new GcpSpotFleet(scope, 'Fleet', p)).json;

describe('class names', () => {
  test('the old names are the same classes', () => {
    expect(GcpFleetLoadBalancer).toBe(GcpInferenceLoadBalancer);
    expect(GcpMultiRegionSpotService).toBe(GcpMultiRegionSpotInferenceService);
  });
});

describe('GcpSpotFleet', () => {
  test('namePrefix names the resources; the deprecated name renders the same', () => {
    const current = fleetJson(props({ namePrefix: 'llm' }));
    expect(current).toContain('"name": "llm-spot"');
    expect(fleetJson(props({ name: 'llm' }))).toBe(current);
  });

  test('bootCommands run in the startup script, one per line; the deprecated startupScript renders the same', () => {
    const { resources } = synth((scope) => new GcpSpotFleet(scope, 'Fleet', props({ namePrefix: 'llm', bootCommands: ['echo one', 'echo two'] })));
    expect(one(resources, 'google_compute_region_instance_template', 'SpotTemplate').metadata['startup-script']).toContain('echo one\necho two');
    expect(fleetJson(props({ namePrefix: 'llm', startupScript: 'echo one\necho two' }))).toBe(fleetJson(props({ namePrefix: 'llm', bootCommands: ['echo one', 'echo two'] })));
  });

  test('agent.bundlePath ships the bundle; the deprecated agentBundlePath renders the same', () => {
    expect(fleetJson(props({ namePrefix: 'llm', agentBundlePath: AGENT }))).toBe(fleetJson(props({ namePrefix: 'llm', agent: { bundlePath: AGENT } })));
    expect(() => fleetJson(props({ namePrefix: 'llm', agent: { bundlePath: '/nonexistent/agent.js' } }))).toThrow(/agent\.bundlePath/);
  });

  test('every option given under both names is refused, together, each with the fix', () => {
    let caught: any;
    try {
      fleetJson(props({ namePrefix: 'a', name: 'b', bootCommands: ['x'], startupScript: 'y', agent: { bundlePath: AGENT }, agentBundlePath: AGENT }));
    } catch (e) {
      caught = e;
    }
    expect(caught?.problems?.filter((p: any) => p.code === FleetSpecErrorCode.OPTION_CONFLICT).map((p: any) => p.prop)).toEqual(['startupScript', 'name', 'agentBundlePath']);
    expect(caught.message).toMatch(/bootCommands and startupScript are both set; startupScript is the deprecated spelling of bootCommands \(docs\/names\.md\): set bootCommands only/);
    expect(caught.message).toMatch(/namePrefix and name are both set; .*set namePrefix only/);
    expect(caught.message).toMatch(/agent\.bundlePath and agentBundlePath are both set; .*set agent\.bundlePath only/);
  });
});

describe('the pieces that compose a fleet', () => {
  test('GcpSpotInferenceService: namePrefix, or the deprecated name; not both', () => {
    const svc = (p: Partial<GcpSpotFleetProps>) => synth((scope) => new GcpSpotInferenceService(scope, 'Svc', props(p))).json;
    expect(svc({ name: 'llm' })).toBe(svc({ namePrefix: 'llm' }));
    expect(() => svc({ namePrefix: 'llm', name: 'old' })).toThrow(/namePrefix and name are both set; .*set namePrefix only/);
  });

  test('GcpQueueWorkerFleet: its environment comes first, then bootCommands; the deprecated spellings render the same', () => {
    const q = (p: Partial<GcpSpotFleetProps>) => synth((scope) => new GcpQueueWorkerFleet(scope, 'Workers', {
      ...props({ minCapacity: 0, desiredCapacity: 0, maxCapacity: 10, onDemandBaseCapacity: 0, ...p }), messageProcessingSeconds: 60, acceptableLatencySeconds: 300,
    }));
    const current = q({ namePrefix: 'embed', bootCommands: ['systemctl start worker'] });
    const script: string = one(current.resources, 'google_compute_region_instance_template', 'SpotTemplate').metadata['startup-script'];
    expect(script.indexOf('systemctl start worker')).toBeGreaterThan(script.indexOf("QUEUE_WORKER_ENV'"));
    expect(q({ name: 'embed', startupScript: 'systemctl start worker' }).json).toBe(current.json);
    expect(() => q({ namePrefix: 'embed', bootCommands: ['a'], startupScript: 'b' })).toThrow(/bootCommands and startupScript are both set; .*set bootCommands only/);
  });

  test('GcpBatchInference: namePrefix, or the deprecated name; not both', () => {
    const base = { project: 'test-project', region: 'us-central1', machineType: 'g2-standard-8', image: 'us-docker.pkg.dev/p/r/embed:1', taskCount: 4, zones: ['us-central1-a', 'us-central1-b'] };
    const b = (p: { name?: string; namePrefix?: string }) => synth((scope) => new GcpBatchInference(scope, 'Batch', { ...base, ...p })).json;
    expect(b({ name: 'embed' })).toBe(b({ namePrefix: 'embed' }));
    expect(b({ namePrefix: 'embed' })).toContain('embed-batch');
    expect(() => b({ namePrefix: 'embed', name: 'old' })).toThrow(/namePrefix and name are both set; .*set namePrefix only/);
  });

  test('GcpMultiRegionSpotInferenceService: namePrefix, or the deprecated name; not both', () => {
    const base = {
      project: 'test-project',
      regions: [{ region: 'us-central1', zones: ['us-central1-a', 'us-central1-b'] }, { region: 'europe-west4', zones: ['europe-west4-a', 'europe-west4-b'] }],
      instanceTypes: ['g2-standard-8', 'g2-standard-12'], minCapacity: 2, maxCapacity: 6, onDemandBaseCapacity: 1,
    };
    const m = (p: { name?: string; namePrefix?: string; bootCommands?: string[]; startupScript?: string }) => synth((scope) => new GcpMultiRegionSpotInferenceService(scope, 'Svc', { ...base, ...p })).json;
    const current = m({ namePrefix: 'llm', bootCommands: ['echo hi'] });
    expect(current).toContain('llm-usce1-spot');
    expect(m({ name: 'llm', startupScript: 'echo hi' })).toBe(current);
    expect(() => m({ namePrefix: 'llm', name: 'old' })).toThrow(/namePrefix and name are both set; .*set namePrefix only/);
  });
});

describe('a bad prefix is reported under the prop the user set', () => {
  test('GcpSpotFleet: namePrefix, or the deprecated name', () => {
    expect(() => fleetJson(props({ namePrefix: 'LLM_fleet' }))).toThrow(/namePrefix \("LLM_fleet"\) must be 3-20 characters of lower-case letters, digits and hyphens/);
    expect(() => fleetJson(props({ name: 'LLM_fleet' }))).toThrow(/(?<!Prefix )name \("LLM_fleet"\) must be 3-20 characters/);
  });

  test('GcpBatchInference and GcpMultiRegionSpotInferenceService', () => {
    const batch = { project: 'test-project', region: 'us-central1', machineType: 'g2-standard-8', image: 'us-docker.pkg.dev/p/r/embed:1', taskCount: 4, zones: ['us-central1-a', 'us-central1-b'] };
    expect(() => synth((scope) => new GcpBatchInference(scope, 'Batch', { ...batch, namePrefix: 'Embed_Jobs' }))).toThrow(/namePrefix \("Embed_Jobs"\) must be 3-20 characters/);
    const multi = {
      project: 'test-project',
      regions: [{ region: 'us-central1', zones: ['us-central1-a', 'us-central1-b'] }, { region: 'europe-west4', zones: ['europe-west4-a', 'europe-west4-b'] }],
      instanceTypes: ['g2-standard-8'], minCapacity: 2, maxCapacity: 6, onDemandBaseCapacity: 1,
    };
    expect(() => synth((scope) => new GcpMultiRegionSpotInferenceService(scope, 'Svc', { ...multi, namePrefix: 'a-very-long-name' }))).toThrow(/namePrefix \("a-very-long-name"\) must be 1-13 lower-case letters/);
  });
});
