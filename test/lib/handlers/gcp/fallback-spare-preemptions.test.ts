/**
 * Preemptions of the fallback controller's spare spot VMs (`<fleet>-spare-<zone>-...`) are seen: the preemption
 * hook's log sink routes them, its function records them as the fleet's, and the controller counts them in the pool
 * the spare VM ran in. Other fleets' VMs are still ignored.
 */
import 'cdktf/lib/testing/adapters/jest';
import { Testing } from 'cdktf';
import { GcpOnDemandFallback, GcpPreemptionHook, GcpSpotFleet } from '../../../../constructs/gcp';
import { spareInstanceNamePrefix } from '../../../../constructs/gcp/spare-names';
import { PreemptionClients, PreemptionPoint, PubsubCloudEvent, recordPreemption, settingsFromEnv } from '../../../../lib/handlers/gcp/preemption';
import { ensureBundles, fleetProps, one, synth } from '../../../constructs/gcp/helpers';

Testing.setupJest();
beforeAll(ensureBundles);

const entry = (instance: string, zone = 'us-central1-b') => ({
  protoPayload: { methodName: 'compute.instances.preempted', resourceName: `projects/test-project/zones/${zone}/instances/${instance}` },
  insertId: `id-${instance}`,
  resource: { type: 'gce_instance', labels: { project_id: 'test-project', zone } },
  timestamp: '2026-12-03T14:00:00Z',
  logName: 'projects/test-project/logs/cloudaudit.googleapis.com%2Fsystem_event',
});
const event = (e: unknown): PubsubCloudEvent => ({ id: '1', data: { message: { data: Buffer.from(JSON.stringify(e)).toString('base64'), messageId: '1' } } } as PubsubCloudEvent);

describe('spare VMs\' preemptions', () => {
  const { resources } = synth((scope) => {
    const fleet = new GcpSpotFleet(scope, 'Fleet', fleetProps({ zones: ['us-central1-a', 'us-central1-b'] }));
    const hook = new GcpPreemptionHook(scope, 'Hook', { fleet });
    new GcpOnDemandFallback(scope, 'Fallback', { fleet, preemptionHook: hook, spareGroups: true });
  });

  test('the sink\'s filter takes the spot VMs and the spare VMs of the fallback\'s spare groups (their base instance names)', () => {
    const filter: string = one(resources, 'google_logging_project_sink', 'Sink').filter;
    expect(filter).toContain('protoPayload.resourceName:("/instances/llm-spot-" OR "/instances/llm-spare-")');
    const spareBases = Object.values(resources.google_compute_instance_group_manager ?? {}).map((g: any) => g.base_instance_name as string);
    expect(spareBases.length).toBe(2);
    for (const base of spareBases) expect(base.startsWith(spareInstanceNamePrefix('llm'))).toBe(true);
  });

  test('the hook function and the controller get the same spare prefix', () => {
    const fns = Object.values(resources.google_cloudfunctions2_function) as any[];
    const hookEnv = fns.find((f) => f.name === 'llm-preemption').service_config.environment_variables;
    const fallbackEnv = fns.find((f) => f.name === 'llm-fallback').service_config.environment_variables;
    expect(hookEnv.SPARE_INSTANCE_NAME_PREFIX).toBe('llm-spare-');
    expect(fallbackEnv.SPARE_INSTANCE_NAME_PREFIX).toBe(hookEnv.SPARE_INSTANCE_NAME_PREFIX);
    expect(settingsFromEnv(hookEnv).spareInstanceNamePrefix).toBe('llm-spare-');
  });

  test('the function records a spare VM\'s preemption as the fleet\'s; another fleet\'s VM is still ignored, naming both prefixes', async () => {
    const settings = settingsFromEnv({ FLEET_NAME: 'llm', GCP_PROJECT: 'test-project', INSTANCE_NAME_PREFIX: 'llm-spot-', SPARE_INSTANCE_NAME_PREFIX: 'llm-spare-', METRIC_TYPE: 'custom.googleapis.com/x' });
    const points: PreemptionPoint[] = [];
    const clients: PreemptionClients = { metrics: { writePoint: async (p) => void points.push(p) }, log: () => undefined, now: () => new Date('2026-12-03T14:00:01Z') };
    const spare = await recordPreemption(event(entry('llm-spare-b-x1')), settings, clients);
    expect(spare).toMatchObject({ status: 'recorded', record: { instanceName: 'llm-spare-b-x1' } });
    expect(points.map((p) => p.labels.instance)).toEqual(['llm-spare-b-x1']);
    const other = await recordPreemption(event(entry('batch-spare-b-x1')), settings, clients);
    expect(other).toMatchObject({ status: 'ignored', reason: 'instance test-project/batch-spare-b-x1 is not a spot VM of fleet llm (test-project/llm-spot-* or test-project/llm-spare-*)' });
    // without the spare prefix (an older deployment), a spare VM is not the fleet's
    const old = await recordPreemption(event(entry('llm-spare-b-x2')), { ...settings, spareInstanceNamePrefix: undefined }, clients);
    expect(old.status).toBe('ignored');
  });
});
