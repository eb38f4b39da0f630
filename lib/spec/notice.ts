import { CLOUD_LIMITS, Cloud } from './clouds';

/** Default seconds the agent keeps free between the end of draining and the notice deadline. */
export const DEFAULT_SAFETY_MARGIN_SECONDS = 5;

/**
 * Whether a replica keeps serving through its cloud's interruption notice (`serveThroughNotice`, on by default):
 * the agent keeps passing health checks until the latest moment the drain still fits before the deadline, then
 * drains as it would at once.
 *
 * - AWS: the 2-minute spot interruption notice; the instance runs normally until EC2 takes it.
 * - Azure: a Scheduled Events `Preempt`; the VM runs normally until its `NotBefore`.
 * - Google Cloud: no: the preemption notice is the ACPI soft-off, the operating system is already shutting down.
 */
export function servesThroughNotice(cloud: Cloud): boolean {
  return servedNoticeKind(cloud) !== undefined;
}

/**
 * The notice a replica serves through on its cloud, as the agent names its kind (`InterruptionKind` in
 * lib/runtime/events.ts): AWS `spot-interruption` (the 2-minute spot notice), Azure `preemption` (a Scheduled Events
 * `Preempt`); none on Google Cloud. Every other notice (a lifecycle termination, an Azure `Terminate`, a host
 * maintenance, SIGTERM) is drained at once.
 */
export function servedNoticeKind(cloud: Cloud): 'spot-interruption' | 'preemption' | undefined {
  if (cloud === Cloud.AWS) return 'spot-interruption';
  if (cloud === Cloud.AZURE) return 'preemption';
  return undefined;
}

/** The drain settings that decide how long a notified replica keeps serving. */
export interface NoticeServingInput {
  readonly cloud: Cloud;
  /** The fleet's `drainBudgetSeconds`. @default - the cloud's default drain budget */
  readonly drainBudgetSeconds?: number;
  /** The agent's `safetyMarginSeconds`. @default DEFAULT_SAFETY_MARGIN_SECONDS */
  readonly safetyMarginSeconds?: number;
  /** The notice, seconds. @default - the cloud's notice */
  readonly noticeSeconds?: number;
}

/**
 * Seconds a replica keeps serving after its interruption notice before the agent starts draining it:
 * `notice - drainBudget - safetyMargin` where the cloud lets it ({@link servesThroughNotice}), else 0. With the AWS
 * defaults 120 - 45 - 5 = 70 s; Azure 30 - 10 - 5 = 15 s. The agent starts the drain at
 * `deadline - drainBudget - safetyMargin`; the simulator counts the replica as serving for these seconds.
 */
export function noticeServingSeconds(input: NoticeServingInput): number {
  if (!servesThroughNotice(input.cloud)) return 0;
  const limits = CLOUD_LIMITS[input.cloud];
  const notice = input.noticeSeconds ?? limits.noticeSeconds;
  const budget = input.drainBudgetSeconds ?? limits.defaultDrainBudgetSeconds;
  const margin = input.safetyMarginSeconds ?? DEFAULT_SAFETY_MARGIN_SECONDS;
  return Math.max(0, notice - budget - margin);
}
