/**
 * The timing rule of a fleet that spans regions behind one global endpoint (AWS Global Accelerator, Google
 * Cloud's global external Application Load Balancer, Azure Front Door), shared by the three clouds'
 * multi-region constructs and by `spot-plan simulate --deployment`.
 *
 * When a region loses its spot replicas, each one gets the cloud's notice. In DrainMode.HEALTH the agent turns
 * the health check to 503 at the notice; the regional load balancer takes the replica out after its own
 * detection time (probe interval x unhealthy threshold), and the global layer moves new requests to another
 * region only after it has seen the region go unhealthy (its own detection time on top). Requests the global
 * layer still sends into the region in that window must finish before the replica is gone:
 *
 *   regional detection + global detection + drainBudgetSeconds <= the cloud's notice
 *
 * Synth refuses settings where the sum does not fit, with every number in the message.
 */
import { CLOUD_LIMITS, Cloud } from './clouds';
import { FleetSpecErrorCode as C, FleetSpecProblem, ProblemCollector } from './errors';
import { FleetSpec } from './fleet-spec';

/** The timings that decide how fast the global layer stops sending requests to a region whose replicas are gone. */
export interface GlobalRoutingTiming {
  /** The cloud (gives the notice). */
  readonly cloud: Cloud;
  /** Name of the global layer in messages, e.g. `Global Accelerator`. */
  readonly globalLayerName: string;
  /** Seconds between two probes of the regional load balancer's health check. */
  readonly regionalIntervalSeconds: number;
  /** Consecutive failed probes before the regional load balancer takes a replica out. */
  readonly regionalUnhealthyThreshold: number;
  /**
   * Seconds between two observations of a region by the global layer; 0 when the global layer routes on the
   * regional health check itself (Google Cloud's global backend service).
   */
  readonly globalIntervalSeconds: number;
  /** Consecutive failed observations before the global layer routes around a region (1 when it reads a state). */
  readonly globalUnhealthyThreshold: number;
  /** Seconds the inference server needs to finish in-flight requests (the fleet's drainBudgetSeconds). */
  readonly drainBudgetSeconds: number;
  /**
   * Seconds of the interruption notice.
   * @default - the cloud's spot notice (AWS 120 s, Google Cloud 30 s, Azure 30 s)
   */
  readonly noticeSeconds?: number;
  /**
   * Names of the props that set each value, as the user spelled them, so messages point at them.
   * @default - the generic names below
   */
  readonly props?: GlobalRoutingPropNames;
}

/** Prop names used in the timing rule's messages. */
export interface GlobalRoutingPropNames {
  /** @default 'healthCheck.intervalSeconds' */
  readonly regionalInterval?: string;
  /** @default 'healthCheck.unhealthyThreshold' */
  readonly regionalThreshold?: string;
  /** @default 'globalHealthCheckIntervalSeconds' */
  readonly globalInterval?: string;
  /** @default 'globalHealthCheckThreshold' */
  readonly globalThreshold?: string;
  /** @default 'drainBudgetSeconds' */
  readonly drainBudget?: string;
}

/** The failover of one region, in seconds, as the rule computes it. */
export interface GlobalFailoverTimes {
  /** regionalIntervalSeconds x regionalUnhealthyThreshold. */
  readonly regionalDetectionSeconds: number;
  /** globalIntervalSeconds x globalUnhealthyThreshold. */
  readonly globalDetectionSeconds: number;
  /** Seconds from the notice until the global layer sends no new request into the region (worst case). */
  readonly failoverSeconds: number;
  /** failoverSeconds + drainBudgetSeconds: when the last request routed into the region ends. */
  readonly lastRequestEndsSeconds: number;
  /** The notice. */
  readonly noticeSeconds: number;
  /** noticeSeconds - lastRequestEndsSeconds (negative: the rule is broken). */
  readonly slackSeconds: number;
}

/** The global layer each cloud's multi-region construct renders, with the defaults it renders it with. */
export interface GlobalLayerProfile {
  /** Name in messages. */
  readonly name: string;
  /** Seconds between two observations of a region (0: routes on the regional health check). */
  readonly globalIntervalSeconds: number;
  /** Failed observations before it routes around a region. */
  readonly globalUnhealthyThreshold: number;
  /** The regional health check the construct renders unless told otherwise. */
  readonly regionalIntervalSeconds: number;
  /** Consecutive failed regional probes before a replica is out. */
  readonly regionalUnhealthyThreshold: number;
  /** Seconds, roughly, before traffic returns to a recovered region (after its regional health check passes again). */
  readonly recoverySeconds: number;
}

/**
 * The defaults of the three multi-region constructs, as data (the constructs and `spot-plan simulate --deployment`
 * read the same values):
 * - AWS Global Accelerator reads an ALB endpoint's target-group health every 10 s (the construct's interval; 10 or
 *   30 accepted) and returns traffic about 30 s after the region is healthy again;
 * - Google Cloud's global backend service routes on the fleets' own health check: no second layer;
 * - Azure Front Door probes every 5 s and needs 3 of the last 4 probes to pass (2 failures to leave); the
 *   construct's regional probe is 5 s x 2.
 */
export const GLOBAL_LAYER_DEFAULTS: { readonly [cloud: string]: GlobalLayerProfile } = {
  [Cloud.AWS]: { name: 'Global Accelerator', globalIntervalSeconds: 10, globalUnhealthyThreshold: 1, regionalIntervalSeconds: 10, regionalUnhealthyThreshold: 2, recoverySeconds: 30 },
  [Cloud.GCP]: { name: 'the global backend service', globalIntervalSeconds: 0, globalUnhealthyThreshold: 1, regionalIntervalSeconds: 10, regionalUnhealthyThreshold: 2, recoverySeconds: 0 },
  [Cloud.AZURE]: { name: 'Front Door', globalIntervalSeconds: 5, globalUnhealthyThreshold: 2, regionalIntervalSeconds: 5, regionalUnhealthyThreshold: 2, recoverySeconds: 15 },
};

/**
 * Seconds from a region's notice until the cloud's global layer sends it no new request, with the construct's
 * defaults (AWS 30 s, Google Cloud 20 s, Azure 20 s).
 */
export function defaultGlobalFailoverSeconds(cloud: Cloud): number {
  const d = GLOBAL_LAYER_DEFAULTS[cloud];
  return d.regionalIntervalSeconds * d.regionalUnhealthyThreshold + d.globalIntervalSeconds * d.globalUnhealthyThreshold;
}

/** Compute the failover times of a region (no validation; see {@link validateGlobalRouting}). */
export function globalFailoverTimes(t: GlobalRoutingTiming): GlobalFailoverTimes {
  const regionalDetectionSeconds = t.regionalIntervalSeconds * t.regionalUnhealthyThreshold;
  const globalDetectionSeconds = t.globalIntervalSeconds * t.globalUnhealthyThreshold;
  const failoverSeconds = regionalDetectionSeconds + globalDetectionSeconds;
  const lastRequestEndsSeconds = failoverSeconds + t.drainBudgetSeconds;
  const noticeSeconds = t.noticeSeconds ?? CLOUD_LIMITS[t.cloud].noticeSeconds;
  return { regionalDetectionSeconds, globalDetectionSeconds, failoverSeconds, lastRequestEndsSeconds, noticeSeconds, slackSeconds: noticeSeconds - lastRequestEndsSeconds };
}

/** How {@link validateGlobalRouting} treats values unknown at synth. */
export interface GlobalRoutingValidationOptions {
  /** Tells a deploy-time token from a real value; tokens are not validated. @default - every value is known */
  readonly isUnresolved?: (value: unknown) => boolean;
}

/**
 * Check the timing rule. Returns one DRAIN_BUDGET_EXCEEDED problem, naming every number, when
 * regional detection + global detection + drain budget is longer than the notice; nothing when it fits or when
 * a value is a token.
 */
export function validateGlobalRouting(t: GlobalRoutingTiming, options: GlobalRoutingValidationOptions = {}): FleetSpecProblem[] {
  const unresolved = options.isUnresolved ?? (() => false);
  const values = [t.regionalIntervalSeconds, t.regionalUnhealthyThreshold, t.globalIntervalSeconds, t.globalUnhealthyThreshold, t.drainBudgetSeconds, t.noticeSeconds];
  if (values.some((v) => v !== undefined && (unresolved(v) || typeof v !== 'number' || !Number.isFinite(v)))) return [];
  const p = {
    regionalInterval: t.props?.regionalInterval ?? 'healthCheck.intervalSeconds',
    regionalThreshold: t.props?.regionalThreshold ?? 'healthCheck.unhealthyThreshold',
    globalInterval: t.props?.globalInterval ?? 'globalHealthCheckIntervalSeconds',
    globalThreshold: t.props?.globalThreshold ?? 'globalHealthCheckThreshold',
    drainBudget: t.props?.drainBudget ?? 'drainBudgetSeconds',
  };
  const f = globalFailoverTimes(t);
  if (f.slackSeconds >= 0) return [];
  const limits = CLOUD_LIMITS[t.cloud];
  const global = t.globalIntervalSeconds === 0
    ? `0 s at ${t.globalLayerName} (it routes on the regional health check)`
    : `${p.globalInterval} (${t.globalIntervalSeconds} s) x ${p.globalThreshold} (${t.globalUnhealthyThreshold}) = ${f.globalDetectionSeconds} s at ${t.globalLayerName}`;
  const message =
    `global failover does not fit the notice: ${p.regionalInterval} (${t.regionalIntervalSeconds} s) x ${p.regionalThreshold} (${t.regionalUnhealthyThreshold}) = ${f.regionalDetectionSeconds} s at the regional load balancer` +
    ` + ${global} = ${f.failoverSeconds} s before ${t.globalLayerName} stops sending requests to a region whose replicas got the notice,` +
    ` + ${p.drainBudget} (${t.drainBudgetSeconds} s) for the last of them = ${f.lastRequestEndsSeconds} s, longer than the ${f.noticeSeconds} s ${limits.displayName} spot notice` +
    ` (${-f.slackSeconds} s over): requests routed into the region would be cut when its replicas go; lower the health check interval or thresholds, or ${p.drainBudget}, until the sum is at most ${f.noticeSeconds} s`;
  const v = new ProblemCollector();
  v.add(C.DRAIN_BUDGET_EXCEEDED, p.regionalInterval, message);
  return v.problems;
}

/** A region of a multi-region fleet as the shared region rules see it. */
export interface RegionDialSpec {
  /** The region's name (`us-east-1`, `us-central1`, `eastus2`). */
  readonly region: string;
  /** Share of the traffic the global layer would send to the region that it does send, 0-100. @default 100 */
  readonly trafficDialPercentage?: number;
}

/** What the region rules check besides the list. */
export interface RegionListOptions extends GlobalRoutingValidationOptions {
  /** The home region, which must be one of the regions. @default - none */
  readonly homeRegion?: string;
  /** Regions the team allows; every region must be one of them. @default - any region */
  readonly allowedRegions?: string[];
  /** Shape of a region name on this cloud, for the message. @default - no check */
  readonly regionPattern?: RegExp;
  /** Example of a region name on this cloud, for the message. @default 'us-east-1' */
  readonly example?: string;
  /** Name of the list prop in messages. @default 'regions' */
  readonly prop?: string;
  /**
   * The home region the controller's policy names itself (`onDemandFallbackOptions.policy.homeRegion`), which must be
   * one of the regions and, with `homeRegion` set, the same one. @default - none
   */
  readonly policyHomeRegion?: string;
}

/** The region of a multi-region fleet's one controller: the home region, else the first region listed. */
export function controllerRegionOf(regions: readonly { readonly region: string }[], homeRegion: string | undefined): string {
  return homeRegion ?? regions[0].region;
}

/**
 * The controller's policy options with the service's `homeRegion` as the policy's own (among equal pools, new spot
 * goes to the home region's first: lib/policy's `homeRegion`), so one setting steers both the traffic and the spot.
 * A policy that names its home region keeps it ({@link validateRegionList} refuses one that differs).
 */
export function policyWithHomeRegion<P extends { readonly homeRegion?: string }>(policy: P | undefined, homeRegion: string | undefined): P | undefined {
  if (homeRegion === undefined || policy?.homeRegion !== undefined) return policy;
  return { ...policy, homeRegion } as P;
}

/**
 * The rules every cloud's multi-region construct shares for its list of regions: at least one, each once, each
 * allowed, of the cloud's shape, the home region among them, traffic dials 0-100, and at least one region that
 * takes traffic (a dial above 0).
 */
export function validateRegionList(regions: readonly RegionDialSpec[], options: RegionListOptions = {}): FleetSpecProblem[] {
  const unresolved = options.isUnresolved ?? (() => false);
  const prop = options.prop ?? 'regions';
  const example = options.example ?? 'us-east-1';
  const v = new ProblemCollector();
  if (regions.length === 0) {
    v.add(C.REGION_LIST, prop, `${prop} is empty; list at least one region (e.g. [{ region: '${example}' }]), two or more to ride out a region losing its spot capacity`);
    return v.problems;
  }
  const names = regions.map((r) => r.region);
  const known = names.filter((n) => !unresolved(n));
  const dupes = known.filter((n, i) => known.indexOf(n) !== i);
  if (dupes.length > 0) {
    v.add(C.REGION_LIST, prop, `${prop} lists ${[...new Set(dupes)].join(', ')} more than once; list each region once (give one region several zones or instance types instead)`);
  }
  if (options.regionPattern) {
    for (const n of known) {
      if (!options.regionPattern.test(n)) {
        v.add(C.REGION_LIST, `${prop}.region`, `${prop} has "${n}", which is not a region name; write it like "${example}"`);
      }
    }
  }
  if (options.allowedRegions && !unresolved(options.allowedRegions)) {
    const allowed = new Set(options.allowedRegions);
    const outside = known.filter((n) => !allowed.has(n));
    if (outside.length > 0) {
      v.add(C.REGION_LIST, prop, `${prop} has ${outside.join(', ')}, outside allowedRegions (${options.allowedRegions.join(', ') || 'none'}); remove ${outside.length === 1 ? 'it' : 'them'} or add ${outside.length === 1 ? 'it' : 'them'} to allowedRegions`);
    }
  }
  const home = options.homeRegion;
  if (home !== undefined && !unresolved(home) && !known.includes(home) && known.length === names.length) {
    v.add(C.REGION_LIST, 'homeRegion', `homeRegion ("${home}") is not one of ${prop} (${known.join(', ')}); name one of them or add it to ${prop}`);
  }
  const policyHome = options.policyHomeRegion;
  const policyProp = 'onDemandFallbackOptions.policy.homeRegion';
  if (policyHome !== undefined && !unresolved(policyHome) && known.length === names.length) {
    if (home !== undefined && !unresolved(home) && policyHome !== home) {
      v.add(C.REGION_LIST, policyProp, `${policyProp} ("${policyHome}") differs from homeRegion ("${home}"); the policy takes the service's homeRegion: leave ${policyProp} out, or make them the same region`);
    } else if (!known.includes(policyHome)) {
      v.add(C.REGION_LIST, policyProp, `${policyProp} ("${policyHome}") is not one of ${prop} (${known.join(', ')}), so no pool would ever be preferred; name one of them`);
    }
  }
  let someTraffic = false;
  let allKnown = true;
  for (const r of regions) {
    const dial = r.trafficDialPercentage ?? 100;
    if (unresolved(dial)) {
      allKnown = false;
      continue;
    }
    if (!(typeof dial === 'number' && dial >= 0 && dial <= 100)) {
      v.add(C.PERCENTAGE_RANGE, `${prop}.trafficDialPercentage`, `trafficDialPercentage of ${r.region} (${dial}) must be from 0 to 100 (the share of the traffic that would go to the region which does go there); 0 keeps the region as a failover target only`);
    } else if (dial > 0) {
      someTraffic = true;
    }
  }
  if (allKnown && !someTraffic && v.problems.every((p) => p.code !== C.PERCENTAGE_RANGE)) {
    v.add(C.PERCENTAGE_RANGE, `${prop}.trafficDialPercentage`, `every region has trafficDialPercentage 0, so no region takes traffic except in a failover; give the home region (or any one) a dial above 0, e.g. 100`);
  }
  return v.problems;
}

/** What one region of a multi-region fleet may set differently from the fleet (each cloud's `<Cloud>FleetRegion`). */
export interface RegionFleetOverrides {
  /** Instance types in this region. @default - the fleet's `instanceTypes` */
  readonly instanceTypes?: string[];
  /** Fewest instances in this region. @default - the fleet's `minCapacity` */
  readonly minCapacity?: number;
  /** Most instances in this region. @default - the fleet's `maxCapacity` */
  readonly maxCapacity?: number;
  /** Instances to start with in this region. @default - the fleet's `desiredCapacity` */
  readonly desiredCapacity?: number;
  /** On-demand floor in this region. @default - the fleet's `onDemandBaseCapacity` */
  readonly onDemandBaseCapacity?: number;
}

/** The capacity and types of one region's fleet: the region's own values, else the fleet's (the same on every cloud). */
export function regionFleetSpec(
  fleet: Pick<FleetSpec, 'instanceTypes' | 'minCapacity' | 'maxCapacity' | 'desiredCapacity' | 'onDemandBaseCapacity'>,
  region: RegionFleetOverrides,
): Pick<FleetSpec, 'instanceTypes' | 'minCapacity' | 'maxCapacity' | 'desiredCapacity' | 'onDemandBaseCapacity'> {
  return {
    instanceTypes: region.instanceTypes ?? fleet.instanceTypes,
    minCapacity: region.minCapacity ?? fleet.minCapacity,
    maxCapacity: region.maxCapacity ?? fleet.maxCapacity,
    desiredCapacity: region.desiredCapacity ?? fleet.desiredCapacity,
    onDemandBaseCapacity: region.onDemandBaseCapacity ?? fleet.onDemandBaseCapacity,
  };
}
