// Server presets against loopback stand-ins (their own processes) that speak each server's documented
// metrics and SIGTERM behaviour: the agent fails health, waits the load balancer detection, then drains
// through the server's own graceful shutdown, or finishes as soon as the server's gauges read 0.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cloud } from '../../../lib/spec';
import { SpotAgent } from '../../../lib/runtime/agent';
import { AgentConfig, DrainMode, ServerPreset } from '../../../lib/runtime/agent-config';
import { resolveAgentConfig } from '../../../lib/runtime/agent-options';
import { InterruptionKind } from '../../../lib/runtime/events';
import { httpRequest } from '../../../lib/runtime/http';
import { SERVER_PRESETS, parsePrometheusText, readInFlight } from '../../../lib/runtime/server-presets';
import { InterruptionWatcher, WatcherContext } from '../../../lib/runtime/watcher';
import { memoryLogger } from './support/collect';
import { stateDir } from './support/loopback';
import { Standin, StandinOptions, startStandin, streamRequest } from './support/streaming';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class QuietWatcher implements InterruptionWatcher {
  public readonly cloud = Cloud.AWS;
  public run(ctx: WatcherContext): Promise<void> {
    return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
  }
}

describe('metrics parsing', () => {
  test('Prometheus text: labels with spaces, quotes and commas, comments, timestamps, garbage lines skipped', () => {
    const samples = parsePrometheusText(
      [
        '# HELP vllm:num_requests_running Number of requests.',
        '# TYPE vllm:num_requests_running gauge',
        'vllm:num_requests_running{model_name="a b",engine="0"} 3.0',
        'vllm:num_requests_running{model_name="q\\"x,}y"} 2 1712345678000',
        'not a metric line at all',
        'tgi_queue_size 4',
        'weird{unterminated="x} 1',
      ].join('\n'),
    );
    expect(samples).toEqual([
      { name: 'vllm:num_requests_running', labels: '{model_name="a b",engine="0"}', value: 3 },
      { name: 'vllm:num_requests_running', labels: '{model_name="q\\"x,}y"}', value: 2 },
      { name: 'tgi_queue_size', labels: '', value: 4 },
    ]);
  });

  test.each([
    [ServerPreset.VLLM, 'vllm:num_requests_running{model_name="m"} 2.0\nvllm:num_requests_waiting{model_name="m"} 1.0\n', 3],
    [ServerPreset.SGLANG, 'sglang:num_running_reqs{tp_rank="0"} 1\nsglang:num_running_reqs{tp_rank="1"} 1\nsglang:num_queue_reqs{tp_rank="0"} 0\n', 2],
    [ServerPreset.TGI, 'tgi_batch_current_size 0\ntgi_queue_size 0\n', 0],
    [ServerPreset.TRITON, 'nv_inference_pending_request_count{model="a",version="1"} 2\nnv_inference_pending_request_count{model="b",version="1"} 1\n', 3],
  ])('%s: running + waiting summed over every label set', (preset, text, inFlight) => {
    expect(readInFlight(SERVER_PRESETS[preset], text).inFlight).toBe(inFlight);
  });

  test('a gauge missing from the metrics is unknown (-1), never idle', () => {
    const r = readInFlight(SERVER_PRESETS[ServerPreset.VLLM], 'vllm:num_requests_running{model_name="m"} 0\n');
    expect(r).toEqual({ inFlight: -1, running: -1, waiting: -1, error: 'the metrics lack vllm:num_requests_waiting' });
  });

  test('presets fill the health path and the metrics URL; Triton has its metrics on port 8002', () => {
    const base: AgentConfig = { cloud: Cloud.AWS, servingPort: 8000, healthPath: '/health', healthPort: 9901, drainBudgetSeconds: 40, drainMode: DrainMode.HEALTH };
    expect(resolveAgentConfig({ ...base, server: ServerPreset.VLLM })).toMatchObject({ upstreamHealthPath: '/health', metricsUrl: 'http://127.0.0.1:8000/metrics' });
    expect(resolveAgentConfig({ ...base, server: ServerPreset.TRITON })).toMatchObject({ upstreamHealthPath: '/v2/health/ready', metricsUrl: 'http://127.0.0.1:8002/metrics' });
    expect(resolveAgentConfig({ ...base, healthPath: '/ping' })).toMatchObject({ server: 'generic', upstreamHealthPath: '/ping', metricsUrl: undefined });
  });
});

interface Run {
  standin: Standin;
  agent: SpotAgent;
  messages: () => string[];
  lines: Array<Record<string, unknown>>;
}

async function drainScenario(opts: StandinOptions, agentExtra: Partial<AgentConfig>, streams: number[]) {
  const dir = mkdtempSync(join(tmpdir(), 'spot-agent-preset-'));
  const pidFile = join(dir, 'server.pid');
  const standin = await startStandin({ pidFile, ...opts });
  const { log, lines, messages } = memoryLogger();
  const agent = new SpotAgent(
    {
      cloud: Cloud.AWS,
      servingPort: standin.port,
      healthPath: '/health',
      healthPort: 0,
      healthHost: '127.0.0.1',
      drainBudgetSeconds: 5,
      serveThroughNotice: false, // about the drain itself: it starts at the notice (serving through it: agent-serve-through.test.ts)
      safetyMarginSeconds: 0.5,
      loadBalancerDetectionSeconds: 0.5,
      drainMode: DrainMode.HEALTH,
      stateDirectory: stateDir(),
      ...(standin.metricsPort ? { metricsUrl: `http://127.0.0.1:${standin.metricsPort}/metrics` } : {}),
      pidFile,
      ...agentExtra,
    },
    { watcher: new QuietWatcher(), log },
  );
  await agent.start();
  const run: Run = { standin, agent, messages, lines };
  expect((await httpRequest(`http://127.0.0.1:${agent.healthPort}/health`)).status).toBe(200); // the server's own health, proxied
  const outcomes = streams.map((ms, i) => streamRequest(standin.port, `s${i}`, ms));
  await sleep(300);
  const noticeAt = Date.now();
  agent.notify({ cloud: Cloud.AWS, kind: InterruptionKind.SPOT_INTERRUPTION, instanceId: 'i-1', deadline: new Date(noticeAt + 30_000), detectedAt: new Date() });
  expect((await httpRequest(`http://127.0.0.1:${agent.healthPort}/health`)).status).toBe(503);
  const result = (await agent.finished)!;
  const sigterm = standin.events.find((e) => e.event === 'sigterm');
  const done = await Promise.all(outcomes);
  standin.kill();
  return { run, result, noticeAt, sigterm, done };
}

describe('presets drain through the server', () => {
  test.concurrent.each([
    ['vllm', { preset: 'vllm', shutdownTimeoutSeconds: 4 }, { server: ServerPreset.VLLM, serverShutdownTimeoutSeconds: 4 }],
    ['sglang', { preset: 'sglang' }, { server: ServerPreset.SGLANG }],
    ['tgi', { preset: 'tgi' }, { server: ServerPreset.TGI }],
    ['triton', { preset: 'triton', shutdownTimeoutSeconds: 4 }, { server: ServerPreset.TRITON, serverShutdownTimeoutSeconds: 4, upstreamHealthPath: '/v2/health/ready' }],
  ] as Array<[string, StandinOptions, Partial<AgentConfig>]>)(
    '%s: SIGTERM after the load balancer detection; every stream (some queued) completes; the drain ends when the server exits',
    async (_name, opts, extra) => {
      // 6 streams on 4 slots: two wait in the queue when the notice comes.
      const { run, result, noticeAt, sigterm, done } = await drainScenario({ maxRunning: 4, ...opts }, extra, [1500, 1500, 1800, 1800, 1000, 1000]);
      expect(done.map((d) => d.outcome)).toEqual(Array(6).fill('completed'));
      expect(sigterm).toBeDefined();
      expect(sigterm!.at - noticeAt).toBeGreaterThanOrEqual(450); // not before the load balancer stopped routing
      expect(await run.standin.exited).not.toBeNull();
      expect(run.standin.events.find((e) => e.event === 'exit')).toMatchObject({ reason: 'drained' });
      expect(result.inFlightAtEnd).toBe(0);
      expect(result.drainedAt.getTime()).toBeLessThan(result.drainDeadline.getTime()); // done early, not at the deadline
      expect(run.messages()).toContain('inference server exited after the drain signal');
    },
  );

  test.concurrent('vLLM without a pid file: the agent finishes as soon as its gauges read 0, and leaves the server running', async () => {
    const { run, result, done } = await drainScenario({ preset: 'vllm', shutdownTimeoutSeconds: 4 }, { server: ServerPreset.VLLM, pidFile: undefined }, [800, 1200]);
    expect(done.map((d) => d.outcome)).toEqual(['completed', 'completed']);
    expect(run.standin.events.some((e) => e.event === 'sigterm')).toBe(false);
    expect(result.inFlightAtEnd).toBe(0);
    expect(result.drainedAt.getTime() - result.healthFailingAt.getTime()).toBeLessThan(2500);
    expect(run.messages()).toContain('vLLM reports no running or waiting request: idle');
  });

  test.concurrent('SGLang started without --enable-metrics: unknown, so the agent waits the budget and says why', async () => {
    const { run, result } = await drainScenario({ preset: 'sglang', enableMetrics: false }, { server: ServerPreset.SGLANG, pidFile: undefined, drainBudgetSeconds: 1.5 }, [300]);
    expect(result.inFlightAtEnd).toBe(-1);
    const warn = run.lines.find((l) => String(l.msg).startsWith("cannot read SGLang's in-flight requests from its metrics"));
    expect(warn).toMatchObject({ level: 'warn', gauges: ['sglang:num_running_reqs', 'sglang:num_queue_reqs'], error: 'status 404' });
  });

  test.concurrent('vLLM started with its default --shutdown-timeout 0 would abort every stream: the agent refuses that config', () => {
    expect(() =>
      resolveAgentConfig({ cloud: Cloud.AWS, servingPort: 8000, healthPath: '/health', healthPort: 9901, drainBudgetSeconds: 40, drainMode: DrainMode.HEALTH, server: ServerPreset.VLLM, pidFile: '/run/vllm.pid' }),
    ).toThrow(/vLLM's default --shutdown-timeout 0: vLLM aborts every in-flight request on SIGTERM; start it with --shutdown-timeout 20 and set serverShutdownTimeoutSeconds: 20/);
  });

  test.concurrent('streams longer than the drain budget are cut at the deadline, not earlier', async () => {
    // Budget 3 s, SIGTERM after 0.5 s, vLLM waits 2 s more: the 1 s stream completes, the 8 s one is cut at ~2.5 s.
    const { done, noticeAt, result } = await drainScenario({ preset: 'vllm', shutdownTimeoutSeconds: 2 }, { server: ServerPreset.VLLM, serverShutdownTimeoutSeconds: 2, drainBudgetSeconds: 3 }, [1000, 8000]);
    expect(done[0].outcome).toBe('completed');
    expect(done[1].outcome).toBe('cut');
    expect(done[1].endedAt - noticeAt).toBeGreaterThanOrEqual(2400);
    expect(done[1].endedAt).toBeLessThanOrEqual(result.drainDeadline.getTime() + 200);
  });
});
