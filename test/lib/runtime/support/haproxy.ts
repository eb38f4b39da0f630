// A real load balancer on loopback: HAProxy (Debian package `haproxy`) in front of a doomed instance (a
// stand-in inference server with the bundled spot-agent beside it) and a healthy peer, with an HTTP health
// check on the agent's port (interval and fall count like the clouds'). Clients stream server-sent events
// through HAProxy; the notice is published mid-stream on the cloud's emulated metadata service; the instance
// dies at its deadline. Shared by test/lib/runtime/agent-haproxy.e2e.test.ts and bench/agent.ts.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_NODE_OPTIONS } from '../../../../lib/runtime/agent-config';
import { freePort, waitFor } from './loopback';
import { AwsImdsEmulator, AzureScheduledEventsEmulator, GcpMetadataEmulator } from './metadata-emulators';
import { Standin, StandinOptions, StreamOutcome, startStandin, streamRequest } from './streaming';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const root = join(__dirname, '..', '..', '..', '..');

/** The haproxy binary on PATH, or undefined. */
export function haproxyBinary(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path ? path : undefined;
}

/** How the agent drains in a scenario. */
export type DrainModeName = 'health' | 'signal' | 'vllm' | 'sglang';

export interface LoadBalancedScenario {
  readonly cloud: 'aws' | 'gcp' | 'azure';
  readonly mode: DrainModeName;
  /** HAProxy `inter` (ms) and `fall`: the cloud's probe interval and unhealthy threshold. */
  readonly checkIntervalMs: number;
  readonly fall: number;
  readonly budgetSeconds: number;
  readonly safetyMarginSeconds: number;
  /** Streaming clients running all along. */
  readonly clients: number;
  readonly minStreamMs: number;
  readonly maxStreamMs: number;
  /** Every n-th request is `longStreamMs` long (cannot finish inside the budget). 0: none. */
  readonly longEvery: number;
  readonly longStreamMs: number;
  readonly warmupMs: number;
  /** Milliseconds between token chunks. @default 100 */
  readonly tickMs?: number;
  /**
   * After the instance died, how long streams still running on the healthy peer may go on before the run ends;
   * those still running then are not counted (they were never at risk). @default - until they finish
   */
  readonly settleMs?: number;
  /** Agent poll interval of the metadata service (AWS, Azure). @default 1 */
  readonly pollIntervalSeconds?: number;
}

export interface LoadBalancedReport {
  readonly scenario: LoadBalancedScenario;
  /** Notice published -> the agent's health endpoint fails. */
  readonly detectionMs: number;
  /** Notice published -> HAProxy marks the instance DOWN (stops routing). */
  readonly loadBalancerMs: number;
  readonly total: number;
  readonly completed: number;
  /** Refused before the first token: a client retry (elsewhere) is safe. */
  readonly refused: number;
  /** Cut after tokens came. */
  readonly cut: number;
  /** Cut although they could have finished by the drain deadline (the goal: 0). */
  readonly cutFinishable: StreamOutcome[];
  /** Cut before the drain deadline (the goal: 0). */
  readonly cutEarly: StreamOutcome[];
  readonly retryWouldSave: number;
  /** Streams still running on the healthy peer when the run ended (not counted). */
  readonly unfinishedOnPeer: number;
  readonly peakRssMiB: number;
  readonly agentExitCode: number | null;
  readonly noticeAt: number;
  readonly drainDeadline: number;
  readonly outcomes: StreamOutcome[];
  readonly agentLog: string;
}

class HaproxyProcess {
  private child?: ChildProcess;
  public output = '';
  constructor(private readonly cfg: string, private readonly dir: string) {}

  public async start(frontendPort: number): Promise<void> {
    const file = join(this.dir, 'haproxy.cfg');
    writeFileSync(file, this.cfg);
    this.child = spawn(haproxyBinary()!, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (b: Buffer) => (this.output += b.toString()));
    this.child.stderr!.on('data', (b: Buffer) => (this.output += b.toString()));
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const s = net.connect(frontendPort, '127.0.0.1', () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        }),
      10_000,
      `haproxy to listen (${this.output})`,
    );
  }

  /** `show stat` over the stats socket: the status of each server of the backend. */
  public async serverStatus(socket: string): Promise<Record<string, string>> {
    const text = await new Promise<string>((resolve) => {
      let out = '';
      const s = net.connect(socket, () => s.write('show stat\n'));
      s.on('data', (b: Buffer) => (out += b.toString()));
      s.on('end', () => resolve(out));
      s.on('error', () => resolve(out));
    });
    const rows = text.split('\n').filter((l) => l.startsWith('be,'));
    const status: Record<string, string> = {};
    for (const r of rows) {
      const cols = r.split(',');
      status[cols[1]] = cols[17];
    }
    return status;
  }

  public stop(): void {
    this.child?.kill('SIGKILL');
  }
}

function vmHwmKiB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

interface Emulator {
  readonly url: string;
  stop(): Promise<void>;
}

/** Publishes the notice; returns when it was published. */
function injectNotice(cloud: string, em: Emulator, leadMs: number): number {
  if (cloud === 'aws') {
    (em as AwsImdsEmulator).interrupt(leadMs);
    return (em as AwsImdsEmulator).publishedAt;
  }
  if (cloud === 'gcp') {
    (em as GcpMetadataEmulator).preempt();
    return (em as GcpMetadataEmulator).publishedAt;
  }
  (em as AzureScheduledEventsEmulator).schedule('Preempt', leadMs);
  return (em as AzureScheduledEventsEmulator).publishedAt;
}

/**
 * Runs one scenario: HAProxy -> {doomed instance (stand-in + agent bundle), healthy peer}; clients stream
 * through HAProxy; the notice comes after `warmupMs`; the instance dies at `notice + budget + margin`.
 */
export async function runLoadBalancedDrain(s: LoadBalancedScenario): Promise<LoadBalancedReport> {
  const dir = mkdtempSync(join(tmpdir(), `spot-agent-haproxy-${s.cloud}-${s.mode}-`));
  const preset = s.mode === 'vllm' || s.mode === 'sglang' ? s.mode : 'generic';
  const pidFile = join(dir, 'server.pid');
  const fit = Math.floor(s.budgetSeconds - (s.checkIntervalMs * s.fall) / 1000);
  const standinOptions: StandinOptions = { preset, name: 'doomed', pidFile, maxRunning: 64, tickMs: s.tickMs, ...(preset === 'vllm' ? { shutdownTimeoutSeconds: fit } : {}) };
  const doomed: Standin = await startStandin(standinOptions);
  const peer: Standin = await startStandin({ preset: 'generic', name: 'peer', maxRunning: 64, tickMs: s.tickMs });
  const em: Emulator =
    s.cloud === 'aws' ? await new AwsImdsEmulator().start() : s.cloud === 'gcp' ? await new GcpMetadataEmulator().start() : await new AzureScheduledEventsEmulator().start();
  const healthPort = await freePort();
  const frontendPort = await freePort();
  const statsSocket = join(dir, 'stats.sock');
  // DrainMode.SIGNAL: the load balancer probes the server's own health; otherwise the agent's endpoint.
  const checkPort = s.mode === 'signal' ? doomed.port : healthPort;
  const cfg = [
    'global',
    `  stats socket ${statsSocket} mode 600 level admin`,
    '  maxconn 2000',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 300s',
    '  timeout server 300s',
    '  timeout check 1s',
    '  retries 0',
    'frontend fe',
    `  bind 127.0.0.1:${frontendPort}`,
    '  default_backend be',
    'backend be',
    '  balance roundrobin',
    '  option httpchk GET /health',
    '  http-check expect status 200',
    `  default-server inter ${s.checkIntervalMs}ms fall ${s.fall} rise 2`,
    `  server doomed 127.0.0.1:${doomed.port} check port ${checkPort}`,
    `  server peer 127.0.0.1:${peer.port} check`,
    '',
  ].join('\n');
  const lb = new HaproxyProcess(cfg, dir);

  const configFile = join(dir, 'agent.json');
  const agentConfig: Record<string, unknown> = {
    cloud: s.cloud,
    servingPort: doomed.port,
    healthPath: '/health',
    healthPort,
    healthHost: '127.0.0.1',
    drainBudgetSeconds: s.budgetSeconds,
    serveThroughNotice: false, // about the drain itself: it starts at the notice (serving through it: agent-serve-through.test.ts)
    safetyMarginSeconds: s.safetyMarginSeconds,
    metadataEndpoint: em.url,
    pollIntervalSeconds: s.pollIntervalSeconds ?? 1,
    stateDirectory: join(dir, 'state'),
    drainMode: s.mode === 'signal' ? 'signal' : 'health',
    loadBalancerDetectionSeconds: s.mode === 'signal' ? 0 : (s.checkIntervalMs * s.fall) / 1000,
    ...(s.mode === 'signal' ? { pidFile } : {}),
    ...(preset !== 'generic' ? { server: preset, pidFile } : {}),
    ...(preset === 'vllm' ? { serverShutdownTimeoutSeconds: fit } : {}),
  };
  writeFileSync(configFile, JSON.stringify(agentConfig));
  const bundle = join(root, 'dist', 'runtime', s.cloud === 'aws' ? 'spot-agent' : 'spot-agent-portable', 'index.js');
  const agent = spawn(process.execPath, [...AGENT_NODE_OPTIONS.split(' '), bundle, '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let agentLog = '';
  agent.stdout!.on('data', (b: Buffer) => (agentLog += b.toString()));
  agent.stderr!.on('data', (b: Buffer) => (agentLog += b.toString()));
  const agentExited = new Promise<number | null>((r) => agent.on('exit', (code) => r(code)));
  let peakKiB = 0;
  const rssTimer = setInterval(() => (peakKiB = Math.max(peakKiB, vmHwmKiB(agent.pid!))), 100);

  const outcomes: StreamOutcome[] = [];
  let clientsRunning = true;
  let peerKilledAt = Infinity;
  let seq = 0;
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: s.clients * 2 });
  const clientLoops: Promise<void>[] = [];
  try {
    await waitFor(async () => (await probe(`http://127.0.0.1:${healthPort}/health`)) === 200, 10_000, 'the agent to answer 200');
    await lb.start(frontendPort);
    await waitFor(async () => Object.values(await lb.serverStatus(statsSocket)).every((v) => v === 'UP'), 10_000, 'both servers UP in haproxy');
    for (let c = 0; c < s.clients; c++) {
      clientLoops.push(
        (async () => {
          await sleep(Math.random() * 500);
          while (clientsRunning) {
            const n = ++seq;
            const ms = s.longEvery > 0 && n % s.longEvery === 0 ? s.longStreamMs : Math.round(s.minStreamMs + Math.random() * (s.maxStreamMs - s.minStreamMs));
            outcomes.push(await streamRequest(frontendPort, `r${n}`, ms, keepAlive));
            await sleep(20);
          }
        })(),
      );
    }
    await sleep(s.warmupMs);
    const noticeAt = injectNotice(s.cloud, em, (s.budgetSeconds + s.safetyMarginSeconds + 30) * 1000);
    const drainDeadline = noticeAt + s.budgetSeconds * 1000;
    let failingAt = 0;
    let downAt = 0;
    while (!failingAt || !downAt) {
      if (!failingAt && (await probe(`http://127.0.0.1:${healthPort}/health`)) !== 200) failingAt = Date.now();
      if (!downAt && (await lb.serverStatus(statsSocket)).doomed?.startsWith('DOWN')) downAt = Date.now();
      if (Date.now() > drainDeadline + 5000) break;
      await sleep(20);
    }
    // The instance goes away after the drain deadline and the safety margin.
    await sleep(drainDeadline + s.safetyMarginSeconds * 1000 - Date.now());
    const agentExitCode = await Promise.race([agentExited, sleep(2000).then(() => null)]);
    clientsRunning = false;
    doomed.kill();
    if (s.settleMs !== undefined) {
      await Promise.race([Promise.all(clientLoops), sleep(s.settleMs)]);
      peerKilledAt = Date.now();
      peer.kill();
    }
    await Promise.all(clientLoops);
    clearInterval(rssTimer);
    const onPeerAtEnd = (o: StreamOutcome) => o.servedBy === 'peer' && o.outcome !== 'completed' && o.endedAt >= peerKilledAt;
    const unfinishedOnPeer = outcomes.filter(onPeerAtEnd).length;
    outcomes.splice(0, outcomes.length, ...outcomes.filter((o) => !onPeerAtEnd(o)));
    const selfRss = /"peakRssMiB":([\d.]+)/.exec(agentLog);
    const peakRssMiB = Math.max(peakKiB / 1024, selfRss ? Number(selfRss[1]) : 0);
    const cut = outcomes.filter((o) => o.outcome === 'cut');
    const refused = outcomes.filter((o) => o.outcome === 'refused');
    // Could it have finished by the deadline? Started (first token) early enough for its length.
    const finishable = (o: StreamOutcome) => (o.firstTokenAt ?? o.sentAt) + o.ms <= drainDeadline - 200;
    return {
      scenario: s,
      detectionMs: failingAt - noticeAt,
      loadBalancerMs: downAt ? downAt - noticeAt : -1,
      total: outcomes.length,
      completed: outcomes.filter((o) => o.outcome === 'completed').length,
      refused: refused.length,
      cut: cut.length,
      cutFinishable: cut.filter(finishable),
      cutEarly: cut.filter((o) => o.endedAt < drainDeadline - 300),
      retryWouldSave: refused.length + cut.length,
      unfinishedOnPeer,
      peakRssMiB,
      agentExitCode,
      noticeAt,
      drainDeadline,
      outcomes,
      agentLog,
    };
  } finally {
    clientsRunning = false;
    clearInterval(rssTimer);
    keepAlive.destroy();
    agent.kill('SIGKILL');
    doomed.kill();
    peer.kill();
    lb.stop();
    await em.stop();
  }
}

function probe(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 500 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}
