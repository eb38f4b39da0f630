// Serving through the notice (AgentConfig.serveThroughNotice): on an AWS spot interruption or an Azure Preempt
// notice the health endpoint keeps passing until `deadline - (drainBudget + safetyMargin)`, then the drain runs as
// it would have at the notice. Short budgets and deadlines keep each case under two seconds.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Cloud } from '../../../lib/spec';
import { SpotAgent } from '../../../lib/runtime/agent';
import { AgentConfig, DrainMode } from '../../../lib/runtime/agent-config';
import { resolveAgentConfig } from '../../../lib/runtime/agent-options';
import { InterruptionEvent, InterruptionKind } from '../../../lib/runtime/events';
import { planFleetAgent } from '../../../lib/runtime/fleet-agent';
import { httpRequest } from '../../../lib/runtime/http';
import { InterruptionWatcher, WatcherContext } from '../../../lib/runtime/watcher';
import { memoryLogger } from './support/collect';
import { stateDir } from './support/loopback';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class QuietWatcher implements InterruptionWatcher {
  public readonly cloud = Cloud.AWS;
  public run(ctx: WatcherContext): Promise<void> {
    return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
  }
}

let upstream: http.Server;
let servingPort: number;
beforeAll(async () => {
  upstream = http.createServer((_q, s) => s.end('ok'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  servingPort = (upstream.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => upstream.close(() => r())));

// drain budget 0.5 s + safety margin 0.3 s: a notice due in 1.6 s serves until 0.8 s after it.
const BUDGET = 0.5;
const MARGIN = 0.3;
const DUE_MS = 1600;
const SERVE_MS = DUE_MS - (BUDGET + MARGIN) * 1000;

function config(extra: Partial<AgentConfig> = {}): AgentConfig {
  return {
    cloud: Cloud.AWS,
    servingPort,
    healthPath: '/health',
    healthPort: 0,
    healthHost: '127.0.0.1',
    drainBudgetSeconds: BUDGET,
    safetyMarginSeconds: MARGIN,
    loadBalancerDetectionSeconds: 0,
    drainMode: DrainMode.HEALTH,
    stateDirectory: stateDir(),
    ...extra,
  };
}

function notice(cloud: Cloud, kind: InterruptionKind, inMs = DUE_MS): InterruptionEvent {
  return { cloud, kind, instanceId: 'i-1', deadline: new Date(Date.now() + inMs), detectedAt: new Date() };
}

async function started(extra: Partial<AgentConfig> = {}, handleProcessSignals = false) {
  const logger = memoryLogger();
  const agent = new SpotAgent(config(extra), { watcher: new QuietWatcher(), log: logger.log, handleProcessSignals });
  await agent.start();
  const health = async () => (await httpRequest(`http://127.0.0.1:${agent.healthPort}/health`)).status;
  return { agent, health, messages: logger.messages };
}

describe('serving through the notice', () => {
  test('AWS spot interruption: health passes until deadline - (budget + margin), then the drain runs as before', async () => {
    const { agent, health, messages } = await started();
    const event = notice(Cloud.AWS, InterruptionKind.SPOT_INTERRUPTION);
    const startsAt = event.deadline.getTime() - (BUDGET + MARGIN) * 1000;
    agent.notify(event);
    expect(await health()).toBe(200);
    await sleep(SERVE_MS / 2);
    expect(await health()).toBe(200);
    expect(messages()).toContain('interruption notice: serving until the drain must start');
    expect(messages()).not.toContain('drain deadline set');
    await sleep(SERVE_MS / 2 + 150);
    expect(await health()).toBe(503);
    const result = (await agent.finished)!;
    expect(Math.abs(result.servedUntil!.getTime() - startsAt)).toBeLessThan(150);
    expect(result.healthFailingAt.getTime()).toBeGreaterThanOrEqual(startsAt - 20);
    // the drain deadline is the budget from the drain start, inside the notice less the margin
    expect(result.drainDeadline.getTime()).toBeLessThanOrEqual(event.deadline.getTime() - MARGIN * 1000);
    expect(messages()).toEqual(expect.arrayContaining(['serving through the notice ended: draining', 'drain deadline set', 'drained; exiting']));
  });

  test('a repeated notice is only logged; the group terminating the interrupted instance keeps the spot schedule', async () => {
    const { agent, health, messages } = await started();
    const event = notice(Cloud.AWS, InterruptionKind.SPOT_INTERRUPTION);
    agent.notify(event);
    agent.notify({ ...event, detectedAt: new Date() });
    agent.notify(notice(Cloud.AWS, InterruptionKind.LIFECYCLE_TERMINATION, 120_000));
    await sleep(SERVE_MS / 2);
    expect(await health()).toBe(200);
    expect(messages()).toEqual(expect.arrayContaining([
      'interruption notice while serving through an earlier one',
      'the Auto Scaling group is terminating the interrupted instance: still serving until the drain must start',
    ]));
    const result = (await agent.finished)!;
    expect(result.event.kind).toBe(InterruptionKind.SPOT_INTERRUPTION);
    expect(result.servedUntil!.getTime()).toBeGreaterThanOrEqual(event.deadline.getTime() - (BUDGET + MARGIN) * 1000 - 20);
  });

  test('Azure Preempt serves through; a Terminate event with an earlier deadline drains at once, for that event', async () => {
    const { agent, health, messages } = await started({ cloud: Cloud.AZURE });
    agent.notify(notice(Cloud.AZURE, InterruptionKind.PREEMPTION));
    expect(await health()).toBe(200);
    const t0 = Date.now();
    const terminate = notice(Cloud.AZURE, InterruptionKind.TERMINATION, 1200);
    agent.notify(terminate);
    await sleep(50);
    expect(await health()).toBe(503);
    const result = (await agent.finished)!;
    expect(result.healthFailingAt.getTime() - t0).toBeLessThan(200);
    expect(result.event).toBe(terminate);
    expect(messages()).toContain('termination notice while serving through a preemption notice: draining now');
  });

  test('SIGTERM while serving drains at once', async () => {
    const { agent, health, messages } = await started({}, true);
    agent.notify(notice(Cloud.AWS, InterruptionKind.SPOT_INTERRUPTION));
    const t0 = Date.now();
    process.emit('SIGTERM');
    await sleep(50);
    expect(await health()).toBe(503);
    const result = (await agent.finished)!;
    expect(result.healthFailingAt.getTime() - t0).toBeLessThan(200);
    expect(result.event.kind).toBe(InterruptionKind.SPOT_INTERRUPTION);
    expect(messages()).toContain('SIGTERM while serving through a notice: draining now');
  });

  test('stop() ends the wait: no drain, finished resolves undefined', async () => {
    const { agent, messages } = await started();
    agent.notify(notice(Cloud.AWS, InterruptionKind.SPOT_INTERRUPTION));
    await sleep(50);
    await agent.stop();
    await expect(agent.finished).resolves.toBeUndefined();
    await sleep(SERVE_MS);
    expect(messages()).not.toContain('drain deadline set');
    expect(messages()).not.toContain('serving through the notice ended: draining');
  });

  test.each([
    ['Google Cloud preemption (its notice is the shutdown itself)', { cloud: Cloud.GCP }, Cloud.GCP, InterruptionKind.PREEMPTION, DUE_MS],
    ['serveThroughNotice: false', { serveThroughNotice: false }, Cloud.AWS, InterruptionKind.SPOT_INTERRUPTION, DUE_MS],
    ['an AWS lifecycle termination without a spot notice', {}, Cloud.AWS, InterruptionKind.LIFECYCLE_TERMINATION, DUE_MS],
    ['a notice whose drain should already have started', {}, Cloud.AWS, InterruptionKind.SPOT_INTERRUPTION, 600],
  ])('drains at the notice: %s', async (_name, extra, cloud, kind, inMs) => {
    const { agent, health } = await started(extra as Partial<AgentConfig>);
    agent.notify(notice(cloud, kind, inMs));
    expect(await health()).toBe(503);
    const result = (await agent.finished)!;
    expect(result.servedUntil).toBeUndefined();
  });

  test('a serveThroughNotice that is not a boolean is refused with its value', () => {
    expect(() => resolveAgentConfig(config({ serveThroughNotice: 'yes' as unknown as boolean }))).toThrow(/serveThroughNotice \("yes"\) must be true or false; leave it out for the default/);
    expect(resolveAgentConfig(config()).serveThroughNotice).toBe(true);
  });

  test('the constructs render serveThroughNotice only when it is off (default templates unchanged)', () => {
    const ctx = { cloud: Cloud.AWS, servingPort: 8080, healthCheckPath: '/health', healthCheckIntervalSeconds: 10, healthCheckUnhealthyThreshold: 2, drainBudgetSeconds: 45 };
    expect(planFleetAgent({}, ctx as never).config).not.toHaveProperty('serveThroughNotice');
    expect(planFleetAgent({ serveThroughNotice: true }, ctx as never).config).not.toHaveProperty('serveThroughNotice');
    expect(planFleetAgent({ serveThroughNotice: false }, ctx as never).config).toMatchObject({ serveThroughNotice: false });
  });
});
