import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  AzureApiError,
  AzureFallbackClients,
  AzureFallbackOutcome,
  AzureFallbackSettings,
  azureFallbackSettingsFromEnv,
  azureRequest,
  AzureStoredState,
  buildAzureStepInput,
  AzureVm,
  createArmComputeApi,
  createAzureMonitorMetrics,
  createBlobStateStore,
  FALLBACK_METRIC_NAMESPACE,
  isReady,
  runAzureFallbackController,
  splitFallback,
} from '../../../../lib/handlers/azure/fallback';
import { FallbackAction, initialFallbackState } from '../../../../lib/policy';

const SUB = '00000000-0000-0000-0000-000000000001';
const RG = 'rg-llm';
const vmssId = (name: string) => `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/${name}`;

/** A loopback emulator of Azure Resource Manager (scale sets and their VMs), one blob and metrics ingestion. */
class AzureEmulator {
  public readonly sets = new Map<string, { capacity: number; base: number; pct: number; vms: AzureVm[] }>();
  public blob?: { body: string; etag: string };
  public readonly requests: { method: string; path: string; body: string; headers: Record<string, unknown> }[] = [];
  public readonly metrics: any[] = [];
  public readonly failNext: number[] = [];
  private server!: Server;
  private etags = 0;
  public url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  writes(): { method: string; path: string; body: string }[] {
    return this.requests.filter((r) => (r.method === 'PATCH' || r.method === 'POST') && r.path.includes('virtualMachineScaleSets') && !r.path.includes('/metrics'));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url!, this.url);
    this.requests.push({ method: req.method!, path: `${url.pathname}${url.search}`, body, headers: req.headers });
    const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(value));
    };
    if (!String(req.headers.authorization).startsWith('Bearer token-for-')) return json(401, { error: { code: 'AuthenticationFailed', message: 'no token' } });
    const fail = this.failNext.shift();
    if (fail) return json(fail, { error: { code: fail === 429 ? 'TooManyRequests' : 'Injected', message: `injected ${fail}` } }, fail === 429 ? { 'retry-after': '0' } : {});
    const m = /\/providers\/Microsoft\.Compute\/virtualMachineScaleSets\/([^/]+)(\/delete)?$/.exec(url.pathname);
    if (m) {
      const set = this.sets.get(m[1]);
      if (!set) return json(404, { error: { code: 'ResourceNotFound', message: m[1] } });
      if (req.method === 'GET') {
        return json(200, { id: vmssId(m[1]), sku: { capacity: set.capacity }, properties: { priorityMixPolicy: { baseRegularPriorityCount: set.base, regularPriorityPercentageAboveBase: set.pct } } });
      }
      if (req.method === 'PATCH') {
        const patch = JSON.parse(body);
        if (patch.sku?.capacity !== undefined) set.capacity = patch.sku.capacity;
        if (patch.properties) {
          set.base = patch.properties.priorityMixPolicy.baseRegularPriorityCount;
          set.pct = patch.properties.priorityMixPolicy.regularPriorityPercentageAboveBase;
        }
        return json(200, {});
      }
      const ids: string[] = JSON.parse(body).instanceIds;
      set.vms = set.vms.filter((vm) => !ids.includes(vm.name));
      set.capacity -= ids.length;
      return json(202, {});
    }
    if (url.pathname.endsWith('/providers/Microsoft.Compute/virtualMachines')) {
      const filter = url.searchParams.get('$filter') ?? '';
      const name = /virtualMachineScaleSets\/([^']+)'$/.exec(filter)?.[1] ?? '';
      if (url.searchParams.get('$expand') !== 'instanceView') return json(400, { error: { code: 'BadRequest', message: 'expand' } });
      return json(200, { value: this.sets.get(name)?.vms ?? [] });
    }
    if (url.pathname === '/fallback-state/llm.json') {
      if (req.method === 'GET') {
        if (!this.blob) return json(404, { error: { code: 'BlobNotFound', message: 'The specified blob does not exist.' } });
        res.writeHead(200, { 'content-type': 'application/json', etag: this.blob.etag });
        return void res.end(this.blob.body);
      }
      const ifMatch = req.headers['if-match'];
      const ifNone = req.headers['if-none-match'];
      if ((ifNone === '*' && this.blob) || (ifMatch && ifMatch !== this.blob?.etag)) return json(412, { error: { code: 'ConditionNotMet', message: 'The condition specified using HTTP conditional header(s) is not met.' } });
      this.blob = { body, etag: `"0x${++this.etags}"` };
      return json(201, {});
    }
    if (url.pathname.endsWith(`${vmssId('llm-vmss')}/metrics`)) {
      this.metrics.push(JSON.parse(body));
      return json(200, {});
    }
    return json(404, { error: { code: 'NotFound', message: `unexpected ${req.method} ${url.pathname}` } });
  }
}

function vm(name: string, zone: string, opts: { spot?: boolean; state?: 'ready' | 'creating' | 'failed' | 'deallocated' | 'unhealthy'; size?: string } = {}): AzureVm {
  const state = opts.state ?? 'ready';
  const statuses =
    state === 'failed'
      ? [{ code: 'ProvisioningState/failed/AllocationFailed', message: 'Allocation failed. We do not have sufficient capacity for the requested VM size in this region.' }]
      : state === 'creating'
        ? [{ code: 'ProvisioningState/creating' }]
        : [{ code: 'ProvisioningState/succeeded' }, { code: state === 'deallocated' ? 'PowerState/deallocated' : 'PowerState/running' }];
  return {
    name,
    zones: [zone],
    properties: {
      priority: opts.spot === false ? undefined : 'Spot',
      provisioningState: state === 'failed' ? 'Failed' : state === 'creating' ? 'Creating' : 'Succeeded',
      hardwareProfile: { vmSize: opts.size ?? 'Standard_NC4as_T4_v3' },
      instanceView: { statuses, vmHealth: state === 'ready' || state === 'unhealthy' ? { status: { code: state === 'ready' ? 'HealthState/healthy' : 'HealthState/unhealthy' } } : undefined },
    },
  };
}

const SETTINGS: AzureFallbackSettings = {
  fleetName: 'llm',
  subscriptionId: SUB,
  resourceGroup: RG,
  scaleSets: [{ name: 'llm-vmss', baseRegularCount: 1, maxCapacity: 8, desiredCapacity: 4 }],
  maxCapacity: 8,
  stateAccount: 'llmstate',
  stateContainer: 'fallback-state',
  stateBlob: 'llm.json',
  metricsRegion: 'eastus2',
  region: 'eastus2',
};

const healthy = (): AzureVm[] => [vm('llm_reg1', '1', { spot: false }), vm('llm_s1', '1'), vm('llm_s2', '2'), vm('llm_s3', '3')];

describe('Azure fallback controller against a loopback ARM emulator', () => {
  const api = new AzureEmulator();
  let clock = 1_800_000_000;
  const logs: Record<string, any>[] = [];
  let clients: AzureFallbackClients;
  const set = () => api.sets.get('llm-vmss')!;

  beforeAll(async () => {
    await api.start();
    const rest = { getToken: async (scope: string) => `token-for-${scope}`, baseDelayMs: 1 };
    clients = {
      compute: createArmComputeApi({ ...rest, subscriptionId: SUB, resourceGroup: RG, endpoint: api.url }),
      state: createBlobStateStore({ ...rest, account: 'llmstate', container: 'fallback-state', blob: 'llm.json', endpoint: api.url }),
      metrics: createAzureMonitorMetrics({ ...rest, region: 'eastus2', resourceId: vmssId('llm-vmss'), endpoint: api.url }),
      log: (e) => logs.push(e),
      now: () => new Date(clock * 1000),
    };
    api.sets.set('llm-vmss', { capacity: 4, base: 1, pct: 0, vms: healthy() });
  });
  afterAll(() => api.stop());

  test('steady: nothing patched, the state blob is created (If-None-Match: *), metric 0 with the fleet dimension', async () => {
    const out = await runAzureFallbackController(SETTINGS, clients);
    expect(out.decision.action).toBe(FallbackAction.STEADY);
    expect(api.writes()).toEqual([]);
    expect(out.stateSaved).toBe(true);
    const put = api.requests.find((r) => r.method === 'PUT')!;
    expect(put.headers).toMatchObject({ 'if-none-match': '*', 'x-ms-blob-type': 'BlockBlob', authorization: 'Bearer token-for-https://storage.azure.com/.default' });
    // The namespace AzureFleetAlerts watches (and the AWS controller writes): one constant for both sides.
    expect(FALLBACK_METRIC_NAMESPACE).toBe('SpotInferenceConstructs');
    expect(api.metrics.at(-1)).toMatchObject({ data: { baseData: { metric: 'FallbackReplicas', namespace: FALLBACK_METRIC_NAMESPACE, dimNames: ['fleet'], series: [{ dimValues: ['llm'], sum: 0, count: 1 }] } } });
    expect(logs.at(-1)).toMatchObject({ metric: 'FallbackReplicas', fallbackReplicas: 0, action: 'steady' });
    expect(logs.at(-1)!.message).toMatch(/scale sets unchanged$/);
  });

  test('spot lost (allocation failures): base Regular count and capacity go up, Spot VMs are left alone', async () => {
    clock += 60;
    set().vms = [vm('llm_reg1', '1', { spot: false }), vm('llm_s1', '1', { state: 'failed' }), vm('llm_s2', '2', { state: 'failed' }), vm('llm_s3', '3', { state: 'failed' })];
    const out = await runAzureFallbackController(SETTINGS, clients);
    expect(out.decision.action).toBe(FallbackAction.FALL_BACK);
    expect(out.fallbackReplicas).toBe(3);
    const patches = api.writes();
    expect(patches).toHaveLength(1);
    expect(patches[0].method).toBe('PATCH');
    expect(patches[0].path).toBe(`${vmssId('llm-vmss')}?api-version=2024-07-01`);
    expect(JSON.parse(patches[0].body)).toEqual({ properties: { priorityMixPolicy: { baseRegularPriorityCount: 4, regularPriorityPercentageAboveBase: 0 } }, sku: { capacity: 7 } });
    expect(out.decision.unavailablePools.sort()).toEqual(['eastus2/1/Standard_NC4as_T4_v3', 'eastus2/2/Standard_NC4as_T4_v3', 'eastus2/3/Standard_NC4as_T4_v3']);
    expect(logs.at(-1)!.message).toMatch(/^spot fallback: fall-back: spot is 3 ready replicas short.*llm-vmss: regular 1 -> 4, capacity 4 -> 7$/);
    expect(api.metrics.at(-1).data.baseData.series[0].sum).toBe(3);
  });

  test('idempotent: the same view again patches nothing and strikes no pool twice', async () => {
    clock += 60;
    const before = api.writes().length;
    const out = await runAzureFallbackController(SETTINGS, clients);
    expect(api.writes().length).toBe(before);
    expect(out.changes[0]).toMatchObject({ patched: false, deleted: [] });
    const state = JSON.parse(api.blob!.body) as AzureStoredState;
    expect(state.policy.pools.every((p) => p.strikes === 1)).toBe(true);
    expect(api.requests.filter((r) => r.method === 'PUT').at(-1)!.headers['if-match']).toMatch(/^"0x\d+"$/);
  });

  test('spot back: holds while stabilizing, then lowers the count and deletes only the surplus Regular VMs', async () => {
    set().vms = [vm('llm_reg1', '1', { spot: false }), vm('llm_reg2', '2', { spot: false }), vm('llm_reg3', '3', { spot: false }), vm('llm_reg4', '1', { spot: false }), vm('llm_s1', '1'), vm('llm_s2', '2'), vm('llm_s3', '3')];
    clock += 30;
    let out = await runAzureFallbackController(SETTINGS, clients);
    expect(out.decision.action).toBe(FallbackAction.HOLD);
    expect(out.changes[0].deleted).toEqual([]);
    clock += 200;
    const before = api.writes().length;
    out = await runAzureFallbackController(SETTINGS, clients);
    expect(out.decision.action).toBe(FallbackAction.RETURN_TO_SPOT);
    const writes = api.writes().slice(before);
    expect(writes.map((w) => w.method)).toEqual(['PATCH', 'POST']);
    expect(JSON.parse(writes[0].body)).toEqual({ properties: { priorityMixPolicy: { baseRegularPriorityCount: 1, regularPriorityPercentageAboveBase: 0 } } });
    expect(writes[1].path).toBe(`${vmssId('llm-vmss')}/delete?api-version=2024-07-01`);
    expect(JSON.parse(writes[1].body).instanceIds).toHaveLength(3);
    expect(set().vms.filter((v) => v.properties?.priority === 'Spot').map((v) => v.name)).toEqual(['llm_s1', 'llm_s2', 'llm_s3']);
    expect(set().vms.filter((v) => !v.properties?.priority)).toHaveLength(1);
    expect(set().capacity).toBe(4);
  });

  test('eviction: a Spot VM gone while the capacity stayed is a preemption of its pool', async () => {
    clock += 60;
    set().vms = set().vms.filter((v) => v.name !== 'llm_s2');
    const out = await runAzureFallbackController(SETTINGS, clients);
    expect(out.decision.state.recentPreemptions).toHaveLength(1);
    expect(out.decision.unavailablePools).toContain('eastus2/2/Standard_NC4as_T4_v3');
    expect(out.decision.action).toBe(FallbackAction.FALL_BACK);
  });

  test('bounds: the fleet never goes above maxCapacity, Regular VMs never below the base', async () => {
    const tight = { ...SETTINGS, maxCapacity: 5, scaleSets: [{ ...SETTINGS.scaleSets[0], maxCapacity: 5 }] };
    api.blob = undefined;
    clock += 10_000;
    api.sets.set('llm-vmss', { capacity: 4, base: 1, pct: 0, vms: [vm('r1', '1', { spot: false }), vm('a', '1', { state: 'failed' }), vm('b', '2', { state: 'failed' }), vm('c', '3', { state: 'failed' })] });
    const out = await runAzureFallbackController(tight, clients);
    expect(out.fallbackReplicas).toBe(3);
    expect(set().capacity).toBe(5);
    expect(set().base).toBe(4);
    // Spot returns at once: the policy holds its fallback, but only 5 - 4 ready Spot - 1 base = 0 fit.
    api.sets.set('llm-vmss', { capacity: 5, base: 4, pct: 0, vms: [vm('r1', '1', { spot: false }), vm('a', '1'), vm('b', '2'), vm('c', '3'), vm('d', '1')] });
    clock += 10;
    const held = await runAzureFallbackController(tight, clients);
    expect(held.decision.fallbackReplicas).toBe(3);
    expect(held.fallbackReplicas).toBe(0);
    expect(set().base).toBe(1);
    expect(logs.at(-1)!.message).toMatch(/bounded to 0 Regular VMs above the base \(maxCapacity 5, ready Spot 4\)/);
  });

  test('throttling: 429 (Retry-After) and 500 are retried, then the run completes', async () => {
    clock += 60;
    api.failNext.push(429, 500);
    const out = await runAzureFallbackController(SETTINGS, clients);
    expect(out.stateSaved).toBe(true);
    expect(api.requests.slice(-12).some((r) => r.method === 'GET')).toBe(true);
  });

  test('a concurrent run that wrote the blob first wins (412): stateSaved false', async () => {
    clock += 60;
    const store = clients.state;
    const out = await runAzureFallbackController(SETTINGS, {
      ...clients,
      state: {
        read: () => store.read(),
        write: async (s, etag) => {
          api.blob = { body: api.blob!.body, etag: '"0xother"' };
          return store.write(s, etag);
        },
      },
    });
    expect(out.stateSaved).toBe(false);
    expect(logs.at(-1)).toMatchObject({ stateSaved: false });
  });

  test('a permanent error (403) fails the run with the ARM error code and message', async () => {
    api.failNext.push(403);
    await expect(runAzureFallbackController(SETTINGS, clients)).rejects.toThrow(/Injected: injected 403/);
  });
});

describe("the controller's own scale-in is not an eviction", () => {
  const api = new AzureEmulator();
  let clock = 1_900_000_000;
  let clients: AzureFallbackClients;
  const SPARES: AzureFallbackSettings = {
    ...SETTINGS,
    spareScaleSets: ['1', '2'].map((z) => ({ name: `llm-spare-${z}`, zone: z, vmSize: 'Standard_NC4as_T4_v3', maxCapacity: 1 })),
  };
  const pool = (out: AzureFallbackOutcome, zone: string) => {
    const p = out.stepInput.observed.pools.find((x) => x.pool === `eastus2/${zone}/Standard_NC4as_T4_v3`)!;
    return { ...p, preempted: p.preempted ?? 0 };
  };
  /** Azure carries out a scale-in: the VM is first listed as Deleting, then gone. */
  const removing = (vmName: string): AzureVm => {
    const v = vm(vmName, vmName.slice(-1));
    return { ...v, properties: { ...v.properties, provisioningState: 'Deleting', instanceView: { statuses: [{ code: 'ProvisioningState/deleting' }] } } };
  };

  beforeEach(async () => {
    await api.start();
    const rest = { getToken: async (scope: string) => `token-for-${scope}`, baseDelayMs: 1 };
    clients = {
      compute: createArmComputeApi({ ...rest, subscriptionId: SUB, resourceGroup: RG, endpoint: api.url }),
      state: createBlobStateStore({ ...rest, account: 'llmstate', container: 'fallback-state', blob: 'llm.json', endpoint: api.url }),
      log: () => undefined,
      now: () => new Date(clock * 1000),
    };
    api.blob = undefined;
    api.sets.clear();
    // Calm fleet, and a spare in zones 1 and 2 left over from an earlier fallback: the controller takes them back.
    api.sets.set('llm-vmss', { capacity: 4, base: 1, pct: 0, vms: healthy() });
    api.sets.set('llm-spare-1', { capacity: 1, base: 0, pct: 0, vms: [vm('spare_1', '1')] });
    api.sets.set('llm-spare-2', { capacity: 1, base: 0, pct: 0, vms: [vm('spare_2', '2')] });
  });
  afterEach(() => api.stop());

  test('spares lowered 1 -> 0: the VMs Azure removes for it (Deleting, then gone) strike no pool', async () => {
    const run0 = await runAzureFallbackController(SPARES, clients);
    expect(run0.changes.filter((c) => c.name.startsWith('llm-spare')).map((c) => [c.name, c.capacityBefore, c.capacityAfter])).toEqual([
      ['llm-spare-1', 1, 0],
      ['llm-spare-2', 1, 0],
    ]);
    // Azure scales in: zone 1's VM is already gone, zone 2's is being deleted.
    api.sets.get('llm-spare-1')!.vms = [];
    api.sets.get('llm-spare-2')!.vms = [removing('spare_2')];
    clock += 60;
    const run1 = await runAzureFallbackController(SPARES, clients);
    expect([pool(run1, '1').preempted, pool(run1, '2').preempted]).toEqual([0, 0]);
    expect(run1.decision.state.recentPreemptions).toEqual([]);
    expect(run1.decision.unavailablePools).toEqual([]);
    expect(run1.decision.action).toBe(FallbackAction.STEADY);
    api.sets.get('llm-spare-2')!.vms = [];
    clock += 60;
    const run2 = await runAzureFallbackController(SPARES, clients);
    expect(run2.decision.state.recentPreemptions).toEqual([]);
  });

  test('Azure slower than one run: the VM still listed after the scale-in, gone the run after, is no eviction either', async () => {
    await runAzureFallbackController(SPARES, clients);
    clock += 60;
    const run1 = await runAzureFallbackController(SPARES, clients);
    expect(run1.decision.state.recentPreemptions).toEqual([]);
    api.sets.get('llm-spare-1')!.vms = [];
    api.sets.get('llm-spare-2')!.vms = [];
    clock += 60;
    const run2 = await runAzureFallbackController(SPARES, clients);
    expect([pool(run2, '1').preempted, pool(run2, '2').preempted]).toEqual([0, 0]);
    expect(run2.decision.state.recentPreemptions).toEqual([]);
  });

  test('a real eviction between the same two runs is still counted, once', async () => {
    await runAzureFallbackController(SPARES, clients);
    api.sets.get('llm-spare-1')!.vms = [];
    api.sets.get('llm-spare-2')!.vms = [];
    // ... and in the same minute zone 3 loses its Spot VM of the main scale set (Delete eviction: capacity kept).
    api.sets.get('llm-vmss')!.vms = api.sets.get('llm-vmss')!.vms.filter((v) => v.name !== 'llm_s3');
    clock += 60;
    const run1 = await runAzureFallbackController(SPARES, clients);
    expect([pool(run1, '1').preempted, pool(run1, '2').preempted, pool(run1, '3').preempted]).toEqual([0, 0, 1]);
    expect(run1.decision.state.recentPreemptions).toHaveLength(1);
    expect(run1.decision.unavailablePools).toEqual(['eastus2/3/Standard_NC4as_T4_v3']);
    clock += 60;
    const run2 = await runAzureFallbackController(SPARES, clients);
    expect(run2.stepInput.observed.pools.reduce((n, p) => n + (p.preempted ?? 0), 0)).toBe(0);
    expect(run2.decision.state.recentPreemptions).toHaveLength(1);
  });

  test('a spare set lowered 2 -> 1 that loses both VMs: one is the scale-in, the other an eviction', () => {
    const spare = { name: 'llm-spare-1', zone: '1', vmSize: 'Standard_NC4as_T4_v3', maxCapacity: 2 };
    const settings: AzureFallbackSettings = { ...SETTINGS, spareScaleSets: [spare] };
    const main = { settings: SETTINGS.scaleSets[0], scaleSet: { id: vmssId('llm-vmss'), capacity: 4, baseRegularPriorityCount: 1, regularPriorityPercentageAboveBase: 0 }, vms: healthy() };
    const prev: AzureStoredState = {
      policy: initialFallbackState(),
      spotVms: { 'llm-vmss/llm_s1': 'eastus2/1/Standard_NC4as_T4_v3', 'llm-vmss/llm_s2': 'eastus2/2/Standard_NC4as_T4_v3', 'llm-vmss/llm_s3': 'eastus2/3/Standard_NC4as_T4_v3', 'llm-spare-1/a': 'eastus2/1/Standard_NC4as_T4_v3', 'llm-spare-1/b': 'eastus2/1/Standard_NC4as_T4_v3' },
      capacities: { 'llm-vmss': 4, 'llm-spare-1': 1 },
      seenFailures: [],
      scaleIn: { 'llm-spare-1': 1 },
    };
    const r = buildAzureStepInput(settings, [main], [{ settings: spare, scaleSet: { id: vmssId('llm-spare-1'), capacity: 1, baseRegularPriorityCount: 0, regularPriorityPercentageAboveBase: 0 }, vms: [] }], prev, 1000);
    expect(r.stepInput.observed.pools.find((p) => p.pool === 'eastus2/1/Standard_NC4as_T4_v3')!.preempted).toBe(1);
    // Without the scale-in on record both would have been evictions.
    const { scaleIn: _, ...noScaleIn } = prev;
    expect(buildAzureStepInput(settings, [main], [{ settings: spare, scaleSet: { id: vmssId('llm-spare-1'), capacity: 1, baseRegularPriorityCount: 0, regularPriorityPercentageAboveBase: 0 }, vms: [] }], noScaleIn, 1000).stepInput.observed.pools.find((p) => p.pool === 'eastus2/1/Standard_NC4as_T4_v3')!.preempted).toBe(2);
  });

  test('return to spot: the surplus Regular VMs the controller deletes are no eviction', async () => {
    api.sets.get('llm-spare-1')!.vms = [];
    api.sets.get('llm-spare-2')!.vms = [];
    // Every Spot VM fails to allocate: the controller falls back by 3 Regular VMs.
    api.sets.get('llm-vmss')!.vms = [vm('llm_reg1', '1', { spot: false }), vm('llm_s1', '1', { state: 'failed' }), vm('llm_s2', '2', { state: 'failed' }), vm('llm_s3', '3', { state: 'failed' })];
    const down = await runAzureFallbackController(SPARES, clients);
    expect(down.fallbackReplicas).toBe(3);
    // Azure adds the Regular VMs; Spot capacity comes back.
    api.sets.get('llm-vmss')!.vms = [...healthy(), vm('llm_reg2', '2', { spot: false }), vm('llm_reg3', '3', { spot: false }), vm('llm_reg4', '1', { spot: false })];
    clock += 60;
    expect((await runAzureFallbackController(SPARES, clients)).decision.action).toBe(FallbackAction.HOLD);
    clock += 200;
    const back = await runAzureFallbackController(SPARES, clients);
    expect(back.decision.action).toBe(FallbackAction.RETURN_TO_SPOT);
    expect(back.changes[0].deleted).toHaveLength(3);
    clock += 60;
    const after = await runAzureFallbackController(SPARES, clients);
    expect(after.stepInput.observed.pools.map((p) => p.preempted ?? 0)).toEqual([0, 0, 0]);
    expect(after.decision.state.recentPreemptions).toEqual([]);
    expect(after.changes.every((c) => !c.patched && c.deleted.length === 0)).toBe(true);
  });
});

describe('azureRequest', () => {
  test('gives up after maxAttempts with an AzureApiError', async () => {
    let calls = 0;
    const fetch = (async () => {
      calls++;
      return new Response('{"error":{"code":"TooManyRequests","message":"slow down"}}', { status: 429 });
    }) as typeof globalThis.fetch;
    const err = await azureRequest({ getToken: async () => 't', fetch, maxAttempts: 2, sleep: async () => undefined }, 's', 'http://127.0.0.1:1/', { method: 'GET' }).catch((e) => e);
    expect(err).toBeInstanceOf(AzureApiError);
    expect(err.message).toBe('TooManyRequests: slow down');
    expect(calls).toBe(2);
  });
});

describe('helpers', () => {
  test('splitFallback spreads over the scale sets within their room', () => {
    expect(splitFallback(5, [2, 4, 4])).toEqual([2, 2, 1]);
    expect(splitFallback(10, [1, 1])).toEqual([1, 1]);
    expect(splitFallback(0, [3])).toEqual([0]);
  });
  test('isReady needs provisioning succeeded, running and (when reported) healthy', () => {
    expect(isReady(vm('a', '1'))).toBe(true);
    expect(isReady(vm('a', '1', { state: 'unhealthy' }))).toBe(false);
    expect(isReady(vm('a', '1', { state: 'creating' }))).toBe(false);
    expect(isReady(vm('a', '1', { state: 'deallocated' }))).toBe(false);
  });
});

describe('azureFallbackSettingsFromEnv', () => {
  const env = {
    FLEET_NAME: 'llm', SUBSCRIPTION_ID: SUB, RESOURCE_GROUP: RG, MAX_CAPACITY: '8', STATE_ACCOUNT: 'a', STATE_CONTAINER: 'c', STATE_BLOB: 'b',
    SCALE_SETS: JSON.stringify([{ name: 'llm-vmss', baseRegularCount: 1, maxCapacity: 8, desiredCapacity: 4 }]),
  };
  test('reads every setting', () => {
    expect(azureFallbackSettingsFromEnv(env)).toMatchObject({ maxCapacity: 8, scaleSets: [{ name: 'llm-vmss' }], metricsRegion: undefined });
  });
  test('names every missing setting and refuses bad ones', () => {
    expect(() => azureFallbackSettingsFromEnv({})).toThrow(/app settings FLEET_NAME, SUBSCRIPTION_ID, RESOURCE_GROUP, SCALE_SETS, MAX_CAPACITY, STATE_ACCOUNT, STATE_CONTAINER, STATE_BLOB not set \(the AzureOnDemandFallback construct sets them\)/);
    expect(() => azureFallbackSettingsFromEnv({ ...env, SCALE_SETS: '[{"name":"x"}]' })).toThrow(/SCALE_SETS must list \{name, baseRegularCount, maxCapacity, desiredCapacity\} per scale set/);
    expect(() => azureFallbackSettingsFromEnv({ ...env, SCALE_SETS: 'nope' })).toThrow(/SCALE_SETS and POLICY_OPTIONS must be JSON/);
    expect(() => azureFallbackSettingsFromEnv({ ...env, MAX_CAPACITY: 'x' })).toThrow(/MAX_CAPACITY \(x\) must be a whole number/);
  });
});

describe('bundle', () => {
  const root = join(__dirname, '..', '..', '..', '..');
  const dir = join(root, 'dist', 'handlers', 'azure', 'fallback');
  beforeAll(() => {
    if (!existsSync(join(dir, 'index.js'))) execFileSync(process.execPath, [join(root, 'scripts', 'build-handlers.mjs'), '--quiet'], { cwd: root });
  });

  test('end to end: the bundled timer function gets a managed-identity token and runs against loopback ARM and Blob', async () => {
    const api = new AzureEmulator();
    await api.start();
    const tokens: string[] = [];
    // The App Service managed-identity endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER), on loopback.
    const identity = createServer((req, res) => {
      const url = new URL(req.url!, 'http://127.0.0.1');
      tokens.push(`${url.searchParams.get('resource')}|${url.searchParams.get('client_id')}|${req.headers['x-identity-header']}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: `token-for-${url.searchParams.get('resource')}/.default`, expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource: url.searchParams.get('resource'), token_type: 'Bearer' }));
    });
    await new Promise<void>((r) => identity.listen(0, '127.0.0.1', () => r()));
    const saved = { ...process.env };
    Object.assign(process.env, {
      IDENTITY_ENDPOINT: `http://127.0.0.1:${(identity.address() as AddressInfo).port}/msi/token`,
      IDENTITY_HEADER: 'secret-header',
      AZURE_CLIENT_ID: 'client-123',
      ARM_ENDPOINT: api.url,
      BLOB_ENDPOINT: api.url,
      FLEET_NAME: 'llm', SUBSCRIPTION_ID: SUB, RESOURCE_GROUP: RG, MAX_CAPACITY: '8', STATE_ACCOUNT: 'llmstate', STATE_CONTAINER: 'fallback-state', STATE_BLOB: 'llm.json',
      SCALE_SETS: JSON.stringify([{ name: 'llm-vmss', baseRegularCount: 1, maxCapacity: 8, desiredCapacity: 4 }]),
    });
    try {
      api.sets.set('llm-vmss', { capacity: 4, base: 1, pct: 0, vms: [vm('r', '1', { spot: false }), vm('a', '1', { state: 'failed' }), vm('b', '2'), vm('c', '3')] });
      const lines: string[] = [];
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { fallbackTimer } = require(join(dir, 'index.js'));
      const out = await fallbackTimer({ log: (l: string) => lines.push(l) });
      expect(out.fallbackReplicas).toBe(1);
      expect(api.sets.get('llm-vmss')).toMatchObject({ base: 2, capacity: 5 });
      expect(api.blob).toBeDefined();
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({ metric: 'FallbackReplicas', fallbackReplicas: 1, action: 'fall-back' });
      expect(tokens.some((t) => t.startsWith('https://management.azure.com|client-123|secret-header'))).toBe(true);
      expect(tokens.some((t) => t.startsWith('https://storage.azure.com|client-123|secret-header'))).toBe(true);
    } finally {
      process.env = saved;
      await api.stop();
      await new Promise<void>((r) => identity.close(() => r()));
    }
  });
  test('exports the timer entry point; package.json has no v4 main (function.json model)', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(typeof require(join(dir, 'index.js')).fallbackTimer).toBe('function');
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(pkg.main).toBeUndefined();
    expect(pkg.engines.node).toBe('>=22');
  });
});
