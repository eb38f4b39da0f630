import { Cloud } from '../spec/clouds';

/** What the cloud announced. */
export enum InterruptionKind {
  /** AWS `spot/instance-action` (stop, terminate or hibernate at `time`). */
  SPOT_INTERRUPTION = 'spot-interruption',
  /** AWS rebalance recommendation: elevated risk, no deadline. Advisory. */
  REBALANCE_RECOMMENDATION = 'rebalance-recommendation',
  /** AWS `autoscaling/target-lifecycle-state` is `Terminated` (scale-in, rebalancing, spot). */
  LIFECYCLE_TERMINATION = 'lifecycle-termination',
  /** Google Cloud `instance/preempted` is TRUE, or an Azure `Preempt` scheduled event. */
  PREEMPTION = 'preemption',
  /** Google Cloud `instance/maintenance-event` announces a terminating host maintenance. */
  MAINTENANCE = 'maintenance',
  /** An Azure `Terminate` scheduled event (scale-in, deletion). */
  TERMINATION = 'termination',
  /** The operating system is shutting down (SIGTERM: ACPI soft-off on Google Cloud). */
  SHUTDOWN = 'shutdown',
}

/** One interruption notice, the same shape on every cloud. */
export interface InterruptionEvent {
  /** The cloud that sent it. */
  readonly cloud: Cloud;
  /** What it announced. */
  readonly kind: InterruptionKind;
  /** The instance (AWS instance id, Google Cloud instance id, Azure VM name). Empty when unknown. */
  readonly instanceId: string;
  /** When the cloud takes the instance (estimated where the cloud gives no time). */
  readonly deadline: Date;
  /** When the agent saw it. */
  readonly detectedAt: Date;
  /** True for warnings that do not mean the instance goes away (AWS rebalance recommendation). */
  readonly advisory?: boolean;
  /** The cloud's id of the event (Azure `EventId`), used to acknowledge it. */
  readonly eventId?: string;
  /** The raw value the metadata service returned, for the log. */
  readonly detail?: string;
}

/** True when the notice means the instance is going away and should be drained. */
export function isTerminal(event: InterruptionEvent): boolean {
  return !event.advisory;
}
