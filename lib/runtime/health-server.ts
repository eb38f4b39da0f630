import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpRequest } from './http';
import { Logger, silentLogger } from './log';

/** Options of {@link HealthEndpoint}. */
export interface HealthEndpointOptions {
  /** Address to bind. @default '0.0.0.0' */
  readonly host?: string;
  /** Port to listen on (0 picks a free one). */
  readonly port: number;
  /** Path the load balancer probes; other paths answer 404. */
  readonly path: string;
  /** The inference server's own health URL, proxied while all is well. @default - none: healthy until draining */
  readonly upstreamUrl?: string;
  /** Milliseconds the upstream health check may take. @default 2000 */
  readonly upstreamTimeoutMs?: number;
  /** Where the server logs state changes. @default - nothing is logged */
  readonly log?: Logger;
}

/**
 * The health endpoint the load balancer probes. Until a notice it answers what the inference server's own
 * health endpoint answers (200 when that is 2xx, 503 otherwise, including when the server is down); once
 * {@link setDraining} is called it answers 503 `draining` to every probe.
 */
export class HealthEndpoint {
  private readonly server: http.Server;
  private drainingSince?: Date;

  constructor(private readonly options: HealthEndpointOptions) {
    this.server = http.createServer((req, res) => {
      void this.handle(req, res);
    });
    this.server.keepAliveTimeout = 5000;
  }

  /** Start listening; resolves with the bound port. */
  public listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host ?? '0.0.0.0', () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /** The bound port (after {@link listen}). */
  public get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? 0;
  }

  /** When the endpoint started failing, if it did. */
  public get failingSince(): Date | undefined {
    return this.drainingSince;
  }

  /** Fail every probe from now on (`since`: when it started failing, for an agent restarted mid-drain). */
  public setDraining(since?: Date): void {
    if (this.drainingSince) return;
    this.drainingSince = since ?? new Date();
    // Probes on open keep-alive connections must see the change too.
    this.server.closeIdleConnections?.();
    (this.options.log ?? silentLogger).info('health endpoint now failing (503): the load balancer stops routing here', {
      port: this.port,
      path: this.options.path,
    });
  }

  /** Stop listening. */
  public close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections?.();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== this.options.path || (req.method !== 'GET' && req.method !== 'HEAD')) {
      this.reply(res, 404, { status: 'not-found' });
      return;
    }
    if (this.drainingSince) {
      res.setHeader('Connection', 'close');
      this.reply(res, 503, { status: 'draining', since: this.drainingSince.toISOString() });
      return;
    }
    if (!this.options.upstreamUrl) {
      this.reply(res, 200, { status: 'ok' });
      return;
    }
    try {
      const up = await httpRequest(this.options.upstreamUrl, { timeoutMs: this.options.upstreamTimeoutMs ?? 2000, maxBodyBytes: 64 * 1024 });
      const since = this.failingSince; // the notice may have come while the upstream answered
      if (since) this.reply(res, 503, { status: 'draining', since: since.toISOString() });
      else if (up.status >= 200 && up.status < 300) this.reply(res, 200, { status: 'ok' });
      else this.reply(res, 503, { status: 'unhealthy', upstreamStatus: up.status });
    } catch (err) {
      this.reply(res, 503, { status: 'unhealthy', error: err instanceof Error ? err.message : String(err) });
    }
  }

  private reply(res: http.ServerResponse, status: number, body: Record<string, unknown>): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
    res.end(res.req.method === 'HEAD' ? undefined : text);
  }
}
