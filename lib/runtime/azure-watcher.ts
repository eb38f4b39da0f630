import { Cloud } from '../spec/clouds';
import { InterruptionKind } from './events';
import { Backoff, httpRequest, sleep } from './http';
import { FailureReporter, InterruptionWatcher, UnexpectedResponseError, WatcherContext, trimEndpoint } from './watcher';

/** The Azure Instance Metadata Service. */
export const AZURE_METADATA_ENDPOINT = 'http://169.254.169.254';
/** Scheduled Events API version the watcher speaks. */
export const AZURE_SCHEDULED_EVENTS_API_VERSION = '2020-07-01';
/** Seconds of notice a `Preempt` event gives at least. */
export const AZURE_PREEMPT_NOTICE_SECONDS = 30;

/** One entry of the Scheduled Events document. */
export interface AzureScheduledEvent {
  readonly EventId: string;
  readonly EventType: string;
  readonly ResourceType?: string;
  readonly Resources: string[];
  readonly EventStatus: string;
  readonly NotBefore: string;
  readonly Description?: string;
  readonly EventSource?: string;
  readonly DurationInSeconds?: number;
}

/** The Scheduled Events document (`GET /metadata/scheduledevents`). */
export interface AzureScheduledEventsDocument {
  readonly DocumentIncarnation: number;
  readonly Events: AzureScheduledEvent[];
}

/** Options of {@link AzureInterruptionWatcher}. */
export interface AzureWatcherOptions {
  /** IMDS base URL. @default 'http://169.254.169.254' */
  readonly endpoint?: string;
  /** Milliseconds between polls. @default 1000 */
  readonly pollIntervalMs?: number;
  /** Milliseconds one request may take. @default 3000 */
  readonly requestTimeoutMs?: number;
  /** The VM name events list in `Resources`. @default - read from `/metadata/instance/compute/name` */
  readonly instanceName?: string;
}

/** Parses and checks the shape of a Scheduled Events document. */
export function parseScheduledEvents(body: string): AzureScheduledEventsDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new UnexpectedResponseError(`Scheduled Events answer is not JSON: ${body.slice(0, 80)}`);
  }
  const events = (doc as { Events?: unknown } | null)?.Events;
  if (!Array.isArray(events)) throw new UnexpectedResponseError(`Scheduled Events answer has no Events array: ${body.slice(0, 80)}`);
  for (const e of events) {
    if (typeof e?.EventId !== 'string' || typeof e?.EventType !== 'string' || !Array.isArray(e?.Resources)) {
      throw new UnexpectedResponseError(`Scheduled Events entry lacks EventId/EventType/Resources: ${JSON.stringify(e).slice(0, 80)}`);
    }
  }
  return doc as AzureScheduledEventsDocument;
}

/**
 * Polls Scheduled Events every second (`Metadata: true`) and reports `Preempt` and `Terminate` events that
 * list this VM. {@link acknowledge} POSTs `StartRequests` so the platform proceeds without waiting for
 * `NotBefore`.
 */
export class AzureInterruptionWatcher implements InterruptionWatcher {
  public readonly cloud = Cloud.AZURE;
  private readonly endpoint: string;
  private readonly pollIntervalMs: number;
  private readonly timeoutMs: number;
  /** The VM name, once known. */
  public instanceName: string;

  constructor(options: AzureWatcherOptions = {}) {
    this.endpoint = trimEndpoint(options.endpoint ?? AZURE_METADATA_ENDPOINT);
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.timeoutMs = options.requestTimeoutMs ?? 3000;
    this.instanceName = options.instanceName ?? '';
  }

  private get eventsUrl(): string {
    return `${this.endpoint}/metadata/scheduledevents?api-version=${AZURE_SCHEDULED_EVENTS_API_VERSION}`;
  }

  public async run(ctx: WatcherContext): Promise<void> {
    const seen = new Set<string>();
    const backoff = new Backoff(Math.min(500, this.pollIntervalMs), Math.max(2000, this.pollIntervalMs));
    const report = new FailureReporter(ctx.log, 'Azure Scheduled Events poll');
    while (!ctx.signal.aborted) {
      const started = Date.now();
      try {
        if (!this.instanceName) {
          const res = await httpRequest(`${this.endpoint}/metadata/instance/compute/name?api-version=2021-02-01&format=text`, {
            headers: { Metadata: 'true' },
            timeoutMs: this.timeoutMs,
            signal: ctx.signal,
          });
          if (res.status !== 200 || !res.body.trim()) throw new UnexpectedResponseError(`IMDS answered ${res.status} for compute/name`);
          this.instanceName = res.body.trim();
        }
        const res = await httpRequest(this.eventsUrl, { headers: { Metadata: 'true' }, timeoutMs: this.timeoutMs, signal: ctx.signal });
        if (res.status !== 200) throw new UnexpectedResponseError(`Scheduled Events answered ${res.status}`);
        const doc = parseScheduledEvents(res.body);
        report.succeeded();
        backoff.reset();
        const me = this.instanceName.toLowerCase();
        for (const e of doc.Events) {
          if (seen.has(e.EventId)) continue;
          const mine = e.Resources.some((r) => String(r).toLowerCase() === me);
          const kind = e.EventType === 'Preempt' ? InterruptionKind.PREEMPTION : e.EventType === 'Terminate' ? InterruptionKind.TERMINATION : undefined;
          if (!mine || !kind) {
            seen.add(e.EventId);
            ctx.log.debug('scheduled event not for this agent', { eventId: e.EventId, eventType: e.EventType, resources: e.Resources });
            continue;
          }
          seen.add(e.EventId);
          const notBefore = e.NotBefore ? new Date(e.NotBefore) : undefined;
          const deadline =
            notBefore && !isNaN(notBefore.getTime())
              ? notBefore
              : new Date(Date.now() + (e.EventStatus === 'Started' ? 0 : AZURE_PREEMPT_NOTICE_SECONDS * 1000));
          ctx.emit({ cloud: Cloud.AZURE, kind, instanceId: this.instanceName, deadline, detectedAt: new Date(), eventId: e.EventId, detail: JSON.stringify(e) });
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

  /**
   * Approves events (`{"StartRequests":[{"EventId":...}]}`) so the platform starts them now. Retries until it
   * succeeds or `until` passes; returns whether it succeeded.
   */
  public async acknowledge(eventIds: string[], until: Date, signal?: AbortSignal): Promise<boolean> {
    const body = JSON.stringify({ StartRequests: eventIds.map((EventId) => ({ EventId })) });
    const backoff = new Backoff(200, 2000);
    while (Date.now() < until.getTime() && !signal?.aborted) {
      try {
        const res = await httpRequest(this.eventsUrl, {
          method: 'POST',
          headers: { Metadata: 'true', 'Content-Type': 'application/json' },
          body,
          timeoutMs: Math.max(200, Math.min(this.timeoutMs, until.getTime() - Date.now())),
          signal,
        });
        if (res.status >= 200 && res.status < 300) return true;
      } catch {
        // retried below
      }
      await sleep(Math.min(backoff.next(), until.getTime() - Date.now()), signal);
    }
    return false;
  }
}
