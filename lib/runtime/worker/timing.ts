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
 * Problems of a queue's timing (empty when fine), codes QUEUE_TIMING and QUEUE_LIMITS (family WORKLOAD). Queue-fleet constructs on every cloud
 * call it so the rules and messages are the same:
 * - without heartbeats, a visibility timeout shorter than the expected processing time makes every long
 *   message visible again mid-work, so a second worker processes it too;
 * - with heartbeats, the timeout must leave room for at least two heartbeats' worth of slack (>= 6 s),
 *   and stays the delay after which a crashed worker's message comes back, so it should not be hours.
 */
export function queueTimingProblems(t: QueueTiming): FleetSpecProblem[] {
  const v = new ProblemCollector();
  const unresolved = t.isUnresolved ?? (() => false);
  const visName = t.propNames?.visibilityTimeout ?? 'visibilityTimeoutSeconds';
  const expName = t.propNames?.expectedProcessing ?? 'expectedProcessingSeconds';
  const vis = t.visibilityTimeoutSeconds;
  const exp = t.expectedProcessingSeconds;
  if (unresolved(vis) || unresolved(exp)) return [];
  if (!(vis >= 0 && vis <= 43200)) {
    v.add(FleetSpecErrorCode.QUEUE_LIMITS, visName, `${visName} (${vis} s) must be between 0 and 43200 s (12 hours, the SQS limit)`);
  }
  if (!(exp > 0)) {
    v.add(FleetSpecErrorCode.QUEUE_TIMING, expName, `${expName} (${exp} s) must be above 0: give the slowest time one message takes`);
  }
  if (v.problems.length > 0) return v.problems;
  if (t.heartbeat === false) {
    if (vis < exp) {
      v.add(FleetSpecErrorCode.QUEUE_TIMING, visName, `${visName} (${vis} s) is shorter than the job's expected duration ${expName} (${exp} s): without visibility heartbeats the message becomes visible mid-work and a second worker processes it too; raise ${visName} to at least ${Math.ceil(exp * 1.5)} s or extend visibility while working (QueueWorker does)`);
    }
  } else if (vis < 6) {
    v.add(FleetSpecErrorCode.QUEUE_TIMING, visName, `${visName} (${vis} s) is too short to extend in time: heartbeats every third of it leave under 2 s per call; use at least 6 s (30-60 s is typical)`);
  }
  return v.problems;
}
