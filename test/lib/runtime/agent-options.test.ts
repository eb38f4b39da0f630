import { Cloud, FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';
import { AgentConfig, DrainMode } from '../../../lib/runtime/agent-config';
import { resolveAgentConfig, validateAgentConfig } from '../../../lib/runtime/agent-options';

const base: AgentConfig = { cloud: Cloud.GCP, servingPort: 8080, healthPath: '/health', healthPort: 9901, drainBudgetSeconds: 10, drainMode: DrainMode.HEALTH };
const bad = (extra: Record<string, unknown>) => () => resolveAgentConfig({ ...base, ...extra } as AgentConfig);

test('fills in the defaults per cloud and mode', () => {
  expect(resolveAgentConfig(base)).toMatchObject({
    pollIntervalSeconds: 2,
    safetyMarginSeconds: 5,
    loadBalancerDetectionSeconds: 10, // 20 capped at the budget
    healthHost: '0.0.0.0',
    drainSignal: 'SIGTERM',
    drainUrl: 'http://127.0.0.1:8080/drain',
    drainOnRebalance: false,
    drainOnSigterm: true,
  });
  expect(resolveAgentConfig({ ...base, cloud: Cloud.AZURE }).pollIntervalSeconds).toBe(1);
  expect(resolveAgentConfig({ ...base, drainMode: DrainMode.HTTP }).loadBalancerDetectionSeconds).toBe(0);
  expect(validateAgentConfig(base)).toEqual([]);
});

test.each([
  [{ cloud: 'oracle' }, /cloud \("oracle"\) is not a cloud the agent watches; use one of aws, gcp, azure \[UNKNOWN_CLOUD\]/],
  [{ servingPort: 70000 }, /servingPort \(70000\) must be a port between 1 and 65535/],
  [{ healthPort: -1 }, /healthPort \(-1\) must be a port between 1 and 65535 \(0 picks a free port\); the default is 9901 \[PORT_RANGE\]/],
  [{ healthPort: 8080 }, /healthPort \(8080\) is the servingPort: .* use 9901/],
  [{ healthPath: 'health' }, /healthPath \("health"\) must start with '\/', e.g. '\/health' \[HEALTH_CHECK_PATH\]/],
  [{ drainBudgetSeconds: 0 }, /drainBudgetSeconds \(0\) must be more than 0/],
  [{ drainBudgetSeconds: 45 }, /drainBudgetSeconds \(45 s\) is longer than the 30 s Google Cloud notice; lower it to at most 25 \[DRAIN_BUDGET_EXCEEDED\]/],
  [{ drainMode: 'kill' }, /drainMode \("kill"\) is not a drain mode; use one of health, http, signal \[AGENT_DRAIN_OPTIONS\]/],
  [{ drainMode: DrainMode.SIGNAL }, /drainMode 'signal' needs pidFile .* e.g. '\/run\/inference.pid'/],
  [{ drainSignal: 'SIGNOPE' }, /drainSignal \("SIGNOPE"\) is not a signal name; use e.g. 'SIGTERM'/],
  [{ drainUrl: 'https://x/drain' }, /drainUrl \("https:\/\/x\/drain"\) must be a plain http:\/\/ URL/],
  [{ idleUrl: 'localhost:8080' }, /idleUrl \("localhost:8080"\) must be a plain http:\/\/ URL/],
  [{ pollIntervalSeconds: 30 }, /pollIntervalSeconds \(30\) must be more than 0 and at most 10: .* use 1 or 2 \[AGENT_POLL_INTERVAL\]/],
  [{ safetyMarginSeconds: 30 }, /safetyMarginSeconds \(30\) must be 0 or more and below the 30 s notice; the default is 5/],
  [{ loadBalancerDetectionSeconds: -1 }, /loadBalancerDetectionSeconds \(-1\) must be 0 or more/],
  [{ hookTimeoutSeconds: 0 }, /hookTimeoutSeconds \(0\) must be more than 0/],
  [{ cloud: Cloud.AWS, lifecycleHookName: 'h' }, /lifecycleHookName and autoScalingGroupName go together .* set autoScalingGroupName too, or neither/],
  [{ lifecycleHookName: 'h', autoScalingGroupName: 'g' }, /lifecycleHookName is an AWS Auto Scaling setting but cloud is gcp; remove it/],
])('refuses %j', (extra, message) => {
  expect(bad(extra)).toThrow(FleetSpecError);
  expect(bad(extra)).toThrow(message);
});

test('reports every problem at once, with codes', () => {
  try {
    resolveAgentConfig({ ...base, servingPort: 0, healthPath: 'x', drainBudgetSeconds: 99 });
    throw new Error('expected a FleetSpecError');
  } catch (err) {
    const e = err as FleetSpecError;
    expect(e.message).toMatch(/^spot-agent config: 3 problems/);
    expect(e.problems.map((p) => p.code)).toEqual([FleetSpecErrorCode.PORT_RANGE, FleetSpecErrorCode.HEALTH_CHECK_PATH, FleetSpecErrorCode.DRAIN_BUDGET_EXCEEDED]);
    expect(e.problems.map((p) => p.prop)).toEqual(['servingPort', 'healthPath', 'drainBudgetSeconds']);
  }
});
