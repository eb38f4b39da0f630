import type * as http from 'node:http';
import type { Socket } from 'node:net';
import { Logger, silentLogger } from './log';

/** Options of {@link drainHttpServer}. */
export interface DrainHttpServerOptions {
  /** When requests still running are cut (their connections destroyed). */
  readonly deadline: Date;
  /** Where the drain and every cut request are logged. @default - silent */
  readonly log?: Logger;
}

/** A request cut at the drain deadline. */
export interface CutRequest {
  readonly method: string;
  readonly url: string;
  /** Milliseconds it had been running when it was cut. */
  readonly elapsedMs: number;
}

/** What a drain did. */
export interface DrainResult {
  /** Requests in flight when the drain started (only those seen since tracking began). */
  readonly inFlightAtStart: number;
  /** Requests that finished during the drain, including ones that arrived on open keep-alive connections. */
  readonly completed: number;
  /** Requests cut at the deadline. */
  readonly cut: CutRequest[];
  /** Milliseconds the drain took. */
  readonly durationMs: number;
  /** True when every request finished before the deadline. */
  readonly clean: boolean;
}

interface InFlight {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly started: number;
}

/**
 * Follows the requests of a Node HTTP server so that a drain knows exactly what is in flight. Create it
 * when the server starts ({@link trackHttpServer}); {@link drainHttpServer} creates one on demand, but
 * then only sees the requests that arrive after it (the rest still finish; they just are not counted).
 */
export class HttpServerTracker {
  private readonly inFlight = new Set<InFlight>();
  private readonly sockets = new Set<Socket>();
  private draining?: Promise<DrainResult>;
  private drainingSince = 0;
  private completedDuringDrain = 0;
  private onIdle?: () => void;

  constructor(private readonly server: http.Server) {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.onRequest(req, res));
  }

  /** Requests running now. */
  public get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** True once a drain started. */
  public get isDraining(): boolean {
    return this.draining !== undefined;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const entry: InFlight = { req, res, started: Date.now() };
    this.inFlight.add(entry);
    // A request that arrives on an open keep-alive connection during the drain is served (it was
    // accepted), and its connection closes after the response.
    if (this.draining) res.setHeader('Connection', 'close');
    res.once('close', () => {
      this.inFlight.delete(entry);
      if (this.draining) {
        if (res.writableFinished) this.completedDuringDrain++;
        // Headers went out as keep-alive before the drain: close the connection now that it is idle.
        const socket = req.socket;
        if (socket && !this.hasRequestOn(socket)) socket.end();
        if (this.inFlight.size === 0) this.onIdle?.();
      }
    });
  }

  private hasRequestOn(socket: Socket): boolean {
    for (const e of this.inFlight) if (e.req.socket === socket) return true;
    return false;
  }

  /**
   * Stops accepting connections, closes idle keep-alive connections (and each busy one after its current
   * response), waits for in-flight requests, and at the deadline cuts what is left, logging each cut
   * request. Calling it again returns the same drain.
   */
  public drain(options: DrainHttpServerOptions): Promise<DrainResult> {
    if (!this.draining) {
      this.drainingSince = Date.now();
      this.draining = this.runDrain(options);
    }
    return this.draining;
  }

  private async runDrain(options: DrainHttpServerOptions): Promise<DrainResult> {
    const log = options.log ?? silentLogger;
    const started = this.drainingSince;
    const inFlightAtStart = this.inFlight.size;
    log.info('draining HTTP server: no new connections; waiting for in-flight requests', {
      inFlight: inFlightAtStart,
      deadline: options.deadline.toISOString(),
    });
    for (const e of this.inFlight) {
      if (!e.res.headersSent) e.res.setHeader('Connection', 'close');
    }
    const closed = new Promise<void>((resolve) => {
      if (!this.server.listening) resolve();
      else this.server.close(() => resolve());
    });
    // Node closes idle keep-alive connections on close(); connections that became idle without being
    // tracked (they predate the tracker) are closed here as they go idle.
    this.server.closeIdleConnections?.();
    const sweeper = setInterval(() => this.server.closeIdleConnections?.(), 100);
    const idle = new Promise<void>((resolve) => {
      if (this.inFlight.size === 0) resolve();
      else this.onIdle = resolve;
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), Math.max(0, options.deadline.getTime() - Date.now()));
    });
    const outcome = await Promise.race([Promise.all([idle, closed]).then(() => 'drained' as const), deadline]);
    clearTimeout(timer);
    clearInterval(sweeper);
    const cut: CutRequest[] = [];
    if (outcome === 'deadline') {
      const now = Date.now();
      for (const e of this.inFlight) {
        const c = { method: e.req.method ?? 'GET', url: e.req.url ?? '', elapsedMs: now - e.started };
        cut.push(c);
        log.warn('request cut at the drain deadline', { ...c, deadline: options.deadline.toISOString() });
      }
      this.server.closeAllConnections?.();
      for (const s of this.sockets) s.destroy();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 1000).unref())]);
    }
    const result: DrainResult = {
      inFlightAtStart,
      completed: this.completedDuringDrain,
      cut,
      durationMs: Date.now() - started,
      clean: cut.length === 0,
    };
    log.info(cut.length === 0 ? 'HTTP server drained' : `HTTP server drained; ${cut.length} request(s) cut at the deadline`, {
      inFlightAtStart: result.inFlightAtStart,
      completed: result.completed,
      cut: cut.length,
      durationMs: result.durationMs,
    });
    return result;
  }
}

const trackers = new WeakMap<http.Server, HttpServerTracker>();

/**
 * Start following a server's requests (call right after `createServer`), so that a later
 * {@link drainHttpServer} knows every in-flight request. Idempotent.
 */
export function trackHttpServer(server: http.Server): HttpServerTracker {
  let t = trackers.get(server);
  if (!t) {
    t = new HttpServerTracker(server);
    trackers.set(server, t);
  }
  return t;
}

/**
 * Drain a Node HTTP server before the instance goes away: stop accepting connections, let in-flight
 * requests finish (keep-alive connections close after their current response), and at the deadline cut
 * whatever still runs, logging each cut request. Resolves when the server is closed.
 *
 * @example
 * const server = http.createServer(app).listen(8080);
 * trackHttpServer(server);
 * const notice = await waitForInterruption({ cloud: Cloud.AWS });
 * if (notice) await drainHttpServer(server, { deadline: new Date(notice.deadline.getTime() - 5000) });
 */
export function drainHttpServer(server: http.Server, options: DrainHttpServerOptions): Promise<DrainResult> {
  return trackHttpServer(server).drain(options);
}
