import { Cloud, FleetSpecErrorCode, ProblemCollector, applyFleetSpecDefaults } from '../../../lib/spec';
import {
  AzureSizeStrategy,
  effectiveSizeStrategy,
  isGpuVmSize,
  isInstanceMixVmSize,
  planScaleSets,
  splitEvenly,
  validateAzureFleet,
  vmSizeFamily,
} from '../../../constructs/azure/rules';

describe('VM size families', () => {
  test.each([
    ['Standard_NC4as_T4_v3', 'NC', true, false],
    ['Standard_ND96asr_v4', 'ND', true, false],
    ['Standard_NV36ads_A10_v5', 'NV', true, false],
    ['Standard_D4s_v5', 'D', false, true],
    ['Standard_D4as_v5', 'D', false, true],
    ['Standard_E8-4ds_v5', 'E', false, true],
    ['Standard_F4s_v2', 'F', false, true],
    ['Standard_B2ms', 'B', false, true],
    ['Standard_A2_v2', 'A', false, true],
    ['Standard_L8s_v3', 'L', false, false],
    ['Standard_M8ms', 'M', false, false],
    ['Standard_HB120rs_v3', 'HB', false, false],
  ])('%s is family %s (gpu %s, instance mix %s)', (size, family, gpu, mix) => {
    expect(vmSizeFamily(size)).toBe(family);
    expect(isGpuVmSize(size)).toBe(gpu);
    expect(isInstanceMixVmSize(size)).toBe(mix);
  });

  test('a name that is not a VM size has no family', () => {
    expect(vmSizeFamily('g5.xlarge')).toBeUndefined();
    expect(isInstanceMixVmSize('g5.xlarge')).toBe(false);
  });

  test('AUTO picks an instance mix for A/B/D/E/F sizes and one scale set per size otherwise', () => {
    expect(effectiveSizeStrategy(['Standard_D4s_v5', 'Standard_E4s_v5'])).toBe(AzureSizeStrategy.INSTANCE_MIX);
    expect(effectiveSizeStrategy(['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'])).toBe(AzureSizeStrategy.SCALE_SET_PER_SIZE);
    expect(effectiveSizeStrategy(['Standard_D4s_v5', 'Standard_L8s_v3'])).toBe(AzureSizeStrategy.SCALE_SET_PER_SIZE);
    expect(effectiveSizeStrategy(['Standard_D4s_v5'])).toBe(AzureSizeStrategy.SCALE_SET_PER_SIZE);
    expect(effectiveSizeStrategy(['Standard_D4s_v5', 'Standard_E4s_v5'], AzureSizeStrategy.SCALE_SET_PER_SIZE)).toBe(AzureSizeStrategy.SCALE_SET_PER_SIZE);
  });
});

describe('priority mix arithmetic', () => {
  test('splitEvenly gives the remainder to the first parts and keeps the total', () => {
    expect(splitEvenly(7, 3)).toEqual([3, 2, 2]);
    expect(splitEvenly(1, 3)).toEqual([1, 0, 0]);
    expect(splitEvenly(0, 2)).toEqual([0, 0]);
    for (let t = 0; t < 30; t++) {
      const parts = splitEvenly(t, 4);
      expect(parts.reduce((a, b) => a + b, 0)).toBe(t);
      // Monotonic: one more in total is one more in exactly one part, so min <= desired <= max per part.
      const next = splitEvenly(t + 1, 4);
      expect(next.every((n, i) => n >= parts[i])).toBe(true);
    }
  });

  test('an instance mix carries the base and the percentage of the spec unchanged', () => {
    const spec = applyFleetSpecDefaults(
      { minCapacity: 2, maxCapacity: 20, desiredCapacity: 4, onDemandBaseCapacity: 3, onDemandPercentageAboveBaseCapacity: 25, instanceTypes: ['Standard_D4s_v5', 'Standard_D4as_v5'] },
      Cloud.AZURE,
    );
    expect(planScaleSets(spec)).toEqual([
      {
        skuName: 'Mix',
        mixVmSizes: ['Standard_D4s_v5', 'Standard_D4as_v5'],
        minCapacity: 2,
        maxCapacity: 20,
        desiredCapacity: 4,
        baseRegularCount: 3,
        regularPercentageAboveBase: 25,
      },
    ]);
  });

  test('one scale set per GPU size splits capacity and base evenly and keeps the percentage', () => {
    const spec = applyFleetSpecDefaults(
      { minCapacity: 3, maxCapacity: 10, desiredCapacity: 5, onDemandBaseCapacity: 1, onDemandPercentageAboveBaseCapacity: 50, instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'] },
      Cloud.AZURE,
    );
    const plans = planScaleSets(spec);
    expect(plans.map((p) => p.skuName)).toEqual(['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3']);
    expect(plans.map((p) => p.minCapacity)).toEqual([2, 1]);
    expect(plans.map((p) => p.maxCapacity)).toEqual([5, 5]);
    expect(plans.map((p) => p.desiredCapacity)).toEqual([3, 2]);
    expect(plans.map((p) => p.baseRegularCount)).toEqual([1, 0]);
    expect(plans.map((p) => p.regularPercentageAboveBase)).toEqual([50, 50]);
    expect(plans.every((p) => p.mixVmSizes.length === 0)).toBe(true);
  });

  test('the percentage defaults to 0 (everything above the base on Spot)', () => {
    const spec = applyFleetSpecDefaults({ minCapacity: 1, maxCapacity: 4, onDemandBaseCapacity: 0, instanceTypes: ['Standard_D4s_v5', 'Standard_E4s_v5'] }, Cloud.AZURE);
    expect(planScaleSets(spec)[0]).toMatchObject({ baseRegularCount: 0, regularPercentageAboveBase: 0 });
  });
});

describe('validateAzureFleet', () => {
  const base = { minCapacity: 1, maxCapacity: 6, onDemandBaseCapacity: 1, instanceTypes: ['Standard_D4s_v5', 'Standard_E4s_v5'] };
  const problems = (spec: object, choices: object = {}) => {
    const v = new ProblemCollector();
    validateAzureFleet(applyFleetSpecDefaults({ ...base, ...spec }, Cloud.AZURE), { healthCheckPortSet: false, drainsByHealth: true, instanceRequirementsSet: false, ...choices }, () => false, v);
    return v.problems;
  };

  test('a valid fleet has no problem', () => {
    expect(problems({})).toEqual([]);
  });

  test('problems carry the code of their rule (family CLOUD_CONSTRAINT) and the prop', () => {
    expect(problems({ zones: ['1', 'x'] })).toEqual([expect.objectContaining({ code: FleetSpecErrorCode.AZURE_ZONES, prop: 'zones' })]);
  });

  test('tokens are not validated', () => {
    const v = new ProblemCollector();
    const spec = applyFleetSpecDefaults({ ...base, zones: ['TOKEN'], instanceTypes: ['TOKEN1', 'TOKEN2'] }, Cloud.AZURE);
    validateAzureFleet(spec, { healthCheckPortSet: false, drainsByHealth: true, instanceRequirementsSet: false, maxBidPrice: -7 as number }, (x) => typeof x === 'string' && x.startsWith('TOKEN') || x === -7, v);
    expect(v.problems).toEqual([]);
  });
});
