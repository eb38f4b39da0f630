import { FleetSpecErrorCode as C, ProblemCollector } from '../spec/errors';
import { FallbackDecision, FallbackPolicyOptions, FallbackState, SpotPoolObservation, decideFallback, resolveFallbackPolicyOptions } from './fallback-policy';

/**
 * One step of an on-demand fallback controller, cloud-neutral and pure: what every cloud's controller
 * (lib/handlers/{aws,gcp,azure}/fallback.ts) and the as-deployed simulator (`spot-plan simulate
 * --deployment <cloud>`) run, so both take the same decisions on the same observed inputs.
 *
 * Contract
 * - In: `observed` (what the controller saw this period: the fleet's target, its on-demand base and max, ready
 *   on-demand replicas, and one {@link SpotPoolObservation} per spot pool, the spare groups' pools included;
 *   pool ids are `<region>/<zone>/<type>`, see {@link poolId}), `state` (the {@link FallbackState} the previous
 *   step returned, plain JSON; absent on the first step), `options` (the policy's tuning) and `groups` (the
 *   groups the controller OWNS, with their current size, zones and types; never the user's main groups, whose
 *   desired capacity belongs to the user's scaling policies).
 * - Out: the policy's `decision` ({@link decideFallback}), one {@link ControllerAction} per owned group (its new
 *   size; its new zones / types only when they change), `nextState` (persist it and pass it back) and
 *   `reasons` (one sentence per thing applied or not applied, with the numbers; log them).
 * - Every part of the decision becomes an action:
 *   1. `fallbackReplicas` (on-demand above the base) is split over the ON_DEMAND groups: each replica goes to the
 *      region whose spot is shortest of its own target (`observed.regions`), then to the group with the fewest,
 *      within each group's `maxSize`;
 *   2. `spareSpotReplicas` is split over the SPARE_SPOT groups: each spare goes to the group with the fewest
 *      spares among those that have a pool the policy does not avoid, then (`spreadSpares`, zonal groups) to one
 *      whose zone holds none of the fleet's other spot, then the best-ranked (by `preferredPools`), so spares
 *      spread over regions and zones and never go where spot was just lost;
 *   3. `preferredPools` / `unavailablePools` steer the SPARE_SPOT groups that may be steered (`allowedZones` /
 *      `allowedTypes` given): their zones become the allowed zones that still have a usable pool, their types the
 *      allowed types that have a usable pool in those zones, best first. A group launches in zones x types, so a
 *      pool avoided inside that product (zone a with type x avoided, but a/y and b/x fine) cannot be excluded:
 *      the reasons say so. A group whose every pool is avoided keeps its zones (a group cannot have none) and
 *      gets no spares. An idle group (no spares now or wanted) is not steered. Groups that cannot be steered are
 *      steered by their size only (per-zone groups).
 *   Where the main group places its own spot (the cloud's allocation strategy), nothing here applies: that is
 *   the cloud's behaviour, modelled as such by the simulator.
 * - Pure: no clock, no I/O, deterministic; the same input gives the same output.
 */

/** What a group the controller owns is for. */
export enum ControllerGroupRole {
  /** On-demand replicas in place of missing spot (the fallback). */
  ON_DEMAND = 'on-demand',
  /** Spare spot replicas above the target while preemption risk is high. */
  SPARE_SPOT = 'spare-spot',
}

/** A group (Auto Scaling group, MIG, scale set) that the controller owns and may resize. */
export interface ControllerGroup {
  /** Id of the group, unique over all regions (its name, or `<region>/<name>`). */
  readonly id: string;
  /** Region of the group, as in the pool ids. */
  readonly region: string;
  /** What the group is for. */
  readonly role: ControllerGroupRole;
  /** Its size now (desired capacity, target size, capacity). */
  readonly desired: number;
  /** Most instances it may run. */
  readonly maxSize: number;
  /**
   * Replicas of the group that are not the controller's to move (e.g. Google Cloud's standard MIG holds the
   * fleet's on-demand base, Azure's regular count its base): its size is `baseReplicas` + its share. @default 0
   */
  readonly baseReplicas?: number;
  /** Zones it launches in now. */
  readonly zones: string[];
  /** Instance types it launches now. */
  readonly types: string[];
  /** Zones the controller may steer it within. @default - not steerable by zone (its `zones`) */
  readonly allowedZones?: string[];
  /** Types the controller may steer it within. @default - not steerable by type (its `types`) */
  readonly allowedTypes?: string[];
}

/** Ready spot and the target of one region's main groups (what the user's scaling asks of that region). */
export interface RegionObservation {
  readonly region: string;
  /** Replicas the region's main groups should serve with (their desired capacity). */
  readonly targetReplicas: number;
  /** On-demand base of the region's main groups. @default 0 */
  readonly onDemandBase?: number;
}

/** What the controller saw this period. */
export interface ControllerObservation {
  /** Now, epoch seconds. */
  readonly nowSeconds: number;
  /** Ready replicas the whole fleet must serve with (all regions). */
  readonly targetReplicas: number;
  /** On-demand replicas that always run (all regions). */
  readonly onDemandBase: number;
  /** Most replicas the fleet may run (all regions, spot and on-demand). */
  readonly maxCapacity: number;
  /** On-demand replicas ready. @default 0 */
  readonly onDemandReady?: number;
  /** Every spot pool, `<region>/<zone>/<type>`, main and spare groups' together. */
  readonly pools: SpotPoolObservation[];
  /** Per-region targets, so the fallback goes where spot is short. @default - no preference by region */
  readonly regions?: RegionObservation[];
  /**
   * Spot instances of the main groups holding capacity now (in service; the spare groups' not counted): the fallback
   * is bounded so that they, the base and the fallback never exceed `maxCapacity`, and the spare groups stand in for
   * what they are short of the spot share (`replaceUnlaunchedSpot`; without this count only spare groups steerable
   * by zone do).
   * @default - the ready spot replicas of all pools
   */
  readonly mainSpotInService?: number;
}

/** Input of {@link planControllerStep}. */
export interface ControllerStepInput {
  readonly observed: ControllerObservation;
  /** The state the previous step returned. @default - the policy's initial state */
  readonly state?: FallbackState;
  /** Tuning of the policy. @default - its defaults */
  readonly options?: FallbackPolicyOptions;
  /** The groups the controller owns. */
  readonly groups: ControllerGroup[];
}

/** What to do to one owned group. */
export interface ControllerAction {
  /** {@link ControllerGroup.id}. */
  readonly group: string;
  readonly region: string;
  readonly role: ControllerGroupRole;
  /** Size to set. */
  readonly desired: number;
  /** Zones to launch in, only when they change. */
  readonly zones?: string[];
  /** Types to launch, only when they change. */
  readonly types?: string[];
  /** Whether anything differs from the group as observed (size, zones or types). */
  readonly changed: boolean;
}

/** Output of {@link planControllerStep}. */
export interface ControllerStep {
  /** The policy's decision. */
  readonly decision: FallbackDecision;
  /** One action per owned group, in the order of `groups`. */
  readonly actions: ControllerAction[];
  /** Persist and pass back next time (= `decision.state`). */
  readonly nextState: FallbackState;
  /** What was applied and why, with the numbers; what could not be, and why. */
  readonly reasons: string[];
  /** On-demand replicas above the base the actions run (bounded by the groups' and the fleet's room). */
  readonly fallbackReplicas: number;
  /** Spare spot replicas the actions run (bounded by the spare groups' room and usable pools). */
  readonly spareSpotReplicas: number;
}

/** A pool id: `<region>/<zone>/<type>`. */
export function poolId(region: string, zone: string, type: string): string {
  return `${region}/${zone}/${type}`;
}

/** Split a pool id into its parts. Two-part ids (`<zone>/<type>`) have the region `''`. */
export function parsePoolId(pool: string): { region: string; zone: string; type: string } {
  const parts = pool.split('/');
  if (parts.length >= 3) return { region: parts[0], zone: parts[1], type: parts.slice(2).join('/') };
  if (parts.length === 2) return { region: '', zone: parts[0], type: parts[1] };
  return { region: '', zone: pool, type: '' };
}

function checkGroups(groups: readonly ControllerGroup[]): void {
  const v = new ProblemCollector();
  const seen = new Set<string>();
  for (const g of groups) {
    if (typeof g.id !== 'string' || g.id.length === 0) v.add(C.ZONES, 'groups', `a group has no id (${JSON.stringify(g.id)}); give every owned group its name`);
    if (seen.has(g.id)) v.add(C.ZONES, 'groups', `group "${g.id}" is listed twice; list each owned group once`);
    seen.add(g.id);
    for (const f of ['desired', 'maxSize', 'baseReplicas'] as const) {
      const x = g[f];
      if (x !== undefined && (!Number.isInteger(x) || x < 0)) v.add(C.CAPACITY_NEGATIVE, `groups[${g.id}].${f}`, `groups[${g.id}].${f} (${x}) must be a whole number, 0 or more`);
    }
    if (!Array.isArray(g.zones) || !Array.isArray(g.types)) v.add(C.ZONES, `groups[${g.id}].zones`, `groups[${g.id}] must list its zones and types (arrays; empty when unknown)`);
    if (!Object.values(ControllerGroupRole).includes(g.role)) v.add(C.UNKNOWN_ENUM_VALUE, `groups[${g.id}].role`, `groups[${g.id}].role (${String(g.role)}) must be one of ${Object.values(ControllerGroupRole).join(', ')}`);
  }
  v.throwIfAny('controller step input');
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x) => b.includes(x));

/**
 * Decide one control period and turn every part of the decision into actions on the groups the controller
 * owns. See the file header for the contract. Throws a `FleetSpecError` (naming the field, the value and the
 * fix) on malformed input; the handlers catch it, log it and leave the groups as they are.
 */
export function planControllerStep(input: ControllerStepInput): ControllerStep {
  checkGroups(input.groups);
  const o = input.observed;
  const decision = decideFallback(
    { nowSeconds: o.nowSeconds, targetReplicas: o.targetReplicas, onDemandBase: o.onDemandBase, maxCapacity: o.maxCapacity, onDemandReady: o.onDemandReady ?? 0, pools: o.pools, state: input.state },
    input.options ?? {},
  );
  const reasons: string[] = [`${decision.action}: ${decision.reason}`];
  const readyByRegion = new Map<string, number>();
  let readySpot = 0;
  for (const p of o.pools) {
    const r = parsePoolId(p.pool).region;
    readyByRegion.set(r, (readyByRegion.get(r) ?? 0) + p.ready);
    readySpot += p.ready;
  }

  // 1. The fallback over the on-demand groups.
  const od = input.groups.filter((g) => g.role === ControllerGroupRole.ON_DEMAND);
  const fleetRoom = Math.max(0, o.maxCapacity - o.onDemandBase - (o.mainSpotInService ?? readySpot));
  let fallbackWanted = decision.fallbackReplicas;
  if (fallbackWanted > fleetRoom) {
    reasons.push(`fallback bounded ${fallbackWanted} -> ${fleetRoom}: maxCapacity ${o.maxCapacity} minus the base ${o.onDemandBase} and ${o.mainSpotInService ?? readySpot} spot in service`);
    fallbackWanted = fleetRoom;
  }
  const odShare = new Map<string, number>(od.map((g) => [g.id, 0]));
  const shortfall = new Map<string, number>();
  for (const r of o.regions ?? []) shortfall.set(r.region, r.targetReplicas - (r.onDemandBase ?? 0) - (readyByRegion.get(r.region) ?? 0));
  let fallback = 0;
  for (; fallback < fallbackWanted; fallback++) {
    let best: ControllerGroup | undefined;
    for (const g of od) {
      if ((g.baseReplicas ?? 0) + odShare.get(g.id)! >= g.maxSize) continue;
      if (!best) {
        best = g;
        continue;
      }
      const sg = shortfall.get(g.region) ?? 0;
      const sb = shortfall.get(best.region) ?? 0;
      if (sg > sb || (sg === sb && odShare.get(g.id)! < odShare.get(best.id)!)) best = g;
    }
    if (!best) break;
    odShare.set(best.id, odShare.get(best.id)! + 1);
    shortfall.set(best.region, (shortfall.get(best.region) ?? 0) - 1);
  }
  if (fallback < fallbackWanted) {
    reasons.push(od.length === 0 ? `no on-demand group owned: ${fallbackWanted} fallback replicas not applied` : `on-demand groups full: ${fallback} of ${fallbackWanted} fallback replicas applied (raise their maxSize)`);
  }

  // 2./3. Spares and steering over the spare groups.
  const unavailable = new Set(decision.unavailablePools);
  const rank = new Map(decision.preferredPools.map((p, i) => [p, i]));
  const rankOf = (p: string): number => rank.get(p) ?? decision.preferredPools.length;
  interface SpareView {
    g: ControllerGroup;
    steerable: boolean;
    zones: string[];
    types: string[];
    best: number;
  }
  const spareViews: SpareView[] = input.groups
    .filter((g) => g.role === ControllerGroupRole.SPARE_SPOT)
    .map((g) => {
      const steerable = g.allowedZones !== undefined || g.allowedTypes !== undefined;
      const zonesIn = g.allowedZones ?? g.zones;
      const typesIn = g.allowedTypes ?? g.types;
      const usable = (z: string, t: string): boolean => !unavailable.has(poolId(g.region, z, t));
      const bestOfZone = (z: string): number => Math.min(...typesIn.filter((t) => usable(z, t)).map((t) => rankOf(poolId(g.region, z, t))), Number.MAX_SAFE_INTEGER);
      let zones = [...g.zones];
      if (g.allowedZones !== undefined) {
        zones = zonesIn.filter((z) => typesIn.some((t) => usable(z, t)));
        zones.sort((a, b) => bestOfZone(a) - bestOfZone(b) || zonesIn.indexOf(a) - zonesIn.indexOf(b));
      }
      let types = [...g.types];
      if (g.allowedTypes !== undefined) {
        types = typesIn.filter((t) => zones.some((z) => usable(z, t)));
        const bestOfType = (t: string): number => Math.min(...zones.filter((z) => usable(z, t)).map((z) => rankOf(poolId(g.region, z, t))), Number.MAX_SAFE_INTEGER);
        types.sort((a, b) => bestOfType(a) - bestOfType(b) || typesIn.indexOf(a) - typesIn.indexOf(b));
      }
      let best = Number.MAX_SAFE_INTEGER;
      for (const z of zones) for (const t of types) if (usable(z, t)) best = Math.min(best, rankOf(poolId(g.region, z, t)));
      return { g, steerable, zones, types, best };
    });
  // Spot the main groups cannot launch (their zones have no capacity, their region's spot is gone) is launched by
  // the spare groups, which go where the policy finds capacity, in any region: on-demand then covers it only while
  // that replacement boots. The main groups' spot running = all spot running (ready or launching) minus what the
  // spare groups hold now; bounded by the spot share.
  const spotShare = Math.max(0, o.targetReplicas - o.onDemandBase);
  let stand = 0;
  const po = resolveFallbackPolicyOptions(input.options ?? {});
  // Needs the main groups' own spot in service (`mainSpotInService`, the spare groups' not counted), which every
  // handler reports; without it only spare groups steerable by zone (AWS's layout) take stand-ins, from what the
  // spare groups hold.
  if (po.replaceUnlaunchedSpot && spareViews.length > 0 && (o.mainSpotInService !== undefined || spareViews.some((v) => v.g.allowedZones !== undefined))) {
    let running = 0;
    for (const p of o.pools) running += p.ready + (p.launching ?? 0);
    let held = 0;
    for (const v of spareViews) held += Math.max(0, v.g.desired - (v.g.baseReplicas ?? 0));
    const mainRunning = Math.max(running - held, Math.min(o.mainSpotInService ?? 0, running));
    // Started only by launches that failed (this period), not for a preempted replica whose replacement is on its
    // way; kept while the main groups stay short.
    const failed = o.pools.some((p) => (p.launchFailures ?? 0) > 0);
    const before = Math.min(spotShare, Math.max(0, held - (input.state?.spareSpotReplicas ?? 0)));
    const short = Math.min(spotShare, Math.max(0, spotShare - mainRunning));
    stand = failed ? short : Math.min(before, short);
    // Like the fallback, stand-ins go only once what replaces them is ready: nothing launching any more.
    const launching = running - o.pools.reduce((n, p) => n + p.ready, 0);
    if (stand < before && launching > 0) {
      reasons.push(`${before} spare spot standing in for the main groups stay while ${launching} spot replica${launching === 1 ? '' : 's'} still boot`);
      stand = before;
    }
    // Only spot that has been calm stands in (a pool with no preemption or failed launch for the strike forgiveness
    // time): flaky spot in place of on-demand loses more availability than it saves.
    const calm = decision.state.pools.filter((m) => m.unavailableUntil <= o.nowSeconds && (m.lastBadAt === 0 || o.nowSeconds - m.lastBadAt >= po.strikeForgivenessSeconds)).length;
    if (stand > calm) {
      reasons.push(`${stand - calm} of ${stand} stand-ins not launched: only ${calm} pool${calm === 1 ? ' has' : 's have'} been calm for ${po.strikeForgivenessSeconds} s; on-demand covers`);
      stand = Math.max(calm, Math.min(before, stand));
    }
    if (stand > 0) reasons.push(`the main groups run ${mainRunning} spot of their share ${spotShare}: ${stand} more spare spot stand in for what they cannot launch`);
  }
  const spareWanted = decision.spareSpotReplicas + stand;
  const spareShare = new Map<string, number>(spareViews.map((v) => [v.g.id, 0]));
  // Spot running (ready or booting) per `<region>/<zone>`, for spreading the spares.
  const occupancy = new Map<string, number>();
  for (const p of o.pools) {
    const id = parsePoolId(p.pool);
    const key = `${id.region}/${id.zone}`;
    occupancy.set(key, (occupancy.get(key) ?? 0) + p.ready + (p.launching ?? 0));
  }
  // With spreadSpares, a zonal spare group (one zone) whose zone holds none of the fleet's other spot wins over one
  // whose spare would sit next to a main replica and be lost with it.
  // The group's own spares do not count (a spare would otherwise move away from its own zone every period).
  const shared = (v: SpareView): number => {
    if (!po.spreadSpares || v.g.allowedZones !== undefined || v.zones.length !== 1) return 0;
    const own = Math.max(0, v.g.desired - (v.g.baseReplicas ?? 0));
    return (occupancy.get(`${v.g.region}/${v.zones[0]}`) ?? 0) - own > 0 ? 1 : 0;
  };
  let spares = 0;
  for (; spares < spareWanted; spares++) {
    let best: SpareView | undefined;
    for (const v of spareViews) {
      if (v.best === Number.MAX_SAFE_INTEGER || spareShare.get(v.g.id)! >= v.g.maxSize - (v.g.baseReplicas ?? 0)) continue;
      const dv = spareShare.get(v.g.id)!;
      const db = best ? spareShare.get(best.g.id)! : 0;
      if (!best || dv < db || (dv === db && (shared(v) < shared(best) || (shared(v) === shared(best) && v.best < best.best)))) best = v;
    }
    if (!best) break;
    spareShare.set(best.g.id, spareShare.get(best.g.id)! + 1);
  }
  if (spares < spareWanted) {
    reasons.push(
      spareViews.length === 0
        ? `no spare spot group owned: ${spareWanted} spare replicas not applied`
        : `${spares} of ${spareWanted} spare replicas applied: the spare groups have no room or no pool the policy does not avoid`,
    );
  }

  // Actions, in the order of the groups.
  const actions: ControllerAction[] = input.groups.map((g) => {
    if (g.role === ControllerGroupRole.ON_DEMAND) {
      const desired = (g.baseReplicas ?? 0) + odShare.get(g.id)!;
      return { group: g.id, region: g.region, role: g.role, desired, changed: desired !== g.desired };
    }
    const v = spareViews.find((x) => x.g.id === g.id)!;
    const desired = (g.baseReplicas ?? 0) + spareShare.get(g.id)!;
    let zones: string[] | undefined;
    let types: string[] | undefined;
    // An idle spare group (0 now, 0 wanted) is not steered: its zones are set when it next gets spares.
    const idle = desired === 0 && g.desired === 0;
    if (idle) {
      if (v.steerable && (v.zones.length === 0 || v.types.length === 0)) reasons.push(`${g.id}: every pool it may use is avoided by the policy; its zones stay, it gets no spares`);
    } else if (v.steerable && v.zones.length > 0 && v.types.length > 0) {
      let want = v.zones;
      if (po.spreadSpares && g.allowedZones !== undefined) {
        if (desired > g.desired) {
          // Growing: a group balances only its own instances, so it is pointed at the usable zones that hold none
          // of the fleet's spot (where a loss is independent of the replicas already running), if there are any.
          const empty = v.zones.filter((z) => (occupancy.get(`${g.region}/${z}`) ?? 0) === 0);
          if (empty.length > 0) want = empty;
        } else {
          // Not growing: its zones change only to drop avoided ones, so its instances are not moved for nothing.
          const kept = g.zones.filter((z) => v.zones.includes(z));
          if (kept.length > 0) want = kept;
        }
        if (!sameSet(want, v.zones)) reasons.push(`${g.id}: spares spread to zones ${want.join(',')} (spot running per zone: ${v.zones.map((z) => `${z} ${occupancy.get(`${g.region}/${z}`) ?? 0}`).join(', ')})`);
      }
      // Compared as sets: an order-only change would rewrite the group every period for nothing.
      if (!sameSet(want, g.zones)) zones = want;
      if (!sameSet(v.types, g.types)) types = v.types;
      const stuck: string[] = [];
      for (const z of v.zones) for (const t of v.types) if (unavailable.has(poolId(g.region, z, t))) stuck.push(poolId(g.region, z, t));
      if (stuck.length > 0) reasons.push(`${g.id}: ${stuck.join(', ')} avoided by the policy but inside the zones x types the group launches in (a group cannot exclude one zone/type pair); the allocation strategy decides there`);
      if (zones || types) reasons.push(`${g.id}: steered to zones ${v.zones.join(',')} and types ${v.types.join(',')} (avoiding ${decision.unavailablePools.filter((p) => parsePoolId(p).region === g.region).join(', ') || 'nothing'})`);
    } else if (v.steerable) {
      reasons.push(`${g.id}: every pool it may use is avoided by the policy; its zones stay, it gets no spares`);
    }
    if (desired !== g.desired) reasons.push(`${g.id}: spare spot ${g.desired} -> ${desired}`);
    return { group: g.id, region: g.region, role: g.role, desired, zones, types, changed: desired !== g.desired || zones !== undefined || types !== undefined };
  });
  for (const a of actions) if (a.role === ControllerGroupRole.ON_DEMAND && a.changed) reasons.push(`${a.group}: on-demand ${input.groups.find((g) => g.id === a.group)!.desired} -> ${a.desired}`);

  return { decision, actions, nextState: decision.state, reasons, fallbackReplicas: fallback, spareSpotReplicas: spares };
}
