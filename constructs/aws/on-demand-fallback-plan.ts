// The props of OnDemandFallback resolved and checked once (names, capacities, schedule, spares, regions), so the
// construct only renders. Every problem of one props object is reported together, in the order of the checks below.
import { Duration, Token } from 'aws-cdk-lib';
import { resolveFallbackPolicyOptions } from '../../lib/policy/fallback-policy';
import { FleetSpecError, FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import type { OnDemandFallbackProps, OnDemandFallbackRegionGroups } from './on-demand-fallback-props';

/** Longest Auto Scaling group name AWS accepts. */
const MAX_GROUP_NAME_LENGTH = 255;
const FALLBACK_SUFFIX = '-od-fallback';
const SPARE_SUFFIX = '-spare';
const C = FleetSpecErrorCode;

/** What an OnDemandFallback renders: its props with every default filled and every check passed. */
export interface FallbackPlan {
  /** How often the controller runs on its own. */
  readonly controlInterval: Duration;
  /** How far back each run scans the fleet group's scaling activities. */
  readonly launchFailureLookback: Duration;
  /** Name of the on-demand fallback group. */
  readonly fallbackGroupName: string;
  /** Most instances of the fallback group (a token when the fleet's capacities are). */
  readonly maxFallbackCapacity: number;
  /** Name of the spare spot group; absent when there is none. */
  readonly spareGroupName?: string;
  /** Most spare spot replicas (0 without a spare group). */
  readonly maxSpareCapacity: number;
  /** Whether this construct runs the controller. */
  readonly controller: boolean;
  /** The other regions' groups the controller drives. */
  readonly otherRegions: OnDemandFallbackRegionGroups[];
  /** Whether the controller steers the spare group's instance types (only with a spare group). */
  readonly steerInstanceTypes: boolean;
}

/**
 * Resolves and validates the props of an OnDemandFallback; throws one FleetSpecError (scoped to `path`) with
 * every problem. `stackRegion` is the region of the construct's stack (a token when environment-agnostic).
 */
export function planFallback(props: OnDemandFallbackProps, stackRegion: string, path: string): FallbackPlan {
  const v = new ProblemCollector();
  const spec = props.fleet.spec;
  const room = known(spec.maxCapacity) && known(spec.onDemandBaseCapacity) ? spec.maxCapacity - spec.onDemandBaseCapacity : spec.maxCapacity;
  const controlInterval = props.controlInterval ?? Duration.minutes(1);
  const launchFailureLookback = props.launchFailureLookback ?? Duration.minutes(10);
  const fallbackGroupName = props.fallbackGroupName ?? truncateName(props.fleet.autoScalingGroupName, FALLBACK_SUFFIX);

  checkCapacity(v, props, room);
  checkSchedule(v, controlInterval, launchFailureLookback);
  checkFallbackGroupName(v, fallbackGroupName, props.fleet.autoScalingGroupName);
  const spares = spareReplicas(v, props);
  const spareGroupName = (props.spareGroup ?? spares > 0) ? props.spareGroupName ?? truncateName(props.fleet.autoScalingGroupName, SPARE_SUFFIX) : undefined;
  checkSpareGroupName(v, spareGroupName, fallbackGroupName, props.fleet.autoScalingGroupName);
  const controller = props.controller ?? true;
  const otherRegions = props.regions ?? [];
  checkRegions(v, controller, otherRegions, stackRegion);
  v.throwIfAny(path);

  return {
    controlInterval,
    launchFailureLookback,
    fallbackGroupName,
    maxFallbackCapacity: props.maxFallbackCapacity ?? room,
    spareGroupName,
    maxSpareCapacity: spareGroupName !== undefined ? spares : 0,
    controller,
    otherRegions,
    steerInstanceTypes: props.steerInstanceTypes === true && spareGroupName !== undefined,
  };
}

/** `name` + `suffix`, the name shortened so the whole fits an Auto Scaling group name. */
export function truncateName(name: string, suffix: string): string {
  if (Token.isUnresolved(name)) return `${name}${suffix}`;
  return `${name.slice(0, MAX_GROUP_NAME_LENGTH - suffix.length)}${suffix}`;
}

/** A number known at synth (not a token). */
function known(x: unknown): x is number {
  return typeof x === 'number' && !Token.isUnresolved(x);
}

/** The fleet leaves room above its on-demand base, and maxFallbackCapacity fits in that room. */
function checkCapacity(v: ProblemCollector, props: OnDemandFallbackProps, room: number): void {
  const spec = props.fleet.spec;
  if (known(room) && room <= 0) {
    v.add(C.CAPACITY_ORDER, 'fleet', `the fleet's maxCapacity (${spec.maxCapacity}) leaves no room above its onDemandBaseCapacity (${spec.onDemandBaseCapacity}): everything already runs on-demand, so there is nothing to fall back from; raise maxCapacity or do not add an OnDemandFallback`);
  }
  const mfc = props.maxFallbackCapacity;
  if (mfc !== undefined && known(mfc) && !(Number.isInteger(mfc) && mfc >= 1 && (!known(room) || mfc <= room))) {
    v.add(C.FALLBACK_CAPACITY, 'maxFallbackCapacity', `maxFallbackCapacity (${mfc}) must be a whole number from 1 to ${known(room) ? room : 'maxCapacity'} (maxCapacity ${spec.maxCapacity} minus onDemandBaseCapacity ${spec.onDemandBaseCapacity}): the fallback only replaces spot above the base; leave it out to use ${room}`);
  }
}

/** controlInterval is an EventBridge rate; launchFailureLookback covers at least one interval. */
function checkSchedule(v: ProblemCollector, interval: Duration, lookback: Duration): void {
  if (!interval.isUnresolved()) {
    const s = interval.toSeconds();
    if (!(s >= 60 && s <= 3600 && s % 60 === 0)) {
      v.add(C.FALLBACK_SCHEDULE, 'controlInterval', `controlInterval (${s} s) must be whole minutes from 1 to 60 (an EventBridge rate; 1 minute is the shortest); use e.g. Duration.minutes(1)`);
    }
  }
  if (!lookback.isUnresolved()) {
    const s = lookback.toSeconds();
    const min = interval.isUnresolved() ? 60 : interval.toSeconds();
    if (!(s >= min && s <= 86400)) {
      v.add(C.FALLBACK_SCHEDULE, 'launchFailureLookback', `launchFailureLookback (${s} s) must be at least controlInterval (${min} s), so no failed launch falls between two runs, and at most 1 day; use e.g. Duration.minutes(10)`);
    }
  }
}

/** The fallback group's name is a valid Auto Scaling group name other than the fleet group's. */
function checkFallbackGroupName(v: ProblemCollector, fallbackName: string, fleetGroupName: string): void {
  if (Token.isUnresolved(fallbackName)) return;
  if (!isGroupName(fallbackName)) {
    v.add(C.AWS_GROUP_NAME, 'fallbackGroupName', `fallbackGroupName ("${fallbackName}") must be 1 to ${MAX_GROUP_NAME_LENGTH} characters without ":" (an Auto Scaling group name)`);
  } else if (fallbackName === fleetGroupName) {
    v.add(C.AWS_GROUP_NAME, 'fallbackGroupName', `fallbackGroupName ("${fallbackName}") is the fleet group's own name; pick another name or leave it out to use "${truncateName(fleetGroupName, FALLBACK_SUFFIX)}"`);
  }
}

/** The policy's spare spot replicas (0 when the policy is invalid: its problems are recorded, prefixed `policy.`). */
function spareReplicas(v: ProblemCollector, props: OnDemandFallbackProps): number {
  let spares = 0;
  try {
    spares = resolveFallbackPolicyOptions(props.policy ?? {}).spareSpotReplicas;
  } catch (e) {
    if (!(e instanceof FleetSpecError)) throw e;
    v.addAll(e.problems.map((p) => ({ ...p, prop: `policy.${p.prop}`, message: `policy.${p.message}` })));
  }
  if (props.spareGroup === true && spares === 0) {
    v.add(C.FALLBACK_SPARES, 'spareGroup', `spareGroup is true but policy.spareSpotReplicas is 0, so the spare group would never run anything; set policy.spareSpotReplicas to 1 or more, or leave spareGroup out`);
  }
  return spares;
}

/** The spare group's name is a valid Auto Scaling group name other than the fleet and fallback groups'. */
function checkSpareGroupName(v: ProblemCollector, spareName: string | undefined, fallbackName: string, fleetGroupName: string): void {
  if (spareName === undefined || Token.isUnresolved(spareName)) return;
  if (!isGroupName(spareName)) {
    v.add(C.AWS_GROUP_NAME, 'spareGroupName', `spareGroupName ("${spareName}") must be 1 to ${MAX_GROUP_NAME_LENGTH} characters without ":" (an Auto Scaling group name)`);
  } else if (spareName === fleetGroupName || spareName === fallbackName) {
    v.add(C.AWS_GROUP_NAME, 'spareGroupName', `spareGroupName ("${spareName}") is the name of the fleet group or of the fallback group; pick another name or leave it out to use "${truncateName(fleetGroupName, SPARE_SUFFIX)}"`);
  }
}

function isGroupName(name: string): boolean {
  return name.length >= 1 && name.length <= MAX_GROUP_NAME_LENGTH && !name.includes(':');
}

/** Other regions only with a controller, each a real region named once, with whole capacities, in a stack with a region. */
function checkRegions(v: ProblemCollector, controller: boolean, otherRegions: OnDemandFallbackRegionGroups[], stackRegion: string): void {
  if (!controller && otherRegions.length > 0) {
    v.add(C.REGION_LIST, 'regions', `regions lists ${otherRegions.length} region(s) but controller is false: only the construct that runs the controller observes other regions; pass regions to that one, or set controller: true`);
  }
  const seenRegions = new Set<string>(Token.isUnresolved(stackRegion) ? [] : [stackRegion]);
  otherRegions.forEach((r, i) => {
    if (Token.isUnresolved(r.region) || !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(r.region)) {
      v.add(C.REGION_LIST, `regions[${i}].region`, `regions[${i}].region ("${r.region}") must be an AWS region name known at synth, e.g. "us-west-2"`);
    } else if (seenRegions.has(r.region)) {
      v.add(C.REGION_LIST, `regions[${i}].region`, `regions[${i}].region ("${r.region}") is listed twice or is this stack's own region; list each other region once (this fleet's region is always observed)`);
    }
    seenRegions.add(r.region);
    for (const k of ['onDemandBase', 'maxCapacity'] as const) {
      const x = r[k];
      if (known(x) && !(Number.isInteger(x) && x >= 0)) v.add(C.CAPACITY_NEGATIVE, `regions[${i}].${k}`, `regions[${i}].${k} (${x}) must be a whole number, 0 or more`);
    }
  });
  if (otherRegions.length > 0 && Token.isUnresolved(stackRegion)) {
    v.add(C.AWS_STACK_ENVIRONMENT, 'regions', 'regions needs a stack with an explicit env.region: the controller names its own region next to the others; set env on the stack');
  }
}
