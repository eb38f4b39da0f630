import {
  Cloud,
  CpuArchitecture,
  FleetSpec,
  FleetSpecError,
  FleetSpecErrorCode as C,
  architectureOf,
  resolveFleetSpec,
  validateFleetSpec,
} from '../../../lib/spec';

const base: FleetSpec = {
  minCapacity: 1,
  maxCapacity: 6,
  desiredCapacity: 3,
  onDemandBaseCapacity: 1,
  instanceTypes: ['g5.xlarge', 'g6.xlarge', 'g4dn.xlarge', 'g5.2xlarge'],
};

function problems(spec: Partial<FleetSpec>, cloud = Cloud.AWS) {
  return validateFleetSpec({ ...base, ...spec } as FleetSpec, cloud);
}

function expectOne(spec: Partial<FleetSpec>, code: C, message: RegExp, cloud = Cloud.AWS) {
  const found = problems(spec, cloud);
  expect(found.map((p) => p.code)).toEqual([code]);
  expect(found[0].message).toMatch(message);
  expect(() => resolveFleetSpec({ ...base, ...spec } as FleetSpec, cloud)).toThrow(message);
}

describe('validateFleetSpec', () => {
  test('a well-formed spec has no problems and resolves with defaults', () => {
    expect(problems({})).toEqual([]);
    const r = resolveFleetSpec(base, Cloud.AWS);
    expect(r).toMatchObject({
      desiredCapacity: 3,
      onDemandPercentageAboveBaseCapacity: 0,
      servingPort: 8080,
      drainBudgetSeconds: 45,
      deregistrationDelaySeconds: 30,
      noticeSeconds: 120,
      architecture: CpuArchitecture.X86_64,
      healthCheck: { path: '/health', port: 8080, intervalSeconds: 10 },
    });
    expect(resolveFleetSpec({ ...base, desiredCapacity: undefined }, Cloud.GCP)).toMatchObject({ desiredCapacity: 1, drainBudgetSeconds: 10, noticeSeconds: 30 });
  });

  test('min above max', () => {
    expectOne({ minCapacity: 7, desiredCapacity: 7, maxCapacity: 6 }, C.CAPACITY_ORDER, /minCapacity \(7\) is above maxCapacity \(6\)/);
  });

  test('desired outside min..max', () => {
    expectOne({ desiredCapacity: 0 }, C.CAPACITY_ORDER, /desiredCapacity \(0\) is below minCapacity \(1\)/);
    expectOne({ desiredCapacity: 9 }, C.CAPACITY_ORDER, /desiredCapacity \(9\) is above maxCapacity \(6\)/);
  });

  test('negative or fractional capacity', () => {
    expectOne({ onDemandBaseCapacity: -1 }, C.CAPACITY_NEGATIVE, /onDemandBaseCapacity \(-1\) must be a whole number/);
    expectOne({ maxCapacity: 6.5 }, C.CAPACITY_NEGATIVE, /maxCapacity \(6.5\) must be a whole number/);
  });

  test('on-demand base above max', () => {
    expectOne({ onDemandBaseCapacity: 7 }, C.ON_DEMAND_BASE_ABOVE_MAX, /onDemandBaseCapacity \(7\) is above maxCapacity \(6\).*lower it to at most 6/);
  });

  test('percentages must be 0-100', () => {
    expectOne({ onDemandPercentageAboveBaseCapacity: 101 }, C.PERCENTAGE_RANGE, /onDemandPercentageAboveBaseCapacity \(101\) must be between 0 and 100/);
    expectOne({ onDemandPercentageAboveBaseCapacity: -5 }, C.PERCENTAGE_RANGE, /\(-5\) must be between 0 and 100/);
  });

  test('one instance type is refused unless allowed', () => {
    expectOne({ instanceTypes: ['g5.xlarge'] }, C.NOT_DIVERSIFIED, /instanceTypes has 1 type \(g5.xlarge\).*at least 2 instance types.*allowUndiversified: true/);
    expect(problems({ instanceTypes: ['g5.xlarge'], allowUndiversified: true })).toEqual([]);
  });

  test('two types in one zone are two pools; one type in one zone is refused', () => {
    expect(problems({ instanceTypes: ['g5.xlarge', 'g6.xlarge'], zones: ['us-east-1a', 'us-east-1b'] })).toEqual([]);
    expect(problems({ instanceTypes: ['g5.xlarge', 'g6.xlarge'], zones: ['us-east-1a'] }).map((p) => p.code)).toEqual([C.TOO_FEW_ZONES]);
    expect(problems({ instanceTypes: ['g5.xlarge'], zones: ['us-east-1a'] }).map((p) => p.code)).toEqual([C.NOT_DIVERSIFIED, C.TOO_FEW_ZONES]);
  });

  test('types and requirements are exclusive, one of them is required', () => {
    expectOne({ instanceRequirements: { vCpuCount: { min: 4 }, memoryMiB: { min: 16384 } } }, C.INSTANCE_SELECTION, /instanceTypes and instanceRequirements are both set/);
    expectOne({ instanceTypes: undefined }, C.INSTANCE_SELECTION, /neither instanceTypes nor instanceRequirements is set/);
    expectOne({ instanceTypes: ['g5.xlarge', 'g5.xlarge', 'g6.xlarge'] }, C.INSTANCE_SELECTION, /lists "g5.xlarge" more than once/);
  });

  test('instance requirements need vCPU and memory minimums and ordered ranges', () => {
    const found = problems({
      instanceTypes: undefined,
      instanceRequirements: { vCpuCount: {}, memoryMiB: { min: 8, max: 4 }, gpuCount: { min: -1 } },
    });
    expect(found.map((p) => p.prop)).toEqual([
      'instanceRequirements.vCpuCount.min',
      'instanceRequirements.memoryMiB',
      'instanceRequirements.gpuCount.min',
    ]);
    expect(found[1].message).toMatch(/memoryMiB.min \(8\) is above instanceRequirements.memoryMiB.max \(4\)/);
  });

  test('mixed architectures with one image', () => {
    expectOne({ instanceTypes: ['g5.xlarge', 'g5g.xlarge'] }, C.MIXED_ARCHITECTURES, /g5.xlarge \(x86_64\), g5g.xlarge \(arm64\).*one x86_64 image/);
    expect(problems({ instanceTypes: ['g5g.xlarge', 'g5g.2xlarge'] })).toEqual([]);
  });

  test('drain budget plus deregistration delay must fit the notice, per cloud', () => {
    expectOne({ deregistrationDelaySeconds: 300, drainBudgetSeconds: 60 }, C.DRAIN_BUDGET_EXCEEDED,
      /drain budget exceeded: deregistrationDelaySeconds \(300 s\) \+ drainBudgetSeconds \(60 s\) = 360 s is longer than the 120 s AWS spot notice/);
    expect(problems({ drainBudgetSeconds: 60, deregistrationDelaySeconds: 60 })).toEqual([]);
    expectOne({ drainBudgetSeconds: 25 }, C.DRAIN_BUDGET_EXCEEDED, /= 35 s is longer than the 30 s Google Cloud spot notice/, Cloud.GCP);
    expectOne({ drainBudgetSeconds: 25 }, C.DRAIN_BUDGET_EXCEEDED, /30 s Azure spot notice/, Cloud.AZURE);
    expectOne({ drainBudgetSeconds: -1, deregistrationDelaySeconds: 0 }, C.DRAIN_BUDGET_EXCEEDED, /drainBudgetSeconds \(-1\) must be 0 or more/);
  });

  test('health check path needs a leading slash', () => {
    expectOne({ healthCheck: { path: 'health' } }, C.HEALTH_CHECK_PATH, /healthCheck.path \("health"\) must start with "\/"; use "\/health"/);
  });

  test('health check ranges', () => {
    expectOne({ healthCheck: { intervalSeconds: 1 } }, C.HEALTH_CHECK_RANGE, /healthCheck.intervalSeconds \(1\) must be between 5 and 300/);
    expectOne({ healthCheck: { healthyThreshold: 11 } }, C.HEALTH_CHECK_RANGE, /healthCheck.healthyThreshold \(11\) must be between 2 and 10/);
    expectOne({ healthCheck: { intervalSeconds: 5, timeoutSeconds: 5 } }, C.HEALTH_CHECK_RANGE, /timeoutSeconds \(5\) must be shorter than healthCheck.intervalSeconds \(5\)/);
  });

  test('ports', () => {
    expectOne({ servingPort: 70000 }, C.PORT_RANGE, /servingPort \(70000\) must be between 1 and 65535/);
  });

  test('zones', () => {
    expectOne({ zones: [] }, C.ZONES, /zones is an empty list/);
    expectOne({ zones: ['a', 'a', 'b'] }, C.ZONES, /zones lists a more than once/);
  });

  test('all problems of one props object are reported together', () => {
    let error: FleetSpecError | undefined;
    try {
      resolveFleetSpec({ ...base, minCapacity: 9, onDemandBaseCapacity: 8, healthCheck: { path: 'x' } }, Cloud.AWS, { scope: 'Stack/Fleet' });
    } catch (e) {
      error = e as FleetSpecError;
    }
    expect(error).toBeInstanceOf(FleetSpecError);
    expect(error!.code).toBe(C.CAPACITY_ORDER);
    expect(error!.problems.map((p) => p.code)).toEqual([C.CAPACITY_ORDER, C.ON_DEMAND_BASE_ABOVE_MAX, C.HEALTH_CHECK_PATH]);
    expect(error!.message).toMatch(/^Stack\/Fleet: 3 problems in the fleet spec:/);
  });

  test('tokens are not validated', () => {
    const TOKEN = -1.8881545897087626e289;
    const isUnresolved = (v: unknown) => v === TOKEN;
    expect(validateFleetSpec({ ...base, maxCapacity: TOKEN, onDemandBaseCapacity: TOKEN }, Cloud.AWS, { isUnresolved })).toEqual([]);
  });
});

describe('architectureOf', () => {
  test.each([
    [Cloud.AWS, 'g5.xlarge', CpuArchitecture.X86_64],
    [Cloud.AWS, 'g4dn.xlarge', CpuArchitecture.X86_64],
    [Cloud.AWS, 'g5g.xlarge', CpuArchitecture.ARM64],
    [Cloud.AWS, 'c7gn.large', CpuArchitecture.ARM64],
    [Cloud.AWS, 'is4gen.large', CpuArchitecture.ARM64],
    [Cloud.AWS, 'a1.large', CpuArchitecture.ARM64],
    [Cloud.AWS, 'm7i-flex.large', CpuArchitecture.X86_64],
    [Cloud.GCP, 'g2-standard-8', CpuArchitecture.X86_64],
    [Cloud.GCP, 't2a-standard-4', CpuArchitecture.ARM64],
    [Cloud.AZURE, 'Standard_NC4as_T4_v3', CpuArchitecture.X86_64],
    [Cloud.AZURE, 'Standard_D4ps_v5', CpuArchitecture.ARM64],
  ])('%s %s is %s', (cloud, type, arch) => {
    expect(architectureOf(cloud, type)).toBe(arch);
  });
});
