// Restart during a drain, per cloud: the bundled agent (as installed) is SIGKILLed while a notice is pending,
// the metadata service no longer shows the notice (Azure: acknowledged events leave the document), and the
// unit starts it again. The new process must fail the health endpoint from its first answer and finish the
// drain by the first process's deadline; a health probe running all along never sees 200 after the notice.
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cloud } from '../../../lib/spec';
import { SpotAgent } from '../../../lib/runtime/agent';
import { DrainMode } from '../../../lib/runtime/agent-config';
import { NOTICE_STATE_FILE, currentBootId, noticeState, writeNoticeState } from '../../../lib/runtime/agent-state';
import { InterruptionKind } from '../../../lib/runtime/events';
import { httpRequest } from '../../../lib/runtime/http';
import { InterruptionWatcher, WatcherContext } from '../../../lib/runtime/watcher';
import { memoryLogger } from './support/collect';
import { freePort, waitFor } from './support/loopback';
import { AwsImdsEmulator, AzureScheduledEventsEmulator, GcpMetadataEmulator } from './support/metadata-emulators';

const root = join(__dirname, '..', '..', '..');
const bundleOf = (cloud: Cloud) => join(root, 'dist', 'runtime', cloud === Cloud.AWS ? 'spot-agent' : 'spot-agent-portable', 'index.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface AgentProcess {
  child: ChildProcess;
  stdout: () => string;
  exited: Promise<number | null>;
}

function startAgent(cloud: Cloud, configFile: string): AgentProcess {
  const child = spawn(process.execPath, [bundleOf(cloud), '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  return { child, stdout: () => out, exited: new Promise((r) => child.on('exit', (code) => r(code))) };
}

/** Probes the health URL every 25 ms, like an impatient load balancer; records every answer. */
function prober(url: string) {
  const seen: Array<{ at: number; status: number }> = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const status = await new Promise<number>((resolve) => {
        const req = http.get(url, { agent: false, timeout: 500 }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', () => resolve(0));
        req.on('timeout', () => req.destroy());
      });
      seen.push({ at: Date.now(), status });
      await sleep(25);
    }
  })();
  return {
    seen,
    async stop() {
      running = false;
      await loop;
    },
  };
}

interface CloudCase {
  cloud: Cloud;
  start(): Promise<{ url: string; stop(): Promise<void> }>;
  /** Publishes the notice. */
  inject(em: unknown): void;
  /** The metadata service stops showing it. */
  clear(em: unknown): void;
}

const cases: CloudCase[] = [
  {
    cloud: Cloud.AWS,
    start: () => new AwsImdsEmulator().start(),
    inject: (em) => (em as AwsImdsEmulator).interrupt(60_000),
    clear: (em) => ((em as AwsImdsEmulator).instanceAction = undefined),
  },
  {
    cloud: Cloud.GCP,
    start: () => new GcpMetadataEmulator().start(),
    inject: (em) => (em as GcpMetadataEmulator).preempt(),
    clear: (em) => (em as GcpMetadataEmulator).set('instance/preempted', 'FALSE'),
  },
  {
    cloud: Cloud.AZURE,
    start: () => new AzureScheduledEventsEmulator().start(),
    inject: (em) => (em as AzureScheduledEventsEmulator).schedule('Preempt', 60_000),
    clear: (em) => ((em as AzureScheduledEventsEmulator).events = []),
  },
];

describe('agent killed during a drain', () => {
  test.concurrent.each(cases)('$cloud: the restarted agent fails health from its first answer, resumes the drain and keeps the first deadline; restarted again after the drain, it still fails', async (c) => {
    expect(existsSync(bundleOf(c.cloud))).toBe(true);
    const em = await c.start();
    const upstream = http.createServer((_q, s) => s.end('ok'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const healthPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), `spot-agent-restart-${c.cloud}-`));
    const stateDirectory = join(dir, 'state');
    const configFile = join(dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        cloud: c.cloud,
        servingPort: (upstream.address() as AddressInfo).port,
        healthPath: '/health',
        healthPort,
        healthHost: '127.0.0.1',
        drainBudgetSeconds: 3,
        serveThroughNotice: false, // about the drain itself: it starts at the notice (serving through it: agent-serve-through.test.ts)
        safetyMarginSeconds: 0.5,
        loadBalancerDetectionSeconds: 0,
        pollIntervalSeconds: 0.5,
        drainMode: DrainMode.HEALTH,
        metadataEndpoint: em.url,
        stateDirectory,
        hookCommand: `echo hook >> ${join(dir, 'hook.log')}`,
      }),
    );
    const url = `http://127.0.0.1:${healthPort}/health`;
    const first = startAgent(c.cloud, configFile);
    let probe: ReturnType<typeof prober> | undefined;
    const others: AgentProcess[] = [];
    try {
      await waitFor(async () => (await httpRequest(url).catch(() => ({ status: 0 }))).status === 200, 10_000, 'the first agent to answer 200');
      probe = prober(url);
      c.inject(em);
      const noticeAt = Date.now();
      await waitFor(() => existsSync(join(stateDirectory, NOTICE_STATE_FILE)), 5000, 'the notice state file');
      const saved = JSON.parse(readFileSync(join(stateDirectory, NOTICE_STATE_FILE), 'utf8')) as { drainDeadline: string; drainedAt?: string };
      expect(saved.drainedAt).toBeUndefined();
      first.child.kill('SIGKILL');
      expect(await first.exited).toBeNull();
      c.clear(em);
      await sleep(300); // the unit's RestartSec
      const second = startAgent(c.cloud, configFile);
      others.push(second);
      expect(await second.exited).toBe(0);
      const exitedAt = Date.now();
      // The first process's deadline, not a fresh budget.
      expect(exitedAt).toBeLessThan(Date.parse(saved.drainDeadline) + 1500);
      expect(exitedAt - noticeAt).toBeLessThan(5000);
      expect(second.stdout()).toContain('restarted while a notice was pending: the health endpoint keeps failing; resuming the drain');
      expect(second.stdout()).toContain('drained; exiting');
      expect(readFileSync(join(dir, 'hook.log'), 'utf8')).toBe('hook\n');

      // Restarted once more after the drain (systemctl restart on the doomed instance): keeps failing, no second hook.
      const third = startAgent(c.cloud, configFile);
      others.push(third);
      await waitFor(() => third.stdout().includes('restarted after the drain finished'), 10_000, 'the third agent to start');
      await sleep(300);
      await probe.stop();
      const after = probe.seen.filter((s) => s.at > noticeAt + 1000);
      expect(after.length).toBeGreaterThan(20);
      expect(after.filter((s) => s.status === 200)).toEqual([]);
      expect(after.some((s) => s.status === 503)).toBe(true);
      expect(readFileSync(join(dir, 'hook.log'), 'utf8')).toBe('hook\n');
      // At shutdown (SIGTERM) it has nothing left to drain: it exits at once instead of holding the instance up.
      third.child.kill('SIGTERM');
      expect(await Promise.race([third.exited, sleep(3000).then(() => 'still running')])).toBe(0);
      expect(third.stdout()).toContain('SIGTERM after the drain finished: stopping');
      if (c.cloud === Cloud.AZURE) expect((em as unknown as AzureScheduledEventsEmulator).acks).toHaveLength(1);
    } finally {
      await probe?.stop();
      first.child.kill('SIGKILL');
      for (const p of others) p.child.kill('SIGKILL');
      upstream.close();
      await em.stop();
    }
  }, 30_000);
});

class QuietWatcher implements InterruptionWatcher {
  public readonly cloud = Cloud.GCP;
  public run(ctx: WatcherContext): Promise<void> {
    return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
  }
}

describe('notice state', () => {
  const config = (stateDirectory: string, servingPort: number) => ({
    cloud: Cloud.GCP,
    servingPort,
    healthPath: '/health',
    healthPort: 0,
    healthHost: '127.0.0.1',
    drainBudgetSeconds: 1,
    serveThroughNotice: false, // about the drain itself: it starts at the notice (serving through it: agent-serve-through.test.ts)
    drainMode: DrainMode.HEALTH,
    loadBalancerDetectionSeconds: 0,
    stateDirectory,
  });
  const event = () => ({ cloud: Cloud.GCP, kind: InterruptionKind.PREEMPTION, instanceId: '1', deadline: new Date(Date.now() + 30_000), detectedAt: new Date() });

  test('a state of an earlier boot (a VM stopped and started again) is stale: the agent serves 200 and says why', async () => {
    const upstream = http.createServer((_q, s) => s.end('ok'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const dir = mkdtempSync(join(tmpdir(), 'spot-agent-stale-'));
    writeNoticeState(dir, noticeState(event(), 'boot-of-yesterday', new Date(), new Date(Date.now() + 1000)));
    const { log, lines } = memoryLogger();
    const agent = new SpotAgent(config(dir, (upstream.address() as AddressInfo).port), { watcher: new QuietWatcher(), log, bootId: currentBootId() || 'boot-of-today' });
    await agent.start();
    try {
      expect((await httpRequest(`http://127.0.0.1:${agent.healthPort}/health`)).status).toBe(200);
      expect(lines.find((l) => l.msg === 'ignoring the notice state of an earlier boot')).toMatchObject({ reason: expect.stringMatching(/written during an earlier boot \(boot-of-yesterday; now /) });
    } finally {
      await agent.stop();
      upstream.close();
    }
  });

  test('an unreadable state is logged (the metadata service repeats a real notice); a state directory that cannot be written is logged, the drain goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spot-agent-garbage-'));
    writeFileSync(join(dir, NOTICE_STATE_FILE), '{"version": 1, "bootId": ');
    const { log, lines } = memoryLogger();
    const agent = new SpotAgent(config(dir, await freePort()), { watcher: new QuietWatcher(), log });
    await agent.start();
    expect(lines.find((l) => l.msg === 'cannot read the notice state; relying on the metadata service to repeat a pending notice')).toMatchObject({ level: 'error', reason: expect.stringMatching(/^not JSON/) });
    await agent.stop();

    const file = join(mkdtempSync(join(tmpdir(), 'spot-agent-ro-')), 'a-file');
    writeFileSync(file, 'x');
    const m2 = memoryLogger();
    const agent2 = new SpotAgent(config(join(file, 'state'), await freePort()), { watcher: new QuietWatcher(), log: m2.log });
    await agent2.start();
    agent2.notify(event());
    expect((await agent2.finished)!.inFlightAtEnd).toBe(-1);
    expect(m2.lines.find((l) => String(l.msg).startsWith('could not save the notice state'))).toMatchObject({ level: 'error', error: expect.stringMatching(/ENOTDIR/) });
  });
});
