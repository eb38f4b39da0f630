/**
 * The queue a worker pulls from, reduced to the four calls every cloud's queue offers: receive a batch
 * (the messages become invisible to other consumers), extend a message's invisibility while working on
 * it, acknowledge (delete) it when done, and release it (make it visible again at once) when giving it up.
 *
 * SQS, Pub/Sub pull subscriptions and Service Bus peek-lock queues all fit; {@link InMemoryWorkQueue} is a
 * faithful in-process double for tests.
 */
export interface WorkQueue {
  /**
   * Take up to `maxMessages` messages, waiting up to `waitSeconds` for the first one (long poll).
   * Each returned message stays invisible to other consumers for the queue's visibility timeout.
   * Resolves with an empty list when nothing arrived in time or `signal` was aborted.
   */
  receive(maxMessages: number, waitSeconds: number, signal?: AbortSignal): Promise<WorkMessage[]>;
  /** Keep the message invisible for `visibilitySeconds` more, counted from now. */
  extend(message: WorkMessage, visibilitySeconds: number): Promise<void>;
  /** The message is done: remove it from the queue. */
  ack(message: WorkMessage): Promise<void>;
  /**
   * Give the message back: it becomes visible to other consumers after `delaySeconds` (0: at once;
   * on SQS `ChangeMessageVisibility` with `VisibilityTimeout: 0`).
   */
  release(message: WorkMessage, delaySeconds?: number): Promise<void>;
}

/** One received message. */
export interface WorkMessage {
  /** Stable id of the message (the same on every delivery). */
  readonly id: string;
  /** Handle of this delivery (SQS receipt handle, Pub/Sub ack id, Service Bus lock token). */
  readonly receipt: string;
  /** The payload. */
  readonly body: string;
  /** How many times the message has been delivered, this delivery included. @default - unknown */
  readonly receiveCount?: number;
  /** Queue-specific attributes. @default - none */
  readonly attributes?: Record<string, string>;
}

/** Thrown by {@link InMemoryWorkQueue} when a receipt is no longer the message's current one. */
export class StaleReceiptError extends Error {
  constructor(public readonly messageId: string, operation: string) {
    super(`${operation} of message ${messageId} refused: its receipt is stale (the message was released, expired or received again by another consumer)`);
    this.name = 'StaleReceiptError';
    Object.setPrototypeOf(this, StaleReceiptError.prototype);
  }
}

/** Options of {@link InMemoryWorkQueue}. */
export interface InMemoryWorkQueueOptions {
  /** Seconds a received message stays invisible unless extended. @default 30 */
  readonly visibilityTimeoutSeconds?: number;
  /**
   * Deliveries after which a message that was never acknowledged moves to `deadLetters` instead of
   * being delivered again (SQS redrive `maxReceiveCount`). @default - never
   */
  readonly maxReceiveCount?: number;
  /** Clock in milliseconds. @default Date.now (so Jest's modern fake timers drive it too) */
  readonly now?: () => number;
}

interface StoredMessage {
  readonly id: string;
  readonly body: string;
  visibleAt: number;
  receiveCount: number;
  receipt?: string;
}

/**
 * An in-process queue with SQS semantics: received messages are invisible until their visibility timeout
 * runs out, each delivery gets a new receipt, and calls with an older receipt fail with
 * {@link StaleReceiptError} (stricter than SQS, which silently ignores a stale delete: a test double should
 * make that bug visible). Use it to test your handlers and the worker without a cloud.
 */
export class InMemoryWorkQueue implements WorkQueue {
  /** Messages that reached `maxReceiveCount` without being acknowledged. */
  public readonly deadLetters: { id: string; body: string }[] = [];
  /** Every call made, in order: `receive:<id>`, `extend:<id>:<seconds>`, `ack:<id>`, `release:<id>:<seconds>`. */
  public readonly log: string[] = [];
  private readonly messages = new Map<string, StoredMessage>();
  private readonly visibilityMs: number;
  private readonly now: () => number;
  private seq = 0;
  private receipts = 0;
  private waiters = new Set<() => void>();

  constructor(private readonly options: InMemoryWorkQueueOptions = {}) {
    this.visibilityMs = (options.visibilityTimeoutSeconds ?? 30) * 1000;
    this.now = options.now ?? Date.now;
  }

  /** Put a message on the queue; returns its id. */
  public send(body: string, delaySeconds = 0): string {
    const id = `m-${++this.seq}`;
    this.messages.set(id, { id, body, visibleAt: this.now() + delaySeconds * 1000, receiveCount: 0 });
    this.wake();
    return id;
  }

  /** Messages still on the queue (visible or in flight). */
  public get size(): number {
    return this.messages.size;
  }

  /** Messages visible now. */
  public get visibleCount(): number {
    const t = this.now();
    return [...this.messages.values()].filter((m) => m.visibleAt <= t).length;
  }

  public async receive(maxMessages: number, waitSeconds: number, signal?: AbortSignal): Promise<WorkMessage[]> {
    const deadline = this.now() + waitSeconds * 1000;
    for (;;) {
      const taken = this.take(maxMessages);
      if (taken.length > 0 || signal?.aborted) return taken;
      const left = deadline - this.now();
      if (left <= 0) return [];
      // Wait for a send/release, for the next message to become visible, or for the poll to end.
      const nextVisible = Math.min(...[...this.messages.values()].map((m) => m.visibleAt - this.now()).filter((d) => d > 0), left);
      await this.waitFor(Math.max(1, Math.min(nextVisible, left)), signal);
    }
  }

  public async extend(message: WorkMessage, visibilitySeconds: number): Promise<void> {
    const m = this.current(message, 'extend');
    m.visibleAt = this.now() + visibilitySeconds * 1000;
    this.log.push(`extend:${message.id}:${visibilitySeconds}`);
  }

  public async ack(message: WorkMessage): Promise<void> {
    this.current(message, 'ack');
    this.messages.delete(message.id);
    this.log.push(`ack:${message.id}`);
  }

  public async release(message: WorkMessage, delaySeconds = 0): Promise<void> {
    const m = this.current(message, 'release');
    m.visibleAt = this.now() + delaySeconds * 1000;
    m.receipt = undefined;
    this.log.push(`release:${message.id}:${delaySeconds}`);
    this.wake();
  }

  private take(max: number): WorkMessage[] {
    const t = this.now();
    const out: WorkMessage[] = [];
    for (const m of this.messages.values()) {
      if (out.length >= max) break;
      if (m.visibleAt > t) continue;
      if (this.options.maxReceiveCount !== undefined && m.receiveCount >= this.options.maxReceiveCount) {
        this.messages.delete(m.id);
        this.deadLetters.push({ id: m.id, body: m.body });
        continue;
      }
      m.receiveCount += 1;
      m.receipt = `r-${++this.receipts}`;
      m.visibleAt = t + this.visibilityMs;
      this.log.push(`receive:${m.id}`);
      out.push({ id: m.id, receipt: m.receipt, body: m.body, receiveCount: m.receiveCount });
    }
    return out;
  }

  private current(message: WorkMessage, operation: string): StoredMessage {
    const m = this.messages.get(message.id);
    // A receipt is current while the message is invisible under it; once the timeout passed, another
    // consumer may have it (SQS keeps accepting the old handle only until the next receive).
    if (!m || m.receipt !== message.receipt || m.visibleAt <= this.now()) {
      throw new StaleReceiptError(message.id, operation);
    }
    return m;
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  private waitFor(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
