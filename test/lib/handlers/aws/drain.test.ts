import {
  AutoScalingClient,
  AutoScalingServiceException,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetInstanceHealthCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DeregisterTargetsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  InvalidTargetException,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import {
  DrainAction,
  DrainDeps,
  DrainOutcome,
  RecentEvents,
  ServeThroughEnd,
  drainDeadline,
  handleInterruptionEvent,
  makeDrainHandler,
} from '../../../../lib/handlers/aws/drain';
import { DrainSettings, IgnoreReason } from '../../../../lib/handlers/aws/drain-settings';
import { EventBridgeEnvelope, InterruptionEventKind } from '../../../../lib/handlers/aws/events';
import {
  ASG_NAME,
  EVENT_TIME_MS,
  HOOK_NAME,
  INSTANCE_ID,
  TG1,
  TG2,
  healthScheduledChange,
  launchUnsuccessful,
  rebalance,
  spotWarning,
  stateChange,
  terminateAction,
} from './sample-events';

const asgMock = mockClient(AutoScalingClient);
const elbMock = mockClient(ElasticLoadBalancingV2Client);

interface Call {
  readonly op: string;
  readonly input: Record<string, unknown>;
  readonly t: number;
}

/** Fake time: sleeping advances the clock at once. */
class FakeClock {
  public t = EVENT_TIME_MS + 2_000; // the event reaches the function 2 s after it was emitted
  public readonly sleeps: number[] = [];
  public readonly now = (): number => this.t;
  public readonly sleep = async (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.t += ms;
  };
}

let clock: FakeClock;
let calls: Call[];
let metrics: Metrics;
let emitted: Array<{ name: string; value: number; unit: string }>;
/** Single metrics (IgnoredEvents), with the dimensions they were given. */
let singles: Array<{ name: string; value: number; unit: string; dimensions: Record<string, string> }>;
let logger: Logger;
/** Every log line the handler wrote, at every level (the logger is silent; its methods are spied on). */
let logs: Array<{ level: string; message: string; extra: Record<string, unknown> }>;

const SETTINGS: DrainSettings = {
  autoScalingGroupName: ASG_NAME,
  targetGroupArns: [TG1],
  lifecycleHookName: HOOK_NAME,
  noticeSeconds: 120,
  drainBudgetSeconds: 75,
  safetyMarginSeconds: 10,
  heartbeatIntervalSeconds: 20,
  pollIntervalSeconds: 5,
  markUnhealthyOnWarning: true,
  markUnhealthyOnRebalance: true,
  markUnhealthyOnScheduledChange: true,
};

function deps(settings: Partial<DrainSettings> = {}, recent = new RecentEvents()): DrainDeps {
  return {
    settings: { ...SETTINGS, ...settings },
    autoscaling: new AutoScalingClient({ region: 'us-east-1' }),
    elbv2: new ElasticLoadBalancingV2Client({ region: 'us-east-1' }),
    logger,
    metrics,
    now: clock.now,
    sleep: clock.sleep,
    random: () => 0.5,
    recent,
  };
}

type Impl = (input: Record<string, unknown>) => unknown;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function on(mock: any, command: any, impl: Impl): void {
  mock.on(command).callsFake(async (input: Record<string, unknown>) => {
    calls.push({ op: command.name.replace(/Command$/, ''), input, t: clock.t });
    return impl(input);
  });
}

const asgError = (name: string, message: string, status = 400) =>
  new AutoScalingServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message });

function inFleet(over: Record<string, unknown> = {}) {
  return () => ({
    AutoScalingInstances: [
      { InstanceId: INSTANCE_ID, AutoScalingGroupName: ASG_NAME, LifecycleState: 'InService', HealthStatus: 'HEALTHY', AvailabilityZone: 'us-east-2a', ProtectedFromScaleIn: false, ...over },
    ],
  });
}

/** Default happy-path responses; tests override what they need. */
function happyPath(): void {
  on(asgMock, DescribeAutoScalingInstancesCommand, inFleet());
  on(asgMock, SetInstanceHealthCommand, () => ({}));
  on(asgMock, CompleteLifecycleActionCommand, () => ({}));
  on(asgMock, RecordLifecycleActionHeartbeatCommand, () => ({}));
  on(elbMock, DeregisterTargetsCommand, () => ({}));
  on(elbMock, DescribeTargetHealthCommand, () => ({ TargetHealthDescriptions: [{ Target: { Id: INSTANCE_ID }, TargetHealth: { State: 'unused' } }] }));
}

const ops = (): string[] => calls.map((c) => c.op);

beforeEach(() => {
  asgMock.reset();
  elbMock.reset();
  clock = new FakeClock();
  calls = [];
  emitted = [];
  metrics = new Metrics({ namespace: 'SpotInference', serviceName: 'spot-interruption-handler' });
  jest.spyOn(metrics, 'addMetric').mockImplementation((name: string, unit: string, value: number) => {
    emitted.push({ name, unit, value });
    return metrics;
  });
  jest.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => metrics);
  jest.spyOn(metrics, 'hasStoredMetrics').mockImplementation(() => emitted.length > 0);
  singles = [];
  jest.spyOn(metrics, 'singleMetric').mockImplementation(() => {
    const dimensions: Record<string, string> = {};
    const single = {
      addDimension: (k: string, v: string) => {
        dimensions[k] = v;
        return single;
      },
      addMetric: (name: string, unit: string, value: number) => {
        singles.push({ name, unit, value, dimensions: { ...dimensions } });
        return single;
      },
    };
    return single as unknown as Metrics;
  });
  logs = [];
  logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    jest.spyOn(logger, level).mockImplementation(((message: string, ...extra: Array<Record<string, unknown>>) => {
      logs.push({ level, message, extra: Object.assign({}, ...extra) });
    }) as never);
  }
  happyPath();
});

describe('spot interruption warning', () => {
  test('deregisters from the target group, then marks the instance unhealthy: 3 API calls', async () => {
    const r = await handleInterruptionEvent(spotWarning(), deps());
    expect(r).toEqual({ kind: InterruptionEventKind.SPOT_WARNING, action: DrainAction.DEREGISTERED, instanceIds: [INSTANCE_ID] });
    expect(ops()).toEqual(['DescribeAutoScalingInstances', 'DeregisterTargets', 'SetInstanceHealth']);
    expect(calls[0].input).toEqual({ InstanceIds: [INSTANCE_ID] });
    expect(calls[1].input).toEqual({ TargetGroupArn: TG1, Targets: [{ Id: INSTANCE_ID }] });
    expect(calls[2].input).toEqual({ InstanceId: INSTANCE_ID, HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: false });
    expect(emitted).toContainEqual({ name: 'InterruptionsSeen', unit: 'Count', value: 1 });
  });

  test('deregisters from every target group at once, before marking unhealthy', async () => {
    const pending: Array<() => void> = [];
    elbMock.reset();
    // Hold both deregistrations open: the second must start before the first returns.
    on(elbMock, DeregisterTargetsCommand, () => new Promise((resolve) => pending.push(() => resolve({}))));
    const p = handleInterruptionEvent(spotWarning(), deps({ targetGroupArns: [TG1, TG2] }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(ops()).toEqual(['DescribeAutoScalingInstances', 'DeregisterTargets', 'DeregisterTargets']);
    pending.forEach((release) => release());
    await p;
    expect(ops()).toEqual(['DescribeAutoScalingInstances', 'DeregisterTargets', 'DeregisterTargets', 'SetInstanceHealth']);
    expect(calls.filter((c) => c.op === 'DeregisterTargets').map((c) => c.input.TargetGroupArn)).toEqual([TG1, TG2]);
  });

  test('markUnhealthyOnWarning: false only deregisters', async () => {
    await handleInterruptionEvent(spotWarning(), deps({ markUnhealthyOnWarning: false }));
    expect(ops()).toEqual(['DescribeAutoScalingInstances', 'DeregisterTargets']);
  });

  test('an instance of another group is ignored after one lookup', async () => {
    asgMock.reset();
    on(asgMock, DescribeAutoScalingInstancesCommand, inFleet({ AutoScalingGroupName: 'someone-else' }));
    const r = await handleInterruptionEvent(spotWarning(), deps());
    expect(r).toMatchObject({ action: DrainAction.IGNORED, reason: IgnoreReason.NOT_IN_FLEET });
    expect(ops()).toEqual(['DescribeAutoScalingInstances']);
    expect(emitted).toEqual([]);
    // Quiet at INFO, but counted.
    expect(logs.filter((l) => l.level !== 'debug')).toEqual([]);
    expect(singles).toEqual([{ name: 'IgnoredEvents', unit: 'Count', value: 1, dimensions: { Reason: 'NotInFleet' } }]);
  });

  test('an instance that is gone (not found) is a success, not an error', async () => {
    asgMock.reset();
    on(asgMock, DescribeAutoScalingInstancesCommand, () => ({ AutoScalingInstances: [] }));
    await expect(handleInterruptionEvent(spotWarning(), deps())).resolves.toMatchObject({ action: DrainAction.IGNORED });
    expect(ops()).toEqual(['DescribeAutoScalingInstances']);
  });

  test('an instance that vanishes mid-way (target gone, instance not found) is a success', async () => {
    elbMock.reset();
    asgMock.reset();
    on(asgMock, DescribeAutoScalingInstancesCommand, inFleet());
    on(elbMock, DeregisterTargetsCommand, () => {
      throw new InvalidTargetException({ message: 'The following targets are not in a running state and cannot be registered', $metadata: {} });
    });
    on(asgMock, SetInstanceHealthCommand, () => {
      throw asgError('ValidationError', `Instance Id not found - No managed instance found for instance ID: ${INSTANCE_ID}`);
    });
    await expect(handleInterruptionEvent(spotWarning(), deps())).resolves.toMatchObject({ action: DrainAction.DEREGISTERED });
    expect(ops()).toEqual(['DescribeAutoScalingInstances', 'DeregisterTargets', 'SetInstanceHealth']);
  });

  test('a duplicate delivery to the same container makes no call at all', async () => {
    const d = deps();
    await handleInterruptionEvent(spotWarning(), d);
    calls = [];
    const r = await handleInterruptionEvent(spotWarning(), d);
    expect(r).toMatchObject({ action: DrainAction.IGNORED, reason: IgnoreReason.DUPLICATE });
    expect(calls).toEqual([]);
    expect(singles).toEqual([{ name: 'IgnoredEvents', unit: 'Count', value: 1, dimensions: { Reason: 'Duplicate' } }]);
  });

  test('a duplicate in another container does no harm: target already gone, instance already unhealthy', async () => {
    asgMock.reset();
    elbMock.reset();
    on(asgMock, DescribeAutoScalingInstancesCommand, inFleet({ HealthStatus: 'UNHEALTHY', LifecycleState: 'Terminating:Wait' }));
    on(elbMock, DeregisterTargetsCommand, () => {
      throw new InvalidTargetException({ message: 'target not registered', $metadata: {} });
    });
    const r = await handleInterruptionEvent(spotWarning(), deps({}, new RecentEvents()));
    expect(r.action).toBe(DrainAction.DEREGISTERED);
    expect(ops()).toEqual(['DescribeAutoScalingInstances', 'DeregisterTargets']); // no second SetInstanceHealth
  });

  test('throttling is retried with backoff', async () => {
    asgMock.reset();
    let n = 0;
    on(asgMock, DescribeAutoScalingInstancesCommand, () => {
      if (++n <= 2) throw asgError('Throttling', 'Rate exceeded');
      return inFleet()();
    });
    on(asgMock, SetInstanceHealthCommand, () => ({}));
    const r = await handleInterruptionEvent(spotWarning(), deps());
    expect(r.action).toBe(DrainAction.DEREGISTERED);
    expect(ops()).toEqual(['DescribeAutoScalingInstances', 'DescribeAutoScalingInstances', 'DescribeAutoScalingInstances', 'DeregisterTargets', 'SetInstanceHealth']);
    // exponential: 200 ms then 400 ms steps, jittered (random 0.5 -> 55 %)
    expect(clock.sleeps).toEqual([110, 220]);
  });

  test('throttling that does not stop fails the event after 6 attempts; other errors fail at once', async () => {
    asgMock.reset();
    on(asgMock, DescribeAutoScalingInstancesCommand, () => {
      throw asgError('Throttling', 'Rate exceeded');
    });
    await expect(handleInterruptionEvent(spotWarning(), deps())).rejects.toThrow(/Rate exceeded/);
    expect(ops()).toHaveLength(6);
    calls = [];
    asgMock.reset();
    on(asgMock, DescribeAutoScalingInstancesCommand, () => {
      throw asgError('AccessDenied', 'not authorized to perform: autoscaling:DescribeAutoScalingInstances', 403);
    });
    await expect(handleInterruptionEvent(spotWarning({ id: 'other' }), deps())).rejects.toThrow(/not authorized/);
    expect(ops()).toHaveLength(1);
  });
});

describe('rebalance recommendation', () => {
  test('deregisters and marks unhealthy by default', async () => {
    const r = await handleInterruptionEvent(rebalance(), deps());
    expect(r).toMatchObject({ kind: InterruptionEventKind.REBALANCE, action: DrainAction.DEREGISTERED });
    expect(ops()).toEqual(['DescribeAutoScalingInstances', 'DeregisterTargets', 'SetInstanceHealth']);
    expect(emitted).toContainEqual({ name: 'RebalanceRecommendations', unit: 'Count', value: 1 });
  });

  test('with Capacity Rebalancing (markUnhealthyOnRebalance: false) only records it', async () => {
    const r = await handleInterruptionEvent(rebalance(), deps({ markUnhealthyOnRebalance: false }));
    expect(r.action).toBe(DrainAction.RECORDED);
    expect(ops()).toEqual(['DescribeAutoScalingInstances']);
  });
});

describe('instance state change', () => {
  test.each(['stopping', 'stopped', 'shutting-down', 'terminated'])('%s: makes sure the instance is deregistered', async (state) => {
    const r = await handleInterruptionEvent(stateChange(state), deps());
    expect(r).toMatchObject({ kind: InterruptionEventKind.STATE_CHANGE, action: DrainAction.DEREGISTERED });
    expect(ops()).toEqual(['DescribeAutoScalingInstances', 'DeregisterTargets']);
  });

  test('running (the documented sample) is ignored without a call', async () => {
    const r = await handleInterruptionEvent(stateChange('running'), deps());
    expect(r.action).toBe(DrainAction.IGNORED);
    expect(calls).toEqual([]);
  });
});

describe('AWS Health scheduled change', () => {
  test('replaces the fleet instances it names, ahead of time', async () => {
    asgMock.reset();
    on(asgMock, DescribeAutoScalingInstancesCommand, () => ({
      AutoScalingInstances: [
        { InstanceId: INSTANCE_ID, AutoScalingGroupName: ASG_NAME, LifecycleState: 'InService', HealthStatus: 'HEALTHY' },
        { InstanceId: 'i-0aaaaaaaaaaaaaaaa', AutoScalingGroupName: 'other', LifecycleState: 'InService', HealthStatus: 'HEALTHY' },
      ],
    }));
    on(asgMock, SetInstanceHealthCommand, () => ({}));
    const r = await handleInterruptionEvent(healthScheduledChange([INSTANCE_ID, 'i-0aaaaaaaaaaaaaaaa']), deps());
    expect(r).toMatchObject({ kind: InterruptionEventKind.SCHEDULED_CHANGE, action: DrainAction.DEREGISTERED, instanceIds: [INSTANCE_ID] });
    expect(calls[0].input).toEqual({ InstanceIds: [INSTANCE_ID, 'i-0aaaaaaaaaaaaaaaa'] });
    expect(ops()).toEqual(['DescribeAutoScalingInstances', 'DeregisterTargets', 'SetInstanceHealth']);
    expect(emitted).toContainEqual({ name: 'ScheduledChanges', unit: 'Count', value: 1 });
  });

  test('a closed event, or another service, is ignored', async () => {
    expect((await handleInterruptionEvent(healthScheduledChange([INSTANCE_ID], { statusCode: 'closed' }), deps())).action).toBe(DrainAction.IGNORED);
    expect((await handleInterruptionEvent(healthScheduledChange([INSTANCE_ID], { service: 'RDS' }), deps())).action).toBe(DrainAction.IGNORED);
    expect(calls).toEqual([]);
  });

  test('markUnhealthyOnScheduledChange: false only records it', async () => {
    const r = await handleInterruptionEvent(healthScheduledChange([INSTANCE_ID]), deps({ markUnhealthyOnScheduledChange: false }));
    expect(r.action).toBe(DrainAction.RECORDED);
    expect(ops()).toEqual(['DescribeAutoScalingInstances']);
  });
});

describe('launch unsuccessful', () => {
  test('is recorded for the fallback controller, without a call', async () => {
    const r = await handleInterruptionEvent(launchUnsuccessful(), deps());
    expect(r.action).toBe(DrainAction.RECORDED);
    expect(calls).toEqual([]);
    expect(emitted).toContainEqual({ name: 'LaunchFailures', unit: 'Count', value: 1 });
  });

  test('of another group is ignored', async () => {
    expect((await handleInterruptionEvent(launchUnsuccessful('other'), deps())).action).toBe(DrainAction.IGNORED);
    expect(emitted).toEqual([]);
  });
});

/** The load balancer no longer knows the target: both calls on it answer InvalidTarget. */
function targetGoneFromTargetGroups(): void {
  elbMock.reset();
  const gone = () => {
    throw new InvalidTargetException({ message: 'The specified target does not exist', $metadata: {} });
  };
  on(elbMock, DeregisterTargetsCommand, gone);
  on(elbMock, DescribeTargetHealthCommand, gone);
}

describe('terminate lifecycle action', () => {
  const hookInput = {
    AutoScalingGroupName: ASG_NAME,
    LifecycleHookName: HOOK_NAME,
    InstanceId: INSTANCE_ID,
    LifecycleActionToken: '87654321-4321-4321-4321-210987654321',
  };

  test('already drained: deregister, check, CONTINUE', async () => {
    const r = await handleInterruptionEvent(terminateAction(), deps());
    expect(r).toMatchObject({ action: DrainAction.COMPLETED, outcome: DrainOutcome.DRAINED, drainSeconds: 0 });
    expect(ops()).toEqual(['DeregisterTargets', 'DescribeTargetHealth', 'CompleteLifecycleAction']);
    expect(calls[1].input).toEqual({ TargetGroupArn: TG1, Targets: [{ Id: INSTANCE_ID }] });
    expect(calls[2].input).toEqual({ ...hookInput, LifecycleActionResult: 'CONTINUE' });
    expect(emitted).toEqual(
      expect.arrayContaining([
        { name: 'DrainDurationSeconds', unit: 'Seconds', value: 0 },
        { name: 'DrainOutcomeDrained', unit: 'Count', value: 1 },
      ]),
    );
  });

  test('waits while the target drains, heartbeating, then CONTINUE as soon as it is done', async () => {
    const start = clock.t;
    elbMock.reset();
    on(elbMock, DeregisterTargetsCommand, () => ({}));
    on(elbMock, DescribeTargetHealthCommand, () => ({
      TargetHealthDescriptions: [{ Target: { Id: INSTANCE_ID }, TargetHealth: { State: clock.t - start < 50_000 ? 'draining' : 'unused' } }],
    }));
    const r = await handleInterruptionEvent(terminateAction(), deps());
    expect(r).toMatchObject({ outcome: DrainOutcome.DRAINED, drainSeconds: 50 });
    const beats = calls.filter((c) => c.op === 'RecordLifecycleActionHeartbeat');
    expect(beats.map((b) => (b.t - start) / 1000)).toEqual([20, 40]);
    expect(beats[0].input).toEqual(hookInput);
    const complete = calls.find((c) => c.op === 'CompleteLifecycleAction')!;
    expect((complete.t - start) / 1000).toBe(50);
    expect(calls.filter((c) => c.op === 'DescribeTargetHealth')).toHaveLength(11); // every 5 s from 0 to 50 s
    expect(ops()[0]).toBe('DeregisterTargets');
    expect(ops().at(-1)).toBe('CompleteLifecycleAction');
  });

  test('a target that never drains is let go when the drain budget is spent', async () => {
    const start = clock.t;
    elbMock.reset();
    on(elbMock, DeregisterTargetsCommand, () => ({}));
    on(elbMock, DescribeTargetHealthCommand, () => ({ TargetHealthDescriptions: [{ TargetHealth: { State: 'draining' } }] }));
    const r = await handleInterruptionEvent(terminateAction(), deps({ drainBudgetSeconds: 30 }));
    expect(r).toMatchObject({ action: DrainAction.COMPLETED, outcome: DrainOutcome.BUDGET_SPENT, drainSeconds: 30 });
    expect(calls.at(-1)!.op).toBe('CompleteLifecycleAction');
    expect((calls.at(-1)!.t - start) / 1000).toBe(30);
    expect(emitted).toContainEqual({ name: 'DrainOutcomeBudgetSpent', unit: 'Count', value: 1 });
  });

  test('nothing waits past the notice: a late event gets only what is left of the 120 s, less the margin', async () => {
    clock.t = EVENT_TIME_MS + 60_000; // the lifecycle action arrives 60 s into the notice
    elbMock.reset();
    on(elbMock, DeregisterTargetsCommand, () => ({}));
    on(elbMock, DescribeTargetHealthCommand, () => ({ TargetHealthDescriptions: [{ TargetHealth: { State: 'draining' } }] }));
    const r = await handleInterruptionEvent(terminateAction(), deps());
    expect(r.outcome).toBe(DrainOutcome.BUDGET_SPENT);
    const noticeEnd = EVENT_TIME_MS + 120_000;
    for (const c of calls) expect(c.t).toBeLessThanOrEqual(noticeEnd - 10_000);
    expect(calls.at(-1)).toMatchObject({ op: 'CompleteLifecycleAction', t: noticeEnd - 10_000 });
    for (const c of calls.filter((x) => x.op === 'RecordLifecycleActionHeartbeat')) expect(c.t).toBeLessThan(noticeEnd);
  });

  test('the notice counts from the spot warning when this container saw it', async () => {
    elbMock.reset();
    on(elbMock, DeregisterTargetsCommand, () => ({}));
    on(elbMock, DescribeTargetHealthCommand, () => ({ TargetHealthDescriptions: [{ TargetHealth: { State: 'draining' } }] }));
    const d = deps({ drainBudgetSeconds: 100 });
    await handleInterruptionEvent(spotWarning(), d); // warning at EVENT_TIME
    // The group moves the instance to Terminating:Wait 30 s later.
    clock.t = EVENT_TIME_MS + 32_000;
    calls = [];
    await handleInterruptionEvent(terminateAction({ time: new Date(EVENT_TIME_MS + 30_000).toISOString() }), d);
    expect(calls.at(-1)).toMatchObject({ op: 'CompleteLifecycleAction', t: EVENT_TIME_MS + 110_000 });
    // Another container, which did not see the warning, counts from the lifecycle event: still bounded by it.
    clock.t = EVENT_TIME_MS + 32_000;
    calls = [];
    await handleInterruptionEvent(terminateAction({ id: 'other', time: new Date(EVENT_TIME_MS + 30_000).toISOString() }), deps({ drainBudgetSeconds: 100 }));
    expect(calls.at(-1)).toMatchObject({ op: 'CompleteLifecycleAction', t: EVENT_TIME_MS + 132_000 });
  });

  test('nothing waits past the Lambda timeout either', async () => {
    elbMock.reset();
    on(elbMock, DeregisterTargetsCommand, () => ({}));
    on(elbMock, DescribeTargetHealthCommand, () => ({ TargetHealthDescriptions: [{ TargetHealth: { State: 'draining' } }] }));
    const invocationDeadline = clock.t + 40_000;
    await handleInterruptionEvent(terminateAction(), deps(), { invocationDeadline });
    expect(calls.at(-1)).toMatchObject({ op: 'CompleteLifecycleAction', t: invocationDeadline - 10_000 });
  });

  test('a redelivered event past the notice completes at once', async () => {
    clock.t = EVENT_TIME_MS + 300_000;
    const r = await handleInterruptionEvent(terminateAction(), deps());
    expect(r.outcome).toBe(DrainOutcome.BUDGET_SPENT);
    expect(ops()).toEqual(['DeregisterTargets', 'CompleteLifecycleAction']);
  });

  test('an action already completed is a success', async () => {
    asgMock.reset();
    on(asgMock, CompleteLifecycleActionCommand, () => {
      throw asgError('ValidationError', `No active Lifecycle Action found with instance ID ${INSTANCE_ID}`);
    });
    const r = await handleInterruptionEvent(terminateAction(), deps());
    expect(r).toMatchObject({ action: DrainAction.IGNORED, outcome: DrainOutcome.ACTION_GONE });
    expect(emitted).toContainEqual({ name: 'DrainOutcomeActionGone', unit: 'Count', value: 1 });
  });

  test('an action that vanishes while waiting stops the wait without completing it', async () => {
    asgMock.reset();
    elbMock.reset();
    on(elbMock, DeregisterTargetsCommand, () => ({}));
    on(elbMock, DescribeTargetHealthCommand, () => ({ TargetHealthDescriptions: [{ TargetHealth: { State: 'draining' } }] }));
    on(asgMock, RecordLifecycleActionHeartbeatCommand, () => {
      throw asgError('ValidationError', 'No active Lifecycle Action found with token 87654321-4321-4321-4321-210987654321');
    });
    on(asgMock, CompleteLifecycleActionCommand, () => ({}));
    const r = await handleInterruptionEvent(terminateAction(), deps());
    expect(r.outcome).toBe(DrainOutcome.ACTION_GONE);
    expect(ops()).not.toContain('CompleteLifecycleAction');
    expect(ops().at(-1)).toBe('RecordLifecycleActionHeartbeat');
  });

  test('a target already gone from the target group counts as drained', async () => {
    targetGoneFromTargetGroups();
    const r = await handleInterruptionEvent(terminateAction(), deps());
    expect(r.outcome).toBe(DrainOutcome.DRAINED);
    expect(ops()).toEqual(['DeregisterTargets', 'DescribeTargetHealth', 'CompleteLifecycleAction']);
  });

  test('when the targets cannot be watched, the instance is still let go and the record fails (retry, then DLQ)', async () => {
    elbMock.reset();
    on(elbMock, DeregisterTargetsCommand, () => ({}));
    on(elbMock, DescribeTargetHealthCommand, () => {
      throw asgError('AccessDenied', 'not authorized to perform: elasticloadbalancing:DescribeTargetHealth', 403);
    });
    await expect(handleInterruptionEvent(terminateAction(), deps())).rejects.toThrow(/not authorized to perform: elasticloadbalancing:DescribeTargetHealth/);
    expect(ops()).toEqual(['DeregisterTargets', 'DescribeTargetHealth', 'CompleteLifecycleAction']);
    expect(emitted).toContainEqual({ name: 'DrainOutcomeError', unit: 'Count', value: 1 });
  });

  test('throttled heartbeats and completions are retried', async () => {
    asgMock.reset();
    let n = 0;
    on(asgMock, CompleteLifecycleActionCommand, () => {
      if (++n === 1) throw asgError('Throttling', 'Rate exceeded');
      return {};
    });
    const r = await handleInterruptionEvent(terminateAction(), deps());
    expect(r.outcome).toBe(DrainOutcome.DRAINED);
    expect(ops()).toEqual(['DeregisterTargets', 'DescribeTargetHealth', 'CompleteLifecycleAction', 'CompleteLifecycleAction']);
  });

  test.each([
    ['another group', { AutoScalingGroupName: 'other' }],
    ['another hook', { LifecycleHookName: 'other-hook' }],
    ['a launch transition', { LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' }],
  ])('%s is ignored without a call', async (_n, detail) => {
    const r = await handleInterruptionEvent(terminateAction({}, detail), deps());
    expect(r.action).toBe(DrainAction.IGNORED);
    expect(calls).toEqual([]);
  });

  test('two target groups are checked together each poll', async () => {
    await handleInterruptionEvent(terminateAction(), deps({ targetGroupArns: [TG1, TG2] }));
    expect(ops()).toEqual(['DeregisterTargets', 'DeregisterTargets', 'DescribeTargetHealth', 'DescribeTargetHealth', 'CompleteLifecycleAction']);
  });
});

describe('serving through the notice (serveThroughSeconds > 0)', () => {
  const S = 70;
  const hookInput = {
    AutoScalingGroupName: ASG_NAME,
    LifecycleHookName: HOOK_NAME,
    InstanceId: INSTANCE_ID,
    LifecycleActionToken: '87654321-4321-4321-4321-210987654321',
  };
  const at = (op: string): number[] => calls.filter((c) => c.op === op).map((c) => (c.t - EVENT_TIME_MS) / 1000);
  const health = (state: (t: number) => string) => {
    elbMock.reset();
    on(elbMock, DeregisterTargetsCommand, () => ({}));
    on(elbMock, DescribeTargetHealthCommand, () => ({
      TargetHealthDescriptions: [{ Target: { Id: INSTANCE_ID }, TargetHealth: { State: state((clock.t - EVENT_TIME_MS) / 1000) } }],
    }));
  };
  /** The lifecycle action AWS emits 5 s after the warning, reaching the function 2 s later. */
  const lifecycleAfterWarning = () => {
    clock.t = EVENT_TIME_MS + 7_000;
    calls = [];
    return terminateAction({ time: new Date(EVENT_TIME_MS + 5_000).toISOString() });
  };

  test('the spot warning marks the instance unhealthy (the replacement launches now) but does not deregister it', async () => {
    const r = await handleInterruptionEvent(spotWarning(), deps({ serveThroughSeconds: S }));
    expect(r).toEqual({
      kind: InterruptionEventKind.SPOT_WARNING,
      action: DrainAction.SERVING,
      instanceIds: [INSTANCE_ID],
      drainStartsAt: new Date(EVENT_TIME_MS + 70_000).toISOString(),
    });
    expect(ops()).toEqual(['DescribeAutoScalingInstances', 'SetInstanceHealth']);
    expect(ops()).not.toContain('DeregisterTargets');
    expect(emitted).toContainEqual({ name: 'InterruptionsSeen', unit: 'Count', value: 1 });
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'info',
        message: 'spot interruption warning: serving through the notice until its drain starts',
        extra: expect.objectContaining({ drainStartsAt: '2026-11-27T12:01:10.000Z', serveThroughSeconds: 70 }),
      }),
    );
  });

  test('markUnhealthyOnWarning: false makes no call after the lookup; a duplicate warning makes none at all', async () => {
    const d = deps({ serveThroughSeconds: S, markUnhealthyOnWarning: false });
    expect((await handleInterruptionEvent(spotWarning(), d)).action).toBe(DrainAction.SERVING);
    expect(ops()).toEqual(['DescribeAutoScalingInstances']);
    calls = [];
    expect(await handleInterruptionEvent(spotWarning(), d)).toMatchObject({ action: DrainAction.IGNORED, reason: IgnoreReason.DUPLICATE });
    expect(calls).toEqual([]);
  });

  test('without a terminate hook nothing would deregister it later: the warning deregisters at once, with a warning log', async () => {
    const r = await handleInterruptionEvent(spotWarning(), deps({ serveThroughSeconds: S, lifecycleHookName: undefined }));
    expect(r.action).toBe(DrainAction.DEREGISTERED);
    expect(ops()).toEqual(['DescribeAutoScalingInstances', 'DeregisterTargets', 'SetInstanceHealth']);
    expect(logs.find((l) => l.level === 'warn')?.message).toMatch(/serveThroughSeconds is set but the group has no terminate hook; deregistering now/);
  });

  test('state changes, rebalance recommendations and scheduled changes still deregister at once', async () => {
    const d = deps({ serveThroughSeconds: S });
    expect((await handleInterruptionEvent(stateChange('stopping'), d)).action).toBe(DrainAction.DEREGISTERED);
    expect((await handleInterruptionEvent(rebalance(), d)).action).toBe(DrainAction.DEREGISTERED);
    expect((await handleInterruptionEvent(healthScheduledChange([INSTANCE_ID]), d)).action).toBe(DrainAction.DEREGISTERED);
    expect(ops().filter((o) => o === 'DeregisterTargets')).toHaveLength(3);
  });

  test('lifecycle action after a warning seen here: heartbeats while serving, deregisters at the warning plus 70 s, then drains', async () => {
    health(() => 'healthy');
    const d = deps({ serveThroughSeconds: S });
    await handleInterruptionEvent(spotWarning(), d);
    const event = lifecycleAfterWarning();
    health((t) => (t < 70 ? 'healthy' : t < 90 ? 'draining' : 'unused'));
    const r = await handleInterruptionEvent(event, d);
    expect(at('DeregisterTargets')).toEqual([70]);
    // While serving it does not poll the targets (the warning time decides), and heartbeats every 20 s from the start.
    expect(at('DescribeTargetHealth')[0]).toBe(70);
    expect(at('RecordLifecycleActionHeartbeat')).toEqual([27, 47, 67, 87]);
    expect(calls.find((c) => c.op === 'RecordLifecycleActionHeartbeat')!.input).toEqual(hookInput);
    // Polls every 5 s from 70 s; the heartbeat at 87 s shifts the next poll to 92 s, the first with the target drained.
    expect(at('CompleteLifecycleAction')).toEqual([92]);
    expect(r).toMatchObject({
      action: DrainAction.COMPLETED,
      outcome: DrainOutcome.DRAINED,
      serveThroughEnd: ServeThroughEnd.WARNING_PLUS_SERVE_THROUGH,
      drainStartsAt: new Date(EVENT_TIME_MS + 70_000).toISOString(),
      // Handled from 7 s, served until 70 s, CONTINUE at 92 s: the drain and the wait are counted apart.
      servedSeconds: 63,
      drainSeconds: 22,
    });
    expect(emitted.filter((m) => m.name === 'DrainDurationSeconds' || m.name === 'ServeThroughSeconds')).toEqual([
      { name: 'DrainDurationSeconds', unit: 'Seconds', value: 22 },
      { name: 'ServeThroughSeconds', unit: 'Seconds', value: 63 },
    ]);
    const messages = logs.map((l) => l.message);
    expect(messages).toContain('terminate lifecycle action: serving through the notice until its drain starts (spot warning plus serveThroughSeconds)');
    expect(logs).toContainEqual(expect.objectContaining({ message: 'serving through the notice ended: draining now', extra: expect.objectContaining({ end: 'WarningPlusServeThrough', waitedSeconds: 63 }) }));
  });

  test('the drain budget counts from the drain start, still bounded by the notice less the margin', async () => {
    const d = deps({ serveThroughSeconds: S, drainBudgetSeconds: 30 });
    await handleInterruptionEvent(spotWarning(), d);
    const event = lifecycleAfterWarning();
    health(() => 'draining');
    const r = await handleInterruptionEvent(event, d);
    expect(r.outcome).toBe(DrainOutcome.BUDGET_SPENT);
    expect(at('DeregisterTargets')).toEqual([70]);
    expect(at('CompleteLifecycleAction')).toEqual([100]); // 70 + 30, not 7 + 30
    // With the full budget the notice (120 s less 10 s, from the warning) ends it.
    const d2 = deps({ serveThroughSeconds: S });
    await handleInterruptionEvent(spotWarning(), d2);
    const event2 = lifecycleAfterWarning();
    health(() => 'draining');
    await handleInterruptionEvent(event2, d2);
    expect(at('CompleteLifecycleAction')).toEqual([110]);
  });

  test('a lifecycle action that comes after the drain start deregisters at once', async () => {
    const d = deps({ serveThroughSeconds: S });
    await handleInterruptionEvent(spotWarning(), d);
    clock.t = EVENT_TIME_MS + 80_000;
    calls = [];
    const r = await handleInterruptionEvent(terminateAction({ time: new Date(EVENT_TIME_MS + 78_000).toISOString() }), d);
    expect(ops()).toEqual(['DeregisterTargets', 'DescribeTargetHealth', 'CompleteLifecycleAction']);
    expect(r.serveThroughEnd).toBe(ServeThroughEnd.WARNING_PLUS_SERVE_THROUGH);
  });

  test('warning not seen here: deregisters at the first poll where the target is no longer healthy (the agent has begun its drain)', async () => {
    health((t) => (t < 30 ? 'healthy' : 'unhealthy'));
    const r = await handleInterruptionEvent(terminateAction(), deps({ serveThroughSeconds: S }));
    // Polls every 5 s from the start (2 s after the event): 2, 7, ..., 27 healthy; 32 unhealthy.
    expect(at('DescribeTargetHealth').slice(0, 7)).toEqual([2, 7, 12, 17, 22, 27, 32]);
    expect(at('DeregisterTargets')).toEqual([32]);
    expect(at('RecordLifecycleActionHeartbeat')).toEqual([22]);
    expect(r).toMatchObject({ outcome: DrainOutcome.DRAINED, serveThroughEnd: ServeThroughEnd.NOT_HEALTHY });
    expect(at('CompleteLifecycleAction')).toEqual([32]);
  });

  test('warning not seen here and the target stays healthy: deregisters at the lifecycle event plus 70 s', async () => {
    health((t) => (t < 70 ? 'healthy' : 'draining'));
    const r = await handleInterruptionEvent(terminateAction(), deps({ serveThroughSeconds: S }));
    expect(at('DeregisterTargets')).toEqual([70]);
    expect(at('RecordLifecycleActionHeartbeat')).toEqual([22, 42, 62, 82, 102]);
    expect(r).toMatchObject({ outcome: DrainOutcome.BUDGET_SPENT, serveThroughEnd: ServeThroughEnd.EVENT_PLUS_SERVE_THROUGH });
    expect(at('CompleteLifecycleAction')).toEqual([110]); // the notice from the lifecycle event, less the margin
  });

  test('warning not seen here: healthy in one of two target groups keeps it serving', async () => {
    elbMock.reset();
    on(elbMock, DeregisterTargetsCommand, () => ({}));
    on(elbMock, DescribeTargetHealthCommand, (input) => ({
      TargetHealthDescriptions: [{ TargetHealth: { State: input.TargetGroupArn === TG2 && clock.t - EVENT_TIME_MS < 40_000 ? 'healthy' : 'unhealthy' } }],
    }));
    const r = await handleInterruptionEvent(terminateAction(), deps({ serveThroughSeconds: S, targetGroupArns: [TG1, TG2] }));
    expect(at('DeregisterTargets')).toEqual([42, 42]);
    expect(r.serveThroughEnd).toBe(ServeThroughEnd.NOT_HEALTHY);
  });

  test('a target gone from its target group (InvalidTarget) while serving ends the wait, and the drain treats it as drained', async () => {
    targetGoneFromTargetGroups();
    const r = await handleInterruptionEvent(terminateAction(), deps({ serveThroughSeconds: S }));
    expect(r).toMatchObject({ action: DrainAction.COMPLETED, outcome: DrainOutcome.DRAINED, serveThroughEnd: ServeThroughEnd.NOT_HEALTHY });
    expect(ops()).toEqual(['DescribeTargetHealth', 'DeregisterTargets', 'DescribeTargetHealth', 'CompleteLifecycleAction']);
  });

  test('an action that goes away while serving: deregisters at once, does not complete it, and says why', async () => {
    health(() => 'healthy');
    asgMock.reset();
    on(asgMock, RecordLifecycleActionHeartbeatCommand, () => {
      throw asgError('ValidationError', 'No active Lifecycle Action found with token 87654321-4321-4321-4321-210987654321');
    });
    on(asgMock, CompleteLifecycleActionCommand, () => ({}));
    const r = await handleInterruptionEvent(terminateAction(), deps({ serveThroughSeconds: S }));
    expect(r).toMatchObject({ action: DrainAction.IGNORED, outcome: DrainOutcome.ACTION_GONE, serveThroughEnd: ServeThroughEnd.ACTION_GONE });
    expect(at('RecordLifecycleActionHeartbeat')).toEqual([22]);
    expect(at('DeregisterTargets')).toEqual([22]);
    expect(ops()).not.toContain('CompleteLifecycleAction');
    expect(logs.map((l) => l.message)).toContain('lifecycle action gone while serving through the notice: deregistering now, not completing it');
    expect(emitted).toContainEqual({ name: 'DrainOutcomeActionGone', unit: 'Count', value: 1 });
  });

  test('throttled health polls while serving are retried; a poll that cannot be made ends the wait and drains now', async () => {
    let n = 0;
    elbMock.reset();
    on(elbMock, DeregisterTargetsCommand, () => ({}));
    on(elbMock, DescribeTargetHealthCommand, () => {
      if (++n === 2) throw asgError('Throttling', 'Rate exceeded');
      return { TargetHealthDescriptions: [{ TargetHealth: { State: clock.t - EVENT_TIME_MS < 20_000 ? 'healthy' : 'unused' } }] };
    });
    const r = await handleInterruptionEvent(terminateAction(), deps({ serveThroughSeconds: S }));
    expect(r.serveThroughEnd).toBe(ServeThroughEnd.NOT_HEALTHY);
    expect(logs.filter((l) => l.message === 'AWS call throttled, retrying')).toHaveLength(1);

    calls = [];
    clock.t = EVENT_TIME_MS + 2_000;
    elbMock.reset();
    on(elbMock, DeregisterTargetsCommand, () => ({}));
    let m = 0;
    on(elbMock, DescribeTargetHealthCommand, () => {
      if (++m === 1) throw asgError('AccessDenied', 'not authorized to perform: elasticloadbalancing:DescribeTargetHealth', 403);
      return { TargetHealthDescriptions: [{ TargetHealth: { State: 'unused' } }] };
    });
    const r2 = await handleInterruptionEvent(terminateAction({ id: 'other' }), deps({ serveThroughSeconds: S }));
    expect(r2).toMatchObject({ action: DrainAction.COMPLETED, outcome: DrainOutcome.DRAINED });
    expect(ops()).toEqual(['DescribeTargetHealth', 'DeregisterTargets', 'DescribeTargetHealth', 'CompleteLifecycleAction']);
    expect(logs.map((l) => l.message)).toContain('serving through the notice failed; draining now');
  });

  test('never serves past the Lambda timeout less the margin', async () => {
    health(() => 'healthy');
    const invocationDeadline = clock.t + 40_000;
    const r = await handleInterruptionEvent(terminateAction(), deps({ serveThroughSeconds: S }), { invocationDeadline });
    expect(r.serveThroughEnd).toBe(ServeThroughEnd.DEADLINE);
    expect(at('DeregisterTargets')).toEqual([32]);
    expect(at('CompleteLifecycleAction')).toEqual([32]);
  });

  test('the same lifecycle action twice in one container: the copy makes no call', async () => {
    health(() => 'unused');
    const d = deps({ serveThroughSeconds: S });
    await handleInterruptionEvent(terminateAction(), d);
    calls = [];
    expect(await handleInterruptionEvent(terminateAction(), d)).toMatchObject({ action: DrainAction.IGNORED, reason: IgnoreReason.DUPLICATE });
    expect(calls).toEqual([]);
  });

  test('serveThroughSeconds 0 behaves as before: the warning deregisters, the lifecycle action drains at once', async () => {
    const d = deps({ serveThroughSeconds: 0 });
    expect((await handleInterruptionEvent(spotWarning(), d)).action).toBe(DrainAction.DEREGISTERED);
    expect(ops()).toEqual(['DescribeAutoScalingInstances', 'DeregisterTargets', 'SetInstanceHealth']);
    const event = lifecycleAfterWarning();
    const r = await handleInterruptionEvent(event, d);
    expect(ops()).toEqual(['DeregisterTargets', 'DescribeTargetHealth', 'CompleteLifecycleAction']);
    expect(r).not.toHaveProperty('serveThroughEnd');
    expect(at('CompleteLifecycleAction')).toEqual([7]);
  });
});

describe('drainDeadline', () => {
  test('is the earliest of budget, notice less margin, Lambda timeout less margin', () => {
    const now = EVENT_TIME_MS + 5_000;
    expect(drainDeadline(EVENT_TIME_MS, now, SETTINGS)).toBe(now + 75_000);
    expect(drainDeadline(EVENT_TIME_MS, EVENT_TIME_MS + 50_000, SETTINGS)).toBe(EVENT_TIME_MS + 110_000);
    expect(drainDeadline(EVENT_TIME_MS, now, SETTINGS, now + 30_000)).toBe(now + 20_000);
    expect(drainDeadline(Date.parse('not a time'), now, SETTINGS)).toBe(now + 75_000);
  });
});

describe('SQS batch handler', () => {
  const record = (messageId: string, body: unknown) => ({
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'events', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:queue',
    awsRegion: 'us-east-1',
  });
  const context = { getRemainingTimeInMillis: () => 150_000, functionName: 'drain', awsRequestId: 'req' } as unknown as Context;

  test('reports only the failed records; the others are done and published as metrics', async () => {
    asgMock.reset();
    on(asgMock, DescribeAutoScalingInstancesCommand, (input) => {
      const [id] = input.InstanceIds as string[];
      if (id === 'i-0bbbbbbbbbbbbbbbb') throw asgError('AccessDenied', 'not authorized', 403);
      return inFleet()();
    });
    on(asgMock, SetInstanceHealthCommand, () => ({}));
    on(asgMock, CompleteLifecycleActionCommand, () => ({}));
    const d = deps();
    const handler = makeDrainHandler(d);
    const event: SQSEvent = {
      Records: [
        record('ok-warning', spotWarning()),
        record('bad-json', '{not json'),
        record('denied', spotWarning({ id: 'e2', detail: { 'instance-id': 'i-0bbbbbbbbbbbbbbbb', 'instance-action': 'terminate' } })),
        record('ok-lifecycle', terminateAction()),
      ],
    };
    const res = await handler(event, context);
    expect(res).toEqual({ batchItemFailures: [{ itemIdentifier: 'bad-json' }, { itemIdentifier: 'denied' }] });
    expect(ops()).toEqual(expect.arrayContaining(['SetInstanceHealth', 'CompleteLifecycleAction']));
    expect(metrics.publishStoredMetrics).toHaveBeenCalledTimes(1);
  });

  test('gap 2: a batch whose every record fails returns batchItemFailures (no FullBatchFailureError), with a log line each', async () => {
    asgMock.reset();
    on(asgMock, DescribeAutoScalingInstancesCommand, () => {
      throw asgError('AccessDenied', 'not authorized to perform: autoscaling:DescribeAutoScalingInstances', 403);
    });
    const handler = makeDrainHandler(deps());
    const res = await handler({ Records: [record('a', 'nope'), record('b', spotWarning())] }, context);
    expect(res).toEqual({ batchItemFailures: [{ itemIdentifier: 'a' }, { itemIdentifier: 'b' }] });
    expect(logs).toContainEqual(expect.objectContaining({ level: 'error', message: 'message is not an EventBridge event: not JSON', extra: expect.objectContaining({ messageId: 'a' }) }));
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'event failed; it will be retried, then sent to the dead-letter queue',
        extra: expect.objectContaining({ messageId: 'b', eventId: spotWarning().id, error: expect.stringMatching(/not authorized/) }),
      }),
    );
    expect(logs).toContainEqual(expect.objectContaining({ level: 'warn', message: 'every record of the batch failed; all are reported for redelivery', extra: { records: 2 } }));
  });

  test('a single bad message at low traffic is a partial failure, not a function error', async () => {
    const handler = makeDrainHandler(deps());
    await expect(handler({ Records: [record('only', '{"truncated":')] }, context)).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: 'only' }] });
  });

  test.each([
    ['null', 'null', 'null'],
    ['a number', '42', 'a number'],
    ['a string', '"EC2 Spot Instance Interruption Warning"', 'a string'],
    ['an array', '[{"id":"x"}]', 'an array'],
  ])('gap 1: a body that is JSON %s is logged, counted and fails its record only', async (_name, body, what) => {
    const handler = makeDrainHandler(deps());
    const res = await handler({ Records: [record('bad', body), record('good', spotWarning())] }, context);
    expect(res).toEqual({ batchItemFailures: [{ itemIdentifier: 'bad' }] });
    expect(ops()).toEqual(['DescribeAutoScalingInstances', 'DeregisterTargets', 'SetInstanceHealth']);
    const errors = logs.filter((l) => l.level === 'error');
    expect(errors).toEqual([
      { level: 'error', message: 'message is not an EventBridge event: not a JSON object', extra: { messageId: 'bad', bodyType: what, bodyStart: body } },
    ]);
    expect(emitted).toContainEqual({ name: 'MalformedRecords', unit: 'Count', value: 1 });
  });

  test('gap 1: a JSON null body alone returns its failure (never a crash)', async () => {
    const handler = makeDrainHandler(deps());
    await expect(handler({ Records: [record('null-body', 'null')] }, context)).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: 'null-body' }] });
    expect(logs.map((l) => l.message)).toContain('message is not an EventBridge event: not a JSON object');
  });

  test('an object that is no event (no source, no detail) is ignored, loudly: no rule routes such a thing', async () => {
    const handler = makeDrainHandler(deps());
    const res = await handler({ Records: [record('empty', {}), record('detail-null', terminateAction({ id: 'dn', detail: null as never }))] }, context);
    expect(res).toEqual({ batchItemFailures: [] });
    expect(calls).toEqual([]);
    expect(logs).toContainEqual(expect.objectContaining({ level: 'warn', message: 'event of an unexpected kind ignored' }));
    expect(singles.map((x) => [x.dimensions.Reason, x.value]).sort()).toEqual([['OtherGroup', 1], ['UnexpectedEvent', 1]]);
  });

  test('an invocation that is not an SQS batch is refused with a log line', async () => {
    const handler = makeDrainHandler(deps());
    await expect(handler(null as unknown as SQSEvent, context)).rejects.toThrow(/expects an SQS event with a Records array/);
    expect(logs).toContainEqual(expect.objectContaining({ level: 'error', message: 'invocation is not an SQS batch (no Records array); nothing handled' }));
  });

  test('gap 3: the same spot warning twice in one batch is handled once: 3 API calls, not 6; both records succeed', async () => {
    const recent = new RecentEvents();
    const handler = makeDrainHandler(deps({}, recent));
    const res = await handler({ Records: [record('copy-1', spotWarning()), record('copy-2', spotWarning())] }, context);
    expect(res).toEqual({ batchItemFailures: [] });
    expect(ops()).toEqual(['DescribeAutoScalingInstances', 'DeregisterTargets', 'SetInstanceHealth']);
    expect(emitted.filter((m) => m.name === 'InterruptionsSeen')).toEqual([{ name: 'InterruptionsSeen', unit: 'Count', value: 1 }]);
    expect(singles).toEqual([{ name: 'IgnoredEvents', unit: 'Count', value: 1, dimensions: { Reason: 'Duplicate' } }]);
    expect(logs).toContainEqual(expect.objectContaining({ level: 'debug', message: 'same event twice in one batch: handled once', extra: expect.objectContaining({ messageId: 'copy-2' }) }));
    // Cross-invocation idempotency is kept: a third copy in the next batch makes no call.
    calls = [];
    await expect(handler({ Records: [record('copy-3', spotWarning())] }, context)).resolves.toEqual({ batchItemFailures: [] });
    expect(calls).toEqual([]);
  });

  test('gap 3: the same terminate lifecycle action three times in one batch completes the action once', async () => {
    const handler = makeDrainHandler(deps());
    const res = await handler({ Records: ['a', 'b', 'c'].map((m) => record(m, terminateAction())) }, context);
    expect(res).toEqual({ batchItemFailures: [] });
    expect(ops()).toEqual(['DeregisterTargets', 'DescribeTargetHealth', 'CompleteLifecycleAction']);
    expect(singles).toEqual([{ name: 'IgnoredEvents', unit: 'Count', value: 2, dimensions: { Reason: 'Duplicate' } }]);
  });

  test('gap 3: when the first copy fails, the copy fails with it (both redelivered), each with a log line', async () => {
    asgMock.reset();
    on(asgMock, DescribeAutoScalingInstancesCommand, () => {
      throw asgError('AccessDenied', 'not authorized', 403);
    });
    const handler = makeDrainHandler(deps());
    const res = await handler({ Records: [record('first', spotWarning()), record('copy', spotWarning()), record('other', rebalance())] }, context);
    expect(res.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['copy', 'first', 'other']);
    expect(ops()).toEqual(['DescribeAutoScalingInstances', 'DescribeAutoScalingInstances']); // one per distinct event
    expect(logs).toContainEqual(expect.objectContaining({ level: 'error', message: 'duplicate of a failed event fails with it; it will be retried', extra: expect.objectContaining({ messageId: 'copy' }) }));
    // A failed event is not remembered as handled: its redelivery is handled for real.
    asgMock.reset();
    happyPath();
    calls = [];
    await expect(handler({ Records: [record('first', spotWarning())] }, context)).resolves.toEqual({ batchItemFailures: [] });
    expect(ops()).toEqual(['DescribeAutoScalingInstances', 'DeregisterTargets', 'SetInstanceHealth']);
  });

  test('ignored events are counted once per reason per invocation and log nothing at INFO', async () => {
    asgMock.reset();
    on(asgMock, DescribeAutoScalingInstancesCommand, () => ({ AutoScalingInstances: [] }));
    const handler = makeDrainHandler(deps());
    const res = await handler(
      {
        Records: [
          record('running', stateChange('running')),
          record('pending', stateChange('pending')),
          record('other-group', launchUnsuccessful('someone-else')),
          record('other-hook', terminateAction({ id: 'oh' }, { LifecycleHookName: 'their-hook' })),
          record('not-ours', stateChange('terminated')),
          record('closed', healthScheduledChange([INSTANCE_ID], { statusCode: 'closed' })),
        ],
      },
      context,
    );
    expect(res).toEqual({ batchItemFailures: [] });
    const byReason = Object.fromEntries(singles.map((x) => [x.dimensions.Reason, x.value]));
    expect(byReason).toEqual({ NotLeaving: 2, OtherGroup: 1, OtherHook: 1, NotInFleet: 1, Closed: 1 });
    expect(singles.every((x) => x.name === 'IgnoredEvents' && x.unit === 'Count')).toBe(true);
    expect(logs.filter((l) => l.level !== 'debug')).toEqual([]);
    expect(logs.filter((l) => l.message === 'event ignored').map((l) => l.extra.reason)).toHaveLength(6);
  });

  test('metrics are published only when an event recorded some', async () => {
    const real = new Metrics({ namespace: 'SpotInference', serviceName: 'spot-interruption-handler' });
    const publish = jest.spyOn(real, 'publishStoredMetrics').mockImplementation(() => real);
    const handler = makeDrainHandler({ ...deps(), metrics: real });
    await handler({ Records: [record('other', stateChange('running'))] }, context);
    expect(publish).not.toHaveBeenCalled();
    await handler({ Records: [record('w', spotWarning())] }, context);
    expect(publish).toHaveBeenCalledTimes(1);
    real.clearMetrics();
  });

  test('the invocation deadline bounds the wait', async () => {
    elbMock.reset();
    on(elbMock, DeregisterTargetsCommand, () => ({}));
    on(elbMock, DescribeTargetHealthCommand, () => ({ TargetHealthDescriptions: [{ TargetHealth: { State: 'draining' } }] }));
    const start = clock.t;
    const handler = makeDrainHandler(deps());
    const shortContext = { ...context, getRemainingTimeInMillis: () => 30_000 } as Context;
    await handler({ Records: [record('l', terminateAction())] }, shortContext);
    expect(calls.at(-1)).toMatchObject({ op: 'CompleteLifecycleAction', t: start + 20_000 });
  });

  test('IgnoredEvents is real EMF: its own line, with Reason on top of the fleet dimensions', async () => {
    const real = new Metrics({ namespace: 'SpotInference', serviceName: 'spot-interruption-handler', defaultDimensions: { AutoScalingGroupName: ASG_NAME } });
    const out: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    try {
      const handler = makeDrainHandler({ ...deps(), metrics: real });
      await handler({ Records: [record('r1', stateChange('running')), record('r2', stateChange('pending')), record('w', spotWarning())] }, context);
    } finally {
      write.mockRestore();
    }
    const emf = out.map((l) => l.trim()).filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l));
    const ignoredLine = emf.find((e) => e.IgnoredEvents !== undefined);
    expect(ignoredLine).toMatchObject({ IgnoredEvents: 2, Reason: 'NotLeaving', AutoScalingGroupName: ASG_NAME, service: 'spot-interruption-handler' });
    expect(ignoredLine._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'SpotInference', Metrics: [{ Name: 'IgnoredEvents', Unit: 'Count' }] });
    expect(ignoredLine._aws.CloudWatchMetrics[0].Dimensions[0]).toEqual(expect.arrayContaining(['service', 'AutoScalingGroupName', 'Reason']));
    // The other metrics of the invocation do not get the Reason dimension.
    const main = emf.find((e) => e.InterruptionsSeen !== undefined);
    expect(main.Reason).toBeUndefined();
    expect(main._aws.CloudWatchMetrics[0].Dimensions[0]).not.toContain('Reason');
  });

  test('metrics are real EMF with the fleet dimension', async () => {
    const real = new Metrics({ namespace: 'SpotInference', serviceName: 'spot-interruption-handler', defaultDimensions: { AutoScalingGroupName: ASG_NAME } });
    const d: DrainDeps = { ...deps(), metrics: real };
    await handleInterruptionEvent(spotWarning(), d);
    const emf = real.serializeMetrics() as unknown as { _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }> }; InterruptionsSeen: number; AutoScalingGroupName: string };
    expect(emf._aws.CloudWatchMetrics[0].Namespace).toBe('SpotInference');
    expect(emf._aws.CloudWatchMetrics[0].Dimensions[0]).toEqual(expect.arrayContaining(['service', 'AutoScalingGroupName']));
    expect(emf._aws.CloudWatchMetrics[0].Metrics).toEqual([{ Name: 'InterruptionsSeen', Unit: 'Count' }]);
    expect(emf.InterruptionsSeen).toBe(1);
    expect(emf.AutoScalingGroupName).toBe(ASG_NAME);
    real.clearMetrics();
  });
});

describe('unknown events', () => {
  test('are ignored', async () => {
    const e = { id: 'x', source: 'aws.s3', 'detail-type': 'Object Created', time: '', detail: {} } as EventBridgeEnvelope;
    expect((await handleInterruptionEvent(e, deps())).action).toBe(DrainAction.IGNORED);
    expect(calls).toEqual([]);
  });

  test('an ec2 event without an instance id is ignored', async () => {
    expect((await handleInterruptionEvent(spotWarning({ detail: {} }), deps())).reason).toBe(IgnoreReason.NO_INSTANCE_ID);
    expect(logs).toContainEqual(expect.objectContaining({ level: 'warn', message: 'event without a valid instance id ignored' }));
    expect(singles.map((x) => x.dimensions.Reason)).toEqual(['NoInstanceId']);
  });
});
