import { Cloud } from '../spec/clouds';
import { InterruptionEvent } from './events';
import { Logger } from './log';

/** What a watcher gets while it runs. */
export interface WatcherContext {
  /** Stop watching when aborted; `run` then resolves. */
  readonly signal: AbortSignal;
  /** Where the watcher logs. */
  readonly log: Logger;
  /** Called once per new notice. */
  readonly emit: (event: InterruptionEvent) => void;
}

/**
 * Watches one cloud's metadata service for interruption notices. `run` loops until the signal aborts and
 * never rejects on network errors, timeouts or garbage: it backs off and retries.
 */
export interface InterruptionWatcher {
  readonly cloud: Cloud;
  run(context: WatcherContext): Promise<void>;
}

/**
 * Logs the first failure of a streak, each change of error and every 30th repeat instead of every retry, and says when the
 * metadata service answers again. A flaky service makes a few log lines, not a flood.
 */
export class FailureReporter {
  private failures = 0;
  private lastMessage = '';
  constructor(private readonly log: Logger, private readonly what: string) {}

  public failed(err: unknown, fields: Record<string, unknown> = {}): void {
    this.failures++;
    const message = describeError(err);
    const changed = message !== this.lastMessage;
    this.lastMessage = message;
    if (this.failures === 1 || changed || this.failures % 30 === 0) {
      this.log.warn(`${this.what} failed; retrying`, { error: message, failures: this.failures, ...fields });
    }
  }

  public succeeded(): void {
    if (this.failures > 0) this.log.info(`${this.what} answers again`, { failures: this.failures });
    this.failures = 0;
    this.lastMessage = '';
  }
}

/** A short description of an error for the log. */
export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Error for a response that is not what the documented metadata service sends. */
export class UnexpectedResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnexpectedResponseError';
  }
}

/** Removes a trailing slash so paths can be appended. */
export function trimEndpoint(endpoint: string): string {
  return endpoint.replace(/\/+$/, '');
}
