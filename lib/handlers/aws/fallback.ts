/**
 * The AWS on-demand fallback controller: a thin loop that reads the fleet's groups in every region, calls the
 * cloud-neutral controller step (`planControllerStep` in lib/policy, which calls `decideFallback`) and applies
 * EVERY part of its decision through groups the controller owns:
 * - the on-demand fallback: `SetDesiredCapacity` on each region's on-demand-only fallback group;
 * - the spare spot replicas: `SetDesiredCapacity` on each region's spare spot group (spot only, min 0, next to
 *   the main group; nothing else sizes it);
 * - pool steering: `UpdateAutoScalingGroup` of a spare group's subnets (`VPCZoneIdentifier`, one subnet per
 *   zone) and instance types (`MixedInstancesPolicy` overrides), so new spares avoid the pools the policy
 *   avoids. The main group is never written: its desired capacity belongs to the user's scaling policies, and
 *   its spot placement is its allocation strategy's (the cloud's behaviour, modelled as such by the simulator).
 *
 * One run per invocation, whatever triggered it (the schedule, an `EC2 Instance Launch Unsuccessful` event, a
 * spot interruption warning): describe each region's groups, read the state from SSM, tell spot from on-demand
 * instances of the main groups (EC2 DescribeInstances, see fallback-ec2.ts), count new launch failures and
 * preemptions (deduplicated by scaling activity id and instance id, so a redelivered event changes nothing),
 * plan, persist, apply, emit `FallbackReplicas` and `SpareSpotReplicas`. The Lambda has a reserved concurrency
 * of 1, so runs never race on the state. A region whose groups vanished is left out (and logged); an action
 * that fails for a non-transient reason is logged and redone by the next run (it compares with the live group).
 *
 * Pure functions that take their clients (see `fallback.entry.ts` for the Lambda wiring); time and sleep are
 * injected so tests run on fake time. {@link buildAwsStepInput} is the pure observation -> step-input mapping
 * the simulator's equivalence test calls.
 */
import {
  Activity,
  AutoScalingClient,
  AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  Instance as GroupInstance,
  SetDesiredCapacityCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { ControllerAction, ControllerGroup, ControllerGroupRole, ControllerStep, ControllerStepInput, planControllerStep, poolId } from '../../policy/controller';
import { FallbackAction, FallbackDecision, FallbackState, SpotPoolObservation } from '../../policy/fallback-policy';
import { EventBridgeEnvelope, InterruptionEventKind, classifyEvent, ec2EventInstanceId } from './events';
import { InstanceLifecycle, InstanceLifecycleReader, StateParameterStore, createEc2LifecycleReader, createSsmParameterStore } from './fallback-ec2';
import { FALLBACK_METRIC, FallbackRegionSettings, FallbackSettings } from './fallback-settings';
import { ControllerState, decodeControllerState, encodeControllerState } from './fallback-state';
import { errorMessage, errorName, withRetry } from './retry';

export { InstanceLifecycleReader, StateParameterStore } from './fallback-ec2';

/** The clients of one region. */
export interface RegionalClients {
  readonly autoscaling: AutoScalingClient;
  readonly ec2: InstanceLifecycleReader;
}

/** The AWS clients the controller calls. */
export interface FallbackClients {
  /** Auto Scaling in the controller's own region. */
  readonly autoscaling: AutoScalingClient;
  /** The state parameter (SSM, the controller's own region). @default - SSM calls signed with the Auto Scaling client's credentials */
  readonly ssm?: StateParameterStore;
  /** Instance lifecycles in the controller's own region. @default - EC2 Query calls signed with the Auto Scaling client's credentials */
  readonly ec2?: InstanceLifecycleReader;
  /** Clients of another region (multi-region fleets). @default - the own region's clients for every region */
  readonly clientsFor?: (region: string) => RegionalClients;
}

/** Everything the controller needs; tests pass mocked clients and a fake clock. */
export interface FallbackDeps extends FallbackClients {
  readonly settings: FallbackSettings;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /** @default real setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter source for retries. @default Math.random */
  readonly random?: () => number;
}

/** What started a run. */
export enum FallbackTrigger {
  SCHEDULE = 'schedule',
  LAUNCH_UNSUCCESSFUL = 'launch-unsuccessful',
  SPOT_WARNING = 'spot-warning',
  OTHER = 'other',
}

/** How a run ended. */
export enum FallbackOutcome {
  /** A group the controller owns was resized or steered. */
  APPLIED = 'applied',
  /** Every owned group already had what was wanted (nothing was called). */
  UNCHANGED = 'unchanged',
  /** In every region, the spot group or the fallback group does not exist (deleted, or not created yet): nothing done. */
  GROUP_MISSING = 'group-missing',
}

/** Result of one run of {@link runFallbackController}. */
export interface FallbackRunResult {
  readonly trigger: FallbackTrigger;
  readonly outcome: FallbackOutcome;
  /** The policy's action (absent when a group is missing). */
  readonly action?: FallbackAction;
  /** Why, with the numbers (logged too). */
  readonly reason: string;
  /** Desired capacity of the fallback groups before the run (all regions). */
  readonly fallbackBefore?: number;
  /** Desired capacity of the fallback groups after the run (the `FallbackReplicas` metric). */
  readonly fallbackAfter?: number;
  /** Desired capacity of the spare groups after the run (the `SpareSpotReplicas` metric). */
  readonly spareAfter?: number;
  /** Spot replicas of the spot group in service, healthy and not warned. */
  readonly readySpot?: number;
  /** New spot launch failures counted this run. */
  readonly launchFailures?: number;
  /** New spot interruption warnings counted this run. */
  readonly preemptions?: number;
  /** The policy's decision, for the record. */
  readonly decision?: FallbackDecision;
  /** Every action of the step (one per owned group). */
  readonly actions?: ControllerAction[];
  /** The actions that were sent to Auto Scaling (changed ones that succeeded). */
  readonly applied?: ControllerAction[];
  /** What the step was given (for the simulator's equivalence test). */
  readonly stepInput?: ControllerStepInput;
  /** What the step returned. */
  readonly step?: ControllerStep;
}

/** Options of one run. */
export interface RunOptions {
  /** Epoch ms after which no retry is started (the Lambda's deadline minus a margin). @default - none */
  readonly deadline?: number;
}

const LEAVING = /^(Terminating|Terminated|Detaching|Detached|EnteringStandby|Standby)/;
const LAUNCHING = /^(Pending|Warmed)/;
/** Launch failures that mean "no spot capacity here", as EC2 Auto Scaling words them. */
const CAPACITY_FAILURE = /insufficient|capacity|MaxSpotInstanceCountExceeded|SpotMaxPriceTooLow|no Spot capacity|InsufficientInstanceCapacity/i;
const ZONE = /\b([a-z]{2}(?:-[a-z]+)+-\d[a-z])\b/;

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Classify the triggering event. */
export function triggerOf(event: Partial<EventBridgeEnvelope> | undefined): FallbackTrigger {
  if (!event || typeof event.source !== 'string') return FallbackTrigger.OTHER;
  if (event.source === 'aws.events' && event['detail-type'] === 'Scheduled Event') return FallbackTrigger.SCHEDULE;
  const kind = classifyEvent(event as EventBridgeEnvelope);
  if (kind === InterruptionEventKind.LAUNCH_UNSUCCESSFUL) return FallbackTrigger.LAUNCH_UNSUCCESSFUL;
  if (kind === InterruptionEventKind.SPOT_WARNING) return FallbackTrigger.SPOT_WARNING;
  return FallbackTrigger.OTHER;
}

/** A failed spot launch: where it failed, as far as the message tells. */
export interface LaunchFailure {
  /** Dedup key (`a:<scaling activity id>`). */
  readonly key: string;
  readonly zone?: string;
  readonly instanceType?: string;
  readonly message: string;
}

/**
 * Where a failed launch failed. The zone comes from the activity's details (`Availability Zone`) or the
 * message's `(us-east-1a)`; the type from `sufficient <type> capacity`. Either may be unknown.
 */
export function parseLaunchFailure(key: string, message: string, details?: unknown): LaunchFailure {
  let zone: string | undefined;
  let d = details;
  if (typeof d === 'string') {
    try {
      d = JSON.parse(d);
    } catch {
      d = undefined;
    }
  }
  if (d && typeof d === 'object') {
    const z = (d as Record<string, unknown>)['Availability Zone'];
    if (typeof z === 'string' && z.length > 0) zone = z;
  }
  zone ??= ZONE.exec(message)?.[1];
  const type = /sufficient\s+([a-z0-9-]+\.[a-z0-9-]+)\s+capacity/i.exec(message)?.[1] ?? /instance type\s+\(?([a-z0-9-]+\.[a-z0-9-]+)\)?/i.exec(message)?.[1];
  return { key, zone, instanceType: type, message };
}

/** What one region's groups looked like this run (the observation, before any decision). */
export interface AwsRegionView {
  readonly settings: FallbackRegionSettings;
  readonly spot: AutoScalingGroup;
  readonly fallback: AutoScalingGroup;
  /** Absent when the region has no spare group (or it vanished). */
  readonly spare?: AutoScalingGroup;
  /** Lifecycle of the main group's live instances (vanished ones absent). */
  readonly lifecycles: Map<string, InstanceLifecycle>;
}

/** Counted this run from the triggering event and the activity scans (deduplicated). */
export interface AwsRunEvents {
  /** New preemptions per pool id. */
  readonly preempted: Map<string, number>;
  /** New capacity launch failures per pool id. */
  readonly launchFailures: Map<string, number>;
  /** Instance ids warned so far (not ready any more). */
  readonly warned: (instanceId: string) => boolean;
}

/** One region's reading: the pools, the groups the controller owns, and the numbers of the fleet. */
interface RegionReading {
  readonly pools: SpotPoolObservation[];
  readonly groups: ControllerGroup[];
  readonly target: number;
  readonly base: number;
  readonly maxCapacity: number;
  readonly onDemandReady: number;
  readonly mainSpotInService: number;
  readonly readySpot: number;
}

const ready = (i: GroupInstance): boolean => i.LifecycleState === 'InService' && i.HealthStatus === 'Healthy';
const alive = (g: AutoScalingGroup | undefined): GroupInstance[] => (g?.Instances ?? []).filter((i) => i.InstanceId && !LEAVING.test(i.LifecycleState ?? ''));

/** Pool id of an instance: `<region>/<zone>/<type>`. */
export function instancePool(region: string, i: GroupInstance, lifecycle?: InstanceLifecycle): string {
  return poolId(region, i.AvailabilityZone ?? 'unknown', i.InstanceType ?? lifecycle?.instanceType ?? 'unknown');
}

/** The instance types a group's mixed instances policy launches (its overrides). */
function overrideTypes(g: AutoScalingGroup | undefined): string[] {
  return (g?.MixedInstancesPolicy?.LaunchTemplate?.Overrides ?? []).map((o) => o.InstanceType).filter((t): t is string => typeof t === 'string' && t.length > 0);
}

function readRegion(v: AwsRegionView, ev: AwsRunEvents, steerTypes: boolean): RegionReading {
  const r = v.settings.region;
  const mainAlive = alive(v.spot);
  const spotInstances: GroupInstance[] = [];
  const onDemandInstances: GroupInstance[] = [];
  for (const i of mainAlive) {
    const d = v.lifecycles.get(i.InstanceId!);
    if (!d) continue; // vanished between the two calls: gone
    (d.spot ? spotInstances : onDemandInstances).push(i);
  }
  // The spare group is spot only: every live instance of it is spot.
  const spareInstances = alive(v.spare);
  const poolIds: string[] = [];
  const addPool = (p: string): void => {
    if (!poolIds.includes(p)) poolIds.push(p);
  };
  for (const t of v.settings.instanceTypes) for (const z of v.spot.AvailabilityZones ?? []) addPool(poolId(r, z, t));
  const spareZones = v.settings.subnetsByZone ? Object.keys(v.settings.subnetsByZone) : v.spare?.AvailabilityZones ?? [];
  const spareTypes = v.settings.instanceTypes.length > 0 ? v.settings.instanceTypes : overrideTypes(v.spare);
  if (v.spare) for (const t of spareTypes) for (const z of spareZones) addPool(poolId(r, z, t));
  const all = [...spotInstances, ...spareInstances];
  for (const i of all) addPool(instancePool(r, i, v.lifecycles.get(i.InstanceId!)));
  for (const p of [...ev.preempted.keys(), ...ev.launchFailures.keys()]) if (p.startsWith(`${r}/`)) addPool(p);
  const pools: SpotPoolObservation[] = poolIds.map((pool) => {
    const mine = all.filter((i) => instancePool(r, i, v.lifecycles.get(i.InstanceId!)) === pool);
    return {
      pool,
      ready: mine.filter((i) => ready(i) && !ev.warned(i.InstanceId!)).length,
      launching: mine.filter((i) => LAUNCHING.test(i.LifecycleState ?? '')).length,
      preempted: ev.preempted.get(pool) ?? 0,
      launchFailures: ev.launchFailures.get(pool) ?? 0,
    };
  });
  // The target is the main group's desired capacity; the on-demand instances it runs (its base, and any
  // percentage above it) are not the fallback's concern.
  const maxCapacity = v.spot.MaxSize ?? v.settings.maxCapacity;
  const target = Math.min(v.spot.DesiredCapacity ?? 0, maxCapacity);
  const base = Math.min(target, Math.max(v.settings.onDemandBase, onDemandInstances.length));
  const inService = mainAlive.filter((i) => i.LifecycleState === 'InService').length;
  const groups: ControllerGroup[] = [
    {
      id: v.settings.fallbackGroupName,
      region: r,
      role: ControllerGroupRole.ON_DEMAND,
      desired: v.fallback.DesiredCapacity ?? 0,
      maxSize: v.fallback.MaxSize ?? maxCapacity,
      zones: v.fallback.AvailabilityZones ?? [],
      types: overrideTypes(v.fallback),
    },
  ];
  if (v.spare && v.settings.spareGroupName) {
    const typesSteerable = steerTypes && v.settings.instanceTypes.length > 0 && overrideTypes(v.spare).length > 0;
    groups.push({
      id: v.settings.spareGroupName,
      region: r,
      role: ControllerGroupRole.SPARE_SPOT,
      desired: v.spare.DesiredCapacity ?? 0,
      maxSize: v.spare.MaxSize ?? 0,
      zones: v.spare.AvailabilityZones ?? [],
      types: overrideTypes(v.spare),
      allowedZones: v.settings.subnetsByZone ? Object.keys(v.settings.subnetsByZone) : undefined,
      allowedTypes: typesSteerable ? v.settings.instanceTypes : undefined,
    });
  }
  return {
    pools,
    groups,
    target,
    base,
    maxCapacity,
    onDemandReady: onDemandInstances.filter(ready).length + (v.fallback.Instances ?? []).filter(ready).length,
    mainSpotInService: Math.max(0, inService - base),
    readySpot: pools.reduce((n, p) => n + p.ready, 0),
  };
}

/**
 * The pure half of a run: what the controller saw in every region -> the input of {@link planControllerStep}.
 * The handler calls exactly `planControllerStep(buildAwsStepInput(...))`, so a test (the simulator's
 * equivalence test) can feed the same observations and expect the same actions.
 */
export function buildAwsStepInput(
  views: readonly AwsRegionView[],
  events: AwsRunEvents,
  o: { nowSeconds: number; state: FallbackState; policy: FallbackSettings['policy']; steerInstanceTypes?: boolean },
): ControllerStepInput {
  const readings = views.map((v) => readRegion(v, events, o.steerInstanceTypes ?? false));
  const sum = (f: (r: RegionReading) => number): number => readings.reduce((n, r) => n + f(r), 0);
  return {
    observed: {
      nowSeconds: o.nowSeconds,
      targetReplicas: sum((r) => r.target),
      onDemandBase: sum((r) => r.base),
      maxCapacity: sum((r) => r.maxCapacity),
      onDemandReady: sum((r) => r.onDemandReady),
      pools: readings.flatMap((r) => r.pools),
      regions: views.map((v, i) => ({ region: v.settings.region, targetReplicas: readings[i].target, onDemandBase: readings[i].base })),
      mainSpotInService: sum((r) => r.mainSpotInService),
    },
    state: o.state,
    options: o.policy,
    groups: readings.flatMap((r) => r.groups),
  };
}

/** The regions of the settings (the single-region form is one region, the controller's own). */
export function regionsOf(s: FallbackSettings, homeRegion: string): FallbackRegionSettings[] {
  if (s.regions && s.regions.length > 0) return s.regions;
  return [
    {
      region: homeRegion,
      spotGroupName: s.spotGroupName,
      fallbackGroupName: s.fallbackGroupName,
      spareGroupName: s.spareGroupName,
      subnetsByZone: s.subnetsByZone,
      onDemandBase: s.onDemandBase,
      maxCapacity: s.maxCapacity,
      instanceTypes: s.instanceTypes,
    },
  ];
}

/** Run the controller once. Idempotent: the same inputs twice change nothing the second time. */
export async function runFallbackController(event: Partial<EventBridgeEnvelope> | undefined, deps: FallbackDeps, options: RunOptions = {}): Promise<FallbackRunResult> {
  const s = deps.settings;
  const nowMs = deps.now ?? Date.now;
  const retry = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    withRetry(fn, {
      sleep: deps.sleep ?? realSleep,
      now: nowMs,
      random: deps.random,
      deadline: options.deadline,
      onRetry: (e, attempt, delayMs) => deps.logger.warn(`${what} failed, retrying`, { attempt, delayMs, errorName: errorName(e), error: errorMessage(e) }),
    });
  const now = Math.floor(nowMs() / 1000);
  const trigger = triggerOf(event);
  const homeRegion = await deps.autoscaling.config.region();
  const regions = regionsOf(s, homeRegion);
  const clientsOf = (region: string): RegionalClients => {
    if (deps.clientsFor) return deps.clientsFor(region);
    return { autoscaling: deps.autoscaling, ec2: deps.ec2 ?? createEc2LifecycleReader({ region, credentials: () => deps.autoscaling.config.credentials() }) };
  };

  // 1. Every region's groups, one call per region.
  const described = await Promise.all(
    regions.map(async (r) => {
      const names = [r.spotGroupName, r.fallbackGroupName, ...(r.spareGroupName ? [r.spareGroupName] : [])];
      const out = await retry(`DescribeAutoScalingGroups ${r.region}`, () => clientsOf(r.region).autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: names })));
      const find = (n: string | undefined) => (n ? out.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === n) : undefined);
      return { settings: r, spot: find(r.spotGroupName), fallback: find(r.fallbackGroupName), spare: find(r.spareGroupName) };
    }),
  );
  const missing: string[] = [];
  const present = described.filter((d) => {
    const gone = [!d.spot ? `spot group ${d.settings.spotGroupName}` : '', !d.fallback ? `fallback group ${d.settings.fallbackGroupName}` : ''].filter((x) => x);
    if (gone.length > 0) missing.push(`${gone.join(' and ')}${regions.length > 1 ? ` (${d.settings.region})` : ''}`);
    if (d.settings.spareGroupName && !d.spare && gone.length === 0) deps.logger.warn('spare group not found (deleted, or not created yet): no spares in this region this run', { region: d.settings.region, spareGroup: d.settings.spareGroupName });
    return gone.length === 0;
  });
  if (present.length === 0) {
    const reason = `${missing.join('; ')} not found (deleted, or not created yet): nothing to do`;
    deps.logger.warn(reason, { trigger });
    return { trigger, outcome: FallbackOutcome.GROUP_MISSING, reason };
  }
  if (missing.length > 0) deps.logger.warn(`${missing.join('; ')} not found: those regions are left out of this run`, { trigger });

  // 2. The state.
  const ssm = deps.ssm ?? createSsmParameterStore({ region: homeRegion, credentials: () => deps.autoscaling.config.credentials() });
  const stored = await readState(ssm, deps, retry);
  const keepSince = now - Math.max(s.lookbackSeconds, 600) - 60;
  const seen = new Map<string, number>(stored.seen.filter(([, t]) => t >= keepSince));

  // 3. Spot or on-demand: only DescribeInstances tells, for the main groups' instances.
  const views: AwsRegionView[] = await Promise.all(
    present.map(async (d) => {
      const ids = alive(d.spot).map((i) => i.InstanceId!);
      const lifecycles = ids.length > 0 ? await retry(`DescribeInstances ${d.settings.region}`, () => clientsOf(d.settings.region).ec2.describe(ids)) : new Map<string, InstanceLifecycle>();
      return { settings: d.settings, spot: d.spot!, fallback: d.fallback!, spare: d.spare, lifecycles };
    }),
  );
  const viewOfGroup = (name: unknown): { view: AwsRegionView; group: AutoScalingGroup } | undefined => {
    for (const v of views) {
      if (v.spot.AutoScalingGroupName === name) return { view: v, group: v.spot };
      if (v.spare && v.spare.AutoScalingGroupName === name) return { view: v, group: v.spare };
    }
    return undefined;
  };

  // 4. New preemptions: the warning that triggered this run, if it is one of ours (any region).
  // Events ignored on purpose (another fleet's, an unknown kind) are logged at INFO and counted (IgnoredEvents).
  let ignored = 0;
  if (trigger === FallbackTrigger.OTHER && event && typeof event.source === 'string') {
    ignored++;
    deps.logger.info('an event the controller does not act on: ignored, a plain control run', { source: event.source, detailType: event['detail-type'] });
  }
  const preempted = new Map<string, number>();
  if (trigger === FallbackTrigger.SPOT_WARNING) {
    const id = ec2EventInstanceId(event as EventBridgeEnvelope);
    // Any instance of a spot or spare group, leaving ones included: the drain handler may already have
    // marked it unhealthy and sent it to Terminating:Wait when this run starts. A warned instance is spot.
    let hit: { view: AwsRegionView; inst: GroupInstance } | undefined;
    for (const v of views) {
      const inst = id ? [...(v.spot.Instances ?? []), ...(v.spare?.Instances ?? [])].find((i) => i.InstanceId === id) : undefined;
      if (inst) hit = { view: v, inst };
    }
    if (id && hit) {
      const key = `w:${id}`;
      if (seen.has(key)) {
        deps.logger.info('spot warning already counted (duplicate delivery)', { instanceId: id });
      } else {
        seen.set(key, now);
        const p = instancePool(hit.view.settings.region, hit.inst, hit.view.lifecycles.get(id));
        preempted.set(p, (preempted.get(p) ?? 0) + 1);
      }
    } else {
      ignored++;
      deps.logger.info('spot warning for an instance outside the spot groups (another fleet): ignored, a plain control run', { instanceId: id });
    }
  }
  const warned = (instanceId: string): boolean => seen.has(`w:${instanceId}`);

  // 5. New launch failures: the triggering event, and failed scaling activities of the spot and spare groups
  // within the lookback (events can be lost).
  const failures: Array<LaunchFailure & { region: string; types: string[]; zones: string[] }> = [];
  const scope = (v: AwsRegionView, g: AutoScalingGroup) => ({ region: v.settings.region, types: v.settings.instanceTypes.length > 0 ? v.settings.instanceTypes : overrideTypes(g), zones: g.AvailabilityZones ?? [] });
  if (trigger === FallbackTrigger.LAUNCH_UNSUCCESSFUL) {
    const d = (event as EventBridgeEnvelope).detail as Record<string, unknown>;
    const hit = viewOfGroup(d.AutoScalingGroupName);
    if (hit) {
      failures.push({ ...parseLaunchFailure(`a:${String(d.ActivityId || event!.id)}`, String(d.StatusMessage ?? ''), d.Details), ...scope(hit.view, hit.group) });
    } else if (views.some((v) => v.fallback.AutoScalingGroupName === d.AutoScalingGroupName)) {
      deps.logger.warn('an on-demand launch of the fallback group failed: on-demand capacity is short too', { statusMessage: d.StatusMessage });
    } else {
      ignored++;
      deps.logger.info('launch failure of a group the controller does not observe: ignored, a plain control run', { autoScalingGroupName: d.AutoScalingGroupName });
    }
  }
  for (const v of views) {
    for (const g of [v.spot, ...(v.spare ? [v.spare] : [])]) {
      const activities = await retry(`DescribeScalingActivities ${v.settings.region}`, () =>
        clientsOf(v.settings.region).autoscaling.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: g.AutoScalingGroupName, MaxRecords: 50 })),
      );
      for (const a of activities.Activities ?? []) {
        if (!isRecentFailure(a, now - s.lookbackSeconds)) continue;
        failures.push({ ...parseLaunchFailure(`a:${a.ActivityId}`, `${a.StatusMessage ?? ''} ${a.Description ?? ''}`, a.Details), ...scope(v, g) });
      }
    }
  }
  const launchFailures = new Map<string, number>();
  let newFailures = 0;
  for (const f of failures) {
    if (seen.has(f.key)) continue;
    seen.set(f.key, now);
    if (!CAPACITY_FAILURE.test(f.message)) {
      deps.logger.warn('a launch of a spot group failed for a reason other than capacity; not held against a pool', { key: f.key, message: f.message });
      continue;
    }
    newFailures++;
    let hit: string[] = [];
    if (f.zone !== undefined || f.instanceType !== undefined) {
      const zones = f.zone !== undefined ? [f.zone] : f.zones;
      const types = f.instanceType !== undefined ? [f.instanceType] : f.types;
      hit = zones.flatMap((z) => types.map((t) => poolId(f.region, z, t)));
      if (hit.length === 0) hit = [poolId(f.region, f.zone ?? '*', f.instanceType ?? '*')];
    }
    if (hit.length === 0) deps.logger.warn('a spot launch failed where the message does not say; counted, not held against a pool', { key: f.key, message: f.message });
    for (const p of hit) launchFailures.set(p, (launchFailures.get(p) ?? 0) + 1);
  }

  // 6. Plan: the pure step on the observations.
  const fallbackBefore = views.reduce((n, v) => n + (v.fallback.DesiredCapacity ?? 0), 0);
  let policyState = stored.policy;
  if (stored.fresh && fallbackBefore > 0) {
    // No state (first run, or the parameter was reset): keep what runs; the policy lowers it only once spot covers.
    policyState = { ...policyState, fallbackReplicas: fallbackBefore, lastIncreaseAt: now };
  }
  const stepInput = buildAwsStepInput(views, { preempted, launchFailures, warned }, { nowSeconds: now, state: policyState, policy: s.policy, steerInstanceTypes: s.steerInstanceTypes });
  const step = planControllerStep(stepInput);
  const decision = step.decision;

  // 7. Persist, then apply (a failed apply is redone by the next run: it compares with the live group).
  const next: ControllerState = { policy: step.nextState, seen: [...seen.entries()].sort((a, b) => a[1] - b[1]), lastRunAt: now, fresh: false };
  await retry('PutParameter', () => ssm.put(s.stateParameterName, encodeControllerState(next, now)));
  const applied: ControllerAction[] = [];
  const failed: string[] = [];
  for (const a of step.actions) {
    const v = views.find((x) => x.settings.region === a.region)!;
    const live = a.role === ControllerGroupRole.ON_DEMAND ? v.fallback : v.spare!;
    const desired = Math.max(live.MinSize ?? 0, Math.min(a.desired, live.MaxSize ?? a.desired));
    const steer = a.zones !== undefined || a.types !== undefined;
    if (desired === (live.DesiredCapacity ?? 0) && !steer) continue;
    const asg = clientsOf(a.region).autoscaling;
    try {
      if (steer) {
        await retry(`UpdateAutoScalingGroup ${a.group}`, () => asg.send(new UpdateAutoScalingGroupCommand(steerInput(a, live, v.settings, desired))));
      } else {
        await retry(`SetDesiredCapacity ${a.group}`, () => asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: a.group, DesiredCapacity: desired, HonorCooldown: false })));
      }
      applied.push({ ...a, desired });
    } catch (e) {
      // The group vanished or refused (a deploy in progress, a limit): the state is saved; the next run redoes it.
      failed.push(`${a.group}: ${errorName(e) ?? 'Error'} ${errorMessage(e)}`);
      deps.logger.warn('applying an action failed; the next run redoes it', { group: a.group, region: a.region, errorName: errorName(e), error: errorMessage(e) });
    }
  }
  if (failed.length > 0 && applied.length === 0 && step.actions.some((a) => a.changed)) {
    // Nothing could be applied at all: fail the run so EventBridge retries it (the state is already saved).
    const err = new Error(`no action could be applied: ${failed.join('; ')}`);
    err.name = 'FallbackApplyFailed';
    throw err;
  }

  const fallbackAfter = step.actions.filter((a) => a.role === ControllerGroupRole.ON_DEMAND).reduce((n, a) => {
    const v = views.find((x) => x.settings.region === a.region)!;
    return n + Math.max(v.fallback.MinSize ?? 0, Math.min(a.desired, v.fallback.MaxSize ?? a.desired));
  }, 0);
  const spareAfter = step.actions.filter((a) => a.role === ControllerGroupRole.SPARE_SPOT).reduce((n, a) => n + a.desired, 0);
  const readySpot = stepInput.observed.pools.reduce((n, p) => n + p.ready, 0);
  const outcome = applied.length > 0 ? FallbackOutcome.APPLIED : FallbackOutcome.UNCHANGED;
  const reason = [...step.reasons, ...(fallbackAfter !== decision.fallbackReplicas ? [`fallback bounded to ${fallbackAfter} (the decision was ${decision.fallbackReplicas})`] : []), ...failed.map((f) => `not applied: ${f}`)].join('; ');
  const preemptions = [...preempted.values()].reduce((a, b) => a + b, 0);
  deps.logger.info(`fallback ${decision.action}: ${outcome === FallbackOutcome.APPLIED ? `applied ${applied.map((a) => `${a.group} -> ${a.desired}${a.zones ? ` zones ${a.zones.join(',')}` : ''}${a.types ? ` types ${a.types.join(',')}` : ''}`).join('; ')}` : 'groups unchanged'}`, {
    trigger,
    action: decision.action,
    outcome,
    reason,
    fallbackBefore,
    fallbackAfter,
    spareAfter,
    targetReplicas: stepInput.observed.targetReplicas,
    onDemandBase: stepInput.observed.onDemandBase,
    maxCapacity: stepInput.observed.maxCapacity,
    readySpot,
    launchFailures: newFailures,
    preemptions,
    regions: views.map((v) => v.settings.region),
    preferredPools: decision.preferredPools,
    unavailablePools: decision.unavailablePools,
  });
  deps.metrics.addMetric(FALLBACK_METRIC.FALLBACK_REPLICAS, MetricUnit.Count, fallbackAfter);
  deps.metrics.addMetric(FALLBACK_METRIC.SPARE_SPOT_REPLICAS, MetricUnit.Count, spareAfter);
  deps.metrics.addMetric(FALLBACK_METRIC.READY_SPOT_REPLICAS, MetricUnit.Count, readySpot);
  deps.metrics.addMetric(FALLBACK_METRIC.SPOT_LAUNCH_FAILURES, MetricUnit.Count, newFailures);
  deps.metrics.addMetric(FALLBACK_METRIC.SPOT_PREEMPTIONS, MetricUnit.Count, preemptions);
  deps.metrics.addMetric(FALLBACK_METRIC.IGNORED_EVENTS, MetricUnit.Count, ignored);
  return {
    trigger,
    outcome,
    action: decision.action,
    reason,
    fallbackBefore,
    fallbackAfter,
    spareAfter,
    readySpot,
    launchFailures: newFailures,
    preemptions,
    decision,
    actions: step.actions,
    applied,
    stepInput,
    step,
  };
}

/** The UpdateAutoScalingGroup input that steers a spare group (and sets its size in the same call). */
function steerInput(a: ControllerAction, live: AutoScalingGroup, r: FallbackRegionSettings, desired: number) {
  const zones = a.zones;
  const subnets = zones && r.subnetsByZone ? zones.map((z) => r.subnetsByZone![z]).filter((x): x is string => typeof x === 'string') : undefined;
  const mip = live.MixedInstancesPolicy;
  const overrides = mip?.LaunchTemplate?.Overrides ?? [];
  return {
    AutoScalingGroupName: a.group,
    DesiredCapacity: desired,
    ...(subnets && subnets.length > 0 ? { VPCZoneIdentifier: subnets.join(',') } : {}),
    ...(a.types && mip?.LaunchTemplate?.LaunchTemplateSpecification
      ? {
          MixedInstancesPolicy: {
            LaunchTemplate: {
              LaunchTemplateSpecification: mip.LaunchTemplate.LaunchTemplateSpecification,
              // Keep what each override said besides its type (weights, per-type launch templates).
              Overrides: a.types.map((t) => overrides.find((o) => o.InstanceType === t) ?? { InstanceType: t }),
            },
            InstancesDistribution: mip.InstancesDistribution,
          },
        }
      : {}),
  };
}

function isRecentFailure(a: Activity, since: number): boolean {
  if (a.StatusCode !== 'Failed' || !a.ActivityId) return false;
  const t = a.StartTime instanceof Date ? a.StartTime.getTime() / 1000 : a.StartTime ? Date.parse(String(a.StartTime)) / 1000 : NaN;
  return Number.isFinite(t) && t >= since;
}

type Retry = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

async function readState(ssm: StateParameterStore, deps: FallbackDeps, retry: Retry): Promise<ControllerState> {
  const value = await retry('GetParameter', () => ssm.get(deps.settings.stateParameterName));
  if (value === undefined) {
    deps.logger.warn('state parameter not found: starting from the initial state', { parameter: deps.settings.stateParameterName });
    return decodeControllerState(undefined);
  }
  return decodeControllerState(value);
}

/**
 * The Lambda handler: one EventBridge event (schedule, launch unsuccessful, spot warning) per invocation,
 * one control run each. Metrics are flushed after every run, also when it fails.
 */
export function makeFallbackHandler(deps: FallbackDeps): (event: EventBridgeEnvelope, context?: Context) => Promise<FallbackRunResult> {
  const now = deps.now ?? Date.now;
  return async (event, context) => {
    const deadline = typeof context?.getRemainingTimeInMillis === 'function' ? now() + context.getRemainingTimeInMillis() - 5_000 : undefined;
    try {
      const result = await runFallbackController(event, deps, { deadline });
      // The decision's state is in the parameter and its reason in the log: keep the return value small.
      return { ...result, decision: undefined, stepInput: undefined, step: undefined, actions: undefined };
    } catch (e) {
      deps.logger.error('fallback control run failed; the next run (schedule or event retry) redoes it', { eventId: event?.id, error: errorMessage(e), errorName: errorName(e) });
      throw e;
    } finally {
      if (deps.metrics.hasStoredMetrics()) deps.metrics.publishStoredMetrics();
    }
  };
}

/** Make the `AutoScalingGroupName` = spot group the only dimension of every metric (no `service`): the dashboard reads exactly that. */
export function useSpotGroupDimensionOnly(metrics: Metrics, spotGroupName: string): Metrics {
  metrics.clearDefaultDimensions();
  metrics.setDefaultDimensions({ AutoScalingGroupName: spotGroupName });
  return metrics;
}
