/**
 * The AWS controller applies every part of the decision: the fallback, the spare spot replicas and the
 * steering of the spare group, in one region and over several; and it survives vanished groups, throttled
 * or refused writes and malformed settings.
 */
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  SetDesiredCapacityCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { mockClient } from 'aws-sdk-client-mock';
import { FallbackDeps, FallbackOutcome, InstanceLifecycleReader, RegionalClients, StateParameterStore, runFallbackController } from '../../../../lib/handlers/aws/fallback';
import { FALLBACK_ENV, FallbackRegionSettings, FallbackSettings, fallbackSettingsFromEnv } from '../../../../lib/handlers/aws/fallback-settings';
import { EventBridgeEnvelope } from '../../../../lib/handlers/aws/events';
import { planControllerStep } from '../../../../lib/policy/controller';
import { spotWarning } from './sample-events';

const asgMock = mockClient(AutoScalingClient);
const T0 = Date.parse('2026-11-27T12:00:00Z');

interface Inst { id: string; zone: string; type: string; spot: boolean; state?: string }
interface Group { region: string; desired: number; max: number; zones: string[]; types: string[]; subnets?: string; instances: Inst[] }

let groups: Map<string, Group>;
let param: string | undefined;
let clock: number;
let logs: Array<{ level: string; msg: string; extra?: unknown }>;
let refuse: Set<string>;

const awsError = (name: string, message = name) => Object.assign(new Error(message), { name, $metadata: {} });
const SUBNETS: Record<string, string> = { 'us-east-1a': 'subnet-a', 'us-east-1b': 'subnet-b', 'us-east-1c': 'subnet-c', 'us-west-2a': 'subnet-wa', 'us-west-2b': 'subnet-wb' };

function groupOut(name: string, g: Group) {
  return {
    AutoScalingGroupName: name,
    DesiredCapacity: g.desired,
    MinSize: 0,
    MaxSize: g.max,
    AvailabilityZones: g.zones,
    VPCZoneIdentifier: g.subnets ?? g.zones.map((z) => SUBNETS[z]).join(','),
    MixedInstancesPolicy: {
      LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateId: 'lt-1', Version: '$Latest' }, Overrides: g.types.map((t) => ({ InstanceType: t })) },
      InstancesDistribution: { OnDemandBaseCapacity: 0, OnDemandPercentageAboveBaseCapacity: 0, SpotAllocationStrategy: 'price-capacity-optimized' },
    },
    Instances: g.instances.map((i) => ({ InstanceId: i.id, AvailabilityZone: i.zone, InstanceType: i.type, LifecycleState: i.state ?? 'InService', HealthStatus: 'Healthy', ProtectedFromScaleIn: false })),
  };
}

const ssm: StateParameterStore = {
  get: async () => param,
  put: async (_name, value) => {
    param = value;
  },
};

const ec2: InstanceLifecycleReader = {
  async describe(ids) {
    const all = [...groups.values()].flatMap((g) => g.instances);
    return new Map(all.filter((i) => ids.includes(i.id)).map((i) => [i.id, { spot: i.spot, instanceType: i.type }]));
  },
};

function wire(): void {
  asgMock.on(DescribeAutoScalingGroupsCommand).callsFake((input) => ({
    AutoScalingGroups: (input.AutoScalingGroupNames as string[]).filter((n) => groups.has(n)).map((n) => groupOut(n, groups.get(n)!)),
  }));
  asgMock.on(DescribeScalingActivitiesCommand).resolves({ Activities: [] });
  asgMock.on(SetDesiredCapacityCommand).callsFake((input) => {
    const g = groups.get(input.AutoScalingGroupName);
    if (!g) throw awsError('ValidationError', `AutoScalingGroup name not found - ${input.AutoScalingGroupName}`);
    if (refuse.has(input.AutoScalingGroupName)) throw awsError('ScalingActivityInProgress', 'Scaling activity in progress');
    g.desired = input.DesiredCapacity;
    return {};
  });
  asgMock.on(UpdateAutoScalingGroupCommand).callsFake((input) => {
    const g = groups.get(input.AutoScalingGroupName);
    if (!g) throw awsError('ValidationError', 'AutoScalingGroup name not found');
    if (input.DesiredCapacity !== undefined) g.desired = input.DesiredCapacity;
    if (input.VPCZoneIdentifier) {
      g.subnets = input.VPCZoneIdentifier;
      g.zones = input.VPCZoneIdentifier.split(',').map((s: string) => Object.entries(SUBNETS).find(([, v]) => v === s)![0]);
    }
    if (input.MixedInstancesPolicy) g.types = input.MixedInstancesPolicy.LaunchTemplate.Overrides.map((o: { InstanceType: string }) => o.InstanceType);
    return {};
  });
}

function logger(): Logger {
  const l = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
  for (const level of ['info', 'warn', 'error', 'debug'] as const) {
    jest.spyOn(l, level).mockImplementation(((msg: string, extra?: unknown) => {
      logs.push({ level, msg, extra });
    }) as never);
  }
  return l;
}

const east: FallbackRegionSettings = {
  region: 'us-east-1',
  spotGroupName: 'fleet',
  fallbackGroupName: 'fleet-od-fallback',
  spareGroupName: 'fleet-spare',
  subnetsByZone: { 'us-east-1a': 'subnet-a', 'us-east-1b': 'subnet-b', 'us-east-1c': 'subnet-c' },
  onDemandBase: 0,
  maxCapacity: 6,
  instanceTypes: ['g5.xlarge'],
};
const west: FallbackRegionSettings = { ...east, region: 'us-west-2', spotGroupName: 'fleet-w', fallbackGroupName: 'fleet-w-od-fallback', spareGroupName: 'fleet-w-spare', subnetsByZone: { 'us-west-2a': 'subnet-wa', 'us-west-2b': 'subnet-wb' } };

function settings(over: Partial<FallbackSettings> = {}): FallbackSettings {
  return {
    spotGroupName: east.spotGroupName,
    fallbackGroupName: east.fallbackGroupName,
    stateParameterName: '/p',
    onDemandBase: 0,
    maxCapacity: 6,
    instanceTypes: ['g5.xlarge'],
    lookbackSeconds: 600,
    policy: { coverSparesWhenScarce: false },
    spareGroupName: east.spareGroupName,
    subnetsByZone: east.subnetsByZone,
    ...over,
  };
}

const metrics = (): Metrics => {
  const m = new Metrics({ namespace: 'test' });
  jest.spyOn(m, 'addMetric').mockImplementation(() => m);
  return m;
};

function deps(over: Partial<FallbackDeps> = {}): FallbackDeps {
  const regional = new Map<string, RegionalClients>();
  return {
    settings: settings(),
    logger: logger(),
    metrics: metrics(),
    autoscaling: new AutoScalingClient({ region: 'us-east-1' }),
    ssm,
    ec2,
    clientsFor: (region) => {
      if (!regional.has(region)) regional.set(region, { autoscaling: new AutoScalingClient({ region }), ec2 });
      return regional.get(region)!;
    },
    now: () => clock,
    sleep: async (ms) => {
      clock += ms;
    },
    random: () => 0.5,
    ...over,
  };
}

const i = (id: string, zone: string, spot = true): Inst => ({ id, zone, type: 'g5.xlarge', spot });
const schedule = (): EventBridgeEnvelope => ({ version: '0', id: `s-${clock}`, 'detail-type': 'Scheduled Event', source: 'aws.events', time: new Date(clock).toISOString(), resources: [], detail: {} });
const warning = (id: string, region = 'us-east-1'): EventBridgeEnvelope => spotWarning({ id: `w-${id}`, region, detail: { 'instance-id': id, 'instance-action': 'terminate' } });

function eastFleet(): void {
  groups.set('fleet', { region: 'us-east-1', desired: 3, max: 6, zones: ['us-east-1a', 'us-east-1b', 'us-east-1c'], types: ['g5.xlarge'], instances: [i('i-00000000000000a1', 'us-east-1a'), i('i-00000000000000b1', 'us-east-1b'), i('i-00000000000000c1', 'us-east-1c')] });
  groups.set('fleet-od-fallback', { region: 'us-east-1', desired: 0, max: 6, zones: ['us-east-1a', 'us-east-1b', 'us-east-1c'], types: ['g5.xlarge'], instances: [] });
  groups.set('fleet-spare', { region: 'us-east-1', desired: 0, max: 1, zones: ['us-east-1a', 'us-east-1b', 'us-east-1c'], types: ['g5.xlarge'], instances: [] });
}

beforeEach(() => {
  asgMock.reset();
  groups = new Map();
  param = undefined;
  clock = T0;
  logs = [];
  refuse = new Set();
  eastFleet();
  wire();
});

afterEach(() => jest.restoreAllMocks());

describe('spares and steering, one region', () => {
  test('a preemption: fallback up, one spare launched in the spare group, whose subnets leave out the preempted zone', async () => {
    const r = await runFallbackController(warning('i-00000000000000a1'), deps());
    expect(r.outcome).toBe(FallbackOutcome.APPLIED);
    expect(groups.get('fleet-od-fallback')!.desired).toBe(1);
    expect(groups.get('fleet-spare')!.desired).toBe(1);
    expect(groups.get('fleet-spare')!.subnets).toBe('subnet-b,subnet-c');
    const update = asgMock.commandCalls(UpdateAutoScalingGroupCommand).map((c) => c.args[0].input);
    expect(update).toEqual([{ AutoScalingGroupName: 'fleet-spare', DesiredCapacity: 1, VPCZoneIdentifier: 'subnet-b,subnet-c' }]);
    // the main group is never written
    expect(asgMock.commandCalls(SetDesiredCapacityCommand).map((c) => c.args[0].input.AutoScalingGroupName)).toEqual(['fleet-od-fallback']);
    expect(r.spareAfter).toBe(1);
    expect(r.reason).toMatch(/fleet-spare: steered to zones us-east-1b,us-east-1c/);
  });

  test('the handler applies exactly what planControllerStep returns for the observed input (the equivalence the simulator relies on)', async () => {
    const r = await runFallbackController(warning('i-00000000000000b1'), deps());
    const again = planControllerStep(r.stepInput!);
    expect(again.actions).toEqual(r.actions);
    expect(r.applied!.map((a) => a.group).sort()).toEqual(['fleet-od-fallback', 'fleet-spare']);
  });

  test('the same warning delivered twice: counted once, nothing applied the second time', async () => {
    await runFallbackController(warning('i-00000000000000a1'), deps());
    asgMock.resetHistory();
    const r = await runFallbackController(warning('i-00000000000000a1'), deps());
    expect(r.preemptions).toBe(0);
    expect(r.outcome).toBe(FallbackOutcome.UNCHANGED);
    expect(asgMock.commandCalls(SetDesiredCapacityCommand)).toHaveLength(0);
    expect(asgMock.commandCalls(UpdateAutoScalingGroupCommand)).toHaveLength(0);
    expect(logs.some((l) => /already counted \(duplicate delivery\)/.test(l.msg))).toBe(true);
  });

  test('without steerInstanceTypes the overrides are never written (zones only)', async () => {
    for (const n of ['fleet', 'fleet-spare']) groups.get(n)!.types = ['g5.xlarge', 'g6.xlarge'];
    await runFallbackController(warning('i-00000000000000a1'), deps({ settings: settings({ instanceTypes: ['g5.xlarge', 'g6.xlarge'] }) }));
    const update = asgMock.commandCalls(UpdateAutoScalingGroupCommand).map((c) => c.args[0].input);
    expect(update.every((u) => u.MixedInstancesPolicy === undefined)).toBe(true);
    // us-east-1a still has g6: the zone stays, so the spare is only sized
    expect(groups.get('fleet-spare')).toMatchObject({ desired: 1, types: ['g5.xlarge', 'g6.xlarge'] });
  });

  test('type steering when the settings allow it: an avoided type leaves the overrides', async () => {
    for (const n of ['fleet', 'fleet-spare']) groups.get(n)!.types = ['g5.xlarge', 'g6.xlarge'];
    groups.get('fleet')!.instances = [i('i-00000000000000a1', 'us-east-1a'), i('i-00000000000000b1', 'us-east-1b'), { id: 'i-00000000000000c1', zone: 'us-east-1c', type: 'g6.xlarge', spot: true }];
    const s = settings({ instanceTypes: ['g5.xlarge', 'g6.xlarge'], steerInstanceTypes: true });
    // g6 fails in every zone (launch failures without a zone name every pool of that type)
    asgMock.on(DescribeScalingActivitiesCommand).callsFake((input) =>
      input.AutoScalingGroupName === 'fleet'
        ? { Activities: [{ ActivityId: 'act-1', AutoScalingGroupName: 'fleet', StatusCode: 'Failed', StartTime: new Date(clock - 30_000), StatusMessage: 'We currently do not have sufficient g6.xlarge capacity in the Availability Zone you requested.', Cause: '', Progress: 100 }] }
        : { Activities: [] },
    );
    const r = await runFallbackController(warning('i-00000000000000c1'), deps({ settings: s }));
    expect(r.decision!.unavailablePools).toEqual(expect.arrayContaining(['us-east-1/us-east-1a/g6.xlarge', 'us-east-1/us-east-1b/g6.xlarge', 'us-east-1/us-east-1c/g6.xlarge']));
    const update = asgMock.commandCalls(UpdateAutoScalingGroupCommand).map((c) => c.args[0].input)[0];
    expect(update.MixedInstancesPolicy!.LaunchTemplate!.Overrides).toEqual([{ InstanceType: 'g5.xlarge' }]);
    expect(update.MixedInstancesPolicy!.LaunchTemplate!.LaunchTemplateSpecification).toEqual({ LaunchTemplateId: 'lt-1', Version: '$Latest' });
    expect(groups.get('fleet-spare')!.types).toEqual(['g5.xlarge']);
  });

  test('spare replicas of the spare group count as ready spot (no second fallback for them)', async () => {
    await runFallbackController(warning('i-00000000000000a1'), deps());
    // the spare lands and the preempted one is gone
    groups.get('fleet')!.instances = groups.get('fleet')!.instances.filter((x) => x.id !== 'i-00000000000000a1');
    groups.get('fleet-spare')!.instances = [i('i-00000000000000e1', 'us-east-1b')];
    clock += 60_000;
    const r = await runFallbackController(schedule(), deps());
    expect(r.readySpot).toBe(3);
    expect(r.decision!.action).toBe('hold');
  });

  test('a vanished spare group: logged, the fallback still applied, no spares', async () => {
    groups.delete('fleet-spare');
    const r = await runFallbackController(warning('i-00000000000000a1'), deps());
    expect(groups.get('fleet-od-fallback')!.desired).toBe(1);
    expect(r.spareAfter).toBe(0);
    expect(r.reason).toMatch(/no spare spot group owned: 1 spare replicas not applied/);
    expect(logs.some((l) => l.level === 'warn' && /spare group not found/.test(l.msg))).toBe(true);
  });

  test('a refused write on one group is logged and left to the next run; the other group is applied and the state saved', async () => {
    refuse.add('fleet-od-fallback');
    const r = await runFallbackController(warning('i-00000000000000a1'), deps());
    expect(groups.get('fleet-spare')!.desired).toBe(1);
    expect(groups.get('fleet-od-fallback')!.desired).toBe(0);
    expect(r.reason).toMatch(/not applied: fleet-od-fallback: ScalingActivityInProgress/);
    expect(param).toBeDefined();
    expect(logs.some((l) => l.level === 'warn' && /applying an action failed; the next run redoes it/.test(l.msg))).toBe(true);
    // next run: the write goes through (the state remembers the decision; the live group is compared)
    refuse.clear();
    clock += 60_000;
    await runFallbackController(schedule(), deps());
    expect(groups.get('fleet-od-fallback')!.desired).toBe(1);
  });

  test('when no write at all goes through, the run fails (EventBridge retries it), after saving the state', async () => {
    refuse.add('fleet-od-fallback');
    groups.delete('fleet-spare');
    await expect(runFallbackController(warning('i-00000000000000a1'), deps())).rejects.toThrow(/no action could be applied: fleet-od-fallback: ScalingActivityInProgress/);
    expect(param).toBeDefined();
  });

  test('throttled writes are retried with backoff and then applied', async () => {
    let n = 0;
    const base = asgMock.on(UpdateAutoScalingGroupCommand);
    base.callsFake((input) => {
      n++;
      if (n <= 2) throw awsError('Throttling', 'Rate exceeded');
      groups.get(input.AutoScalingGroupName)!.desired = input.DesiredCapacity;
      return {};
    });
    await runFallbackController(warning('i-00000000000000a1'), deps());
    expect(n).toBe(3);
    expect(groups.get('fleet-spare')!.desired).toBe(1);
  });
});

describe('several regions, one controller', () => {
  function westFleet(): void {
    groups.set('fleet-w', { region: 'us-west-2', desired: 2, max: 4, zones: ['us-west-2a', 'us-west-2b'], types: ['g5.xlarge'], instances: [i('i-00000000000000fa', 'us-west-2a'), i('i-00000000000000fb', 'us-west-2b')] });
    groups.set('fleet-w-od-fallback', { region: 'us-west-2', desired: 0, max: 4, zones: ['us-west-2a', 'us-west-2b'], types: ['g5.xlarge'], instances: [] });
    groups.set('fleet-w-spare', { region: 'us-west-2', desired: 0, max: 1, zones: ['us-west-2a', 'us-west-2b'], types: ['g5.xlarge'], instances: [] });
  }
  const multi = () => settings({ regions: [east, west], policy: { coverSparesWhenScarce: false, spareSpotReplicas: 1 } });

  test('us-east-1 loses all its spot at once: its fallback runs in us-east-1, the spare goes to us-west-2, us-east-1 spare group untouched', async () => {
    westFleet();
    const d = deps({ settings: multi() });
    // three warnings (one run each, as EventBridge delivers them), then the instances are gone
    for (const id of ['i-00000000000000a1', 'i-00000000000000b1', 'i-00000000000000c1']) await runFallbackController(warning(id), d);
    groups.get('fleet')!.instances = [];
    const r = await runFallbackController(schedule(), d);
    expect(groups.get('fleet-od-fallback')!.desired).toBe(3);
    expect(groups.get('fleet-w-od-fallback')!.desired).toBe(0);
    expect(groups.get('fleet-w-spare')!.desired).toBe(1);
    expect(groups.get('fleet-spare')!.desired).toBe(0);
    expect(r.reason).toMatch(/fleet-spare: every pool it may use is avoided by the policy; its zones stay, it gets no spares/);
    // every call went to its own region's client
    const regions = await Promise.all(asgMock.commandCalls(SetDesiredCapacityCommand).map(async (c) => [c.args[0].input.AutoScalingGroupName, await (c.thisValue as AutoScalingClient).config.region()]));
    for (const [name, region] of regions) expect(region).toBe(String(name).startsWith('fleet-w') ? 'us-west-2' : 'us-east-1');
  });

  test('a region whose groups vanished is left out (logged); the others are still driven', async () => {
    const d = deps({ settings: multi() });
    const r = await runFallbackController(warning('i-00000000000000a1'), d);
    expect(r.outcome).toBe(FallbackOutcome.APPLIED);
    expect(logs.some((l) => l.level === 'warn' && /spot group fleet-w and fallback group fleet-w-od-fallback \(us-west-2\) not found: those regions are left out/.test(l.msg))).toBe(true);
    expect(r.stepInput!.observed.regions!.map((x) => x.region)).toEqual(['us-east-1']);
  });

  test('pools carry their region, and the target and max add up over the regions', async () => {
    westFleet();
    const r = await runFallbackController(schedule(), deps({ settings: multi() }));
    expect(r.stepInput!.observed).toMatchObject({ targetReplicas: 5, maxCapacity: 10 });
    expect(r.stepInput!.observed.pools.map((p) => p.pool)).toEqual(expect.arrayContaining(['us-east-1/us-east-1a/g5.xlarge', 'us-west-2/us-west-2b/g5.xlarge']));
  });
});

describe('settings from the environment', () => {
  const base = {
    [FALLBACK_ENV.SPOT_GROUP_NAME]: 'fleet',
    [FALLBACK_ENV.FALLBACK_GROUP_NAME]: 'fleet-od-fallback',
    [FALLBACK_ENV.STATE_PARAMETER_NAME]: '/p',
    [FALLBACK_ENV.ON_DEMAND_BASE]: '0',
    [FALLBACK_ENV.MAX_CAPACITY]: '6',
  };

  test('spare group, subnets as a list, and regions with subnet lists are read', () => {
    const s = fallbackSettingsFromEnv({
      ...base,
      [FALLBACK_ENV.SPARE_GROUP_NAME]: 'fleet-spare',
      [FALLBACK_ENV.SUBNETS]: JSON.stringify([{ zone: 'us-east-1a', subnetId: 'subnet-a' }]),
      [FALLBACK_ENV.REGIONS]: JSON.stringify([{ region: 'us-west-2', spotGroupName: 'w', fallbackGroupName: 'w-od', subnets: [{ zone: 'us-west-2a', subnetId: 'subnet-wa' }], onDemandBase: 0, maxCapacity: 2, instanceTypes: [] }]),
    });
    expect(s.spareGroupName).toBe('fleet-spare');
    expect(s.subnetsByZone).toEqual({ 'us-east-1a': 'subnet-a' });
    expect(s.regions![0]).toMatchObject({ region: 'us-west-2', subnetsByZone: { 'us-west-2a': 'subnet-wa' } });
  });

  test('malformed subnets and regions fail at cold start, naming the variable, the value and the form', () => {
    expect(() => fallbackSettingsFromEnv({ ...base, [FALLBACK_ENV.SUBNETS]: '[1]' })).toThrow(/FALLBACK_SUBNETS \(\[1\]\) must be a list \[\{"zone": "<zone>", "subnetId": "<subnet id>"\}\]/);
    expect(() => fallbackSettingsFromEnv({ ...base, [FALLBACK_ENV.SUBNETS]: '{' })).toThrow(/FALLBACK_SUBNETS is not valid JSON/);
    expect(() => fallbackSettingsFromEnv({ ...base, [FALLBACK_ENV.REGIONS]: '[]' })).toThrow(/FALLBACK_REGIONS \(\[\]\) must be a non-empty list of regions/);
    expect(() => fallbackSettingsFromEnv({ ...base, [FALLBACK_ENV.REGIONS]: JSON.stringify([{ region: 'us-west-2', spotGroupName: '', fallbackGroupName: 'x', onDemandBase: -1, maxCapacity: 2, instanceTypes: 'g5' }]) })).toThrow(
      /FALLBACK_REGIONS is malformed: FALLBACK_REGIONS\[0\]\.spotGroupName \(""\) must be a non-empty string; FALLBACK_REGIONS\[0\]\.onDemandBase \(-1\) must be a whole number, 0 or more; FALLBACK_REGIONS\[0\]\.instanceTypes \("g5"\) must be a list/,
    );
  });
});
