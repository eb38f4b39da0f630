import { DEFAULT_AGENT_HEALTH_PORT, DrainMode } from '../../../lib/runtime/agent-config';
import {
  CLOUD_LIMITS,
  CLOUD_PROFILES,
  Cloud,
  CloudProfile,
  FleetPlanProps,
  FleetSpecErrorCode,
  planFleet,
  unsupportedFeatureProblems,
} from '../../../lib/spec';

const AWS: FleetPlanProps = { minCapacity: 1, maxCapacity: 6, onDemandBaseCapacity: 1, instanceTypes: ['g5.xlarge', 'g6.xlarge'] };
const GCP: FleetPlanProps = { minCapacity: 1, maxCapacity: 6, onDemandBaseCapacity: 1, instanceTypes: ['g2-standard-8', 'g2-standard-12'] };
const AZURE: FleetPlanProps = { minCapacity: 1, maxCapacity: 6, onDemandBaseCapacity: 1, instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'] };
const REQUIREMENTS = { vCpuCount: { min: 4 }, memoryMiB: { min: 16384 } };

describe('cloud profiles', () => {
  test('each cloud declares its notice, drain defaults and unsupported features as data', () => {
    expect(CLOUD_PROFILES[Cloud.AWS]).toMatchObject({ cloud: Cloud.AWS, displayName: 'AWS', noticeSeconds: 120, defaultDrainBudgetSeconds: 45, defaultDeregistrationDelaySeconds: 30, unsupported: [] });
    expect(CLOUD_PROFILES[Cloud.GCP]).toMatchObject({ cloud: Cloud.GCP, noticeSeconds: 30, unsupported: [expect.objectContaining({ feature: 'instanceRequirements' })] });
    expect(CLOUD_PROFILES[Cloud.AZURE]).toMatchObject({ cloud: Cloud.AZURE, noticeSeconds: 30, unsupported: [expect.objectContaining({ feature: 'instanceRequirements' })] });
  });

  test('a profile carries the cloud\'s CLOUD_LIMITS (one source for the notice and the drain defaults)', () => {
    for (const cloud of [Cloud.AWS, Cloud.GCP, Cloud.AZURE]) expect(CLOUD_PROFILES[cloud]).toMatchObject({ ...CLOUD_LIMITS[cloud], cloud });
  });
});

describe('planFleet', () => {
  test('fills the defaults once, from the profile (AWS)', () => {
    const plan = planFleet(AWS, CLOUD_PROFILES[Cloud.AWS]);
    expect(plan.problems).toEqual([]);
    expect(plan.spec).toMatchObject({ cloud: Cloud.AWS, desiredCapacity: 1, onDemandPercentageAboveBaseCapacity: 0, servingPort: 8080, drainBudgetSeconds: 45, deregistrationDelaySeconds: 30, noticeSeconds: 120 });
    expect(plan.profile).toBe(CLOUD_PROFILES[Cloud.AWS]);
  });

  test.each([
    [Cloud.GCP, GCP, 10, 10, 30],
    [Cloud.AZURE, AZURE, 10, 10, 30],
  ])('fills the defaults of %s', (cloud, props, drain, dereg, notice) => {
    const plan = planFleet(props, CLOUD_PROFILES[cloud]);
    expect(plan.problems).toEqual([]);
    expect(plan.spec).toMatchObject({ cloud, drainBudgetSeconds: drain, deregistrationDelaySeconds: dereg, noticeSeconds: notice });
  });

  test('the on-demand / spot split comes from lib/policy', () => {
    const plan = planFleet({ ...GCP, desiredCapacity: 5, onDemandPercentageAboveBaseCapacity: 50 }, CLOUD_PROFILES[Cloud.GCP]);
    // 1 + ceil(50 % of (5 - 1)) = 3 standard VMs; spot gets the rest.
    expect(plan.capacity.onDemandSpot).toEqual({ onDemandCount: 3, spotMin: 0, spotMax: 3, spotDesired: 2 });
    expect(plan.capacity.groups).toEqual([{ minCapacity: 1, maxCapacity: 6, desiredCapacity: 5, onDemandBaseCapacity: 1, onDemandPercentageAboveBaseCapacity: 50 }]);
  });

  test('the split over groups, and the on-demand base in a group of its own', () => {
    const profile = CLOUD_PROFILES[Cloud.AZURE];
    expect(planFleet({ ...AZURE, onDemandBaseCapacity: 3, desiredCapacity: 4 }, profile, { groups: 2 }).capacity.groups).toEqual([
      { minCapacity: 1, maxCapacity: 3, desiredCapacity: 2, onDemandBaseCapacity: 2, onDemandPercentageAboveBaseCapacity: 0 },
      { minCapacity: 0, maxCapacity: 3, desiredCapacity: 2, onDemandBaseCapacity: 1, onDemandPercentageAboveBaseCapacity: 0 },
    ]);
    expect(planFleet({ ...AZURE, onDemandBaseCapacity: 2, desiredCapacity: 4 }, profile, { groups: 2, separateOnDemandBase: true }).capacity.groups).toEqual([
      { minCapacity: 0, maxCapacity: 2, desiredCapacity: 1, onDemandBaseCapacity: 0, onDemandPercentageAboveBaseCapacity: 0 },
      { minCapacity: 0, maxCapacity: 2, desiredCapacity: 1, onDemandBaseCapacity: 0, onDemandPercentageAboveBaseCapacity: 0 },
    ]);
  });

  test('a deploy-time capacity is passed to spotOf, never computed with', () => {
    const TOKEN = -1.8881545897087626e289;
    const plan = planFleet({ ...GCP, maxCapacity: TOKEN }, CLOUD_PROFILES[Cloud.GCP], { isUnresolved: (v) => v === TOKEN, spotOf: (_x, od) => 100 + od });
    expect(plan.problems).toEqual([]);
    expect(plan.capacity.onDemandSpot).toEqual({ onDemandCount: 1, spotMin: 0, spotMax: 101, spotDesired: 0 });
    expect(plan.capacity.groups[0].maxCapacity).toBe(TOKEN);
  });

  test('the agent plan: validated config, drain mode and the health port the load balancer probes', () => {
    const plan = planFleet(AWS, CLOUD_PROFILES[Cloud.AWS], { lifecycleHookName: 'drain' });
    expect(plan.agentEnabled).toBe(true);
    expect(plan.agent.drainMode).toBe(DrainMode.HEALTH);
    expect(plan.agent.config).toMatchObject({ cloud: Cloud.AWS, servingPort: 8080, healthPath: '/health', healthPort: DEFAULT_AGENT_HEALTH_PORT, drainBudgetSeconds: 45, lifecycleHookName: 'drain', loadBalancerDetectionSeconds: 20 });
    expect(plan.healthCheckPort).toBe(DEFAULT_AGENT_HEALTH_PORT);
    // Outside DrainMode.HEALTH the load balancer probes the server itself.
    expect(planFleet({ ...AWS, agent: { drainMode: DrainMode.HTTP, drainUrl: 'http://127.0.0.1:8080/drain' } }, CLOUD_PROFILES[Cloud.AWS]).healthCheckPort).toBe(8080);
  });

  test('without the agent, its options are not checked and the health check port is the spec\'s', () => {
    const plan = planFleet({ ...AWS, healthCheck: { port: 9000 }, agent: { enabled: false, drainMode: DrainMode.SIGNAL } }, CLOUD_PROFILES[Cloud.AWS]);
    expect(plan.agentEnabled).toBe(false);
    expect(plan.problems).toEqual([]);
    expect(plan.agent.problems).not.toEqual([]);
    expect(plan.healthCheckPort).toBe(9000);
  });

  test.each([Cloud.AWS, Cloud.GCP, Cloud.AZURE])('signal drain without a pid file is refused the same way on %s', (cloud) => {
    const props = { [Cloud.AWS]: AWS, [Cloud.GCP]: GCP, [Cloud.AZURE]: AZURE }[cloud];
    const plan = planFleet({ ...props, agent: { drainMode: DrainMode.SIGNAL } }, CLOUD_PROFILES[cloud]);
    expect(plan.problems).toEqual([
      expect.objectContaining({
        code: FleetSpecErrorCode.AGENT_DRAIN_OPTIONS,
        prop: 'agent.pidFile',
        message: expect.stringMatching(/^agent.drainMode is DrainMode.SIGNAL but agent.pidFile is not set: the agent must know which process to signal; set agent.pidFile/),
      }),
    ]);
  });

  test('spec problems come first, then the agent\'s; messages name the prop, the value and the fix', () => {
    const plan = planFleet({ ...AWS, minCapacity: 7, agent: { healthPort: 8080 } }, CLOUD_PROFILES[Cloud.AWS]);
    expect(plan.specProblems.map((p) => p.message)).toEqual(['minCapacity (7) is above maxCapacity (6); raise maxCapacity or lower minCapacity so that minCapacity <= maxCapacity']);
    expect(plan.problems.map((p) => p.prop)).toEqual(['minCapacity', 'agent.healthPort']);
    expect(plan.problems[1].message).toMatch(/^agent.healthPort \(8080\) is the serving port; the agent and the inference server cannot share a port/);
  });

  test('the drain budget is checked against the profile\'s notice', () => {
    const plan = planFleet({ ...GCP, drainBudgetSeconds: 25 }, CLOUD_PROFILES[Cloud.GCP]);
    expect(plan.specProblems).toEqual([
      expect.objectContaining({
        code: FleetSpecErrorCode.DRAIN_BUDGET_EXCEEDED,
        message: 'drain budget exceeded: deregistrationDelaySeconds (10 s) + drainBudgetSeconds (25 s) = 35 s is longer than the 30 s Google Cloud spot notice; lower one or both so the sum is at most 30 s',
      }),
    ]);
  });

  test.each([
    [Cloud.GCP, 'instanceRequirements is not supported on Google Cloud (managed instance groups pick from named machine types); list them in instanceTypes instead, e.g. ["g2-standard-8", "g2-standard-12"]'],
    [Cloud.AZURE, 'instanceRequirements is not supported on Azure (a scale set takes VM sizes by name); list them in instanceTypes instead, e.g. ["Standard_NC4as_T4_v3", "Standard_NC8as_T4_v3"]'],
  ])('a feature %s cannot honour is refused with the reason from its profile', (cloud, message) => {
    const plan = planFleet({ minCapacity: 1, maxCapacity: 6, onDemandBaseCapacity: 1, instanceRequirements: REQUIREMENTS }, CLOUD_PROFILES[cloud]);
    expect(plan.specProblems).toEqual([{ code: FleetSpecErrorCode.INSTANCE_REQUIREMENTS_UNSUPPORTED, prop: 'instanceRequirements', message }]);
    // AWS honours it.
    expect(planFleet({ minCapacity: 1, maxCapacity: 6, onDemandBaseCapacity: 1, instanceRequirements: REQUIREMENTS }, CLOUD_PROFILES[Cloud.AWS]).problems).toEqual([]);
  });

  test('a profile is data: a custom one drives the defaults, the notice and the refusals', () => {
    const profile: CloudProfile = {
      ...CLOUD_PROFILES[Cloud.AWS],
      displayName: 'AWS (test)',
      noticeSeconds: 60,
      defaultDrainBudgetSeconds: 20,
      unsupported: [{ feature: 'zones', reason: 'the test cloud places instances itself', fix: 'leave zones out' }],
    };
    const plan = planFleet({ ...AWS, zones: ['us-east-1a', 'us-east-1b'], deregistrationDelaySeconds: 50 }, profile);
    expect(plan.spec).toMatchObject({ drainBudgetSeconds: 20, noticeSeconds: 60 });
    expect(plan.specProblems.map((p) => p.message)).toEqual([
      'drain budget exceeded: deregistrationDelaySeconds (50 s) + drainBudgetSeconds (20 s) = 70 s is longer than the 60 s AWS (test) spot notice; lower one or both so the sum is at most 60 s',
      'zones is not supported on AWS (test) (the test cloud places instances itself); leave zones out',
    ]);
    expect(unsupportedFeatureProblems(AWS, profile)).toEqual([]);
  });

  test('values that are tokens are not validated', () => {
    const TOKEN = -1.8881545897087626e289;
    const plan = planFleet({ ...AWS, minCapacity: TOKEN, drainBudgetSeconds: TOKEN }, CLOUD_PROFILES[Cloud.AWS], { isUnresolved: (v) => v === TOKEN });
    expect(plan.problems).toEqual([]);
  });
});
