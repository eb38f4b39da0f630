import { FallbackPolicy, FallbackPolicyOptions, FallbackState } from '../policy/fallback-policy';
import { planSpotPlacement } from '../policy/placement';
import { FleetSpecErrorCode as C, ProblemCollector } from '../spec/errors';
import { policyWithHomeRegion } from '../spec/global-routing';
import { ControllerRunRecord, DeployedCounters, DeployedFleet, Deployment, DEPLOYMENT_PROFILES, DeploymentProfile } from './deployment';
import { locatePool, regionsOf } from './pools';
import { mulberry32, randomInt, shuffle } from './rng';
import { SpotTrace, traceWarnings, TraceReading } from './traces';

/** The policies the simulator compares. */
export enum SimulatedPolicy {
  /** Every replica on-demand. */
  ON_DEMAND = 'on-demand',
  /** Every replica on spot, spread over the pools and relaunched elsewhere when lost; no fallback. */
  SPOT_ONLY = 'spot-only',
  /**
   * SpotHedge's artifact's even spread (`NaiveSpread` with `StaticSpotProvision`): the target on spot, each new
   * replica in the first pool, in the window's pool order, that runs the fewest; no fallback.
   */
  EVEN_SPREAD = 'even-spread',
  /** A fixed on-demand base, the rest spot as in SPOT_ONLY; no fallback. */
  STATIC_BASE = 'static-base',
  /**
   * SpotHedge (SkyServe, EuroSys '25) as published: the artifact's `SpotHedge` placement (N + spares spot over
   * the zones not recently preempted) with its `SpotFailoverNoSafety` fallback (on-demand for the spot not
   * ready, no hold). Always idealised: it is the published policy, not something this library deploys.
   */
  SPOTHEDGE = 'spothedge',
  /** This library's fallback policy (`lib/policy`), the same code the controllers run. */
  OURS = 'ours',
}

/** Every policy, in the order they are reported. */
export const ALL_SIMULATED_POLICIES: readonly SimulatedPolicy[] = [
  SimulatedPolicy.ON_DEMAND,
  SimulatedPolicy.SPOT_ONLY,
  SimulatedPolicy.EVEN_SPREAD,
  SimulatedPolicy.STATIC_BASE,
  SimulatedPolicy.SPOTHEDGE,
  SimulatedPolicy.OURS,
];

/** How to replay the traces. */
export interface SimulationOptions {
  /** Seconds per simulated tick. @default 30 */
  readonly tickSeconds?: number;
  /** Seconds from launch until a replica is ready (boot + model load). @default 120 */
  readonly coldStartSeconds?: number;
  /** Ready replicas the fleet must have. @default 3 */
  readonly targetReplicas?: number;
  /** On-demand price / spot price. @default 3 */
  readonly onDemandPriceRatio?: number;
  /** Length of each replayed window, seconds; 0 replays the whole trace once. @default 86400 */
  readonly windowSeconds?: number;
  /** Windows replayed, each at a random offset. @default 10 */
  readonly repeats?: number;
  /**
   * Start ticks of the windows (in simulator ticks of the expanded traces), instead of random ones: replays
   * that others can reproduce. @default - `repeats` random offsets drawn from `seed`
   */
  readonly offsets?: number[];
  /**
   * The model. IDEALISED: the policy places every spot replica itself every tick. AWS / GCP / AZURE: the fleet
   * as the library renders it on that cloud (see lib/plan/deployment.ts) for spot-only, static-base and ours;
   * on-demand, even-spread and spothedge are the same in every model.
   * @default Deployment.IDEALISED
   */
  readonly deployment?: Deployment;
  /** Region whose main group takes the remainder of the spot share first (as-deployed, several regions). @default - the first region */
  readonly homeRegion?: string;
  /**
   * As deployed over several regions: the replicas of each region's main group, as the multi-region constructs'
   * per-region `desiredCapacity` sets them (e.g. `{ 'us-west-2': 2, 'us-east-2': 1, 'us-east-1': 0 }`: a region with
   * 0 runs no main replica and still hosts the controller's spares, stand-ins and fallback). Every region of the traces
   * is listed and the values sum to `targetReplicas`; the on-demand base counts in the home region's.
   * @default - the target spread evenly over the regions, the home region first for the remainder
   */
  readonly regionReplicas?: Readonly<Record<string, number>>;
  /** Seconds between scheduled controller runs (as-deployed). @default - the construct's schedule (60 s) */
  readonly controllerPeriodSeconds?: number;
  /**
   * The fleet's `drainBudgetSeconds` (as-deployed): a notified replica serves until the agent starts its drain,
   * `notice - drainBudget - safetyMargin` (lib/spec/notice.ts; AWS and Azure, not Google Cloud), in whole ticks.
   * @default - the cloud's default drain budget (AWS 45 s: 70 s of serving; Azure 10 s: 15 s, under a tick)
   */
  readonly drainBudgetSeconds?: number;
  /** Spare spot replicas of the spothedge baseline (the published run uses 1). @default 1 */
  readonly spothedgeSpares?: number;
  /**
   * Give the spothedge baseline the artifact's SpotFailover safety hold: keep the on-demand fallback one cold
   * start after the last fallback. The published SpotHedge (SpotFailoverNoSafety) has no hold.
   * @default false
   */
  readonly spothedgeSafetyHold?: boolean;
  /** Called after every controller run of the as-deployed `ours` (tests, inspecting a replay). @default - nothing */
  readonly onControllerRun?: (run: ControllerRunRecord, window: number) => void;
  /** Seed of the window offsets and of the randomised policies. @default 0 */
  readonly seed?: number;
  /** How trace values are read. @default TraceReading.UNCAPPED */
  readonly reading?: TraceReading;
  /** On-demand base of the static-base policy. @default 1 */
  readonly staticOnDemandBase?: number;
  /** On-demand base of our policy. @default 0 */
  readonly onDemandBase?: number;
  /** Most replicas our policy may run. @default - 2 x target + 1 */
  readonly maxCapacity?: number;
  /** Tuning of our policy. @default - the policy's defaults */
  readonly policyOptions?: FallbackPolicyOptions;
  /** Policies to run. @default - all of them */
  readonly policies?: SimulatedPolicy[];
}

/** {@link SimulationOptions} with the defaults filled in. */
export interface ResolvedSimulationOptions {
  readonly tickSeconds: number;
  readonly coldStartSeconds: number;
  readonly targetReplicas: number;
  readonly onDemandPriceRatio: number;
  readonly windowSeconds: number;
  readonly repeats: number;
  readonly seed: number;
  readonly reading: TraceReading;
  readonly staticOnDemandBase: number;
  readonly onDemandBase: number;
  readonly maxCapacity: number;
  readonly deployment: Deployment;
  readonly spothedgeSpares: number;
  readonly spothedgeSafetyHold: boolean;
  /** Seconds between the controller's scheduled runs in the as-deployed model. @default - the period the deployment's construct schedules (60 s on every cloud) */
  readonly controllerPeriodSeconds?: number;
  /** Region the policy prefers when others are as good. @default - none: no region is preferred */
  readonly homeRegion?: string;
  /** Replicas of each region's main group (as deployed). @default - the target spread evenly */
  readonly regionReplicas?: Readonly<Record<string, number>>;
  /** The fleet's drain budget in the as-deployed model. @default - the cloud's default */
  readonly drainBudgetSeconds?: number;
}

/** What one policy achieved, averaged over the windows. */
export interface PolicyResult {
  /** Policy name. */
  readonly policy: SimulatedPolicy;
  /** Cost relative to running the target on-demand all the time (spot ticks + on-demand ticks x ratio). */
  readonly relativeCost: number;
  /** Fraction of ticks with at least the target of ready replicas. */
  readonly availability: number;
  /** Spot replicas preempted, mean per window. */
  readonly preemptions: number;
  /** Mean length of a below-target episode, seconds (0 when there was none). */
  readonly meanRecoverySeconds: number;
  /** The model this row comes from: `idealised`, `aws`, `gcp`, `azure`, or `artifact` (the published baselines). */
  readonly model: string;
}

/** A simulation's results with the setup that produced them. */
export interface SimulationReport {
  /** One row per policy. */
  readonly results: PolicyResult[];
  /** The options, defaults filled in. */
  readonly options: ResolvedSimulationOptions;
  /** Pools replayed (trace names). */
  readonly pools: string[];
  /** Their regions, in first-seen order (`unknown` where a zone name shows none). */
  readonly regions: string[];
  /** What a reader must know about the traces (count traces read uncapped, pools cut to the shortest...). */
  readonly warnings: string[];
  /** The as-deployed profile used, when the model is a cloud. */
  readonly profile?: DeploymentProfile;
  /** Ticks per window. */
  readonly windowTicks: number;
  /** Start tick of each window in the expanded trace. */
  readonly offsets: number[];
  /** Wall-clock milliseconds the replay took. */
  readonly elapsedMs: number;
}

const UNCAPPED_VALUE = 1_000_000_000;
/** The simulated clock starts here (epoch seconds), so that 0 keeps meaning "never" in the policy state. */
const EPOCH = 1_700_000_000;

/** Traces expanded to simulator ticks and read as caps (replicas a pool holds per tick). */
export interface ExpandedTraces {
  readonly caps: Int32Array[];
  readonly length: number;
}

/**
 * Expand traces to simulator ticks the way SpotHedge's artifact does: each sample repeated
 * `floor(gap / tick)` times (at least once), then read as caps.
 */
export function expandTraces(traces: readonly SpotTrace[], tickSeconds: number, reading: TraceReading): ExpandedTraces {
  const caps = traces.map((t) => {
    const rep = Math.max(1, Math.floor(t.gapSeconds / tickSeconds));
    const out = new Int32Array(t.data.length * rep);
    for (let i = 0; i < t.data.length; i++) {
      const v = t.data[i];
      out.fill(reading === TraceReading.UNCAPPED ? (v > 0 ? UNCAPPED_VALUE : 0) : v, i * rep, (i + 1) * rep);
    }
    return out;
  });
  return { caps, length: Math.min(...caps.map((c) => c.length)) };
}

/** The simulator's view of one tick, handed to a strategy. */
interface TickView {
  readonly t: number;
  readonly zones: number;
  /** Spot plan of the previous tick after preemptions (per zone). */
  readonly prevSpot: Int32Array;
  /** Ready spot replicas per zone at the previous tick. */
  readonly readySpot: Int32Array;
  /** Preempted / failed launches per zone at the previous tick. */
  readonly preempted: Int32Array;
  readonly failed: Int32Array;
  readonly readyDemand: number;
  readonly prevDemand: number;
  /** Write the spot plan of this tick here (starts as a copy of prevSpot). */
  readonly spot: Int32Array;
  /** Capacity of each pool at this tick: only the as-deployed model reads it (the cloud's launches find it). */
  readonly capNow: Int32Array;
  /** Counters the as-deployed model adds to. */
  readonly counters: DeployedCounters;
}

interface Strategy {
  /** Returns the on-demand count of this tick and fills view.spot. */
  step(view: TickView): number;
  /** As-deployed over several regions: region of each pool and the global layer's ticks before a region serves. */
  readonly routing?: { readonly regionOfPool: Int32Array; readonly regions: number; readonly healthyTicks: number };
}

/** Replay traces under each policy. */
export function simulate(traces: readonly SpotTrace[], options: SimulationOptions = {}): SimulationReport {
  const started = Date.now();
  const o = resolveSimulationOptions(options);
  const policyOptions = new FallbackPolicy(options.policyOptions ?? {}).options;
  const prepared = expandTraces(traces, o.tickSeconds, o.reading);
  const windowTicks = o.windowSeconds === 0 ? prepared.length : Math.round(o.windowSeconds / o.tickSeconds);
  const coldTicks = Math.round(o.coldStartSeconds / o.tickSeconds);
  const v = new ProblemCollector();
  if (traces.length > 0 && windowTicks > prepared.length) {
    v.add(C.PLAN_OPTIONS, 'windowSeconds', `windowSeconds (${o.windowSeconds}) is longer than the traces (${prepared.length * o.tickSeconds} s at ${o.tickSeconds} s ticks); shorten the window or pass 0 to replay the whole trace`);
  }
  if (windowTicks <= coldTicks) {
    v.add(C.PLAN_OPTIONS, 'windowSeconds', `windowSeconds (${o.windowSeconds}) must be longer than coldStartSeconds (${o.coldStartSeconds})`);
  }
  if (traces.length === 0) v.add(C.PLAN_OPTIONS, 'traces', 'no traces given; pass at least one pool trace');
  const given = options.offsets;
  if (given !== undefined) {
    if (given.length === 0) v.add(C.PLAN_OPTIONS, 'offsets', 'offsets is empty; give at least one window start tick, e.g. 0,2880');
    for (const off of given) {
      if (!Number.isInteger(off) || off < 0 || off + windowTicks > prepared.length) {
        v.add(C.PLAN_OPTIONS, 'offsets', `offset ${off} must be a whole tick from 0 to ${Math.max(0, prepared.length - windowTicks)} (the traces hold ${prepared.length} ticks of ${o.tickSeconds} s and a window ${windowTicks}); pick starts inside the traces`);
      }
    }
  }
  if (o.regionReplicas !== undefined) checkRegionReplicas(v, o, regionsOf(traces.map((t) => t.name)));
  v.throwIfAny('simulate');

  // Offsets and pool orders come from two streams of the seed, so that replays of different pool sets
  // (--per-region, --region) of the same traces replay the same windows.
  const rng = mulberry32(o.seed);
  const orderRng = mulberry32(o.seed ^ 0x5bd1e995);
  const repeats = given !== undefined ? given.length : o.windowSeconds === 0 ? 1 : o.repeats;
  const offsets: number[] = [];
  const orders: number[][] = [];
  for (let i = 0; i < repeats; i++) {
    const drawn = o.windowSeconds === 0 ? 0 : randomInt(rng, prepared.length - windowTicks + 1);
    offsets.push(given !== undefined ? given[i] : drawn);
    orders.push(shuffle(orderRng, traces.map((_, z) => z)));
  }
  const profile = o.deployment === Deployment.IDEALISED ? undefined : DEPLOYMENT_PROFILES[o.deployment];
  const policies = options.policies ?? [...ALL_SIMULATED_POLICIES];
  const results = policies.map((policy) => {
    let cost = 0;
    let avail = 0;
    let counted = 0;
    let preemptions = 0;
    let episodes = 0;
    let episodeTicks = 0;
    for (let i = 0; i < repeats; i++) {
      const caps = orders[i].map((z) => prepared.caps[z]);
      const names = orders[i].map((z) => traces[z].name);
      const onRun = options.onControllerRun;
      const strategy = makeStrategy(policy, o, policyOptions, names, mulberry32((o.seed + 1) * 7919 + i), profile, onRun ? (run) => onRun(run, i) : undefined);
      const r = runWindow(strategy, caps, offsets[i], windowTicks, coldTicks, o.targetReplicas, o.onDemandPriceRatio);
      cost += r.cost;
      avail += r.availTicks;
      counted += r.countedTicks;
      preemptions += r.preemptions;
      episodes += r.episodes;
      episodeTicks += r.episodeTicks;
    }
    return {
      policy,
      relativeCost: cost / (o.targetReplicas * o.onDemandPriceRatio * counted),
      availability: avail / counted,
      preemptions: preemptions / repeats,
      meanRecoverySeconds: episodes > 0 ? (episodeTicks * o.tickSeconds) / episodes : 0,
      model: modelOf(policy, o.deployment),
    };
  });
  const pools = traces.map((t) => t.name);
  return {
    results,
    options: o,
    pools,
    regions: regionsOf(pools),
    warnings: traceWarnings(traces, o.reading),
    ...(profile ? { profile } : {}),
    windowTicks,
    offsets,
    elapsedMs: Date.now() - started,
  };
}

/** The model a policy's row comes from. */
export function modelOf(policy: SimulatedPolicy, deployment: Deployment): string {
  if (policy === SimulatedPolicy.SPOTHEDGE || policy === SimulatedPolicy.EVEN_SPREAD) return 'artifact';
  if (policy === SimulatedPolicy.ON_DEMAND) return 'any';
  return deployment;
}

/** `regionReplicas` against the traces' regions: every region once, whole counts, the target in all, the base at home. */
function checkRegionReplicas(v: ProblemCollector, o: ResolvedSimulationOptions, regions: readonly string[]): void {
  const given = o.regionReplicas!;
  const shown = Object.entries(given).map(([r, n]) => `${r}=${n}`).join(',');
  if (o.deployment === Deployment.IDEALISED) {
    v.add(C.PLAN_OPTIONS, 'regionReplicas', `regionReplicas (${shown}) sets the main group of each region, which only the as-deployed model has; add --deployment aws|gcp|azure`);
    return;
  }
  const unknown = Object.keys(given).filter((r) => !regions.includes(r));
  if (unknown.length > 0) v.add(C.PLAN_OPTIONS, 'regionReplicas', `regionReplicas names ${unknown.join(', ')}, which the traces do not hold; the traces' regions are ${regions.join(', ')}`);
  const missing = regions.filter((r) => given[r] === undefined);
  if (missing.length > 0) v.add(C.PLAN_OPTIONS, 'regionReplicas', `regionReplicas (${shown}) leaves out ${missing.join(', ')}; give every region of the traces its replicas (0 for a region that only hosts spares and the fallback)`);
  const bad = Object.entries(given).filter(([, n]) => !Number.isInteger(n) || n < 0);
  if (bad.length > 0) v.add(C.PLAN_OPTIONS, 'regionReplicas', `regionReplicas ${bad.map(([r, n]) => `${r}=${n}`).join(', ')} must be whole numbers, 0 or more`);
  if (bad.length > 0 || unknown.length > 0) return;
  const sum = Object.values(given).reduce((a, b) => a + b, 0);
  if (sum !== o.targetReplicas) v.add(C.PLAN_OPTIONS, 'regionReplicas', `regionReplicas (${shown}) sum to ${sum}, not targetReplicas (${o.targetReplicas}); the regions' main groups together serve the target: make them add up to ${o.targetReplicas}`);
  if (o.onDemandBase === 0) return;
  const home = o.homeRegion;
  if (home === undefined) {
    v.add(C.PLAN_OPTIONS, 'regionReplicas', `regionReplicas with an on-demand base (${o.onDemandBase}) needs homeRegion: the region whose main group holds the base`);
  } else if ((given[home] ?? 0) < o.onDemandBase) {
    v.add(C.PLAN_OPTIONS, 'regionReplicas', `regionReplicas gives the home region ${home} ${given[home] ?? 0}, below the on-demand base ${o.onDemandBase} it holds; give it at least ${o.onDemandBase}`);
  }
}

/** Only the traces of the given regions (`--region`), in their order. Throws naming the regions there are. */
export function selectRegions(traces: readonly SpotTrace[], regions: readonly string[]): SpotTrace[] {
  const have = regionsOf(traces.map((t) => t.name));
  const missing = regions.filter((r) => !have.includes(r));
  if (missing.length > 0) {
    const v = new ProblemCollector();
    v.add(C.PLAN_OPTIONS, 'region', `--region ${missing.join(',')} matches no pool; the traces hold ${have.join(', ')} (the region comes from each file's zone name, e.g. us-east-1a_v100_1.json -> us-east-1)`);
    v.throwIfAny('spot-plan simulate');
  }
  return traces.filter((t) => regions.includes(locatePool(t.name).region));
}

function resolveSimulationOptions(options: SimulationOptions): ResolvedSimulationOptions {
  const target = options.targetReplicas ?? 3;
  const o = {
    tickSeconds: options.tickSeconds ?? 30,
    coldStartSeconds: options.coldStartSeconds ?? 120,
    targetReplicas: target,
    onDemandPriceRatio: options.onDemandPriceRatio ?? 3,
    windowSeconds: options.windowSeconds ?? 86400,
    repeats: options.repeats ?? 10,
    seed: options.seed ?? 0,
    reading: options.reading ?? TraceReading.UNCAPPED,
    staticOnDemandBase: options.staticOnDemandBase ?? 1,
    onDemandBase: options.onDemandBase ?? 0,
    maxCapacity: options.maxCapacity ?? 2 * target + 1,
    deployment: options.deployment ?? Deployment.IDEALISED,
    spothedgeSpares: options.spothedgeSpares ?? 1,
    spothedgeSafetyHold: options.spothedgeSafetyHold ?? false,
    ...(options.controllerPeriodSeconds !== undefined ? { controllerPeriodSeconds: options.controllerPeriodSeconds } : {}),
    ...(options.homeRegion !== undefined ? { homeRegion: options.homeRegion } : {}),
    ...(options.regionReplicas !== undefined ? { regionReplicas: { ...options.regionReplicas } } : {}),
    ...(options.drainBudgetSeconds !== undefined ? { drainBudgetSeconds: options.drainBudgetSeconds } : {}),
  };
  const v = new ProblemCollector();
  const positive = ['tickSeconds', 'targetReplicas', 'onDemandPriceRatio', 'repeats'] as const;
  for (const prop of positive) {
    if (!(o[prop] > 0) || !Number.isFinite(o[prop])) v.add(C.PLAN_OPTIONS, prop, `${prop} (${o[prop]}) must be a number above 0`);
  }
  for (const prop of ['coldStartSeconds', 'windowSeconds', 'staticOnDemandBase', 'onDemandBase', 'seed'] as const) {
    if (!(o[prop] >= 0) || !Number.isFinite(o[prop])) v.add(C.PLAN_OPTIONS, prop, `${prop} (${o[prop]}) must be a number, 0 or more`);
  }
  for (const prop of ['targetReplicas', 'repeats', 'staticOnDemandBase', 'onDemandBase', 'maxCapacity', 'seed', 'spothedgeSpares'] as const) {
    if (Number.isFinite(o[prop]) && !Number.isInteger(o[prop])) v.add(C.PLAN_OPTIONS, prop, `${prop} (${o[prop]}) must be a whole number; use ${Math.round(o[prop])}`);
  }
  if (!(o.spothedgeSpares >= 0)) v.add(C.PLAN_OPTIONS, 'spothedgeSpares', `spothedgeSpares (${o.spothedgeSpares}) must be a whole number, 0 or more (the published SpotHedge uses 1)`);
  if (!Object.values(Deployment).includes(o.deployment)) v.add(C.PLAN_OPTIONS, 'deployment', `deployment (${String(o.deployment)}) must be one of ${Object.values(Deployment).join(', ')}`);
  if (o.controllerPeriodSeconds !== undefined && !(o.controllerPeriodSeconds >= o.tickSeconds && Number.isFinite(o.controllerPeriodSeconds))) {
    v.add(C.PLAN_OPTIONS, 'controllerPeriodSeconds', `controllerPeriodSeconds (${o.controllerPeriodSeconds}) must be at least one tick (${o.tickSeconds} s); the constructs' schedules run every 60 s`);
  }
  if (o.drainBudgetSeconds !== undefined && !(o.drainBudgetSeconds > 0 && Number.isFinite(o.drainBudgetSeconds))) {
    v.add(C.PLAN_OPTIONS, 'drainBudgetSeconds', `drainBudgetSeconds (${o.drainBudgetSeconds}) must be a number above 0: the fleet's drain budget (AWS default 45, Google Cloud and Azure 10)`);
  }
  if (o.staticOnDemandBase > target) v.add(C.ON_DEMAND_BASE_ABOVE_MAX, 'staticOnDemandBase', `staticOnDemandBase (${o.staticOnDemandBase}) is above targetReplicas (${target}); lower it to at most ${target}`);
  if (o.onDemandBase > target) v.add(C.ON_DEMAND_BASE_ABOVE_MAX, 'onDemandBase', `onDemandBase (${o.onDemandBase}) is above targetReplicas (${target}); lower it to at most ${target}`);
  if (o.maxCapacity < target) v.add(C.CAPACITY_ORDER, 'maxCapacity', `maxCapacity (${o.maxCapacity}) is below targetReplicas (${target}); raise it to at least ${target}`);
  if (!Object.values(TraceReading).includes(o.reading)) v.add(C.PLAN_OPTIONS, 'reading', `reading (${o.reading}) must be one of ${Object.values(TraceReading).join(', ')}`);
  v.throwIfAny('simulate');
  return o;
}

interface WindowResult {
  cost: number;
  availTicks: number;
  countedTicks: number;
  preemptions: number;
  episodes: number;
  episodeTicks: number;
}

/**
 * One window, counted the way SpotHedge's artifact counts it: a replica is ready at tick t when it has
 * been planned in every tick from t - coldStart to t; ticks before the first cold start are not counted;
 * cost = spot replica-ticks + on-demand replica-ticks x ratio, launching replicas included.
 */
function runWindow(strategy: Strategy, caps: Int32Array[], offset: number, T: number, cold: number, target: number, ratio: number): WindowResult {
  const Z = caps.length;
  const H = cold + 1; // history ring
  const spotHist = new Int32Array(H * Z);
  const demandHist = new Int32Array(H);
  const readySpot = new Int32Array(Z);
  const prevSpot = new Int32Array(Z);
  const preempted = new Int32Array(Z);
  const failed = new Int32Array(Z);
  const spot = new Int32Array(Z);
  let readyDemand = 0;
  let prevDemand = 0;
  const r: WindowResult = { cost: 0, availTicks: 0, countedTicks: 0, preemptions: 0, episodes: 0, episodeTicks: 0 };
  let down = false;
  const capNow = new Int32Array(Z);
  const counters: DeployedCounters = { noticeSpotTicks: 0, preemptions: 0, controllerRuns: 0, servingInNotice: new Int32Array(Z) };
  const view = { t: 0, zones: Z, prevSpot, readySpot, preempted, failed, readyDemand, prevDemand, spot, capNow, counters };
  const routing = strategy.routing && strategy.routing.regions > 1 && strategy.routing.healthyTicks > 0 ? strategy.routing : undefined;
  const healthyFor = new Int32Array(routing ? routing.regions : 0);
  const readyInRegion = new Int32Array(routing ? routing.regions : 0);
  for (let t = 0; t < T; t++) {
    spot.set(prevSpot);
    for (let z = 0; z < Z; z++) capNow[z] = caps[z][offset + t];
    view.t = t;
    view.readyDemand = readyDemand;
    view.prevDemand = prevDemand;
    const demand = Math.max(0, strategy.step(view));
    const slot = t % H;
    let spotCount = 0;
    for (let z = 0; z < Z; z++) {
      const want = Math.max(0, spot[z]);
      const cap = caps[z][offset + t];
      const got = Math.min(want, cap);
      const p = Math.max(0, Math.min(prevSpot[z], want) - cap);
      preempted[z] = p;
      failed[z] = want - got - p;
      r.preemptions += p;
      prevSpot[z] = got;
      spotHist[slot * Z + z] = got;
      spotCount += got;
    }
    demandHist[slot] = demand;
    prevDemand = demand;
    // readiness: min over the last cold+1 ticks
    let ready = 0;
    if (t >= cold) {
      readyInRegion.fill(0);
      for (let z = 0; z < Z; z++) {
        let m = UNCAPPED_VALUE;
        for (let h = 0; h < H; h++) m = Math.min(m, spotHist[h * Z + z]);
        readySpot[z] = m;
        // A replica serving through its notice still passes health checks (its region's too).
        const serving = m + counters.servingInNotice[z];
        if (routing) readyInRegion[routing.regionOfPool[z]] += serving;
        else ready += serving;
      }
      if (routing) {
        // The global layer sends traffic to a region only once it has passed its health checks for healthyTicks.
        for (let g = 0; g < routing.regions; g++) {
          healthyFor[g] = readyInRegion[g] > 0 ? healthyFor[g] + 1 : 0;
          if (healthyFor[g] > routing.healthyTicks) ready += readyInRegion[g];
        }
      }
      let d = UNCAPPED_VALUE;
      for (let h = 0; h < H; h++) d = Math.min(d, demandHist[h]);
      readyDemand = d;
      ready += d;
      r.countedTicks++;
      r.cost += spotCount + demand * ratio + counters.noticeSpotTicks;
      if (ready >= target) {
        r.availTicks++;
        down = false;
      } else {
        if (!down) r.episodes++;
        down = true;
        r.episodeTicks++;
      }
    }
    counters.noticeSpotTicks = 0;
  }
  r.preemptions += counters.preemptions;
  return r;
}

function makeStrategy(
  policy: SimulatedPolicy,
  o: ResolvedSimulationOptions,
  policyOptions: FallbackPolicyOptions,
  names: string[],
  rng: () => number,
  profile?: DeploymentProfile,
  onControllerRun?: (run: ControllerRunRecord) => void,
): Strategy {
  const N = o.targetReplicas;
  const deployed = (base: number, controller: boolean): Strategy =>
    new DeployedStrategy(
      new DeployedFleet({
        profile: profile!,
        pools: names,
        tickSeconds: o.tickSeconds,
        targetReplicas: N,
        onDemandBase: base,
        maxCapacity: o.maxCapacity,
        controller,
        policyOptions: policyWithHomeRegion(policyOptions, o.homeRegion) ?? policyOptions,
        homeRegion: o.homeRegion,
        ...(o.regionReplicas ? { regionReplicas: o.regionReplicas } : {}),
        controllerPeriodSeconds: o.controllerPeriodSeconds,
        drainBudgetSeconds: o.drainBudgetSeconds,
        epochSeconds: EPOCH,
        rng,
        ...(controller && onControllerRun ? { onControllerRun } : {}),
      }),
      Math.ceil(profile!.globalHealthySeconds / o.tickSeconds),
    );
  switch (policy) {
    case SimulatedPolicy.ON_DEMAND:
      return { step: (v) => (v.spot.fill(0), N) };
    case SimulatedPolicy.SPOT_ONLY:
      return profile ? deployed(0, false) : new SpreadStrategy(N, 0, rng);
    case SimulatedPolicy.EVEN_SPREAD:
      return new EvenSpreadStrategy(N);
    case SimulatedPolicy.STATIC_BASE:
      return profile ? deployed(o.staticOnDemandBase, false) : new SpreadStrategy(N - o.staticOnDemandBase, o.staticOnDemandBase, rng);
    case SimulatedPolicy.SPOTHEDGE:
      return new SpotHedgeStrategy(N, o.spothedgeSpares, o.spothedgeSafetyHold ? Math.round(o.coldStartSeconds / o.tickSeconds) : 0, rng);
    case SimulatedPolicy.OURS:
      return profile ? deployed(o.onDemandBase, true) : new OursStrategy(N, o.onDemandBase, o.maxCapacity, o.tickSeconds, policyOptions, names.map((n) => locatePool(n).id));
    default:
      throw new Error(`unknown policy ${String(policy)}`);
  }
}

/** The as-deployed fleet (lib/plan/deployment.ts) behind the simulator's strategy interface. */
class DeployedStrategy implements Strategy {
  public readonly routing: { readonly regionOfPool: Int32Array; readonly regions: number; readonly healthyTicks: number };
  constructor(private readonly fleet: DeployedFleet, healthyTicks: number) {
    this.routing = { regionOfPool: fleet.poolRegions, regions: fleet.regionCount, healthyTicks };
  }
  step(v: TickView): number {
    return this.fleet.step(v, v.counters);
  }
}

/**
 * SpotHedge's artifact's `NaiveSpread` under `StaticSpotProvision` (its "even spread"): keep the spot plan of
 * the previous tick (after the cloud took what it had no room for) and put each missing replica in the first
 * pool, in the window's pool order, that runs the fewest. A pool without capacity keeps getting the replica
 * back, which is why this baseline's availability is low: it is the artifact's row, reproduced.
 */
class EvenSpreadStrategy implements Strategy {
  constructor(private readonly target: number) {}
  step(v: TickView): number {
    let have = 0;
    for (let z = 0; z < v.zones; z++) have += v.spot[z];
    let toPlace = this.target - have;
    if (toPlace < 0) {
      v.spot.fill(0);
      toPlace = this.target;
    }
    for (let min = 0; toPlace > 0; min++) {
      for (let z = 0; z < v.zones && toPlace > 0; z++) {
        if (v.spot[z] === min) {
          v.spot[z]++;
          toPlace--;
        }
      }
    }
    return 0;
  }
}

/**
 * What an Auto Scaling group / MIG / scale set does on its own: keep `spotCount` spot replicas spread
 * over the zones, relaunch a lost or failed replica in a random zone that did not just fail, and run a
 * fixed on-demand base. No fallback.
 */
class SpreadStrategy implements Strategy {
  constructor(private readonly spotCount: number, private readonly base: number, private readonly rng: () => number) {}
  step(v: TickView): number {
    let have = 0;
    for (let z = 0; z < v.zones; z++) have += v.spot[z];
    const candidates: number[] = [];
    for (let z = 0; z < v.zones; z++) if (v.preempted[z] === 0 && v.failed[z] === 0) candidates.push(z);
    const pool = candidates.length > 0 ? candidates : Array.from({ length: v.zones }, (_, z) => z);
    while (have < this.spotCount) {
      // fewest replicas first, random among ties (zone-balanced like the cloud's groups)
      let min = Infinity;
      for (const z of pool) min = Math.min(min, v.spot[z]);
      const ties = pool.filter((z) => v.spot[z] === min);
      v.spot[ties[randomInt(this.rng, ties.length)]]++;
      have++;
    }
    return this.base;
  }
}

/**
 * SpotHedge as its artifact simulates it: provision N + spare spot replicas, keep the existing ones,
 * place new ones at random in active zones without a replica (else any active zone); a zone that lost a
 * replica moves to the preempted list until the active list runs low; on-demand fallback for the spot
 * replicas not ready at the previous tick (`min(N, N + spare - readySpot)`): `SpotFailoverNoSafety`, the
 * published run. With `hold` > 0 ticks, the fallback is kept that long after the last one (the safety hold of
 * the artifact's `SpotFailover`; its SLO safety net is not modelled).
 */
class SpotHedgeStrategy implements Strategy {
  private active: number[] | undefined;
  private preemptive: number[] = [];
  private last: Int32Array | undefined;
  private lastFallbackT = -1;
  private lastFallbackDemand = -1;
  constructor(private readonly target: number, private readonly spare: number, private readonly hold: number, private readonly rng: () => number) {}
  step(v: TickView): number {
    const Z = v.zones;
    if (!this.active) this.active = Array.from({ length: Z }, (_, z) => z);
    const provision = this.target + this.spare;
    // fallback (SpotFailover without the SLO safety net)
    let readySpot = 0;
    for (let z = 0; z < Z; z++) readySpot += v.readySpot[z];
    let demand = 0;
    if (provision - readySpot > 0) {
      demand = Math.min(this.target, provision - readySpot);
      this.lastFallbackT = v.t;
      this.lastFallbackDemand = demand;
    } else if (this.hold > 0 && v.t - this.lastFallbackT < this.hold) {
      demand = Math.max(demand, this.lastFallbackDemand);
    }
    // zone lists
    if (this.last) {
      for (let z = 0; z < Z; z++) {
        if (this.last[z] > v.prevSpot[z]) this.move(this.active, this.preemptive, z);
        else if (this.last[z] > 0 && this.last[z] === v.prevSpot[z]) this.move(this.preemptive, this.active, z);
      }
    }
    let have = 0;
    for (let z = 0; z < Z; z++) have += v.prevSpot[z];
    let toPlace: number;
    if (provision >= have) {
      toPlace = provision - have;
    } else {
      toPlace = provision;
      v.spot.fill(0);
    }
    if (this.active.length <= Math.min(1, Z - 3)) {
      this.active = Array.from({ length: Z }, (_, z) => z);
      this.preemptive = [];
    }
    for (; toPlace > 0; toPlace--) {
      const empty = this.active.filter((z) => v.spot[z] === 0);
      const from = empty.length > 0 ? empty : this.active;
      if (from.length === 0) break;
      v.spot[from[randomInt(this.rng, from.length)]]++;
    }
    this.last = Int32Array.from(v.spot);
    return demand;
  }
  private move(from: number[], to: number[], z: number): void {
    const i = from.indexOf(z);
    if (i >= 0) {
      from.splice(i, 1);
      to.push(z);
    }
  }
}

/** Our policy: the simulator observes like a controller, calls `decideFallback`, places with `planSpotPlacement`. */
class OursStrategy implements Strategy {
  private state: FallbackState;
  private readonly policy: FallbackPolicy;
  private readonly index: Map<string, number>;
  private readonly observations: { pool: string; ready: number; launching: number; preempted: number; launchFailures: number }[];
  private readonly counts: { pool: string; count: number; launching: number }[];
  constructor(
    private readonly target: number,
    private readonly base: number,
    private readonly max: number,
    private readonly tickSeconds: number,
    options: FallbackPolicyOptions,
    private readonly names: string[],
  ) {
    this.policy = new FallbackPolicy(options);
    this.state = this.policy.initialState();
    this.index = new Map(names.map((n, z) => [n, z]));
    this.observations = names.map((pool) => ({ pool, ready: 0, launching: 0, preempted: 0, launchFailures: 0 }));
    this.counts = names.map((pool) => ({ pool, count: 0, launching: 0 }));
  }
  step(v: TickView): number {
    // The policy keeps nothing of its input, so the observation objects are reused from tick to tick.
    const pools = this.observations;
    const current = this.counts;
    for (let z = 0; z < this.names.length; z++) {
      const o = pools[z];
      o.ready = v.readySpot[z];
      o.launching = v.prevSpot[z] - v.readySpot[z];
      o.preempted = v.preempted[z];
      o.launchFailures = v.failed[z];
      current[z].count = v.prevSpot[z];
      current[z].launching = o.launching;
    }
    const d = this.policy.decide({
        nowSeconds: EPOCH + v.t * this.tickSeconds,
        targetReplicas: this.target,
        onDemandBase: this.base,
        maxCapacity: this.max,
        onDemandReady: v.readyDemand,
        pools,
        state: this.state,
    });
    this.state = d.state;
    const changes = planSpotPlacement(current, d.spotReplicas, d.preferredPools);
    for (const c of changes) {
      const z = this.index.get(c.pool)!;
      v.spot[z] += c.delta;
    }
    return d.onDemandReplicas;
  }
}
