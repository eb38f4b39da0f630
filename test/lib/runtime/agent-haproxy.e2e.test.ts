// End to end through a real load balancer: HAProxy on loopback with an HTTP health check on the agent's port,
// clients streaming server-sent events through it, the notice published mid-stream on the cloud's emulated
// metadata service, the bundled agent as its own process. Times are scaled down (probe every 200 ms, fall 2,
// drain budget 3 s, streams of 0.3-2 s and a few of 4.5 s that cannot finish inside the budget).
// Goal: no stream that could finish by the drain deadline is cut, and none is cut before it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LoadBalancedScenario, haproxyBinary, runLoadBalancedDrain } from './support/haproxy';

const scaled = { checkIntervalMs: 200, fall: 2, budgetSeconds: 3, safetyMarginSeconds: 0.5, clients: 6, minStreamMs: 300, maxStreamMs: 2000, longEvery: 7, longStreamMs: 4500, warmupMs: 1500, tickMs: 50 };
const scenarios: LoadBalancedScenario[] = [
  { cloud: 'aws', mode: 'health', ...scaled },
  { cloud: 'gcp', mode: 'vllm', ...scaled },
  { cloud: 'azure', mode: 'signal', ...scaled },
];

const haproxy = haproxyBinary();
const bundles = ['spot-agent', 'spot-agent-portable'].every((b) => existsSync(join(__dirname, '..', '..', '..', 'dist', 'runtime', b, 'index.js')));

if (!haproxy) {
  test.skip('HAProxy end to end: SKIPPED because `haproxy` is not on PATH (install it: apt-get install -y haproxy; .ci/run does)', () => undefined);
} else {
  test('the agent bundles are built (npm run build:handlers)', () => expect(bundles).toBe(true));

  test.concurrent.each(scenarios)('$cloud, drain mode $mode: through HAProxy, no finishable stream is cut, none before the deadline', async (s) => {
    const r = await runLoadBalancedDrain(s);
    const why = `agent log:\n${r.agentLog.slice(-3000)}`;
    expect({ exit: r.agentExitCode, why }).toMatchObject({ exit: 0 });
    expect(r.total).toBeGreaterThanOrEqual(12);
    expect(r.completed).toBeGreaterThan(0);
    // The agent fails its health endpoint within a poll (AWS and Azure poll every second here; Google Cloud long-polls).
    expect(r.detectionMs).toBeLessThanOrEqual(s.cloud === 'gcp' ? 600 : 1500);
    // HAProxy stops routing after fall x interval of failing checks.
    expect(r.loadBalancerMs).toBeGreaterThan(0);
    expect(r.loadBalancerMs).toBeLessThanOrEqual(r.detectionMs + (s.fall + 1) * s.checkIntervalMs + 300);
    expect(r.cutFinishable).toEqual([]);
    expect(r.cutEarly).toEqual([]);
    // Every request is counted once: completed, refused before its first token, or cut.
    expect(r.completed + r.refused + r.cut).toBe(r.total);
    expect(r.retryWouldSave).toBe(r.refused + r.cut);
    if (s.mode !== 'signal') {
      // With the agent's health endpoint the load balancer stops routing before the server refuses anything.
      expect(r.outcomes.filter((o) => o.outcome === 'refused' && o.sentAt < r.noticeAt)).toEqual([]);
    }
  }, 25_000);
}
