import { FleetSpecErrorCode as C, ProblemCollector } from '../spec/errors';

/**
 * The on-demand fallback policy: pure decisions, no I/O.
 *
 * A controller (one per cloud) observes the fleet, calls {@link decideFallback} with what it saw and the
 * state it persisted after its previous call, applies the decision (on-demand count, spot count, pools to
 * avoid) and persists the returned state. The trace simulator in `lib/plan` calls the same function every
 * tick, so what `spot-plan simulate` reports is what the controllers do.
 *
 * Everything in and out is plain JSON (numbers, strings, arrays), so the state can live in a DynamoDB
 * item, a Firestore document, a blob or a tag.
 */

/** What the controller saw in one spot pool (one instance type in one zone) since its previous call. */
export interface SpotPoolObservation {
  /**
   * Stable id of the pool. Any string; the controllers use `<zone>/<instanceType>`, e.g.
   * `us-east-1a/g5.xlarge`.
   */
  readonly pool: string;
  /** Spot replicas in this pool that pass health checks and have no interruption notice. */
  readonly ready: number;
  /** Spot replicas requested or booting in this pool, not ready yet. @default 0 */
  readonly launching?: number;
  /** Spot replicas of this pool interrupted (notice or termination) since the previous call. @default 0 */
  readonly preempted?: number;
  /** Spot launches in this pool that failed for lack of capacity since the previous call. @default 0 */
  readonly launchFailures?: number;
}

/** What the policy remembers about one pool between calls. */
export interface PoolMemory {
  /** Pool id, as in {@link SpotPoolObservation.pool}. */
  readonly pool: string;
  /** Preemptions and launch failures not yet forgiven; each one doubles the time the pool is avoided. */
  readonly strikes: number;
  /** Epoch seconds until which the pool is avoided for new spot launches (0 = not avoided). */
  readonly unavailableUntil: number;
  /** Epoch seconds of the last preemption or launch failure in the pool (0 = never). */
  readonly lastBadAt: number;
  /** Epoch seconds since which the pool has had ready replicas and nothing bad (0 = not now). */
  readonly goodSince: number;
}

/**
 * The controller's persisted memory. Start with {@link initialFallbackState} and store whatever
 * {@link decideFallback} returns.
 */
export interface FallbackState {
  /** Format of this object. */
  readonly version: number;
  /** On-demand fallback replicas (above the on-demand base) the policy asked for last time. */
  readonly fallbackReplicas: number;
  /** Spare spot replicas the policy asked for last time. */
  readonly spareSpotReplicas: number;
  /** Epoch seconds of the last increase of the fallback (0 = never). */
  readonly lastIncreaseAt: number;
  /** Epoch seconds of the last decrease of the fallback (0 = never). */
  readonly lastDecreaseAt: number;
  /** Epoch seconds since which ready spot has covered more than the fallback leaves (0 = not now). */
  readonly coveredSince: number;
  /** Largest fallback still needed while covered (the value a decrease goes down to). */
  readonly coveredNeed: number;
  /** Current scale-in stabilization, seconds; grows when the fallback flaps, shrinks when calm. */
  readonly stabilizationSeconds: number;
  /** Epoch seconds of this fleet's recent spot preemptions, newest last (kept for the risk window). */
  readonly recentPreemptions: number[];
  /** What the policy knows about each pool. */
  readonly pools: PoolMemory[];
  /**
   * Regions whose pools failed together (two or more pools of the region preempted or out of capacity in one
   * control period), ranked after the others until `avoidedUntil`. Absent when there is none.
   */
  readonly regions?: RegionMemory[];
}

/** What the policy remembers about one region (pool ids `<region>/<zone>/<type>`). */
export interface RegionMemory {
  /** Region, the first part of its pools' ids. */
  readonly region: string;
  /** Correlated failures not yet forgiven; each doubles the time the region is ranked last. */
  readonly strikes: number;
  /** Epoch seconds until which new spot prefers other regions. */
  readonly avoidedUntil: number;
  /** Epoch seconds of the last correlated failure. */
  readonly lastBadAt: number;
}

/** Everything {@link decideFallback} needs: the fleet's goal, what the controller saw, and its memory. */
export interface FallbackInput {
  /** Now, epoch seconds, above 0 (0 means "never" in the state; the simulator passes its own clock). */
  readonly nowSeconds: number;
  /** Ready replicas the fleet must serve with (spot and on-demand together). */
  readonly targetReplicas: number;
  /** On-demand replicas that always run, whatever spot does. */
  readonly onDemandBase: number;
  /** Most replicas the fleet may run, spot and on-demand together. */
  readonly maxCapacity: number;
  /** On-demand replicas ready (base and fallback). @default 0 */
  readonly onDemandReady?: number;
  /** What the controller saw per spot pool. */
  readonly pools: SpotPoolObservation[];
  /** The state returned by the previous call. @default - initialFallbackState(options) */
  readonly state?: FallbackState;
}

/** What the decision does, in one word (for logs and metrics). */
export enum FallbackAction {
  /** Nothing changes. */
  STEADY = 'steady',
  /** More on-demand replicas: spot is short of the target. */
  FALL_BACK = 'fall-back',
  /** Spot is back but the fallback is kept (replacements not ready, stabilization or cool-down). */
  HOLD = 'hold',
  /** Fewer on-demand replicas: ready spot covers the target again. */
  RETURN_TO_SPOT = 'return-to-spot',
}

/** The decision: how many replicas of each kind to run, which pools to avoid, and why. */
export interface FallbackDecision {
  /** On-demand replicas to run in total: the base plus the fallback. */
  readonly onDemandReplicas: number;
  /** On-demand replicas above the base (the fallback); the metric the controllers emit. */
  readonly fallbackReplicas: number;
  /** Spot replicas to run in total (the spot share of the target plus spares). */
  readonly spotReplicas: number;
  /** Spare spot replicas above the target, kept while preemption risk is high. */
  readonly spareSpotReplicas: number;
  /** Pools to launch new spot replicas in, best first (pools being avoided are left out). */
  readonly preferredPools: string[];
  /** Pools to avoid for new spot launches right now (recently preempted or out of capacity). */
  readonly unavailablePools: string[];
  /** What changed. */
  readonly action: FallbackAction;
  /** Why, in one sentence with the numbers (log it). */
  readonly reason: string;
  /** Persist this and pass it back on the next call. */
  readonly state: FallbackState;
}

/** Tuning of the policy. Every field is optional; the defaults are documented on each. */
export interface FallbackPolicyOptions {
  /**
   * Seconds ready spot must cover the target (without the fallback) before the fallback goes down:
   * the hysteresis that keeps on-demand until spot replacements are ready and have stayed up.
   * @default 60
   */
  readonly scaleInStabilizationSeconds?: number;
  /**
   * Most the stabilization grows to when the fallback flaps (goes back up within `flapWindowSeconds`
   * of going down; each flap doubles it). Measured: 300 s holds the fallback long enough through a flapping spell
   * and returns to spot sooner than 1800 s (docs/measurements.md, "Defaults of December 2026").
   * @default 300
   */
  readonly maxScaleInStabilizationSeconds?: number;
  /** A fallback increase this soon after a decrease counts as a flap. @default 900 */
  readonly flapWindowSeconds?: number;
  /** Seconds after a fallback increase before any decrease (cool-down). @default 120 */
  readonly scaleInCooldownSeconds?: number;
  /**
   * Seconds a pool is avoided after a preemption or failed launch (Karpenter's unavailable-offering cache holds an
   * offering 3 minutes; 10 minutes measured better on the synthetic families, docs/measurements.md). Doubles with each
   * strike the pool has not been forgiven.
   * @default 600
   */
  readonly unavailablePoolSeconds?: number;
  /** Longest a pool is avoided, however many strikes. @default 3600 */
  readonly maxUnavailablePoolSeconds?: number;
  /** A pool's strike is forgiven after this many seconds without a preemption or failure. @default 3600 */
  readonly strikeForgivenessSeconds?: number;
  /**
   * Spare spot replicas to run above the target while preemption risk is high (see `riskWindowSeconds`):
   * a preempted replica is then covered at once instead of after a cold start. 0 disables spares.
   * @default 1
   */
  readonly spareSpotReplicas?: number;
  /**
   * The fleet counts as at risk (and keeps its spares) while one of its spot replicas was preempted
   * within this many seconds (a day measured best on the synthetic families: docs/measurements.md). See `keepSparesWhenCalm` to keep
   * them before any preemption too (SpotHedge's N+1).
   * @default 86400 (a day)
   */
  readonly riskWindowSeconds?: number;
  /**
   * Keep the spares while calm too (SpotHedge's N+1 at all times), not only within `riskWindowSeconds` of a
   * preemption: the first preemption after a calm spell is then covered at once instead of after a cold start.
   * @default false
   */
  readonly keepSparesWhenCalm?: boolean;
  /**
   * When spot is scarce (fewer pools left to launch in than spot replicas plus spares, because the
   * others were just preempted or ran out of capacity), cover the missing spares with on-demand, as
   * SpotHedge always does: the next preemption is then likely and its replacement unlikely to land. Off by
   * default: in a region of three zones one lost zone already counts as scarce, and the on-demand it then holds
   * costs more than the availability it buys (measured on the synthetic families, docs/measurements.md).
   * @default false
   */
  readonly coverSparesWhenScarce?: boolean;
  /**
   * While spares are wanted, cover every spare that is not ready (lost, or still booting) with on-demand until it
   * is, as SpotHedge does at all times: the fleet then always has one preemption's worth of ready headroom.
   * @default false
   */
  readonly coverMissingSpares?: boolean;
  /**
   * Spot the main groups cannot launch (their spot running, ready or booting, is short of the spot share: no
   * capacity in their zones, or their region's spot is gone) is launched by the spare groups the controller owns,
   * which it steers to pools the policy does not avoid, in any region; on-demand covers it only until those are
   * ready. Off: on-demand covers it until the main group finds capacity again. Applied by `planControllerStep`
   * (the idealised simulator places all spot itself and has no main groups). Only pools calm for
   * `strikeForgivenessSeconds` take stand-ins; they stay until nothing is booting any more. Measured with
   * `spreadSpares` (docs/measurements.md, "Policy changes"): cheaper over several regions, as available or more.
   * Needs the main groups' own spot in service (`mainSpotInService`, which every handler reports) for the zonal spare
   * groups of Google Cloud and Azure.
   * @default true
   */
  readonly replaceUnlaunchedSpot?: boolean;
  /**
   * Spread the spares over zones that hold none of the fleet's spot (a spare next to a main replica is lost with it).
   * Applied by `planControllerStep`: when a spare group steerable by zone (AWS's) grows, the controller points it at
   * the usable zones with no spot running (a group balances only its own instances), otherwise its zones change only
   * to drop avoided ones; among zonal spare groups (Google Cloud's and Azure's, one per zone) a spare goes to a zone
   * holding none of the fleet's other spot before the best-ranked pool. Measured on `bench/policy-families.ts`
   * (docs/measurements.md): as deployed on Google Cloud the goal is met on 25 of 44 cases instead of 13, on Azure 21
   * instead of 9.
   * @default true
   */
  readonly spreadSpares?: boolean;
  /**
   * Region that new spot prefers when pools are otherwise equal (pool ids `<region>/<zone>/<type>`): the one
   * closest to the users. Pools of other regions still come before pools with more strikes.
   * @default - no home region
   */
  readonly homeRegion?: string;
}

/** The options with every default filled in. */
export interface ResolvedFallbackPolicyOptions {
  readonly scaleInStabilizationSeconds: number;
  readonly maxScaleInStabilizationSeconds: number;
  readonly flapWindowSeconds: number;
  readonly scaleInCooldownSeconds: number;
  readonly unavailablePoolSeconds: number;
  readonly maxUnavailablePoolSeconds: number;
  readonly strikeForgivenessSeconds: number;
  readonly spareSpotReplicas: number;
  readonly riskWindowSeconds: number;
  readonly keepSparesWhenCalm: boolean;
  readonly coverSparesWhenScarce: boolean;
  readonly coverMissingSpares: boolean;
  readonly replaceUnlaunchedSpot: boolean;
  readonly spreadSpares: boolean;
  /** Region whose pools win ties in placement. @default - none: no region is preferred */
  readonly homeRegion?: string;
}

/** Defaults of {@link FallbackPolicyOptions}. */
export const DEFAULT_FALLBACK_POLICY_OPTIONS: ResolvedFallbackPolicyOptions = {
  scaleInStabilizationSeconds: 60,
  maxScaleInStabilizationSeconds: 300,
  flapWindowSeconds: 900,
  scaleInCooldownSeconds: 120,
  unavailablePoolSeconds: 600,
  maxUnavailablePoolSeconds: 3600,
  strikeForgivenessSeconds: 3600,
  spareSpotReplicas: 1,
  riskWindowSeconds: 86400,
  keepSparesWhenCalm: false,
  coverSparesWhenScarce: false,
  coverMissingSpares: false,
  replaceUnlaunchedSpot: true,
  spreadSpares: true,
};

const STATE_VERSION = 1;

/** The state a controller starts with (nothing known, no fallback). */
export function initialFallbackState(options: FallbackPolicyOptions = {}): FallbackState {
  const o = resolveFallbackPolicyOptions(options);
  return {
    version: STATE_VERSION,
    fallbackReplicas: 0,
    spareSpotReplicas: 0,
    lastIncreaseAt: 0,
    lastDecreaseAt: 0,
    coveredSince: 0,
    coveredNeed: 0,
    stabilizationSeconds: o.scaleInStabilizationSeconds,
    recentPreemptions: [],
    pools: [],
  };
}

/**
 * Fill in the defaults of the options and check them. Throws one `FleetSpecError` naming every bad
 * option, its value, the limit and the fix.
 */
export function resolveFallbackPolicyOptions(options: FallbackPolicyOptions = {}, scope = 'fallback policy'): ResolvedFallbackPolicyOptions {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o: ResolvedFallbackPolicyOptions = { ...DEFAULT_FALLBACK_POLICY_OPTIONS, ...defined };
  const v = new ProblemCollector();
  for (const [prop, value] of Object.entries(o) as [keyof ResolvedFallbackPolicyOptions, number | boolean | string][]) {
    if (prop === 'homeRegion') {
      if (typeof value !== 'string' || (value as string).length === 0) v.add(C.FALLBACK_POLICY_OPTIONS, prop, `${prop} (${JSON.stringify(value)}) must be a region name as in the pool ids <region>/<zone>/<type>, e.g. us-east-1`);
      continue;
    }
    if (prop === 'coverSparesWhenScarce' || prop === 'keepSparesWhenCalm' || prop === 'coverMissingSpares' || prop === 'replaceUnlaunchedSpot' || prop === 'spreadSpares') {
      if (typeof value !== 'boolean') v.add(C.FALLBACK_POLICY_OPTIONS, prop, `${prop} (${String(value)}) must be true or false`);
      continue;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      v.add(C.CAPACITY_NEGATIVE, prop, `${prop} (${value}) must be a finite number, 0 or more; use the default ${DEFAULT_FALLBACK_POLICY_OPTIONS[prop]} or leave it out`);
    }
  }
  if (Number.isFinite(o.spareSpotReplicas) && o.spareSpotReplicas >= 0 && !Number.isInteger(o.spareSpotReplicas)) {
    v.add(C.CAPACITY_NEGATIVE, 'spareSpotReplicas', `spareSpotReplicas (${o.spareSpotReplicas}) must be a whole number of replicas; use ${Math.round(o.spareSpotReplicas)}`);
  }
  if (o.maxScaleInStabilizationSeconds < o.scaleInStabilizationSeconds) {
    v.add(C.CAPACITY_ORDER, 'maxScaleInStabilizationSeconds', `maxScaleInStabilizationSeconds (${o.maxScaleInStabilizationSeconds}) is below scaleInStabilizationSeconds (${o.scaleInStabilizationSeconds}); raise it to at least ${o.scaleInStabilizationSeconds}`);
  }
  if (o.maxUnavailablePoolSeconds < o.unavailablePoolSeconds) {
    v.add(C.CAPACITY_ORDER, 'maxUnavailablePoolSeconds', `maxUnavailablePoolSeconds (${o.maxUnavailablePoolSeconds}) is below unavailablePoolSeconds (${o.unavailablePoolSeconds}); raise it to at least ${o.unavailablePoolSeconds}`);
  }
  v.throwIfAny(scope);
  return o;
}

function countOk(x: number | undefined): boolean {
  return x === undefined || (Number.isInteger(x) && x >= 0);
}

/** Allocation-free check of the common case (called every tick by the simulator). */
function inputLooksValid(input: FallbackInput): boolean {
  const { nowSeconds, targetReplicas, onDemandBase, maxCapacity, pools } = input;
  if (!(nowSeconds > 0) || !Number.isFinite(nowSeconds)) return false;
  if (!Number.isInteger(targetReplicas) || !Number.isInteger(onDemandBase) || !Number.isInteger(maxCapacity)) return false;
  if (targetReplicas < 0 || onDemandBase < 0 || onDemandBase > maxCapacity || targetReplicas > maxCapacity) return false;
  for (let i = 0; i < pools.length; i++) {
    const p = pools[i];
    if (!(Number.isInteger(p.ready) && p.ready >= 0)) return false;
    if (!countOk(p.launching) || !countOk(p.preempted) || !countOk(p.launchFailures)) return false;
    for (let j = 0; j < i; j++) if (pools[j].pool === p.pool) return false;
  }
  return true;
}

/** Check the fleet-level numbers of an input (the controller passes them from its FleetSpec). */
function validateInput(input: FallbackInput): void {
  if (inputLooksValid(input)) return;
  const v = new ProblemCollector();
  if (!Number.isFinite(input.nowSeconds) || input.nowSeconds <= 0) {
    v.add(C.CAPACITY_NEGATIVE, 'nowSeconds', `nowSeconds (${input.nowSeconds}) must be the current time in epoch seconds, above 0 (0 means "never" in the state)`);
  }
  for (const prop of ['targetReplicas', 'onDemandBase', 'maxCapacity'] as const) {
    const value = input[prop];
    if (!Number.isInteger(value) || value < 0) {
      v.add(C.CAPACITY_NEGATIVE, prop, `${prop} (${value}) must be a whole number of replicas, 0 or more`);
    }
  }
  if (input.onDemandBase > input.maxCapacity) {
    v.add(C.ON_DEMAND_BASE_ABOVE_MAX, 'onDemandBase', `onDemandBase (${input.onDemandBase}) is above maxCapacity (${input.maxCapacity}); lower the base to at most ${input.maxCapacity} or raise maxCapacity`);
  }
  if (input.targetReplicas > input.maxCapacity) {
    v.add(C.CAPACITY_ORDER, 'targetReplicas', `targetReplicas (${input.targetReplicas}) is above maxCapacity (${input.maxCapacity}); the target must fit in the fleet: lower it or raise maxCapacity`);
  }
  const seen = new Set<string>();
  for (const p of input.pools) {
    if (seen.has(p.pool)) v.add(C.ZONES, 'pools', `pool "${p.pool}" is observed twice; report each pool once`);
    seen.add(p.pool);
    for (const field of ['ready', 'launching', 'preempted', 'launchFailures'] as const) {
      const value = p[field];
      if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
        v.add(C.CAPACITY_NEGATIVE, `pools[${p.pool}].${field}`, `pools[${p.pool}].${field} (${value}) must be a whole number, 0 or more`);
      }
    }
  }
  v.throwIfAny('fallback policy input');
}

/**
 * Decide the on-demand fallback and the spot over-provisioning for one control period.
 *
 * The rules, in order:
 * 1. Pools: a preemption or failed launch gives the pool a strike and avoids it for
 *    `unavailablePoolSeconds x 2^(strikes-1)` (at most `maxUnavailablePoolSeconds`); a strike is forgiven
 *    per `strikeForgivenessSeconds` without trouble. New spot goes to the preferred pools: pools with
 *    fewer strikes first, then pools proven good longest, then the order the controller listed them in.
 *    Across regions (pool ids `<region>/<zone>/<type>`): a region two or more of whose pools fail in the same
 *    period is ranked after every other region for the same doubling time (its pools fail together, so spreading
 *    over it buys nothing), and among equal pools the `homeRegion`'s come first.
 * 2. Spares: while a preemption of this fleet happened within `riskWindowSeconds`, run
 *    `spareSpotReplicas` spot replicas above the target, so the next preemption is covered at once.
 * 3. Fallback up, at once: on-demand above the base = the target minus the base minus the ready spot
 *    replicas (never negative, never more than the target minus the base). When spot is scarce (fewer
 *    pools left than spot replicas plus spares), the missing spares count too (`coverSparesWhenScarce`).
 * 4. Fallback down, slowly: only once ready spot has covered the smaller need for the stabilization time
 *    (which doubles on each flap) and the cool-down after the last increase has passed; then straight to
 *    the need. Launching spot replicas never count: on-demand stays until replacements are ready.
 * 5. Bounds: on-demand is never below the base, on-demand + spot never above `maxCapacity` (spares are
 *    dropped first).
 */
export function decideFallback(input: FallbackInput, options: FallbackPolicyOptions = {}): FallbackDecision {
  return decideResolved(input, resolveFallbackPolicyOptions(options));
}

/**
 * The policy with its options checked once: what a long-running caller (the simulator, a controller
 * that keeps its process warm) holds on to. `decide` is {@link decideFallback}.
 */
export class FallbackPolicy {
  /** The options with their defaults. */
  public readonly options: ResolvedFallbackPolicyOptions;

  constructor(options: FallbackPolicyOptions = {}) {
    this.options = resolveFallbackPolicyOptions(options);
  }

  /** Decide one control period; see {@link decideFallback}. */
  public decide(input: FallbackInput): FallbackDecision {
    return decideResolved(input, this.options);
  }

  /** The state to start with. */
  public initialState(): FallbackState {
    return initialFallbackState(this.options);
  }
}

function decideResolved(input: FallbackInput, o: ResolvedFallbackPolicyOptions): FallbackDecision {
  validateInput(input);
  const now = input.nowSeconds;
  const prev = input.state ?? initialFallbackState(o);

  // 1. Pool memory
  const memory = new Map<string, PoolMemory>();
  for (const m of prev.pools) memory.set(m.pool, m);
  let changed = false;
  const newPreemptions: number[] = [];
  const events: string[] = [];
  for (const obs of input.pools) {
    const known = memory.get(obs.pool);
    const m = known ?? { pool: obs.pool, strikes: 0, unavailableUntil: 0, lastBadAt: 0, goodSince: 0 };
    const preempted = obs.preempted ?? 0;
    const failures = obs.launchFailures ?? 0;
    if (preempted + failures > 0) {
      const strikes = effectiveStrikes(m, now, o) + 1;
      const avoid = Math.min(o.maxUnavailablePoolSeconds, o.unavailablePoolSeconds * 2 ** (strikes - 1));
      memory.set(obs.pool, { pool: obs.pool, strikes, unavailableUntil: now + avoid, lastBadAt: now, goodSince: 0 });
      changed = true;
      for (let i = 0; i < preempted; i++) newPreemptions.push(now);
      const what = [preempted > 0 ? `${preempted} preempted` : '', failures > 0 ? `${failures} launch failure${failures === 1 ? '' : 's'}` : ''].filter((x) => x).join(', ');
      events.push(`${obs.pool}: ${what}, avoided ${avoid} s`);
    } else {
      const goodSince = obs.ready > 0 ? m.goodSince || now : 0;
      if (goodSince !== m.goodSince || !known) {
        memory.set(obs.pool, { ...m, goodSince });
        changed = true;
      }
    }
  }
  // Forget pools no longer observed once nothing is held against them.
  let pools: PoolMemory[] = prev.pools;
  let sameOrder = !changed && prev.pools.length === input.pools.length;
  for (let i = 0; sameOrder && i < input.pools.length; i++) sameOrder = prev.pools[i].pool === input.pools[i].pool;
  if (!sameOrder) {
    const observed = new Set(input.pools.map((p) => p.pool));
    pools = [...memory.values()].filter((m) => observed.has(m.pool) || m.unavailableUntil > now || effectiveStrikes(m, now, o) > 0);
  }
  const unavailablePools: string[] = [];
  for (const m of pools) if (m.unavailableUntil > now) unavailablePools.push(m.pool);

  // Regions whose pools fail together: two or more of a region's pools bad in this one period.
  let regionMemory = prev.regions ?? [];
  const badByRegion = new Map<string, number>();
  const poolsByRegion = new Map<string, number>();
  for (const obs of input.pools) {
    const r = regionOfPool(obs.pool);
    if (r === undefined) continue;
    poolsByRegion.set(r, (poolsByRegion.get(r) ?? 0) + 1);
    if ((obs.preempted ?? 0) + (obs.launchFailures ?? 0) > 0) badByRegion.set(r, (badByRegion.get(r) ?? 0) + 1);
  }
  const correlated = [...badByRegion.entries()].filter(([r, n]) => n >= 2 && (poolsByRegion.get(r) ?? 0) >= 2 && poolsByRegion.size > 1).map(([r]) => r);
  if (correlated.length > 0 || regionMemory.some((m) => m.avoidedUntil <= now && now - m.lastBadAt >= o.strikeForgivenessSeconds * m.strikes)) {
    const byName = new Map(regionMemory.map((m) => [m.region, m]));
    for (const r of correlated) {
      const m = byName.get(r);
      const strikes = (m ? Math.max(0, m.strikes - (o.strikeForgivenessSeconds > 0 ? Math.floor((now - m.lastBadAt) / o.strikeForgivenessSeconds) : m.strikes)) : 0) + 1;
      const avoid = Math.min(o.maxUnavailablePoolSeconds, o.unavailablePoolSeconds * 2 ** (strikes - 1));
      byName.set(r, { region: r, strikes, avoidedUntil: now + avoid, lastBadAt: now });
      events.push(`region ${r}: ${badByRegion.get(r)} pools failed together, ranked last for ${avoid} s`);
    }
    regionMemory = [...byName.values()].filter((m) => m.avoidedUntil > now || now - m.lastBadAt < o.strikeForgivenessSeconds * m.strikes);
  }
  const regionAvoided = new Set(regionMemory.filter((m) => m.avoidedUntil > now).map((m) => m.region));

  const candidates: { pool: string; strikes: number; good: number; i: number; region: number; home: number }[] = [];
  for (let i = 0; i < input.pools.length; i++) {
    const m = memory.get(input.pools[i].pool)!;
    if (m.unavailableUntil > now) continue;
    const r = regionAvoided.size > 0 || o.homeRegion !== undefined ? regionOfPool(m.pool) : undefined;
    candidates.push({ pool: m.pool, strikes: effectiveStrikes(m, now, o), good: goodRank(m), i, region: r !== undefined && regionAvoided.has(r) ? 1 : 0, home: o.homeRegion !== undefined && r !== o.homeRegion ? 1 : 0 });
  }
  const preferredPools = candidates.sort((a, b) => a.region - b.region || a.strikes - b.strikes || a.home - b.home || a.good - b.good || a.i - b.i).map((c) => c.pool);

  // 2. Spares while at risk
  const kept = prev.recentPreemptions;
  const recentPreemptions =
    newPreemptions.length === 0 && (kept.length === 0 || now - kept[0] < o.riskWindowSeconds)
      ? kept
      : [...kept, ...newPreemptions].filter((t) => now - t < o.riskWindowSeconds).slice(-64);
  const spotShare = Math.max(0, input.targetReplicas - input.onDemandBase);
  const atRisk = recentPreemptions.length > 0 || o.keepSparesWhenCalm;
  let spare = atRisk && spotShare > 0 ? o.spareSpotReplicas : 0;

  // 3./4. Fallback with hysteresis
  const readySpot = input.pools.reduce((s, p) => s + Math.max(0, p.ready), 0);
  // Scarce spot: too few pools left to spread the share and its spares one per pool. Then a spare spot
  // replica is unlikely to land, so on-demand covers the missing spares (SpotHedge's rule, only here).
  const scarce = o.coverSparesWhenScarce && spare > 0 && preferredPools.length < spotShare + spare;
  const spareShort = scarce || (o.coverMissingSpares && spare > 0) ? Math.max(0, spotShare + spare - readySpot) : 0;
  const roomForSpares = Math.max(0, input.maxCapacity - input.onDemandBase - spotShare);
  const need = Math.min(spotShare, Math.max(0, spotShare - readySpot, Math.min(spareShort, roomForSpares)));
  let fallback = prev.fallbackReplicas;
  let { lastIncreaseAt, lastDecreaseAt, coveredSince, coveredNeed, stabilizationSeconds } = prev;
  let action = FallbackAction.STEADY;
  let why: string;
  if (need > fallback) {
    const flapped = lastDecreaseAt > 0 && now - lastDecreaseAt < o.flapWindowSeconds;
    if (flapped) stabilizationSeconds = Math.min(o.maxScaleInStabilizationSeconds, Math.max(stabilizationSeconds * 2, o.scaleInStabilizationSeconds || 1));
    const scarcity = spareShort > Math.max(0, spotShare - readySpot) ? ` (spot is scarce: ${preferredPools.length} pool${preferredPools.length === 1 ? '' : 's'} left for ${spotShare + spare} spot replicas, so on-demand covers the spare)` : '';
    why = `spot is ${need} ready replica${need === 1 ? '' : 's'} short of its share ${spotShare} of target ${input.targetReplicas} (ready spot ${readySpot})${scarcity}: fallback ${fallback} -> ${need} on-demand${flapped ? `; flapped within ${o.flapWindowSeconds} s, stabilization now ${stabilizationSeconds} s` : ''}`;
    fallback = need;
    lastIncreaseAt = now;
    coveredSince = 0;
    coveredNeed = 0;
    action = FallbackAction.FALL_BACK;
  } else if (need < fallback) {
    if (coveredSince === 0) {
      coveredSince = now;
      coveredNeed = need;
    } else {
      coveredNeed = Math.max(coveredNeed, need);
    }
    const stableFor = now - coveredSince;
    const sinceIncrease = now - lastIncreaseAt;
    if (stableFor >= stabilizationSeconds && sinceIncrease >= o.scaleInCooldownSeconds) {
      why = `ready spot ${readySpot} has covered the spot share ${spotShare} for ${stableFor} s (stabilization ${stabilizationSeconds} s): fallback ${fallback} -> ${coveredNeed} on-demand`;
      fallback = coveredNeed;
      lastDecreaseAt = now;
      coveredSince = 0;
      coveredNeed = 0;
      action = FallbackAction.RETURN_TO_SPOT;
      if (lastIncreaseAt > 0 && now - lastIncreaseAt > 4 * o.flapWindowSeconds) stabilizationSeconds = o.scaleInStabilizationSeconds;
    } else {
      const waits: string[] = [];
      if (stableFor < stabilizationSeconds) waits.push(`stabilization ${stableFor}/${stabilizationSeconds} s`);
      if (sinceIncrease < o.scaleInCooldownSeconds) waits.push(`cool-down ${sinceIncrease}/${o.scaleInCooldownSeconds} s`);
      why = `spot is back (ready spot ${readySpot} of share ${spotShare}) but the fallback stays at ${fallback} until ${waits.join(' and ')}`;
      action = FallbackAction.HOLD;
    }
  } else {
    coveredSince = 0;
    coveredNeed = 0;
    why = fallback === 0 ? `ready spot ${readySpot} covers the spot share ${spotShare}; no fallback` : `spot is still ${need} short: fallback stays at ${fallback}`;
  }
  if (now - lastIncreaseAt > 4 * o.flapWindowSeconds && now - lastDecreaseAt > 4 * o.flapWindowSeconds) {
    stabilizationSeconds = o.scaleInStabilizationSeconds;
  }

  // 5. Bounds
  let onDemand = Math.max(input.onDemandBase, input.onDemandBase + fallback);
  if (onDemand > input.maxCapacity) {
    onDemand = Math.max(input.onDemandBase, input.maxCapacity);
    fallback = onDemand - input.onDemandBase;
  }
  let spot = spotShare + spare;
  if (onDemand + spot > input.maxCapacity) {
    spare = Math.max(0, input.maxCapacity - onDemand - spotShare);
    spot = Math.max(0, Math.min(spotShare + spare, input.maxCapacity - onDemand));
  }
  const spareNote = spare > 0 ? `; ${spare} spare spot (${recentPreemptions.length > 0 ? `preempted ${recentPreemptions.length}x in the last ${o.riskWindowSeconds} s` : 'kept while calm: keepSparesWhenCalm'})` : '';
  const reason = `${why}${spareNote}${events.length > 0 ? `; ${events.join('; ')}` : ''}`;

  return {
    onDemandReplicas: onDemand,
    fallbackReplicas: fallback,
    spotReplicas: spot,
    spareSpotReplicas: spare,
    preferredPools,
    unavailablePools,
    action,
    reason,
    state: {
      version: STATE_VERSION,
      fallbackReplicas: fallback,
      spareSpotReplicas: spare,
      lastIncreaseAt,
      lastDecreaseAt,
      coveredSince,
      coveredNeed,
      stabilizationSeconds,
      recentPreemptions,
      pools,
      ...(regionMemory.length > 0 ? { regions: regionMemory } : {}),
    },
  };
}

/** The region of a pool id `<region>/<zone>/<type>`; undefined for ids of another shape. */
function regionOfPool(pool: string): string | undefined {
  const cut = pool.indexOf('/');
  if (cut <= 0 || pool.indexOf('/', cut + 1) < 0) return undefined;
  return pool.slice(0, cut);
}

/** Strikes left after forgiving one per `strikeForgivenessSeconds` of quiet since the last bad event. */
function effectiveStrikes(m: PoolMemory, now: number, o: ResolvedFallbackPolicyOptions): number {
  if (m.strikes === 0) return 0;
  if (o.strikeForgivenessSeconds === 0) return 0;
  return Math.max(0, m.strikes - Math.floor((now - m.lastBadAt) / o.strikeForgivenessSeconds));
}

/** Pools proven good longest first; pools not known to be good after them. */
function goodRank(m: PoolMemory): number {
  return m.goodSince > 0 ? m.goodSince : Number.MAX_SAFE_INTEGER;
}
