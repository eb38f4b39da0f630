/**
 * The message an Azure VM's agent posts to the fallback controller's Storage queue on a `Preempt` notice
 * (lib/runtime/azure-controller-queue.ts writes it, lib/handlers/azure/fallback.ts reads it): the one contract both
 * sides share.
 */

/** `type` of every eviction message. */
export const EVICTION_MESSAGE_TYPE = 'spot-inference.azure.preempt';

/** One message on the controller's queue (JSON, base64-encoded in the queue as the Functions queue trigger reads it). */
export interface EvictionMessage {
  readonly type: typeof EVICTION_MESSAGE_TYPE;
  /** The evicted VM (the Scheduled Events `Resources` entry). */
  readonly vmName: string;
  /** The Scheduled Events `EventId`. */
  readonly eventId?: string;
  /** When the platform takes the VM (ISO 8601). */
  readonly deadline: string;
  /** When the agent saw the notice (ISO 8601). */
  readonly detectedAt: string;
}
