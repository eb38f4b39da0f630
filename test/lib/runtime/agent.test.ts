import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoScalingClient, CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { Cloud } from '../../../lib/spec';
import { SpotAgent, queryInFlight } from '../../../lib/runtime/agent';
import { AgentConfig, DrainMode } from '../../../lib/runtime/agent-config';
import { trackHttpServer } from '../../../lib/runtime/drain-http-server';
import { InterruptionEvent, InterruptionKind } from '../../../lib/runtime/events';
import { httpRequest } from '../../../lib/runtime/http';
import { InterruptionWatcher, WatcherContext } from '../../../lib/runtime/watcher';
import { memoryLogger } from './support/collect';
import { freePort, stateDir, waitFor } from './support/loopback';
import { AwsImdsEmulator } from './support/metadata-emulators';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A watcher that never sees anything; tests call agent.notify(). */
class QuietWatcher implements InterruptionWatcher {
  public readonly cloud = Cloud.AZURE;
  public run(ctx: WatcherContext): Promise<void> {
    return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
  }
}

function notice(kind = InterruptionKind.PREEMPTION, inMs = 5000, extra: Partial<InterruptionEvent> = {}): InterruptionEvent {
  return { cloud: Cloud.AZURE, kind, instanceId: 'vm-1', deadline: new Date(Date.now() + inMs), detectedAt: new Date(), ...extra };
}

async function upstream(handler: http.RequestListener = (_q, s) => s.end('ok')) {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

function config(servingPort: number, extra: Partial<AgentConfig> = {}): AgentConfig {
  return {
    cloud: Cloud.AZURE,
    servingPort,
    healthPath: '/health',
    healthPort: 0,
    healthHost: '127.0.0.1',
    drainBudgetSeconds: 1,
    serveThroughNotice: false, // about the drain itself: it starts at the notice (serving through it: agent-serve-through.test.ts)
    drainMode: DrainMode.HEALTH,
    safetyMarginSeconds: 0.5,
    loadBalancerDetectionSeconds: 0,
    stateDirectory: stateDir(),
    ...extra,
  };
}

describe('health endpoint', () => {
  test('proxies the server health (200 / 503 when unhealthy or down), 404 elsewhere, and 503 once a notice came', async () => {
    let healthy = true;
    const up = await upstream((req, res) => {
      res.statusCode = req.url === '/health' && healthy ? 200 : 500;
      res.end();
    });
    const agent = new SpotAgent(config(up.port), { watcher: new QuietWatcher(), log: memoryLogger().log });
    await agent.start();
    const url = `http://127.0.0.1:${agent.healthPort}`;
    expect((await httpRequest(url + '/health')).status).toBe(200);
    healthy = false;
    expect(await httpRequest(url + '/health')).toMatchObject({ status: 503, body: '{"status":"unhealthy","upstreamStatus":500}' });
    healthy = true;
    expect((await httpRequest(url + '/other')).status).toBe(404);
    up.server.close();
    await sleep(20);
    expect((await httpRequest(url + '/health')).status).toBe(503); // server down
    agent.notify(notice());
    const res = await httpRequest(url + '/health');
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'draining' });
    await agent.finished;
  });
});

describe('drain modes', () => {
  test('signal: sends the signal to the PID in pidFile and waits for the server to exit', async () => {
    const child = spawn(process.execPath, ['-e', "process.on('SIGUSR2', () => setTimeout(() => process.exit(0), 300)); setInterval(() => {}, 1000); console.log('up')"], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await new Promise((r) => child.stdout!.once('data', r));
    const dir = mkdtempSync(join(tmpdir(), 'spot-agent-'));
    writeFileSync(join(dir, 'server.pid'), `${child.pid}\n`);
    const { log, messages, lines } = memoryLogger();
    const agent = new SpotAgent(config(await freePort(), { drainMode: DrainMode.SIGNAL, pidFile: join(dir, 'server.pid'), drainSignal: 'SIGUSR2', drainBudgetSeconds: 3 }), {
      watcher: new QuietWatcher(),
      log,
    });
    await agent.start();
    const started = Date.now();
    agent.notify(notice(InterruptionKind.PREEMPTION, 10_000));
    const result = (await agent.finished)!;
    expect(Date.now() - started).toBeLessThan(1500);
    expect(result.inFlightAtEnd).toBe(0);
    expect(lines.find((l) => l.msg === 'sent the drain signal to the inference server')).toMatchObject({ pid: child.pid, signal: 'SIGUSR2' });
    expect(messages()).toContain('inference server exited after the drain signal');
  });

  test('signal: a missing PID file is logged and the agent falls back to the budget', async () => {
    const { log, lines } = memoryLogger();
    const agent = new SpotAgent(config(await freePort(), { drainMode: DrainMode.SIGNAL, pidFile: '/nonexistent/x.pid', drainBudgetSeconds: 0.3 }), { watcher: new QuietWatcher(), log });
    await agent.start();
    agent.notify(notice());
    await agent.finished;
    expect(lines.find((l) => l.msg === 'could not signal the inference server; relying on the failing health endpoint')).toMatchObject({
      level: 'error',
      pidFile: '/nonexistent/x.pid',
      error: expect.stringMatching(/ENOENT/),
    });
  });

  test('http: a drain endpoint that never answers is retried until the deadline, then logged', async () => {
    const { log, lines } = memoryLogger();
    const agent = new SpotAgent(config(await freePort(), { drainMode: DrainMode.HTTP, drainBudgetSeconds: 0.5 }), { watcher: new QuietWatcher(), log });
    await agent.start();
    agent.notify(notice());
    await agent.finished;
    expect(lines.find((l) => String(l.msg).startsWith('inference server drain endpoint did not accept'))).toMatchObject({
      level: 'error',
      error: expect.stringMatching(/ECONNREFUSED/),
    });
  });

  test('embedded server: a request longer than the deadline is cut at the deadline and the agent says so', async () => {
    let arrived = 0;
    const up = await upstream((req, res) => {
      arrived++;
      const t = setTimeout(() => res.end('done'), req.url === '/long' ? 5000 : 100);
      res.on('close', () => clearTimeout(t));
    });
    trackHttpServer(up.server);
    const long = httpRequest(`http://127.0.0.1:${up.port}/long`, { timeoutMs: 10_000 }).catch((e: Error) => e.message);
    const short = httpRequest(`http://127.0.0.1:${up.port}/short`);
    // Both requests in flight before the notice (a loaded machine may take longer than a fixed sleep to deliver them).
    while (arrived < 2) await sleep(5);
    const { log, lines } = memoryLogger();
    const agent = new SpotAgent(config(up.port, { drainBudgetSeconds: 0.6 }), { watcher: new QuietWatcher(), log, server: up.server });
    await agent.start();
    const started = Date.now();
    agent.notify(notice());
    const result = (await agent.finished)!;
    expect(Date.now() - started).toBeLessThan(1500);
    expect((await short).body).toBe('done');
    expect(await long).toMatch(/socket hang up|ECONNRESET/);
    expect(result.inFlightAtEnd).toBe(1);
    expect(lines.find((l) => l.msg === 'request cut at the drain deadline')).toMatchObject({ level: 'warn', url: '/long', method: 'GET' });
  });

  test('health + idleUrl: drained as soon as the server is idle; a request past the deadline is reported', async () => {
    let inFlight = 2;
    const up = await upstream((req, res) => res.end(req.url === '/inflight' ? JSON.stringify({ inFlight }) : 'ok'));
    const { log, lines } = memoryLogger();
    const agent = new SpotAgent(config(up.port, { idleUrl: `http://127.0.0.1:${up.port}/inflight`, drainBudgetSeconds: 2, loadBalancerDetectionSeconds: 0.2 }), {
      watcher: new QuietWatcher(),
      log,
    });
    await agent.start();
    const started = Date.now();
    agent.notify(notice());
    setTimeout(() => (inFlight = 0), 500);
    const result = (await agent.finished)!;
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(result.inFlightAtEnd).toBe(0);
    expect(lines.map((l) => l.msg)).toContain('inference server is idle');

    inFlight = 1; // now one request never ends
    const { log: log2, lines: lines2 } = memoryLogger();
    const agent2 = new SpotAgent(config(up.port, { idleUrl: `http://127.0.0.1:${up.port}/inflight`, drainBudgetSeconds: 0.5 }), { watcher: new QuietWatcher(), log: log2 });
    await agent2.start();
    agent2.notify(notice());
    expect((await agent2.finished)!.inFlightAtEnd).toBe(1);
    expect(lines2.find((l) => String(l.msg).startsWith('drain deadline reached'))).toMatchObject({
      level: 'warn',
      msg: 'drain deadline reached with 1 request(s) still in flight: they are cut when the instance goes',
    });
    up.server.close();
  });

  test('queryInFlight understands a number, JSON and the status code', async () => {
    let reply: [number, string] = [200, '3'];
    const up = await upstream((_q, s) => {
      s.statusCode = reply[0];
      s.end(reply[1]);
    });
    const url = `http://127.0.0.1:${up.port}/`;
    expect(await queryInFlight(url)).toBe(3);
    reply = [200, '{"in_flight":2}'];
    expect(await queryInFlight(url)).toBe(2);
    reply = [200, 'idle'];
    expect(await queryInFlight(url)).toBe(0);
    reply = [503, 'busy'];
    expect(await queryInFlight(url)).toBe(1);
    up.server.close();
    expect(await queryInFlight('http://127.0.0.1:1/')).toBe(-1);
  });
});

describe('hook, signals and notices', () => {
  test('runs the hook with the notice in its environment, and kills one that runs too long', async () => {
    const { log, lines } = memoryLogger();
    const agent = new SpotAgent(config(await freePort(), { drainBudgetSeconds: 0.2, hookCommand: 'echo "checkpoint for $SPOT_AGENT_KIND on $SPOT_AGENT_INSTANCE_ID"' }), {
      watcher: new QuietWatcher(),
      log,
    });
    await agent.start();
    agent.notify(notice());
    expect((await agent.finished)!.hook).toMatchObject({ exitCode: 0, timedOut: false });
    expect(lines.find((l) => l.msg === 'hook finished')).toMatchObject({ output: 'checkpoint for preemption on vm-1' });

    const { log: log2, lines: lines2 } = memoryLogger();
    const agent2 = new SpotAgent(config(await freePort(), { drainBudgetSeconds: 0.2, hookCommand: 'sleep 10', hookTimeoutSeconds: 0.3 }), { watcher: new QuietWatcher(), log: log2 });
    await agent2.start();
    const started = Date.now();
    agent2.notify(notice());
    expect((await agent2.finished)!.hook).toMatchObject({ timedOut: true, exitCode: null });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(lines2.map((l) => l.msg)).toContain('hook ran past its time; killing it');
  });

  test('SIGTERM (ACPI soft-off on Google Cloud) drains with the 30 s notice; a second SIGTERM does not cut it short', async () => {
    const { log, lines } = memoryLogger();
    const agent = new SpotAgent(config(await freePort(), { cloud: Cloud.GCP, drainBudgetSeconds: 0.4 }), { watcher: new QuietWatcher(), log, handleProcessSignals: true });
    await agent.start();
    const listeners = process.listenerCount('SIGTERM');
    process.emit('SIGTERM');
    process.emit('SIGTERM');
    const result = (await agent.finished)!;
    expect(result.event).toMatchObject({ kind: InterruptionKind.SHUTDOWN, detail: 'SIGTERM' });
    expect(Math.round((result.event.deadline.getTime() - result.event.detectedAt.getTime()) / 1000)).toBe(30);
    expect(lines.map((l) => l.msg)).toContain('SIGTERM while draining: finishing the drain first');
    expect(process.listenerCount('SIGTERM')).toBe(listeners - 1);
  });

  test('an advisory notice does not drain unless drainOnRebalance; later notices are only logged', async () => {
    const { log, messages } = memoryLogger();
    const agent = new SpotAgent(config(await freePort(), { drainBudgetSeconds: 0.2 }), { watcher: new QuietWatcher(), log });
    await agent.start();
    agent.notify(notice(InterruptionKind.REBALANCE_RECOMMENDATION, 120_000, { advisory: true }));
    expect((await httpRequest(`http://127.0.0.1:${agent.healthPort}/health`)).status).toBe(503); // upstream is down, not draining
    expect(messages()).toContain('advisory interruption notice: not draining (set drainOnRebalance to drain on it)');
    agent.notify(notice());
    agent.notify(notice(InterruptionKind.TERMINATION));
    await agent.finished;
    expect(messages()).toContain('interruption notice while already draining');
  });

  test('a metadata service that is down never stops the agent', async () => {
    const { log, messages } = memoryLogger();
    const agent = new SpotAgent(config(await freePort(), { metadataEndpoint: `http://127.0.0.1:${await freePort()}` }), { log });
    await agent.start();
    let finished = false;
    void agent.finished.then(() => (finished = true));
    await sleep(1500);
    expect(finished).toBe(false);
    expect(messages()).toContain('Azure Scheduled Events poll failed; retrying');
    await agent.stop();
    expect(await agent.finished).toBeUndefined();
  });
});

describe('AWS lifecycle action', () => {
  let imds: AwsImdsEmulator;
  const asg = mockClient(AutoScalingClient);
  beforeEach(async () => {
    imds = await new AwsImdsEmulator().start();
    asg.reset();
  });
  afterEach(() => imds.stop());
  afterAll(() => asg.restore());

  const awsConfig = (port: number): AgentConfig =>
    config(port, { cloud: Cloud.AWS, drainBudgetSeconds: 0.2, metadataEndpoint: imds.url, lifecycleHookName: 'hook', autoScalingGroupName: 'group' });

  test('an action already completed elsewhere (the cloud-side hook) is success', async () => {
    asg.on(CompleteLifecycleActionCommand).rejects(Object.assign(new Error('No active Lifecycle Action found with instance ID i-0123456789abcdef0'), { name: 'ValidationError' }));
    imds.targetLifecycleState = 'Terminated';
    const agent = new SpotAgent(awsConfig(await freePort()), { log: memoryLogger().log, autoScalingClient: new AutoScalingClient({ region: 'eu-west-1' }) });
    await agent.start();
    await waitFor(() => imds.requests.length > 3, 3000, 'the first poll');
    expect((await agent.finished)!.lifecycleAction).toBe('no-active-action');
  });

  test('not terminating in the group: nothing to complete', async () => {
    const { log, messages } = memoryLogger();
    const agent = new SpotAgent(awsConfig(await freePort()), { log, autoScalingClient: new AutoScalingClient({ region: 'eu-west-1' }) });
    await agent.start();
    imds.interrupt(60_000);
    expect((await agent.finished)!.lifecycleAction).toBe('not-terminating');
    expect(asg.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
    expect(messages()).toContain('instance is not terminating in its Auto Scaling group: no lifecycle action to complete');
  });

  test('a failing API is retried, then logged; the agent still finishes', async () => {
    asg.on(CompleteLifecycleActionCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    imds.targetLifecycleState = 'Terminated';
    const { log, lines } = memoryLogger();
    const agent = new SpotAgent(awsConfig(await freePort()), { log, autoScalingClient: new AutoScalingClient({ region: 'eu-west-1' }) });
    await agent.start();
    expect((await agent.finished)!.lifecycleAction).toBe('failed');
    expect(asg.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(3);
    expect(lines.find((l) => String(l.msg).startsWith('could not complete the lifecycle action'))).toMatchObject({ error: 'Rate exceeded' });
  });
});
