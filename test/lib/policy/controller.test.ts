import { ControllerGroup, ControllerGroupRole, ControllerObservation, parsePoolId, planControllerStep, poolId } from '../../../lib/policy';

const T0 = 1_700_000_000;
const R = ControllerGroupRole;

function pools(region: string, zones: string[], types: string[], ready: (z: string, t: string) => number, preempted: (z: string, t: string) => number = () => 0) {
  return zones.flatMap((z) => types.map((t) => ({ pool: poolId(region, z, t), ready: ready(z, t), preempted: preempted(z, t) })));
}

function regionGroups(region: string, zones: string[], types: string[], od = 0, spare = 0): ControllerGroup[] {
  return [
    { id: `${region}/od`, region, role: R.ON_DEMAND, desired: od, maxSize: 6, zones, types },
    { id: `${region}/spare`, region, role: R.SPARE_SPOT, desired: spare, maxSize: 2, zones, types, allowedZones: zones, allowedTypes: types },
  ];
}

describe('poolId / parsePoolId', () => {
  test('round-trip, and two-part ids have no region', () => {
    expect(parsePoolId(poolId('us-east-1', 'us-east-1a', 'g5.xlarge'))).toEqual({ region: 'us-east-1', zone: 'us-east-1a', type: 'g5.xlarge' });
    expect(parsePoolId('us-east-1a/g5.xlarge')).toEqual({ region: '', zone: 'us-east-1a', type: 'g5.xlarge' });
  });
});

describe('planControllerStep, one region', () => {
  const zones = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
  const types = ['g5.xlarge', 'g6.xlarge'];

  test('a preemption: the fallback goes to the on-demand group, a spare to the spare group, steered away from the preempted zone', () => {
    const observed: ControllerObservation = {
      nowSeconds: T0,
      targetReplicas: 3,
      onDemandBase: 0,
      maxCapacity: 8,
      pools: pools('us-east-1', zones, types, (z, t) => (t === 'g5.xlarge' && z !== 'us-east-1a' ? 1 : 0), (z, t) => (z === 'us-east-1a' && t === 'g5.xlarge' ? 1 : 0)),
    };
    // us-east-1a/g6 also lost capacity just before: the whole zone is avoided.
    const first = planControllerStep({ observed: { ...observed, nowSeconds: T0 - 30, pools: observed.pools.map((p) => ({ ...p, preempted: 0, launchFailures: p.pool === 'us-east-1/us-east-1a/g6.xlarge' ? 1 : 0, ready: p.pool.endsWith('1a/g5.xlarge') ? 1 : p.ready })) }, groups: regionGroups('us-east-1', zones, types) });
    const step = planControllerStep({ observed, state: first.nextState, groups: regionGroups('us-east-1', zones, types) });
    expect(step.decision.fallbackReplicas).toBe(1);
    expect(step.decision.spareSpotReplicas).toBe(1);
    const [od, spare] = step.actions;
    expect(od).toEqual({ group: 'us-east-1/od', region: 'us-east-1', role: R.ON_DEMAND, desired: 1, changed: true });
    expect(spare.desired).toBe(1);
    expect(spare.zones).toEqual(['us-east-1b', 'us-east-1c']);
    expect(spare.types).toBeUndefined(); // both types still usable in 1b/1c: unchanged
    expect(step.fallbackReplicas).toBe(1);
    expect(step.spareSpotReplicas).toBe(1);
    expect(step.nextState).toBe(step.decision.state);
    expect(step.reasons.join('\n')).toMatch(/us-east-1\/spare: steered to zones us-east-1b,us-east-1c/);
    expect(step.reasons.join('\n')).toMatch(/us-east-1\/spare: spare spot 0 -> 1/);
  });

  test('applied again with the groups as the first step left them, nothing changes (idempotent)', () => {
    const observed: ControllerObservation = { nowSeconds: T0, targetReplicas: 2, onDemandBase: 0, maxCapacity: 6, pools: pools('us-east-1', zones, types, (z, t) => (t === 'g5.xlarge' && z !== 'us-east-1c' ? 1 : 0), (z, t) => (z === 'us-east-1c' && t === 'g5.xlarge' ? 1 : 0)) };
    const groups = regionGroups('us-east-1', zones, types);
    const a = planControllerStep({ observed, groups });
    const applied = groups.map((g, i) => ({ ...g, desired: a.actions[i].desired, zones: a.actions[i].zones ?? g.zones, types: a.actions[i].types ?? g.types }));
    const again = planControllerStep({ observed: { ...observed, nowSeconds: T0 + 60, pools: observed.pools.map((p) => ({ ...p, preempted: 0 })) }, state: a.nextState, groups: applied });
    expect(again.actions.map((x) => x.changed)).toEqual([false, false]);
  });

  test('a pool avoided inside the zones x types product cannot be excluded: the reasons say so', () => {
    const observed: ControllerObservation = {
      nowSeconds: T0,
      targetReplicas: 2,
      onDemandBase: 0,
      maxCapacity: 6,
      pools: pools('us-east-1', zones.slice(0, 2), types, () => 1, (z, t) => (z === 'us-east-1a' && t === 'g5.xlarge' ? 1 : 0)),
    };
    const step = planControllerStep({ observed, groups: regionGroups('us-east-1', zones.slice(0, 2), types) });
    expect(step.actions[1].zones).toBeUndefined();
    expect(step.reasons.join('\n')).toMatch(/us-east-1\/us-east-1a\/g5.xlarge avoided by the policy but inside the zones x types/);
  });

  test('groups that cannot be steered (one per zone) are steered by size: spares skip the avoided zone', () => {
    const observed: ControllerObservation = { nowSeconds: T0, targetReplicas: 2, onDemandBase: 0, maxCapacity: 6, pools: pools('eastus', ['1', '2'], ['Standard_NC4as_T4_v3'], (z) => (z === '2' ? 2 : 0), (z) => (z === '1' ? 1 : 0)) };
    const groups: ControllerGroup[] = ['1', '2'].map((z) => ({ id: `spare-${z}`, region: 'eastus', role: R.SPARE_SPOT, desired: 0, maxSize: 2, zones: [z], types: ['Standard_NC4as_T4_v3'] }));
    const step = planControllerStep({ observed, groups });
    expect(step.actions.map((a) => [a.group, a.desired, a.zones])).toEqual([
      ['spare-1', 0, undefined],
      ['spare-2', 1, undefined],
    ]);
  });

  test('an idle spare group (0 now, 0 wanted) is not steered, however the pools change', () => {
    const observed: ControllerObservation = { nowSeconds: T0, targetReplicas: 2, onDemandBase: 0, maxCapacity: 6, pools: pools('us-east-1', zones, types, () => 1, (z) => (z === 'us-east-1a' ? 1 : 0)) };
    const step = planControllerStep({ observed, options: { spareSpotReplicas: 0 }, groups: regionGroups('us-east-1', zones, types) });
    expect(step.decision.unavailablePools.length).toBeGreaterThan(0);
    expect(step.actions[1]).toEqual({ group: 'us-east-1/spare', region: 'us-east-1', role: R.SPARE_SPOT, desired: 0, zones: undefined, types: undefined, changed: false });
  });

  test('no spare group owned: the spares are reported as not applied', () => {
    const observed: ControllerObservation = { nowSeconds: T0, targetReplicas: 2, onDemandBase: 0, maxCapacity: 6, pools: pools('r', ['a', 'b'], ['t'], (z) => (z === 'a' ? 1 : 0), (z) => (z === 'b' ? 1 : 0)) };
    const step = planControllerStep({ observed, groups: [{ id: 'od', region: 'r', role: R.ON_DEMAND, desired: 0, maxSize: 1, zones: [], types: [] }] });
    expect(step.decision.spareSpotReplicas).toBe(1);
    expect(step.spareSpotReplicas).toBe(0);
    expect(step.reasons.join('\n')).toMatch(/no spare spot group owned: 1 spare replicas not applied/);
  });

  test('the fallback is bounded by the groups maxSize and the base they hold', () => {
    const observed: ControllerObservation = { nowSeconds: T0, targetReplicas: 4, onDemandBase: 1, maxCapacity: 6, pools: pools('r', ['a'], ['t'], () => 0) };
    const step = planControllerStep({ observed, options: { spareSpotReplicas: 0 }, groups: [{ id: 'std', region: 'r', role: R.ON_DEMAND, desired: 1, maxSize: 3, baseReplicas: 1, zones: [], types: [] }] });
    expect(step.decision.fallbackReplicas).toBe(3);
    expect(step.actions[0].desired).toBe(3);
    expect(step.fallbackReplicas).toBe(2);
    expect(step.reasons.join('\n')).toMatch(/on-demand groups full: 2 of 3 fallback replicas applied \(raise their maxSize\)/);
  });

  test('malformed groups are refused with the field, the value and the fix', () => {
    const observed: ControllerObservation = { nowSeconds: T0, targetReplicas: 1, onDemandBase: 0, maxCapacity: 2, pools: [] };
    const bad = { id: 'x', region: 'r', role: R.ON_DEMAND, desired: -1, maxSize: 1, zones: [], types: [] };
    expect(() => planControllerStep({ observed, groups: [bad] })).toThrow(/groups\[x\]\.desired \(-1\) must be a whole number, 0 or more/);
    expect(() => planControllerStep({ observed, groups: [{ ...bad, desired: 0 }, { ...bad, desired: 0 }] })).toThrow(/group "x" is listed twice/);
    expect(() => planControllerStep({ observed, groups: [{ ...bad, desired: 0, role: 'spot' as ControllerGroupRole }] })).toThrow(/groups\[x\]\.role \(spot\) must be one of on-demand, spare-spot/);
  });
});

describe('planControllerStep, several regions', () => {
  const regions = {
    'us-east-1': ['us-east-1a', 'us-east-1b'],
    'us-east-2': ['us-east-2a', 'us-east-2b'],
    'us-west-2': ['us-west-2a', 'us-west-2b'],
  };
  const types = ['p3.2xlarge'];
  const groups = Object.entries(regions).flatMap(([r, z]) => regionGroups(r, z, types));

  test('one region loses all spot at once: its fallback runs there, spares go to the other regions, its spare group is left alone', () => {
    const observed: ControllerObservation = {
      nowSeconds: T0,
      targetReplicas: 6,
      onDemandBase: 0,
      maxCapacity: 18,
      pools: Object.entries(regions).flatMap(([r, z]) => pools(r, z, types, () => (r === 'us-east-1' ? 0 : 1), () => (r === 'us-east-1' ? 1 : 0))),
      regions: Object.keys(regions).map((r) => ({ region: r, targetReplicas: 2 })),
    };
    const step = planControllerStep({ observed, groups, options: { spareSpotReplicas: 2, coverSparesWhenScarce: false } });
    expect(step.decision.fallbackReplicas).toBe(2);
    const by = Object.fromEntries(step.actions.map((a) => [a.group, a]));
    expect(by['us-east-1/od'].desired).toBe(2);
    expect(by['us-east-2/od'].desired).toBe(0);
    expect(by['us-west-2/od'].desired).toBe(0);
    expect(by['us-east-1/spare'].desired).toBe(0);
    expect(by['us-east-1/spare'].zones).toBeUndefined();
    expect(by['us-east-2/spare'].desired + by['us-west-2/spare'].desired).toBe(2);
    expect(by['us-east-2/spare'].desired).toBe(1);
    expect(step.reasons.join('\n')).toMatch(/us-east-1\/spare: every pool it may use is avoided by the policy; its zones stay, it gets no spares/);
  });

  test('without per-region targets, the fallback spreads over the regions on-demand groups', () => {
    const observed: ControllerObservation = {
      nowSeconds: T0,
      targetReplicas: 3,
      onDemandBase: 0,
      maxCapacity: 18,
      pools: Object.entries(regions).flatMap(([r, z]) => pools(r, z, types, () => 0)),
    };
    const step = planControllerStep({ observed, groups, options: { spareSpotReplicas: 0 } });
    expect(step.actions.filter((a) => a.role === R.ON_DEMAND).map((a) => a.desired)).toEqual([1, 1, 1]);
  });
});

describe('replaceUnlaunchedSpot: spare groups stand in for spot the main groups cannot launch', () => {
  const east = ['us-east-1a'];
  const west = ['us-west-2a', 'us-west-2b', 'us-west-2c'];
  const types = ['g5.xlarge'];
  const groups = (westSpare = 0): ControllerGroup[] => [...regionGroups('us-east-1', east, types), ...regionGroups('us-west-2', west, types, 0, westSpare)];
  const regions = [
    { region: 'us-east-1', targetReplicas: 1 },
    { region: 'us-west-2', targetReplicas: 2 },
  ];
  // us-east-1's main group finds no capacity; us-west-2 runs its two
  const observed = (eastReady: number, eastLaunching: number, westC: number, failures = 1): ControllerObservation => ({
    nowSeconds: T0,
    targetReplicas: 3,
    onDemandBase: 0,
    maxCapacity: 8,
    regions,
    pools: [
      { pool: poolId('us-east-1', 'us-east-1a', 'g5.xlarge'), ready: eastReady, launching: eastLaunching, launchFailures: failures },
      { pool: poolId('us-west-2', 'us-west-2a', 'g5.xlarge'), ready: 1 },
      { pool: poolId('us-west-2', 'us-west-2b', 'g5.xlarge'), ready: 1 },
      { pool: poolId('us-west-2', 'us-west-2c', 'g5.xlarge'), ready: westC },
    ],
  });

  test('off: on-demand covers the missing replica, no spare', () => {
    const step = planControllerStep({ observed: observed(0, 0, 0), groups: groups(), options: { replaceUnlaunchedSpot: false } });
    expect(step.fallbackReplicas).toBe(1);
    expect(step.actions.filter((a) => a.role === R.SPARE_SPOT).map((a) => a.desired)).toEqual([0, 0]);
  });

  test('on: a spare spot replica launches in a calm pool of the other region; on-demand covers it while it boots', () => {
    const step = planControllerStep({ observed: observed(0, 0, 0), groups: groups(), options: { replaceUnlaunchedSpot: true } });
    expect(step.fallbackReplicas).toBe(1);
    const spares = step.actions.filter((a) => a.role === R.SPARE_SPOT);
    expect(spares.map((a) => [a.group, a.desired])).toEqual([
      ['us-east-1/spare', 0],
      ['us-west-2/spare', 1],
    ]);
    expect(step.spareSpotReplicas).toBe(1);
    expect(step.reasons.join('\n')).toMatch(/the main groups run 2 spot of their share 3: 1 more spare spot stand in for what they cannot launch/);
  });

  test('the stand-in stays while the main group\'s own replica boots, and goes once nothing boots', () => {
    const options = { replaceUnlaunchedSpot: true };
    const first = planControllerStep({ observed: observed(0, 0, 0), groups: groups(), options });
    const booting = planControllerStep({ observed: { ...observed(0, 1, 1, 0), nowSeconds: T0 + 60 }, state: first.nextState, groups: groups(1), options });
    expect(booting.actions.find((a) => a.group === 'us-west-2/spare')!.desired).toBe(1);
    expect(booting.reasons.join('\n')).toMatch(/1 spare spot standing in for the main groups stay while 1 spot replica still boot/);
    const ready = planControllerStep({ observed: { ...observed(1, 0, 1, 0), nowSeconds: T0 + 120 }, state: booting.nextState, groups: groups(1), options });
    expect(ready.actions.find((a) => a.group === 'us-west-2/spare')!.desired).toBe(0);
  });

  test('only calm pools take stand-ins: after recent trouble everywhere, on-demand covers', () => {
    const options = { replaceUnlaunchedSpot: true, coverSparesWhenScarce: true };
    // ten minutes ago every us-west-2 pool lost a replica
    const earlier = planControllerStep({ observed: { ...observed(0, 0, 0, 0), nowSeconds: T0 - 600, pools: observed(0, 0, 0, 0).pools.map((p) => ({ ...p, preempted: p.pool.startsWith('us-west-2') ? 1 : 0 })) }, groups: groups(), options });
    const step = planControllerStep({ observed: observed(0, 0, 0), state: earlier.nextState, groups: groups(), options });
    expect(step.reasons.join('\n')).toMatch(/1 of 1 stand-ins not launched: only 0 pools have been calm for 3600 s; on-demand covers/);
    // the policy's own spare (a preemption within the risk window) still goes out
    expect(step.spareSpotReplicas).toBe(step.decision.spareSpotReplicas);
    // on-demand: the missing replica, and the spare too (3 usable pools for 3 spot and 1 spare: spot is scarce)
    expect(step.fallbackReplicas).toBe(2);
  });

  test('a preemption alone (its replacement on its way, no failed launch) starts no stand-in', () => {
    const step = planControllerStep({ observed: { ...observed(0, 0, 0, 0), pools: observed(0, 0, 0, 0).pools.map((p) => ({ ...p, preempted: p.pool.startsWith('us-east-1') ? 1 : 0 })) }, groups: groups() });
    expect(step.reasons.join('\n')).not.toMatch(/stand in/);
    expect(step.spareSpotReplicas).toBe(step.decision.spareSpotReplicas);
  });

  test('zonal spare groups (Google Cloud, Azure) stand in too, from the main groups\' own spot in service', () => {
    const zonal: ControllerGroup[] = [
      ...east.map((z) => ({ id: `east-${z}`, region: 'us-east-1', role: R.SPARE_SPOT, desired: 0, maxSize: 2, zones: [z], types })),
      ...west.map((z) => ({ id: `west-${z}`, region: 'us-west-2', role: R.SPARE_SPOT, desired: 0, maxSize: 2, zones: [z], types })),
    ];
    const step = planControllerStep({ observed: { ...observed(0, 0, 0), mainSpotInService: 2 }, groups: zonal });
    // the empty, calm us-west-2c zone takes it (spreadSpares), not us-east-1a, whose launch just failed
    expect(step.actions.map((a) => [a.group, a.desired])).toEqual([['east-us-east-1a', 0], ['west-us-west-2a', 0], ['west-us-west-2b', 0], ['west-us-west-2c', 1]]);
    expect(step.reasons.join('\n')).toMatch(/the main groups run 2 spot of their share 3: 1 more spare spot stand in/);
    // without the main groups' count, zonal groups take no stand-in (the spares could not be told from main spot)
    const unknown = planControllerStep({ observed: observed(0, 0, 0), groups: zonal });
    expect(unknown.reasons.join('\n')).not.toMatch(/stand in/);
  });

  test('a bad value is refused with the option named', () => {
    expect(() => planControllerStep({ observed: observed(0, 0, 0), groups: groups(), options: { replaceUnlaunchedSpot: 'yes' as unknown as boolean } })).toThrow(/replaceUnlaunchedSpot \(yes\) must be true or false/);
    expect(() => planControllerStep({ observed: observed(0, 0, 0), groups: groups(), options: { spreadSpares: 1 as unknown as boolean } })).toThrow(/spreadSpares \(1\) must be true or false/);
  });
});

describe('spreadSpares: a growing spare group goes to zones that hold none of the fleet\'s spot', () => {
  const zones = ['us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1d'];
  const types = ['g5.xlarge'];
  // three main replicas in a, b, c; a was just preempted (the policy wants a spare)
  const observed = (ready: (z: string) => number, preempted: (z: string) => number): ControllerObservation => ({ nowSeconds: T0, targetReplicas: 3, onDemandBase: 0, maxCapacity: 8, pools: pools('us-east-1', zones, types, ready, preempted) });
  const first = observed((z) => (z === 'us-east-1d' ? 0 : 1), (z) => (z === 'us-east-1a' ? 1 : 0));

  test('on (default): growing, the group is pointed at the empty usable zone only', () => {
    const step = planControllerStep({ observed: { ...first, pools: first.pools.map((p) => (p.pool.includes('1a/') ? { ...p, ready: 0, launching: 1 } : p)) }, groups: regionGroups('us-east-1', zones, types) });
    const spare = step.actions.find((a) => a.role === R.SPARE_SPOT)!;
    expect(spare.desired).toBe(1);
    expect(spare.zones).toEqual(['us-east-1d']);
    expect(step.reasons.join('\n')).toMatch(/us-east-1\/spare: spares spread to zones us-east-1d \(spot running per zone: us-east-1b 1, us-east-1c 1, us-east-1d 0\)/);
  });

  test('not growing, its zones change only to drop avoided ones (its instances are not moved for nothing)', () => {
    const groups = regionGroups('us-east-1', zones, types, 0, 1).map((g) => (g.role === R.SPARE_SPOT ? { ...g, zones: ['us-east-1d'] } : g));
    const step = planControllerStep({ observed: observed(() => 1, () => 0), state: planControllerStep({ observed: first, groups }).nextState, groups });
    const spare = step.actions.find((a) => a.role === R.SPARE_SPOT)!;
    expect(spare.desired).toBe(1);
    expect(spare.zones).toBeUndefined();
  });

  test('off: the group launches in every usable zone, as before', () => {
    const step = planControllerStep({ observed: { ...first, pools: first.pools.map((p) => (p.pool.includes('1a/') ? { ...p, ready: 0, launching: 1 } : p)) }, groups: regionGroups('us-east-1', zones, types), options: { spreadSpares: false } });
    const spare = step.actions.find((a) => a.role === R.SPARE_SPOT)!;
    expect(spare.zones).toEqual(['us-east-1b', 'us-east-1c', 'us-east-1d']);
  });
});

describe('spreadSpares with zonal spare groups (Google Cloud, Azure: one spare group per zone, sized only)', () => {
  const zones = ['1', '2', '3'];
  const types = ['Standard_NC4as_T4_v3'];
  const zonal = (spareIn: string | undefined): ControllerGroup[] => zones.map((z) => ({ id: `spare-${z}`, region: 'eastus', role: R.SPARE_SPOT, desired: z === spareIn ? 1 : 0, maxSize: 2, zones: [z], types }));
  // Main replicas in zones 1 (two) and 2 (one); zone 3 holds none, and is ranked last (not proven good yet).
  const observed = (spareIn?: string): ControllerObservation => ({
    nowSeconds: T0, targetReplicas: 3, onDemandBase: 0, maxCapacity: 6,
    pools: pools('eastus', zones, types, (z) => ({ 1: 2, 2: 1, 3: 0 })[z]! + (z === spareIn ? 1 : 0)),
  });
  const sizes = (step: ReturnType<typeof planControllerStep>) => step.actions.map((a) => [a.group, a.desired]);

  test('on (default): the spare goes to the zone holding none of the fleet\'s spot, not next to a main replica', () => {
    const step = planControllerStep({ observed: observed(), groups: zonal(undefined), options: { keepSparesWhenCalm: true } });
    expect(step.decision.preferredPools[0]).toBe('eastus/1/Standard_NC4as_T4_v3');
    expect(sizes(step)).toEqual([['spare-1', 0], ['spare-2', 0], ['spare-3', 1]]);
  });

  test('a spare already running alone in its zone stays there: its own instance does not count as the fleet\'s', () => {
    const step = planControllerStep({ observed: observed('3'), groups: zonal('3'), options: { keepSparesWhenCalm: true } });
    expect(sizes(step)).toEqual([['spare-1', 0], ['spare-2', 0], ['spare-3', 1]]);
    expect(step.actions.every((a) => !a.changed)).toBe(true);
  });

  test('off: the spare goes to the best-ranked pool, as before', () => {
    const step = planControllerStep({ observed: observed(), groups: zonal(undefined), options: { keepSparesWhenCalm: true, spreadSpares: false } });
    expect(sizes(step)).toEqual([['spare-1', 1], ['spare-2', 0], ['spare-3', 0]]);
  });
});
