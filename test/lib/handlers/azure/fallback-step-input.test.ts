/**
 * `buildAzureStepInput`, the pure half of an Azure controller run: the scale sets and VMs one run read and the
 * stored memory -> the step input. The handler plans exactly what it returns, so the simulator's equivalence test
 * can rebuild inputs with evictions and allocation failures in them.
 */
import {
  AzureFallbackSettings,
  AzureScaleSetView,
  AzureStoredState,
  AzureVm,
  buildAzureStepInput,
  runAzureFallbackController,
  usableAzureState,
} from '../../../../lib/handlers/azure/fallback';
import { initialFallbackState, planControllerStep } from '../../../../lib/policy';

const SIZE = 'Standard_NC4as_T4_v3';
const vm = (name: string, zone: string, opts: { spot?: boolean; codes?: string[]; state?: string } = {}): AzureVm => ({
  name,
  zones: [zone],
  properties: {
    ...(opts.spot ?? true ? { priority: 'Spot' } : {}),
    provisioningState: opts.state ?? 'Succeeded',
    hardwareProfile: { vmSize: SIZE },
    instanceView: { statuses: (opts.codes ?? ['ProvisioningState/succeeded', 'PowerState/running']).map((code) => ({ code })) },
  },
});
const allocationFailed = (name: string, zone: string) => vm(name, zone, { state: 'Failed', codes: ['ProvisioningState/failed/AllocationFailed'] });

const SETTINGS: AzureFallbackSettings = {
  fleetName: 'llm',
  subscriptionId: 's',
  resourceGroup: 'rg',
  region: 'eastus2',
  scaleSets: [
    { name: 'east', baseRegularCount: 1, maxCapacity: 6, desiredCapacity: 4 },
    { name: 'west', baseRegularCount: 0, maxCapacity: 4, desiredCapacity: 2, region: 'westeurope', resourceGroup: 'rg-we' },
  ],
  maxCapacity: 10,
  stateAccount: 'a',
  stateContainer: 'c',
  stateBlob: 'b',
};
const PREV: AzureStoredState = { policy: initialFallbackState(), spotVms: {}, capacities: {}, seenFailures: [] };
const set = (name: string, capacity: number, vms: AzureVm[], base = 0): AzureScaleSetView => ({
  settings: SETTINGS.scaleSets.find((s) => s.name === name)!,
  scaleSet: { id: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/${name}`, capacity, baseRegularPriorityCount: base, regularPriorityPercentageAboveBase: 0 },
  vms,
});
const pool = (r: ReturnType<typeof buildAzureStepInput>, id: string) => r.stepInput.observed.pools.find((p) => p.pool === id);

describe('buildAzureStepInput', () => {
  const east = () => set('east', 4, [vm('r1', '1', { spot: false }), vm('e1', '1'), vm('e2', '2'), allocationFailed('e3', '3')], 1);
  const west = () => set('west', 2, [vm('w1', '1'), vm('w2', '2')]);

  test('pools <region>/<zone>/<size> per scale set region; per-region targets; allocation failures once', () => {
    const r = buildAzureStepInput(SETTINGS, [east(), west()], [], PREV, 1000);
    expect(r.stepInput.observed).toMatchObject({ targetReplicas: 6, onDemandBase: 1, maxCapacity: 10, onDemandReady: 1, mainSpotInService: 4 });
    expect(r.stepInput.observed.regions).toEqual([{ region: 'eastus2', targetReplicas: 4, onDemandBase: 1 }, { region: 'westeurope', targetReplicas: 2, onDemandBase: 0 }]);
    expect(pool(r, `eastus2/3/${SIZE}`)).toMatchObject({ ready: 0, launchFailures: 1 });
    expect(pool(r, `westeurope/1/${SIZE}`)).toMatchObject({ ready: 1 });
    expect(r.stepInput.groups.map((g) => `${g.region}:${g.id}`)).toEqual(['eastus2:east', 'westeurope:west']);
    const again = buildAzureStepInput(SETTINGS, [east(), west()], [], { ...PREV, seenFailures: r.seenFailures, spotVms: r.spotVms, capacities: r.capacities }, 1060);
    expect(pool(again, `eastus2/3/${SIZE}`)!.launchFailures).toBe(0);
  });

  test('westeurope loses every Spot VM at once (Delete eviction: gone, capacity kept): two evictions there, none in eastus2', () => {
    const first = buildAzureStepInput(SETTINGS, [east(), west()], [], PREV, 1000);
    const prev = { ...PREV, spotVms: first.spotVms, capacities: first.capacities };
    const r = buildAzureStepInput(SETTINGS, [east(), set('west', 2, [])], [], prev, 1060);
    expect(pool(r, `westeurope/1/${SIZE}`)).toMatchObject({ ready: 0, preempted: 1 });
    expect(pool(r, `westeurope/2/${SIZE}`)).toMatchObject({ ready: 0, preempted: 1 });
    expect(r.stepInput.observed.pools.filter((p) => p.pool.startsWith('eastus2/')).every((p) => p.preempted === 0)).toBe(true);
    // a scale-in (capacity dropped) is not an eviction
    const scaledIn = buildAzureStepInput(SETTINGS, [east(), set('west', 0, [])], [], prev, 1060);
    expect(scaledIn.stepInput.observed.pools.every((p) => p.preempted === 0)).toBe(true);
    // a deallocated Spot VM is an eviction too; a VM being deleted is not looked at
    const dealloc = buildAzureStepInput(SETTINGS, [east(), set('west', 2, [vm('w1', '1', { codes: ['PowerState/deallocated'] }), vm('w2', '2', { state: 'Deleting' })])], [], PREV, 1060);
    expect(pool(dealloc, `westeurope/1/${SIZE}`)).toMatchObject({ preempted: 1 });
    expect(pool(dealloc, `westeurope/2/${SIZE}`)).toBeUndefined();
  });

  test('the handler plans exactly what the builder returns (same views, same memory)', async () => {
    const views = [east(), west()];
    const out = await runAzureFallbackController(SETTINGS, {
      compute: {
        getScaleSet: async (name) => views.find((v) => v.settings.name === name)!.scaleSet,
        listVms: async (id) => views.find((v) => v.scaleSet.id === id)!.vms,
        updateScaleSet: async () => undefined,
        deleteVms: async () => undefined,
      },
      state: { read: async () => ({ state: PREV, etag: '1' }), write: async () => true },
      log: () => undefined,
      now: () => new Date(1000 * 1000),
    });
    const r = buildAzureStepInput(SETTINGS, views, [], PREV, 1000);
    expect(out.stepInput).toEqual(r.stepInput);
    expect(out.actions).toEqual(planControllerStep(r.stepInput).actions);
  });
});

describe('a state blob of the wrong shape', () => {
  test.each([[{}], [[1, 2]], [{ policy: 'x' }], ['text']])('%j: the run starts from a fresh state, logs why, and saves a good one', async (bad) => {
    const logs: Record<string, unknown>[] = [];
    let saved: AzureStoredState | undefined;
    const views = [set('east', 2, [vm('e1', '1'), vm('e2', '2')])];
    const out = await runAzureFallbackController({ ...SETTINGS, scaleSets: [SETTINGS.scaleSets[0]] }, {
      compute: {
        getScaleSet: async () => views[0].scaleSet,
        listVms: async () => views[0].vms,
        updateScaleSet: async () => undefined,
        deleteVms: async () => undefined,
      },
      state: { read: async () => ({ state: bad as unknown as AzureStoredState, etag: '1' }), write: async (s) => ((saved = s), true) },
      log: (e) => logs.push(e),
      now: () => new Date(1000 * 1000),
    });
    expect(out.stateSaved).toBe(true);
    expect(logs.some((l) => /the state blob is not a controller state .*; starting from a fresh state/.test(String(l.message)))).toBe(true);
    expect(saved).toMatchObject({ spotVms: { 'east/e1': `eastus2/1/${SIZE}`, 'east/e2': `eastus2/2/${SIZE}` }, capacities: { east: expect.any(Number) } });
  });

  test('missing bookkeeping fields of a good state are filled in, the policy memory kept', () => {
    const policy = { ...initialFallbackState(), fallbackReplicas: 2 };
    expect(usableAzureState({ policy }, SETTINGS)).toEqual({ policy, spotVms: {}, capacities: {}, seenFailures: [] });
  });
});
