import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  ComputeClient,
  createComputeClient,
  createFallbackMetrics,
  createGcsStateStore,
  fallbackSettingsFromEnv,
  fleetInstanceNamePrefixes,
  GcpFallbackClients,
  GcpFallbackOutcome,
  GcpFallbackSettings,
  GoogleApiError,
  googleRequest,
  ManagedInstance,
  observeSpotGroup,
  runFallbackController,
  StateStore,
  StoredState,
} from '../../../../lib/handlers/gcp/fallback';
import { PubsubCloudEvent } from '../../../../lib/handlers/gcp/preemption';
import { FallbackAction } from '../../../../lib/policy';

/**
 * A loopback emulator of the three Google APIs the controller calls: Compute Engine (regional MIGs), Cloud
 * Storage (one object, with generations) and Cloud Monitoring. It records every request.
 */
class GoogleEmulator {
  public readonly groups = new Map<string, { targetSize: number; instances: ManagedInstance[] }>();
  public object?: { body: string; generation: number };
  public readonly requests: { method: string; path: string; body: string }[] = [];
  public readonly points: any[] = [];
  /** Status codes to answer the next requests with, before serving them normally. */
  public readonly failNext: number[] = [];
  private server!: Server;
  public url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  calls(method: string, part: string): number {
    return this.requests.filter((r) => r.method === method && r.path.includes(part)).length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url!, this.url);
    this.requests.push({ method: req.method!, path: `${url.pathname}${url.search}`, body });
    const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(value));
    };
    if (req.headers.authorization !== 'Bearer test-token') return json(401, { error: { message: 'no token' } });
    const fail = this.failNext.shift();
    if (fail) return json(fail, { error: { message: `injected ${fail}` } }, fail === 429 ? { 'retry-after': '0' } : {});
    let m = /\/compute\/v1\/projects\/test-project\/regions\/us-central1\/instanceGroupManagers\/([^/]+)(\/(listManagedInstances|resize))?$/.exec(url.pathname);
    if (m) {
      const group = this.groups.get(m[1]);
      if (!group) return json(404, { error: { message: `group ${m[1]} not found` } });
      if (!m[3]) return json(200, { name: m[1], targetSize: group.targetSize });
      if (m[3] === 'listManagedInstances') return json(200, { managedInstances: group.instances });
      group.targetSize = Number(url.searchParams.get('size'));
      return json(200, { kind: 'compute#operation', status: 'RUNNING' });
    }
    m = /\/storage\/v1\/b\/state-bucket\/o\/([^/]+)$/.exec(url.pathname);
    if (m) {
      if (!this.object) return json(404, { error: { message: 'No such object' } });
      res.writeHead(200, { 'content-type': 'application/json', 'x-goog-generation': String(this.object.generation) });
      return void res.end(this.object.body);
    }
    if (url.pathname === '/upload/storage/v1/b/state-bucket/o') {
      const want = url.searchParams.get('ifGenerationMatch');
      const have = String(this.object?.generation ?? 0);
      if (want !== have) return json(412, { error: { message: 'At least one of the pre-conditions you specified did not hold.' } });
      this.object = { body, generation: (this.object?.generation ?? 0) + 1 };
      return json(200, { generation: String(this.object.generation) });
    }
    if (url.pathname === '/v3/projects/test-project/timeSeries') {
      this.points.push(JSON.parse(body));
      return json(200, {});
    }
    return json(404, { error: { message: `unexpected ${req.method} ${url.pathname}` } });
  }
}

const SETTINGS: GcpFallbackSettings = {
  fleetName: 'llm',
  project: 'test-project',
  region: 'us-central1',
  spotGroup: 'llm-spot',
  onDemandGroup: 'llm-od',
  onDemandBase: 1,
  maxCapacity: 8,
  defaultMachineType: 'g2-standard-8',
  stateBucket: 'state-bucket',
  stateObject: 'fallback-state/llm.json',
};

function vm(zone: string, name: string, opts: Partial<ManagedInstance> & { machineType?: string; healthy?: boolean } = {}): ManagedInstance {
  return {
    instance: `https://www.googleapis.com/compute/v1/projects/test-project/zones/${zone}/instances/${name}`,
    instanceStatus: opts.instanceStatus ?? 'RUNNING',
    currentAction: opts.currentAction ?? 'NONE',
    instanceHealth: opts.healthy === undefined ? undefined : [{ healthState: opts.healthy ? 'HEALTHY' : 'UNHEALTHY' }],
    lastAttempt: opts.lastAttempt,
    propertiesFromFlexibilityPolicy: opts.machineType ? { machineType: opts.machineType } : undefined,
  };
}

const exhausted = (zone: string, name: string): ManagedInstance =>
  vm(zone, name, {
    instanceStatus: undefined,
    currentAction: 'CREATING',
    lastAttempt: { errors: { errors: [{ code: 'ZONE_RESOURCE_POOL_EXHAUSTED', message: `The zone 'projects/test-project/zones/${zone}' does not have enough resources available to fulfill the request.` }] } },
  });

const readySpot = (): ManagedInstance[] => [
  vm('us-central1-a', 'llm-spot-a1', { machineType: 'g2-standard-8', healthy: true }),
  vm('us-central1-b', 'llm-spot-b1', { machineType: 'g2-standard-12', healthy: true }),
  vm('us-central1-c', 'llm-spot-c1', { machineType: 'g2-standard-8', healthy: true }),
];

describe('GCP fallback controller against a loopback Google API emulator', () => {
  const api = new GoogleEmulator();
  let clock = 1_800_000_000;
  const logs: Record<string, any>[] = [];
  let clients: GcpFallbackClients;

  beforeAll(async () => {
    await api.start();
    const rest = { getAccessToken: async () => 'test-token', baseDelayMs: 1 };
    clients = {
      compute: createComputeClient({ ...rest, project: 'test-project', region: 'us-central1', endpoint: api.url }),
      state: createGcsStateStore({ ...rest, bucket: 'state-bucket', object: 'fallback-state/llm.json', endpoint: api.url }),
      metrics: createFallbackMetrics({ ...rest, project: 'test-project', endpoint: api.url }),
      log: (e) => logs.push(e),
      now: () => new Date(clock * 1000),
    };
    api.groups.set('llm-spot', { targetSize: 3, instances: readySpot() });
    api.groups.set('llm-od', { targetSize: 1, instances: [vm('us-central1-a', 'llm-od-x', { healthy: true })] });
  });
  afterAll(() => api.stop());

  test('steady: spot covers its share, nothing is resized, the state object is created, the metric is 0', async () => {
    const tick: PubsubCloudEvent = { id: 't1', data: { message: { data: Buffer.from('{"kind":"fallback-tick"}').toString('base64') } } };
    const out = await runFallbackController(SETTINGS, clients, tick);
    expect(out.preemption).toBeUndefined();
    expect(out.decision.action).toBe(FallbackAction.STEADY);
    expect(out.resized).toBe(false);
    expect(out.stateSaved).toBe(true);
    expect(api.calls('POST', '/resize')).toBe(0);
    expect(api.object?.generation).toBe(1);
    const series = api.points.at(-1).timeSeries[0];
    expect(series.metric).toEqual({ type: 'custom.googleapis.com/spot_inference/fallback_replicas', labels: { fleet: 'llm' } });
    expect(series.points[0].value).toEqual({ int64Value: '0' });
    expect(logs.at(-1)).toMatchObject({ severity: 'INFO', action: 'steady', fallbackReplicas: 0, trigger: 'schedule' });
  });

  test('spot lost (stockout in every zone): the standard group grows to base + 3 at once', async () => {
    clock += 60;
    api.groups.get('llm-spot')!.instances = [exhausted('us-central1-a', 'llm-spot-a1'), exhausted('us-central1-b', 'llm-spot-b1'), exhausted('us-central1-c', 'llm-spot-c1')];
    const out = await runFallbackController(SETTINGS, clients);
    expect(out.decision.action).toBe(FallbackAction.FALL_BACK);
    expect(out.onDemandSize).toBe(4);
    expect(api.groups.get('llm-od')!.targetSize).toBe(4);
    expect(api.requests.filter((r) => r.path.includes('/resize')).map((r) => r.path)).toEqual([
      '/compute/v1/projects/test-project/regions/us-central1/instanceGroupManagers/llm-od/resize?size=4',
    ]);
    expect(out.decision.unavailablePools.sort()).toEqual(['us-central1/us-central1-a/g2-standard-8', 'us-central1/us-central1-b/g2-standard-8', 'us-central1/us-central1-c/g2-standard-8']);
    expect(logs.at(-1)!.message).toMatch(/^spot fallback: fall-back: spot is 3 ready replicas short .*resized llm-od 1 -> 4$/);
    expect(logs.at(-1)).toMatchObject({ severity: 'WARNING', fallbackReplicas: 3 });
    expect(api.points.at(-1).timeSeries[0].points[0].value).toEqual({ int64Value: '3' });
  });

  test('idempotent: the same situation again does not resize and does not strike the pools again', async () => {
    clock += 60;
    const before = api.calls('POST', '/resize');
    const out = await runFallbackController(SETTINGS, clients);
    expect(out.resized).toBe(false);
    expect(api.calls('POST', '/resize')).toBe(before);
    const state = JSON.parse(api.object!.body) as StoredState;
    expect(state.policy.pools.every((p) => p.strikes === 1)).toBe(true);
    expect(logs.at(-1)!.message).toMatch(/fallback stays at 3; groups unchanged$/);
  });

  test('spot back: the fallback holds until spot has stayed ready, then returns to the base', async () => {
    api.groups.get('llm-spot')!.instances = readySpot();
    clock += 30;
    let out = await runFallbackController(SETTINGS, clients);
    expect(out.decision.action).toBe(FallbackAction.HOLD);
    expect(out.resized).toBe(false);
    expect(out.decision.reason).toMatch(/but the fallback stays at 3 until/);
    clock += 200;
    out = await runFallbackController(SETTINGS, clients);
    expect(out.decision.action).toBe(FallbackAction.RETURN_TO_SPOT);
    expect(out.onDemandSize).toBe(1);
    expect(api.groups.get('llm-od')!.targetSize).toBe(1);
    expect(logs.at(-1)!.message).toMatch(/llm-od: on-demand 4 -> 1; resized llm-od 4 -> 1$/);
  });

  test('preemption message: counted once in the pool the VM ran in, even when delivered twice', async () => {
    clock += 60;
    const entry = {
      protoPayload: { methodName: 'compute.instances.preempted', resourceName: 'projects/test-project/zones/us-central1-b/instances/llm-spot-b1' },
      insertId: 'abc123',
      resource: { labels: { zone: 'us-central1-b' } },
      timestamp: new Date(clock * 1000).toISOString(),
    };
    const event: PubsubCloudEvent = { id: '1', data: { message: { data: Buffer.from(JSON.stringify(entry)).toString('base64') } } };
    api.groups.get('llm-spot')!.instances = readySpot().filter((i) => !i.instance!.endsWith('llm-spot-b1'));
    const first = await runFallbackController(SETTINGS, clients, event);
    expect(first.preemption?.instanceName).toBe('llm-spot-b1');
    // the b pool of the machine type the VM ran as (pools of earlier tests may still be avoided: 600 s)
    expect(first.decision.unavailablePools).toContain('us-central1/us-central1-b/g2-standard-12');
    expect(first.decision.reason).toMatch(/us-central1\/us-central1-b\/g2-standard-12: 1 preempted, avoided/);
    expect(logs.at(-1)).toMatchObject({ trigger: 'preemption' });
    const second = await runFallbackController(SETTINGS, clients, event);
    const pool = second.decision.state.pools.find((p) => p.pool === 'us-central1/us-central1-b/g2-standard-12')!;
    expect(pool.strikes).toBe(1);
    expect(second.decision.state.recentPreemptions).toHaveLength(1);
  });

  test('bounds: never more standard VMs than maxCapacity minus the ready spot VMs, never fewer than the base', async () => {
    const tight = { ...SETTINGS, maxCapacity: 4 };
    api.groups.get('llm-od')!.targetSize = 1;
    api.object = undefined;
    clock += 10_000;
    api.groups.get('llm-spot')!.instances = [exhausted('us-central1-a', 'x1'), exhausted('us-central1-b', 'x2'), exhausted('us-central1-c', 'x3')];
    let out = await runFallbackController(tight, clients);
    expect(out.onDemandSize).toBe(4);
    // Two spot VMs are back while the policy still holds its fallback of 3: 2 standard VMs fit next to them.
    api.groups.get('llm-spot')!.instances = readySpot().slice(0, 2);
    clock += 10;
    out = await runFallbackController(tight, clients);
    expect(out.decision.onDemandReplicas).toBe(4);
    expect(out.onDemandSize).toBe(2);
    expect(logs.at(-1)!.message).toMatch(/fallback bounded 3 -> 1: maxCapacity 4 minus the base 1 and 2 spot in service/);
    // Spot target above what is left: the base is the floor.
    api.groups.get('llm-spot')!.instances = [...readySpot(), vm('us-central1-a', 'extra', { healthy: true })];
    clock += 10;
    out = await runFallbackController(tight, clients);
    expect(out.onDemandSize).toBe(1);
  });

  test('throttling: 429 and 503 are retried (Retry-After honoured), then the run completes', async () => {
    clock += 60;
    api.failNext.push(429, 503);
    const before = api.requests.length;
    const out = await runFallbackController(SETTINGS, clients);
    expect(out.stateSaved).toBe(true);
    expect(api.requests.length - before).toBeGreaterThanOrEqual(2 + 7);
  });

  test('a concurrent run that wrote first wins: stateSaved is false, nothing else breaks', async () => {
    clock += 60;
    const store = clients.state;
    const racing: GcpFallbackClients = {
      ...clients,
      state: {
        read: () => store.read(),
        write: async (s, generation) => {
          api.object = { body: api.object!.body, generation: api.object!.generation + 1 };
          return store.write(s, generation);
        },
      },
    };
    const out = await runFallbackController(SETTINGS, racing);
    expect(out.stateSaved).toBe(false);
    expect(logs.at(-1)).toMatchObject({ stateSaved: false });
  });

  test('a permanent API error (403) fails the run with the API message', async () => {
    api.failNext.push(403);
    await expect(runFallbackController(SETTINGS, clients)).rejects.toThrow(/injected 403/);
  });
});

describe('googleRequest', () => {
  test('gives up after maxAttempts with the last GoogleApiError', async () => {
    let calls = 0;
    const fetch = (async () => {
      calls++;
      return new Response(JSON.stringify({ error: { message: 'Quota exceeded' } }), { status: 429 });
    }) as typeof globalThis.fetch;
    const err = await googleRequest({ getAccessToken: async () => 't', fetch, maxAttempts: 3, sleep: async () => undefined }, 'http://127.0.0.1:1/x', { method: 'GET' }).catch((e) => e);
    expect(err).toBeInstanceOf(GoogleApiError);
    expect(err.status).toBe(429);
    expect(err.message).toBe('Quota exceeded');
    expect(calls).toBe(3);
  });

  test('network errors are retried too', async () => {
    let calls = 0;
    const fetch = (async () => {
      if (++calls < 3) throw new TypeError('fetch failed');
      return new Response('{}', { status: 200 });
    }) as typeof globalThis.fetch;
    const res = await googleRequest({ getAccessToken: async () => 't', fetch, sleep: async () => undefined }, 'http://127.0.0.1:1/x', { method: 'GET' });
    expect(res.status).toBe(200);
    expect(calls).toBe(3);
  });
});

describe('observeSpotGroup', () => {
  test('pools by zone and machine type; launching, ready, unhealthy, deleting and stockouts counted apart', () => {
    const { pools } = observeSpotGroup(
      [
        vm('z1', 'a', { machineType: 'zones/z1/machineTypes/g2-standard-8', healthy: true }),
        vm('z1', 'b', { machineType: 'g2-standard-8', healthy: false }),
        vm('z1', 'c', { machineType: 'g2-standard-8', currentAction: 'DELETING' }),
        vm('z2', 'd', { currentAction: 'CREATING', instanceStatus: 'PROVISIONING' }),
        exhausted('z3', 'e'),
      ],
      { defaultMachineType: 'n1' },
      { seenFailures: [] },
    );
    expect(Object.fromEntries(pools)).toEqual({
      'z1/g2-standard-8': { ready: 1, launching: 1, launchFailures: 0, preempted: 0 },
      'z2/n1': { ready: 0, launching: 1, launchFailures: 0, preempted: 0 },
      'z3/n1': { ready: 0, launching: 0, launchFailures: 1, preempted: 0 },
    });
  });
});

describe('fallbackSettingsFromEnv', () => {
  const env = {
    FLEET_NAME: 'llm', GCP_PROJECT: 'p', FLEET_REGION: 'r', SPOT_GROUP: 's', ON_DEMAND_GROUP: 'o', ON_DEMAND_BASE: '1',
    MAX_CAPACITY: '8', DEFAULT_MACHINE_TYPE: 'g2-standard-8', STATE_BUCKET: 'b', STATE_OBJECT: 'o.json',
    POLICY_OPTIONS: '{"scaleInStabilizationSeconds":120}',
  };
  test('reads every variable', () => {
    expect(fallbackSettingsFromEnv(env)).toMatchObject({ onDemandBase: 1, maxCapacity: 8, policy: { scaleInStabilizationSeconds: 120 } });
  });
  test('names every missing variable', () => {
    expect(() => fallbackSettingsFromEnv({ FLEET_NAME: 'llm' })).toThrow(
      /environment variables GCP_PROJECT, FLEET_REGION, SPOT_GROUP, ON_DEMAND_GROUP, ON_DEMAND_BASE, MAX_CAPACITY, DEFAULT_MACHINE_TYPE, STATE_BUCKET, STATE_OBJECT not set \(the GcpOnDemandFallback construct sets them\)/,
    );
  });
  test('refuses bad numbers and bad JSON', () => {
    expect(() => fallbackSettingsFromEnv({ ...env, MAX_CAPACITY: '-1' })).toThrow(/MAX_CAPACITY \(-1\) must be a whole number, 0 or more/);
    expect(() => fallbackSettingsFromEnv({ ...env, POLICY_OPTIONS: '{nope' })).toThrow(/POLICY_OPTIONS is not JSON/);
  });
});

describe('bundle', () => {
  const root = join(__dirname, '..', '..', '..', '..');
  const dir = join(root, 'dist', 'handlers', 'gcp', 'fallback');
  beforeAll(() => {
    if (!existsSync(join(dir, 'index.js'))) execFileSync(process.execPath, [join(root, 'scripts', 'build-handlers.mjs'), '--quiet'], { cwd: root });
  });
  test('end to end: the bundled function gets a token from a loopback metadata server and resizes through loopback APIs', async () => {
    const api = new GoogleEmulator();
    await api.start();
    const tokenRequests: string[] = [];
    const metadata = createServer((req, res) => {
      tokenRequests.push(`${req.url}|${req.headers['metadata-flavor']}`);
      res.writeHead(200, { 'content-type': 'application/json', 'metadata-flavor': 'Google' });
      res.end(req.url!.includes('/token') ? JSON.stringify({ access_token: 'test-token', expires_in: 3600, token_type: 'Bearer' }) : '{}');
    });
    await new Promise<void>((r) => metadata.listen(0, '127.0.0.1', () => r()));
    const saved = { ...process.env };
    Object.assign(process.env, {
      GCE_METADATA_HOST: `127.0.0.1:${(metadata.address() as AddressInfo).port}`,
      METADATA_SERVER_DETECTION: 'assume-present',
      COMPUTE_ENDPOINT: api.url,
      STORAGE_ENDPOINT: api.url,
      MONITORING_ENDPOINT: api.url,
      FLEET_NAME: 'llm', GCP_PROJECT: 'test-project', FLEET_REGION: 'us-central1', SPOT_GROUP: 'llm-spot', ON_DEMAND_GROUP: 'llm-od',
      ON_DEMAND_BASE: '1', MAX_CAPACITY: '8', DEFAULT_MACHINE_TYPE: 'g2-standard-8', STATE_BUCKET: 'state-bucket', STATE_OBJECT: 'fallback-state/llm.json',
    });
    const write = process.stdout.write;
    const lines: string[] = [];
    try {
      api.groups.set('llm-spot', { targetSize: 2, instances: [exhausted('us-central1-a', 'llm-spot-a1'), vm('us-central1-b', 'llm-spot-b1', { healthy: true })] });
      api.groups.set('llm-od', { targetSize: 1, instances: [] });
      process.stdout.write = ((chunk: string) => lines.push(String(chunk)) > 0) as typeof process.stdout.write;
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { handleFallback } = require(join(dir, 'index.js'));
      const out = await handleFallback({ id: 'tick', data: { message: { data: Buffer.from('{"kind":"fallback-tick"}').toString('base64') } } });
      process.stdout.write = write;
      expect(out.onDemandSize).toBe(2);
      expect(api.groups.get('llm-od')!.targetSize).toBe(2);
      expect(api.object).toBeDefined();
      expect(api.points).toHaveLength(1);
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({ severity: 'WARNING', action: 'fall-back', fallbackReplicas: 1, 'logging.googleapis.com/labels': { 'spot-fleet': 'llm' } });
      expect(tokenRequests.some((t) => t.includes('/computeMetadata/v1/instance/service-accounts/default/token') && t.endsWith('|Google'))).toBe(true);
    } finally {
      process.stdout.write = write;
      process.env = saved;
      await api.stop();
      await new Promise<void>((r) => metadata.close(() => r()));
    }
  });

  test('exports the entry point and ships its package.json (Node 22, functions framework)', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(join(dir, 'index.js'));
    expect(typeof mod.handleFallback).toBe('function');
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({ main: 'index.js', engines: { node: '>=22' } });
  });
});

describe('several regions: every region\'s preemptions are counted (spot and spare VMs)', () => {
  // As GcpMultiRegionSpotInferenceService deploys it: one fleet name per region (`llm-mr-usce1`, `llm-mr-euwe4`),
  // so the second region's VMs do not start with the first region's prefixes.
  const MR: GcpFallbackSettings = {
    ...SETTINGS,
    fleetName: 'llm-mr-usce1',
    spotGroup: 'llm-mr-usce1-spot',
    onDemandGroup: 'llm-mr-usce1-od',
    instanceNamePrefix: 'llm-mr-usce1-spot-',
    spareInstanceNamePrefix: 'llm-mr-usce1-spare-',
    spareGroups: [{ name: 'llm-mr-usce1-spare-a', zone: 'us-central1-a', maxSize: 1 }],
    regions: [
      { region: 'us-central1', spotGroup: 'llm-mr-usce1-spot', onDemandGroup: 'llm-mr-usce1-od', onDemandBase: 1, maxCapacity: 6, defaultMachineType: 'g2-standard-8', spareGroups: [{ name: 'llm-mr-usce1-spare-a', zone: 'us-central1-a', maxSize: 1 }] },
      { region: 'europe-west4', spotGroup: 'llm-mr-euwe4-spot', onDemandGroup: 'llm-mr-euwe4-od', onDemandBase: 1, maxCapacity: 6, defaultMachineType: 'g2-standard-12', spareGroups: [{ name: 'llm-mr-euwe4-spare-b', zone: 'europe-west4-b', maxSize: 1 }] },
    ],
  };
  const groups = new Map<string, { size: number; instances: ManagedInstance[] }>();
  const compute: ComputeClient = {
    getTargetSize: async (ref) => groups.get(ref)!.size,
    listManagedInstances: async (ref) => groups.get(ref)!.instances,
    resize: async (ref, size) => void (groups.get(ref)!.size = size),
  };
  let object: { state: StoredState; generation: string } | undefined;
  const state: StateStore = {
    read: async () => ({ state: object?.state, generation: object?.generation ?? '0' }),
    write: async (s, generation) => {
      if ((object?.generation ?? '0') !== generation) return false;
      object = { state: s, generation: String(Number(generation) + 1) };
      return true;
    },
  };
  let clock = 1_900_000_000;
  const clients: GcpFallbackClients = { compute, state, log: () => undefined, now: () => new Date(clock * 1000) };
  const preempted = (zone: string, name: string, insertId: string): PubsubCloudEvent => {
    const entry = {
      protoPayload: { methodName: 'compute.instances.preempted', resourceName: `projects/test-project/zones/${zone}/instances/${name}` },
      insertId,
      resource: { labels: { zone } },
      timestamp: new Date(clock * 1000).toISOString(),
    };
    return { id: insertId, data: { message: { data: Buffer.from(JSON.stringify(entry)).toString('base64') } } };
  };
  const pool = (out: GcpFallbackOutcome, id: string) => out.stepInput.observed.pools.find((p) => p.pool === id);
  const preemptedIn = (out: GcpFallbackOutcome) => out.stepInput.observed.pools.reduce((n, p) => n + (p.preempted ?? 0), 0);

  beforeAll(async () => {
    groups.set('llm-mr-usce1-spot', { size: 1, instances: [vm('us-central1-a', 'llm-mr-usce1-spot-a1', { healthy: true })] });
    groups.set('llm-mr-usce1-od', { size: 1, instances: [vm('us-central1-b', 'llm-mr-usce1-od-x', { healthy: true })] });
    groups.set('zones/us-central1-a/llm-mr-usce1-spare-a', { size: 0, instances: [] });
    groups.set('regions/europe-west4/llm-mr-euwe4-spot', { size: 2, instances: [vm('europe-west4-a', 'llm-mr-euwe4-spot-e1', { healthy: true }), vm('europe-west4-c', 'llm-mr-euwe4-spot-e2', { healthy: true })] });
    groups.set('regions/europe-west4/llm-mr-euwe4-od', { size: 1, instances: [vm('europe-west4-a', 'llm-mr-euwe4-od-y', { healthy: true })] });
    groups.set('zones/europe-west4-b/llm-mr-euwe4-spare-b', { size: 1, instances: [vm('europe-west4-b', 'llm-mr-euwe4-spare-b-s1', { healthy: true })] });
    // A first run lists every region's VMs (the pools a later preemption is placed in).
    await runFallbackController(MR, clients);
  });

  test('a VM of the second region\'s spot MIG: counted once in its pool, even when delivered twice', async () => {
    clock += 60;
    const event = preempted('europe-west4-a', 'llm-mr-euwe4-spot-e1', 'eu-spot-1');
    const first = await runFallbackController(MR, clients, event);
    expect(first.preemption?.instanceName).toBe('llm-mr-euwe4-spot-e1');
    expect(pool(first, 'europe-west4/europe-west4-a/g2-standard-12')).toMatchObject({ preempted: 1 });
    expect(preemptedIn(first)).toBe(1);
    // the VM is doomed (30 s notice): not ready any more
    expect(pool(first, 'europe-west4/europe-west4-a/g2-standard-12')).toMatchObject({ ready: 0 });
    const second = await runFallbackController(MR, clients, event);
    expect(preemptedIn(second)).toBe(0);
    expect(second.decision.state.recentPreemptions).toHaveLength(1);
  });

  test('a VM of the second region\'s spare MIG: counted once in its pool', async () => {
    clock += 60;
    const event = preempted('europe-west4-b', 'llm-mr-euwe4-spare-b-s1', 'eu-spare-1');
    const first = await runFallbackController(MR, clients, event);
    expect(first.preemption?.instanceName).toBe('llm-mr-euwe4-spare-b-s1');
    expect(pool(first, 'europe-west4/europe-west4-b/g2-standard-12')).toMatchObject({ preempted: 1, ready: 0 });
    expect(preemptedIn(first)).toBe(1);
    const second = await runFallbackController(MR, clients, event);
    expect(preemptedIn(second)).toBe(0);
    expect(second.decision.state.recentPreemptions).toHaveLength(2);
  });

  test('a second-region VM never listed (created and preempted between two runs): recognised by its group\'s name, placed in its region\'s pool', async () => {
    clock += 60;
    const out = await runFallbackController(MR, clients, preempted('europe-west4-c', 'llm-mr-euwe4-spot-new1', 'eu-spot-new'));
    expect(out.preemption?.instanceName).toBe('llm-mr-euwe4-spot-new1');
    // the region's own default machine type, not the first region's
    expect(pool(out, 'europe-west4/europe-west4-c/g2-standard-12')).toMatchObject({ preempted: 1 });
  });

  test('a VM listed in a region\'s group under another base instance name (an imported fleet): recognised because the group lists it', async () => {
    clock += 60;
    groups.get('regions/europe-west4/llm-mr-euwe4-spot')!.instances.push(vm('europe-west4-c', 'team-eu-vm-7', { healthy: true, machineType: 'g2-standard-8' }));
    const out = await runFallbackController(MR, clients, preempted('europe-west4-c', 'team-eu-vm-7', 'eu-imported-1'));
    expect(out.preemption?.instanceName).toBe('team-eu-vm-7');
    expect(pool(out, 'europe-west4/europe-west4-c/g2-standard-8')).toMatchObject({ preempted: 1, ready: 0 });
  });

  test('the prefixes: the home region\'s two, then each other region\'s spot and spare groups', () => {
    expect(fleetInstanceNamePrefixes(MR)).toEqual(['llm-mr-usce1-spot-', 'llm-mr-usce1-spare-', 'llm-mr-euwe4-spot-', 'llm-mr-euwe4-spare-b-']);
    // one region: as before
    expect(fleetInstanceNamePrefixes(SETTINGS)).toEqual(['llm-spot-', 'llm-spare-']);
  });

  test('another fleet\'s VM (or another project\'s) is still not counted', async () => {
    clock += 60;
    const other = await runFallbackController(MR, clients, preempted('europe-west4-a', 'batch-euwe4-spot-z1', 'other-1'));
    expect(other.preemption).toBeUndefined();
    expect(preemptedIn(other)).toBe(0);
    const otherProject = await runFallbackController({ ...MR, project: 'another-project' }, clients, preempted('europe-west4-a', 'llm-mr-euwe4-spot-e2', 'other-2'));
    expect(otherProject.preemption).toBeUndefined();
  });
});
