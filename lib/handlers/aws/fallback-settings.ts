/**
 * The contract between the `OnDemandFallback` construct and the fallback controller Lambda: the
 * environment variables the construct sets and the controller reads. No SDK imports here, so the
 * construct can use it without pulling the AWS SDK into a CDK app.
 */
import type { FallbackPolicyOptions } from '../../policy/fallback-policy';

/** Environment variable names the fallback controller reads. */
export const FALLBACK_ENV = {
  /** The spot group (the fleet's main Auto Scaling group, with the on-demand base). */
  SPOT_GROUP_NAME: 'SPOT_ASG_NAME',
  /** The on-demand-only fallback group whose desired capacity the controller sets. */
  FALLBACK_GROUP_NAME: 'FALLBACK_ASG_NAME',
  /** SSM parameter holding the controller's state (FallbackState JSON, compact). */
  STATE_PARAMETER_NAME: 'FALLBACK_STATE_PARAMETER',
  /** On-demand base of the fleet (kept by the spot group). */
  ON_DEMAND_BASE: 'FALLBACK_ON_DEMAND_BASE',
  /** Most instances of the fleet, both groups together. */
  MAX_CAPACITY: 'FALLBACK_MAX_CAPACITY',
  /** Instance types of the fleet, comma separated (empty with instance requirements). */
  INSTANCE_TYPES: 'FALLBACK_INSTANCE_TYPES',
  /** Seconds of scaling activities scanned for failed launches on each run. */
  LOOKBACK_SECONDS: 'FALLBACK_LOOKBACK_SECONDS',
  /** Policy options, JSON (`FallbackPolicyOptions`). */
  POLICY_OPTIONS: 'FALLBACK_POLICY_OPTIONS',
  /** The spare spot group (spot only, min 0) whose size, subnets and instance types the controller sets. Optional. */
  SPARE_GROUP_NAME: 'SPARE_ASG_NAME',
  /** Subnet of each zone the spare group may launch in, JSON `{"<zone>": "<subnet id>"}`. Optional (no zone steering without it). */
  SUBNETS: 'FALLBACK_SUBNETS',
  /**
   * Several regions, JSON `FallbackRegionSettings[]`: one entry per region, each with its own groups. When set,
   * it replaces the single-region variables above (the state parameter stays in the controller's own region).
   */
  REGIONS: 'FALLBACK_REGIONS',
  /**
   * `true`: the controller may also change the spare groups' instance types (their overrides), which needs
   * `ec2:RunInstances` on the launch template and `iam:PassRole` of the instance role. Optional (default off:
   * zones only).
   */
  STEER_TYPES: 'FALLBACK_STEER_TYPES',
} as const;

/** Namespace of the controller's metrics (the fleet dashboard reads `FallbackReplicas` here). */
export const FALLBACK_METRICS_NAMESPACE = 'SpotInferenceConstructs';
/** Powertools service name of the controller (logs only: metrics carry no `service` dimension). */
export const FALLBACK_SERVICE_NAME = 'spot-fallback-controller';

/** Metric names the controller emits, every one with the single dimension `AutoScalingGroupName` = the spot group. */
export const FALLBACK_METRIC = {
  /** On-demand replicas the fallback group runs in place of missing spot (what the controller set). */
  FALLBACK_REPLICAS: 'FallbackReplicas',
  /** Spot replicas of the spot group that are in service, healthy and not warned. */
  READY_SPOT_REPLICAS: 'ReadySpotReplicas',
  /** Spare spot replicas the controller runs in its spare groups (what it set). */
  SPARE_SPOT_REPLICAS: 'SpareSpotReplicas',
  /** Spot launch failures (insufficient capacity) the controller counted this run. */
  SPOT_LAUNCH_FAILURES: 'SpotLaunchFailures',
  /** Spot interruption warnings of the spot group the controller counted this run. */
  SPOT_PREEMPTIONS: 'SpotPreemptions',
  /** Events of this run the controller ignored on purpose (another fleet's, a kind it does not act on): a silent drop made visible. */
  IGNORED_EVENTS: 'IgnoredEvents',
} as const;

/** Largest value an SSM Standard parameter holds (4 KB). The state is trimmed to fit. */
export const SSM_STANDARD_PARAMETER_MAX_BYTES = 4096;

/** The groups of one region (the multi-region form of the settings). */
export interface FallbackRegionSettings {
  /** Region of the groups, e.g. `us-west-2`. */
  readonly region: string;
  /** The region's main (spot) group: observed, never resized. */
  readonly spotGroupName: string;
  /** The region's on-demand fallback group, resized by the controller. */
  readonly fallbackGroupName: string;
  /** The region's spare spot group, resized and steered by the controller. @default - no spares in this region */
  readonly spareGroupName?: string;
  /** Subnet of each zone the spare group may launch in. @default - its zones are not steered */
  readonly subnetsByZone?: { [zone: string]: string };
  /** On-demand base of the region's main group. */
  readonly onDemandBase: number;
  /** Most instances of the region's main group. */
  readonly maxCapacity: number;
  /** Instance types of the region's fleet (empty with instance requirements: no type steering). */
  readonly instanceTypes: string[];
}

/** Settings of the fallback controller, as the construct renders them. */
export interface FallbackSettings {
  /** The spot group: the fleet's main group, whose on-demand base stays where it is. */
  readonly spotGroupName: string;
  /** The on-demand-only fallback group the controller resizes. */
  readonly fallbackGroupName: string;
  /** Name of the SSM parameter holding the state. */
  readonly stateParameterName: string;
  /** On-demand base of the fleet (instances of the spot group that always run on-demand). */
  readonly onDemandBase: number;
  /** Most instances of the fleet, both groups together. */
  readonly maxCapacity: number;
  /** Instance types of the fleet (empty with instance requirements): the pools a failure in a zone may hit. */
  readonly instanceTypes: string[];
  /** Seconds of scaling activities scanned for failed launches (events can be missed). */
  readonly lookbackSeconds: number;
  /** Options of the pure policy. */
  readonly policy: FallbackPolicyOptions;
  /** The spare spot group of the (single) region. @default - no spares */
  readonly spareGroupName?: string;
  /** Subnet of each zone the spare group may launch in. @default - its zones are not steered */
  readonly subnetsByZone?: { [zone: string]: string };
  /** Several regions; replaces the single-region groups when given. @default - one region, the controller's own */
  readonly regions?: FallbackRegionSettings[];
  /** Steer the spare groups' instance types too (not only their zones). @default false */
  readonly steerInstanceTypes?: boolean;
}

/** Render settings as the Lambda's environment variables. */
export function renderFallbackEnvironment(s: FallbackSettings): Record<string, string> {
  return {
    [FALLBACK_ENV.SPOT_GROUP_NAME]: s.spotGroupName,
    [FALLBACK_ENV.FALLBACK_GROUP_NAME]: s.fallbackGroupName,
    [FALLBACK_ENV.STATE_PARAMETER_NAME]: s.stateParameterName,
    [FALLBACK_ENV.ON_DEMAND_BASE]: String(s.onDemandBase),
    [FALLBACK_ENV.MAX_CAPACITY]: String(s.maxCapacity),
    [FALLBACK_ENV.INSTANCE_TYPES]: s.instanceTypes.join(','),
    [FALLBACK_ENV.LOOKBACK_SECONDS]: String(s.lookbackSeconds),
    [FALLBACK_ENV.POLICY_OPTIONS]: JSON.stringify(s.policy),
    ...(s.spareGroupName ? { [FALLBACK_ENV.SPARE_GROUP_NAME]: s.spareGroupName } : {}),
    ...(s.subnetsByZone ? { [FALLBACK_ENV.SUBNETS]: JSON.stringify(Object.entries(s.subnetsByZone).map(([zone, subnetId]) => ({ zone, subnetId }))) } : {}),
    ...(s.regions && s.regions.length > 0 ? { [FALLBACK_ENV.REGIONS]: JSON.stringify(s.regions) } : {}),
    ...(s.steerInstanceTypes ? { [FALLBACK_ENV.STEER_TYPES]: 'true' } : {}),
  };
}

/**
 * Subnets by zone from their JSON form: a list `[{zone, subnetId}]` (what the construct renders: zone names
 * may be tokens at synth, so they cannot be object keys) or an object `{zone: subnetId}`. `undefined` stays
 * `undefined`; anything else is `null` (malformed).
 */
export function subnetMap(x: unknown): { [zone: string]: string } | undefined | null {
  if (x === undefined) return undefined;
  if (Array.isArray(x)) {
    const out: { [zone: string]: string } = {};
    for (const e of x) {
      if (!e || typeof e !== 'object' || typeof (e as { zone?: unknown }).zone !== 'string' || typeof (e as { subnetId?: unknown }).subnetId !== 'string') return null;
      out[(e as { zone: string }).zone] = (e as { subnetId: string }).subnetId;
    }
    return out;
  }
  if (x && typeof x === 'object' && Object.values(x).every((v) => typeof v === 'string')) return x as { [zone: string]: string };
  return null;
}

const isCount = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x >= 0;

/** Check one parsed `FALLBACK_REGIONS` entry; returns the problems (empty when fine). */
export function regionSettingsProblems(r: unknown, i: number): string[] {
  const out: string[] = [];
  const at = `${FALLBACK_ENV.REGIONS}[${i}]`;
  if (!r || typeof r !== 'object') return [`${at} (${JSON.stringify(r)}) must be an object {region, spotGroupName, fallbackGroupName, onDemandBase, maxCapacity, instanceTypes}`];
  const o = r as Record<string, unknown>;
  for (const k of ['region', 'spotGroupName', 'fallbackGroupName'] as const) if (typeof o[k] !== 'string' || (o[k] as string).length === 0) out.push(`${at}.${k} (${JSON.stringify(o[k])}) must be a non-empty string`);
  for (const k of ['onDemandBase', 'maxCapacity'] as const) if (!isCount(o[k])) out.push(`${at}.${k} (${JSON.stringify(o[k])}) must be a whole number, 0 or more`);
  if (!Array.isArray(o.instanceTypes) || !o.instanceTypes.every((t) => typeof t === 'string')) out.push(`${at}.instanceTypes (${JSON.stringify(o.instanceTypes)}) must be a list of instance type names (empty with instance requirements)`);
  if (o.spareGroupName !== undefined && typeof o.spareGroupName !== 'string') out.push(`${at}.spareGroupName (${JSON.stringify(o.spareGroupName)}) must be a string`);
  if (o.subnetsByZone !== undefined && (typeof o.subnetsByZone !== 'object' || o.subnetsByZone === null || !Object.values(o.subnetsByZone).every((v) => typeof v === 'string'))) {
    out.push(`${at}.subnetsByZone (${JSON.stringify(o.subnetsByZone)}) must map zone names to subnet ids`);
  }
  return out;
}

/**
 * Read settings from the Lambda's environment. Throws when a variable is missing or malformed, so a
 * misconfigured function fails loudly at cold start instead of never falling back.
 */
export function fallbackSettingsFromEnv(env: Record<string, string | undefined>): FallbackSettings {
  const required = (name: string, what: string): string => {
    const v = env[name];
    if (!v) throw new Error(`${name} is not set: the fallback controller needs ${what}`);
    return v;
  };
  const count = (name: string, what: string): number => {
    const raw = required(name, what);
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} (${raw}) must be a whole number, 0 or more`);
    return n;
  };
  let policy: FallbackPolicyOptions = {};
  const rawPolicy = env[FALLBACK_ENV.POLICY_OPTIONS];
  if (rawPolicy) {
    try {
      policy = JSON.parse(rawPolicy) as FallbackPolicyOptions;
    } catch (e) {
      throw new Error(`${FALLBACK_ENV.POLICY_OPTIONS} is not valid JSON (${(e as Error).message})`);
    }
  }
  const json = (name: string, what: string): unknown => {
    const raw = env[name];
    if (!raw) return undefined;
    try {
      return JSON.parse(raw);
    } catch (e) {
      throw new Error(`${name} is not valid JSON (${(e as Error).message}); it must be ${what}`);
    }
  };
  const subnets = subnetMap(json(FALLBACK_ENV.SUBNETS, 'a list [{"zone": "<zone>", "subnetId": "<subnet id>"}]'));
  if (subnets === null) throw new Error(`${FALLBACK_ENV.SUBNETS} (${env[FALLBACK_ENV.SUBNETS]}) must be a list [{"zone": "<zone>", "subnetId": "<subnet id>"}] or an object {"<zone>": "<subnet id>"}`);
  let regions = json(FALLBACK_ENV.REGIONS, 'a list of {region, spotGroupName, fallbackGroupName, spareGroupName?, subnets?, onDemandBase, maxCapacity, instanceTypes}');
  if (regions !== undefined) {
    if (!Array.isArray(regions) || regions.length === 0) throw new Error(`${FALLBACK_ENV.REGIONS} (${env[FALLBACK_ENV.REGIONS]}) must be a non-empty list of regions`);
    regions = regions.map((r: unknown) => {
      if (!r || typeof r !== 'object' || !('subnets' in r)) return r;
      const { subnets: list, ...rest } = r as Record<string, unknown>;
      const m = subnetMap(list);
      return { ...rest, subnetsByZone: m === null ? list : m };
    });
    const problems = (regions as unknown[]).flatMap((r, i) => regionSettingsProblems(r, i));
    if (problems.length > 0) throw new Error(`${FALLBACK_ENV.REGIONS} is malformed: ${problems.join('; ')}`);
  }
  const lookbackRaw = env[FALLBACK_ENV.LOOKBACK_SECONDS];
  const lookback = lookbackRaw ? Number(lookbackRaw) : 600;
  if (!Number.isFinite(lookback) || lookback <= 0) throw new Error(`${FALLBACK_ENV.LOOKBACK_SECONDS} (${lookbackRaw}) must be a number of seconds above 0`);
  return {
    spotGroupName: required(FALLBACK_ENV.SPOT_GROUP_NAME, 'the name of the spot Auto Scaling group'),
    fallbackGroupName: required(FALLBACK_ENV.FALLBACK_GROUP_NAME, 'the name of the on-demand fallback Auto Scaling group'),
    stateParameterName: required(FALLBACK_ENV.STATE_PARAMETER_NAME, 'the name of the SSM parameter holding its state'),
    onDemandBase: count(FALLBACK_ENV.ON_DEMAND_BASE, 'the on-demand base of the fleet'),
    maxCapacity: count(FALLBACK_ENV.MAX_CAPACITY, 'the max capacity of the fleet'),
    instanceTypes: (env[FALLBACK_ENV.INSTANCE_TYPES] ?? '').split(',').map((t) => t.trim()).filter((t) => t.length > 0),
    lookbackSeconds: lookback,
    policy,
    // Optional settings only when set, so render -> read round-trips.
    ...(env[FALLBACK_ENV.SPARE_GROUP_NAME] ? { spareGroupName: env[FALLBACK_ENV.SPARE_GROUP_NAME] } : {}),
    ...(subnets ? { subnetsByZone: subnets } : {}),
    ...(regions ? { regions: regions as FallbackRegionSettings[] } : {}),
    ...(env[FALLBACK_ENV.STEER_TYPES] === 'true' ? { steerInstanceTypes: true } : {}),
  };
}
