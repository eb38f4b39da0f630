/**
 * The Google Cloud controller applies every part of the decision: the standard group's size, the spare spot
 * VMs (one zonal MIG per zone, steered by their sizes) and several regions; vanished groups and refused
 * resizes neither crash it nor lose its state.
 */
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import {
  ComputeClient,
  createComputeClient,
  fallbackSettingsFromEnv,
  GcpFallbackClients,
  GcpFallbackSettings,
  GoogleApiError,
  ManagedInstance,
  runFallbackController,
  StoredState,
} from '../../../../lib/handlers/gcp/fallback';
import { PubsubCloudEvent } from '../../../../lib/handlers/gcp/preemption';
import { planControllerStep } from '../../../../lib/policy';

interface FakeGroup { size: number; instances: ManagedInstance[] }

/** Compute Engine groups by reference (`name`, `regions/r/name`, `zones/z/name`), in memory. */
class FakeCompute implements ComputeClient {
  public readonly groups = new Map<string, FakeGroup>();
  public readonly resizes: Array<[string, number]> = [];
  public readonly refuse = new Set<string>();
  private group(ref: string): FakeGroup {
    const g = this.groups.get(ref);
    if (!g) throw new GoogleApiError(404, `The resource '${ref}' was not found`);
    return g;
  }
  async getTargetSize(ref: string) {
    return this.group(ref).size;
  }
  async listManagedInstances(ref: string) {
    return this.group(ref).instances;
  }
  async resize(ref: string, size: number) {
    const g = this.group(ref);
    if (this.refuse.has(ref)) throw new GoogleApiError(409, `The resource '${ref}' is not ready`);
    this.resizes.push([ref, size]);
    g.size = size;
  }
}

const vm = (zone: string, name: string): ManagedInstance => ({
  instance: `https://www.googleapis.com/compute/v1/projects/p/zones/${zone}/instances/${name}`,
  instanceStatus: 'RUNNING',
  currentAction: 'NONE',
});

const SETTINGS: GcpFallbackSettings = {
  fleetName: 'llm',
  project: 'p',
  region: 'us-central1',
  spotGroup: 'llm-spot',
  onDemandGroup: 'llm-od',
  onDemandBase: 0,
  maxCapacity: 6,
  defaultMachineType: 'g2-standard-8',
  stateBucket: 'b',
  stateObject: 'o',
  policy: { coverSparesWhenScarce: false },
  spareGroups: ['a', 'b', 'c'].map((z) => ({ name: `llm-spare-${z}`, zone: `us-central1-${z}`, maxSize: 1 })),
};

let compute: FakeCompute;
let stored: { state?: StoredState; generation: string };
let logs: Record<string, unknown>[];
let clock: number;
let clients: GcpFallbackClients;

function fleet(): void {
  compute.groups.set('llm-spot', { size: 3, instances: [vm('us-central1-a', 'llm-spot-a'), vm('us-central1-b', 'llm-spot-b'), vm('us-central1-c', 'llm-spot-c')] });
  compute.groups.set('llm-od', { size: 0, instances: [] });
  for (const z of ['a', 'b', 'c']) compute.groups.set(`zones/us-central1-${z}/llm-spare-${z}`, { size: 0, instances: [] });
}

beforeEach(() => {
  compute = new FakeCompute();
  stored = { generation: '0' };
  logs = [];
  clock = 1_800_000_000;
  clients = {
    compute,
    state: {
      read: async () => ({ ...stored }),
      write: async (state, generation) => {
        if (generation !== stored.generation) return false;
        stored = { state: JSON.parse(JSON.stringify(state)), generation: String(Number(generation) + 1) };
        return true;
      },
    },
    log: (e) => logs.push(e),
    now: () => new Date(clock * 1000),
  };
  fleet();
});

function preempted(name: string, zone: string, insertId = `ins-${name}`): PubsubCloudEvent {
  const entry = { insertId, timestamp: new Date(clock * 1000).toISOString(), resource: { labels: { project_id: 'p', zone } }, protoPayload: { methodName: 'compute.instances.preempted', resourceName: `projects/p/zones/${zone}/instances/${name}` } };
  return { data: { message: { data: Buffer.from(JSON.stringify(entry)).toString('base64') } } } as PubsubCloudEvent;
}

describe('spare spot VMs, one region', () => {
  test('a preemption: standard group +1, one spare in a zone the policy does not avoid, the spot group never resized', async () => {
    await runFallbackController(SETTINGS, clients); // the listing the preemption is placed with
    const out = await runFallbackController(SETTINGS, clients, preempted('llm-spot-a', 'us-central1-a'));
    expect(out.decision.unavailablePools).toEqual(['us-central1/us-central1-a/g2-standard-8']);
    expect(compute.groups.get('llm-od')!.size).toBe(1);
    expect(compute.groups.get('zones/us-central1-a/llm-spare-a')!.size).toBe(0);
    expect(compute.groups.get('zones/us-central1-b/llm-spare-b')!.size + compute.groups.get('zones/us-central1-c/llm-spare-c')!.size).toBe(1);
    expect(compute.resizes.map(([ref]) => ref)).not.toContain('llm-spot');
    expect(out.spareSize).toBe(1);
    // what the handler applied is what the pure step returns for its input
    expect(planControllerStep(out.stepInput).actions).toEqual(out.actions);
  });

  test('the spare goes to the zone holding none of the fleet\'s spot (spreadSpares), not next to a main VM it would be lost with', async () => {
    compute.groups.set('llm-spot', { size: 3, instances: [vm('us-central1-a', 'llm-spot-a1'), vm('us-central1-a', 'llm-spot-a2'), vm('us-central1-b', 'llm-spot-b')] });
    await runFallbackController(SETTINGS, clients);
    const out = await runFallbackController(SETTINGS, clients, preempted('llm-spot-a1', 'us-central1-a'));
    expect(out.decision.preferredPools[0]).toBe('us-central1/us-central1-b/g2-standard-8');
    expect(['a', 'b', 'c'].map((z) => compute.groups.get(`zones/us-central1-${z}/llm-spare-${z}`)!.size)).toEqual([0, 0, 1]);
    expect(planControllerStep(out.stepInput).actions).toEqual(out.actions);
    // with spreadSpares off it would sit next to llm-spot-b, the best-ranked pool
    const off = planControllerStep({ ...out.stepInput, options: { ...out.stepInput.options, spreadSpares: false } });
    expect(off.actions.filter((a) => a.desired > 0 && a.role === 'spare-spot').map((a) => a.group)).toEqual(['zones/us-central1-b/llm-spare-b']);
  });

  test('the main groups\' spot in service counts the spot MIG\'s ready VMs only: not the spare MIGs\', not one within its notice', async () => {
    compute.groups.set('zones/us-central1-b/llm-spare-b', { size: 1, instances: [vm('us-central1-b', 'llm-spare-b-1')] });
    await runFallbackController(SETTINGS, clients);
    const out = await runFallbackController(SETTINGS, clients, preempted('llm-spot-a', 'us-central1-a'));
    expect(out.stepInput.observed.mainSpotInService).toBe(2);
    expect(out.stepInput.observed.pools.reduce((n, p) => n + p.ready, 0)).toBe(3);
  });

  test('the same preemption delivered twice: counted once, nothing resized the second time', async () => {
    await runFallbackController(SETTINGS, clients);
    await runFallbackController(SETTINGS, clients, preempted('llm-spot-a', 'us-central1-a'));
    const n = compute.resizes.length;
    const again = await runFallbackController(SETTINGS, clients, preempted('llm-spot-a', 'us-central1-a'));
    expect(compute.resizes.length).toBe(n);
    expect(again.decision.state.pools.find((p) => p.pool === 'us-central1/us-central1-a/g2-standard-8')!.strikes).toBe(1);
    expect(logs.some((l) => /already counted \(repeated delivery\)/.test(String(l.message)))).toBe(true);
  });

  test('a spare VM preempted (its own name prefix) counts too', async () => {
    compute.groups.get('zones/us-central1-b/llm-spare-b')!.instances = [vm('us-central1-b', 'llm-spare-b-x1')];
    await runFallbackController(SETTINGS, clients);
    const out = await runFallbackController(SETTINGS, clients, preempted('llm-spare-b-x1', 'us-central1-b'));
    expect(out.decision.unavailablePools).toEqual(['us-central1/us-central1-b/g2-standard-8']);
  });

  test('a vanished spare group is logged and skipped; a refused resize is logged and redone next run; the state is saved', async () => {
    compute.groups.delete('zones/us-central1-b/llm-spare-b');
    compute.refuse.add('zones/us-central1-c/llm-spare-c');
    await runFallbackController(SETTINGS, clients);
    const out = await runFallbackController(SETTINGS, clients, preempted('llm-spot-a', 'us-central1-a'));
    expect(out.stateSaved).toBe(true);
    expect(compute.groups.get('llm-od')!.size).toBe(1);
    expect(logs.some((l) => /spare group zones\/us-central1-b\/llm-spare-b not found/.test(String(l.message)))).toBe(true);
    expect(logs.some((l) => /resize zones\/us-central1-c\/llm-spare-c to 1 failed .*the next run redoes it/.test(String(l.message)))).toBe(true);
    compute.refuse.clear();
    clock += 60;
    await runFallbackController(SETTINGS, clients);
    expect(compute.groups.get('zones/us-central1-c/llm-spare-c')!.size).toBe(1);
  });
});

describe('several regions, one controller', () => {
  const MULTI: GcpFallbackSettings = {
    ...SETTINGS,
    policy: { coverSparesWhenScarce: false, spareSpotReplicas: 1 },
    regions: [
      { region: 'us-central1', spotGroup: 'llm-spot', onDemandGroup: 'llm-od', onDemandBase: 0, maxCapacity: 6, spareGroups: SETTINGS.spareGroups },
      { region: 'europe-west4', spotGroup: 'llm-spot', onDemandGroup: 'llm-od', onDemandBase: 0, maxCapacity: 4, spareGroups: [{ name: 'llm-spare-a', zone: 'europe-west4-a', maxSize: 1 }] },
    ],
  };
  beforeEach(() => {
    compute.groups.set('regions/europe-west4/llm-spot', { size: 2, instances: [vm('europe-west4-a', 'llm-spot-ea'), vm('europe-west4-b', 'llm-spot-eb')] });
    compute.groups.set('regions/europe-west4/llm-od', { size: 0, instances: [] });
    compute.groups.set('zones/europe-west4-a/llm-spare-a', { size: 0, instances: [] });
  });

  test('us-central1 loses every spot VM at once: its standard group takes the fallback, the spare goes to europe-west4', async () => {
    await runFallbackController(MULTI, clients);
    for (const z of ['a', 'b', 'c']) await runFallbackController(MULTI, clients, preempted(`llm-spot-${z}`, `us-central1-${z}`));
    compute.groups.get('llm-spot')!.instances = [];
    clock += 30;
    const out = await runFallbackController(MULTI, clients);
    expect(compute.groups.get('llm-od')!.size).toBe(3);
    expect(compute.groups.get('regions/europe-west4/llm-od')!.size).toBe(0);
    expect(compute.groups.get('zones/europe-west4-a/llm-spare-a')!.size).toBe(1);
    for (const z of ['a', 'b', 'c']) expect(compute.groups.get(`zones/us-central1-${z}/llm-spare-${z}`)!.size).toBe(0);
    expect(out.stepInput.observed.regions!.map((r) => r.region)).toEqual(['us-central1', 'europe-west4']);
  });

  test('a region whose groups are gone is left out and logged; the other is still driven', async () => {
    compute.groups.delete('regions/europe-west4/llm-spot');
    const out = await runFallbackController(MULTI, clients, undefined);
    expect(out.stepInput.observed.regions!.map((r) => r.region)).toEqual(['us-central1']);
    expect(logs.some((l) => /a group of region europe-west4 not found .*left out of this run/.test(String(l.message)))).toBe(true);
  });
});

describe('REST paths of group references', () => {
  let server: Server;
  let paths: string[];
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      paths.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ targetSize: 2, managedInstances: [] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));
  beforeEach(() => (paths = []));

  test('bare names are regional MIGs of the home region; regions/ and zones/ references go to their own collections', async () => {
    const c = createComputeClient({ getAccessToken: async () => 't', project: 'p', region: 'us-central1', endpoint: url });
    await c.getTargetSize('llm-od');
    await c.resize('regions/europe-west4/llm-od', 2);
    await c.resize('zones/us-central1-a/llm-spare-a', 1);
    await c.listManagedInstances('zones/us-central1-a/llm-spare-a');
    expect(paths).toEqual([
      'GET /compute/v1/projects/p/regions/us-central1/instanceGroupManagers/llm-od',
      'POST /compute/v1/projects/p/regions/europe-west4/instanceGroupManagers/llm-od/resize?size=2',
      'POST /compute/v1/projects/p/zones/us-central1-a/instanceGroupManagers/llm-spare-a/resize?size=1',
      'POST /compute/v1/projects/p/zones/us-central1-a/instanceGroupManagers/llm-spare-a/listManagedInstances?maxResults=500',
    ]);
  });
});

describe('settings', () => {
  const base = { FLEET_NAME: 'llm', GCP_PROJECT: 'p', FLEET_REGION: 'us-central1', SPOT_GROUP: 's', ON_DEMAND_GROUP: 'o', ON_DEMAND_BASE: '0', MAX_CAPACITY: '4', DEFAULT_MACHINE_TYPE: 'g2-standard-8', STATE_BUCKET: 'b', STATE_OBJECT: 'o' };
  test('spare groups and regions are read; malformed ones are refused naming the field and the form', () => {
    const s = fallbackSettingsFromEnv({ ...base, SPARE_GROUPS: JSON.stringify([{ name: 'x', zone: 'us-central1-a', maxSize: 1 }]) });
    expect(s.spareGroups).toEqual([{ name: 'x', zone: 'us-central1-a', maxSize: 1 }]);
    expect(() => fallbackSettingsFromEnv({ ...base, SPARE_GROUPS: '{"name":"x"}' })).toThrow(/SPARE_GROUPS \(\{"name":"x"\}\) must be a JSON list/);
    expect(() => fallbackSettingsFromEnv({ ...base, SPARE_GROUPS: JSON.stringify([{ name: 'x', zone: '', maxSize: -1 }]) })).toThrow(/SPARE_GROUPS\[0\]\.zone \(""\) must be a zone, e\.g\. us-central1-a; SPARE_GROUPS\[0\]\.maxSize \(-1\) must be a whole number, 0 or more/);
    expect(() => fallbackSettingsFromEnv({ ...base, REGIONS: JSON.stringify([{ region: 'eu', spotGroup: 's', onDemandGroup: 'o', onDemandBase: 0 }]) })).toThrow(/REGIONS\[0\]\.maxCapacity \(undefined\) must be a whole number, 0 or more/);
    expect(() => fallbackSettingsFromEnv({ ...base, REGIONS: '[' })).toThrow(/REGIONS is not JSON/);
  });
});
