/**
 * The contract between the `InterruptionHandler` construct and the drain Lambda: the environment
 * variables the construct sets and the handler reads. No SDK imports here, so the construct can use
 * it without pulling the AWS SDK into a CDK app.
 */

/** Environment variable names the drain Lambda reads. */
export const DRAIN_ENV = {
  AUTO_SCALING_GROUP_NAME: 'SPOT_ASG_NAME',
  TARGET_GROUP_ARNS: 'SPOT_TARGET_GROUP_ARNS',
  LIFECYCLE_HOOK_NAME: 'SPOT_TERMINATE_HOOK_NAME',
  NOTICE_SECONDS: 'SPOT_NOTICE_SECONDS',
  DRAIN_BUDGET_SECONDS: 'SPOT_DRAIN_BUDGET_SECONDS',
  SAFETY_MARGIN_SECONDS: 'SPOT_SAFETY_MARGIN_SECONDS',
  HEARTBEAT_INTERVAL_SECONDS: 'SPOT_HEARTBEAT_INTERVAL_SECONDS',
  POLL_INTERVAL_SECONDS: 'SPOT_POLL_INTERVAL_SECONDS',
  MARK_UNHEALTHY_ON_WARNING: 'SPOT_MARK_UNHEALTHY_ON_WARNING',
  MARK_UNHEALTHY_ON_REBALANCE: 'SPOT_MARK_UNHEALTHY_ON_REBALANCE',
  MARK_UNHEALTHY_ON_SCHEDULED_CHANGE: 'SPOT_MARK_UNHEALTHY_ON_SCHEDULED_CHANGE',
  SERVE_THROUGH_SECONDS: 'SPOT_SERVE_THROUGH_SECONDS',
} as const;

/** Namespace of the CloudWatch metrics the drain Lambda emits (EMF). */
export const DRAIN_METRICS_NAMESPACE = 'SpotInference';
/** Value of the `service` dimension of those metrics. */
export const DRAIN_SERVICE_NAME = 'spot-interruption-handler';

/** Metric names the drain Lambda emits. */
export const DRAIN_METRIC = {
  /** Spot interruption warnings for an instance of the fleet. */
  INTERRUPTIONS: 'InterruptionsSeen',
  /** Rebalance recommendations for an instance of the fleet. */
  REBALANCE_RECOMMENDATIONS: 'RebalanceRecommendations',
  /** AWS Health scheduled changes affecting an instance of the fleet. */
  SCHEDULED_CHANGES: 'ScheduledChanges',
  /** Instances of the fleet seen stopping or terminating. */
  STATE_CHANGES: 'InstanceStateChanges',
  /** Launch failures of the group. */
  LAUNCH_FAILURES: 'LaunchFailures',
  /**
   * Seconds from the start of the drain to CONTINUE: from the terminate lifecycle action, or, when the instance
   * served through its notice first (`serveThroughSeconds`), from the end of that wait (counted apart, in
   * `ServeThroughSeconds`), so the drain's own length can be held against the drain budget.
   */
  DRAIN_DURATION: 'DrainDurationSeconds',
  /** Seconds a terminate lifecycle action waited while the instance served through its spot notice, before the drain. */
  SERVE_THROUGH_DURATION: 'ServeThroughSeconds',
  /** Prefix of the drain outcome counters (`DrainOutcomeDrained`, `DrainOutcomeBudgetSpent`, ...). */
  DRAIN_OUTCOME_PREFIX: 'DrainOutcome',
  /**
   * Events the handler ignored on purpose (another group's instance, a duplicate, a state it does not act
   * on...), with a `Reason` dimension (see `IgnoreReason` in drain.ts). Such events log nothing at INFO;
   * this counter makes a silent drop visible.
   */
  IGNORED_EVENTS: 'IgnoredEvents',
  /** Records that were not an EventBridge event at all (not JSON, JSON `null`, an array...); they fail and go to the dead-letter queue. */
  MALFORMED_RECORDS: 'MalformedRecords',
} as const;

/** Dimension of `IgnoredEvents` that says why the event was ignored. */
export const IGNORED_REASON_DIMENSION = 'Reason';

/**
 * Why the handler ignored an event: the values of the `Reason` dimension of `IgnoredEvents`. A closed
 * set, so the metric has few dimension values.
 */
export enum IgnoreReason {
  /** The same event (EventBridge id) was already handled: in this batch, or earlier by this container. */
  DUPLICATE = 'Duplicate',
  /** The instance is not in this fleet's group (another group's, or already gone). */
  NOT_IN_FLEET = 'NotInFleet',
  /** A group event (lifecycle action, launch failure) of another Auto Scaling group. */
  OTHER_GROUP = 'OtherGroup',
  /** A terminate lifecycle action of another hook of the group. */
  OTHER_HOOK = 'OtherHook',
  /** A lifecycle event that is not an `EC2_INSTANCE_TERMINATING` action with an instance and a hook. */
  NOT_TERMINATE_ACTION = 'NotTerminateAction',
  /** A state change to a state that does not take the instance away (pending, running). */
  NOT_LEAVING = 'NotLeaving',
  /** An AWS Health event that is not an open EC2 scheduled change. */
  NOT_SCHEDULED_CHANGE = 'NotScheduledChange',
  /** An AWS Health scheduled change that is closed (already over). */
  CLOSED = 'Closed',
  /** An `aws.ec2` event without a well-formed instance id. */
  NO_INSTANCE_ID = 'NoInstanceId',
  /** An event of a source and detail type the pipeline has no rule for. */
  UNEXPECTED_EVENT = 'UnexpectedEvent',
}

/** Settings of the drain Lambda, as the construct renders them. */
export interface DrainSettings {
  /** The Auto Scaling group whose instances the handler drains. */
  readonly autoScalingGroupName: string;
  /** Target groups the group registers its instances in. */
  readonly targetGroupArns: string[];
  /** Name of the group's terminate lifecycle hook; undefined when the group has none. */
  readonly lifecycleHookName?: string;
  /** Seconds between the spot warning and the instance going away (120 on AWS). */
  readonly noticeSeconds: number;
  /** Most seconds the terminate hook waits for the targets to finish draining. */
  readonly drainBudgetSeconds: number;
  /** Seconds kept free before the end of the notice (and of the Lambda timeout) to complete the action. */
  readonly safetyMarginSeconds: number;
  /** Seconds between lifecycle action heartbeats while waiting. */
  readonly heartbeatIntervalSeconds: number;
  /** Seconds between target health polls while waiting. */
  readonly pollIntervalSeconds: number;
  /** Mark an instance unhealthy on a spot interruption warning so a replacement launches now. */
  readonly markUnhealthyOnWarning: boolean;
  /** Mark an instance unhealthy on a rebalance recommendation. */
  readonly markUnhealthyOnRebalance: boolean;
  /** Mark an instance unhealthy on an AWS Health scheduled change (retirement, maintenance). */
  readonly markUnhealthyOnScheduledChange: boolean;
  /**
   * Seconds after the spot warning during which the instance keeps serving: its agent keeps passing health
   * until its drain must start (`notice - drainBudget - safetyMargin`, 70 s with the AWS defaults). The
   * warning then leaves the instance registered, and its terminate lifecycle action deregisters it only when
   * that time is up (or, when the warning was not seen by this container, as soon as the target stops being
   * healthy). 0 deregisters at the warning.
   * @default 0
   */
  readonly serveThroughSeconds?: number;
}

/** Render settings as the Lambda's environment variables. */
export function renderDrainEnvironment(s: DrainSettings): Record<string, string> {
  const env: Record<string, string> = {
    [DRAIN_ENV.AUTO_SCALING_GROUP_NAME]: s.autoScalingGroupName,
    [DRAIN_ENV.TARGET_GROUP_ARNS]: s.targetGroupArns.join(','),
    [DRAIN_ENV.NOTICE_SECONDS]: String(s.noticeSeconds),
    [DRAIN_ENV.DRAIN_BUDGET_SECONDS]: String(s.drainBudgetSeconds),
    [DRAIN_ENV.SAFETY_MARGIN_SECONDS]: String(s.safetyMarginSeconds),
    [DRAIN_ENV.HEARTBEAT_INTERVAL_SECONDS]: String(s.heartbeatIntervalSeconds),
    [DRAIN_ENV.POLL_INTERVAL_SECONDS]: String(s.pollIntervalSeconds),
    [DRAIN_ENV.MARK_UNHEALTHY_ON_WARNING]: String(s.markUnhealthyOnWarning),
    [DRAIN_ENV.MARK_UNHEALTHY_ON_REBALANCE]: String(s.markUnhealthyOnRebalance),
    [DRAIN_ENV.MARK_UNHEALTHY_ON_SCHEDULED_CHANGE]: String(s.markUnhealthyOnScheduledChange),
  };
  if (s.lifecycleHookName !== undefined) env[DRAIN_ENV.LIFECYCLE_HOOK_NAME] = s.lifecycleHookName;
  // Only when set, so that the functions of groups that do not serve through keep the environment they had.
  if (s.serveThroughSeconds !== undefined && s.serveThroughSeconds > 0) env[DRAIN_ENV.SERVE_THROUGH_SECONDS] = String(s.serveThroughSeconds);
  return env;
}

/**
 * Read settings from the Lambda's environment. Throws when a required variable is missing, so a
 * misconfigured function fails loudly at cold start instead of silently ignoring every event.
 */
export function drainSettingsFromEnv(env: Record<string, string | undefined>): DrainSettings {
  const asg = env[DRAIN_ENV.AUTO_SCALING_GROUP_NAME];
  if (!asg) {
    throw new Error(`${DRAIN_ENV.AUTO_SCALING_GROUP_NAME} is not set: the drain handler needs the name of the Auto Scaling group it serves`);
  }
  const num = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} (${raw}) must be a number of seconds, 0 or more`);
    return n;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    return raw === 'true' || raw === '1';
  };
  const noticeSeconds = num(DRAIN_ENV.NOTICE_SECONDS, 120);
  const safetyMarginSeconds = num(DRAIN_ENV.SAFETY_MARGIN_SECONDS, 10);
  const serveThroughSeconds = num(DRAIN_ENV.SERVE_THROUGH_SECONDS, 0);
  if (!Number.isInteger(serveThroughSeconds) || (serveThroughSeconds > 0 && serveThroughSeconds >= noticeSeconds - safetyMarginSeconds)) {
    throw new Error(
      `${DRAIN_ENV.SERVE_THROUGH_SECONDS} (${env[DRAIN_ENV.SERVE_THROUGH_SECONDS]}) must be a whole number of seconds, 0 or more and below ${DRAIN_ENV.NOTICE_SECONDS} (${noticeSeconds}) - ${DRAIN_ENV.SAFETY_MARGIN_SECONDS} (${safetyMarginSeconds}) = ${noticeSeconds - safetyMarginSeconds}; set the InterruptionHandler's serveThroughNotice accordingly, or 0 to deregister at the warning`,
    );
  }
  return {
    autoScalingGroupName: asg,
    targetGroupArns: (env[DRAIN_ENV.TARGET_GROUP_ARNS] ?? '').split(',').map((a) => a.trim()).filter((a) => a.length > 0),
    lifecycleHookName: env[DRAIN_ENV.LIFECYCLE_HOOK_NAME] || undefined,
    noticeSeconds,
    drainBudgetSeconds: num(DRAIN_ENV.DRAIN_BUDGET_SECONDS, 75),
    safetyMarginSeconds,
    heartbeatIntervalSeconds: num(DRAIN_ENV.HEARTBEAT_INTERVAL_SECONDS, 20),
    pollIntervalSeconds: num(DRAIN_ENV.POLL_INTERVAL_SECONDS, 5),
    markUnhealthyOnWarning: bool(DRAIN_ENV.MARK_UNHEALTHY_ON_WARNING, true),
    markUnhealthyOnRebalance: bool(DRAIN_ENV.MARK_UNHEALTHY_ON_REBALANCE, true),
    markUnhealthyOnScheduledChange: bool(DRAIN_ENV.MARK_UNHEALTHY_ON_SCHEDULED_CHANGE, true),
    serveThroughSeconds,
  };
}
