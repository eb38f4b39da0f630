/**
 * The Azure controller applies every part of the decision: the Regular count of the main scale sets (the
 * fallback), the capacity of the spare Spot scale sets (one per zone, steered by their sizes), and scale sets in
 * several regions and resource groups; vanished spare sets and refused updates neither crash it nor lose state.
 */
import {
  AzureApiError,
  AzureFallbackClients,
  AzureFallbackSettings,
  azureFallbackSettingsFromEnv,
  AzureScaleSetState,
  AzureStoredState,
  AzureVm,
  ComputeApi,
  runAzureFallbackController,
} from '../../../../lib/handlers/azure/fallback';
import { planControllerStep } from '../../../../lib/policy';

const SIZE = 'Standard_NC4as_T4_v3';

interface FakeSet { rg: string; state: AzureScaleSetState; vms: AzureVm[] }

const vm = (name: string, zone: string, spot = true): AzureVm => ({
  name,
  zones: [zone],
  properties: {
    ...(spot ? { priority: 'Spot' } : {}),
    provisioningState: 'Succeeded',
    hardwareProfile: { vmSize: SIZE },
    instanceView: { statuses: [{ code: 'ProvisioningState/succeeded' }, { code: 'PowerState/running' }] },
  },
});

class FakeArm implements ComputeApi {
  public readonly sets = new Map<string, FakeSet>();
  public readonly updates: Array<{ name: string; rg?: string; update: Record<string, unknown> }> = [];
  public readonly refuse = new Set<string>();
  add(name: string, rg: string, capacity: number, vms: AzureVm[], base = 0): void {
    this.sets.set(name, { rg, state: { id: `/subscriptions/s/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachineScaleSets/${name}`, capacity, baseRegularPriorityCount: base, regularPriorityPercentageAboveBase: 0 }, vms });
  }
  private set(name: string, rg?: string): FakeSet {
    const s = this.sets.get(name);
    if (!s || (rg !== undefined && rg !== s.rg)) throw new AzureApiError(404, `ResourceNotFound: ${name}`);
    return s;
  }
  async getScaleSet(name: string, rg?: string) {
    return { ...this.set(name, rg ?? 'rg').state };
  }
  async listVms(id: string) {
    return [...this.sets.values()].find((s) => s.state.id === id)!.vms;
  }
  async updateScaleSet(name: string, update: { baseRegularPriorityCount?: number; capacity?: number }, rg?: string) {
    const s = this.set(name, rg ?? 'rg');
    if (this.refuse.has(name)) throw new AzureApiError(409, `OperationNotAllowed: ${name} is busy`);
    this.updates.push({ name, rg, update });
    if (update.capacity !== undefined) s.state = { ...s.state, capacity: update.capacity };
    if (update.baseRegularPriorityCount !== undefined) s.state = { ...s.state, baseRegularPriorityCount: update.baseRegularPriorityCount };
  }
  async deleteVms(name: string, names: string[], rg?: string) {
    const s = this.set(name, rg ?? 'rg');
    s.vms = s.vms.filter((v) => !names.includes(v.name));
  }
}

const SETTINGS: AzureFallbackSettings = {
  fleetName: 'llm',
  subscriptionId: 's',
  resourceGroup: 'rg',
  region: 'eastus2',
  scaleSets: [{ name: 'llm-vmss', baseRegularCount: 0, maxCapacity: 6, desiredCapacity: 3 }],
  maxCapacity: 8,
  stateAccount: 'a',
  stateContainer: 'c',
  stateBlob: 'b',
  policy: { coverSparesWhenScarce: false },
  spareScaleSets: ['1', '2', '3'].map((z) => ({ name: `llm-spare-${z}`, zone: z, vmSize: SIZE, maxCapacity: 1 })),
};

let arm: FakeArm;
let blob: { state?: AzureStoredState; etag?: string };
let logs: Record<string, unknown>[];
let clients: AzureFallbackClients;
let clock: number;

beforeEach(() => {
  arm = new FakeArm();
  arm.add('llm-vmss', 'rg', 3, [vm('s1', '1'), vm('s2', '2'), vm('s3', '3')]);
  for (const z of ['1', '2', '3']) arm.add(`llm-spare-${z}`, 'rg', 0, []);
  blob = {};
  logs = [];
  clock = 1_800_000_000;
  clients = {
    compute: arm,
    state: {
      read: async () => ({ ...blob }),
      write: async (state, etag) => {
        if (etag !== blob.etag) return false;
        blob = { state: JSON.parse(JSON.stringify(state)), etag: `e${Number((blob.etag ?? 'e0').slice(1)) + 1}` };
        return true;
      },
    },
    log: (e) => logs.push(e),
    now: () => new Date(clock * 1000),
  };
});

/** Evict a Spot VM of the main scale set (Delete eviction policy: it disappears, the capacity stays). */
function evict(name: string): void {
  const s = arm.sets.get('llm-vmss')!;
  s.vms = s.vms.filter((v) => v.name !== name);
}

describe('spare Spot scale sets, one region', () => {
  test('an eviction in zone 1: Regular count +1 on the main set, one spare in zone 2 or 3, never in zone 1', async () => {
    await runAzureFallbackController(SETTINGS, clients);
    evict('s1');
    clock += 60;
    const out = await runAzureFallbackController(SETTINGS, clients);
    expect(out.decision.unavailablePools).toEqual(['eastus2/1/Standard_NC4as_T4_v3']);
    expect(arm.sets.get('llm-vmss')!.state.baseRegularPriorityCount).toBe(1);
    expect(arm.sets.get('llm-spare-1')!.state.capacity).toBe(0);
    expect(arm.sets.get('llm-spare-2')!.state.capacity + arm.sets.get('llm-spare-3')!.state.capacity).toBe(1);
    // the spare sets get their capacity only, never a priority mix
    expect(arm.updates.filter((u) => u.name.startsWith('llm-spare')).map((u) => Object.keys(u.update))).toEqual([['capacity']]);
    expect(out.spareCapacity).toBe(1);
    expect(planControllerStep(out.stepInput).actions).toEqual(out.actions);
  });

  test('the spare goes to the zone holding none of the fleet\'s Spot (spreadSpares), not next to a main VM it would be lost with', async () => {
    arm.sets.get('llm-vmss')!.vms = [vm('s1', '1'), vm('s1b', '1'), vm('s2', '2')];
    await runAzureFallbackController(SETTINGS, clients);
    evict('s1');
    clock += 60;
    const out = await runAzureFallbackController(SETTINGS, clients);
    expect(out.decision.preferredPools[0]).toBe('eastus2/2/Standard_NC4as_T4_v3');
    expect(['1', '2', '3'].map((z) => arm.sets.get(`llm-spare-${z}`)!.state.capacity)).toEqual([0, 0, 1]);
    expect(planControllerStep(out.stepInput).actions).toEqual(out.actions);
    // with spreadSpares off it would sit next to s2, in the best-ranked pool
    const off = planControllerStep({ ...out.stepInput, options: { ...out.stepInput.options, spreadSpares: false } });
    expect(off.actions.filter((a) => a.desired > 0 && a.role === 'spare-spot').map((a) => a.group)).toEqual(['llm-spare-2']);
  });

  test('the main sets\' Spot in service counts their ready Spot VMs only, not the spare sets\'', async () => {
    arm.add('llm-spare-2', 'rg', 1, [vm('p2', '2')]);
    arm.sets.get('llm-vmss')!.vms.push(vm('r1', '1', false));
    const out = await runAzureFallbackController(SETTINGS, clients);
    expect(out.stepInput.observed.mainSpotInService).toBe(3);
    expect(out.stepInput.observed.pools.reduce((n, p) => n + p.ready, 0)).toBe(4);
  });

  test('run again with nothing new: nothing patched (idempotent)', async () => {
    await runAzureFallbackController(SETTINGS, clients);
    evict('s1');
    clock += 60;
    await runAzureFallbackController(SETTINGS, clients);
    const n = arm.updates.length;
    clock += 30;
    await runAzureFallbackController(SETTINGS, clients);
    expect(arm.updates.length).toBe(n);
  });

  test('a vanished spare set is logged and skipped; a refused update is logged and redone next run; the state is saved', async () => {
    arm.sets.delete('llm-spare-2');
    arm.refuse.add('llm-spare-3');
    await runAzureFallbackController(SETTINGS, clients);
    evict('s1');
    clock += 60;
    const out = await runAzureFallbackController(SETTINGS, clients);
    expect(out.stateSaved).toBe(true);
    expect(logs.some((l) => /spare scale set llm-spare-2 not found/.test(String(l.message)))).toBe(true);
    expect(logs.some((l) => /setting the capacity of llm-spare-3 to 1 failed \(OperationNotAllowed: llm-spare-3 is busy\); the next run redoes it/.test(String(l.message)))).toBe(true);
    arm.refuse.clear();
    clock += 60;
    await runAzureFallbackController(SETTINGS, clients);
    expect(arm.sets.get('llm-spare-3')!.state.capacity).toBe(1);
  });
});

describe('several regions, one controller', () => {
  const MULTI: AzureFallbackSettings = {
    ...SETTINGS,
    // room for the fallback (3) next to the spot share (5) and its spare (1)
    maxCapacity: 10,
    policy: { coverSparesWhenScarce: false, spareSpotReplicas: 1 },
    scaleSets: [
      { name: 'llm-vmss', baseRegularCount: 0, maxCapacity: 6, desiredCapacity: 3, region: 'eastus2' },
      { name: 'llm-vmss-we', baseRegularCount: 0, maxCapacity: 4, desiredCapacity: 2, region: 'westeurope', resourceGroup: 'rg-we' },
    ],
    spareScaleSets: [
      ...SETTINGS.spareScaleSets!.map((s) => ({ ...s, region: 'eastus2' })),
      { name: 'llm-spare-we-1', zone: '1', vmSize: SIZE, maxCapacity: 1, region: 'westeurope', resourceGroup: 'rg-we' },
    ],
  };
  beforeEach(() => {
    arm.add('llm-vmss-we', 'rg-we', 2, [vm('w1', '1'), vm('w2', '2')]);
    arm.add('llm-spare-we-1', 'rg-we', 0, []);
  });

  test('eastus2 loses every Spot VM at once: its Regular count takes the fallback, the spare goes to westeurope', async () => {
    await runAzureFallbackController(MULTI, clients);
    for (const n of ['s1', 's2', 's3']) evict(n);
    clock += 60;
    const out = await runAzureFallbackController(MULTI, clients);
    expect(arm.sets.get('llm-vmss')!.state.baseRegularPriorityCount).toBe(3);
    expect(arm.sets.get('llm-vmss-we')!.state.baseRegularPriorityCount).toBe(0);
    expect(arm.sets.get('llm-spare-we-1')!.state.capacity).toBe(1);
    for (const z of ['1', '2', '3']) expect(arm.sets.get(`llm-spare-${z}`)!.state.capacity).toBe(0);
    // calls went to each scale set's own resource group
    expect(arm.updates.find((u) => u.name === 'llm-spare-we-1')!.rg).toBe('rg-we');
    expect(out.stepInput.observed.regions!.map((r) => r.region)).toEqual(['eastus2', 'westeurope']);
  });
});

describe('settings', () => {
  const base = { FLEET_NAME: 'llm', SUBSCRIPTION_ID: 's', RESOURCE_GROUP: 'rg', SCALE_SETS: JSON.stringify([{ name: 'v', baseRegularCount: 0, maxCapacity: 2, desiredCapacity: 1 }]), MAX_CAPACITY: '2', STATE_ACCOUNT: 'a', STATE_CONTAINER: 'c', STATE_BLOB: 'b' };
  test('spare scale sets and the region are read; malformed ones are refused naming the field', () => {
    const s = azureFallbackSettingsFromEnv({ ...base, FLEET_REGION: 'eastus2', SPARE_SCALE_SETS: JSON.stringify([{ name: 'x', zone: '1', vmSize: SIZE, maxCapacity: 1 }]) });
    expect(s.region).toBe('eastus2');
    expect(s.spareScaleSets).toEqual([{ name: 'x', zone: '1', vmSize: SIZE, maxCapacity: 1 }]);
    expect(() => azureFallbackSettingsFromEnv({ ...base, SPARE_SCALE_SETS: '{}' })).toThrow(/SPARE_SCALE_SETS \(\{\}\) must be a JSON list of \{name, zone, vmSize, maxCapacity\}/);
    expect(() => azureFallbackSettingsFromEnv({ ...base, SPARE_SCALE_SETS: JSON.stringify([{ name: 'x', zone: '', vmSize: SIZE, maxCapacity: 1.5 }]) })).toThrow(/SPARE_SCALE_SETS\[0\]\.zone \(""\) must be a non-empty string; SPARE_SCALE_SETS\[0\]\.maxCapacity \(1\.5\) must be a whole number, 0 or more/);
    expect(() => azureFallbackSettingsFromEnv({ ...base, SPARE_SCALE_SETS: '[' })).toThrow(/SPARE_SCALE_SETS is not JSON/);
  });
});
