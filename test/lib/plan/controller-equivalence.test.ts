/**
 * The simulator's controller model and the handlers take the same decisions on the same observed inputs.
 *
 * The as-deployed simulation (`--deployment aws`) is replayed over synthetic traces (several regions, zones and
 * types, capacity coming and going); at every controller run the fleet, as the simulator holds it, is turned into
 * what the cloud's API would answer (Auto Scaling groups with their instances, EC2 lifecycles, the run's events),
 * fed to the handler's own pure half (`buildAwsStepInput`) and to `planControllerStep`: the observed input and the
 * actions must be the ones the simulator took.
 */
import type { AutoScalingGroup, Instance } from '@aws-sdk/client-auto-scaling';
import { AwsRegionView, buildAwsStepInput } from '../../../lib/handlers/aws/fallback';
import type { InstanceLifecycle } from '../../../lib/handlers/aws/fallback-ec2';
import { AzureFallbackSettings, AzureVm, runAzureFallbackController } from '../../../lib/handlers/azure/fallback';
import { GcpFallbackSettings, ManagedInstance, runFallbackController as runGcpController } from '../../../lib/handlers/gcp/fallback';
import { ControllerRunRecord, Deployment } from '../../../lib/plan/deployment';
import { simulate, SimulatedPolicy } from '../../../lib/plan/simulate';
import { SpotTrace } from '../../../lib/plan/traces';
import { mulberry32 } from '../../../lib/plan/rng';
import { initialFallbackState, planControllerStep } from '../../../lib/policy';

/** Random on/off spells per pool, some pools correlated (same zone, same region), seeded. */
function syntheticTraces(names: string[], ticks: number, seed: number): SpotTrace[] {
  const rng = mulberry32(seed);
  const regionDown = new Map<string, number>();
  return names.map((name) => {
    const region = name.split('-').slice(0, 3).join('-');
    const data = new Int32Array(ticks);
    let up = rng() < 0.7;
    for (let i = 0; i < ticks; i++) {
      if (rng() < (up ? 0.02 : 0.08)) up = !up;
      // a region-wide outage now and then: every pool of the region at once
      const r = regionDown.get(region) ?? -1;
      if (r < i && rng() < 0.002) regionDown.set(region, i + 20 + Math.floor(rng() * 40));
      data[i] = up && !((regionDown.get(region) ?? -1) >= i) ? 1 : 0;
    }
    return { name, gapSeconds: 30, data };
  });
}

function instance(id: string, zone: string, type: string, ready: boolean): Instance {
  return { InstanceId: id, AvailabilityZone: zone, InstanceType: type, LifecycleState: ready ? 'InService' : 'Pending', HealthStatus: 'Healthy', LaunchConfigurationName: undefined } as Instance;
}

/** What AWS would answer for the fleet the simulator holds before a controller run. */
function awsViews(run: ControllerRunRecord, maxCapacity: number): AwsRegionView[] {
  const { before } = run;
  const poolIndex = new Map(before.pools.map((p, z) => [p, z]));
  let demandReady = run.readyDemand;
  let n = 0;
  return before.regions.map((r, ri) => {
    const lifecycles = new Map<string, InstanceLifecycle>();
    const main: Instance[] = [];
    const spare: Instance[] = [];
    for (const pool of r.pools) {
      const z = poolIndex.get(pool)!;
      const [, zone, type] = pool.split('/');
      const running = before.main[z] + before.spare[z];
      const ready = Math.min(running, run.readySpot[z]);
      const mainReady = Math.min(before.main[z], ready);
      for (let i = 0; i < before.main[z]; i++) {
        const id = `i-${n++}`;
        main.push(instance(id, zone, type, i < mainReady));
        lifecycles.set(id, { spot: true, instanceType: type });
      }
      for (let i = 0; i < before.spare[z]; i++) spare.push(instance(`i-${n++}`, zone, type, i < ready - mainReady));
    }
    // the on-demand base runs in the main group (home region), the fallback in its own group
    const baseReady = Math.min(r.onDemandBase, demandReady);
    demandReady -= baseReady;
    for (let i = 0; i < r.onDemandBase; i++) {
      const id = `i-${n++}`;
      main.push(instance(id, r.zones[0], r.types[0], i < baseReady));
      lifecycles.set(id, { spot: false, instanceType: r.types[0] });
    }
    const fbReady = Math.min(r.fallback, demandReady);
    demandReady -= fbReady;
    const fallback: Instance[] = Array.from({ length: r.fallback }, (_, i) => instance(`i-${n++}`, r.zones[0], r.types[0], i < fbReady));
    const overrides = (types: string[]): AutoScalingGroup['MixedInstancesPolicy'] => ({ LaunchTemplate: { Overrides: types.map((t) => ({ InstanceType: t })) } });
    const groupMax = ri === 0 ? maxCapacity - (before.regions.length - 1) * Math.floor(maxCapacity / before.regions.length) : Math.floor(maxCapacity / before.regions.length);
    return {
      settings: {
        region: r.name,
        spotGroupName: `${r.name}/main`,
        fallbackGroupName: `${r.name}/fallback`,
        spareGroupName: `${r.name}/spare`,
        subnetsByZone: Object.fromEntries(r.zones.map((z) => [z, `subnet-${z}`])),
        onDemandBase: r.onDemandBase,
        maxCapacity: groupMax,
        instanceTypes: r.types,
      },
      spot: { AutoScalingGroupName: `${r.name}/main`, DesiredCapacity: r.mainDesired, MaxSize: groupMax, AvailabilityZones: r.zones, Instances: main, MixedInstancesPolicy: overrides(r.types) } as AutoScalingGroup,
      fallback: { AutoScalingGroupName: `${r.name}/fallback`, DesiredCapacity: r.fallback, MaxSize: maxCapacity, AvailabilityZones: r.zones, Instances: fallback, MixedInstancesPolicy: overrides(r.types) } as AutoScalingGroup,
      spare: { AutoScalingGroupName: `${r.name}/spare`, DesiredCapacity: r.spareDesired, MaxSize: maxCapacity, AvailabilityZones: r.spareZones, Instances: spare, MixedInstancesPolicy: overrides(r.spareTypes) } as AutoScalingGroup,
      lifecycles,
    };
  });
}

function collectRuns(traces: SpotTrace[], maxCapacity: number, onDemandBase = 0): ControllerRunRecord[] {
  const runs: ControllerRunRecord[] = [];
  simulate(traces, {
    deployment: Deployment.AWS,
    policies: [SimulatedPolicy.OURS],
    windowSeconds: 0,
    maxCapacity,
    onDemandBase,
    onControllerRun: (run) => runs.push(run),
  });
  return runs;
}

describe('as-deployed AWS model == the AWS handler (same observed inputs, same actions)', () => {
  const cases: [string, string[], number, number][] = [
    ['one region, three zones, two types', ['us-east-1a_g5', 'us-east-1b_g5', 'us-east-1c_g5', 'us-east-1a_g6', 'us-east-1b_g6', 'us-east-1c_g6'], 7, 0],
    ['three regions, one of them losing all spot at once', ['us-east-1a_v100', 'us-east-1b_v100', 'us-east-2a_v100', 'us-east-2b_v100', 'us-west-2a_v100', 'us-west-2b_v100', 'us-west-2c_v100'], 9, 1],
  ];
  test.each(cases)('%s', (_, names, maxCapacity, base) => {
    const runs = collectRuns(syntheticTraces(names, 1500, names.length), maxCapacity, base);
    expect(runs.length).toBeGreaterThan(700);
    let changes = 0;
    let spares = 0;
    let steered = 0;
    let preempted = 0;
    for (const run of runs) {
      const preemptedMap = new Map<string, number>();
      const failedMap = new Map<string, number>();
      for (const p of run.input.observed.pools) {
        if (p.preempted) preemptedMap.set(p.pool, p.preempted);
        if (p.launchFailures) failedMap.set(p.pool, p.launchFailures);
      }
      const handlerInput = buildAwsStepInput(awsViews(run, maxCapacity), { preempted: preemptedMap, launchFailures: failedMap, warned: () => false }, {
        nowSeconds: run.input.observed.nowSeconds,
        state: run.input.state ?? initialFallbackState(run.input.options ?? {}),
        policy: run.input.options ?? {},
        // the construct's default (steerInstanceTypes: false), which the AWS profile models
        steerInstanceTypes: false,
      });
      expect(handlerInput.groups).toEqual(run.input.groups);
      expect(handlerInput.observed).toEqual(run.input.observed);
      const handlerStep = planControllerStep(handlerInput);
      expect(handlerStep.actions).toEqual(run.step.actions);
      expect(handlerStep.nextState).toEqual(run.step.nextState);
      changes += run.step.actions.filter((a) => a.changed).length;
      spares += run.step.spareSpotReplicas;
      steered += run.step.actions.filter((a) => a.zones !== undefined).length;
      preempted += preemptedMap.size;
    }
    // the replay exercised every part of the decision
    expect(changes).toBeGreaterThan(20);
    expect(spares).toBeGreaterThan(0);
    expect(steered).toBeGreaterThan(0);
    expect(preempted).toBeGreaterThan(0);
  });
});

/**
 * Google Cloud: the handler builds its step input inside `runFallbackController`, so the test runs it against fake
 * Compute Engine and state clients that answer what the simulated fleet holds. Runs with preemptions or failed
 * creations are left out: the handler learns of those from a preemption message per VM and from a VM's
 * `lastAttempt` errors (counted once per VM and error), which a count per pool cannot be turned back into.
 */
describe('as-deployed Google Cloud model == the Google Cloud handler (same observed inputs, same actions)', () => {
  test('one region, three zones: every quiet controller run of a replay', async () => {
    const names = ['us-central1-a_c3', 'us-central1-b_c3', 'us-central1-c_c3'];
    const maxCapacity = 7;
    const runs: ControllerRunRecord[] = [];
    simulate(syntheticTraces(names, 1500, 5), { deployment: Deployment.GCP, policies: [SimulatedPolicy.OURS], windowSeconds: 0, maxCapacity, onDemandBase: 1, onControllerRun: (run) => runs.push(run) });
    const quiet = runs.filter((r) => r.input.observed.pools.every((p) => !p.preempted && !p.launchFailures));
    expect(quiet.length).toBeGreaterThan(300);
    let changed = 0;
    let spares = 0;
    for (const run of quiet) {
      const { before } = run;
      const r = before.regions[0];
      const vm = (zone: string, name: string, type: string, ready: boolean): ManagedInstance => ({
        instance: `https://compute.googleapis.com/compute/v1/projects/p/zones/${zone}/instances/${name}`,
        name,
        instanceStatus: 'RUNNING',
        currentAction: ready ? 'NONE' : 'CREATING',
        propertiesFromFlexibilityPolicy: { machineType: `zones/${zone}/machineTypes/${type}` },
      });
      const lists = new Map<string, ManagedInstance[]>();
      const sizes = new Map<string, number>();
      const main: ManagedInstance[] = [];
      const spareByZone = new Map<string, ManagedInstance[]>(r.zones.map((z) => [z, []]));
      let n = 0;
      before.pools.forEach((pool, z) => {
        const [, zone, type] = pool.split('/');
        const running = before.main[z] + before.spare[z];
        const ready = Math.min(running, run.readySpot[z]);
        const mainReady = Math.min(before.main[z], ready);
        for (let i = 0; i < before.main[z]; i++) main.push(vm(zone, `fleet-spot-${n++}`, type, i < mainReady));
        for (let i = 0; i < before.spare[z]; i++) spareByZone.get(zone)!.push(vm(zone, `fleet-spare-${n++}`, type, i < ready - mainReady));
      });
      const od = Array.from({ length: r.onDemandBase + r.fallback }, (_, i) => vm(r.zones[0], `fleet-std-${i}`, r.types[0], i < run.readyDemand));
      lists.set('spot', main).set('std', od);
      sizes.set('spot', r.mainDesired - r.onDemandBase).set('std', r.onDemandBase + r.fallback);
      for (const zone of r.zones) {
        lists.set(`zones/${zone}/spare-${zone}`, spareByZone.get(zone)!);
        sizes.set(`zones/${zone}/spare-${zone}`, r.zoneSpare[zone]);
      }
      const settings: GcpFallbackSettings = {
        fleetName: 'fleet',
        project: 'p',
        region: 'us-central1',
        spotGroup: 'spot',
        onDemandGroup: 'std',
        onDemandBase: r.onDemandBase,
        maxCapacity,
        defaultMachineType: r.types[0],
        stateBucket: 'b',
        stateObject: 'o',
        spareGroups: r.zones.map((zone) => ({ name: `spare-${zone}`, zone, maxSize: maxCapacity })),
        ...(run.input.options ? { policy: run.input.options } : {}),
      };
      const outcome = await runGcpController(settings, {
        compute: {
          getTargetSize: async (g) => sizes.get(g)!,
          listManagedInstances: async (g) => lists.get(g)!,
          resize: async () => undefined,
        },
        state: {
          read: async () => ({ state: { policy: run.input.state ?? initialFallbackState(run.input.options ?? {}), instancePools: {}, seenFailures: [], seenPreemptions: [] }, generation: '1' }),
          write: async () => true,
        },
        log: () => undefined,
        now: () => new Date(run.input.observed.nowSeconds * 1000),
      });
      expect(outcome.stepInput.observed).toEqual(run.input.observed);
      // group ids: the handler names its groups by reference, the simulator by region / zone
      const simId = (g: string): string => (g === 'std' ? 'us-central1/on-demand' : g.startsWith('zones/') ? `us-central1/${g.split('/')[1]}/spare` : g);
      expect(outcome.actions.map((a) => ({ ...a, group: simId(a.group) }))).toEqual(run.step.actions);
      expect(outcome.step.nextState).toEqual(run.step.nextState);
      changed += run.step.actions.filter((a) => a.changed).length;
      spares += run.step.spareSpotReplicas;
    }
    expect(changed).toBeGreaterThan(10);
    expect(spares).toBeGreaterThan(0);
  });
});

/** Azure: the same, with the handler's `runAzureFallbackController` on fake ARM and blob clients. */
describe('as-deployed Azure model == the Azure handler (same observed inputs, same actions)', () => {
  test('one region, three zones: every quiet controller run of a replay', async () => {
    const names = ['eastus-1_nc', 'eastus-2_nc', 'eastus-3_nc'];
    const maxCapacity = 7;
    const runs: ControllerRunRecord[] = [];
    simulate(syntheticTraces(names, 1500, 9), { deployment: Deployment.AZURE, policies: [SimulatedPolicy.OURS], windowSeconds: 0, maxCapacity, onDemandBase: 1, onControllerRun: (run) => runs.push(run) });
    const quiet = runs.filter((r) => r.input.observed.pools.every((p) => !p.preempted && !p.launchFailures));
    expect(quiet.length).toBeGreaterThan(300);
    expect(runs[0].input.observed.pools.map((p) => p.pool).every((p) => /^eastus\/[123]\/nc$/.test(p))).toBe(true);
    let changed = 0;
    let spares = 0;
    for (const run of quiet) {
      const { before } = run;
      const r = before.regions[0];
      let n = 0;
      const vm = (zone: string, size: string, spot: boolean, ready: boolean): AzureVm => ({
        name: `vm-${n++}`,
        zones: [zone],
        properties: {
          ...(spot ? { priority: 'Spot' } : {}),
          provisioningState: ready ? 'Succeeded' : 'Creating',
          hardwareProfile: { vmSize: size },
          instanceView: { statuses: ready ? [{ code: 'ProvisioningState/succeeded' }, { code: 'PowerState/running' }] : [{ code: 'ProvisioningState/creating' }] },
        },
      });
      const main: AzureVm[] = [];
      const spareByZone = new Map<string, AzureVm[]>(r.zones.map((z) => [z, []]));
      before.pools.forEach((pool, z) => {
        const [, zone, size] = pool.split('/');
        const running = before.main[z] + before.spare[z];
        const ready = Math.min(running, run.readySpot[z]);
        const mainReady = Math.min(before.main[z], ready);
        for (let i = 0; i < before.main[z]; i++) main.push(vm(zone, size, true, i < mainReady));
        for (let i = 0; i < before.spare[z]; i++) spareByZone.get(zone)!.push(vm(zone, size, true, i < ready - mainReady));
      });
      for (let i = 0; i < r.onDemandBase + r.fallback; i++) main.push(vm(r.zones[0], r.types[0], false, i < run.readyDemand));
      const sets = new Map<string, { capacity: number; base: number; vms: AzureVm[] }>();
      sets.set('main', { capacity: r.mainDesired + r.fallback, base: r.onDemandBase + r.fallback, vms: main });
      for (const zone of r.zones) sets.set(`spare-${zone}`, { capacity: r.zoneSpare[zone], base: 0, vms: spareByZone.get(zone)! });
      const settings: AzureFallbackSettings = {
        fleetName: 'fleet',
        subscriptionId: 's',
        resourceGroup: 'rg',
        region: 'eastus',
        scaleSets: [{ name: 'main', baseRegularCount: r.onDemandBase, maxCapacity, desiredCapacity: r.mainDesired }],
        maxCapacity,
        stateAccount: 'a',
        stateContainer: 'c',
        stateBlob: 'b',
        spareScaleSets: r.zones.map((zone) => ({ name: `spare-${zone}`, zone, vmSize: r.types[0], maxCapacity })),
        ...(run.input.options ? { policy: run.input.options } : {}),
      };
      const outcome = await runAzureFallbackController(settings, {
        compute: {
          getScaleSet: async (name) => ({ id: name, capacity: sets.get(name)!.capacity, baseRegularPriorityCount: sets.get(name)!.base, regularPriorityPercentageAboveBase: 0 }),
          listVms: async (id) => sets.get(id)!.vms,
          updateScaleSet: async () => undefined,
          deleteVms: async () => undefined,
        },
        state: {
          read: async () => ({ state: { policy: run.input.state ?? initialFallbackState(run.input.options ?? {}), spotVms: {}, capacities: {}, seenFailures: [], appliedFallback: r.fallback }, etag: '1' }),
          write: async () => true,
        },
        log: () => undefined,
        now: () => new Date(run.input.observed.nowSeconds * 1000),
      });
      expect(outcome.stepInput.observed).toEqual(run.input.observed);
      const simId = (g: string): string => (g === 'main' ? 'eastus/on-demand' : g.startsWith('spare-') ? `eastus/${g.slice('spare-'.length)}/spare` : g);
      expect(outcome.actions.map((a) => ({ ...a, group: simId(a.group) }))).toEqual(run.step.actions);
      expect(outcome.step.nextState).toEqual(run.step.nextState);
      changed += run.step.actions.filter((a) => a.changed).length;
      spares += run.step.spareSpotReplicas;
    }
    expect(changed).toBeGreaterThan(10);
    expect(spares).toBeGreaterThan(0);
  });
});
