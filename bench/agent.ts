// `npm run bench:agent`: the bundled agent (as installed on instances: dist/runtime/spot-agent on AWS,
// dist/runtime/spot-agent-portable on Google Cloud and Azure) runs
// as its own process against each cloud's metadata service emulated on 127.0.0.1, in front of a real HTTP
// inference server with requests of 0.1-5 s, a load balancer probing the agent's health endpoint every
// 100 ms and 16 steady clients. The notice is published mid-stream. Prints one line per cloud: detection
// latency (notice published -> health endpoint failing), lost requests (accepted but not answered) and the
// agent's peak RSS. Targets: detection <= 1 s on Azure and Google Cloud, <= the poll interval on AWS; 0 lost;
// RSS <= 60 MB.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_NODE_OPTIONS } from '../lib/runtime/agent-config';
import { InferenceServer, LoadBalancer } from '../test/lib/runtime/support/inference';
import { freePort } from '../test/lib/runtime/support/loopback';
import { AwsImdsEmulator, AzureScheduledEventsEmulator, GcpMetadataEmulator } from '../test/lib/runtime/support/metadata-emulators';

const bundle = join(__dirname, '..', 'dist', 'runtime', 'spot-agent', 'index.js');
const portableBundle = join(__dirname, '..', 'dist', 'runtime', 'spot-agent-portable', 'index.js');
/** The bundle each cloud's constructs install. */
const bundleFor = (cloud: string): string => (cloud === 'aws' ? bundle : portableBundle);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const NOTICE_MS = 11_000;
const BUDGET_S = 6;

interface Emulator {
  url: string;
  stop(): Promise<void>;
}

interface Case {
  cloud: 'aws' | 'gcp' | 'azure';
  target: string;
  targetMs: number;
  emulator: () => Promise<Emulator>;
  config: (em: Emulator, servingPort: number) => Record<string, unknown>;
  /** Publishes the notice; returns [publishedAt, deadline]. */
  inject: (em: Emulator) => [number, number];
}

const cases: Case[] = [
  {
    cloud: 'aws',
    target: '<= poll interval (1 s)',
    targetMs: 1000,
    emulator: () => new AwsImdsEmulator().start(),
    config: (em) => ({ drainMode: 'health', pollIntervalSeconds: 1, metadataEndpoint: em.url, loadBalancerDetectionSeconds: 0.5 }),
    inject: (em) => {
      const d = (em as AwsImdsEmulator).interrupt(NOTICE_MS + 1000);
      return [(em as AwsImdsEmulator).publishedAt, d.getTime()];
    },
  },
  {
    cloud: 'gcp',
    target: '<= 1 s',
    targetMs: 1000,
    emulator: () => new GcpMetadataEmulator().start(),
    config: (em, port) => ({ drainMode: 'http', drainUrl: `http://127.0.0.1:${port}/drain`, metadataEndpoint: em.url, loadBalancerDetectionSeconds: 0.5 }),
    inject: (em) => {
      (em as GcpMetadataEmulator).preempt();
      return [(em as GcpMetadataEmulator).publishedAt, Date.now() + NOTICE_MS];
    },
  },
  {
    cloud: 'azure',
    target: '<= 1 s',
    targetMs: 1000,
    emulator: () => new AzureScheduledEventsEmulator().start(),
    config: (em, port) => ({ drainMode: 'health', idleUrl: `http://127.0.0.1:${port}/inflight`, metadataEndpoint: em.url, loadBalancerDetectionSeconds: 0.5 }),
    inject: (em) => {
      const e = (em as AzureScheduledEventsEmulator).schedule('Preempt', NOTICE_MS);
      return [(em as AzureScheduledEventsEmulator).publishedAt, new Date(e.NotBefore).getTime()];
    },
  },
];

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

function vmHwmKiB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

async function run(c: Case): Promise<string> {
  const em = await c.emulator();
  const server = new InferenceServer();
  const servingPort = await server.listen();
  const healthPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `spot-agent-bench-${c.cloud}-`));
  const configFile = join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      cloud: c.cloud,
      servingPort,
      healthPath: '/health',
      healthPort,
      healthHost: '127.0.0.1',
      drainBudgetSeconds: BUDGET_S,
      safetyMarginSeconds: 1,
      ...c.config(em, servingPort),
    }),
  );
  // Run it as the systemd unit does (NODE_OPTIONS from the unit; AGENT_NODE_FLAGS overrides, '' for none).
  const nodeFlags = (process.env.AGENT_NODE_FLAGS ?? AGENT_NODE_OPTIONS).split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeFlags, bundleFor(c.cloud), '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  let errors = '';
  child.stdout!.on('data', (b: Buffer) => (logs += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (errors += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let peakKiB = 0;
  const rssTimer = setInterval(() => (peakKiB = Math.max(peakKiB, vmHwmKiB(child.pid!))), 100);
  const healthUrl = `http://127.0.0.1:${healthPort}/health`;
  while ((await probe(healthUrl)) !== 200) await sleep(50);
  const lb = new LoadBalancer(healthUrl, servingPort, { probeMs: 100, clients: 16, minMs: 100, maxMs: 5000 });
  await lb.start();
  await sleep(3000);
  const [publishedAt, deadline] = c.inject(em);
  let failingAt = 0;
  while (!failingAt) {
    if ((await probe(healthUrl)) !== 200) failingAt = Date.now();
    else await sleep(20);
  }
  const code = await exited;
  if (code !== 0) console.error(errors);
  const exitedAt = Date.now();
  clearInterval(rssTimer);
  await sleep(deadline - Date.now()); // the instance goes away at the notice deadline
  server.kill();
  await lb.stop();
  await em.stop();
  const t = lb.tally(server);
  const last = logs
    .trim()
    .split('\n')
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    })
    .find((l) => l.msg === 'drained; exiting');
  const selfRssMiB = Number(last?.peakRssMiB ?? 0);
  const rssMiB = Math.max(peakKiB / 1024, selfRssMiB);
  const detection = failingAt - publishedAt;
  const ok = detection <= c.targetMs && t.lost.length === 0 && rssMiB <= 60 && code === 0 && exitedAt < deadline;
  return (
    `${c.cloud.padEnd(5)} detection: ${String(detection).padStart(4)} ms (target ${c.target})  lost: ${t.lost.length}  peak RSS: ${rssMiB.toFixed(1)} MB` +
    `  | accepted ${t.accepted}, answered ${t.ok}, routed away ${t.routedAway.length}, refused ${t.refused.length}, agent exit ${code} ${((deadline - exitedAt) / 1000).toFixed(1)} s before the deadline` +
    `  ${ok ? 'OK' : 'MISSED'}`
  );
}

async function mainBench(): Promise<void> {
  if (!existsSync(bundle) || !existsSync(portableBundle)) {
    console.error(`missing ${bundle}: run \`npm run build:handlers\` (npm run bench:agent does)`);
    process.exit(1);
  }
  const only = process.argv[2];
  for (const c of cases) {
    if (only && c.cloud !== only) continue;
    console.log(await run(c));
  }
}

void mainBench();
