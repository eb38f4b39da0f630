// `npm run bench:agent [--scale 0.5] [--cloud aws|gcp|azure] [--mode health|signal|vllm|sglang]`
//
// The drain through a real load balancer: HAProxy on 127.0.0.1 in front of a doomed instance (a stand-in
// inference server streaming server-sent events, with the bundled spot-agent beside it as its own process,
// started with the systemd unit's NODE_OPTIONS) and a healthy peer. HAProxy checks the agent's health endpoint
// (DrainMode.SIGNAL: the server's own) with each cloud's probe interval and fall count; 16 clients stream 5-60 s
// completions through it; the notice is published mid-stream on the cloud's metadata service emulated on
// loopback; the instance dies at notice + drain budget + safety margin.
//
// Per cloud and drain mode it prints: detection latency (notice published -> agent health failing), when
// HAProxy stopped routing, requests completed / refused before their first token (retryable) / cut, the cut
// ones that could have finished inside the budget (goal 0) or were cut before the deadline (goal 0), what a
// client retry would have saved, and the agent's peak RSS.
//
// Times are multiplied by --scale (default 0.5: budgets, probe intervals and stream lengths halved, so the
// whole run takes about two minutes); --scale 1 runs the real durations. Needs `haproxy` on PATH.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DrainModeName, LoadBalancedReport, LoadBalancedScenario, haproxyBinary, runLoadBalancedDrain } from '../test/lib/runtime/support/haproxy';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const scale = Number(arg('scale') ?? '0.5');
const onlyCloud = arg('cloud');
const onlyMode = arg('mode');

/**
 * Each cloud's probe and drain figures (before --scale): AWS, the fleet's target group health check
 * (10 s x 2) and the 45 s default budget of the 120 s notice; Google Cloud, a health check's defaults
 * (check_interval_sec 5, unhealthy_threshold 2) and a 20 s budget of the 30 s notice; Azure, a load balancer
 * probe every 5 s with probeThreshold 2 and a 20 s budget of the 30 s notice.
 */
const clouds: Array<Pick<LoadBalancedScenario, 'cloud' | 'checkIntervalMs' | 'fall' | 'budgetSeconds' | 'safetyMarginSeconds'>> = [
  { cloud: 'aws', checkIntervalMs: 10_000, fall: 2, budgetSeconds: 45, safetyMarginSeconds: 5 },
  { cloud: 'gcp', checkIntervalMs: 5_000, fall: 2, budgetSeconds: 20, safetyMarginSeconds: 5 },
  { cloud: 'azure', checkIntervalMs: 5_000, fall: 2, budgetSeconds: 20, safetyMarginSeconds: 5 },
];
const modes: DrainModeName[] = ['health', 'signal', 'vllm'];

function scenario(c: (typeof clouds)[number], mode: DrainModeName): LoadBalancedScenario {
  return {
    ...c,
    mode,
    checkIntervalMs: Math.round(c.checkIntervalMs * scale),
    budgetSeconds: c.budgetSeconds * scale,
    safetyMarginSeconds: c.safetyMarginSeconds * scale,
    clients: 16,
    minStreamMs: 5_000 * scale,
    maxStreamMs: 60_000 * scale,
    longEvery: 0,
    longStreamMs: 0,
    warmupMs: 12_000 * scale,
    tickMs: 100,
    settleMs: 1000,
    pollIntervalSeconds: 1,
  };
}

const s1 = (ms: number) => (ms < 0 ? '   n/a' : `${(ms / 1000).toFixed(1).padStart(5)} s`);

function line(r: LoadBalancedReport): string {
  const s = r.scenario;
  const ok = r.cutFinishable.length === 0 && r.cutEarly.length === 0 && r.agentExitCode === 0;
  return [
    `${s.cloud.padEnd(5)} ${s.mode.padEnd(6)}`,
    `detection ${String(r.detectionMs).padStart(4)} ms`,
    `LB stopped routing ${s1(r.loadBalancerMs)}`,
    `| ${String(r.total).padStart(3)} requests: completed ${String(r.completed).padStart(3)}, refused ${String(r.refused).padStart(2)}, cut ${String(r.cut).padStart(2)} (could have finished: ${r.cutFinishable.length}, before the deadline: ${r.cutEarly.length})`,
    `| a client retry would have saved ${r.retryWouldSave}`,
    `| agent peak RSS ${r.peakRssMiB.toFixed(1)} MB`,
    ok ? 'OK' : `MISSED${r.agentExitCode !== 0 ? ` (agent exit ${r.agentExitCode})` : ''}`,
  ].join('  ');
}

async function mainBench(): Promise<void> {
  if (!haproxyBinary()) {
    console.error('bench:agent needs HAProxy on PATH: apt-get install -y haproxy');
    process.exit(1);
  }
  const root = join(__dirname, '..', 'dist', 'runtime');
  if (!['spot-agent', 'spot-agent-portable'].every((b) => existsSync(join(root, b, 'index.js')))) {
    console.error('missing dist/runtime/spot-agent*: run `npm run build:handlers` (npm run bench:agent does)');
    process.exit(1);
  }
  const version = /HAProxy version (\S+)/.exec(spawnSync(haproxyBinary()!, ['-v'], { encoding: 'utf8' }).stdout)?.[1] ?? '?';
  console.log(`spot-agent through HAProxy ${version}, Node ${process.versions.node}, ${require('node:os').cpus().length} CPUs: 16 clients streaming ${5 * scale}-${60 * scale} s completions, --scale ${scale}`);
  for (const c of clouds) {
    console.log(`  ${c.cloud}: probe every ${(c.checkIntervalMs * scale) / 1000} s, fall ${c.fall}; drain budget ${c.budgetSeconds * scale} s; safety margin ${c.safetyMarginSeconds * scale} s`);
  }
  let missed = 0;
  for (const mode of modes) {
    if (onlyMode && mode !== onlyMode) continue;
    // The three clouds run side by side (each has its own HAProxy, servers and agent).
    const runs = clouds.filter((c) => !onlyCloud || c.cloud === onlyCloud).map((c) => runLoadBalancedDrain(scenario(c, mode)));
    for (const r of await Promise.all(runs)) {
      console.log(line(r));
      if (r.cutFinishable.length > 0 || r.cutEarly.length > 0 || r.agentExitCode !== 0) missed++;
    }
  }
  process.exitCode = missed > 0 ? 1 : 0;
}

void mainBench();
