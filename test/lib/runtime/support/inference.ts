import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { drainHttpServer, DrainResult, trackHttpServer } from '../../../../lib/runtime/drain-http-server';
import { Logger } from '../../../../lib/runtime/log';

/**
 * A real HTTP "inference server" on 127.0.0.1: `GET /infer?ms=N` answers after N ms; `GET /health`;
 * `GET /inflight` reports `{"inFlight": n}`; `POST /drain` drains it with drainHttpServer (DrainMode.HTTP).
 * It records the id (`x-req-id`) of every request it accepted and answered.
 */
export class InferenceServer {
  public readonly server: http.Server;
  public readonly accepted = new Set<string>();
  public readonly answered = new Set<string>();
  public drainResult?: Promise<DrainResult>;
  private inFlight = 0;

  constructor(private readonly log?: Logger) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    trackHttpServer(this.server);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/health') return void res.end('ok');
    if (url.pathname === '/inflight') return void res.end(JSON.stringify({ inFlight: this.inFlight }));
    if (url.pathname === '/drain' && req.method === 'POST') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const { deadline } = JSON.parse(body) as { deadline: string };
        res.writeHead(202).end('draining');
        this.drainResult ??= drainHttpServer(this.server, { deadline: new Date(deadline), log: this.log });
      });
      return;
    }
    const id = String(req.headers['x-req-id'] ?? '');
    this.accepted.add(id);
    this.inFlight++;
    const ms = Number(url.searchParams.get('ms') ?? '100');
    const timer = setTimeout(() => {
      this.inFlight--;
      this.answered.add(id);
      res.end(JSON.stringify({ id, ms }));
    }, ms);
    res.on('close', () => {
      if (!res.writableFinished) {
        clearTimeout(timer);
        this.inFlight--;
      }
    });
  }

  public async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return this.port;
  }

  public get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The instance goes away: every connection dies. */
  public kill(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

/** What happened to one client request. */
export interface RequestRecord {
  readonly id: string;
  readonly sentAt: number;
  outcome?: 'ok' | 'failed' | 'routed-away';
  error?: string;
  endedAt?: number;
}

/**
 * A load balancer plus a steady stream of clients: probes the health URL every `probeMs` and routes a request
 * to the instance only while the last probe was healthy; otherwise the request goes "elsewhere"
 * (routed-away). Requests take `minMs`-`maxMs`. Connections are kept alive, like a real load balancer's.
 */
export class LoadBalancer {
  public healthy = false;
  public unhealthySince?: number;
  public readonly records: RequestRecord[] = [];
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private running = false;
  private probeTimer?: NodeJS.Timeout;
  private seq = 0;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly healthUrl: string,
    private readonly backendPort: number,
    private readonly opts: { probeMs: number; clients: number; minMs: number; maxMs: number; gapMs?: number },
  ) {}

  public async start(): Promise<void> {
    await this.probe();
    this.probeTimer = setInterval(() => void this.probe(), this.opts.probeMs);
    this.running = true;
    for (let i = 0; i < this.opts.clients; i++) this.loops.push(this.client());
  }

  private async probe(): Promise<void> {
    const ok = await new Promise<boolean>((resolve) => {
      const req = http.get(this.healthUrl, { timeout: 1000, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
    });
    if (!ok && this.healthy !== false && this.unhealthySince === undefined) this.unhealthySince = Date.now();
    if (!ok && this.unhealthySince === undefined) this.unhealthySince = Date.now();
    this.healthy = ok;
  }

  private async client(): Promise<void> {
    while (this.running) {
      const ms = Math.round(this.opts.minMs + Math.random() * (this.opts.maxMs - this.opts.minMs));
      const rec: RequestRecord = { id: `r${++this.seq}`, sentAt: Date.now() };
      this.records.push(rec);
      if (!this.healthy) {
        rec.outcome = 'routed-away';
        rec.endedAt = rec.sentAt;
        await new Promise((r) => setTimeout(r, this.opts.gapMs ?? 20));
        continue;
      }
      await new Promise<void>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: this.backendPort, path: `/infer?ms=${ms}`, agent: this.agent, headers: { 'x-req-id': rec.id } }, (res) => {
          res.resume();
          res.on('end', () => {
            rec.outcome = res.statusCode === 200 ? 'ok' : 'failed';
            rec.endedAt = Date.now();
            resolve();
          });
          res.on('error', (e) => {
            rec.outcome = 'failed';
            rec.error = e.message;
            resolve();
          });
        });
        req.on('error', (e) => {
          rec.outcome = 'failed';
          rec.error = (e as NodeJS.ErrnoException).code ?? e.message;
          rec.endedAt = Date.now();
          resolve();
        });
      });
      await new Promise((r) => setTimeout(r, this.opts.gapMs ?? 20));
    }
  }

  public async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.probeTimer);
    await Promise.all(this.loops);
    this.agent.destroy();
  }

  /**
   * Tally against what the server saw: `lost` = requests the instance accepted that did not succeed;
   * `refused` = requests that failed without the instance accepting them (connection refused or reset on
   * a keep-alive socket the drain closed).
   */
  public tally(server: InferenceServer) {
    const lost = this.records.filter((r) => server.accepted.has(r.id) && r.outcome !== 'ok');
    const refused = this.records.filter((r) => r.outcome === 'failed' && !server.accepted.has(r.id));
    return {
      sent: this.records.filter((r) => r.outcome !== 'routed-away').length,
      ok: this.records.filter((r) => r.outcome === 'ok').length,
      routedAway: this.records.filter((r) => r.outcome === 'routed-away'),
      lost,
      refused,
      accepted: server.accepted.size,
    };
  }
}
