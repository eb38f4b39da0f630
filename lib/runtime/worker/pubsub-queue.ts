import { WorkMessage, WorkQueue } from './queue';

/** A message of a Pub/Sub pull response (`google.pubsub.v1.IReceivedMessage`). */
export interface PubSubReceivedMessageLike {
  readonly ackId?: string | null;
  readonly message?: {
    readonly messageId?: string | null;
    readonly data?: Uint8Array | string | null;
    readonly attributes?: { [k: string]: string } | null;
  } | null;
  readonly deliveryAttempt?: number | null;
}

/**
 * The part of `@google-cloud/pubsub`'s `v1.SubscriberClient` the adapter uses (pass the client itself;
 * no SDK dependency here).
 */
export interface PubSubSubscriberLike {
  pull(
    request: { subscription: string; maxMessages: number },
    options?: { timeout?: number },
  ): Promise<[{ receivedMessages?: PubSubReceivedMessageLike[] | null }, ...unknown[]]>;
  modifyAckDeadline(request: { subscription: string; ackIds: string[]; ackDeadlineSeconds: number }): Promise<unknown>;
  acknowledge(request: { subscription: string; ackIds: string[] }): Promise<unknown>;
}

/** Options of {@link PubSubWorkQueue}. */
export interface PubSubWorkQueueOptions {
  /** `new v1.SubscriberClient()` from `@google-cloud/pubsub` (or any object of that shape). */
  readonly client: PubSubSubscriberLike;
  /** Full subscription name: `projects/<project>/subscriptions/<name>`. */
  readonly subscription: string;
}

/**
 * {@link WorkQueue} on a Google Cloud Pub/Sub pull subscription: `pull`, `modifyAckDeadline` to extend
 * (at most 600 s, the Pub/Sub limit) and to release (deadline 0), `acknowledge` when done. The worker's
 * service account needs `roles/pubsub.subscriber` on the subscription.
 */
export class PubSubWorkQueue implements WorkQueue {
  constructor(private readonly options: PubSubWorkQueueOptions) {}

  public async receive(maxMessages: number, waitSeconds: number, signal?: AbortSignal): Promise<WorkMessage[]> {
    if (signal?.aborted) return [];
    try {
      const [response] = await this.options.client.pull(
        { subscription: this.options.subscription, maxMessages: Math.max(1, maxMessages) },
        { timeout: Math.max(1, waitSeconds) * 1000 },
      );
      return (response.receivedMessages ?? [])
        .filter((m) => m.ackId)
        .map((m) => ({
          id: m.message?.messageId ?? m.ackId!,
          receipt: m.ackId!,
          body: typeof m.message?.data === 'string' ? m.message.data : Buffer.from(m.message?.data ?? new Uint8Array()).toString('utf8'),
          receiveCount: m.deliveryAttempt ?? undefined,
          attributes: m.message?.attributes ?? undefined,
        }));
    } catch (e) {
      // A pull that times out with nothing to deliver is DEADLINE_EXCEEDED (gRPC code 4): no message.
      if ((e as { code?: number }).code === 4 || signal?.aborted) return [];
      throw e;
    }
  }

  public async extend(message: WorkMessage, visibilitySeconds: number): Promise<void> {
    await this.modify(message, Math.min(600, Math.max(10, Math.round(visibilitySeconds))));
  }

  public async ack(message: WorkMessage): Promise<void> {
    await this.options.client.acknowledge({ subscription: this.options.subscription, ackIds: [message.receipt] });
  }

  public async release(message: WorkMessage, delaySeconds = 0): Promise<void> {
    await this.modify(message, Math.min(600, Math.max(0, Math.round(delaySeconds))));
  }

  private async modify(message: WorkMessage, seconds: number): Promise<void> {
    await this.options.client.modifyAckDeadline({ subscription: this.options.subscription, ackIds: [message.receipt], ackDeadlineSeconds: seconds });
  }
}
