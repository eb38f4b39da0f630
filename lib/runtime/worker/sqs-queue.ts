import type { SQSClient } from '@aws-sdk/client-sqs';
import { AwsSdkClient } from '../aws-sdk-client';
import { WorkMessage, WorkQueue } from './queue';

/** Options of {@link SqsWorkQueue}. */
export interface SqsWorkQueueOptions {
  /** The SQS client (`new SQSClient({})`); injected so tests can mock it and so the region/credentials are yours. */
  readonly client: AwsSdkClient;
  /** URL of the queue. */
  readonly queueUrl: string;
  /**
   * Visibility timeout asked for on each receive, in seconds.
   * @default - the queue's own visibility timeout
   */
  readonly visibilityTimeoutSeconds?: number;
}

type SqsModule = typeof import('@aws-sdk/client-sqs');
let sqsModule: SqsModule | undefined;
/** Loaded on first use, so that users of the other queues do not need the AWS SDK installed. */
function sqs(): SqsModule {
  sqsModule ??= require('@aws-sdk/client-sqs') as SqsModule;
  return sqsModule;
}

/**
 * {@link WorkQueue} on Amazon SQS: `ReceiveMessage` (long poll, at most 10 per call), `ChangeMessageVisibility`
 * to extend, `DeleteMessage` to acknowledge and `ChangeMessageVisibility` with `VisibilityTimeout: 0` to
 * release. The worker's role needs `sqs:ReceiveMessage`, `sqs:ChangeMessageVisibility` and
 * `sqs:DeleteMessage` on the queue (and `kms:Decrypt` on its key when it is KMS-encrypted).
 */
export class SqsWorkQueue implements WorkQueue {
  constructor(private readonly options: SqsWorkQueueOptions) {}

  /** The client with the SDK's types (the option is structural so the declarations need no SDK). */
  private get client(): SQSClient {
    return this.options.client as SQSClient;
  }

  public async receive(maxMessages: number, waitSeconds: number, signal?: AbortSignal): Promise<WorkMessage[]> {
    const { ReceiveMessageCommand } = sqs();
    try {
      const out = await this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.options.queueUrl,
          MaxNumberOfMessages: Math.max(1, Math.min(10, maxMessages)),
          WaitTimeSeconds: Math.max(0, Math.min(20, Math.round(waitSeconds))),
          VisibilityTimeout: this.options.visibilityTimeoutSeconds,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
        { abortSignal: signal },
      );
      return (out.Messages ?? [])
        .filter((m) => m.ReceiptHandle !== undefined && m.MessageId !== undefined)
        .map((m) => ({
          id: m.MessageId!,
          receipt: m.ReceiptHandle!,
          body: m.Body ?? '',
          receiveCount: m.Attributes?.ApproximateReceiveCount ? Number(m.Attributes.ApproximateReceiveCount) : undefined,
          attributes: m.Attributes as Record<string, string> | undefined,
        }));
    } catch (e) {
      // An aborted long poll is the normal way to stop: nothing was received.
      if (signal?.aborted) return [];
      throw e;
    }
  }

  public async extend(message: WorkMessage, visibilitySeconds: number): Promise<void> {
    await this.changeVisibility(message, visibilitySeconds);
  }

  public async ack(message: WorkMessage): Promise<void> {
    const { DeleteMessageCommand } = sqs();
    await this.client.send(new DeleteMessageCommand({ QueueUrl: this.options.queueUrl, ReceiptHandle: message.receipt }));
  }

  public async release(message: WorkMessage, delaySeconds = 0): Promise<void> {
    await this.changeVisibility(message, delaySeconds);
  }

  private async changeVisibility(message: WorkMessage, seconds: number): Promise<void> {
    const { ChangeMessageVisibilityCommand } = sqs();
    await this.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.options.queueUrl,
        ReceiptHandle: message.receipt,
        // SQS caps a message's total invisibility at 12 hours.
        VisibilityTimeout: Math.max(0, Math.min(43200, Math.round(seconds))),
      }),
    );
  }
}
