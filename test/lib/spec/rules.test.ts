import {
  Cloud,
  FleetSpec,
  FleetSpecErrorCode as C,
  IInstanceTypeCatalog,
  checkEnumValue,
  checkInstanceTypeNames,
  checkOneAccelerator,
  checkZoneCount,
  didYouMean,
  editDistance,
  resolveFleetSpec,
  suggestNames,
  validateFleetSpec,
} from '../../../lib/spec';

/** A small catalogue, enough to exercise the rules without a cloud's data. */
const NAMES = ['g5.xlarge', 'g5.2xlarge', 'g6.xlarge', 'm5.xlarge', 'inf2.xlarge', 'g4ad.xlarge'];
const catalog: IInstanceTypeCatalog = {
  cloudName: 'AWS',
  typeNoun: 'instance type',
  explainUnknown: (n) => (NAMES.includes(n) ? undefined : didYouMean(suggestNames(n, NAMES)) || 'no close name'),
  acceleratorOf: (n) => (n.startsWith('g4ad') ? 'AMD GPU' : n.startsWith('g') ? 'NVIDIA GPU' : n.startsWith('inf') ? 'AWS Neuron' : undefined),
};
const TOKEN = '${Token[X.1]}';
const isUnresolved = (v: unknown) => v === TOKEN || (Array.isArray(v) && v.includes('${Token[LIST.2]}'));

describe('suggestions', () => {
  test('edit distance counts a swap of neighbours as one edit, ignores case', () => {
    expect(editDistance('g5.xlarge', 'g5.xlarge')).toBe(0);
    expect(editDistance('g5.xlarg', 'g5.xlarge')).toBe(1);
    expect(editDistance('g5.xlrage', 'g5.xlarge')).toBe(1);
    expect(editDistance('G5.XLARGE', 'g5.xlarge')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
  });

  test('suggests the closest names first and nothing when none is close', () => {
    expect(suggestNames('g5.xlarg', NAMES)).toEqual(['g5.xlarge']);
    expect(suggestNames('g9.xlarge', NAMES)).toEqual(['g5.xlarge', 'g6.xlarge']);
    expect(suggestNames('zzzzzzzz', NAMES)).toEqual([]);
    expect(suggestNames('g5.xlarge', NAMES)).not.toContain('g5.xlarge');
  });

  test('did you mean reads as a sentence', () => {
    expect(didYouMean([])).toBe('');
    expect(didYouMean(['a'])).toBe('did you mean a?');
    expect(didYouMean(['a', 'b'])).toBe('did you mean a or b?');
    expect(didYouMean(['a', 'b', 'c'])).toBe('did you mean a, b or c?');
  });
});

describe('checkInstanceTypeNames', () => {
  test('one problem per unknown name, with the catalogue reason and suggestion', () => {
    const found = checkInstanceTypeNames('instanceTypes', ['g5.xlarg', 'g5.xlarge', 'qq'], catalog);
    expect(found.map((p) => p.code)).toEqual([C.UNKNOWN_INSTANCE_TYPE, C.UNKNOWN_INSTANCE_TYPE]);
    expect(found[0].message).toBe('instanceTypes: "g5.xlarg" is not an AWS instance type (did you mean g5.xlarge?)');
    expect(found[1].message).toMatch(/"qq" is not an AWS instance type \(no close name\)/);
  });

  test('tokens and an absent list are not checked', () => {
    expect(checkInstanceTypeNames('instanceTypes', [TOKEN, 'g6.xlarge'], catalog, { isUnresolved })).toEqual([]);
    expect(checkInstanceTypeNames('instanceTypes', undefined, catalog)).toEqual([]);
    expect(checkInstanceTypeNames('instanceTypes', ['${Token[LIST.2]}'], catalog, { isUnresolved })).toEqual([]);
  });

  test('the article follows the cloud name', () => {
    const gcp = { ...catalog, cloudName: 'Google Cloud', typeNoun: 'machine type' };
    expect(checkInstanceTypeNames('machineTypes', ['x'], gcp)[0].message).toMatch(/"x" is not a Google Cloud machine type/);
  });
});

describe('checkOneAccelerator', () => {
  test('refuses GPU and CPU-only types in one fleet, naming each kind', () => {
    const found = checkOneAccelerator('instanceTypes', ['g5.xlarge', 'g6.xlarge', 'm5.xlarge'], catalog);
    expect(found).toHaveLength(1);
    expect(found[0].code).toBe(C.MIXED_ACCELERATORS);
    expect(found[0].message).toBe('instanceTypes mixes GPU (accelerator) and CPU-only types (g5.xlarge, g6.xlarge: NVIDIA GPU; m5.xlarge: no accelerator (CPU only)) but a fleet boots one image with one driver; keep types of one kind (e.g. only the GPU types), or split them into one fleet per kind');
  });

  test('refuses two accelerator makers in one fleet', () => {
    const found = checkOneAccelerator('instanceTypes', ['g5.xlarge', 'g4ad.xlarge', 'inf2.xlarge'], catalog);
    expect(found[0].message).toMatch(/mixes types with different accelerators \(g5.xlarge: NVIDIA GPU; g4ad.xlarge: AMD GPU; inf2.xlarge: AWS Neuron\)/);
  });

  test('accepts one kind, and skips tokens and unknown names', () => {
    expect(checkOneAccelerator('instanceTypes', ['g5.xlarge', 'g6.xlarge'], catalog)).toEqual([]);
    expect(checkOneAccelerator('instanceTypes', ['g5.xlarge', TOKEN, 'nope'], catalog, { isUnresolved })).toEqual([]);
  });
});

describe('checkZoneCount', () => {
  test('refuses one zone, naming the prop, the zone and the fix', () => {
    const found = checkZoneCount('zones', ['us-east-1a'], undefined, 'AWS');
    expect(found.map((p) => p.code)).toEqual([C.TOO_FEW_ZONES]);
    expect(found[0].message).toBe('zones has 1 zone ("us-east-1a"): an AWS spot fleet needs at least 2 zones so that one zone running out of spot capacity does not take the whole fleet; list 2 or more zones, leave zones out to use every zone, or set allowUndiversified: true');
    expect(checkZoneCount('zones', ['1', '1'], false, 'Azure')[0].message).toMatch(/zones has 1 zone \("1"\): an Azure spot fleet/);
    expect(checkZoneCount('zones', ['europe-west4-a'], false, 'Google Cloud')[0].message).toMatch(/: a Google Cloud spot fleet/);
  });

  test('accepts two zones, no zones (every zone), allowUndiversified, and tokens', () => {
    expect(checkZoneCount('zones', ['a', 'b'], undefined, 'AWS')).toEqual([]);
    expect(checkZoneCount('zones', undefined, undefined, 'AWS')).toEqual([]);
    expect(checkZoneCount('zones', [], undefined, 'AWS')).toEqual([]);
    expect(checkZoneCount('zones', ['a'], true, 'AWS')).toEqual([]);
    expect(checkZoneCount('zones', ['a', TOKEN], undefined, 'AWS', { isUnresolved })).toEqual([]);
  });
});

enum Strategy {
  PRICE_CAPACITY_OPTIMIZED = 'price-capacity-optimized',
  CAPACITY_OPTIMIZED = 'capacity-optimized',
}
enum Numeric { ONE = 1, TWO = 2 }

describe('checkEnumValue', () => {
  test('refuses a string that is none of the values, lists them and suggests the closest', () => {
    const found = checkEnumValue('allocationStrategy', 'price-capacity-optimised', 'AllocationStrategy', Strategy);
    expect(found.map((p) => p.code)).toEqual([C.UNKNOWN_ENUM_VALUE]);
    expect(found[0].message).toBe('allocationStrategy ("price-capacity-optimised") is not one of the AllocationStrategy values; use one of AllocationStrategy.PRICE_CAPACITY_OPTIMIZED ("price-capacity-optimized"), AllocationStrategy.CAPACITY_OPTIMIZED ("capacity-optimized"); did you mean AllocationStrategy.PRICE_CAPACITY_OPTIMIZED ("price-capacity-optimized")?');
    expect(checkEnumValue('allocationStrategy', 'lowest-price', 'AllocationStrategy', Strategy)[0].message).not.toMatch(/did you mean/);
  });

  test('accepts every member, undefined and tokens; numeric enums compare values, not names', () => {
    expect(checkEnumValue('s', Strategy.CAPACITY_OPTIMIZED, 'S', Strategy)).toEqual([]);
    expect(checkEnumValue('s', undefined, 'S', Strategy)).toEqual([]);
    expect(checkEnumValue('s', TOKEN, 'S', Strategy, { isUnresolved })).toEqual([]);
    expect(checkEnumValue('n', 2, 'Numeric', Numeric)).toEqual([]);
    expect(checkEnumValue('n', 'ONE', 'Numeric', Numeric)[0].message).toBe('n ("ONE") is not one of the Numeric values; use one of Numeric.ONE (1), Numeric.TWO (2)');
  });
});

describe('validateFleetSpec applies the cross-cloud rules', () => {
  const base: FleetSpec = { minCapacity: 1, maxCapacity: 4, onDemandBaseCapacity: 1, instanceTypes: ['g5.xlarge', 'g6.xlarge'] };

  test('the zone rule on every cloud', () => {
    for (const cloud of [Cloud.AWS, Cloud.GCP, Cloud.AZURE]) {
      const found = validateFleetSpec({ ...base, zones: ['z1'] }, cloud);
      expect(found.map((p) => p.code)).toEqual([C.TOO_FEW_ZONES]);
      expect(validateFleetSpec({ ...base, zones: ['z1'], allowUndiversified: true }, cloud)).toEqual([]);
    }
  });

  test('names and accelerators only when a catalogue is given', () => {
    const spec = { ...base, instanceTypes: ['g5.xlarg', 'g5.xlarge', 'm5.xlarge'] };
    expect(validateFleetSpec(spec, Cloud.AWS)).toEqual([]);
    const found = validateFleetSpec(spec, Cloud.AWS, { catalog });
    expect(found.map((p) => p.code)).toEqual([C.UNKNOWN_INSTANCE_TYPE, C.MIXED_ACCELERATORS]);
    expect(() => resolveFleetSpec(spec, Cloud.AWS, { catalog, scope: 'Stack/Fleet' })).toThrow(/Stack\/Fleet: 2 problems[\s\S]*did you mean g5.xlarge\?/);
    // allowUnknownInstanceTypes lets a name the catalogue does not know through; the accelerator rule still applies.
    expect(validateFleetSpec({ ...spec, allowUnknownInstanceTypes: true }, Cloud.AWS, { catalog }).map((p) => p.code)).toEqual([C.MIXED_ACCELERATORS]);
  });
});
