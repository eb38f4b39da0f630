// End to end, per cloud: a real HTTP inference server on loopback with requests of 0.1-1.5 s, a load
// balancer that probes the agent's health endpoint and a steady stream of clients, the cloud's metadata
// service emulated on 127.0.0.1, and the notice injected mid-stream. At the notice deadline the "instance"
// dies (every connection is cut). Zero accepted requests may fail.
import { AutoScalingClient, CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { Cloud } from '../../../lib/spec';
import { SpotAgent } from '../../../lib/runtime/agent';
import { AgentConfig, DrainMode } from '../../../lib/runtime/agent-config';
import { memoryLogger } from './support/collect';
import { InferenceServer, LoadBalancer } from './support/inference';
import { stateDir } from './support/loopback';
import { AwsImdsEmulator, AzureScheduledEventsEmulator, GcpMetadataEmulator } from './support/metadata-emulators';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const common = { healthPath: '/health', healthPort: 0, healthHost: '127.0.0.1', safetyMarginSeconds: 0.5 };

type ScenarioConfig = Omit<AgentConfig, 'servingPort' | 'healthPath' | 'healthPort'>;

async function scenario(config: ScenarioConfig | ((servingPort: number) => ScenarioConfig), inject: () => Promise<Date>, deps = {}) {
  const { log, lines, messages } = memoryLogger();
  const server = new InferenceServer(log);
  await server.listen();
  const cfg = typeof config === 'function' ? config(server.port) : config;
  const agent = new SpotAgent({ ...common, stateDirectory: stateDir(), ...cfg, servingPort: server.port } as AgentConfig, { log, ...deps });
  await agent.start();
  const lb = new LoadBalancer(`http://127.0.0.1:${agent.healthPort}/health`, server.port, { probeMs: 100, clients: 8, minMs: 100, maxMs: 1500 });
  await lb.start();
  expect(lb.healthy).toBe(true); // proxied from the inference server's own /health
  await sleep(1000);
  const deadline = await inject();
  const result = await agent.finished;
  const finishedAt = Date.now();
  // The instance goes away at the notice deadline.
  await sleep(deadline.getTime() - Date.now());
  server.kill();
  await lb.stop();
  return { result: result!, finishedAt, deadline, tally: lb.tally(server), lb, server, lines, messages };
}

function expectNothingLost(s: Awaited<ReturnType<typeof scenario>>) {
  const flippedAt = s.result.healthFailingAt.getTime();
  expect(s.tally.accepted).toBeGreaterThanOrEqual(8);
  expect(s.tally.lost).toEqual([]);
  // Nothing is refused or routed away before the health endpoint failed.
  for (const r of [...s.tally.routedAway, ...s.tally.refused]) expect(r.sentAt).toBeGreaterThanOrEqual(flippedAt);
  expect(s.tally.routedAway.length).toBeGreaterThan(0);
  // The agent finished (and acknowledged) before the cloud's deadline.
  expect(s.finishedAt).toBeLessThan(s.deadline.getTime());
  expect(s.messages()).toContain('health endpoint now failing (503): the load balancer stops routing here');
  expect(s.messages()).toContain('drained; exiting');
}

test.concurrent('AWS: spot instance-action -> health 503 within one poll, drain, lifecycle action completed, nothing lost', async () => {
  const imds = await new AwsImdsEmulator().start();
  const asg = mockClient(AutoScalingClient);
  asg.on(CompleteLifecycleActionCommand).resolves({});
  try {
    const s = await scenario(
      {
        cloud: Cloud.AWS,
        drainMode: DrainMode.HEALTH,
        drainBudgetSeconds: 2.5,
        serveThroughNotice: false, // about the drain itself: it starts at the notice (serving through it: agent-serve-through.test.ts)
        metadataEndpoint: imds.url,
        pollIntervalSeconds: 0.25,
        loadBalancerDetectionSeconds: 0.3,
        lifecycleHookName: 'drain-hook',
        autoScalingGroupName: 'inference-fleet',
      },
      async () => {
        const deadline = imds.interrupt(4000);
        // Auto Scaling reacts to the interruption: the instance goes to Terminating:Wait.
        setTimeout(() => (imds.targetLifecycleState = 'Terminated'), 200);
        return deadline;
      },
      { autoScalingClient: new AutoScalingClient({ region: 'eu-west-1' }) },
    );
    expectNothingLost(s);
    expect(s.result.event.kind).toBe('spot-interruption');
    expect(s.result.healthFailingAt.getTime() - imds.publishedAt).toBeLessThanOrEqual(250 + 150);
    expect(s.result.lifecycleAction).toBe('completed');
    const calls = asg.commandCalls(CompleteLifecycleActionCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0].args[0].input).toEqual({
      AutoScalingGroupName: 'inference-fleet',
      LifecycleHookName: 'drain-hook',
      InstanceId: 'i-0123456789abcdef0',
      LifecycleActionResult: 'CONTINUE',
    });
  } finally {
    asg.restore();
    await imds.stop();
  }
});

test.concurrent('Google Cloud: preempted long poll -> health 503 at once, POST /drain to the server, nothing lost', async () => {
  const md = await new GcpMetadataEmulator().start();
  try {
    const s = await scenario(
      { cloud: Cloud.GCP, drainMode: DrainMode.HTTP, drainBudgetSeconds: 2, metadataEndpoint: md.url, loadBalancerDetectionSeconds: 0 },
      async () => {
        md.preempt();
        // The agent assumes the documented 30 s; this test's "instance" dies 3 s after the notice.
        return new Date(Date.now() + 3000);
      },
    );
    expectNothingLost(s);
    expect(s.result.event.kind).toBe('preemption');
    expect(s.result.healthFailingAt.getTime() - md.publishedAt).toBeLessThan(200);
    const drain = await s.server.drainResult!;
    expect(drain.cut).toEqual([]);
    expect(s.messages()).toContain('inference server accepted the drain request');
    expect(s.messages()).toContain('HTTP server drained');
  } finally {
    await md.stop();
  }
});

test.concurrent('Azure: Preempt scheduled event -> health 503 within a second, drained when idle, StartRequests sent, nothing lost', async () => {
  const se = await new AzureScheduledEventsEmulator().start();
  try {
    let eventId = '';
    const s = await scenario(
      (servingPort) => ({
        cloud: Cloud.AZURE,
        drainMode: DrainMode.HEALTH,
        drainBudgetSeconds: 3,
        serveThroughNotice: false, // about the drain itself: it starts at the notice (serving through it: agent-serve-through.test.ts)
        metadataEndpoint: se.url,
        loadBalancerDetectionSeconds: 0.3,
        idleUrl: `http://127.0.0.1:${servingPort}/inflight`,
      }),
      async () => {
        const e = se.schedule('Preempt', 4500);
        eventId = e.EventId;
        return new Date(e.NotBefore);
      },
    );
    expectNothingLost(s);
    expect(s.result.event.kind).toBe('preemption');
    expect(s.result.healthFailingAt.getTime() - se.publishedAt).toBeLessThanOrEqual(1000 + 150);
    expect(s.result.acknowledged).toBe(true);
    expect(se.acks.map((a) => a.eventId)).toEqual([eventId]);
    expect(se.acks[0].at).toBeLessThan(s.deadline.getTime());
  } finally {
    await se.stop();
  }
});
