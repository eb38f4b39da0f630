import { Cloud } from '../spec/clouds';
import { InterruptionEvent, InterruptionKind } from './events';
import { Backoff, httpRequest, sleep } from './http';
import { FailureReporter, InterruptionWatcher, UnexpectedResponseError, WatcherContext, trimEndpoint } from './watcher';

/** The instance metadata service of EC2. */
export const AWS_METADATA_ENDPOINT = 'http://169.254.169.254';

/** Options of {@link AwsImdsClient} and {@link AwsInterruptionWatcher}. */
export interface AwsWatcherOptions {
  /** IMDS base URL. @default 'http://169.254.169.254' */
  readonly endpoint?: string;
  /** Milliseconds between polls. @default 2000 */
  readonly pollIntervalMs?: number;
  /** Milliseconds one IMDS request may take. @default 1000 */
  readonly requestTimeoutMs?: number;
  /** Lifetime of the IMDSv2 session token, seconds. @default 21600 */
  readonly tokenTtlSeconds?: number;
}

/**
 * An IMDSv2 client: PUT `/latest/api/token` once, then GETs with `X-aws-ec2-metadata-token`; a 401 means the
 * token expired and is fetched again. `get` returns undefined on 404 ("nothing yet").
 */
export class AwsImdsClient {
  private readonly endpoint: string;
  private readonly timeoutMs: number;
  private readonly ttl: number;
  private token?: { value: string; expires: number };

  constructor(options: AwsWatcherOptions = {}) {
    this.endpoint = trimEndpoint(options.endpoint ?? AWS_METADATA_ENDPOINT);
    this.timeoutMs = options.requestTimeoutMs ?? 1000;
    this.ttl = options.tokenTtlSeconds ?? 21600;
  }

  /** GET a metadata path (`/latest/meta-data/...`); undefined when the IMDS answers 404. */
  public async get(path: string, signal?: AbortSignal): Promise<string | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const token = await this.getToken(signal);
      let res;
      try {
        res = await httpRequest(this.endpoint + path, { headers: { 'X-aws-ec2-metadata-token': token }, timeoutMs: this.timeoutMs, signal });
      } catch (err) {
        // The service may have restarted: take a fresh token next time.
        this.token = undefined;
        throw err;
      }
      if (res.status === 200) return res.body;
      if (res.status === 404) return undefined;
      if (res.status === 401) {
        this.token = undefined;
        continue;
      }
      throw new UnexpectedResponseError(`IMDS answered ${res.status} for ${path}`);
    }
    throw new UnexpectedResponseError(`IMDS rejected a fresh token for ${path} (401 twice)`);
  }

  private async getToken(signal?: AbortSignal): Promise<string> {
    if (this.token && this.token.expires > Date.now()) return this.token.value;
    const res = await httpRequest(this.endpoint + '/latest/api/token', {
      method: 'PUT',
      headers: { 'X-aws-ec2-metadata-token-ttl-seconds': String(this.ttl) },
      timeoutMs: this.timeoutMs,
      signal,
    });
    const value = res.body.trim();
    if (res.status !== 200) throw new UnexpectedResponseError(`IMDS token request answered ${res.status}`);
    // A token is a short run of printable characters; anything else (an HTML page, binary) is not IMDS.
    if (!/^[\x21-\x7e]{1,1024}$/.test(value)) throw new UnexpectedResponseError(`IMDS token request answered 200 with something that is not a token: ${JSON.stringify(value.slice(0, 40))}`);
    // Renew a minute early so a poll never carries an expiring token.
    this.token = { value, expires: Date.now() + Math.max(1, this.ttl - 60) * 1000 };
    return value;
  }
}

/** `spot/instance-action`: `{"action": "terminate", "time": "2017-09-18T08:22:00Z"}`. */
export function parseInstanceAction(body: string): { action: string; time: Date } {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new UnexpectedResponseError(`spot/instance-action is not JSON: ${body.slice(0, 80)}`);
  }
  const { action, time } = (doc ?? {}) as { action?: unknown; time?: unknown };
  const when = typeof time === 'string' ? new Date(time) : undefined;
  if (typeof action !== 'string' || !when || isNaN(when.getTime())) {
    throw new UnexpectedResponseError(`spot/instance-action lacks action/time: ${body.slice(0, 80)}`);
  }
  return { action, time: when };
}

/**
 * Polls IMDSv2 every `pollIntervalMs` for the spot instance action, the rebalance recommendation and the
 * Auto Scaling target lifecycle state (`Terminated` means the group is taking the instance away).
 */
export class AwsInterruptionWatcher implements InterruptionWatcher {
  public readonly cloud = Cloud.AWS;
  public readonly imds: AwsImdsClient;
  private readonly pollIntervalMs: number;
  /** The instance id, once IMDS gave it. */
  public instanceId = '';

  constructor(options: AwsWatcherOptions = {}) {
    this.imds = new AwsImdsClient(options);
    this.pollIntervalMs = options.pollIntervalMs ?? 2000;
  }

  public async run(ctx: WatcherContext): Promise<void> {
    const seen = new Set<string>();
    const backoff = new Backoff(Math.min(500, this.pollIntervalMs), Math.max(2000, this.pollIntervalMs));
    const report = new FailureReporter(ctx.log, 'AWS instance metadata (IMDSv2) poll');
    const emit = (key: string, event: Omit<InterruptionEvent, 'cloud' | 'instanceId' | 'detectedAt'>) => {
      if (seen.has(key)) return;
      seen.add(key);
      ctx.emit({ cloud: Cloud.AWS, instanceId: this.instanceId, detectedAt: new Date(), ...event });
    };
    while (!ctx.signal.aborted) {
      const started = Date.now();
      try {
        if (!this.instanceId) this.instanceId = ((await this.imds.get('/latest/meta-data/instance-id', ctx.signal)) ?? '').trim();
        const [action, rebalance, lifecycle] = await Promise.all([
          this.imds.get('/latest/meta-data/spot/instance-action', ctx.signal),
          this.imds.get('/latest/meta-data/events/recommendations/rebalance', ctx.signal),
          this.imds.get('/latest/meta-data/autoscaling/target-lifecycle-state', ctx.signal),
        ]);
        report.succeeded();
        backoff.reset();
        if (action !== undefined) {
          const { action: what, time } = parseInstanceAction(action);
          emit(`action:${what}:${time.toISOString()}`, { kind: InterruptionKind.SPOT_INTERRUPTION, deadline: time, detail: action.trim() });
        }
        if (lifecycle !== undefined && lifecycle.trim() === 'Terminated') {
          emit('lifecycle:Terminated', { kind: InterruptionKind.LIFECYCLE_TERMINATION, deadline: new Date(Date.now() + 120_000), detail: lifecycle.trim() });
        }
        if (rebalance !== undefined) {
          emit('rebalance', { kind: InterruptionKind.REBALANCE_RECOMMENDATION, deadline: new Date(Date.now() + 120_000), advisory: true, detail: rebalance.trim() });
        }
      } catch (err) {
        if (ctx.signal.aborted) break;
        report.failed(err);
        await sleep(backoff.next(), ctx.signal);
        continue;
      }
      await sleep(this.pollIntervalMs - (Date.now() - started), ctx.signal);
    }
  }
}
