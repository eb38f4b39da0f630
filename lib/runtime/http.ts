import * as http from 'node:http';

/** A response of {@link httpRequest}. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** Options of {@link httpRequest}. */
export interface HttpRequestOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Whole-request timeout in milliseconds. Default 2000. */
  readonly timeoutMs?: number;
  /** Abort the request. */
  readonly signal?: AbortSignal;
  /** Largest body accepted, in bytes; a bigger one is an error (a confused or hostile endpoint). Default 256 KiB. */
  readonly maxBodyBytes?: number;
}

/** Error of {@link httpRequest}: network failure, timeout, oversized body or abort. */
export class HttpRequestError extends Error {
  constructor(message: string, public readonly code: string) {
    super(message);
    this.name = 'HttpRequestError';
  }
}

/**
 * A tiny HTTP/1.1 client on `node:http` (plain http only: metadata services and loopback servers), with a
 * hard timeout and an abort signal. No keep-alive: each call is one short connection, so a half-dead
 * metadata service can never wedge a pooled socket.
 */
export function httpRequest(url: string, options: HttpRequestOptions = {}): Promise<HttpResponse> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const maxBody = options.maxBodyBytes ?? 256 * 1024;
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new HttpRequestError(`aborted: ${url}`, 'ABORTED'));
      return;
    }
    let settled = false;
    const finish = (err: Error | undefined, res?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(res!);
    };
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    let req: http.ClientRequest;
    try {
      req = http.request(url, { method: options.method ?? 'GET', headers, agent: false });
    } catch (err) {
      // Invalid URL or header value: nothing went on the wire.
      settled = true;
      reject(new HttpRequestError(`${(err as Error).message}: ${url}`, 'EINVALID'));
      return;
    }
    const timer = setTimeout(() => {
      finish(new HttpRequestError(`timed out after ${timeoutMs} ms: ${options.method ?? 'GET'} ${url}`, 'TIMEOUT'));
      req.destroy();
    }, timeoutMs);
    const onAbort = () => {
      finish(new HttpRequestError(`aborted: ${url}`, 'ABORTED'));
      req.destroy();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e: NodeJS.ErrnoException) => finish(new HttpRequestError(`${e.message}: ${options.method ?? 'GET'} ${url}`, e.code ?? 'ENETWORK')));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBody) {
          finish(new HttpRequestError(`response body over ${maxBody} bytes: ${url}`, 'BODY_TOO_LARGE'));
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => finish(new HttpRequestError(`${e.message}: ${url}`, 'ENETWORK')));
      res.on('aborted', () => finish(new HttpRequestError(`response aborted: ${url}`, 'ECONNRESET')));
    });
    req.end(options.body);
  });
}

/** Sleep that ends early (resolving, not rejecting) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) {
      resolve();
      return;
    }
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Exponential backoff with full jitter for retrying a flaky metadata service. `next()` returns the delay
 * to wait after one more failure; `reset()` after a success.
 */
export class Backoff {
  private failures = 0;
  constructor(private readonly baseMs: number, private readonly maxMs: number, private readonly random: () => number = Math.random) {}

  /** Consecutive failures so far. */
  public get count(): number {
    return this.failures;
  }

  /** Delay before the next attempt, after one more failure. */
  public next(): number {
    this.failures++;
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.failures - 1, 20));
    return Math.max(this.baseMs / 2, Math.round(ceiling * this.random()));
  }

  /** Forget the failures (after a success). */
  public reset(): void {
    this.failures = 0;
  }
}
