import { FleetSpecErrorCode, ProblemCollector } from '../../spec/errors';
import { WorkMessage, WorkQueue } from './queue';

/** What a handler gets besides the message. */
export interface MessageContext {
  /**
   * Aborted when the worker gives this message up: the interruption deadline passed (the message has
   * been or is being released to another worker) or the message's visibility could not be extended
   * (another worker may have it). A handler should stop and must not commit results once it is aborted.
   */
  readonly signal: AbortSignal;
  /** True once an interruption notice arrived (the handler may hurry: checkpoint, skip optional work). */
  readonly interrupted: () => boolean;
}

/** Processes one message. Resolve when done (the message is acknowledged); throw to fail it. */
export type MessageHandler = (message: WorkMessage, context: MessageContext) => Promise<void>;

/** What happened, for logs and metrics. */
export interface WorkerEvent {
  /** `received`, `extended`, `acked`, `released`, `failed`, `lost` (an extend or ack failed), `interrupted`, `stopped`. */
  readonly type: 'received' | 'extended' | 'acked' | 'released' | 'failed' | 'lost' | 'interrupted' | 'stopped';
  /** The message, when the event is about one. */
  readonly messageId?: string;
  /** The error, for `failed` and `lost`. */
  readonly error?: unknown;
}

/** Options of {@link QueueWorker}. */
export interface QueueWorkerOptions {
  /** Where messages come from. */
  readonly queue: WorkQueue;
  /** What to do with each message. */
  readonly handler: MessageHandler;
  /**
   * Seconds each heartbeat keeps the message invisible (the queue's visibility timeout is a good value).
   * A message is extended every `heartbeatIntervalSeconds` while its handler runs, so a job may take far
   * longer than this; a crashed worker's message comes back after at most this long.
   */
  readonly visibilityTimeoutSeconds: number;
  /** Seconds between visibility extensions. At most half of `visibilityTimeoutSeconds`. @default - a third of visibilityTimeoutSeconds */
  readonly heartbeatIntervalSeconds?: number;
  /**
   * The interruption notice: once aborted, the worker takes no more messages, lets the messages in hand
   * finish for up to `finishWithinSeconds`, then releases the rest so other workers get them at once.
   * Wire it to `watchInterruptions()` from the spot agent runtime, or to {@link abortOnProcessSignals}.
   * @default - never interrupted (stop with `stop()`)
   */
  readonly interruption?: AbortSignal;
  /**
   * Seconds a message in hand may still take after the interruption notice before it is released.
   * Keep it well inside the cloud's notice (120 s on AWS, 30 s on Google Cloud and Azure).
   * @default 20
   */
  readonly finishWithinSeconds?: number;
  /** Messages processed at the same time. @default 1 */
  readonly concurrency?: number;
  /** Long-poll wait of each receive, 0-20 seconds. @default 20 */
  readonly waitTimeSeconds?: number;
  /**
   * When a handler throws: seconds until the message is visible again (released with this delay).
   * @default - not released: it comes back when its visibility timeout runs out, and the queue's
   * redrive policy (max receive count) moves a poison message to the dead-letter queue
   */
  readonly retryDelaySeconds?: number;
  /** Stop (resolve `run()`) when a receive returns nothing and no message is in hand. @default false */
  readonly stopWhenIdle?: boolean;
  /** Called on every event. @default - no callback */
  readonly onEvent?: (event: WorkerEvent) => void;
}

/** Counts returned by {@link QueueWorker.run}. */
export interface WorkerResult {
  /** Messages handled and acknowledged. */
  readonly acked: number;
  /** Messages handed back (interruption) so that other workers process them. */
  readonly released: number;
  /** Messages whose handler threw. */
  readonly failed: number;
  /** Messages lost to another consumer (an extend or ack was refused). */
  readonly lost: number;
  /** Visibility extensions made. */
  readonly extensions: number;
  /** True when the worker stopped because of the interruption notice. */
  readonly interrupted: boolean;
}

/** Check {@link QueueWorkerOptions}; throws a FleetSpecError (family WORKLOAD: QUEUE_LIMITS, QUEUE_TIMING) naming every problem. */
export function validateQueueWorkerOptions(o: QueueWorkerOptions): void {
  const v = new ProblemCollector();
  const vis = o.visibilityTimeoutSeconds;
  if (!Number.isInteger(vis) || vis < 1 || vis > 43200) {
    v.add(FleetSpecErrorCode.QUEUE_LIMITS, 'visibilityTimeoutSeconds', `visibilityTimeoutSeconds (${vis}) must be a whole number of seconds from 1 to 43200 (12 hours, the SQS maximum); use the queue's visibility timeout, e.g. 60`);
  }
  const hb = o.heartbeatIntervalSeconds;
  if (hb !== undefined && Number.isFinite(vis) && !(hb > 0 && hb <= vis / 2)) {
    v.add(FleetSpecErrorCode.QUEUE_TIMING, 'heartbeatIntervalSeconds', `heartbeatIntervalSeconds (${hb}) must be above 0 and at most half of visibilityTimeoutSeconds (${vis} s), so that a late or failed extension is retried before the message becomes visible to other workers; use ${Math.max(1, Math.floor(vis / 3))} or leave it out`);
  }
  const fin = o.finishWithinSeconds;
  if (fin !== undefined && !(fin >= 0 && fin <= 110)) {
    v.add(FleetSpecErrorCode.QUEUE_TIMING, 'finishWithinSeconds', `finishWithinSeconds (${fin}) must be between 0 and 110: the message must be released before the instance goes (AWS gives 120 s notice, Google Cloud and Azure 30 s); use e.g. 20`);
  }
  const c = o.concurrency;
  if (c !== undefined && !(Number.isInteger(c) && c >= 1)) {
    v.add(FleetSpecErrorCode.QUEUE_LIMITS, 'concurrency', `concurrency (${c}) must be a whole number, 1 or more`);
  }
  const w = o.waitTimeSeconds;
  if (w !== undefined && !(w >= 0 && w <= 20)) {
    v.add(FleetSpecErrorCode.QUEUE_LIMITS, 'waitTimeSeconds', `waitTimeSeconds (${w}) must be between 0 and 20 (the SQS long-poll limit); use 20`);
  }
  const r = o.retryDelaySeconds;
  if (r !== undefined && !(r >= 0 && r <= 43200)) {
    v.add(FleetSpecErrorCode.QUEUE_LIMITS, 'retryDelaySeconds', `retryDelaySeconds (${r}) must be between 0 and 43200 seconds`);
  }
  v.throwIfAny('QueueWorker');
}

/**
 * A queue worker loop for spot instances. It takes messages (up to `concurrency` at a time), keeps each
 * invisible with heartbeats while its handler runs, acknowledges it when the handler resolves and, on
 * the interruption notice, stops taking messages, lets the ones in hand finish within
 * `finishWithinSeconds` and releases the others (visibility 0) so another worker gets them at once.
 * A reclaimed instance costs a delay, never a lost or doubly-acknowledged message.
 *
 * @example
 * const worker = new QueueWorker({
 *   queue: new SqsWorkQueue({ client: new SQSClient({}), queueUrl }),
 *   visibilityTimeoutSeconds: 60,
 *   interruption: abortOnProcessSignals().signal,
 *   handler: async (m, { signal }) => { const out = await infer(m.body, signal); await save(out); },
 * });
 * await worker.run();
 */
export class QueueWorker {
  private readonly concurrency: number;
  private readonly heartbeatMs: number;
  private readonly finishMs: number;
  private readonly waitSeconds: number;
  private readonly stopper = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  private counts = { acked: 0, released: 0, failed: 0, lost: 0, extensions: 0 };
  private running = false;

  constructor(private readonly options: QueueWorkerOptions) {
    validateQueueWorkerOptions(options);
    this.concurrency = options.concurrency ?? 1;
    this.heartbeatMs = (options.heartbeatIntervalSeconds ?? options.visibilityTimeoutSeconds / 3) * 1000;
    this.finishMs = (options.finishWithinSeconds ?? 20) * 1000;
    this.waitSeconds = options.waitTimeSeconds ?? 20;
  }

  /** True once the interruption notice arrived. */
  public get interrupted(): boolean {
    return this.options.interruption?.aborted ?? false;
  }

  /** Stop taking messages; messages in hand finish. `run()` resolves once they are done. */
  public stop(): void {
    this.stopper.abort();
  }

  /** Run until stopped, interrupted, or (with `stopWhenIdle`) the queue is empty. */
  public async run(): Promise<WorkerResult> {
    if (this.running) throw new Error('QueueWorker.run() is already running');
    this.running = true;
    const interruption = this.options.interruption;
    const onInterrupt = (): void => this.emit({ type: 'interrupted' });
    interruption?.addEventListener('abort', onInterrupt, { once: true });
    const stopReceiving = anySignal([this.stopper.signal, interruption]);
    try {
      while (!stopReceiving.aborted) {
        if (this.inFlight.size >= this.concurrency) {
          await Promise.race(this.inFlight);
          continue;
        }
        const messages = await this.options.queue.receive(this.concurrency - this.inFlight.size, this.waitSeconds, stopReceiving);
        if (stopReceiving.aborted) {
          // Received while the notice came in: hand them straight back.
          await Promise.all(messages.map((m) => this.release(m)));
          break;
        }
        for (const m of messages) {
          this.emit({ type: 'received', messageId: m.id });
          const p: Promise<void> = this.process(m).finally(() => this.inFlight.delete(p));
          this.inFlight.add(p);
        }
        if (messages.length === 0) {
          if (this.options.stopWhenIdle && this.inFlight.size === 0) break;
          // A short poll (waitTimeSeconds 0) that found nothing: pause instead of spinning.
          if (this.waitSeconds === 0) await Promise.race([pause(IDLE_PAUSE_MS, stopReceiving), ...this.inFlight]);
        }
      }
      await Promise.all(this.inFlight);
    } finally {
      interruption?.removeEventListener('abort', onInterrupt);
      this.running = false;
    }
    this.emit({ type: 'stopped' });
    return { ...this.counts, interrupted: this.interrupted };
  }

  private async process(message: WorkMessage): Promise<void> {
    const { queue, handler, interruption } = this.options;
    const giveUp = new AbortController();
    let deadline: NodeJS.Timeout | undefined;
    let lost = false;
    let extending: Promise<void> = Promise.resolve();

    const givenUp = new Promise<'deadline' | 'lost'>((resolve) => {
      giveUp.signal.addEventListener('abort', () => resolve(lost ? 'lost' : 'deadline'), { once: true });
    });
    const heartbeat = setInterval(() => {
      extending = queue.extend(message, this.options.visibilityTimeoutSeconds).then(
        () => {
          this.counts.extensions++;
          this.emit({ type: 'extended', messageId: message.id });
        },
        (error: unknown) => {
          // Another consumer may have the message now: stop, and do not acknowledge a stale delivery.
          if (giveUp.signal.aborted) return;
          lost = true;
          this.emit({ type: 'lost', messageId: message.id, error });
          giveUp.abort();
        },
      );
    }, this.heartbeatMs);
    const startDeadline = (): void => {
      deadline = setTimeout(() => giveUp.abort(), this.finishMs);
    };
    if (interruption?.aborted) startDeadline();
    else interruption?.addEventListener('abort', startDeadline, { once: true });

    // Through a promise chain so that a handler throwing synchronously fails the message, not the loop.
    const handled = Promise.resolve()
      .then(() => handler(message, { signal: giveUp.signal, interrupted: () => this.interrupted }))
      .then(
        () => ({ ok: true as const }),
        (error: unknown) => ({ ok: false as const, error }),
      );
    const outcome = await Promise.race([handled, givenUp]);
    clearInterval(heartbeat);
    clearTimeout(deadline);
    interruption?.removeEventListener('abort', startDeadline);
    await extending;

    if (outcome === 'lost') {
      this.counts.lost++;
      return;
    }
    if (outcome === 'deadline') {
      // The handler did not finish in time: whatever it does later is discarded (it is never acknowledged).
      await this.release(message);
      return;
    }
    if (lost || giveUp.signal.aborted) {
      this.counts.lost++;
      return;
    }
    giveUp.abort(); // the handler is done; nothing may use this delivery any more
    if (outcome.ok) {
      try {
        await queue.ack(message);
        this.counts.acked++;
        this.emit({ type: 'acked', messageId: message.id });
      } catch (error) {
        this.counts.lost++;
        this.emit({ type: 'lost', messageId: message.id, error });
      }
      return;
    }
    this.counts.failed++;
    this.emit({ type: 'failed', messageId: message.id, error: outcome.error });
    if (this.options.retryDelaySeconds !== undefined) {
      await queue.release(message, this.options.retryDelaySeconds).catch(() => undefined);
    }
  }

  private async release(message: WorkMessage): Promise<void> {
    try {
      await this.options.queue.release(message, 0);
      this.counts.released++;
      this.emit({ type: 'released', messageId: message.id });
    } catch (error) {
      // Already visible again or taken by another consumer: it is not ours to release.
      this.counts.lost++;
      this.emit({ type: 'lost', messageId: message.id, error });
    }
  }

  private emit(event: WorkerEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // A faulty callback must not break the loop.
    }
  }
}

const IDLE_PAUSE_MS = 100;

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** An AbortSignal aborted when any of `signals` is. */
export function anySignal(signals: (AbortSignal | undefined)[]): AbortSignal {
  const controller = new AbortController();
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) {
      controller.abort();
      break;
    }
    s.addEventListener('abort', () => controller.abort(), { once: true });
  }
  return controller.signal;
}

/**
 * An AbortSignal aborted when the process receives one of `signals` (default SIGTERM and SIGINT). On
 * AWS Batch, ECS and Kubernetes a reclaimed instance's containers get SIGTERM first; on Google Cloud the
 * ACPI soft-off reaches processes as SIGTERM too. Call `dispose()` to remove the listeners.
 */
export function abortOnProcessSignals(signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  for (const s of signals) process.once(s, onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const s of signals) process.removeListener(s, onSignal);
    },
  };
}
