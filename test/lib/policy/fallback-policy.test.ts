import {
  decideFallback,
  DEFAULT_FALLBACK_POLICY_OPTIONS,
  FallbackAction,
  FallbackDecision,
  FallbackInput,
  FallbackPolicy,
  FallbackState,
  initialFallbackState,
  resolveFallbackPolicyOptions,
  SpotPoolObservation,
} from '../../../lib/policy';
import { mulberry32 } from '../../../lib/plan/rng';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';

const T0 = 1_700_000_000;
const POOLS = ['us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1d', 'us-east-1e', 'us-east-1f'].map((z) => `${z}/g5.xlarge`);

/** Drives the policy like a controller: one call per 30 s period, state carried over. */
class Driver {
  public state: FallbackState;
  public now = T0;
  public readonly decisions: FallbackDecision[] = [];
  constructor(private readonly base: Partial<FallbackInput> = {}, private readonly policy = new FallbackPolicy()) {
    this.state = this.policy.initialState();
  }
  step(pools: SpotPoolObservation[], extra: Partial<FallbackInput> = {}): FallbackDecision {
    const d = this.policy.decide({ nowSeconds: this.now, targetReplicas: 3, onDemandBase: 0, maxCapacity: 8, pools, state: this.state, ...this.base, ...extra });
    this.state = d.state;
    this.decisions.push(d);
    this.now += 30;
    return d;
  }
}

/** Ready spot per pool (the pools not named run nothing). */
const ready = (...counts: number[]): SpotPoolObservation[] => POOLS.map((pool, i) => ({ pool, ready: counts[i] ?? 0 }));

describe('decideFallback: restore the target when spot disappears', () => {
  test('a steady all-spot fleet runs no fallback and no spare', () => {
    const d = new Driver().step(ready(1, 1, 1, 0));
    expect(d).toMatchObject({ onDemandReplicas: 0, fallbackReplicas: 0, spotReplicas: 3, spareSpotReplicas: 0, action: FallbackAction.STEADY, unavailablePools: [] });
    expect(d.reason).toMatch(/ready spot 3 covers the spot share 3; no fallback/);
  });

  test('losing spot falls back at once, up to the target and never beyond it', () => {
    const drv = new Driver();
    drv.step(ready(1, 1, 1, 0));
    const one = drv.step([{ pool: POOLS[0], ready: 0, preempted: 1 }, ...ready(0, 1, 1, 0).slice(1)]);
    expect(one).toMatchObject({ fallbackReplicas: 1, onDemandReplicas: 1, action: FallbackAction.FALL_BACK });
    expect(one.reason).toMatch(/spot is 1 ready replica short of its share 3 of target 3 \(ready spot 2\): fallback 0 -> 1 on-demand/);
    expect(one.reason).toMatch(/us-east-1a\/g5.xlarge: 1 preempted, avoided 600 s/);
    const all = drv.step(POOLS.map((pool, z) => ({ pool, ready: 0, preempted: z === 1 || z === 2 ? 1 : 0 })));
    expect(all).toMatchObject({ fallbackReplicas: 3, onDemandReplicas: 3, action: FallbackAction.FALL_BACK });
  });

  test('the on-demand base counts: the fallback covers only the spot share', () => {
    const drv = new Driver({ targetReplicas: 4, onDemandBase: 1 });
    const d = drv.step(ready(0, 0, 0, 0));
    expect(d).toMatchObject({ onDemandReplicas: 4, fallbackReplicas: 3, spotReplicas: 3 });
  });
});

describe('decideFallback: return to spot only once replacements are ready', () => {
  test('launching spot never releases on-demand; ready spot does, after stabilization and cool-down', () => {
    const drv = new Driver({}, new FallbackPolicy({ spareSpotReplicas: 0 }));
    drv.step(ready(1, 1, 1, 0));
    drv.step(POOLS.map((pool, z) => ({ pool, ready: 0, preempted: z < 3 ? 1 : 0 })));
    expect(drv.state.fallbackReplicas).toBe(3);
    // replacements launching for 4 periods (cold start): fallback stays
    for (let i = 0; i < 4; i++) {
      const d = drv.step(POOLS.map((pool, z) => ({ pool, ready: 0, launching: z === 3 ? 3 : 0 })));
      expect(d.fallbackReplicas).toBe(3);
      expect(d.onDemandReplicas).toBe(3);
    }
    // replacements ready: hold through the stabilization (60 s) and cool-down (120 s after the increase)
    const readyAgain = ready(0, 0, 0, 3);
    const held = drv.step(readyAgain);
    expect(held).toMatchObject({ fallbackReplicas: 3, action: FallbackAction.HOLD });
    expect(held.reason).toMatch(/spot is back \(ready spot 3 of share 3\) but the fallback stays at 3 until stabilization 0\/60 s/);
    drv.step(readyAgain);
    const back = drv.step(readyAgain);
    expect(back).toMatchObject({ fallbackReplicas: 0, onDemandReplicas: 0, action: FallbackAction.RETURN_TO_SPOT });
    expect(back.reason).toMatch(/ready spot 3 has covered the spot share 3 for 60 s \(stabilization 60 s\): fallback 3 -> 0 on-demand/);
  });

  test('a partial recovery releases only what ready spot covers', () => {
    const drv = new Driver();
    drv.step(ready(0, 0, 0, 0));
    expect(drv.state.fallbackReplicas).toBe(3);
    let d = drv.step(ready(1, 0, 0, 0));
    for (let i = 0; i < 6; i++) d = drv.step(ready(1, 0, 0, 0));
    expect(d.fallbackReplicas).toBe(2);
  });

  test('the cool-down holds a fallback right after it rose, even with spot back', () => {
    const policy = new FallbackPolicy({ scaleInStabilizationSeconds: 0, scaleInCooldownSeconds: 300 });
    const drv = new Driver({}, policy);
    drv.step(ready(0, 0, 0, 0));
    const d = drv.step(ready(1, 1, 1, 0));
    expect(d.action).toBe(FallbackAction.HOLD);
    expect(d.reason).toMatch(/cool-down 30\/300 s/);
    for (let i = 0; i < 8; i++) drv.step(ready(1, 1, 1, 0));
    expect(drv.state.fallbackReplicas).toBe(3);
    expect(drv.step(ready(1, 1, 1, 0)).fallbackReplicas).toBe(0);
  });
});

describe('decideFallback: no flapping', () => {
  test('spot that toggles every period keeps the fallback up: it changes once, not every period', () => {
    const drv = new Driver();
    for (let i = 0; i < 200; i++) {
      drv.step(i % 2 === 0 ? POOLS.map((pool, z) => ({ pool, ready: 0, preempted: z < 3 ? 1 : 0 })) : ready(1, 1, 1, 0));
    }
    const changes = drv.decisions.filter((d, i) => i > 0 && d.fallbackReplicas !== drv.decisions[i - 1].fallbackReplicas).length;
    expect(changes).toBe(0);
    expect(drv.decisions.every((d) => d.fallbackReplicas === 3)).toBe(true);
  });

  test('a fallback that goes back up soon after going down doubles the stabilization', () => {
    const drv = new Driver();
    const lose = (): FallbackDecision => drv.step(ready(0, 0, 0, 0));
    const recover = (): void => {
      for (let i = 0; i < 20 && drv.state.fallbackReplicas > 0; i++) drv.step(ready(1, 1, 1, 0));
    };
    lose();
    recover();
    expect(drv.state.stabilizationSeconds).toBe(60);
    const flap = lose();
    expect(flap.reason).toMatch(/flapped within 900 s, stabilization now 120 s/);
    expect(drv.state.stabilizationSeconds).toBe(120);
    recover();
    lose();
    expect(drv.state.stabilizationSeconds).toBe(240);
    // a long calm resets it
    for (let i = 0; i < 200; i++) drv.step(ready(1, 1, 1, 0));
    expect(drv.state.fallbackReplicas).toBe(0);
    expect(drv.state.stabilizationSeconds).toBe(DEFAULT_FALLBACK_POLICY_OPTIONS.scaleInStabilizationSeconds);
  });
});

describe('decideFallback: steer away from pools that were just preempted', () => {
  test('a preempted pool is avoided for unavailablePoolSeconds (here 180 s), then preferred last until its strike is forgiven', () => {
    const drv = new Driver({}, new FallbackPolicy({ unavailablePoolSeconds: 180 }));
    drv.step(ready(1, 1, 1, 0));
    const d = drv.step([{ pool: POOLS[0], ready: 0, preempted: 1 }, ...ready(0, 1, 1, 0).slice(1)]);
    expect(d.unavailablePools).toEqual([POOLS[0]]);
    expect(d.preferredPools).not.toContain(POOLS[0]);
    // pools proven good come first, untried pools after them
    expect(d.preferredPools).toEqual([POOLS[1], POOLS[2], POOLS[3], POOLS[4], POOLS[5]]);
    for (let i = 0; i < 5; i++) expect(drv.step(ready(0, 1, 1, 1)).unavailablePools).toEqual([POOLS[0]]);
    const later = drv.step(ready(0, 1, 1, 1));
    expect(later.unavailablePools).toEqual([]);
    expect(later.preferredPools[later.preferredPools.length - 1]).toBe(POOLS[0]);
  });

  test('each strike not yet forgiven doubles the avoidance, up to the maximum', () => {
    const policy = new FallbackPolicy({ unavailablePoolSeconds: 100, maxUnavailablePoolSeconds: 350 });
    const drv = new Driver({}, policy);
    const fail = (): FallbackDecision => drv.step([{ pool: POOLS[0], ready: 0, launchFailures: 1 }, ...ready(0, 1, 1, 1).slice(1)]);
    expect(fail().reason).toMatch(/us-east-1a\/g5.xlarge: 1 launch failure, avoided 100 s/);
    expect(fail().reason).toMatch(/avoided 200 s/);
    expect(fail().reason).toMatch(/avoided 350 s/);
    expect(drv.state.pools.find((p) => p.pool === POOLS[0])).toMatchObject({ strikes: 3, unavailableUntil: drv.now - 30 + 350 });
  });

  test('pools that drop out of the observation are forgotten once nothing is held against them', () => {
    const policy = new FallbackPolicy({ strikeForgivenessSeconds: 60, unavailablePoolSeconds: 180 });
    const drv = new Driver({}, policy);
    drv.step([{ pool: 'old', ready: 0, preempted: 1 }, ...ready(1, 1, 1)]);
    expect(drv.state.pools.map((p) => p.pool)).toContain('old');
    for (let i = 0; i < 8; i++) drv.step(ready(1, 1, 1));
    expect(drv.state.pools.map((p) => p.pool)).not.toContain('old');
  });
});

describe('decideFallback: spare spot replicas while at risk', () => {
  test('a preemption adds a spare for the risk window, then it goes', () => {
    const policy = new FallbackPolicy({ riskWindowSeconds: 600 });
    const drv = new Driver({}, policy);
    expect(drv.step(ready(1, 1, 1, 0)).spareSpotReplicas).toBe(0);
    const d = drv.step([{ pool: POOLS[0], ready: 0, preempted: 1 }, ...ready(0, 1, 1, 0).slice(1)]);
    expect(d).toMatchObject({ spareSpotReplicas: 1, spotReplicas: 4 });
    expect(d.reason).toMatch(/1 spare spot \(preempted 1x in the last 600 s\)/);
    for (let i = 0; i < 19; i++) drv.step(ready(0, 1, 1, 2));
    expect(drv.step(ready(0, 1, 1, 2))).toMatchObject({ spareSpotReplicas: 0, spotReplicas: 3 });
  });

  test('keepSparesWhenCalm keeps the spare from the first call, before any preemption (SpotHedge N+1)', () => {
    const drv = new Driver({}, new FallbackPolicy({ keepSparesWhenCalm: true }));
    const d = drv.step(ready(1, 1, 1, 0));
    expect(d).toMatchObject({ spareSpotReplicas: 1, spotReplicas: 4, fallbackReplicas: 0 });
    expect(d.reason).toMatch(/1 spare spot \(kept while calm: keepSparesWhenCalm\)/);
    // hours later, still calm: still kept; the default policy has none
    for (let i = 0; i < 500; i++) drv.step(ready(1, 1, 1, 1));
    expect(drv.step(ready(1, 1, 1, 1)).spareSpotReplicas).toBe(1);
    expect(new Driver().step(ready(1, 1, 1, 0)).spareSpotReplicas).toBe(0);
    // no spot share (all on-demand base): no spare
    expect(new Driver({ onDemandBase: 3 }, new FallbackPolicy({ keepSparesWhenCalm: true })).step(ready(0, 0, 0)).spareSpotReplicas).toBe(0);
    expect(() => new FallbackPolicy({ keepSparesWhenCalm: 'always' as unknown as boolean })).toThrow(/keepSparesWhenCalm \(always\) must be true or false/);
  });

  test('coverSparesWhenScarce: when spot is scarce (fewer pools left than spot replicas plus spares) on-demand covers the spare', () => {
    const drv = new Driver({ maxCapacity: 8 }, new FallbackPolicy({ coverSparesWhenScarce: true }));
    drv.step(ready(1, 1, 1));
    // three of six pools preempted at once: 3 pools left for 3 + 1 spot replicas
    const d = drv.step(POOLS.map((pool, z) => ({ pool, ready: z >= 3 && z < 5 ? 1 : 0, preempted: z < 3 ? 1 : 0 })));
    expect(d).toMatchObject({ spareSpotReplicas: 1, spotReplicas: 4, fallbackReplicas: 2, onDemandReplicas: 2 });
    expect(d.reason).toMatch(/spot is scarce: 3 pools left for 4 spot replicas, so on-demand covers the spare/);
    const off = new Driver({}, new FallbackPolicy({ coverSparesWhenScarce: false }));
    off.step(ready(1, 1, 1));
    expect(off.step(POOLS.map((pool, z) => ({ pool, ready: z >= 3 && z < 5 ? 1 : 0, preempted: z < 3 ? 1 : 0 }))).fallbackReplicas).toBe(1);
    // off by default
    const byDefault = new Driver();
    byDefault.step(ready(1, 1, 1));
    expect(byDefault.step(POOLS.map((pool, z) => ({ pool, ready: z >= 3 && z < 5 ? 1 : 0, preempted: z < 3 ? 1 : 0 }))).fallbackReplicas).toBe(1);
  });

  test('spareSpotReplicas 0 disables spares', () => {
    const d = decideFallback({ nowSeconds: T0, targetReplicas: 3, onDemandBase: 0, maxCapacity: 8, pools: [{ pool: 'a', ready: 0, preempted: 1 }] }, { spareSpotReplicas: 0 });
    expect(d.spareSpotReplicas).toBe(0);
  });
});

describe('decideFallback: bounds always hold', () => {
  test('random observations never push on-demand below the base or the fleet above its maximum', () => {
    const rng = mulberry32(42);
    const violations: string[] = [];
    let steps = 0;
    for (let fleet = 0; fleet < 30; fleet++) {
      const max = 1 + Math.floor(rng() * 10);
      const target = Math.floor(rng() * (max + 1));
      const base = Math.floor(rng() * (target + 1));
      const drv = new Driver({ targetReplicas: target, onDemandBase: base, maxCapacity: max }, new FallbackPolicy({ spareSpotReplicas: Math.floor(rng() * 3) }));
      for (let i = 0; i < 200; i++) {
        const pools = POOLS.map((pool) => ({ pool, ready: Math.floor(rng() * 3), launching: Math.floor(rng() * 2), preempted: rng() < 0.1 ? 1 : 0, launchFailures: rng() < 0.1 ? 1 : 0 }));
        const d = drv.step(pools);
        const ok =
          d.onDemandReplicas >= base &&
          d.onDemandReplicas + d.spotReplicas <= max &&
          d.fallbackReplicas >= 0 &&
          d.fallbackReplicas <= target - base &&
          d.onDemandReplicas === base + d.fallbackReplicas;
        if (!ok) violations.push(`max ${max} target ${target} base ${base}: ${JSON.stringify({ ...d, state: undefined })}`);
        steps++;
      }
    }
    expect(violations).toEqual([]);
    expect(steps).toBe(6000);
  });

  test('spares are dropped first when the maximum is tight', () => {
    const d = decideFallback({ nowSeconds: T0, targetReplicas: 3, onDemandBase: 0, maxCapacity: 3, pools: [{ pool: 'a', ready: 3, preempted: 1 }] });
    expect(d).toMatchObject({ spotReplicas: 3, spareSpotReplicas: 0 });
  });
});

describe('decideFallback: state is plain JSON', () => {
  test('a state that went through JSON gives the same decisions', () => {
    const a = new Driver();
    const b = new Driver();
    const rng = mulberry32(7);
    for (let i = 0; i < 100; i++) {
      const pools = POOLS.map((pool) => ({ pool, ready: Math.floor(rng() * 2), preempted: rng() < 0.05 ? 1 : 0 }));
      const da = a.step(pools);
      b.state = JSON.parse(JSON.stringify(b.state));
      const db = b.step(pools);
      expect(JSON.parse(JSON.stringify(db))).toEqual(JSON.parse(JSON.stringify(da)));
    }
  });

  test('without a state the policy starts from the initial one', () => {
    const d = decideFallback({ nowSeconds: T0, targetReplicas: 2, onDemandBase: 0, maxCapacity: 4, pools: [] });
    expect(d).toMatchObject({ fallbackReplicas: 2, action: FallbackAction.FALL_BACK });
    expect(initialFallbackState()).toMatchObject({ version: 1, fallbackReplicas: 0, pools: [] });
  });
});

describe('errors name the prop, the value, the limit and the fix', () => {
  test('bad options are all reported together', () => {
    let err: FleetSpecError | undefined;
    try {
      resolveFallbackPolicyOptions({ unavailablePoolSeconds: -1, spareSpotReplicas: 1.5, scaleInStabilizationSeconds: 100, maxScaleInStabilizationSeconds: 50 });
    } catch (e) {
      err = e as FleetSpecError;
    }
    expect(err).toBeInstanceOf(FleetSpecError);
    expect(err!.message).toMatch(/fallback policy: 3 problems/);
    expect(err!.message).toMatch(/unavailablePoolSeconds \(-1\) must be a finite number, 0 or more; use the default 600/);
    expect(err!.message).toMatch(/spareSpotReplicas \(1.5\) must be a whole number of replicas; use 2/);
    expect(err!.message).toMatch(/maxScaleInStabilizationSeconds \(50\) is below scaleInStabilizationSeconds \(100\); raise it to at least 100/);
    expect(err!.code).toBe(FleetSpecErrorCode.CAPACITY_NEGATIVE);
    expect(() => resolveFallbackPolicyOptions({ unavailablePoolSeconds: 600, maxUnavailablePoolSeconds: 60 })).toThrow(/maxUnavailablePoolSeconds \(60\) is below unavailablePoolSeconds \(600\)/);
    expect(() => new FallbackPolicy({ riskWindowSeconds: Number.NaN })).toThrow(/riskWindowSeconds \(NaN\) must be a finite number/);
  });

  test('bad inputs are refused', () => {
    const ok: FallbackInput = { nowSeconds: T0, targetReplicas: 3, onDemandBase: 1, maxCapacity: 5, pools: [] };
    expect(() => decideFallback({ ...ok, onDemandBase: 6 })).toThrow(/onDemandBase \(6\) is above maxCapacity \(5\); lower the base to at most 5 or raise maxCapacity/);
    expect(() => decideFallback({ ...ok, targetReplicas: 9 })).toThrow(/targetReplicas \(9\) is above maxCapacity \(5\)/);
    expect(() => decideFallback({ ...ok, targetReplicas: -1 })).toThrow(/targetReplicas \(-1\) must be a whole number of replicas, 0 or more/);
    expect(() => decideFallback({ ...ok, nowSeconds: 0 })).toThrow(/nowSeconds \(0\) must be the current time in epoch seconds, above 0/);
    expect(() => decideFallback({ ...ok, pools: [{ pool: 'a', ready: 1 }, { pool: 'a', ready: 0 }] })).toThrow(/pool "a" is observed twice; report each pool once/);
    expect(() => decideFallback({ ...ok, pools: [{ pool: 'a', ready: -2 }] })).toThrow(/pools\[a\].ready \(-2\) must be a whole number, 0 or more/);
  });
});

describe('decideFallback: several regions (pools <region>/<zone>/<type>)', () => {
  const REGION_POOLS = ['us-east-1/us-east-1a/g5', 'us-east-1/us-east-1b/g5', 'us-west-2/us-west-2a/g5', 'us-west-2/us-west-2b/g5', 'eu-west-1/eu-west-1a/g5'];
  const obs = (ready: number[], bad: string[] = []): SpotPoolObservation[] => REGION_POOLS.map((pool, i) => ({ pool, ready: ready[i] ?? 0, preempted: bad.includes(pool) ? 1 : 0 }));

  test('a region whose pools fail together is ranked after every other region, for a doubling time, then forgiven', () => {
    const d = new Driver({ maxCapacity: 9 }, new FallbackPolicy({ unavailablePoolSeconds: 180 }));
    d.step(obs([1, 1, 1, 0, 0]));
    // both us-east-1 pools lose their replica in the same period
    const hit = d.step(obs([0, 0, 1, 0, 0], ['us-east-1/us-east-1a/g5', 'us-east-1/us-east-1b/g5']));
    expect(hit.state.regions).toEqual([{ region: 'us-east-1', strikes: 1, avoidedUntil: d.now - 30 + 180, lastBadAt: d.now - 30 }]);
    expect(hit.reason).toMatch(/region us-east-1: 2 pools failed together, ranked last for 180 s/);
    expect(hit.unavailablePools).toEqual(['us-east-1/us-east-1a/g5', 'us-east-1/us-east-1b/g5']);
    // once the pools' own avoidance ends (180 s), the region is still ranked last while its avoidance runs
    d.now += 150;
    const later = d.step(obs([0, 0, 1, 0, 0]));
    expect(later.preferredPools.slice(-2)).toEqual(['us-east-1/us-east-1a/g5', 'us-east-1/us-east-1b/g5']);
    // a second correlated failure doubles it
    const again = d.step(obs([0, 0, 1, 0, 0], ['us-east-1/us-east-1a/g5', 'us-east-1/us-east-1b/g5']));
    expect(again.state.regions![0]).toMatchObject({ region: 'us-east-1', strikes: 2, avoidedUntil: d.now - 30 + 360 });
    // forgiven after strikeForgivenessSeconds per strike without trouble: the memory goes
    d.now += 2 * 3600;
    expect(d.step(obs([1, 1, 1, 0, 0])).state.regions).toBeUndefined();
  });

  test('one bad pool is not a correlated failure; a single-region fleet never gets region memory', () => {
    const d = new Driver({ maxCapacity: 9 });
    expect(d.step(obs([1, 1, 1, 0, 0], ['us-east-1/us-east-1a/g5'])).state.regions).toBeUndefined();
    const single = new Driver();
    expect(single.step([{ pool: 'us-east-1/us-east-1a/g5', ready: 0, preempted: 1 }, { pool: 'us-east-1/us-east-1b/g5', ready: 0, preempted: 1 }]).state.regions).toBeUndefined();
  });

  test('homeRegion ranks its pools first among equals, never before a pool with fewer strikes', () => {
    const policy = new FallbackPolicy({ homeRegion: 'us-west-2', unavailablePoolSeconds: 180 });
    const d = new Driver({ maxCapacity: 9 }, policy);
    expect(d.step(obs([0, 0, 0, 0, 0])).preferredPools.slice(0, 2)).toEqual(['us-west-2/us-west-2a/g5', 'us-west-2/us-west-2b/g5']);
    d.step(obs([0, 0, 0, 0, 0], ['us-west-2/us-west-2a/g5']));
    d.now += 200; // avoidance over, strike kept
    const p = d.step(obs([0, 0, 0, 0, 0])).preferredPools;
    expect(p[0]).toBe('us-west-2/us-west-2b/g5');
    expect(p[p.length - 1]).toBe('us-west-2/us-west-2a/g5');
    expect(() => new FallbackPolicy({ homeRegion: '' })).toThrow(/homeRegion \(""\) must be a region name as in the pool ids <region>\/<zone>\/<type>, e.g. us-east-1/);
  });

  test('coverMissingSpares covers a spare that is not ready with on-demand, as SpotHedge does', () => {
    const plain = new Driver();
    const covering = new Driver({}, new FallbackPolicy({ coverMissingSpares: true }));
    for (const d of [plain, covering]) {
      d.step(ready(1, 1, 1));
      d.step(ready(1, 1, 0).map((p, i) => (i === 2 ? { ...p, preempted: 1 } : p)));
    }
    // one replica lost, a spare wanted: plain covers the lost one; covering also the spare not ready yet
    expect(plain.decisions[1].fallbackReplicas).toBe(1);
    expect(covering.decisions[1].fallbackReplicas).toBe(2);
    expect(() => new FallbackPolicy({ coverMissingSpares: 'yes' as unknown as boolean })).toThrow(/coverMissingSpares \(yes\) must be true or false/);
  });
});
