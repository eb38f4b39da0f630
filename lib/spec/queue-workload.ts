import { FleetSpecErrorCode, FleetSpecProblem, ProblemCollector } from './errors';

/**
 * What a queue-worker fleet knows about its work, in seconds, on every cloud: it sizes the queue's
 * visibility timeout / ack deadline / lock and the backlog per instance the autoscaler keeps. The Google Cloud
 * and Azure queue fleets take it as props; the AWS one takes the same values as `Duration`s.
 */
export interface QueueWorkloadSpec {
  /** The slowest time one message takes on one instance, in seconds. Sizes the queue's timeout and the scaling target. */
  readonly messageProcessingSeconds: number;
  /**
   * How long a message may wait before a worker starts it, in seconds. Backlog per instance the fleet keeps =
   * `acceptableLatencySeconds x messagesInParallel / messageProcessingSeconds`.
   */
  readonly acceptableLatencySeconds: number;
  /** Messages one instance processes at the same time. @default 1 */
  readonly messagesInParallel?: number;
  /**
   * Backlog per instance above which the fleet grows, in the queue's own measure (Pub/Sub undelivered
   * messages, Service Bus active messages); overrides the derived value.
   * @default - derived from the latency
   */
  readonly targetBacklogPerInstance?: number;
}

/** The inputs of {@link backlogPerInstanceTarget}: a queue workload and how the construct names its props. */
export interface BacklogTargetInput {
  /** How long a message may wait before a worker starts it, seconds. Undefined when it is a deploy-time token. */
  readonly acceptableLatencySeconds?: number;
  /** How long one message takes, seconds. Undefined when it is a deploy-time token. */
  readonly messageProcessingSeconds?: number;
  /** Messages one instance works on at once. */
  readonly messagesInParallel: number;
  /** The target the user gave instead of deriving it. @default - derived */
  readonly targetBacklogPerInstance?: number;
  /** The construct's spelling of its props, for messages. */
  readonly propNames: { readonly acceptableLatency: string; readonly messageProcessing: string };
  /** What one instance is called in messages (`instance`, `VM`). */
  readonly instanceNoun: string;
  /** Values that are deploy-time tokens are skipped. @default - every value is known */
  readonly isUnresolved?: (value: unknown) => boolean;
}

/**
 * The backlog per instance a queue fleet scales on, as AWS documents it for SQS and the same on every
 * cloud: `acceptable latency / seconds per message x messages in parallel` (how many messages may wait
 * per instance and still start in time), or the user's `targetBacklogPerInstance`. Returns the target
 * (undefined when it cannot be known at synth) and the problems found, code WORKLOAD.
 */
export function backlogPerInstanceTarget(input: BacklogTargetInput): { target?: number; problems: FleetSpecProblem[] } {
  const v = new ProblemCollector();
  const W = FleetSpecErrorCode.QUEUE_SCALING_TARGET;
  const unresolved = input.isUnresolved ?? (() => false);
  const known = (x: unknown): x is number => typeof x === 'number' && !unresolved(x);
  const { acceptableLatencySeconds: latency, messageProcessingSeconds: processing, messagesInParallel: parallel } = input;
  const { acceptableLatency: latencyProp, messageProcessing: processingProp } = input.propNames;
  const noun = input.instanceNoun;

  const parallelOk = !known(parallel) || (Number.isInteger(parallel) && parallel >= 1);
  if (!parallelOk) {
    v.add(W, 'messagesInParallel', `messagesInParallel (${parallel}) must be a whole number, 1 or more (messages one ${noun} works on at once)`);
  }
  if (known(latency) && !(latency > 0)) {
    v.add(W, latencyProp, `${latencyProp} (${latency} s) must be above 0: how long a message may wait before a worker starts it`);
  }
  let target = input.targetBacklogPerInstance;
  if (target === undefined && known(latency) && known(processing) && latency > 0 && processing > 0 && known(parallel) && parallelOk) {
    target = Math.floor(((latency * parallel) / processing) * 100) / 100;
    if (target < 1) {
      v.add(W, latencyProp, `acceptable backlog per instance is ${target} (${latencyProp} ${latency} s x messagesInParallel ${parallel} / ${processingProp} ${processing} s), below 1 message: a ${noun} cannot take a message within ${latencyProp}; raise ${latencyProp} to at least ${Math.ceil(processing / parallel)} s, raise messagesInParallel, or set targetBacklogPerInstance`);
    }
  } else if (known(target) && !(target >= 1)) {
    v.add(W, 'targetBacklogPerInstance', `targetBacklogPerInstance (${target}) must be at least 1 message per ${noun}; below it the fleet would keep a ${noun} per fraction of a message`);
  } else if (target === undefined && parallelOk && !(known(latency) && known(processing) && known(parallel))) {
    v.add(W, 'targetBacklogPerInstance', `${latencyProp}, ${processingProp} or messagesInParallel is a deploy-time token, so the scaling target cannot be derived at synth; set targetBacklogPerInstance`);
  }
  return { target: v.problems.length === 0 ? target : undefined, problems: v.problems };
}
