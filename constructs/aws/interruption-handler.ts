import { Annotations, Duration, Stack, Token, Tokenization } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  DRAIN_METRIC,
  DRAIN_METRICS_NAMESPACE,
  DRAIN_ENV,
  DRAIN_SERVICE_NAME,
  IGNORED_REASON_DIMENSION,
  renderDrainEnvironment,
} from '../../lib/handlers/aws/drain-settings';
import { INTERRUPTION_EVENTS, LEAVING_STATES } from '../../lib/handlers/aws/events';
import { CLOUD_LIMITS, Cloud } from '../../lib/spec/clouds';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { noticeServingSeconds } from '../../lib/spec/notice';
import { acknowledgeNagFindings, nagResourceName, prebuiltHandlerBundle } from './bundle';
import { ISpotFleet } from './fleet-interface';

const AWS_LIMITS = CLOUD_LIMITS[Cloud.AWS];
/** The shortest heartbeat timeout a lifecycle hook can have; heartbeats must come at least this often. */
const MIN_HOOK_HEARTBEAT_TIMEOUT_SECONDS = 30;

/** Properties of {@link InterruptionHandler}. */
export interface InterruptionHandlerProps {
  /**
   * The fleet whose instances are drained: a `SpotFleet`, or `SpotFleet.fromAutoScalingGroup(...)` for a group
   * built elsewhere. The group, the terminate hook, the notice and the drain wait are taken from it, so they
   * cannot disagree with the fleet.
   * @default - none; then `autoScalingGroup` is required
   */
  readonly fleet?: ISpotFleet;

  /**
   * The Auto Scaling group whose instances are drained, when no `fleet` is given. Any group works, including
   * imported ones; prefer `fleet` (`SpotFleet.fromAutoScalingGroup(...)`), which also gives the drain times.
   * @default - `fleet.autoScalingGroup`
   */
  readonly autoScalingGroup?: autoscaling.IAutoScalingGroup;

  /**
   * Target groups the group registers its instances in. On a spot warning the instance is deregistered
   * from every one of them at once; the terminate hook waits until it has stopped draining in all.
   * @default - none: events still mark instances unhealthy and complete lifecycle actions, but no load balancer is told
   */
  readonly targetGroups?: elbv2.ITargetGroup[];

  /**
   * Name of the terminate lifecycle hook declared on the group (`autoScalingGroup.addLifecycleHook(...)` with
   * `LifecycleTransition.INSTANCE_TERMINATING`). When set, a rule routes this hook's actions to the handler,
   * which holds the instance in `Terminating:Wait` until its targets have drained (within `drainBudget`), then
   * completes the action with CONTINUE. A name that is not a hook of the group is refused at synth, with the
   * names the group has (when they can be known: a group of this app, or a fleet that lists them).
   * @default - `fleet.terminationHookName`; without a fleet, no terminate hook: instances are deregistered on the warning but the group does not wait for them to drain
   */
  readonly terminateLifecycleHookName?: string;

  /**
   * Longest time the terminate hook waits for the instance's targets to finish draining. The wait never runs
   * past `notice` minus `safetyMargin` after the event, whatever this says. With a `fleet`, a value shorter
   * than what the fleet needs (its deregistration delay plus its drain budget) is refused.
   * @default - derived from the fleet: `deregistrationDelaySeconds + drainBudgetSeconds`, at most `notice - safetyMargin`; without a fleet, the same sum with the AWS defaults of a fleet spec (30 s + 45 s)
   */
  readonly drainBudget?: Duration;

  /**
   * Time between the interruption notice and the instance going away.
   * @default - `fleet.noticeSeconds`: the 120 s AWS spot notice
   */
  readonly notice?: Duration;

  /**
   * Time kept free at the end of the notice (and of the Lambda timeout) to complete the lifecycle action.
   * @default Duration.seconds(10)
   */
  readonly safetyMargin?: Duration;

  /**
   * Time after the spot warning during which the instance keeps serving, because its agent keeps passing health
   * until its drain must start (the spot-agent's `serveThroughNotice`: `notice - drainBudgetSeconds - 5 s`, 70 s
   * with the AWS defaults). The warning then only marks the instance unhealthy (so its replacement launches now)
   * and leaves it registered; the terminate lifecycle action deregisters it when this time is up after the warning,
   * or, in a container that did not see the warning, as soon as no target group reports it healthy (the agent has
   * begun its drain) or this time after the lifecycle event. Whole seconds, below `notice - safetyMargin`; needs a
   * terminate lifecycle hook. A deploy-time value is passed to the function as it is and checked there.
   * `SpotInferenceService` sets it from its fleet when the agent serves through.
   * @default Duration.seconds(0) - deregister at the warning, for groups whose instances run no agent that serves through
   */
  readonly serveThroughNotice?: Duration;

  /**
   * Mark an instance unhealthy on a spot interruption warning, so the group launches its replacement at once
   * instead of when the instance is gone.
   * @default true
   */
  readonly markUnhealthyOnWarning?: boolean;

  /**
   * Deregister and mark an instance unhealthy on a rebalance recommendation (an early sign of a coming
   * interruption). Set it to `false` when the group has Capacity Rebalancing on, which launches the replacement
   * itself and then terminates the old instance through the terminate hook; the handler then only records the
   * recommendation.
   * @default true
   */
  readonly markUnhealthyOnRebalance?: boolean;

  /**
   * Deregister and mark an instance unhealthy when AWS Health announces a scheduled change for it (retirement,
   * maintenance), so it is replaced ahead of time.
   * @default true
   */
  readonly markUnhealthyOnScheduledChange?: boolean;

  /**
   * Time between lifecycle action heartbeats while the terminate hook waits. At most 30 s, the shortest heartbeat
   * timeout a hook can have.
   * @default Duration.seconds(20)
   */
  readonly heartbeatInterval?: Duration;

  /**
   * Time between target health polls while the terminate hook waits.
   * @default Duration.seconds(5)
   */
  readonly pollInterval?: Duration;

  /**
   * Customer-managed KMS key to encrypt the queues with. EventBridge is granted use of it.
   * @default - SQS-managed server-side encryption (SSE-SQS), which EventBridge can write to without key policy changes
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * How long an undelivered event stays in the queue. Must be longer than the notice.
   * @default Duration.hours(1)
   */
  readonly queueRetentionPeriod?: Duration;

  /**
   * Deliveries of one event before it moves to the dead-letter queue.
   * @default 3
   */
  readonly maxReceiveCount?: number;

  /**
   * Actions to run when the dead-letter queue alarm fires (e.g. an SNS topic action).
   * @default - none; the alarm is created and exposed as `dlqAlarm`
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];

  /**
   * Retention of the function's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The AWS interruption pipeline of one Auto Scaling group: EventBridge rules for spot interruption warnings,
 * rebalance recommendations, instance state changes, the group's terminate lifecycle actions, AWS Health
 * scheduled changes and launch failures, into an encrypted SQS queue (with a dead-letter queue and an alarm
 * on it), drained by a Lambda function that deregisters the instance from its target groups, marks it
 * unhealthy so the replacement starts at once, waits for its connections to drain and then lets it go.
 *
 * Works on any Auto Scaling group. The function's code is a bundle built with the package; synth needs
 * neither Docker nor esbuild.
 *
 * @example
 * new InterruptionHandler(this, 'Interruptions', {
 *   fleet, // a SpotFleet, or SpotFleet.fromAutoScalingGroup(this, 'Fleet', { autoScalingGroup: asg, ... })
 *   targetGroups: [loadBalancer.targetGroup],
 * });
 */
export class InterruptionHandler extends Construct {
  /** Queue the rules deliver events to. */
  public readonly queue: sqs.Queue;
  /** Events that failed `maxReceiveCount` times (or could not be delivered by EventBridge). */
  public readonly deadLetterQueue: sqs.Queue;
  /** The drain function. */
  public readonly function: lambda.Function;
  /** Fires when anything reaches the dead-letter queue: an interruption was not handled. */
  public readonly dlqAlarm: cloudwatch.Alarm;
  /** Every rule, in the order: spot warning, rebalance, state change, terminate action (if a hook is set), health, launch unsuccessful. */
  public readonly rules: events.Rule[];
  /** Rule for spot interruption warnings. */
  public readonly spotWarningRule: events.Rule;
  /** Rule for this group's terminate lifecycle actions, when a hook name was given. */
  public readonly terminateActionRule?: events.Rule;
  /**
   * Rule for this group's `EC2 Instance Launch Unsuccessful` events. A fallback controller subscribes with
   * `addTarget(...)` or {@link InterruptionHandler.onLaunchUnsuccessful}.
   */
  public readonly launchUnsuccessfulRule: events.Rule;

  /** Seconds the terminate hook waits at most for the targets to drain (derived from the fleet unless `drainBudget` was given). */
  public readonly drainBudgetSeconds: number;
  /** Name of the terminate lifecycle hook whose actions the handler completes, if any. */
  public readonly terminateLifecycleHookName?: string;

  private readonly asgName: string;

  constructor(scope: Construct, id: string, props: InterruptionHandlerProps) {
    super(scope, id);
    const s = validate(props, this.node.path);
    const asg = (props.autoScalingGroup ?? props.fleet?.autoScalingGroup)!;
    this.asgName = asg.autoScalingGroupName;
    const targetGroups = props.targetGroups ?? [];
    const hookName = props.terminateLifecycleHookName ?? props.fleet?.terminationHookName;
    this.terminateLifecycleHookName = hookName;
    this.drainBudgetSeconds = s.drainBudgetSeconds;
    this.warnIfDrainWaitCapped(s);
    this.node.addValidation({ validate: () => checkHookExists(hookName, asg, props.fleet) });

    // Every wait, serving through the notice included, ends by the notice (counted from an event the function
    // receives after it was emitted) less the safety margin, so the notice plus 30 s covers the longest one.
    const timeout = Duration.seconds(s.noticeSeconds + 30);
    const queues = this.createQueues(props, timeout);
    this.deadLetterQueue = queues.deadLetterQueue;
    this.queue = queues.queue;
    this.dlqAlarm = this.createDeadLetterAlarm(props.alarmActions);

    const drain = this.createDrainFunction(props, s, { asg, targetGroups, hookName }, timeout);
    this.function = drain.function;
    this.grantDrainPermissions(drain.role, asg, targetGroups);

    const rules = this.createRules(asg, hookName);
    this.spotWarningRule = rules.spotWarning;
    this.terminateActionRule = rules.terminateAction;
    this.launchUnsuccessfulRule = rules.launchUnsuccessful;
    this.rules = rules.all;
  }

  /** Warns when the drain wait derived from the fleet had to be capped at the notice less the safety margin. */
  private warnIfDrainWaitCapped(s: ValidatedTimes): void {
    if (s.cappedFrom !== undefined) {
      Annotations.of(this).addWarningV2(
        'spot-inference:drain-wait-capped',
        `The fleet needs ${s.cappedFrom} s to drain (deregistrationDelaySeconds + drainBudgetSeconds), but the terminate hook can wait only ${s.drainBudgetSeconds} s (the ${s.noticeSeconds} s notice less the ${s.safetyMarginSeconds} s safetyMargin); lower the fleet's deregistrationDelaySeconds or drainBudgetSeconds so both fit`,
      );
    }
  }

  /** Queues: encrypted, TLS only, retention above the notice, visibility >= 6x the function timeout. */
  private createQueues(props: InterruptionHandlerProps, timeout: Duration): { queue: sqs.Queue; deadLetterQueue: sqs.Queue } {
    const encryption = props.encryptionKey
      ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey }
      : { encryption: sqs.QueueEncryption.SQS_MANAGED };
    const deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      ...encryption,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const queue = new sqs.Queue(this, 'Queue', {
      ...encryption,
      enforceSSL: true,
      retentionPeriod: props.queueRetentionPeriod ?? Duration.hours(1),
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 3 },
    });
    if (props.encryptionKey) {
      props.encryptionKey.grant(new iam.ServicePrincipal('events.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey');
    }
    return { queue, deadLetterQueue };
  }

  /** The alarm on the dead-letter queue, with the given actions. */
  private createDeadLetterAlarm(alarmActions: cloudwatch.IAlarmAction[] | undefined): cloudwatch.Alarm {
    const alarm = this.deadLetterQueue
      .metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM })
      .createAlarm(this, 'DeadLetterAlarm', {
        alarmDescription: `Interruption events of ${this.node.path} reached the dead-letter queue: an instance may not have been drained. Inspect the messages, then redrive them.`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    for (const action of alarmActions ?? []) alarm.addAlarmAction(action);
    return alarm;
  }

  /** The drain function, from the prebuilt bundle, with its log group, its own role and the queue as its event source. */
  private createDrainFunction(
    props: InterruptionHandlerProps,
    s: ValidatedTimes,
    drained: { asg: autoscaling.IAutoScalingGroup; targetGroups: elbv2.ITargetGroup[]; hookName: string | undefined },
    timeout: Duration,
  ): { function: lambda.Function; role: iam.Role } {
    const logGroup = new logs.LogGroup(this, 'LogGroup', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH });
    // Own role, no AWS managed policy: logging is granted on this function's log group only.
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Drain function of ${this.node.path}: this group and its target groups only`,
    });
    logGroup.grantWrite(role);
    const fn = new lambda.Function(this, 'Function', {
      role,
      description: `Drains instances of an Auto Scaling group on spot interruptions (${this.node.path})`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(prebuiltHandlerBundle('drain', 'InterruptionHandler')),
      memorySize: 256,
      timeout,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        ...renderDrainEnvironment({
          autoScalingGroupName: drained.asg.autoScalingGroupName,
          targetGroupArns: drained.targetGroups.map((tg) => tg.targetGroupArn),
          lifecycleHookName: drained.hookName,
          noticeSeconds: s.noticeSeconds,
          drainBudgetSeconds: s.drainBudgetSeconds,
          safetyMarginSeconds: s.safetyMarginSeconds,
          heartbeatIntervalSeconds: s.heartbeatIntervalSeconds,
          pollIntervalSeconds: s.pollIntervalSeconds,
          markUnhealthyOnWarning: props.markUnhealthyOnWarning ?? true,
          markUnhealthyOnRebalance: props.markUnhealthyOnRebalance ?? true,
          markUnhealthyOnScheduledChange: props.markUnhealthyOnScheduledChange ?? true,
          serveThroughSeconds: s.serveThroughSeconds,
        }),
        // A deploy-time value is passed to the function untouched (it was not validated).
        ...s.tokenEnvironment,
        POWERTOOLS_SERVICE_NAME: DRAIN_SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: DRAIN_METRICS_NAMESPACE,
      },
    });
    fn.addEventSource(
      new SqsEventSource(this.queue, { batchSize: 10, reportBatchItemFailures: true, maxConcurrency: 10 }),
    );
    return { function: fn, role };
  }

  /** Least privilege: writes scoped to this group and its target groups; the Describe calls cannot be scoped by AWS. */
  private grantDrainPermissions(role: iam.Role, asg: autoscaling.IAutoScalingGroup, targetGroups: elbv2.ITargetGroup[]): void {
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DrainThisGroup',
        actions: ['autoscaling:SetInstanceHealth', 'autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
        resources: [asg.autoScalingGroupArn],
      }),
    );
    if (targetGroups.length > 0) {
      this.function.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'DeregisterFromThisFleetsTargetGroups',
          actions: ['elasticloadbalancing:DeregisterTargets'],
          resources: targetGroups.map((tg) => tg.targetGroupArn),
        }),
      );
    }
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DescribeActionsCannotBeScoped',
        actions: ['autoscaling:DescribeAutoScalingInstances', 'elasticloadbalancing:DescribeTargetHealth'],
        resources: ['*'],
      }),
    );

    acknowledgeNagFindings(role, [
      {
        rule: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'autoscaling:DescribeAutoScalingInstances and elasticloadbalancing:DescribeTargetHealth support no resource-level permissions; every write is scoped to the group and its target groups',
      },
      {
        rule: `AwsSolutions-IAM5[Resource::${nagResourceName(Stack.of(this).resolve(asg.autoScalingGroupArn))}]`,
        reason: "An Auto Scaling group ARN holds the group's generated UUID, unknown at synth, so the ARN has a * there; it is pinned by autoScalingGroupName",
      },
    ]);
  }

  /**
   * The rules, into the queue. aws.ec2 events carry only an instance id, so they cannot be scoped to the group: the
   * function filters them (one DescribeAutoScalingInstances call). Group events are scoped by name.
   */
  private createRules(
    asg: autoscaling.IAutoScalingGroup,
    hookName: string | undefined,
  ): { spotWarning: events.Rule; terminateAction?: events.Rule; launchUnsuccessful: events.Rule; all: events.Rule[] } {
    const target = new targets.SqsQueue(this.queue, { deadLetterQueue: this.deadLetterQueue, retryAttempts: 5, maxEventAge: Duration.hours(1) });
    const rule = (ruleId: string, description: string, pattern: events.EventPattern): events.Rule =>
      new events.Rule(this, ruleId, { description: `${description} (${this.node.path})`, eventPattern: pattern, targets: [target] });

    const spotWarning = rule('SpotWarningRule', 'EC2 spot interruption warnings', {
      source: [INTERRUPTION_EVENTS.SPOT_WARNING.source],
      detailType: [INTERRUPTION_EVENTS.SPOT_WARNING.detailType],
    });
    const rebalance = rule('RebalanceRule', 'EC2 rebalance recommendations', {
      source: [INTERRUPTION_EVENTS.REBALANCE.source],
      detailType: [INTERRUPTION_EVENTS.REBALANCE.detailType],
    });
    const stateChange = rule('StateChangeRule', 'EC2 instances stopping or terminating', {
      source: [INTERRUPTION_EVENTS.STATE_CHANGE.source],
      detailType: [INTERRUPTION_EVENTS.STATE_CHANGE.detailType],
      detail: { state: [...LEAVING_STATES] },
    });
    let terminateAction: events.Rule | undefined;
    if (hookName !== undefined) {
      terminateAction = rule('TerminateActionRule', 'Terminate lifecycle actions of the group', {
        source: [INTERRUPTION_EVENTS.TERMINATE_ACTION.source],
        detailType: [INTERRUPTION_EVENTS.TERMINATE_ACTION.detailType],
        detail: { AutoScalingGroupName: [asg.autoScalingGroupName], LifecycleHookName: [hookName] },
      });
    }
    const health = rule('ScheduledChangeRule', 'AWS Health scheduled changes of EC2', {
      source: [INTERRUPTION_EVENTS.HEALTH.source],
      detailType: [INTERRUPTION_EVENTS.HEALTH.detailType],
      detail: { service: ['EC2'], eventTypeCategory: ['scheduledChange'] },
    });
    const launchUnsuccessful = rule('LaunchUnsuccessfulRule', 'Launch failures of the group', {
      source: [INTERRUPTION_EVENTS.LAUNCH_UNSUCCESSFUL.source],
      detailType: [INTERRUPTION_EVENTS.LAUNCH_UNSUCCESSFUL.detailType],
      detail: { AutoScalingGroupName: [asg.autoScalingGroupName] },
    });
    const all = [spotWarning, rebalance, stateChange, ...(terminateAction ? [terminateAction] : []), health, launchUnsuccessful];
    return { spotWarning, terminateAction, launchUnsuccessful, all };
  }

  /** Send this group's `EC2 Instance Launch Unsuccessful` events to another target too (e.g. a fallback controller). */
  public onLaunchUnsuccessful(target: events.IRuleTarget): void {
    this.launchUnsuccessfulRule.addTarget(target);
  }

  /** Spot interruption warnings for instances of this group (Sum per period). */
  public metricInterruptions(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(DRAIN_METRIC.INTERRUPTIONS, { statistic: cloudwatch.Stats.SUM, ...props });
  }

  /**
   * Seconds from the start of a drain to the lifecycle action's CONTINUE (Maximum per period): from the terminate
   * lifecycle action, or from the end of serving through the notice (see {@link metricServeThroughDuration}).
   * Compare it with the fleet's drain budget.
   */
  public metricDrainDuration(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(DRAIN_METRIC.DRAIN_DURATION, { statistic: cloudwatch.Stats.MAXIMUM, ...props });
  }

  /**
   * Seconds a terminate lifecycle action waited while its instance served through the spot notice, before the
   * drain (Maximum per period; only with `serveThroughNotice`).
   */
  public metricServeThroughDuration(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(DRAIN_METRIC.SERVE_THROUGH_DURATION, { statistic: cloudwatch.Stats.MAXIMUM, ...props });
  }

  /** Terminate lifecycle actions whose targets were still draining when the drain budget ran out (Sum per period). */
  public metricDrainBudgetSpent(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(`${DRAIN_METRIC.DRAIN_OUTCOME_PREFIX}BudgetSpent`, { statistic: cloudwatch.Stats.SUM, ...props });
  }

  /**
   * Events the handler ignored on purpose (Sum per period), for one `reason` (an `IgnoreReason` value such as
   * `NotInFleet`, `Duplicate`, `OtherHook`). Such events log nothing at INFO; this shows a silent drop.
   */
  public metricIgnoredEvents(reason: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: DRAIN_METRICS_NAMESPACE,
      metricName: DRAIN_METRIC.IGNORED_EVENTS,
      dimensionsMap: { service: DRAIN_SERVICE_NAME, AutoScalingGroupName: this.asgName, [IGNORED_REASON_DIMENSION]: reason },
      period: Duration.minutes(1),
      statistic: cloudwatch.Stats.SUM,
      ...props,
    });
  }

  /** Records that were not an EventBridge event at all (Sum per period); they go to the dead-letter queue. */
  public metricMalformedRecords(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(DRAIN_METRIC.MALFORMED_RECORDS, { statistic: cloudwatch.Stats.SUM, ...props });
  }

  /** Launch failures of this group (Sum per period). */
  public metricLaunchFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(DRAIN_METRIC.LAUNCH_FAILURES, { statistic: cloudwatch.Stats.SUM, ...props });
  }

  /** A metric the drain function emits, by name. */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: DRAIN_METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service: DRAIN_SERVICE_NAME, AutoScalingGroupName: this.asgName },
      period: Duration.minutes(1),
      ...props,
    });
  }
}

interface ValidatedTimes {
  readonly noticeSeconds: number;
  readonly drainBudgetSeconds: number;
  readonly safetyMarginSeconds: number;
  readonly heartbeatIntervalSeconds: number;
  readonly pollIntervalSeconds: number;
  /** Seconds the instance keeps serving after the warning (0 when a deploy-time value, which goes in `tokenEnvironment`). */
  readonly serveThroughSeconds: number;
  /** What the fleet needs when the derived drain wait had to be capped at notice - margin. */
  readonly cappedFrom?: number;
  /** Environment variables of times given as deploy-time values, passed through untouched. */
  readonly tokenEnvironment: Record<string, string>;
}

/** What the fleet needs to drain: its deregistration delay plus its drain budget (undefined when either is a token). */
function fleetDrainNeed(fleet: ISpotFleet | undefined): { seconds: number; dereg: number; drain: number } | undefined {
  const dereg = fleet ? fleet.deregistrationDelaySeconds : AWS_LIMITS.defaultDeregistrationDelaySeconds;
  const drain = fleet ? fleet.drainBudgetSeconds : AWS_LIMITS.defaultDrainBudgetSeconds;
  if (Token.isUnresolved(dereg) || Token.isUnresolved(drain)) return undefined;
  return { seconds: dereg + drain, dereg, drain };
}

function validate(props: InterruptionHandlerProps, scope: string): ValidatedTimes {
  const v = new ProblemCollector();
  const C = FleetSpecErrorCode;
  const fleet = props.fleet;
  const secs = (d: Duration | undefined, fallback: number): number => (d === undefined || d.isUnresolved() ? fallback : d.toSeconds());
  const known = (d: Duration | undefined): boolean => d !== undefined && !d.isUnresolved();
  const fleetNotice = fleet && !Token.isUnresolved(fleet.noticeSeconds) ? fleet.noticeSeconds : AWS_LIMITS.noticeSeconds;
  const notice = secs(props.notice, fleetNotice);
  const margin = secs(props.safetyMargin, 10);
  const need = fleetDrainNeed(fleet);
  const derived = need === undefined ? notice - margin : Math.min(need.seconds, notice - margin);
  const budget = secs(props.drainBudget, derived);
  const heartbeat = secs(props.heartbeatInterval, 20);
  const poll = secs(props.pollInterval, 5);

  if (!fleet && !props.autoScalingGroup) {
    v.add(C.AWS_DRAIN_TARGET, 'fleet', 'neither fleet nor autoScalingGroup is set, so there is no group to drain; pass fleet (a SpotFleet, or SpotFleet.fromAutoScalingGroup(...) for an existing group)');
  }
  if (fleet && props.autoScalingGroup && props.autoScalingGroup !== fleet.autoScalingGroup) {
    v.add(C.AWS_DRAIN_TARGET, 'autoScalingGroup', `autoScalingGroup (${props.autoScalingGroup.node.path}) is not the group of fleet (${fleet.node.path}); leave autoScalingGroup out: the fleet's group is used`);
  }
  if (known(props.notice) && (notice <= 0 || notice > AWS_LIMITS.noticeSeconds)) {
    v.add(C.NOTICE_LENGTH, 'notice', `notice (${notice} s) must be between 1 and ${AWS_LIMITS.noticeSeconds} s, the AWS spot notice; leave it out to use ${AWS_LIMITS.noticeSeconds} s`);
  }
  if (known(props.drainBudget) && budget <= 0) {
    v.add(C.DRAIN_BUDGET_EXCEEDED, 'drainBudget', `drainBudget (${budget} s) must be more than 0 s; give the deregistration delay plus the time in-flight requests need, or leave it out to derive it from the fleet`);
  }
  if (known(props.drainBudget) && fleet && need !== undefined && budget > 0 && budget < Math.min(need.seconds, notice - margin)) {
    const floor = Math.min(need.seconds, notice - margin);
    v.add(
      C.DRAIN_BUDGET_EXCEEDED,
      'drainBudget',
      `drainBudget (${budget} s) is shorter than fleet ${fleet.node.path} needs: deregistrationDelaySeconds (${need.dereg} s) + drainBudgetSeconds (${need.drain} s) = ${need.seconds} s; the handler would let instances go while requests are still draining: raise drainBudget to at least ${floor} s, or leave it out to derive it from the fleet`,
    );
  }
  if (budget + margin > notice) {
    v.add(
      C.DRAIN_BUDGET_EXCEEDED,
      'drainBudget',
      `drain budget exceeded: drainBudget (${budget} s) + safetyMargin (${margin} s) = ${budget + margin} s is longer than the ${notice} s AWS spot notice; lower drainBudget to at most ${Math.max(0, notice - margin)} s (and the target groups' deregistration delay with it)`,
    );
  }
  if (known(props.heartbeatInterval) && (heartbeat < 1 || heartbeat > MIN_HOOK_HEARTBEAT_TIMEOUT_SECONDS)) {
    v.add(C.AWS_DRAIN_TIMING, 'heartbeatInterval', `heartbeatInterval (${heartbeat} s) must be between 1 and ${MIN_HOOK_HEARTBEAT_TIMEOUT_SECONDS} s, the shortest heartbeat timeout of a lifecycle hook; use e.g. 20 s`);
  }
  if (known(props.pollInterval) && (poll < 1 || poll > budget)) {
    v.add(C.AWS_DRAIN_TIMING, 'pollInterval', `pollInterval (${poll} s) must be between 1 s and drainBudget (${budget} s); use e.g. 5 s`);
  }
  const serve = props.serveThroughNotice;
  if (known(serve)) {
    const serveSeconds = serve!.toSeconds({ integral: false });
    const limit = notice - margin;
    // With a deploy-time notice or safety margin the limit is unknown here; the function checks it at cold start.
    const noticeKnown = props.notice === undefined ? !(fleet && Token.isUnresolved(fleet.noticeSeconds)) : known(props.notice);
    const limitKnown = noticeKnown && (props.safetyMargin === undefined || known(props.safetyMargin));
    if (!Number.isInteger(serveSeconds)) {
      v.add(C.AWS_DRAIN_TIMING, 'serveThroughNotice', `serveThroughNotice (${serveSeconds} s) must be whole seconds; round it, e.g. Duration.seconds(${Math.floor(serveSeconds)})`);
    } else if (limitKnown && serveSeconds > 0 && serveSeconds >= limit) {
      v.add(
        C.AWS_DRAIN_TIMING,
        'serveThroughNotice',
        `serveThroughNotice (${serveSeconds} s) must be below notice (${notice} s) - safetyMargin (${margin} s) = ${limit} s, or the instance would still be serving when it must have drained; use the seconds its agent serves (notice - drainBudgetSeconds - 5 s: ${noticeServingSeconds({ cloud: Cloud.AWS, noticeSeconds: notice })} s with the default drain budget), or leave it out to deregister at the warning`,
      );
    }
    const hookName = props.terminateLifecycleHookName ?? fleet?.terminationHookName;
    if (serveSeconds > 0 && hookName === undefined) {
      v.add(
        C.AWS_DRAIN_TIMING,
        'serveThroughNotice',
        `serveThroughNotice (${serveSeconds} s) needs a terminate lifecycle hook: without one nothing deregisters the instance when its drain starts, and marking it unhealthy at the warning would terminate it while it still serves; set terminateLifecycleHookName (or pass a fleet with a terminationHookName), or leave serveThroughNotice out`,
      );
    }
  }
  const retention = props.queueRetentionPeriod;
  if (known(retention) && (retention!.toSeconds() <= notice || retention!.toSeconds() > 14 * 86400)) {
    v.add(C.AWS_DRAIN_QUEUE, 'queueRetentionPeriod', `queueRetentionPeriod (${retention!.toSeconds()} s) must be longer than the ${notice} s notice and at most 14 days (the SQS limit); use e.g. Duration.hours(1)`);
  }
  const mrc = props.maxReceiveCount;
  if (mrc !== undefined && !Token.isUnresolved(mrc) && !(Number.isInteger(mrc) && mrc >= 1 && mrc <= 1000)) {
    v.add(C.AWS_DRAIN_QUEUE, 'maxReceiveCount', `maxReceiveCount (${mrc}) must be a whole number between 1 and 1000; use e.g. 3`);
  }
  const hook = props.terminateLifecycleHookName;
  if (hook !== undefined && !Token.isUnresolved(hook) && !/^[A-Za-z0-9\-_/]{1,255}$/.test(hook)) {
    v.add(C.AWS_LIFECYCLE_HOOK, 'terminateLifecycleHookName', `terminateLifecycleHookName ("${hook}") must be 1-255 letters, digits, "-", "_" or "/", the name of the hook declared on the group`);
  }
  v.throwIfAny(scope);

  const tokenEnvironment: Record<string, string> = {};
  const passThrough = (d: Duration | undefined, name: string): void => {
    if (d !== undefined && d.isUnresolved()) tokenEnvironment[name] = Tokenization.stringifyNumber(d.toSeconds());
  };
  passThrough(props.notice, DRAIN_ENV.NOTICE_SECONDS);
  passThrough(props.drainBudget, DRAIN_ENV.DRAIN_BUDGET_SECONDS);
  passThrough(props.safetyMargin, DRAIN_ENV.SAFETY_MARGIN_SECONDS);
  passThrough(props.heartbeatInterval, DRAIN_ENV.HEARTBEAT_INTERVAL_SECONDS);
  passThrough(props.pollInterval, DRAIN_ENV.POLL_INTERVAL_SECONDS);
  // No arithmetic is done on serveThroughNotice, so a deploy-time value can go to the function as it is.
  passThrough(props.serveThroughNotice, DRAIN_ENV.SERVE_THROUGH_SECONDS);
  const serveThroughSeconds = known(serve) ? serve!.toSeconds({ integral: false }) : 0;
  const cappedFrom = props.drainBudget === undefined && need !== undefined && need.seconds > notice - margin ? need.seconds : undefined;
  return { noticeSeconds: notice, drainBudgetSeconds: budget, safetyMarginSeconds: margin, heartbeatIntervalSeconds: heartbeat, pollIntervalSeconds: poll, serveThroughSeconds, cappedFrom, tokenEnvironment };
}

interface HookInfo {
  readonly name: string;
  readonly transition?: string;
}

/** Lifecycle hooks declared in this app on the group: its own specification list and its LifecycleHook children. */
function declaredHooks(asg: autoscaling.IAutoScalingGroup): HookInfo[] | undefined {
  const cfn = asg.node.defaultChild;
  if (!(cfn instanceof autoscaling.CfnAutoScalingGroup)) return undefined; // defined outside this app
  const stack = Stack.of(asg);
  const hooks: HookInfo[] = [];
  const list = stack.resolve(cfn.lifecycleHookSpecificationList);
  if (Array.isArray(list)) {
    for (const h of list as Array<{ LifecycleHookName?: unknown; lifecycleHookName?: unknown; LifecycleTransition?: unknown; lifecycleTransition?: unknown }>) {
      const name = h.LifecycleHookName ?? h.lifecycleHookName;
      if (typeof name === 'string') hooks.push({ name, transition: String(h.LifecycleTransition ?? h.lifecycleTransition ?? '') });
    }
  }
  for (const c of asg.node.findAll()) {
    if (c instanceof autoscaling.CfnLifecycleHook) {
      // A hook without a name gets a generated one: it is referred to by its token, which is not checked.
      if (c.lifecycleHookName !== undefined && !Token.isUnresolved(c.lifecycleHookName)) hooks.push({ name: c.lifecycleHookName, transition: c.lifecycleTransition });
    }
  }
  return hooks;
}

/** At synth: the hook the handler serves must be a terminate hook of the group, when the group's hooks can be known. */
function checkHookExists(hookName: string | undefined, asg: autoscaling.IAutoScalingGroup, fleet: ISpotFleet | undefined): string[] {
  if (hookName === undefined || Token.isUnresolved(hookName)) return [];
  const declared = declaredHooks(asg);
  const names = new Set<string>();
  const transitions = new Map<string, string | undefined>();
  for (const h of declared ?? []) {
    names.add(h.name);
    transitions.set(h.name, h.transition);
  }
  for (const n of fleet?.lifecycleHookNames ?? []) names.add(n);
  if (declared === undefined && fleet?.lifecycleHookNames === undefined) return []; // nothing to check against
  if ([...names].some((n) => Token.isUnresolved(n))) return [];
  const group = Token.isUnresolved(asg.autoScalingGroupName) ? asg.node.path : asg.autoScalingGroupName;
  if (!names.has(hookName)) {
    const list = [...names].map((n) => `"${n}"`).join(', ');
    return [
      `terminateLifecycleHookName ("${hookName}") is not a lifecycle hook of the group ${group}, which has ${names.size === 0 ? 'none' : list}; use ${names.size === 0 ? 'the name of a hook you declare' : `one of ${list}`} (declare one with autoScalingGroup.addLifecycleHook(..., { lifecycleTransition: LifecycleTransition.INSTANCE_TERMINATING })) [${FleetSpecErrorCode.AWS_LIFECYCLE_HOOK}]`,
    ];
  }
  const transition = transitions.get(hookName);
  if (transition && transition !== autoscaling.LifecycleTransition.INSTANCE_TERMINATING) {
    return [
      `terminateLifecycleHookName ("${hookName}") is a ${transition} hook of the group ${group}, not a terminate hook; name a hook with LifecycleTransition.INSTANCE_TERMINATING [${FleetSpecErrorCode.AWS_LIFECYCLE_HOOK}]`,
    ];
  }
  return [];
}
