import {
  Activity,
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { mockClient } from 'aws-sdk-client-mock';
import {
  FallbackDeps,
  FallbackOutcome,
  InstanceLifecycleReader,
  StateParameterStore,
  FallbackTrigger,
  makeFallbackHandler,
  parseLaunchFailure,
  runFallbackController,
  triggerOf,
  useSpotGroupDimensionOnly,
} from '../../../../lib/handlers/aws/fallback';
import { FALLBACK_METRICS_NAMESPACE, FallbackSettings } from '../../../../lib/handlers/aws/fallback-settings';
import { decodeControllerState } from '../../../../lib/handlers/aws/fallback-state';
import { EventBridgeEnvelope } from '../../../../lib/handlers/aws/events';
import { DEFAULT_FALLBACK_POLICY_OPTIONS, FallbackAction } from '../../../../lib/policy/fallback-policy';
import { launchUnsuccessful, spotWarning } from './sample-events';

const asgMock = mockClient(AutoScalingClient);

const SPOT = 'my-asg';
const FALLBACK = 'my-asg-od-fallback';
const PARAM = '/spot-inference/my-asg/fallback-state';
const T0 = Date.parse('2026-11-27T12:00:00Z');

interface Inst {
  id: string;
  zone: string;
  type: string;
  state: string;
  health?: string;
  spot: boolean;
}

interface Group {
  desired: number;
  min: number;
  max: number;
  instances: Inst[];
}

/** What the mocked AWS holds: two groups, their instances, scaling activities and the parameter. */
interface World {
  spot?: Group;
  fallback?: Group;
  activities: Activity[];
  vanished: Set<string>;
  param?: string;
  zones: string[];
}

let world: World;
let ec2Calls: string[][];
/** The state parameter as the controller sees it (the wire form is tested in fallback-ec2.test.ts and fallback.entry.test.ts). */
let ssmPuts: Array<{ name: string; value: string }>;
let ssmPutHook: (() => void) | undefined;
const fakeSsm: StateParameterStore = {
  async get(name) {
    expect(name).toBe(PARAM);
    return world.param;
  },
  async put(name, value) {
    ssmPutHook?.();
    ssmPuts.push({ name, value });
    world.param = value;
  },
};
/** EC2 DescribeInstances as the controller sees it (the wire form is tested in fallback-ec2.test.ts). */
const fakeEc2: InstanceLifecycleReader = {
  async describe(ids) {
    ec2Calls.push(ids);
    const all = [...(world.spot?.instances ?? []), ...(world.fallback?.instances ?? [])];
    return new Map(all.filter((i) => ids.includes(i.id) && !world.vanished.has(i.id)).map((i) => [i.id, { spot: i.spot, instanceType: i.type }]));
  },
};
let clock: { t: number };
let sleeps: number[];
let emitted: Array<{ name: string; value: number }>;
let metrics: Metrics;

const settings = (over: Partial<FallbackSettings> = {}): FallbackSettings => ({
  spotGroupName: SPOT,
  fallbackGroupName: FALLBACK,
  stateParameterName: PARAM,
  onDemandBase: 1,
  maxCapacity: 6,
  instanceTypes: ['g5.xlarge', 'g6.xlarge'],
  lookbackSeconds: 600,
  policy: { spareSpotReplicas: 0 },
  ...over,
});

function deps(over: Partial<FallbackDeps> = {}): FallbackDeps {
  return {
    settings: settings(),
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
    metrics,
    autoscaling: new AutoScalingClient({ region: 'us-east-1' }),
    ec2: fakeEc2,
    ssm: fakeSsm,
    now: () => clock.t,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.t += ms;
    },
    random: () => 0.5,
    ...over,
  };
}

const inst = (id: string, zone: string, type: string, spot: boolean, state = 'InService', health = 'Healthy'): Inst => ({ id, zone, type, spot, state, health });

/** Base 1 on-demand + 3 spot over two zones; target 4, max 6. */
function healthyFleet(): World {
  return {
    zones: ['us-east-1a', 'us-east-1b'],
    spot: {
      desired: 4,
      min: 1,
      max: 6,
      instances: [
        inst('i-0000000000000000a', 'us-east-1a', 'g5.xlarge', false),
        inst('i-0000000000000001a', 'us-east-1a', 'g5.xlarge', true),
        inst('i-0000000000000002b', 'us-east-1b', 'g6.xlarge', true),
        inst('i-0000000000000003b', 'us-east-1b', 'g5.xlarge', true),
      ],
    },
    fallback: { desired: 0, min: 0, max: 5, instances: [] },
    activities: [],
    vanished: new Set(),
  };
}

function groupOut(name: string, g: Group) {
  return {
    AutoScalingGroupName: name,
    DesiredCapacity: g.desired,
    MinSize: g.min,
    MaxSize: g.max,
    AvailabilityZones: world.zones,
    Instances: g.instances.map((i) => ({
      InstanceId: i.id,
      AvailabilityZone: i.zone,
      InstanceType: i.type,
      LifecycleState: i.state,
      HealthStatus: i.health,
      ProtectedFromScaleIn: false,
    })),
  };
}

const awsError = (name: string, message = name) => Object.assign(new Error(message), { name, $metadata: {} });

function wire(): void {
  asgMock.on(DescribeAutoScalingGroupsCommand).callsFake(() => ({
    AutoScalingGroups: [
      ...(world.spot ? [groupOut(SPOT, world.spot)] : []),
      ...(world.fallback ? [groupOut(FALLBACK, world.fallback)] : []),
    ],
  }));
  asgMock.on(DescribeScalingActivitiesCommand).callsFake(() => ({ Activities: world.activities }));
  asgMock.on(SetDesiredCapacityCommand).callsFake((input) => {
    if (!world.fallback || input.AutoScalingGroupName !== FALLBACK) throw awsError('ValidationError', 'AutoScalingGroup name not found');
    if (input.DesiredCapacity > world.fallback.max) throw awsError('ValidationError', 'above max');
    world.fallback.desired = input.DesiredCapacity;
    return {};
  });
}

beforeEach(() => {
  asgMock.reset();
  ec2Calls = [];
  ssmPuts = [];
  ssmPutHook = undefined;
  world = healthyFleet();
  clock = { t: T0 };
  sleeps = [];
  emitted = [];
  metrics = new Metrics({ namespace: FALLBACK_METRICS_NAMESPACE });
  jest.spyOn(metrics, 'addMetric').mockImplementation((name: string, _unit: string, value: number) => {
    emitted.push({ name, value });
    return metrics;
  });
  jest.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => metrics);
  jest.spyOn(metrics, 'hasStoredMetrics').mockImplementation(() => emitted.length > 0);
  wire();
});

const schedule = (): EventBridgeEnvelope => ({
  version: '0',
  id: `sched-${clock.t}`,
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  time: new Date(clock.t).toISOString(),
  resources: ['arn:aws:events:us-east-1:123456789012:rule/fallback-schedule'],
  detail: {},
});

const warning = (id: string): EventBridgeEnvelope => spotWarning({ id: `warn-${id}`, detail: { 'instance-id': id, 'instance-action': 'terminate' } });
const advance = (seconds: number): void => {
  clock.t += seconds * 1000;
};
const setDesiredCalls = () => asgMock.commandCalls(SetDesiredCapacityCommand).map((c) => c.args[0].input);
const metric = (name: string) => emitted.filter((m) => m.name === name).map((m) => m.value);

describe('fallback controller: spot loss and return', () => {
  test('healthy spot: no fallback, nothing called, FallbackReplicas 0 emitted', async () => {
    const r = await runFallbackController(schedule(), deps());
    expect(r).toMatchObject({ trigger: FallbackTrigger.SCHEDULE, outcome: FallbackOutcome.UNCHANGED, action: FallbackAction.STEADY, fallbackAfter: 0, readySpot: 3 });
    expect(setDesiredCalls()).toEqual([]);
    expect(metric('FallbackReplicas')).toEqual([0]);
    expect(metric('ReadySpotReplicas')).toEqual([3]);
    // state persisted once, small
    expect(ssmPuts).toHaveLength(1);
    expect(ssmPuts[0].name).toBe(PARAM);
  });

  test('a spot warning takes a replica out at once: fallback up by one with HonorCooldown false', async () => {
    const r = await runFallbackController(warning('i-0000000000000001a'), deps());
    expect(r).toMatchObject({ trigger: FallbackTrigger.SPOT_WARNING, outcome: FallbackOutcome.APPLIED, action: FallbackAction.FALL_BACK, fallbackBefore: 0, fallbackAfter: 1, readySpot: 2, preemptions: 1 });
    expect(r.reason).toMatch(/spot is 1 ready replica short of its share 3 of target 4 \(ready spot 2\): fallback 0 -> 1 on-demand/);
    expect(r.reason).toMatch(/us-east-1a\/g5\.xlarge: 1 preempted, avoided 600 s/);
    expect(setDesiredCalls()).toEqual([{ AutoScalingGroupName: FALLBACK, DesiredCapacity: 1, HonorCooldown: false }]);
    expect(world.fallback!.desired).toBe(1);
    expect(metric('FallbackReplicas')).toEqual([1]);
    expect(metric('SpotPreemptions')).toEqual([1]);
    const state = decodeControllerState(world.param);
    expect(state.policy.fallbackReplicas).toBe(1);
    expect(state.policy.pools.find((p) => p.pool === 'us-east-1/us-east-1a/g5.xlarge')).toMatchObject({ strikes: 1, unavailableUntil: T0 / 1000 + DEFAULT_FALLBACK_POLICY_OPTIONS.unavailablePoolSeconds });
  });

  test('launch failures (no instance ever appears) raise the fallback to the missing spot, and strike the pool', async () => {
    world.spot!.instances = world.spot!.instances.slice(0, 2); // base + 1 spot; 2 spot launches failing
    const r = await runFallbackController(launchUnsuccessful(SPOT), deps());
    expect(r).toMatchObject({ trigger: FallbackTrigger.LAUNCH_UNSUCCESSFUL, action: FallbackAction.FALL_BACK, fallbackAfter: 2, launchFailures: 1 });
    // the sample event: "sufficient g5.xlarge capacity ... (us-west-2b)"
    expect(r.decision!.unavailablePools).toEqual(['us-east-1/us-west-2b/g5.xlarge'])  // the group's region; the sample event's zone is another region's;
    expect(world.fallback!.desired).toBe(2);
    expect(metric('SpotLaunchFailures')).toEqual([1]);
  });

  test('spot back: the fallback stays while replacements launch, and goes only after they are ready and stable', async () => {
    await runFallbackController(warning('i-0000000000000001a'), deps());
    expect(world.fallback!.desired).toBe(1);
    // The warned instance goes; its replacement launches in another pool.
    world.spot!.instances = world.spot!.instances.filter((i) => i.id !== 'i-0000000000000001a');
    world.spot!.instances.push(inst('i-0000000000000004b', 'us-east-1b', 'g6.xlarge', true, 'Pending', 'Healthy'));
    world.fallback!.instances = [inst('i-00000000000000f01', 'us-east-1a', 'g5.xlarge', false)];
    advance(60);
    let r = await runFallbackController(schedule(), deps());
    expect(r).toMatchObject({ action: FallbackAction.STEADY, fallbackAfter: 1, outcome: FallbackOutcome.UNCHANGED });
    expect(r.reason).toMatch(/spot is still 1 short: fallback stays at 1/);

    // Replacement ready: held by stabilization and cool-down.
    world.spot!.instances[3].state = 'InService';
    advance(30);
    r = await runFallbackController(schedule(), deps());
    expect(r).toMatchObject({ action: FallbackAction.HOLD, fallbackAfter: 1 });
    expect(r.reason).toMatch(/spot is back \(ready spot 3 of share 3\) but the fallback stays at 1 until stabilization 0\/60 s and cool-down 90\/120 s/);

    advance(60);
    r = await runFallbackController(schedule(), deps());
    expect(r).toMatchObject({ action: FallbackAction.RETURN_TO_SPOT, outcome: FallbackOutcome.APPLIED, fallbackBefore: 1, fallbackAfter: 0 });
    expect(r.reason).toMatch(/ready spot 3 has covered the spot share 3 for 60 s \(stabilization 60 s\): fallback 1 -> 0 on-demand/);
    expect(setDesiredCalls().map((c) => c.DesiredCapacity)).toEqual([1, 0]);
    expect(metric('FallbackReplicas')).toEqual([1, 1, 1, 0]);
  });

  test('a warned instance the drain handler already sent to Terminating:Wait still counts as a preemption of its pool', async () => {
    world.spot!.instances[2].state = 'Terminating:Wait';
    world.spot!.instances[2].health = 'Unhealthy';
    const r = await runFallbackController(warning('i-0000000000000002b'), deps());
    expect(r).toMatchObject({ preemptions: 1, readySpot: 2, fallbackAfter: 1 });
    expect(r.decision!.unavailablePools).toEqual(['us-east-1/us-east-1b/g6.xlarge']);
  });

  test('an unhealthy in-service spot replica is not ready', async () => {
    world.spot!.instances[1].health = 'Unhealthy';
    const r = await runFallbackController(schedule(), deps());
    expect(r).toMatchObject({ readySpot: 2, fallbackAfter: 1 });
  });

  test('on-demand instances of the spot group above the base are not counted as missing spot', async () => {
    // 50 % above base: the group runs 1 base + 1 on-demand + 2 spot for target 4.
    world.spot!.instances[1].spot = false;
    const r = await runFallbackController(schedule(), deps());
    expect(r).toMatchObject({ readySpot: 2, fallbackAfter: 0, action: FallbackAction.STEADY });
  });
});

describe('fallback controller: idempotence', () => {
  test('the same spot warning twice: counted once, one SetDesiredCapacity', async () => {
    const first = await runFallbackController(warning('i-0000000000000001a'), deps());
    const stateAfterFirst = decodeControllerState(world.param);
    advance(5);
    const second = await runFallbackController(warning('i-0000000000000001a'), deps());
    expect(first.preemptions).toBe(1);
    expect(second).toMatchObject({ preemptions: 0, outcome: FallbackOutcome.UNCHANGED, fallbackAfter: 1, readySpot: 2 });
    expect(setDesiredCalls()).toHaveLength(1);
    const state = decodeControllerState(world.param);
    expect(state.policy.pools).toEqual(stateAfterFirst.policy.pools);
    expect(state.policy.recentPreemptions).toEqual(stateAfterFirst.policy.recentPreemptions);
  });

  test('a launch failure seen by its event and again by the activity scan is counted once', async () => {
    const ev = launchUnsuccessful(SPOT);
    world.activities = [
      {
        ActivityId: (ev.detail as { ActivityId: string }).ActivityId,
        AutoScalingGroupName: SPOT,
        Cause: 'capacity',
        StartTime: new Date(T0 - 30_000),
        StatusCode: 'Failed',
        StatusMessage: 'We currently do not have sufficient g5.xlarge capacity in the Availability Zone you requested (us-west-2b).',
        Details: '{"Subnet ID":"subnet-1","Availability Zone":"us-west-2b"}',
      },
    ];
    const a = await runFallbackController(ev, deps());
    advance(60);
    const b = await runFallbackController(schedule(), deps());
    const c = await runFallbackController(launchUnsuccessful(SPOT), deps());
    expect([a.launchFailures, b.launchFailures, c.launchFailures]).toEqual([1, 0, 0]);
  });

  test('failed activities found by the scan alone (the event was lost) are counted, old ones are not', async () => {
    world.activities = [
      { ActivityId: 'act-new', AutoScalingGroupName: SPOT, Cause: 'x', StartTime: new Date(T0 - 60_000), StatusCode: 'Failed', StatusMessage: 'Could not launch Spot Instances. InsufficientInstanceCapacity - There is no Spot capacity available that matches your request.', Details: '{"Availability Zone":"us-east-1b"}' },
      { ActivityId: 'act-old', AutoScalingGroupName: SPOT, Cause: 'x', StartTime: new Date(T0 - 3_600_000), StatusCode: 'Failed', StatusMessage: 'We currently do not have sufficient g6.xlarge capacity (us-east-1a).' },
      { ActivityId: 'act-ok', AutoScalingGroupName: SPOT, Cause: 'x', StartTime: new Date(T0 - 10_000), StatusCode: 'Successful' },
      { ActivityId: 'act-cfg', AutoScalingGroupName: SPOT, Cause: 'x', StartTime: new Date(T0 - 10_000), StatusCode: 'Failed', StatusMessage: 'The security group sg-1 does not exist.' },
    ];
    const r = await runFallbackController(schedule(), deps());
    expect(r.launchFailures).toBe(1);
    // zone known, type not: every pool of the zone is avoided
    expect(r.decision!.unavailablePools.sort()).toEqual(['us-east-1/us-east-1b/g5.xlarge', 'us-east-1/us-east-1b/g6.xlarge']);
  });

  test('steady runs repeated change nothing and write the same state', async () => {
    await runFallbackController(schedule(), deps());
    const first = world.param;
    await runFallbackController(schedule(), deps());
    expect(world.param).toBe(first);
    expect(setDesiredCalls()).toEqual([]);
  });
});

describe('fallback controller: failures of AWS', () => {
  test('throttling is retried with backoff, then the run completes', async () => {
    let n = 0;
    asgMock.on(DescribeAutoScalingGroupsCommand).callsFake(() => {
      n++;
      if (n <= 2) throw awsError('Throttling', 'Rate exceeded');
      return { AutoScalingGroups: [groupOut(SPOT, world.spot!), groupOut(FALLBACK, world.fallback!)] };
    });
    let puts = 0;
    ssmPutHook = () => {
      puts++;
      if (puts === 1) throw awsError('ThrottlingException');
    };
    const r = await runFallbackController(warning('i-0000000000000001a'), deps());
    expect(r.fallbackAfter).toBe(1);
    expect(n).toBe(3);
    expect(puts).toBe(2);
    expect(sleeps).toHaveLength(3);
    expect(sleeps[1]).toBeGreaterThan(sleeps[0]);
  });

  test('a non-retryable error fails the run (EventBridge retries the invocation; the schedule redoes it)', async () => {
    asgMock.on(DescribeScalingActivitiesCommand).rejects(awsError('AccessDenied'));
    await expect(runFallbackController(schedule(), deps())).rejects.toThrow(/AccessDenied/);
    expect(sleeps).toEqual([]);
  });

  test('a vanished spot group or fallback group: nothing written, nothing resized', async () => {
    world.fallback = undefined;
    let r = await runFallbackController(schedule(), deps());
    expect(r).toMatchObject({ outcome: FallbackOutcome.GROUP_MISSING });
    expect(r.reason).toMatch(/fallback group my-asg-od-fallback not found/);
    world = { ...healthyFleet(), spot: undefined };
    r = await runFallbackController(schedule(), deps());
    expect(r.reason).toMatch(/spot group my-asg not found/);
    expect(ssmPuts).toHaveLength(0);
    expect(setDesiredCalls()).toEqual([]);
  });

  test('instances that vanished between the two describes count as gone, not as ready', async () => {
    world.vanished.add('i-0000000000000002b');
    const r = await runFallbackController(schedule(), deps());
    expect(r).toMatchObject({ readySpot: 2, fallbackAfter: 1 });
  });

  test('a missing state parameter starts from the initial state; a reset one keeps the running fallback', async () => {
    world.fallback!.desired = 2;
    world.param = '{}';
    const r = await runFallbackController(schedule(), deps());
    // spot covers, but the fallback is not dropped at once: it waits for the stabilization and cool-down
    expect(r).toMatchObject({ action: FallbackAction.HOLD, fallbackAfter: 2, outcome: FallbackOutcome.UNCHANGED });
    expect(decodeControllerState(world.param).fresh).toBe(false);
  });

  test('the main group instances are described in one lifecycle read per run (the reader batches them)', async () => {
    world.spot!.max = 300;
    world.spot!.desired = 251;
    world.spot!.instances = [
      inst('i-0000000000000000a', 'us-east-1a', 'g5.xlarge', false),
      ...Array.from({ length: 250 }, (_, k) => inst(`i-${(k + 0x1000).toString(16).padStart(17, '0')}`, k % 2 ? 'us-east-1a' : 'us-east-1b', 'g5.xlarge', true)),
    ];
    const r = await runFallbackController(schedule(), deps({ settings: settings({ maxCapacity: 300 }) }));
    expect(ec2Calls.map((c) => c.length)).toEqual([251]);
    expect(r.readySpot).toBe(250);
  });
});

describe('fallback controller: bounds', () => {
  test('never above the fallback group max, nor above fleet max minus the spot group in service', async () => {
    // all spot gone, target 6 of max 6; the group says max 5 but only 6 - 1 (base in service) = 5 fit
    world.spot!.desired = 6;
    world.spot!.instances = [world.spot!.instances[0]];
    world.fallback!.max = 3;
    const r = await runFallbackController(schedule(), deps());
    expect(r.decision!.fallbackReplicas).toBe(5);
    expect(r).toMatchObject({ fallbackAfter: 3 });
    expect(r.reason).toMatch(/on-demand groups full: 3 of 5 fallback replicas applied \(raise their maxSize\)/);
    expect(setDesiredCalls()).toEqual([{ AutoScalingGroupName: FALLBACK, DesiredCapacity: 3, HonorCooldown: false }]);
  });

  test('in-service spot (even unhealthy) leaves less room: total never above max', async () => {
    world.spot!.desired = 6;
    world.spot!.instances.push(inst('i-0000000000000005a', 'us-east-1a', 'g6.xlarge', true, 'InService', 'Unhealthy'));
    world.spot!.instances.push(inst('i-0000000000000006a', 'us-east-1a', 'g6.xlarge', true, 'InService', 'Unhealthy'));
    const r = await runFallbackController(schedule(), deps());
    // need 2 (share 5, ready 3) but 6 in service leaves 0
    expect(r.decision!.fallbackReplicas).toBe(2);
    expect(r.fallbackAfter).toBe(0);
  });

  test('the base stays in the spot group: with a target at or below the base there is no fallback', async () => {
    world.spot!.desired = 1;
    world.spot!.instances = [world.spot!.instances[0]];
    const r = await runFallbackController(schedule(), deps());
    expect(r).toMatchObject({ fallbackAfter: 0, action: FallbackAction.STEADY });
  });

  test('a fallback running above what is wanted and allowed is brought down to the bound, never below 0', async () => {
    world.fallback!.desired = 4;
    world.spot!.desired = 6;
    world.spot!.instances.push(inst('i-0000000000000005a', 'us-east-1a', 'g6.xlarge', true));
    world.spot!.instances.push(inst('i-0000000000000006a', 'us-east-1a', 'g6.xlarge', true));
    world.param = undefined;
    const r = await runFallbackController(schedule(), deps());
    expect(r.fallbackAfter).toBe(0);
    expect(setDesiredCalls()).toEqual([{ AutoScalingGroupName: FALLBACK, DesiredCapacity: 0, HonorCooldown: false }]);
  });

  test('scarce spot with coverSparesWhenScarce: on-demand also covers the spare (off by default)', async () => {
    const r = await runFallbackController(warning('i-0000000000000001a'), deps({ settings: settings({ policy: { coverSparesWhenScarce: true } }) }));
    // 4 pools, 1 avoided -> 3 left for 3 spot + 1 spare: scarce, so 1 short + 1 spare
    expect(r.fallbackAfter).toBe(2);
    expect(r.reason).toMatch(/spot is scarce/);
  });

  test('scarce spot with the default policy: on-demand covers only the missing replica', async () => {
    const r = await runFallbackController(warning('i-0000000000000001a'), deps({ settings: settings({ policy: {} }) }));
    expect(r.fallbackAfter).toBe(1);
    expect(r.reason).not.toMatch(/spot is scarce/);
  });
});

describe('fallback controller: events and parsing', () => {
  test.each([
    [{ source: 'aws.events', 'detail-type': 'Scheduled Event' }, FallbackTrigger.SCHEDULE],
    [launchUnsuccessful(SPOT), FallbackTrigger.LAUNCH_UNSUCCESSFUL],
    [spotWarning(), FallbackTrigger.SPOT_WARNING],
    [{ source: 'aws.ec2', 'detail-type': 'EC2 Instance Rebalance Recommendation' }, FallbackTrigger.OTHER],
    [undefined, FallbackTrigger.OTHER],
  ])('trigger of %j is %s', (event, trigger) => {
    expect(triggerOf(event as Partial<EventBridgeEnvelope>)).toBe(trigger);
  });

  test('launch failure messages: zone from details or message, type from the message', () => {
    expect(parseLaunchFailure('a:1', 'We currently do not have sufficient g5.xlarge capacity in the Availability Zone you requested (us-west-2b).')).toMatchObject({ zone: 'us-west-2b', instanceType: 'g5.xlarge' });
    expect(parseLaunchFailure('a:2', 'There is no Spot capacity available that matches your request.', '{"Availability Zone":"eu-west-1c"}')).toMatchObject({ zone: 'eu-west-1c', instanceType: undefined });
    expect(parseLaunchFailure('a:3', 'capacity', { 'Availability Zone': 'us-gov-west-1a' })).toMatchObject({ zone: 'us-gov-west-1a' });
    expect(parseLaunchFailure('a:4', 'no idea', 'not json')).toMatchObject({ zone: undefined, instanceType: undefined });
  });

  test('a launch failure of another group does not count; one of the fallback group is logged', async () => {
    const other = await runFallbackController(launchUnsuccessful('someone-else'), deps());
    expect(other.launchFailures).toBe(0);
    const warn = jest.fn();
    const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
    jest.spyOn(logger, 'warn').mockImplementation(warn);
    await runFallbackController(launchUnsuccessful(FALLBACK), deps({ logger }));
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/on-demand launch of the fallback group failed/), expect.anything());
  });

  test('a spot warning for an instance of another fleet is a plain control run, counted as ignored', async () => {
    const r = await runFallbackController(warning('i-0ffffffffffffffff'), deps());
    expect(r).toMatchObject({ trigger: FallbackTrigger.SPOT_WARNING, preemptions: 0, fallbackAfter: 0 });
    expect(metric('IgnoredEvents')).toEqual([1]);
  });

  test('events ignored on purpose are counted (IgnoredEvents) and logged at INFO; a schedule tick is not ignored', async () => {
    const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
    const info = jest.spyOn(logger, 'info').mockImplementation(() => undefined);
    await runFallbackController({ ...schedule(), source: 'aws.ec2', 'detail-type': 'EC2 Instance Rebalance Recommendation' }, deps({ logger }));
    expect(info).toHaveBeenCalledWith('an event the controller does not act on: ignored, a plain control run', { source: 'aws.ec2', detailType: 'EC2 Instance Rebalance Recommendation' });
    await runFallbackController(launchUnsuccessful('someone-else'), deps({ logger }));
    expect(info).toHaveBeenCalledWith('launch failure of a group the controller does not observe: ignored, a plain control run', { autoScalingGroupName: 'someone-else' });
    await runFallbackController(schedule(), deps({ logger }));
    expect(metric('IgnoredEvents')).toEqual([1, 1, 0]);
  });

  test('every decision is logged with its reason', async () => {
    const info = jest.fn();
    const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
    jest.spyOn(logger, 'info').mockImplementation(info);
    await runFallbackController(warning('i-0000000000000001a'), deps({ logger }));
    expect(info).toHaveBeenCalledWith('fallback fall-back: applied my-asg-od-fallback -> 1', expect.objectContaining({
      action: 'fall-back',
      reason: expect.stringMatching(/spot is 1 ready replica short/),
      fallbackBefore: 0,
      fallbackAfter: 1,
      trigger: 'spot-warning',
    }));
  });
});

describe('fallback Lambda handler', () => {
  test('publishes metrics after each run and returns a small summary', async () => {
    const handler = makeFallbackHandler(deps());
    const out = await handler(schedule(), { getRemainingTimeInMillis: () => 55_000 } as never);
    expect(out).toMatchObject({ outcome: FallbackOutcome.UNCHANGED, fallbackAfter: 0, decision: undefined });
    expect(metrics.publishStoredMetrics).toHaveBeenCalledTimes(1);
  });

  test('a failed run is logged, rethrown, and its metrics (if any) still flushed', async () => {
    asgMock.on(DescribeAutoScalingGroupsCommand).rejects(awsError('AccessDenied'));
    const error = jest.fn();
    const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
    jest.spyOn(logger, 'error').mockImplementation(error);
    const handler = makeFallbackHandler(deps({ logger }));
    await expect(handler(schedule())).rejects.toThrow(/AccessDenied/);
    expect(error).toHaveBeenCalledWith(expect.stringMatching(/fallback control run failed/), expect.objectContaining({ errorName: 'AccessDenied' }));
  });

  test('FallbackReplicas is real EMF in SpotInferenceConstructs with AutoScalingGroupName = the spot group as its only dimension', async () => {
    const real = useSpotGroupDimensionOnly(new Metrics({ namespace: FALLBACK_METRICS_NAMESPACE, serviceName: 'spot-fallback-controller' }), SPOT);
    await runFallbackController(warning('i-0000000000000001a'), deps({ metrics: real }));
    const emf = real.serializeMetrics() as unknown as {
      _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> };
      FallbackReplicas: number;
      AutoScalingGroupName: string;
      service?: string;
    };
    expect(emf._aws.CloudWatchMetrics[0].Namespace).toBe('SpotInferenceConstructs');
    expect(emf._aws.CloudWatchMetrics[0].Dimensions).toEqual([['AutoScalingGroupName']]);
    expect(emf._aws.CloudWatchMetrics[0].Metrics).toContainEqual({ Name: 'FallbackReplicas', Unit: 'Count' });
    expect(emf.FallbackReplicas).toBe(1);
    expect(emf.AutoScalingGroupName).toBe(SPOT);
    expect(emf.service).toBeUndefined();
    real.clearMetrics();
  });
});
