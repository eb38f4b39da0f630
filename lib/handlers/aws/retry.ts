/**
 * Retry with exponential backoff and full jitter, for AWS throttling and transient server errors.
 * The SDK's own retries run inside `client.send`; this layer adds retries the caller can see, bound
 * to a deadline and driven by an injected `sleep` (tests run on fake time).
 */

const THROTTLING_NAMES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
]);

/** Name (error code) of an AWS SDK error, or undefined. */
export function errorName(e: unknown): string | undefined {
  if (e && typeof e === 'object') {
    const o = e as { name?: unknown; Code?: unknown; code?: unknown };
    for (const v of [o.name, o.Code, o.code]) if (typeof v === 'string' && v !== 'Error') return v;
  }
  return undefined;
}

/** Message of an error, or its string form. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** True for throttling errors (any AWS service's spelling, or HTTP 429). */
export function isThrottling(e: unknown): boolean {
  const name = errorName(e);
  if (name && THROTTLING_NAMES.has(name)) return true;
  const status = (e as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return status === 429 || /rate exceeded/i.test(errorMessage(e));
}

/** True for errors worth retrying: throttling, and server-side (5xx) faults. */
export function isRetryable(e: unknown): boolean {
  if (isThrottling(e)) return true;
  const o = e as { $fault?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  const status = o?.$metadata?.httpStatusCode;
  return o?.$fault === 'server' || (status !== undefined && status >= 500);
}

/** How {@link withRetry} waits. */
export interface RetryOptions {
  /** Sleep for a number of milliseconds. */
  readonly sleep: (ms: number) => Promise<void>;
  /** Current time in epoch milliseconds. */
  readonly now: () => number;
  /** No retry is started if its wait would end after this time (epoch ms). */
  readonly deadline?: number;
  /** Attempts in all, the first included. Default 6. */
  readonly maxAttempts?: number;
  /** First backoff in ms; doubles each retry. Default 200. */
  readonly baseDelayMs?: number;
  /** Longest single backoff in ms. Default 5000. */
  readonly maxDelayMs?: number;
  /** Random number in [0, 1) for jitter. Default Math.random. */
  readonly random?: () => number;
  /** Called before each retry (for logging). */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/** Run `fn`, retrying retryable errors with exponential backoff and full jitter. */
export async function withRetry<T>(fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  const maxAttempts = o.maxAttempts ?? 6;
  const base = o.baseDelayMs ?? 200;
  const cap = o.maxDelayMs ?? 5000;
  const random = o.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isRetryable(e) || attempt >= maxAttempts) throw e;
      // Full jitter, but never less than a tenth of the exponential step so retries do not bunch up.
      const step = Math.min(cap, base * 2 ** (attempt - 1));
      const delay = Math.round(step * (0.1 + 0.9 * random()));
      if (o.deadline !== undefined && o.now() + delay > o.deadline) throw e;
      o.onRetry?.(e, attempt, delay);
      await o.sleep(delay);
    }
  }
}
