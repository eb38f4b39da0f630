import { createHash, randomUUID } from 'node:crypto';
import type * as http from 'node:http';
import { LoopbackServer, SeenRequest } from './loopback';

/**
 * EC2 IMDSv2 as documented: `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` returns a
 * token; every GET needs `X-aws-ec2-metadata-token` (401 otherwise); absent items are 404.
 */
export class AwsImdsEmulator extends LoopbackServer {
  public instanceId = 'i-0123456789abcdef0';
  public region = 'eu-west-1';
  public instanceAction?: { action: string; time: string };
  public rebalance?: { noticeTime: string };
  public targetLifecycleState = 'InService';
  public readonly tokens = new Set<string>();
  /** When the notice became visible, for latency measurements. */
  public publishedAt = 0;

  /** Publish a spot interruption notice `inMs` from now. */
  public interrupt(inMs: number, action = 'terminate'): Date {
    const time = new Date(Date.now() + inMs);
    // IMDS gives the time to the second.
    time.setMilliseconds(0);
    this.instanceAction = { action, time: time.toISOString().replace('.000Z', 'Z') };
    this.publishedAt = Date.now();
    return time;
  }

  /** Invalidate every token (as after a TTL expiry). */
  public expireTokens(): void {
    this.tokens.clear();
  }

  protected handle(req: SeenRequest, res: http.ServerResponse): void {
    const path = req.url.split('?')[0];
    if (path === '/latest/api/token') {
      if (req.method !== 'PUT') return send(res, 405, '');
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!(ttl >= 1 && ttl <= 21600)) return send(res, 400, '');
      const token = randomUUID();
      this.tokens.add(token);
      return send(res, 200, token, { 'X-Aws-Ec2-Metadata-Token-Ttl-Seconds': String(ttl) });
    }
    if (req.method !== 'GET') return send(res, 405, '');
    const token = req.headers['x-aws-ec2-metadata-token'];
    if (typeof token !== 'string' || !this.tokens.has(token)) return send(res, 401, '');
    const items: Record<string, string | undefined> = {
      '/latest/meta-data/instance-id': this.instanceId,
      '/latest/meta-data/placement/region': this.region,
      '/latest/meta-data/spot/instance-action': this.instanceAction && JSON.stringify(this.instanceAction),
      '/latest/meta-data/events/recommendations/rebalance': this.rebalance && JSON.stringify(this.rebalance),
      '/latest/meta-data/autoscaling/target-lifecycle-state': this.targetLifecycleState,
    };
    const value = items[path];
    if (value === undefined) return send(res, 404, notFoundPage);
    return send(res, 200, value);
  }
}

/**
 * The Compute Engine metadata server as documented: needs `Metadata-Flavor: Google` (403 otherwise), answers
 * with that header and an `ETag`; `?wait_for_change=true&last_etag=E&timeout_sec=N` holds the request until
 * the value's ETag differs from E or N seconds pass.
 */
export class GcpMetadataEmulator extends LoopbackServer {
  public readonly values: Record<string, string> = {
    'instance/id': '4567890123456789012',
    'instance/name': 'spot-worker-abcd',
    'instance/preempted': 'FALSE',
    'instance/maintenance-event': 'NONE',
  };
  public publishedAt = 0;
  private waiters: Array<() => void> = [];
  /** Long polls currently held open. */
  public get openLongPolls(): number {
    return this.waiters.length;
  }

  public set(path: string, value: string): void {
    this.values[path] = value;
    this.publishedAt = Date.now();
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  public async stop(): Promise<void> {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
    await super.stop();
  }

  /** Preempt the VM: `instance/preempted` becomes TRUE. */
  public preempt(): void {
    this.set('instance/preempted', 'TRUE');
  }

  protected garbageHeaders(): http.OutgoingHttpHeaders {
    return { 'Content-Type': 'text/html', 'Metadata-Flavor': 'Google' };
  }

  protected async handle(req: SeenRequest, res: http.ServerResponse): Promise<void> {
    if (req.headers['metadata-flavor'] !== 'Google') return send(res, 403, 'Missing Metadata-Flavor:Google header.', { 'Metadata-Flavor': 'Google' });
    const url = new URL(req.url, 'http://x');
    const path = url.pathname.replace(/^\/computeMetadata\/v1\//, '');
    if (!(path in this.values)) return send(res, 404, notFoundPage, { 'Metadata-Flavor': 'Google' });
    if (url.searchParams.get('wait_for_change') === 'true') {
      const lastEtag = url.searchParams.get('last_etag') ?? '0';
      const timeoutSec = Number(url.searchParams.get('timeout_sec') ?? '3600');
      const until = Date.now() + timeoutSec * 1000;
      while (etagOf(this.values[path]) === lastEtag && Date.now() < until) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, until - Date.now());
          this.timers.add(t);
          this.waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
        if (res.socket?.destroyed) return;
      }
    }
    const value = this.values[path];
    return send(res, 200, value, { 'Metadata-Flavor': 'Google', ETag: etagOf(value), 'Content-Type': 'application/text' });
  }
}

/** An Azure scheduled event as the emulator keeps it. */
export interface EmulatedEvent {
  EventId: string;
  EventType: string;
  ResourceType: string;
  Resources: string[];
  EventStatus: string;
  NotBefore: string;
  Description: string;
  EventSource: string;
  DurationInSeconds: number;
}

/**
 * Azure Scheduled Events as documented: `GET /metadata/scheduledevents?api-version=...` with `Metadata: true`
 * (400 otherwise) returns `{DocumentIncarnation, Events[]}`; `POST` of `{"StartRequests":[{"EventId"}]}`
 * approves events, which then start (and leave the document).
 */
export class AzureScheduledEventsEmulator extends LoopbackServer {
  public vmName = 'spotfleet_4f2a9c1e';
  public incarnation = 1;
  public events: EmulatedEvent[] = [];
  public readonly acks: Array<{ eventId: string; at: number }> = [];
  public publishedAt = 0;

  /** Schedule an event for `resources` (this VM by default), `notBeforeMs` from now. */
  public schedule(eventType: 'Preempt' | 'Terminate' | 'Reboot' | 'Freeze', notBeforeMs: number, resources = [this.vmName]): EmulatedEvent {
    const event: EmulatedEvent = {
      EventId: randomUUID().toUpperCase(),
      EventType: eventType,
      ResourceType: 'VirtualMachine',
      Resources: resources,
      EventStatus: 'Scheduled',
      NotBefore: new Date(Date.now() + notBeforeMs).toUTCString(),
      Description: eventType === 'Preempt' ? 'Virtual machine is being preempted.' : `Virtual machine ${eventType.toLowerCase()}.`,
      EventSource: 'Platform',
      DurationInSeconds: -1,
    };
    this.events.push(event);
    this.incarnation++;
    this.publishedAt = Date.now();
    return event;
  }

  protected handle(req: SeenRequest, res: http.ServerResponse): void {
    const url = new URL(req.url, 'http://x');
    if (req.headers.metadata !== 'true') {
      return send(res, 400, JSON.stringify({ error: 'Bad request. Required metadata header not specified' }), { 'Content-Type': 'application/json' });
    }
    if (url.pathname === '/metadata/instance/compute/name') {
      return send(res, 200, this.vmName, { 'Content-Type': 'text/plain' });
    }
    if (url.pathname !== '/metadata/scheduledevents') return send(res, 404, '');
    if (!url.searchParams.get('api-version')) return send(res, 400, JSON.stringify({ error: 'Bad request. api-version was not specified' }));
    if (req.method === 'GET') {
      return send(res, 200, JSON.stringify({ DocumentIncarnation: this.incarnation, Events: this.events }), { 'Content-Type': 'application/json' });
    }
    if (req.method === 'POST') {
      let ids: string[];
      try {
        ids = (JSON.parse(req.body) as { StartRequests: Array<{ EventId: string }> }).StartRequests.map((s) => s.EventId);
      } catch {
        return send(res, 400, '');
      }
      for (const id of ids) {
        this.acks.push({ eventId: id, at: Date.now() });
        this.events = this.events.filter((e) => e.EventId !== id);
      }
      this.incarnation++;
      return send(res, 200, '');
    }
    return send(res, 405, '');
  }
}

const notFoundPage = '<?xml version="1.0" encoding="iso-8859-1"?>\n<title>404 - Not Found</title>';

function etagOf(value: string): string {
  return createHash('sha1').update(value).digest('hex').slice(0, 16);
}

function send(res: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}
