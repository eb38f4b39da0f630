/**
 * The as-deployed model of `spot-plan simulate --deployment aws|gcp|azure`: what the fleets this library
 * renders do on each cloud, tick by tick.
 *
 * - The MAIN group (the user's Auto Scaling group / MIG / scale set; one per region) places its own spot
 *   replicas the way the cloud's allocation does: spread over its zones (fewest first), in a zone the type
 *   with capacity (price-capacity-optimized / BALANCED target shape / capacity-optimized), and a launch that
 *   finds no capacity in one zone moves on to the next zone. Nobody steers it: its desired capacity belongs to
 *   the user's scaling.
 * - A lost replica is billed through the cloud's notice and keeps serving for the part of it the agent serves through
 *   (`serveThroughNotice`, lib/spec/notice.ts: AWS notice - drain budget - safety margin = 70 s with the defaults,
 *   whole ticks only; Azure 15 s, less than a tick; Google Cloud none, its notice is the OS shutting down). It is
 *   replaced when the cloud replaces it (AWS capacity rebalance: at the notice; Google Cloud's MIG: when the VM is
 *   gone, one notice later; Azure: the scale set recreates it when its capacity is set again, i.e. at the
 *   controller's next run). The controller counts it as lost at the notice, as the handlers do (AWS: a warned
 *   instance is not ready).
 * - The CONTROLLER runs at its real period (the schedule the construct sets up) and on the events it really
 *   receives, sees what a controller sees (ready / launching replicas per pool, preemptions and failed launches
 *   since its previous run) and applies `planControllerStep` (lib/policy/controller.ts, the same function the
 *   three handlers call) to the groups it owns: one on-demand fallback group and one spare spot group per
 *   region, the spare group steered to the zones x types the policy does not avoid.
 * - Several regions: one main group per region with its share of the spot target (home region first for the
 *   remainder, or `regionReplicas`: the constructs' per-region desiredCapacity), one controller over all, and the
 *   global layer's health checks: a region's replicas serve only once the region has been healthy for the global
 *   layer's detection time (see {@link DeploymentProfile}).
 */
import { ControllerGroup, ControllerGroupRole, ControllerStep, ControllerStepInput, planControllerStep, poolId } from '../policy/controller';
import { FallbackPolicyOptions, FallbackState, SpotPoolObservation } from '../policy/fallback-policy';
import { Cloud } from '../spec/clouds';
import { noticeServingSeconds } from '../spec/notice';
import { GLOBAL_LAYER_DEFAULTS } from '../spec/global-routing';
import { randomInt, shuffle } from './rng';
import { locatePool } from './pools';

/** Which model replays the traces. */
export enum Deployment {
  /** The idealised model: the policy places every spot replica itself, every tick. */
  IDEALISED = 'idealised',
  /** The fleet `SpotInferenceService` (AWS CDK) renders, as AWS runs it. */
  AWS = 'aws',
  /** The fleet `GcpSpotInferenceService` renders, as Google Cloud runs it. */
  GCP = 'gcp',
  /** The fleet `AzureSpotFleet` renders, as Azure runs it. */
  AZURE = 'azure',
}

/** How a cloud runs a rendered fleet: the numbers the as-deployed model uses, each with where it comes from. */
export interface DeploymentProfile {
  readonly deployment: Deployment;
  /** Seconds between the interruption notice and the loss of the instance. */
  readonly noticeSeconds: number;
  /** The cloud whose agent serves through the notice (lib/spec/notice.ts: how long, with the fleet's drain budget). */
  readonly cloud: Cloud;
  /** Seconds between two scheduled controller runs (the construct's default schedule). */
  readonly controllerPeriodSeconds: number;
  /** The controller also runs at once on a spot interruption notice. */
  readonly runsOnPreemption: boolean;
  /** The controller also runs at once on a failed spot launch. */
  readonly runsOnLaunchFailure: boolean;
  /** Seconds after the notice at which the group launches a replacement; -1 = only when the controller runs. */
  readonly replaceAfterSeconds: number;
  /** Seconds a region must pass the global layer's health checks before it gets traffic (interval x threshold). */
  readonly globalHealthySeconds: number;
  /**
   * The group moves replicas back to under-filled zones by itself (launch in the zone with the fewest first,
   * terminate one in the zone with the most once the new one is ready).
   */
  readonly rebalancesZones: boolean;
  /** The controller steers the spare group's instance types too (not only its zones). */
  readonly steersSpareTypes: boolean;
  /**
   * Seconds a group waits before it retries a launch that found no capacity; doubles after each failed retry up to
   * {@link maxLaunchRetrySeconds}, and starts over once the group is whole, or when its desired capacity or zones
   * change (a new scaling activity). 0 = the group retries at every tick.
   */
  readonly launchRetrySeconds: number;
  /** Longest wait between two failed launch retries of a group. */
  readonly maxLaunchRetrySeconds: number;
  /**
   * How the controller's groups and observations are laid out, as the cloud's handler builds them: `regional` (one
   * steerable spare group per region, pools listed type x zone of the main group; AWS) or `zonal` (Google
   * Cloud and Azure: one spare group per zone, sized only; the on-demand group holds the base; pools listed as
   * the VMs are, then the spare zones).
   */
  readonly layout: 'regional' | 'zonal';
  /** In words, for the output. */
  readonly description: string;
}

/** The three clouds' profiles. */
export const DEPLOYMENT_PROFILES: { readonly [cloud: string]: DeploymentProfile } = {
  [Deployment.AWS]: {
    deployment: Deployment.AWS,
    cloud: Cloud.AWS,
    // EC2 spot interruption notice: two minutes.
    noticeSeconds: 120,
    // constructs/aws/on-demand-fallback.ts: controlInterval @default Duration.minutes(1) (an EventBridge rate),
    // plus rules on `EC2 Spot Instance Interruption Warning` and `EC2 Instance Launch Unsuccessful`.
    controllerPeriodSeconds: 60,
    runsOnPreemption: true,
    runsOnLaunchFailure: true,
    // constructs/aws/spot-fleet.ts: capacityRebalance @default true: the group launches the replacement at the
    // notice (or the earlier rebalance recommendation) instead of after the termination.
    replaceAfterSeconds: 0,
    // Global Accelerator, as MultiRegionSpotInferenceService renders it (lib/spec/global-routing.ts, the same data the
    // construct reads): traffic returns about 30 s after the region's target groups are healthy again.
    globalHealthySeconds: GLOBAL_LAYER_DEFAULTS[Cloud.AWS].recoverySeconds,
    // EC2 Auto Scaling's AZRebalance process (on by default): when zones are uneven by more than one instance and
    // the emptier zone has capacity, it launches there first and then terminates in the fullest zone.
    rebalancesZones: true,
    // constructs/aws/on-demand-fallback.ts: steerInstanceTypes @default false (zones only).
    steersSpareTypes: false,
    // EC2 Auto Scaling does not retry a failed launch at once: it backs off between attempts ("it is expected that
    // the frequency of launch attempts will be reduced", Eucalyptus, the AWS-compatible implementation, issue 23,
    // whose own activity log shows 10 s, 20 s, 30 s gaps; AWS's activity history of a group out of spot capacity
    // shows failed launches minutes apart). AWS does not publish the schedule: modelled as 30 s doubling to 300 s,
    // each attempt one `EC2 Instance Launch Unsuccessful` event (what the controller counts as a launch failure).
    launchRetrySeconds: 30,
    maxLaunchRetrySeconds: 300,
    layout: 'regional',
    description: `AWS: Auto Scaling group price-capacity-optimized over its zones, capacity rebalance, 2-min notice, failed launches retried with backoff (30 s doubling to 300 s); controller every 60 s + on spot warnings and failed launches; Global Accelerator between regions (traffic back ${GLOBAL_LAYER_DEFAULTS[Cloud.AWS].recoverySeconds} s after a region recovers)`,
  },
  [Deployment.GCP]: {
    deployment: Deployment.GCP,
    cloud: Cloud.GCP,
    // Compute Engine spot preemption: 30 s (ACPI soft-off).
    noticeSeconds: 30,
    // constructs/gcp/on-demand-fallback.ts: schedule @default '* * * * *' (Cloud Scheduler), plus the preemption
    // hook's topic (GcpSpotInferenceService wires it). Failed creations are seen at the next run.
    controllerPeriodSeconds: 60,
    runsOnPreemption: true,
    runsOnLaunchFailure: false,
    // constructs/gcp/spot-fleet.ts: terminationAction @default DELETE: the MIG recreates the VM once it is gone,
    // where its BALANCED target shape finds capacity (instanceRedistributionType NONE: no proactive moves).
    replaceAfterSeconds: 30,
    // The global external Application Load Balancer routes on the backends' own health checks (part of
    // readiness here): no region-level delay on top (lib/spec/global-routing.ts).
    globalHealthySeconds: GLOBAL_LAYER_DEFAULTS[Cloud.GCP].recoverySeconds,
    // constructs/gcp/spot-fleet.ts: updatePolicy instanceRedistributionType 'NONE': the MIG never moves VMs.
    rebalancesZones: false,
    steersSpareTypes: false,
    // The MIG keeps trying to create the VMs it is short of; the controller sees failed creations only at its runs
    // (runsOnLaunchFailure false), and counts a VM whose creation keeps failing once (its `lastAttempt` errors,
    // remembered in `seenFailures`), so retries every tick change nothing it observes.
    launchRetrySeconds: 0,
    maxLaunchRetrySeconds: 0,
    // lib/handlers/gcp/fallback.ts: spare groups are zonal MIGs (one per zone), resized only.
    layout: 'zonal',
    description: 'Google Cloud: regional MIG, BALANCED target shape, recreate after the 30 s notice; controller every 60 s + on preemptions; global Application Load Balancer between regions',
  },
  [Deployment.AZURE]: {
    deployment: Deployment.AZURE,
    cloud: Cloud.AZURE,
    // Azure Scheduled Events `Preempt`: at least 30 s.
    noticeSeconds: 30,
    // constructs/azure/on-demand-fallback.ts: schedule @default '0 * * * * *' (a timer), plus its queue trigger
    // (evictionTrigger @default true): each VM's agent posts its Preempt notice there (lib/runtime/azure-controller-queue.ts).
    controllerPeriodSeconds: 60,
    runsOnPreemption: true,
    runsOnLaunchFailure: false,
    // constructs/azure/scale-set.ts: evictionPolicy @default DELETE and no Spot-Try-Restore: an evicted VM is
    // deleted and the scale set launches again when its capacity is set, i.e. at the controller's next run.
    replaceAfterSeconds: -1,
    // Front Door, as AzureMultiRegionSpotInferenceService renders it (lib/spec/global-routing.ts): probes every 5 s,
    // 3 of the last 4 must pass before a recovered region gets traffic again (about 15 s).
    globalHealthySeconds: GLOBAL_LAYER_DEFAULTS[Cloud.AZURE].recoverySeconds,
    // Flexible orchestration without zone balance: replicas stay where they landed.
    rebalancesZones: false,
    steersSpareTypes: false,
    // The scale set launches only when its capacity is set (at controller runs): no retries of its own.
    launchRetrySeconds: 0,
    maxLaunchRetrySeconds: 0,
    // lib/handlers/azure/fallback.ts: spare Spot scale sets, one per zone, whose capacity only the controller sets;
    // the main scale set's Regular count holds the base and the fallback.
    layout: 'zonal',
    description: `Azure: Flexible scale set over its zones, eviction = delete, recreated when the controller sets the capacity; controller every 60 s (timer) + on the agents' Preempt notices (queue); Front Door between regions (traffic back ${GLOBAL_LAYER_DEFAULTS[Cloud.AZURE].recoverySeconds} s after a region recovers)`,
  },
};

/** The simulator's view of one tick, as the deployed model needs it. */
export interface DeployedTickView {
  readonly t: number;
  /** Ready spot replicas per pool at the previous tick. */
  readonly readySpot: Int32Array;
  /** Ready on-demand replicas at the previous tick. */
  readonly readyDemand: number;
  /** Capacity of each pool at this tick (what the cloud's launches find; the controller never sees it). */
  readonly capNow: Int32Array;
  /** Write the spot replicas of this tick here (within capNow). */
  readonly spot: Int32Array;
}

/** Counters the deployed model adds to the window's totals. */
export interface DeployedCounters {
  /** Spot replica-ticks billed during notices. */
  noticeSpotTicks: number;
  /** Per pool, the replicas serving through their notice at this tick (ready, though the controller counts them lost). */
  readonly servingInNotice: Int32Array;
  preemptions: number;
  controllerRuns: number;
}

/** Setup of one deployed fleet. */
export interface DeployedFleetSetup {
  readonly profile: DeploymentProfile;
  /** Pool names (trace names), in the simulator's order. */
  readonly pools: readonly string[];
  readonly tickSeconds: number;
  readonly targetReplicas: number;
  readonly onDemandBase: number;
  readonly maxCapacity: number;
  /** Run the controller (ours) or not (the cloud's group alone: spot-only, static-base). */
  readonly controller: boolean;
  readonly policyOptions?: FallbackPolicyOptions;
  /** Region that takes the remainder of the spot share first. @default - the first region of the pools */
  readonly homeRegion?: string;
  /**
   * Replicas of each region's main group (its desired capacity, the home region's on-demand base included), as the
   * multi-region constructs' per-region `desiredCapacity` sets them; they sum to the target (simulate checks).
   * @default - the target spread evenly, the home region first for the remainder
   */
  readonly regionReplicas?: Readonly<Record<string, number>>;
  /** Seconds between scheduled controller runs. @default - the profile's */
  readonly controllerPeriodSeconds?: number;
  /** The fleet's drain budget, seconds (how long a notified replica serves: lib/spec/notice.ts). @default - the cloud's default */
  readonly drainBudgetSeconds?: number;
  /** Epoch seconds of tick 0. */
  readonly epochSeconds: number;
  readonly rng: () => number;
  /** Called after each controller run (tests). */
  readonly onControllerRun?: (run: ControllerRunRecord) => void;
}

interface Region {
  name: string;
  pools: number[];
  /** zone -> pool indexes */
  zones: Map<string, number[]>;
  zoneOrder: string[];
  types: string[];
  mainTarget: number;
  /** On-demand base of the region's main group (the home region holds the fleet's). */
  base: number;
  fallback: number;
  spareDesired: number;
  spareZones: string[];
  spareTypes: string[];
  /** Pool of the main group's rebalancing launch in flight (-1: none). */
  rebalancing: number;
  /** Zonal layout: desired size of each zone's spare group. */
  zoneSpare: Map<string, number>;
}

/**
 * One deployed fleet over one window. `step` is called once per tick, before the simulator applies the
 * capacities; it keeps every pool within `capNow` itself, so what it reports as preempted is what the cloud
 * took back.
 */
export class DeployedFleet {
  private readonly main: Int32Array;
  private readonly spare: Int32Array;
  private readonly preemptedSince: Int32Array;
  private readonly failedSince: Int32Array;
  /** The spare groups' part of `preemptedSince` / `failedSince` (a handler lists each VM in its own group). */
  private readonly sparePreemptedSince: Int32Array;
  private readonly spareFailedSince: Int32Array;
  /**
   * Zonal layout (Google Cloud, Azure): per pool, the VMs of the main group (of the zone's spare group) whose creation
   * is failing there now, each as the tick it first failed. The handlers list such a VM with its error at every run
   * until it is created or no longer wanted, and count it once (GCP: a managed instance's `lastAttempt` errors, keyed
   * `<instance>|<code>` in `seenFailures`; Azure: a Spot VM in provisioning state Failed, keyed `<vm>|<code>`), so the
   * group's retries of the same VM are one failed launch, not one per retry or per run.
   */
  private readonly mainFailing: number[][];
  private readonly spareFailing: number[][];
  /** Zonal layout: failed launches counted since the previous run whose VM no longer fails (its part in the spare groups). */
  private readonly clearedSince: Int32Array;
  private readonly spareClearedSince: Int32Array;
  /** Zonal layout: pools a launch found full in the fill under way. */
  private readonly tried: Int32Array;
  private readonly regions: Region[];
  private readonly regionOfPool: Int32Array;
  private readonly ids: string[];
  private readonly poolType: string[];
  private readonly poolZone: string[];
  private readonly periodTicks: number;
  private readonly noticeTicks: number;
  private readonly replaceTicks: number;
  /** Replacements waiting for the group: [due tick, region, group 0 main / 1 spare]. */
  private pending: [number, number, number][] = [];
  private state: FallbackState | undefined;
  /** Replicas serving through their notice: [last tick they serve, pool, count]. */
  private serving: [number, number, number][] = [];
  /** Whole ticks a notified ready replica keeps serving. */
  private readonly servingTicks: number;
  private lastRun = -Infinity;
  /** Launch backoff per group (`<region>/main`, `<region>/spare`, `<region>/<zone>/spare`): next try, delay, settings. */
  private readonly retry = new Map<string, { next: number; delay: number; sig: string }>();
  private readonly retryTicks: number;
  private readonly maxRetryTicks: number;

  constructor(private readonly s: DeployedFleetSetup) {
    const Z = s.pools.length;
    this.main = new Int32Array(Z);
    this.spare = new Int32Array(Z);
    this.preemptedSince = new Int32Array(Z);
    this.failedSince = new Int32Array(Z);
    this.sparePreemptedSince = new Int32Array(Z);
    this.spareFailedSince = new Int32Array(Z);
    this.mainFailing = Array.from({ length: Z }, () => []);
    this.spareFailing = Array.from({ length: Z }, () => []);
    this.clearedSince = new Int32Array(Z);
    this.spareClearedSince = new Int32Array(Z);
    this.tried = new Int32Array(Z);
    this.regionOfPool = new Int32Array(Z);
    const locs = s.pools.map((p) => locatePool(p));
    this.ids = locs.map((l) => poolId(l.region, l.zone, l.instanceType));
    this.poolType = locs.map((l) => l.instanceType);
    this.poolZone = locs.map((l) => l.zone);
    const byName = new Map<string, Region>();
    this.regions = [];
    locs.forEach((l, z) => {
      let r = byName.get(l.region);
      if (!r) {
        r = { name: l.region, pools: [], zones: new Map(), zoneOrder: [], types: [], mainTarget: 0, base: 0, fallback: 0, spareDesired: 0, spareZones: [], spareTypes: [], rebalancing: -1, zoneSpare: new Map() };
        byName.set(l.region, r);
        this.regions.push(r);
      }
      r.pools.push(z);
      if (!r.zones.has(l.zone)) {
        r.zones.set(l.zone, []);
        r.zoneOrder.push(l.zone);
      }
      r.zones.get(l.zone)!.push(z);
      if (!r.types.includes(l.instanceType)) r.types.push(l.instanceType);
      this.regionOfPool[z] = this.regions.indexOf(r);
    });
    // The group's zone order (its subnets) ties are broken in an order of its own.
    for (const r of this.regions) {
      shuffle(s.rng, r.zoneOrder);
      r.spareZones = [...r.zoneOrder];
      r.spareTypes = [...r.types];
    }
    const home = s.homeRegion && byName.has(s.homeRegion) ? s.homeRegion : this.regions[0].name;
    const ordered = [byName.get(home)!, ...this.regions.filter((r) => r.name !== home)];
    const share = Math.max(0, s.targetReplicas - s.onDemandBase);
    if (s.regionReplicas) {
      for (const r of this.regions) r.mainTarget = s.regionReplicas[r.name] ?? 0;
      ordered[0].mainTarget = Math.max(0, ordered[0].mainTarget - s.onDemandBase);
    } else {
      for (let i = 0; i < share; i++) ordered[i % ordered.length].mainTarget++;
    }
    ordered[0].base = s.onDemandBase;
    this.periodTicks = Math.max(1, Math.round((s.controllerPeriodSeconds ?? s.profile.controllerPeriodSeconds) / s.tickSeconds));
    this.noticeTicks = Math.ceil(s.profile.noticeSeconds / s.tickSeconds);
    const serving = noticeServingSeconds({ cloud: s.profile.cloud, noticeSeconds: s.profile.noticeSeconds, drainBudgetSeconds: s.drainBudgetSeconds });
    this.servingTicks = Math.min(this.noticeTicks, Math.floor(serving / s.tickSeconds));
    this.replaceTicks = s.profile.replaceAfterSeconds < 0 ? -1 : Math.ceil(s.profile.replaceAfterSeconds / s.tickSeconds);
    this.retryTicks = s.profile.launchRetrySeconds > 0 ? Math.max(1, Math.round(s.profile.launchRetrySeconds / s.tickSeconds)) : 0;
    this.maxRetryTicks = Math.max(this.retryTicks, Math.round(s.profile.maxLaunchRetrySeconds / s.tickSeconds));
  }

  /** Region index of each pool (for the global layer's routing). */
  public get poolRegions(): Int32Array {
    return this.regionOfPool;
  }

  /** Number of regions. */
  public get regionCount(): number {
    return this.regions.length;
  }

  /** One tick; returns the on-demand replicas that run. */
  public step(v: DeployedTickView, c: DeployedCounters): number {
    const Z = this.main.length;
    let event = false;
    // 1. The cloud takes capacity back: spot above a pool's capacity is lost (the main group's first).
    for (let z = 0; z < Z; z++) {
      let over = this.main[z] + this.spare[z] - v.capNow[z];
      if (over <= 0) continue;
      c.preemptions += over;
      c.noticeSpotTicks += over * this.noticeTicks;
      // The ready ones among them serve on until the agent starts their drain (the tick of the notice included).
      const serving = Math.min(over, v.readySpot[z]);
      if (this.servingTicks > 0 && serving > 0) this.serving.push([v.t + this.servingTicks - 1, z, serving]);
      this.preemptedSince[z] += over;
      if (this.s.profile.runsOnPreemption) event = true;
      const r = this.regionOfPool[z];
      const fromMain = Math.min(over, this.main[z]);
      this.main[z] -= fromMain;
      over -= fromMain;
      this.spare[z] -= over;
      this.sparePreemptedSince[z] += over;
      for (let i = 0; i < fromMain; i++) if (this.replaceTicks >= 0) this.pending.push([v.t + this.replaceTicks, r, 0]);
      for (let i = 0; i < over; i++) if (this.replaceTicks >= 0) this.pending.push([v.t + this.replaceTicks, r, 1]);
    }
    // 2. The groups launch what they are short of, where the cloud's allocation finds capacity.
    const due = new Set<number>();
    if (this.pending.length > 0) {
      const keep: [number, number, number][] = [];
      for (const p of this.pending) (p[0] <= v.t ? due.add(p[1] * 2 + p[2]) : keep.push(p));
      this.pending = keep;
    }
    const controllerRuns = this.s.controller && v.t % this.periodTicks === 0;
    for (let ri = 0; ri < this.regions.length; ri++) {
      const r = this.regions[ri];
      // A group retries what it is short of every tick, once it has started replacing (and always on AWS and
      // Google Cloud; Azure only when its capacity is set again, at a controller run).
      // A group that found no capacity waits out its launch backoff (AWS), unless a new scaling activity starts it
      // (a replacement at the notice, a new desired capacity or new zones).
      // Azure launches what a run asks for when the run sets the capacity. Runs come after the launches of their tick, so
      // a spare set by a run is launched at the next tick. The main scale set recreates an evicted VM only at a run after
      // the VM is gone (a run on the eviction's notice finds it still there, at the capacity): at a scheduled run.
      const setByRun = this.lastRun === v.t - 1;
      const mainMay = this.replaceTicks >= 0 ? !this.isWaiting(ri, 0, v.t) : controllerRuns || v.t === 0 || !this.s.controller;
      const mainKey = `${ri}/main`;
      const mainSig = `${r.mainTarget}`;
      if (due.has(ri * 2)) this.retry.delete(mainKey);
      const zonal = this.s.profile.layout === 'zonal';
      let mainFilled = false;
      if ((mainMay && this.mayRetry(mainKey, v.t, mainSig)) || due.has(ri * 2)) {
        if (zonal) for (const z of r.pools) this.tried[z] = 0;
        if (this.fill(v, r, this.main, r.mainTarget, r.zoneOrder, r.types, undefined, zonal)) event ||= this.s.profile.runsOnLaunchFailure;
        this.backoff(mainKey, v.t, mainSig, this.count(r, this.main) < r.mainTarget);
        mainFilled = true;
      }
      if (zonal) this.settleFailing(v.t, r.pools, this.mainFailing, r.mainTarget - this.count(r, this.main), mainFilled, false);
      const spareMay = this.replaceTicks >= 0 ? !this.isWaiting(ri, 1, v.t) : controllerRuns || setByRun;
      if (zonal) {
        for (const zone of r.zoneOrder) {
          const want = r.zoneSpare.get(zone) ?? 0;
          const key = `${ri}/${zone}/spare`;
          const own = r.zones.get(zone)!.filter((z) => this.poolType[z] === r.types[0]);
          let filled = false;
          if (due.has(ri * 2 + 1)) this.retry.delete(key);
          if ((spareMay && this.mayRetry(key, v.t, `${want}`)) || due.has(ri * 2 + 1)) {
            for (const z of own) this.tried[z] = 0;
            if (this.fill(v, r, this.spare, want, [zone], [r.types[0]], [zone], true)) event ||= this.s.profile.runsOnLaunchFailure;
            this.backoff(key, v.t, `${want}`, this.count(r, this.spare, [zone]) < want);
            filled = true;
          }
          this.trim(r, this.spare, want, [zone], v.readySpot, [zone]);
          this.settleFailing(v.t, own, this.spareFailing, want - this.count(r, this.spare, [zone]), filled, true);
        }
      } else {
        const key = `${ri}/spare`;
        const sig = `${r.spareDesired}|${r.spareZones.join(',')}|${r.spareTypes.join(',')}`;
        if (due.has(ri * 2 + 1)) this.retry.delete(key);
        if ((spareMay && this.mayRetry(key, v.t, sig)) || due.has(ri * 2 + 1)) {
          if (this.fill(v, r, this.spare, r.spareDesired, r.spareZones, r.spareTypes)) event ||= this.s.profile.runsOnLaunchFailure;
          this.backoff(key, v.t, sig, this.count(r, this.spare) < r.spareDesired);
        }
        this.trim(r, this.spare, r.spareDesired, r.spareZones, v.readySpot);
      }
      if (this.s.profile.rebalancesZones) this.rebalance(v, r);
    }
    // 3. The controller, at its period and on the events it receives.
    if (this.s.controller && (controllerRuns || (event && v.t > this.lastRun))) this.runController(v, c);
    for (let z = 0; z < Z; z++) v.spot[z] = this.main[z] + this.spare[z];
    this.countServing(v.t, c.servingInNotice);
    let fallback = 0;
    for (const r of this.regions) fallback += r.fallback;
    return this.s.onDemandBase + fallback;
  }

  /** Replicas serving through their notice at tick t, per pool, into `out`. */
  private countServing(t: number, out: Int32Array): void {
    out.fill(0);
    if (this.serving.length === 0) return;
    this.serving = this.serving.filter((x) => x[0] >= t);
    for (const [, z, n] of this.serving) out[z] += n;
  }

  /**
   * The group's own zone rebalancing (AWS AZRebalance): with every replica in place and zones uneven by more than
   * one, launch one in the emptiest zone that has capacity (the group runs one above its desired meanwhile) and,
   * once it is ready, terminate one in the fullest zone.
   */
  private rebalance(v: DeployedTickView, r: Region): void {
    let have = 0;
    for (const z of r.pools) have += this.main[z];
    const target = r.mainTarget;
    if (r.rebalancing >= 0) {
      if (have <= target) {
        r.rebalancing = -1; // a replica was lost meanwhile: the group is no longer above its desired
      } else if (v.readySpot[r.rebalancing] >= this.main[r.rebalancing] + this.spare[r.rebalancing]) {
        let from = -1;
        let most = -1;
        for (const zone of r.zoneOrder) {
          let n = 0;
          for (const z of r.zones.get(zone)!) n += this.main[z];
          const pick = r.zones.get(zone)!.find((z) => this.main[z] > 0);
          if (n > most && pick !== undefined && zone !== this.poolZone[r.rebalancing]) {
            most = n;
            from = pick;
          }
        }
        if (from >= 0) this.main[from]--;
        r.rebalancing = -1;
      }
      return;
    }
    if (have !== target || target < 2) return;
    let min = Infinity;
    let max = -Infinity;
    const per = new Map<string, number>();
    for (const zone of r.zoneOrder) {
      let n = 0;
      for (const z of r.zones.get(zone)!) n += this.main[z];
      per.set(zone, n);
      min = Math.min(min, n);
      max = Math.max(max, n);
    }
    if (max - min <= 1) return;
    for (const zone of r.zoneOrder) {
      if (per.get(zone) !== min) continue;
      const room = r.zones.get(zone)!.filter((z) => this.main[z] + this.spare[z] < v.capNow[z]);
      if (room.length === 0) continue;
      this.main[room[0]]++;
      r.rebalancing = room[0];
      return;
    }
  }

  /** Replicas of a group in a region (within some zones). */
  private count(r: Region, group: Int32Array, within?: readonly string[]): number {
    let n = 0;
    for (const z of r.pools) if (!within || within.includes(this.poolZone[z])) n += group[z];
    return n;
  }

  /** Whether a group may launch now: no backoff, its backoff is over, or its settings changed since (`sig`). */
  private mayRetry(key: string, t: number, sig: string): boolean {
    const b = this.retry.get(key);
    if (!b) return true;
    if (b.sig !== sig) {
      this.retry.delete(key);
      return true;
    }
    return t >= b.next;
  }

  /** After a launch attempt: a group still short waits (doubling while it keeps failing); a whole one starts over. */
  private backoff(key: string, t: number, sig: string, short: boolean): void {
    if (this.retryTicks === 0) return;
    if (!short) {
      this.retry.delete(key);
      return;
    }
    const b = this.retry.get(key);
    const delay = b && b.sig === sig ? Math.min(this.maxRetryTicks, b.delay * 2) : this.retryTicks;
    this.retry.set(key, { next: t + delay, delay, sig });
  }

  private isWaiting(region: number, group: number, t: number): boolean {
    for (const p of this.pending) if (p[1] === region && p[2] === group && p[0] > t) return true;
    return false;
  }

  /**
   * Launch until `group` holds `desired` in the region: each launch goes to the zone of the group's zones with
   * the fewest of its replicas (ties in the group's own order), there to a type with capacity; a zone without
   * capacity for any type is a failed launch (counted against its pools; in the zonal layout only marked in
   * `tried`, {@link settleFailing} counts the group's failing VMs) and the launch moves on.
   * Returns whether a launch failed.
   */
  private fill(v: DeployedTickView, r: Region, group: Int32Array, desired: number, zones: readonly string[], types: readonly string[], within?: readonly string[], zonal = false): boolean {
    let have = 0;
    for (const z of r.pools) if (!within || within.includes(this.poolZone[z])) have += group[z];
    let failedAny = false;
    const full = new Set<string>();
    while (have < desired && full.size < zones.length) {
      let best: string | undefined;
      let bestCount = Infinity;
      for (const zone of zones) {
        if (full.has(zone)) continue;
        let n = 0;
        for (const z of r.zones.get(zone) ?? []) n += group[z];
        if (n < bestCount) {
          best = zone;
          bestCount = n;
        }
      }
      if (best === undefined) break;
      const candidates = (r.zones.get(best) ?? []).filter((z) => types.includes(this.poolType[z]));
      const room = candidates.filter((z) => this.main[z] + this.spare[z] < v.capNow[z]);
      if (room.length === 0) {
        full.add(best);
        failedAny = true;
        if (zonal) {
          for (const z of candidates) this.tried[z] = 1;
          continue;
        }
        for (const z of candidates) this.failedSince[z]++;
        if (group === this.spare) for (const z of candidates) this.spareFailedSince[z]++;
        continue;
      }
      // capacity-optimized within the zone: the type with the most room, ties at random
      let most = -1;
      for (const z of room) most = Math.max(most, v.capNow[z] - this.main[z] - this.spare[z]);
      const top = room.filter((z) => v.capNow[z] - this.main[z] - this.spare[z] === most);
      group[top[randomInt(this.s.rng, top.length)]]++;
      have++;
    }
    return failedAny;
  }

  /**
   * Zonal layout: the failing VMs of one group in its pools after this tick's launches, and the failed launches the
   * handler counts. A group still `short` after a fill has tried every one of its pools and found them full: each of
   * its unlaunched VMs fails there (the VMs it retries are the ones already failing: counted once, when they first
   * fail; one more unlaunched VM, e.g. a replacement that cannot be created after a preemption, is one more failed
   * launch). A fill that found a pool full and then placed the VM elsewhere is one failed launch that no longer fails.
   * Without a fill this tick the group's failing VMs only go (resized down, or created). Failures counted since the
   * previous run whose VM is gone before the next run are kept in `clearedSince` (a handler meets them in no listing
   * at a run; the equivalence test lists each once).
   */
  private settleFailing(t: number, pools: readonly number[], failing: number[][], short: number, filled: boolean, spare: boolean): void {
    const unlaunched = Math.max(0, short);
    for (const z of pools) {
      const list = failing[z];
      let count = 0;
      let cleared = 0;
      let target = Math.min(list.length, unlaunched);
      if (filled && this.tried[z] === 1) {
        if (unlaunched > 0) target = unlaunched;
        else if (list.length === 0) {
          // found full, created elsewhere: failed once
          count++;
          cleared++;
        }
      }
      while (list.length > target) if (list.pop()! > this.lastRun) cleared++;
      while (list.length < target) {
        list.push(t);
        count++;
      }
      if (count > 0) {
        this.failedSince[z] += count;
        if (spare) this.spareFailedSince[z] += count;
      }
      if (cleared > 0) {
        this.clearedSince[z] += cleared;
        if (spare) this.spareClearedSince[z] += cleared;
      }
    }
  }

  /** Scale a group in to `desired`: replicas outside its zones first, then launching ones, then the most crowded zone. */
  private trim(r: Region, group: Int32Array, desired: number, zones: readonly string[], ready: Int32Array, within?: readonly string[]): void {
    let have = 0;
    for (const z of r.pools) if (!within || within.includes(this.poolZone[z])) have += group[z];
    while (have > desired) {
      let victim = -1;
      let score = -Infinity;
      for (const z of r.pools) {
        if (group[z] === 0 || (within && !within.includes(this.poolZone[z]))) continue;
        const outside = zones.includes(this.poolZone[z]) ? 0 : 1;
        const launching = group[z] > ready[z] ? 1 : 0;
        const sc = outside * 1000 + launching * 100 + group[z];
        if (sc > score) {
          score = sc;
          victim = z;
        }
      }
      if (victim < 0) break;
      group[victim]--;
      have--;
    }
  }

  /**
   * What the controller observes now, as {@link planControllerStep}'s input: per region, the pools in the order a
   * handler lists them (each type of the fleet in each zone of the main group), ready = running replicas that are
   * ready (the main group's counted first), preemptions and failed launches since the previous run; the region's
   * target is its main group's desired capacity (the home region's includes the on-demand base).
   */
  public controllerInput(t: number, readySpot: Int32Array, readyDemand: number): ControllerStepInput {
    if (this.s.profile.layout === 'zonal') return this.zonalControllerInput(t, readySpot, readyDemand);
    const pools: SpotPoolObservation[] = [];
    let mainInService = 0;
    for (const r of this.regions) {
      for (const type of r.types) {
        for (const zone of r.zoneOrder) {
          for (const z of r.zones.get(zone)!) {
            if (this.poolType[z] !== type) continue;
            const running = this.main[z] + this.spare[z];
            const ready = Math.min(running, readySpot[z]);
            mainInService += Math.min(this.main[z], ready);
            pools.push({ pool: this.ids[z], ready, launching: running - ready, preempted: this.preemptedSince[z], launchFailures: this.failedSince[z] });
          }
        }
      }
    }
    const groups: ControllerGroup[] = [];
    for (const r of this.regions) {
      groups.push({ id: `${r.name}/fallback`, region: r.name, role: ControllerGroupRole.ON_DEMAND, desired: r.fallback, maxSize: this.s.maxCapacity, zones: [...r.zoneOrder], types: [...r.types] });
      groups.push({
        id: `${r.name}/spare`,
        region: r.name,
        role: ControllerGroupRole.SPARE_SPOT,
        desired: r.spareDesired,
        maxSize: this.s.maxCapacity,
        zones: [...r.spareZones],
        types: [...r.spareTypes],
        allowedZones: [...r.zoneOrder],
        ...(this.s.profile.steersSpareTypes ? { allowedTypes: [...r.types] } : {}),
      });
    }
    return {
      observed: {
        nowSeconds: this.s.epochSeconds + t * this.s.tickSeconds,
        targetReplicas: this.s.targetReplicas,
        onDemandBase: this.s.onDemandBase,
        maxCapacity: this.s.maxCapacity,
        onDemandReady: readyDemand,
        pools,
        regions: this.regions.map((r) => ({ region: r.name, targetReplicas: r.mainTarget + r.base, onDemandBase: r.base })),
        mainSpotInService: mainInService,
      },
      ...(this.state ? { state: this.state } : {}),
      ...(this.s.policyOptions ? { options: this.s.policyOptions } : {}),
      groups,
    };
  }

  /**
   * The Google Cloud and Azure handlers' view (lib/handlers/gcp/fallback.ts, lib/handlers/azure/fallback.ts): pools in
   * the order the handler first meets them in what it lists; the standard MIG / the Regular count holds the base
   * (`baseReplicas`); one spare group per zone, sized only; the main groups' spot in service = their ready VMs (the
   * spare groups' not counted). A failed launch is a VM
   * listed in the group that launched it (a managed instance with `lastAttempt` errors; a Spot VM in provisioning
   * state Failed), so its pool is met where that group's VMs are.
   * - Google Cloud, per region: the spot MIG's VMs, then the spare MIGs' (zone by zone), then each spare MIG's zone;
   *   after every region, the pools of preempted VMs no longer listed (placed from the previous listing).
   * - Azure: every region's main scale set (its VMs, then the Spot VMs gone since the previous run: evicted), then
   *   every region's spare scale sets, each with its VMs, its evicted VMs and then its zone's pool.
   */
  private zonalControllerInput(t: number, readySpot: Int32Array, readyDemand: number): ControllerStepInput {
    const pools: SpotPoolObservation[] = [];
    const listed = new Set<number>();
    const observe = (z: number): void => {
      if (listed.has(z)) return;
      listed.add(z);
      const running = this.main[z] + this.spare[z];
      const ready = Math.min(running, readySpot[z]);
      pools.push({ pool: this.ids[z], ready, launching: running - ready, preempted: this.preemptedSince[z], launchFailures: this.failedSince[z] });
      // The handlers count the main groups' ready VMs apart (the test lists a pool's main VMs ready first).
      mainReady += Math.min(this.main[z], ready);
    };
    const groups: ControllerGroup[] = [];
    let mainReady = 0;
    const azure = this.s.profile.deployment === Deployment.AZURE;
    const spareZonePool = (r: Region, zone: string): number | undefined => r.zones.get(zone)!.find((x) => this.poolType[x] === r.types[0]);
    // A VM whose creation fails is listed in its group until it is created (and, as the test lists them, one that failed
    // since the previous run and no longer fails).
    const mainListed = (z: number): boolean => this.main[z] > 0 || this.mainFailing[z].length > 0 || this.failedSince[z] > this.spareFailedSince[z];
    const spareListed = (z: number): boolean => this.spare[z] > 0 || this.spareFailing[z].length > 0 || this.spareFailedSince[z] > 0;
    if (azure) {
      for (const r of this.regions) {
        for (const z of r.pools) if (mainListed(z)) observe(z);
        for (const z of r.pools) if (this.preemptedSince[z] > this.sparePreemptedSince[z]) observe(z);
      }
      for (const r of this.regions) {
        for (const zone of r.zoneOrder) {
          for (const z of r.zones.get(zone)!) if (spareListed(z)) observe(z);
          for (const z of r.zones.get(zone)!) if (this.sparePreemptedSince[z] > 0) observe(z);
          const z = spareZonePool(r, zone);
          if (z !== undefined) observe(z);
        }
      }
    } else {
      for (const r of this.regions) {
        for (const z of r.pools) if (mainListed(z)) observe(z);
        for (const zone of r.zoneOrder) for (const z of r.zones.get(zone)!) if (spareListed(z)) observe(z);
        for (const zone of r.zoneOrder) {
          const z = spareZonePool(r, zone);
          if (z !== undefined) observe(z);
        }
      }
      for (const r of this.regions) for (const z of r.pools) if (this.preemptedSince[z] > 0) observe(z);
    }
    // Google Cloud: each region's standard MIG, then its spare MIGs; Azure: every main scale set, then every spare one.
    const onDemand = (r: Region): ControllerGroup => ({ id: `${r.name}/on-demand`, region: r.name, role: ControllerGroupRole.ON_DEMAND, desired: r.base + r.fallback, maxSize: this.s.maxCapacity, baseReplicas: r.base, zones: [], types: [] });
    const spares = (r: Region): ControllerGroup[] =>
      r.zoneOrder.map((zone) => ({ id: `${r.name}/${zone}/spare`, region: r.name, role: ControllerGroupRole.SPARE_SPOT, desired: r.zoneSpare.get(zone) ?? 0, maxSize: this.s.maxCapacity, zones: [zone], types: [r.types[0]] }));
    if (azure) groups.push(...this.regions.map(onDemand), ...this.regions.flatMap(spares));
    else for (const r of this.regions) groups.push(onDemand(r), ...spares(r));
    return {
      observed: {
        nowSeconds: this.s.epochSeconds + t * this.s.tickSeconds,
        targetReplicas: this.s.targetReplicas,
        onDemandBase: this.s.onDemandBase,
        maxCapacity: this.s.maxCapacity,
        onDemandReady: readyDemand,
        pools,
        // The Azure handler gives per-region targets only for fleets over several regions.
        ...(azure && this.regions.length === 1 ? {} : { regions: this.regions.map((r) => ({ region: r.name, targetReplicas: r.mainTarget + r.base, onDemandBase: r.base })) }),
        mainSpotInService: mainReady,
      },
      ...(this.state ? { state: this.state } : {}),
      ...(this.s.policyOptions ? { options: this.s.policyOptions } : {}),
      groups,
    };
  }

  /** The fleet as the cloud would describe it now (for the equivalence test with the handlers). */
  public snapshot(): DeployedFleetSnapshot {
    return {
      pools: [...this.ids],
      main: Array.from(this.main),
      spare: Array.from(this.spare),
      mainFailing: this.mainFailing.map((l) => [...l]),
      spareFailing: this.spareFailing.map((l) => [...l]),
      regions: this.regions.map((r) => ({
        name: r.name,
        zones: [...r.zoneOrder],
        types: [...r.types],
        pools: r.pools.map((z) => this.ids[z]),
        mainDesired: r.mainTarget + r.base,
        onDemandBase: r.base,
        fallback: r.fallback,
        spareDesired: r.spareDesired,
        spareZones: [...r.spareZones],
        spareTypes: [...r.spareTypes],
        zoneSpare: Object.fromEntries(r.zoneOrder.map((z) => [z, r.zoneSpare.get(z) ?? 0])),
      })),
    };
  }

  private runController(v: DeployedTickView, c: DeployedCounters): void {
    this.lastRun = v.t;
    c.controllerRuns++;
    const input = this.controllerInput(v.t, v.readySpot, v.readyDemand);
    const before = this.s.onControllerRun ? this.snapshot() : undefined;
    const step = planControllerStep(input);
    const events = this.s.onControllerRun
      ? {
          preempted: Array.from(this.preemptedSince),
          launchFailures: Array.from(this.failedSince),
          sparePreempted: Array.from(this.sparePreemptedSince),
          spareLaunchFailures: Array.from(this.spareFailedSince),
          clearedLaunchFailures: Array.from(this.clearedSince),
          spareClearedLaunchFailures: Array.from(this.spareClearedSince),
        }
      : undefined;
    this.preemptedSince.fill(0);
    this.failedSince.fill(0);
    this.sparePreemptedSince.fill(0);
    this.spareFailedSince.fill(0);
    this.clearedSince.fill(0);
    this.spareClearedSince.fill(0);
    this.state = step.nextState;
    for (const a of step.actions) {
      const r = this.regions.find((x) => x.name === a.region)!;
      if (this.s.profile.layout === 'zonal') {
        if (a.role === ControllerGroupRole.ON_DEMAND) r.fallback = Math.max(0, a.desired - r.base);
        else r.zoneSpare.set(a.group.slice(r.name.length + 1, -'/spare'.length), a.desired);
        continue;
      }
      if (a.role === ControllerGroupRole.ON_DEMAND) r.fallback = a.desired;
      else {
        r.spareDesired = a.desired;
        if (a.zones) r.spareZones = a.zones;
        if (a.types) r.spareTypes = a.types;
      }
    }
    this.s.onControllerRun?.({ t: v.t, input, step, before: before!, readySpot: Array.from(v.readySpot), readyDemand: v.readyDemand, events: events! });
  }
}

/** The fleet's groups as a cloud would describe them. */
export interface DeployedFleetSnapshot {
  /** Pool ids, in the simulator's order (the order of `main` and `spare`). */
  readonly pools: string[];
  /** Spot replicas of the main groups per pool (ready and launching). */
  readonly main: number[];
  /** Spot replicas of the spare groups per pool. */
  readonly spare: number[];
  /**
   * Zonal layout (Google Cloud, Azure): per pool, the main groups' VMs whose creation is failing there now, each as the
   * tick it first failed (a VM keeps its tick until it is created or no longer wanted; a handler lists it at every run
   * meanwhile and counts it once). Empty lists in the regional layout.
   */
  readonly mainFailing: number[][];
  /** The same for the spare groups (one per zone). */
  readonly spareFailing: number[][];
  readonly regions: {
    readonly name: string;
    /** The main group's zones, in its order. */
    readonly zones: string[];
    readonly types: string[];
    readonly pools: string[];
    /** The main group's desired capacity (its spot share, plus the on-demand base in the home region). */
    readonly mainDesired: number;
    readonly onDemandBase: number;
    /** The fallback group's desired capacity. */
    readonly fallback: number;
    readonly spareDesired: number;
    readonly spareZones: string[];
    readonly spareTypes: string[];
    /** Zonal layout (Google Cloud): each zone's spare group size. */
    readonly zoneSpare: { readonly [zone: string]: number };
  }[];
}

/** One controller run of the as-deployed model, as seen from outside (tests, traces of a replay). */
export interface ControllerRunRecord {
  readonly t: number;
  readonly input: ControllerStepInput;
  readonly step: ControllerStep;
  /** The fleet before the step was applied. */
  readonly before: DeployedFleetSnapshot;
  /** Ready spot per pool (simulator order) and ready on-demand the controller saw. */
  readonly readySpot: number[];
  readonly readyDemand: number;
  /**
   * What the cloud did since the previous run, per pool (simulator order): replicas preempted and launches that found no
   * capacity, all groups together and the spare groups' part (the rest are the main groups'). What a handler is told
   * or lists, independently of what the model's controller observed. In the zonal layout a launch failure is a VM that
   * started failing since the previous run (the retries of a VM already failing are not counted again; see
   * {@link DeployedFleetSnapshot.mainFailing}); `clearedLaunchFailures` are those of them no longer failing at this run
   * (created since, in another zone or later, or no longer wanted), which no listing at a run shows.
   */
  readonly events: {
    readonly preempted: number[];
    readonly launchFailures: number[];
    readonly sparePreempted: number[];
    readonly spareLaunchFailures: number[];
    readonly clearedLaunchFailures: number[];
    readonly spareClearedLaunchFailures: number[];
  };
}

/** The pool ids `<region>/<zone>/<type>` of trace names. */
export function poolIds(names: readonly string[]): string[] {
  return names.map((n) => {
    const l = locatePool(n);
    return poolId(l.region, l.zone, l.instanceType);
  });
}
