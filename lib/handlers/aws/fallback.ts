/**
 * The AWS on-demand fallback controller: a thin loop that reads the fleet, calls the pure policy
 * (`decideFallback` in lib/policy) and applies its decision to an on-demand-only fallback Auto Scaling
 * group with `SetDesiredCapacity`. The spot group (with its on-demand base) is never touched, so no
 * healthy instance is replaced to apply a decision.
 *
 * One run per invocation, whatever triggered it (the schedule, an `EC2 Instance Launch Unsuccessful`
 * event of the spot group, a spot interruption warning): read the state from SSM, describe both groups
 * and the spot group's instances, count new launch failures and preemptions (deduplicated by scaling
 * activity id and instance id, so a redelivered event changes nothing), decide, persist, apply,
 * emit `FallbackReplicas`. The Lambda has a reserved concurrency of 1, so runs never race on the state.
 *
 * Pure functions that take their SDK clients (see `fallback.entry.ts` for the Lambda wiring); time and
 * sleep are injected so tests run on fake time.
 */
import {
  Activity,
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  Instance as GroupInstance,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client, Instance as Ec2Instance } from '@aws-sdk/client-ec2';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { FallbackAction, FallbackDecision, SpotPoolObservation, decideFallback } from '../../policy/fallback-policy';
import { EventBridgeEnvelope, InterruptionEventKind, classifyEvent, ec2EventInstanceId } from './events';
import { FALLBACK_METRIC, FallbackSettings } from './fallback-settings';
import { ControllerState, decodeControllerState, encodeControllerState } from './fallback-state';
import { errorMessage, errorName, withRetry } from './retry';

/** The AWS SDK clients the controller calls. */
export interface FallbackClients {
  readonly autoscaling: AutoScalingClient;
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
}

/** Everything the controller needs; tests pass mocked clients and a fake clock. */
export interface FallbackDeps extends FallbackClients {
  readonly settings: FallbackSettings;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /** @default real setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter source for retries. @default Math.random */
  readonly random?: () => number;
}

/** What started a run. */
export enum FallbackTrigger {
  SCHEDULE = 'schedule',
  LAUNCH_UNSUCCESSFUL = 'launch-unsuccessful',
  SPOT_WARNING = 'spot-warning',
  OTHER = 'other',
}

/** How a run ended. */
export enum FallbackOutcome {
  /** The fallback group's desired capacity was changed. */
  APPLIED = 'applied',
  /** The fallback group already had the wanted desired capacity (nothing was called). */
  UNCHANGED = 'unchanged',
  /** The spot group or the fallback group does not exist (deleted, or not created yet): nothing done. */
  GROUP_MISSING = 'group-missing',
}

/** Result of one run of {@link runFallbackController}. */
export interface FallbackRunResult {
  readonly trigger: FallbackTrigger;
  readonly outcome: FallbackOutcome;
  /** The policy's action (absent when a group is missing). */
  readonly action?: FallbackAction;
  /** Why, with the numbers (logged too). */
  readonly reason: string;
  /** Desired capacity of the fallback group before the run. */
  readonly fallbackBefore?: number;
  /** Desired capacity of the fallback group after the run (the `FallbackReplicas` metric). */
  readonly fallbackAfter?: number;
  /** Spot replicas of the spot group in service, healthy and not warned. */
  readonly readySpot?: number;
  /** New spot launch failures counted this run. */
  readonly launchFailures?: number;
  /** New spot interruption warnings counted this run. */
  readonly preemptions?: number;
  /** The policy's decision, for the record. */
  readonly decision?: FallbackDecision;
}

/** Options of one run. */
export interface RunOptions {
  /** Epoch ms after which no retry is started (the Lambda's deadline minus a margin). @default - none */
  readonly deadline?: number;
}

const LEAVING = /^(Terminating|Terminated|Detaching|Detached|EnteringStandby|Standby)/;
const LAUNCHING = /^(Pending|Warmed)/;
/** Launch failures that mean "no spot capacity here", as EC2 Auto Scaling words them. */
const CAPACITY_FAILURE = /insufficient|capacity|MaxSpotInstanceCountExceeded|SpotMaxPriceTooLow|no Spot capacity|InsufficientInstanceCapacity/i;
const ZONE = /\b([a-z]{2}(?:-[a-z]+)+-\d[a-z])\b/;
const DESCRIBE_INSTANCES_BATCH = 200;

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Classify the triggering event. */
export function triggerOf(event: Partial<EventBridgeEnvelope> | undefined): FallbackTrigger {
  if (!event || typeof event.source !== 'string') return FallbackTrigger.OTHER;
  if (event.source === 'aws.events' && event['detail-type'] === 'Scheduled Event') return FallbackTrigger.SCHEDULE;
  const kind = classifyEvent(event as EventBridgeEnvelope);
  if (kind === InterruptionEventKind.LAUNCH_UNSUCCESSFUL) return FallbackTrigger.LAUNCH_UNSUCCESSFUL;
  if (kind === InterruptionEventKind.SPOT_WARNING) return FallbackTrigger.SPOT_WARNING;
  return FallbackTrigger.OTHER;
}

/** A failed spot launch: where it failed, as far as the message tells. */
export interface LaunchFailure {
  /** Dedup key (`a:<scaling activity id>`). */
  readonly key: string;
  readonly zone?: string;
  readonly instanceType?: string;
  readonly message: string;
}

/**
 * Where a failed launch failed. The zone comes from the activity's details (`Availability Zone`) or the
 * message's `(us-east-1a)`; the type from `sufficient <type> capacity`. Either may be unknown.
 */
export function parseLaunchFailure(key: string, message: string, details?: unknown): LaunchFailure {
  let zone: string | undefined;
  let d = details;
  if (typeof d === 'string') {
    try {
      d = JSON.parse(d);
    } catch {
      d = undefined;
    }
  }
  if (d && typeof d === 'object') {
    const z = (d as Record<string, unknown>)['Availability Zone'];
    if (typeof z === 'string' && z.length > 0) zone = z;
  }
  zone ??= ZONE.exec(message)?.[1];
  const type = /sufficient\s+([a-z0-9-]+\.[a-z0-9-]+)\s+capacity/i.exec(message)?.[1] ?? /instance type\s+\(?([a-z0-9-]+\.[a-z0-9-]+)\)?/i.exec(message)?.[1];
  return { key, zone, instanceType: type, message };
}

/** Run the controller once. Idempotent: the same inputs twice change nothing the second time. */
export async function runFallbackController(event: Partial<EventBridgeEnvelope> | undefined, deps: FallbackDeps, options: RunOptions = {}): Promise<FallbackRunResult> {
  const s = deps.settings;
  const nowMs = deps.now ?? Date.now;
  const retry = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    withRetry(fn, {
      sleep: deps.sleep ?? realSleep,
      now: nowMs,
      random: deps.random,
      deadline: options.deadline,
      onRetry: (e, attempt, delayMs) => deps.logger.warn(`${what} failed, retrying`, { attempt, delayMs, errorName: errorName(e), error: errorMessage(e) }),
    });
  const now = Math.floor(nowMs() / 1000);
  const trigger = triggerOf(event);

  // 1. Both groups in one call.
  const groups = await retry('DescribeAutoScalingGroups', () =>
    deps.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [s.spotGroupName, s.fallbackGroupName] })),
  );
  const spot = groups.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === s.spotGroupName);
  const fallback = groups.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === s.fallbackGroupName);
  if (!spot || !fallback) {
    const missing = [!spot ? `spot group ${s.spotGroupName}` : '', !fallback ? `fallback group ${s.fallbackGroupName}` : ''].filter((x) => x).join(' and ');
    const reason = `${missing} not found (deleted, or not created yet): nothing to do`;
    deps.logger.warn(reason, { trigger });
    return { trigger, outcome: FallbackOutcome.GROUP_MISSING, reason };
  }

  // 2. The state.
  const stored = await readState(deps, retry);
  const keepSince = now - Math.max(s.lookbackSeconds, 600) - 60;
  const seen = new Map<string, number>(stored.seen.filter(([, t]) => t >= keepSince));

  // 3. The spot group's instances, with their purchase option (only DescribeInstances tells spot from on-demand).
  const alive = (spot.Instances ?? []).filter((i) => i.InstanceId && !LEAVING.test(i.LifecycleState ?? ''));
  const details = await describeInstances(deps, retry, alive.map((i) => i.InstanceId!));
  const spotInstances: GroupInstance[] = [];
  const onDemandInstances: GroupInstance[] = [];
  for (const i of alive) {
    const d = details.get(i.InstanceId!);
    if (!d) continue; // vanished between the two calls: gone
    if (d.InstanceLifecycle === 'spot') spotInstances.push(i);
    else onDemandInstances.push(i);
  }
  const poolOf = (i: GroupInstance): string => `${i.AvailabilityZone ?? 'unknown'}/${i.InstanceType ?? details.get(i.InstanceId!)?.InstanceType ?? 'unknown'}`;

  // 4. New preemptions: the warning that triggered this run, if it is one of ours.
  const newPreempted = new Map<string, number>();
  if (trigger === FallbackTrigger.SPOT_WARNING) {
    const id = ec2EventInstanceId(event as EventBridgeEnvelope);
    // Any instance of the group, leaving ones included: the drain handler may already have marked it
    // unhealthy and sent it to Terminating:Wait when this run starts. A warned instance is spot.
    const inst = id ? (spot.Instances ?? []).find((i) => i.InstanceId === id) : undefined;
    if (id && inst) {
      const key = `w:${id}`;
      if (seen.has(key)) {
        deps.logger.info('spot warning already counted (duplicate delivery)', { instanceId: id });
      } else {
        seen.set(key, now);
        newPreempted.set(poolOf(inst), (newPreempted.get(poolOf(inst)) ?? 0) + 1);
      }
    } else {
      deps.logger.debug('spot warning for an instance outside the spot group: a plain control run', { instanceId: id });
    }
  }
  const warned = (i: GroupInstance): boolean => seen.has(`w:${i.InstanceId}`);

  // 5. New launch failures: the triggering event, and failed scaling activities within the lookback (events can be lost).
  const failures: LaunchFailure[] = [];
  if (trigger === FallbackTrigger.LAUNCH_UNSUCCESSFUL) {
    const d = (event as EventBridgeEnvelope).detail as Record<string, unknown>;
    if (d.AutoScalingGroupName === s.spotGroupName) {
      failures.push(parseLaunchFailure(`a:${String(d.ActivityId || event!.id)}`, String(d.StatusMessage ?? ''), d.Details));
    } else if (d.AutoScalingGroupName === s.fallbackGroupName) {
      deps.logger.warn('an on-demand launch of the fallback group failed: on-demand capacity is short too', { statusMessage: d.StatusMessage });
    }
  }
  const activities = await retry('DescribeScalingActivities', () =>
    deps.autoscaling.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: s.spotGroupName, MaxRecords: 50 })),
  );
  for (const a of activities.Activities ?? []) {
    if (!isRecentFailure(a, now - s.lookbackSeconds)) continue;
    failures.push(parseLaunchFailure(`a:${a.ActivityId}`, `${a.StatusMessage ?? ''} ${a.Description ?? ''}`, a.Details));
  }
  const newFailures: LaunchFailure[] = [];
  for (const f of failures) {
    if (seen.has(f.key)) continue;
    seen.set(f.key, now);
    if (!CAPACITY_FAILURE.test(f.message)) {
      deps.logger.warn('a launch of the spot group failed for a reason other than capacity; not held against a pool', { key: f.key, message: f.message });
      continue;
    }
    newFailures.push(f);
  }

  // 6. Pools: every instance type in every zone of the group, plus any pool an instance runs in.
  const zones = spot.AvailabilityZones ?? [];
  const poolIds: string[] = [];
  const addPool = (p: string): void => {
    if (!poolIds.includes(p)) poolIds.push(p);
  };
  for (const t of s.instanceTypes) for (const z of zones) addPool(`${z}/${t}`);
  for (const i of spotInstances) addPool(poolOf(i));
  const failuresByPool = new Map<string, number>();
  for (const f of newFailures) {
    let hit = poolIds.filter((p) => {
      const [z, t] = p.split('/');
      return (f.zone === undefined || z === f.zone) && (f.instanceType === undefined || t === f.instanceType);
    });
    if (f.zone === undefined && f.instanceType === undefined) hit = [];
    if (hit.length === 0 && (f.zone !== undefined || f.instanceType !== undefined)) {
      const p = `${f.zone ?? '*'}/${f.instanceType ?? '*'}`;
      addPool(p);
      hit = [p];
    }
    if (hit.length === 0) deps.logger.warn('a spot launch failed where the message does not say; counted, not held against a pool', { key: f.key, message: f.message });
    for (const p of hit) failuresByPool.set(p, (failuresByPool.get(p) ?? 0) + 1);
  }
  for (const p of newPreempted.keys()) addPool(p);
  const observations: SpotPoolObservation[] = poolIds.map((pool) => {
    const mine = spotInstances.filter((i) => poolOf(i) === pool);
    return {
      pool,
      ready: mine.filter((i) => i.LifecycleState === 'InService' && i.HealthStatus === 'Healthy' && !warned(i)).length,
      launching: mine.filter((i) => LAUNCHING.test(i.LifecycleState ?? '')).length,
      preempted: newPreempted.get(pool) ?? 0,
      launchFailures: failuresByPool.get(pool) ?? 0,
    };
  });
  const readySpot = observations.reduce((n, o) => n + o.ready, 0);

  // 7. Decide. The target is the spot group's desired capacity; the on-demand instances it runs (its base,
  // and any percentage above it) are not the fallback's concern.
  const maxCapacity = spot.MaxSize ?? s.maxCapacity;
  const target = Math.min(spot.DesiredCapacity ?? 0, maxCapacity);
  const base = Math.min(target, Math.max(s.onDemandBase, onDemandInstances.length));
  const ready = (i: GroupInstance): boolean => i.LifecycleState === 'InService' && i.HealthStatus === 'Healthy';
  const onDemandReady = onDemandInstances.filter(ready).length + (fallback.Instances ?? []).filter(ready).length;
  const fallbackBefore = fallback.DesiredCapacity ?? 0;
  let policyState = stored.policy;
  if (stored.fresh && fallbackBefore > 0) {
    // No state (first run, or the parameter was reset): keep what runs; the policy lowers it only once spot covers.
    policyState = { ...policyState, fallbackReplicas: fallbackBefore, lastIncreaseAt: now };
  }
  const decision = decideFallback(
    { nowSeconds: now, targetReplicas: target, onDemandBase: base, maxCapacity, onDemandReady, pools: observations, state: policyState },
    s.policy,
  );

  // 8. Bounds: never below the group's min (0), never above its max, never above what the fleet's max leaves
  // next to the spot group's instances in service.
  const spotInService = alive.filter((i) => i.LifecycleState === 'InService').length;
  const room = Math.max(0, maxCapacity - spotInService);
  const upper = Math.min(fallback.MaxSize ?? room, room);
  const wanted = Math.max(fallback.MinSize ?? 0, Math.min(decision.fallbackReplicas, upper));
  const bounded = wanted !== decision.fallbackReplicas;

  // 9. Persist, then apply (a failed apply is redone by the next run: it compares with the live group).
  const next: ControllerState = { policy: decision.state, seen: [...seen.entries()].sort((a, b) => a[1] - b[1]), lastRunAt: now, fresh: false };
  const value = encodeControllerState(next, now);
  await retry('PutParameter', () => deps.ssm.send(new PutParameterCommand({ Name: s.stateParameterName, Value: value, Overwrite: true })));
  let outcome = FallbackOutcome.UNCHANGED;
  if (wanted !== fallbackBefore) {
    await retry('SetDesiredCapacity', () =>
      deps.autoscaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: s.fallbackGroupName, DesiredCapacity: wanted, HonorCooldown: false })),
    );
    outcome = FallbackOutcome.APPLIED;
  }

  const reason = bounded
    ? `${decision.reason}; bounded to ${wanted} (fallback group max ${fallback.MaxSize ?? 'unset'}, fleet max ${maxCapacity} minus ${spotInService} in service in the spot group)`
    : decision.reason;
  const preemptions = [...newPreempted.values()].reduce((a, b) => a + b, 0);
  deps.logger.info(`fallback ${decision.action}: ${outcome === FallbackOutcome.APPLIED ? `desired ${fallbackBefore} -> ${wanted}` : `desired stays ${wanted}`}`, {
    trigger,
    action: decision.action,
    outcome,
    reason,
    fallbackBefore,
    fallbackAfter: wanted,
    targetReplicas: target,
    onDemandBase: base,
    maxCapacity,
    readySpot,
    launchFailures: newFailures.length,
    preemptions,
    preferredPools: decision.preferredPools,
    unavailablePools: decision.unavailablePools,
  });
  deps.metrics.addMetric(FALLBACK_METRIC.FALLBACK_REPLICAS, MetricUnit.Count, wanted);
  deps.metrics.addMetric(FALLBACK_METRIC.READY_SPOT_REPLICAS, MetricUnit.Count, readySpot);
  deps.metrics.addMetric(FALLBACK_METRIC.SPOT_LAUNCH_FAILURES, MetricUnit.Count, newFailures.length);
  deps.metrics.addMetric(FALLBACK_METRIC.SPOT_PREEMPTIONS, MetricUnit.Count, preemptions);
  return {
    trigger,
    outcome,
    action: decision.action,
    reason,
    fallbackBefore,
    fallbackAfter: wanted,
    readySpot,
    launchFailures: newFailures.length,
    preemptions,
    decision,
  };
}

function isRecentFailure(a: Activity, since: number): boolean {
  if (a.StatusCode !== 'Failed' || !a.ActivityId) return false;
  const t = a.StartTime instanceof Date ? a.StartTime.getTime() / 1000 : a.StartTime ? Date.parse(String(a.StartTime)) / 1000 : NaN;
  return Number.isFinite(t) && t >= since;
}

type Retry = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

async function readState(deps: FallbackDeps, retry: Retry): Promise<ControllerState> {
  try {
    const out = await retry('GetParameter', () => deps.ssm.send(new GetParameterCommand({ Name: deps.settings.stateParameterName })));
    return decodeControllerState(out.Parameter?.Value);
  } catch (e) {
    if (errorName(e) === 'ParameterNotFound') {
      deps.logger.warn('state parameter not found: starting from the initial state', { parameter: deps.settings.stateParameterName });
      return decodeControllerState(undefined);
    }
    throw e;
  }
}

/**
 * Describe instances by an `instance-id` filter, 200 ids a call: unlike `InstanceIds`, a filter does not
 * fail the whole call when one instance has vanished.
 */
async function describeInstances(deps: FallbackDeps, retry: Retry, ids: string[]): Promise<Map<string, Ec2Instance>> {
  const out = new Map<string, Ec2Instance>();
  for (let i = 0; i < ids.length; i += DESCRIBE_INSTANCES_BATCH) {
    const batch = ids.slice(i, i + DESCRIBE_INSTANCES_BATCH);
    let token: string | undefined;
    do {
      const page = await retry('DescribeInstances', () =>
        deps.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: batch }], NextToken: token })),
      );
      for (const r of page.Reservations ?? []) for (const inst of r.Instances ?? []) if (inst.InstanceId) out.set(inst.InstanceId, inst);
      token = page.NextToken;
    } while (token);
  }
  return out;
}

/**
 * The Lambda handler: one EventBridge event (schedule, launch unsuccessful, spot warning) per invocation,
 * one control run each. Metrics are flushed after every run, also when it fails.
 */
export function makeFallbackHandler(deps: FallbackDeps): (event: EventBridgeEnvelope, context?: Context) => Promise<FallbackRunResult> {
  const now = deps.now ?? Date.now;
  return async (event, context) => {
    const deadline = typeof context?.getRemainingTimeInMillis === 'function' ? now() + context.getRemainingTimeInMillis() - 5_000 : undefined;
    try {
      const result = await runFallbackController(event, deps, { deadline });
      // The decision's state is in the parameter and its reason in the log: keep the return value small.
      return { ...result, decision: undefined };
    } catch (e) {
      deps.logger.error('fallback control run failed; the next run (schedule or event retry) redoes it', { eventId: event?.id, error: errorMessage(e), errorName: errorName(e) });
      throw e;
    } finally {
      if (deps.metrics.hasStoredMetrics()) deps.metrics.publishStoredMetrics();
    }
  };
}

/** Make the `AutoScalingGroupName` = spot group the only dimension of every metric (no `service`): the dashboard reads exactly that. */
export function useSpotGroupDimensionOnly(metrics: Metrics, spotGroupName: string): Metrics {
  metrics.clearDefaultDimensions();
  metrics.setDefaultDimensions({ AutoScalingGroupName: spotGroupName });
  return metrics;
}
