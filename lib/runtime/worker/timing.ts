import { FleetSpecErrorCode, FleetSpecProblem, ProblemCollector } from '../../spec/errors';

/** The timing of a queue and the work its messages carry. */
export interface QueueTiming {
  /** The queue's visibility timeout, in seconds. */
  readonly visibilityTimeoutSeconds: number;
  /** How long one message takes to process, in seconds (the slowest you expect, not the average). */
  readonly expectedProcessingSeconds: number;
  /**
   * Whether the worker extends visibility while it works ({@link QueueWorker} does). Without it the
   * visibility timeout must cover the whole job.
   * @default true
   */
  readonly heartbeat?: boolean;
  /** Prop names to use in messages (a construct's own spelling). @default - the field names above */
  readonly propNames?: { readonly visibilityTimeout?: string; readonly expectedProcessing?: string };
  /** Values that are deploy-time tokens are skipped. @default - every value is known */
  readonly isUnresolved?: (value: unknown) => boolean;
}

/**
 * Problems of a queue's timing (empty when fine), code WORKLOAD. Queue-fleet constructs on every cloud
 * call it so the rules and messages are the same:
 * - without heartbeats, a visibility timeout shorter than the expected processing time makes every long
 *   message visible again mid-work, so a second worker processes it too;
 * - with heartbeats, the timeout must leave room for at least two heartbeats' worth of slack (>= 6 s),
 *   and stays the delay after which a crashed worker's message comes back, so it should not be hours.
 */
export function queueTimingProblems(t: QueueTiming): FleetSpecProblem[] {
  const v = new ProblemCollector();
  const W = FleetSpecErrorCode.WORKLOAD;
  const unresolved = t.isUnresolved ?? (() => false);
  const visName = t.propNames?.visibilityTimeout ?? 'visibilityTimeoutSeconds';
  const expName = t.propNames?.expectedProcessing ?? 'expectedProcessingSeconds';
  const vis = t.visibilityTimeoutSeconds;
  const exp = t.expectedProcessingSeconds;
  if (unresolved(vis) || unresolved(exp)) return [];
  if (!(vis >= 0 && vis <= 43200)) {
    v.add(W, visName, `${visName} (${vis} s) must be between 0 and 43200 s (12 hours, the SQS limit)`);
  }
  if (!(exp > 0)) {
    v.add(W, expName, `${expName} (${exp} s) must be above 0: give the slowest time one message takes`);
  }
  if (v.problems.length > 0) return v.problems;
  if (t.heartbeat === false) {
    if (vis < exp) {
      v.add(W, visName, `${visName} (${vis} s) is shorter than the job's expected duration ${expName} (${exp} s): without visibility heartbeats the message becomes visible mid-work and a second worker processes it too; raise ${visName} to at least ${Math.ceil(exp * 1.5)} s or extend visibility while working (QueueWorker does)`);
    }
  } else if (vis < 6) {
    v.add(W, visName, `${visName} (${vis} s) is too short to extend in time: heartbeats every third of it leave under 2 s per call; use at least 6 s (30-60 s is typical)`);
  }
  return v.problems;
}

/** What a queue fleet knows about its work, to derive the backlog per instance its autoscaler tracks. */
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
  const W = FleetSpecErrorCode.WORKLOAD;
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
