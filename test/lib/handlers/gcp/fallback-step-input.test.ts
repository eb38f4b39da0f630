/**
 * `buildGcpStepInput`, the pure half of a Google Cloud controller run: the groups and managed instances one run
 * read, the preemptions it was given and the stored memory -> the step input. The handler plans exactly what it
 * returns, so the simulator's equivalence test can rebuild inputs with preemptions and failed creations in them.
 */
import { buildGcpStepInput, GcpFallbackSettings, GcpRegionView, ManagedInstance, runFallbackController, StoredState, usableGcpState } from '../../../../lib/handlers/gcp/fallback';
import { PreemptionRecord } from '../../../../lib/handlers/gcp/preemption';
import { initialFallbackState, planControllerStep } from '../../../../lib/policy';

const TYPE = 'g2-standard-8';
const vm = (zone: string, name: string, over: Partial<ManagedInstance> = {}): ManagedInstance => ({
  instance: `https://www.googleapis.com/compute/v1/projects/p/zones/${zone}/instances/${name}`,
  instanceStatus: 'RUNNING',
  currentAction: 'NONE',
  ...over,
});
const stockout = (zone: string, name: string): ManagedInstance =>
  vm(zone, name, { instanceStatus: 'PROVISIONING', currentAction: 'CREATING', lastAttempt: { errors: { errors: [{ code: 'ZONE_RESOURCE_POOL_EXHAUSTED', message: 'no capacity' }] } } });

const SETTINGS: GcpFallbackSettings = {
  fleetName: 'llm',
  project: 'p',
  region: 'us-central1',
  spotGroup: 'llm-spot',
  onDemandGroup: 'llm-od',
  onDemandBase: 1,
  maxCapacity: 6,
  defaultMachineType: TYPE,
  stateBucket: 'b',
  stateObject: 'o',
  spareGroups: [{ name: 'llm-spare-b', zone: 'us-central1-b', maxSize: 1 }],
};
const PREV: StoredState = { policy: initialFallbackState(), instancePools: {}, seenFailures: [], seenPreemptions: [] };

const view = (spot: ManagedInstance[], spare: ManagedInstance[] = []): GcpRegionView => ({
  r: { region: 'us-central1', spotGroup: 'llm-spot', onDemandGroup: 'llm-od', onDemandBase: 1, maxCapacity: 6, defaultMachineType: TYPE, spareGroups: SETTINGS.spareGroups },
  spotRef: 'llm-spot',
  odRef: 'llm-od',
  spotTarget: 3,
  onDemandSize: 1,
  spotInstances: spot,
  onDemandInstances: [vm('us-central1-a', 'llm-std-0')],
  spares: [{ settings: SETTINGS.spareGroups![0], ref: 'zones/us-central1-b/llm-spare-b', size: spare.length, instances: spare }],
});
const preemption = (name: string, zone: string, insertId: string): PreemptionRecord => ({ project: 'p', zone, instanceName: name, preemptedAt: '2026-12-03T14:00:00Z', insertId });
const pool = (r: ReturnType<typeof buildGcpStepInput>, id: string) => r.stepInput.observed.pools.find((p) => p.pool === id);

describe('buildGcpStepInput', () => {
  const spot = [vm('us-central1-a', 'llm-spot-a'), vm('us-central1-b', 'llm-spot-b'), stockout('us-central1-c', 'llm-spot-c')];

  test('counts per pool <region>/<zone>/<type>: ready, failed creations once; targets, groups, regions', () => {
    const r = buildGcpStepInput(SETTINGS, [view(spot)], PREV, [], 1000);
    expect(r.stepInput.observed).toMatchObject({ nowSeconds: 1000, targetReplicas: 4, onDemandBase: 1, maxCapacity: 6, onDemandReady: 1, mainSpotInService: 2, regions: [{ region: 'us-central1', targetReplicas: 4, onDemandBase: 1 }] });
    expect(pool(r, `us-central1/us-central1-c/${TYPE}`)).toMatchObject({ ready: 0, launchFailures: 1 });
    expect(pool(r, `us-central1/us-central1-b/${TYPE}`)).toMatchObject({ ready: 1 });
    expect(r.groups.map((g) => `${g.role}:${g.id}`)).toEqual(['on-demand:llm-od', 'spare-spot:zones/us-central1-b/llm-spare-b']);
    // the same failure the next run is not a second strike
    const again = buildGcpStepInput(SETTINGS, [view(spot)], { ...PREV, seenFailures: r.seenFailures }, [], 1060);
    expect(pool(again, `us-central1/us-central1-c/${TYPE}`)!.launchFailures).toBe(0);
  });

  test('preemptions: each counted once in the pool the VM ran in (spare VMs too), a doomed ready VM is not ready, repeats are reported', () => {
    const prev = { ...PREV, instancePools: { 'llm-spot-a': `us-central1/us-central1-a/${TYPE}`, 'llm-spare-b-x1': `us-central1/us-central1-b/${TYPE}` }, seenPreemptions: ['old'] };
    const r = buildGcpStepInput(SETTINGS, [view(spot, [vm('us-central1-b', 'llm-spare-b-x1')])], prev, [
      preemption('llm-spot-a', 'us-central1-a', 'e1'),
      preemption('llm-spot-a', 'us-central1-a', 'e1'), // the same entry delivered twice in the list
      preemption('llm-spare-b-x1', 'us-central1-b', 'e2'),
      preemption('llm-spot-z', 'us-central1-f', 'old'),
    ], 1000);
    expect(pool(r, `us-central1/us-central1-a/${TYPE}`)).toMatchObject({ ready: 0, preempted: 1 });
    expect(pool(r, `us-central1/us-central1-b/${TYPE}`)).toMatchObject({ ready: 1, preempted: 1 }); // llm-spot-b stays ready, the spare does not
    expect(r.repeatedPreemptions).toEqual(['e1', 'old']);
    expect(r.seenPreemptions).toEqual(['old', 'e1', 'e2']);
    // a preemption of a VM never listed goes to its zone's pool with the default type
    const unknown = buildGcpStepInput(SETTINGS, [view(spot)], PREV, [preemption('llm-spot-q', 'us-central1-f', 'e9')], 1000);
    expect(pool(unknown, `us-central1/us-central1-f/${TYPE}`)).toMatchObject({ preempted: 1, ready: 0 });
  });

  test('the handler plans exactly what the builder returns (same views, same memory, same preemption)', async () => {
    const lists = new Map<string, ManagedInstance[]>([['llm-spot', spot], ['llm-od', [vm('us-central1-a', 'llm-std-0')]], ['zones/us-central1-b/llm-spare-b', []]]);
    const sizes = new Map<string, number>([['llm-spot', 3], ['llm-od', 1], ['zones/us-central1-b/llm-spare-b', 0]]);
    const prev = { ...PREV, instancePools: { 'llm-spot-a': `us-central1/us-central1-a/${TYPE}` } };
    const p = preemption('llm-spot-a', 'us-central1-a', 'e1');
    const event = { data: { message: { data: Buffer.from(JSON.stringify({
      insertId: 'e1', timestamp: p.preemptedAt, resource: { type: 'gce_instance', labels: { zone: p.zone, project_id: 'p' } },
      protoPayload: { methodName: 'compute.instances.preempted', resourceName: `projects/p/zones/${p.zone}/instances/${p.instanceName}` },
    })).toString('base64') } } };
    const out = await runFallbackController(SETTINGS, {
      compute: { getTargetSize: async (g) => sizes.get(g)!, listManagedInstances: async (g) => lists.get(g)!, resize: async () => undefined },
      state: { read: async () => ({ state: prev, generation: '1' }), write: async () => true },
      log: () => undefined,
      now: () => new Date(1000 * 1000),
    }, event);
    expect(out.preemption?.instanceName).toBe('llm-spot-a');
    const r = buildGcpStepInput(SETTINGS, [view(spot)], prev, [p], 1000);
    expect(out.stepInput).toEqual(r.stepInput);
    expect(out.actions).toEqual(planControllerStep(r.stepInput).actions);
  });
});

describe('a state object of the wrong shape', () => {
  test.each([[{}], [[1]], [{ policy: null }]])('%j: the run starts from a fresh state, logs why, and saves a good one', async (bad) => {
    const logs: Record<string, unknown>[] = [];
    let saved: StoredState | undefined;
    const lists = new Map<string, ManagedInstance[]>([['llm-spot', [vm('us-central1-a', 'llm-spot-a')]], ['llm-od', []], ['zones/us-central1-b/llm-spare-b', []]]);
    const out = await runFallbackController(SETTINGS, {
      compute: { getTargetSize: async () => 1, listManagedInstances: async (g) => lists.get(g)!, resize: async () => undefined },
      state: { read: async () => ({ state: bad as unknown as StoredState, generation: '3' }), write: async (s) => ((saved = s), true) },
      log: (e) => logs.push(e),
      now: () => new Date(1000 * 1000),
    });
    expect(out.stateSaved).toBe(true);
    expect(logs.some((l) => /the state object is not a controller state .*; starting from a fresh state/.test(String(l.message)))).toBe(true);
    expect(saved!.instancePools).toEqual({ 'llm-spot-a': `us-central1/us-central1-a/${TYPE}` });
  });

  test('missing bookkeeping fields of a good state are filled in, the policy memory kept', () => {
    const policy = { ...initialFallbackState(), fallbackReplicas: 1 };
    expect(usableGcpState({ policy, seenFailures: ['a', 3] }, SETTINGS)).toEqual({ policy, instancePools: {}, seenFailures: ['a'], seenPreemptions: [] });
  });
});
