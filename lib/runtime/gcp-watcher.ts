import { Cloud } from '../spec/clouds';
import { InterruptionKind } from './events';
import { Backoff, HttpResponse, httpRequest, sleep } from './http';
import { FailureReporter, InterruptionWatcher, UnexpectedResponseError, WatcherContext, trimEndpoint } from './watcher';

/** The metadata server of Compute Engine. */
export const GCP_METADATA_ENDPOINT = 'http://metadata.google.internal';
/** Seconds between `instance/preempted` turning TRUE and the VM being stopped. */
export const GCP_PREEMPTION_NOTICE_SECONDS = 30;
/** Seconds of notice a terminating host maintenance event gives. */
export const GCP_MAINTENANCE_NOTICE_SECONDS = 60;

/** Options of {@link GcpInterruptionWatcher}. */
export interface GcpWatcherOptions {
  /** Metadata server base URL. @default 'http://metadata.google.internal' */
  readonly endpoint?: string;
  /** `timeout_sec` of each long poll; the server answers at the latest then, changed or not. @default 60 */
  readonly longPollSeconds?: number;
  /** Milliseconds a plain (not long-poll) request may take. @default 2000 */
  readonly requestTimeoutMs?: number;
}

/**
 * Long-polls the metadata server (`?wait_for_change=true&last_etag=...`) on `instance/preempted` and
 * `instance/maintenance-event`, with `Metadata-Flavor: Google`. A change is seen the moment the server
 * publishes it, with no polling delay. Answers without the `Metadata-Flavor: Google` response header are
 * not from the metadata server and are retried.
 */
export class GcpInterruptionWatcher implements InterruptionWatcher {
  public readonly cloud = Cloud.GCP;
  private readonly endpoint: string;
  private readonly longPollSeconds: number;
  private readonly timeoutMs: number;
  /** The instance id, once the metadata server gave it. */
  public instanceId = '';

  constructor(options: GcpWatcherOptions = {}) {
    this.endpoint = trimEndpoint(options.endpoint ?? GCP_METADATA_ENDPOINT);
    this.longPollSeconds = options.longPollSeconds ?? 60;
    this.timeoutMs = options.requestTimeoutMs ?? 2000;
  }

  /** GET `/computeMetadata/v1/<path>`. */
  public async get(path: string, query: string, timeoutMs: number, signal: AbortSignal): Promise<HttpResponse> {
    const res = await httpRequest(`${this.endpoint}/computeMetadata/v1/${path}${query}`, {
      headers: { 'Metadata-Flavor': 'Google' },
      timeoutMs,
      signal,
    });
    if (res.headers['metadata-flavor'] !== 'Google') {
      throw new UnexpectedResponseError(`answer for ${path} lacks the Metadata-Flavor: Google header (status ${res.status}): not the metadata server`);
    }
    if (res.status !== 200) throw new UnexpectedResponseError(`metadata server answered ${res.status} for ${path}`);
    return res;
  }

  public async run(ctx: WatcherContext): Promise<void> {
    await Promise.all([
      this.watchValue(ctx, 'instance/preempted', (value) => {
        if (value !== 'TRUE') return false;
        ctx.emit({
          cloud: Cloud.GCP,
          kind: InterruptionKind.PREEMPTION,
          instanceId: this.instanceId,
          deadline: new Date(Date.now() + GCP_PREEMPTION_NOTICE_SECONDS * 1000),
          detectedAt: new Date(),
          detail: value,
        });
        return true;
      }),
      this.watchValue(ctx, 'instance/maintenance-event', (value) => {
        // NONE, MIGRATE_ON_HOST_MAINTENANCE (live migration: nothing to drain), TERMINATE_ON_HOST_MAINTENANCE.
        if (!value.startsWith('TERMINATE')) return false;
        ctx.emit({
          cloud: Cloud.GCP,
          kind: InterruptionKind.MAINTENANCE,
          instanceId: this.instanceId,
          deadline: new Date(Date.now() + GCP_MAINTENANCE_NOTICE_SECONDS * 1000),
          detectedAt: new Date(),
          detail: value,
        });
        return true;
      }),
    ]);
  }

  /** Long-polls one value until `onValue` returns true (it emitted) or the signal aborts. */
  private async watchValue(ctx: WatcherContext, path: string, onValue: (value: string) => boolean): Promise<void> {
    const backoff = new Backoff(250, 2000);
    const report = new FailureReporter(ctx.log, `Google Cloud metadata server long poll of ${path}`);
    let etag: string | undefined;
    while (!ctx.signal.aborted) {
      try {
        if (!this.instanceId) this.instanceId = (await this.get('instance/id', '', this.timeoutMs, ctx.signal)).body.trim();
        const query = etag === undefined ? '' : `?wait_for_change=true&last_etag=${encodeURIComponent(etag)}&timeout_sec=${this.longPollSeconds}`;
        const timeoutMs = etag === undefined ? this.timeoutMs : (this.longPollSeconds + 5) * 1000;
        const res = await this.get(path, query, timeoutMs, ctx.signal);
        report.succeeded();
        backoff.reset();
        const value = res.body.trim();
        if (!/^[A-Z_]{1,64}$/.test(value)) throw new UnexpectedResponseError(`${path} is not a metadata value: ${value.slice(0, 40)}`);
        const nextEtag = res.headers.etag;
        if (onValue(value)) return;
        if (typeof nextEtag === 'string' && nextEtag.length > 0) {
          etag = nextEtag;
        } else {
          // Without an ETag a long poll would return at once, forever: fall back to polling every second.
          etag = undefined;
          await sleep(1000, ctx.signal);
        }
      } catch (err) {
        if (ctx.signal.aborted) break;
        report.failed(err);
        etag = undefined;
        await sleep(backoff.next(), ctx.signal);
      }
    }
  }
}
