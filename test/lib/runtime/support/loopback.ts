import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** How a metadata emulator misbehaves. */
export type Fault = 'none' | 'down' | 'slow' | 'garbage' | 'error';

/** One request an emulator received. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly at: number;
}

/**
 * An HTTP server on 127.0.0.1 with fault injection: `down` resets every connection, `slow` answers after
 * `slowMs`, `garbage` answers 200 with a body that is no metadata document, `error` answers 500.
 */
export abstract class LoopbackServer {
  public fault: Fault = 'none';
  public slowMs = 5000;
  public readonly requests: SeenRequest[] = [];
  protected readonly server: http.Server;
  protected readonly timers = new Set<NodeJS.Timeout>();

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const seen = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
        this.requests.push(seen);
        void this.dispatch(seen, res);
      });
    });
  }

  private async dispatch(req: SeenRequest, res: http.ServerResponse): Promise<void> {
    switch (this.fault) {
      case 'down':
        res.socket?.destroy();
        return;
      case 'slow':
        await new Promise<void>((r) => {
          const t = setTimeout(() => {
            this.timers.delete(t);
            r();
          }, this.slowMs);
          this.timers.add(t);
        });
        if (res.socket?.destroyed) return;
        break;
      case 'garbage':
        res.writeHead(200, this.garbageHeaders());
        res.end('<html>\u0000\u0001 captive portal {{{');
        return;
      case 'error':
        res.writeHead(500);
        res.end('internal error');
        return;
      default:
    }
    await this.handle(req, res);
  }

  /** Headers a garbage answer carries (the GCP emulator keeps Metadata-Flavor so the body is what is wrong). */
  protected garbageHeaders(): http.OutgoingHttpHeaders {
    return { 'Content-Type': 'text/html' };
  }

  protected abstract handle(req: SeenRequest, res: http.ServerResponse): Promise<void> | void;

  public async start(port = 0): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    return this;
  }

  public get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  public get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  public async stop(): Promise<void> {
    this.timers.forEach((t) => clearTimeout(t));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A port nothing listens on (yet). */
export async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Resolves when `check` is true, polling every 10 ms; rejects after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A fresh state directory for one agent: agents of parallel tests must never see each other's notice. */
export function stateDir(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { mkdtempSync } = require('node:fs') as typeof import('node:fs');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { tmpdir } = require('node:os') as typeof import('node:os');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { join } = require('node:path') as typeof import('node:path');
  return mkdtempSync(join(tmpdir(), 'spot-agent-state-'));
}
