import { WorkMessage, WorkQueue } from './queue';

/** A peek-locked message (`ServiceBusReceivedMessage` of `@azure/service-bus`). */
export interface ServiceBusMessageLike {
  readonly messageId?: string | number | unknown;
  readonly body: unknown;
  readonly lockToken?: string;
  readonly deliveryCount?: number;
}

/**
 * The part of `@azure/service-bus`'s `ServiceBusReceiver` (peekLock mode) the adapter uses (pass the
 * receiver itself; no SDK dependency here).
 */
export interface ServiceBusReceiverLike {
  receiveMessages(maxMessageCount: number, options?: { maxWaitTimeInMs?: number; abortSignal?: AbortSignal }): Promise<ServiceBusMessageLike[]>;
  renewMessageLock(message: ServiceBusMessageLike): Promise<Date>;
  completeMessage(message: ServiceBusMessageLike): Promise<void>;
  abandonMessage(message: ServiceBusMessageLike): Promise<void>;
}

/** Options of {@link ServiceBusWorkQueue}. */
export interface ServiceBusWorkQueueOptions {
  /** `client.createReceiver(queue, { receiveMode: 'peekLock' })` from `@azure/service-bus`. */
  readonly receiver: ServiceBusReceiverLike;
}

/**
 * {@link WorkQueue} on an Azure Service Bus queue in peek-lock mode: `receiveMessages`, `renewMessageLock`
 * to extend (by the queue's lock duration, whatever `visibilitySeconds` says: set the queue's
 * `lockDuration` and the worker's `visibilityTimeoutSeconds` alike), `completeMessage` when done and
 * `abandonMessage` to release at once. A release delay is not supported by Service Bus and is ignored.
 */
export class ServiceBusWorkQueue implements WorkQueue {
  private readonly held = new Map<string, ServiceBusMessageLike>();

  constructor(private readonly options: ServiceBusWorkQueueOptions) {}

  public async receive(maxMessages: number, waitSeconds: number, signal?: AbortSignal): Promise<WorkMessage[]> {
    if (signal?.aborted) return [];
    let got: ServiceBusMessageLike[];
    try {
      got = await this.options.receiver.receiveMessages(Math.max(1, maxMessages), { maxWaitTimeInMs: Math.max(0, waitSeconds) * 1000, abortSignal: signal });
    } catch (e) {
      if (signal?.aborted) return [];
      throw e;
    }
    return got
      .filter((m) => m.lockToken)
      .map((m) => {
        this.held.set(m.lockToken!, m);
        return {
          id: m.messageId === undefined ? m.lockToken! : String(m.messageId),
          receipt: m.lockToken!,
          body: typeof m.body === 'string' ? m.body : Buffer.isBuffer(m.body) ? m.body.toString('utf8') : JSON.stringify(m.body),
          receiveCount: m.deliveryCount,
        };
      });
  }

  public async extend(message: WorkMessage): Promise<void> {
    await this.options.receiver.renewMessageLock(this.raw(message));
  }

  public async ack(message: WorkMessage): Promise<void> {
    await this.options.receiver.completeMessage(this.raw(message));
    this.held.delete(message.receipt);
  }

  public async release(message: WorkMessage): Promise<void> {
    await this.options.receiver.abandonMessage(this.raw(message));
    this.held.delete(message.receipt);
  }

  private raw(message: WorkMessage): ServiceBusMessageLike {
    const m = this.held.get(message.receipt);
    if (!m) throw new Error(`message ${message.id} is not held by this receiver (already completed or abandoned)`);
    return m;
  }
}
