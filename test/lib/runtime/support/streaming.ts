import { ChildProcess, spawn } from 'node:child_process';
import * as http from 'node:http';
import { join } from 'node:path';

/** What `standin-server.js` printed. */
export interface StandinEvent {
  readonly event: string;
  readonly at: number;
  readonly [k: string]: unknown;
}

/** A stand-in inference server running as its own process (see standin-server.js). */
export interface Standin {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly metricsPort?: number;
  readonly events: StandinEvent[];
  readonly exited: Promise<number | null>;
  kill(): void;
}

export interface StandinOptions {
  readonly preset: 'vllm' | 'sglang' | 'tgi' | 'triton' | 'generic';
  readonly pidFile?: string;
  readonly port?: number;
  readonly shutdownTimeoutSeconds?: number;
  readonly maxRunning?: number;
  readonly tickMs?: number;
  readonly enableMetrics?: boolean;
  /** Sent back as `x-served-by`. @default - the preset */
  readonly name?: string;
}

/** Starts `standin-server.js` and resolves once it listens. */
export function startStandin(options: StandinOptions): Promise<Standin> {
  const child = spawn(process.execPath, [join(__dirname, 'standin-server.js'), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const events: StandinEvent[] = [];
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const e = JSON.parse(line) as StandinEvent;
        events.push(e);
        if (e.event === 'listening') {
          resolve({
            child,
            pid: e.pid as number,
            port: e.port as number,
            metricsPort: e.metricsPort as number | undefined,
            events,
            exited,
            kill: () => child.kill('SIGKILL'),
          });
        }
      }
    });
    void exited.then((code) => reject(new Error(`stand-in exited with ${code} before listening`)));
  });
}

/** How one streamed request ended, from the client's side. */
export interface StreamOutcome {
  readonly id: string;
  readonly sentAt: number;
  readonly endedAt: number;
  /** `[DONE]` received; `refused` before any token (a retry elsewhere is safe); `cut` after tokens came. */
  readonly outcome: 'completed' | 'refused' | 'cut';
  readonly status: number;
  readonly chunks: number;
  readonly ms: number;
  /** `x-served-by` of the server that streamed it. */
  readonly servedBy?: string;
  /** When the first token came. */
  readonly firstTokenAt?: number;
  readonly error?: string;
}

/**
 * One OpenAI-style streaming request (`GET /v1/completions?ms=N`, server-sent events) to host:port, through
 * whatever is listening there (the server, or a load balancer in front of it).
 */
export function streamRequest(port: number, id: string, ms: number, agent?: http.Agent): Promise<StreamOutcome> {
  const sentAt = Date.now();
  return new Promise((resolve) => {
    let chunks = 0;
    let done = false;
    let status = 0;
    let settled = false;
    let servedBy: string | undefined;
    let firstTokenAt: number | undefined;
    const finish = (outcome: StreamOutcome['outcome'], error?: string) => {
      if (settled) return;
      settled = true;
      resolve({ id, sentAt, endedAt: Date.now(), outcome, status, chunks, ms, servedBy, firstTokenAt, error });
    };
    const req = http.get({ host: '127.0.0.1', port, path: `/v1/completions?ms=${ms}&stream=true`, headers: { 'x-req-id': id, Accept: 'text/event-stream' }, agent: agent ?? false }, (res) => {
      status = res.statusCode ?? 0;
      servedBy = res.headers['x-served-by'] as string | undefined;
      let buf = '';
      res.on('data', (b: Buffer) => {
        buf += b.toString();
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const event = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (event === 'data: [DONE]') done = true;
          else if (event.startsWith('data: ')) {
            chunks++;
            firstTokenAt ??= Date.now();
          }
        }
      });
      res.on('end', () => finish(done ? 'completed' : status !== 200 || chunks === 0 ? 'refused' : 'cut'));
      res.on('error', (e) => finish(chunks === 0 ? 'refused' : 'cut', e.message));
      res.on('close', () => finish(done ? 'completed' : status !== 200 || chunks === 0 ? 'refused' : 'cut', 'closed'));
    });
    req.on('error', (e) => finish(chunks === 0 ? 'refused' : 'cut', (e as NodeJS.ErrnoException).code ?? e.message));
  });
}
