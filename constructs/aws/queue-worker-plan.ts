// The props of QueueWorkerFleet resolved and checked once (option aliases, workload kind, queue timing, scaling
// target, SQS limits), so the construct only renders. Every problem of one props object is reported together, in
// the order of the checks below.
import { Duration, Token } from 'aws-cdk-lib';
import { queueTimingProblems } from '../../lib/runtime/worker/timing';
import { backlogPerInstanceTarget } from '../../lib/spec/queue-workload';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { WorkloadKind } from '../../lib/spec/fleet-spec';
import { resolveBootCommands, resolveOptionAlias } from '../../lib/spec/option-aliases';
import type { QueueWorkerFleetProps } from './queue-worker-props';

/** SQS limits used by the validation. */
const SQS_MAX_VISIBILITY_SECONDS = 43_200;
const SQS_MAX_RECEIVE_COUNT = 1_000;
const SQS_MIN_RETENTION_SECONDS = 60;
/** Longest retention SQS allows (14 days); also the dead-letter queue's retention. */
export const SQS_MAX_RETENTION_SECONDS = 1_209_600;
const C = FleetSpecErrorCode;

/** What a QueueWorkerFleet renders: its props with every default filled and every check passed. */
export interface QueueWorkerPlan {
  /** Visibility timeout of the queue, in seconds (a token when `visibilityTimeout` is one). */
  readonly visibilityTimeoutSeconds: number;
  /** Receives before a message goes to the dead-letter queue. */
  readonly maxReceiveCount: number;
  /** Backlog per instance the group keeps. */
  readonly targetBacklogPerInstance: number;
  /** The user's boot commands (`bootCommands` or its deprecated alias `userDataCommands`). */
  readonly bootCommands?: string[];
  /** The spot agent's bundle (`agent.bundlePath` or its deprecated alias `agentBundlePath`). */
  readonly agentBundlePath?: string;
}

/** Resolves and validates the props of a QueueWorkerFleet; throws one FleetSpecError (scoped to `path`) with every problem. */
export function planQueueWorkers(props: QueueWorkerFleetProps, path: string): QueueWorkerPlan {
  const v = new ProblemCollector();
  const boot = resolveBootCommands(props.bootCommands, 'userDataCommands', props.userDataCommands);
  const bundlePath = resolveOptionAlias({ name: 'agent.bundlePath', value: props.agent?.bundlePath, deprecatedName: 'agentBundlePath', deprecatedValue: props.agentBundlePath });
  v.addAll([...boot.problems, ...bundlePath.problems]);

  const processing = seconds(props.messageProcessingTime);
  const explicitVisibility = props.visibilityTimeout !== undefined;
  const visibility = explicitVisibility
    ? seconds(props.visibilityTimeout)
    : processing !== undefined
      ? Math.min(SQS_MAX_VISIBILITY_SECONDS, Math.max(30, Math.ceil(processing * 1.5)))
      : undefined;
  const maxReceiveCount = props.maxReceiveCount ?? 5;

  checkWorkload(v, props);
  checkVisibility(v, props, visibility, processing);
  const backlog = backlogPerInstanceTarget({
    acceptableLatencySeconds: seconds(props.acceptableLatency),
    messageProcessingSeconds: processing,
    messagesInParallel: props.messagesInParallel ?? 1,
    targetBacklogPerInstance: props.targetBacklogPerInstance,
    propNames: { acceptableLatency: 'acceptableLatency', messageProcessing: 'messageProcessingTime' },
    instanceNoun: 'instance',
    isUnresolved: Token.isUnresolved,
  });
  v.addAll(backlog.problems);
  if (!explicitVisibility && processing === undefined) {
    v.add(C.QUEUE_TIMING, 'visibilityTimeout', 'messageProcessingTime is a deploy-time token, so the visibility timeout cannot be derived at synth; set visibilityTimeout');
  }
  checkSqsLimits(v, maxReceiveCount, seconds(props.retentionPeriod ?? Duration.days(4)));
  v.throwIfAny(path);

  return {
    visibilityTimeoutSeconds: visibility ?? props.visibilityTimeout!.toSeconds(),
    maxReceiveCount,
    targetBacklogPerInstance: backlog.target!,
    bootCommands: boot.value,
    agentBundlePath: bundlePath.value,
  };
}

/** A duration in seconds, when known at synth. */
function seconds(d: Duration | undefined): number | undefined {
  return d && !d.isUnresolved() ? d.toSeconds() : undefined;
}

/** A number known at synth (not a token). */
function known(x: unknown): x is number {
  return typeof x === 'number' && !Token.isUnresolved(x);
}

/** A queue worker fleet runs the queue-worker workload only. */
function checkWorkload(v: ProblemCollector, props: QueueWorkerFleetProps): void {
  if (props.workload !== undefined && props.workload !== WorkloadKind.QUEUE_WORKER) {
    v.add(C.WORKLOAD_KIND, 'workload', `workload (${props.workload}) must be WorkloadKind.QUEUE_WORKER (or left out) for a QueueWorkerFleet; use SpotInferenceService for an online fleet behind a load balancer`);
  }
}

/** The visibility timeout covers the processing time (or the worker extends it), within the SQS maximum. */
function checkVisibility(v: ProblemCollector, props: QueueWorkerFleetProps, visibility: number | undefined, processing: number | undefined): void {
  if (visibility === undefined || processing === undefined) return;
  if (props.visibilityTimeout === undefined && processing * 1.5 > SQS_MAX_VISIBILITY_SECONDS && !props.extendsVisibility) {
    v.add(C.QUEUE_TIMING, 'messageProcessingTime', `messageProcessingTime (${processing} s) is too long for an SQS visibility timeout (at most ${SQS_MAX_VISIBILITY_SECONDS} s, 12 hours, with a 1.5x margin): set extendsVisibility: true and extend visibility while working (QueueWorker does), or split the work into shorter messages`);
  } else {
    v.addAll(queueTimingProblems({
      visibilityTimeoutSeconds: visibility,
      expectedProcessingSeconds: processing,
      heartbeat: props.extendsVisibility ?? false,
      propNames: { visibilityTimeout: 'visibilityTimeout', expectedProcessing: 'messageProcessingTime' },
    }));
  }
}

/** maxReceiveCount and retentionPeriod within what SQS accepts. */
function checkSqsLimits(v: ProblemCollector, maxReceiveCount: number, retention: number | undefined): void {
  if (known(maxReceiveCount) && !(Number.isInteger(maxReceiveCount) && maxReceiveCount >= 2 && maxReceiveCount <= SQS_MAX_RECEIVE_COUNT)) {
    v.add(C.QUEUE_LIMITS, 'maxReceiveCount', `maxReceiveCount (${maxReceiveCount}) must be a whole number from 2 to ${SQS_MAX_RECEIVE_COUNT} (the SQS limit): a message must not be retried forever, and a spot interruption that hands a message back counts as a receive; 5 is a good start`);
  }
  if (retention !== undefined && !(retention >= SQS_MIN_RETENTION_SECONDS && retention <= SQS_MAX_RETENTION_SECONDS)) {
    v.add(C.QUEUE_LIMITS, 'retentionPeriod', `retentionPeriod (${retention} s) must be from ${SQS_MIN_RETENTION_SECONDS} s to ${SQS_MAX_RETENTION_SECONDS} s (14 days, the SQS limit)`);
  }
}
