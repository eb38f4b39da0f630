/**
 * The on-demand fallback controller of a Google Cloud spot fleet, as pure functions of its inputs and clients.
 *
 * Every minute (Cloud Scheduler -> Pub/Sub -> this Cloud Function) and on each preemption (the preemption
 * hook's topic, a second Eventarc trigger), the controller:
 * 1. reads its state (a {@link FallbackState} JSON object in Cloud Storage, with its generation);
 * 2. lists the spot group's managed instances (`regionInstanceGroupManagers.listManagedInstances`): per pool
 *    (`<zone>/<machineType>`) the ready, launching and failed-to-launch VMs, and the standard group's ready VMs;
 * 3. calls the shared policy ({@link decideFallback}, the same code the planner simulates);
 * 4. applies every part of the decision through the cloud-neutral step (`planControllerStep`): resizes the
 *    standard (on-demand) group to `base + fallback` (`regionInstanceGroupManagers.resize`), never below the
 *    on-demand base and never above `maxCapacity` minus the ready spot VMs; and resizes the fleet's spare spot
 *    groups, one ZONAL MIG per zone (`instanceGroupManagers.resize`), so the spare spot replicas go to the zones
 *    the policy does not avoid. Steering is by size per zone, because a regional MIG's zones
 *    (`distributionPolicy.zones`) can only be chosen when it is created ("You can only select zones for your
 *    MIG when you create the MIG", Compute Engine docs, regional-mig-set-target-distribution-shape). The spot
 *    group's own placement (its target shape and flexibility ranks) is the cloud's behaviour. Every call is
 *    made only when the size differs (idempotent);
 * 5. writes the state back with `ifGenerationMatch` (a concurrent run that got there first wins; this run's
 *    resize was idempotent, so nothing is lost), logs one structured line with the reason, and writes the
 *    metric `custom.googleapis.com/spot_inference/fallback_replicas`.
 *
 * Several regions: `regions` lists each region's spot and standard groups (and spare groups); one controller
 * observes and resizes them all; pools are `<region>/<zone>/<machineType>`. A preemption of any region's spot or
 * spare VM is counted ({@link isFleetInstance}).
 *
 * Transient API errors (429, 5xx, network) are retried with backoff, honouring `Retry-After`. A group that
 * answers 404 (deleted, not created yet) is left out of the run and logged.
 */
import {
  ControllerAction,
  ControllerGroup,
  ControllerGroupRole,
  ControllerStep,
  ControllerStepInput,
  FallbackAction,
  FallbackDecision,
  FallbackPolicyOptions,
  FallbackState,
  initialFallbackState,
  planControllerStep,
  SpotPoolObservation,
} from '../../policy';
import { GoogleApiError, parsePreemption, PreemptionRecord, PubsubCloudEvent } from './preemption';

export { GoogleApiError } from './preemption';

/** Metric the controller writes: on-demand replicas above the base. */
export const FALLBACK_METRIC_TYPE = 'custom.googleapis.com/spot_inference/fallback_replicas';

/** A spare spot group: a zonal MIG of the fleet's spot template in one zone, sized by the controller only. */
export interface GcpSpareGroupSettings {
  readonly name: string;
  readonly zone: string;
  /** Most VMs it may run. */
  readonly maxSize: number;
}

/** The groups of one region (the multi-region form of the settings). */
export interface GcpRegionSettings {
  readonly region: string;
  readonly spotGroup: string;
  readonly onDemandGroup: string;
  readonly onDemandBase: number;
  readonly maxCapacity: number;
  /** @default - the settings' defaultMachineType */
  readonly defaultMachineType?: string;
  /** @default - none */
  readonly spareGroups?: GcpSpareGroupSettings[];
}

/** What the controller was deployed for (from its environment variables). */
export interface GcpFallbackSettings {
  readonly fleetName: string;
  readonly project: string;
  readonly region: string;
  /** Name of the regional MIG of spot VMs. */
  readonly spotGroup: string;
  /** Name of the regional MIG of standard (on-demand) VMs that the controller resizes. */
  readonly onDemandGroup: string;
  /** Standard VMs that always run (the group's size without fallback). */
  readonly onDemandBase: number;
  /** Most VMs of the fleet, spot and standard together. */
  readonly maxCapacity: number;
  /** Machine type of VMs whose managed-instance entry does not name one (groups without instance flexibility). */
  readonly defaultMachineType: string;
  /** Bucket and object of the controller's state. */
  readonly stateBucket: string;
  readonly stateObject: string;
  /** @default FALLBACK_METRIC_TYPE */
  readonly metricType?: string;
  /** Names of the fleet's spot VMs start with this. @default - `<fleetName>-spot-` */
  readonly instanceNamePrefix?: string;
  /** Tuning of the policy. @default - the policy's defaults */
  readonly policy?: FallbackPolicyOptions;
  /** Spare spot groups of the (single) region, one zonal MIG per zone. @default - none (no spares) */
  readonly spareGroups?: GcpSpareGroupSettings[];
  /** Names of the spare VMs start with this. @default - `<fleetName>-spare-` */
  readonly spareInstanceNamePrefix?: string;
  /** Several regions; replaces the single-region groups when given. @default - the one region above */
  readonly regions?: GcpRegionSettings[];
}

/** One VM of a managed instance group, as `listManagedInstances` returns it (the fields the controller reads). */
export interface ManagedInstance {
  /** URL of the instance: `.../projects/p/zones/z/instances/name`. */
  readonly instance?: string;
  readonly name?: string;
  /** PROVISIONING, STAGING, RUNNING, STOPPING, STOPPED, SUSPENDED, TERMINATED... */
  readonly instanceStatus?: string;
  /** NONE, CREATING, CREATING_WITHOUT_RETRIES, RECREATING, DELETING, ABANDONING, RESTARTING, REFRESHING, VERIFYING... */
  readonly currentAction?: string;
  readonly instanceHealth?: { readonly healthState?: string }[];
  readonly lastAttempt?: { readonly errors?: { readonly errors?: { readonly code?: string; readonly message?: string }[] } };
  readonly propertiesFromFlexibilityPolicy?: { readonly machineType?: string };
}

/**
 * The Compute Engine calls the controller makes. A group is named by a reference: `<name>` (a regional MIG of
 * the client's region), `regions/<region>/<name>` (a regional MIG elsewhere) or `zones/<zone>/<name>` (a zonal MIG).
 */
export interface ComputeClient {
  /** `(region)InstanceGroupManagers.get`: the group's target size. */
  getTargetSize(group: string): Promise<number>;
  /** `(region)InstanceGroupManagers.listManagedInstances`, every page. */
  listManagedInstances(group: string): Promise<ManagedInstance[]>;
  /** `(region)InstanceGroupManagers.resize`. */
  resize(group: string, size: number): Promise<void>;
}

/** Reference of a regional MIG for {@link ComputeClient}: its bare name in the home region. */
export function regionalGroupRef(homeRegion: string, region: string, name: string): string {
  return region === homeRegion ? name : `regions/${region}/${name}`;
}

/** Reference of a zonal MIG for {@link ComputeClient}. */
export function zonalGroupRef(zone: string, name: string): string {
  return `zones/${zone}/${name}`;
}

/** Region of a zone name (`us-central1-a` -> `us-central1`). */
export function regionOfZone(zone: string): string {
  return zone.replace(/-[a-z]$/, '');
}

/** The controller's object in Cloud Storage. */
export interface StoredState {
  /** The policy's memory. */
  readonly policy: FallbackState;
  /** Pool of each spot VM seen last time (to place a preemption, whose log entry names no machine type). */
  readonly instancePools: Record<string, string>;
  /** Launch errors already counted (`<instance>|<code>`), so a stuck error is one strike, not one per minute. */
  readonly seenFailures: string[];
  /** insertIds of preemption log entries already counted (repeated Pub/Sub deliveries). */
  readonly seenPreemptions: string[];
}

/** A state object and its generation (0 when it does not exist yet). */
export interface VersionedState {
  readonly state?: StoredState;
  readonly generation: string;
}

/** Reads and conditionally writes the state object. */
export interface StateStore {
  read(): Promise<VersionedState>;
  /** Write if the object's generation is still `generation`; `false` when another run wrote first (HTTP 412). */
  write(state: StoredState, generation: string): Promise<boolean>;
}

/** Writes one gauge point of the fallback metric. */
export interface FallbackMetrics {
  writeFallback(value: number, labels: Record<string, string>, at: Date): Promise<void>;
}

/** What the controller talks to; tests pass fakes or clients pointed at 127.0.0.1. */
export interface GcpFallbackClients {
  readonly compute: ComputeClient;
  readonly state: StateStore;
  readonly metrics?: FallbackMetrics;
  readonly log: (entry: Record<string, unknown>) => void;
  readonly now: () => Date;
}

/** What one run did. */
export interface GcpFallbackOutcome {
  readonly decision: FallbackDecision;
  /** Target size of the standard group before the run. */
  readonly previousOnDemandSize: number;
  /** Target size the run left it at. */
  readonly onDemandSize: number;
  /** Whether the run called `resize`. */
  readonly resized: boolean;
  /** Whether the state was written (false when a concurrent run wrote first). */
  readonly stateSaved: boolean;
  /** The preemption this run was triggered by, when it was. */
  readonly preemption?: PreemptionRecord;
  /** Ready spot VMs seen (spot and spare groups). */
  readonly readySpot: number;
  /** Spare spot VMs the spare groups were left at. */
  readonly spareSize: number;
  /** One action per owned group, as the step returned them. */
  readonly actions: ControllerAction[];
  /** The step's input (what the simulator's equivalence test feeds back). */
  readonly stepInput: ControllerStepInput;
  readonly step: ControllerStep;
}

const LAUNCHING_ACTIONS = new Set(['CREATING', 'CREATING_WITHOUT_RETRIES', 'RECREATING', 'RESTARTING', 'STARTING', 'RESUMING', 'REFRESHING', 'VERIFYING']);
/** Launch errors that mean "no spot capacity here now" (the pool should be avoided). */
const CAPACITY_ERRORS = /RESOURCE_POOL_EXHAUSTED|STOCKOUT|RESOURCE_NOT_AVAILABLE|does not have enough resources|ZONE_RESOURCE_POOL_EXHAUSTED/i;

function lastSegment(url: string | undefined): string {
  if (!url) return '';
  const parts = url.split('/');
  return parts[parts.length - 1];
}

/** Zone and name of a managed instance, from its URL. */
export function instanceLocation(mi: ManagedInstance): { zone: string; name: string } {
  const m = /\/zones\/([^/]+)\/instances\/([^/]+)$/.exec(mi.instance ?? '');
  return { zone: m ? m[1] : 'unknown-zone', name: m ? m[2] : mi.name ?? '' };
}

/** A VM serves: running, no action pending, and healthy when the group reports health. */
export function isReady(mi: ManagedInstance): boolean {
  if (mi.instanceStatus !== 'RUNNING' || (mi.currentAction ?? 'NONE') !== 'NONE') return false;
  const health = mi.instanceHealth ?? [];
  return health.length === 0 || health.every((h) => h.healthState === 'HEALTHY');
}

/** What one run counted in one pool. */
export interface PoolCounts {
  ready: number;
  launching: number;
  launchFailures: number;
  preempted: number;
}

/** Read one run's observations of the spot group. */
export function observeSpotGroup(
  instances: ManagedInstance[],
  settings: Pick<GcpFallbackSettings, 'defaultMachineType'>,
  previous: Pick<StoredState, 'seenFailures'>,
  /** Region prefix of the pool ids (`<region>/<zone>/<type>`). @default - none: `<zone>/<type>` */
  region?: string,
): { pools: Map<string, PoolCounts>; instancePools: Record<string, string>; seenFailures: string[] } {
  const pools = new Map<string, PoolCounts>();
  const instancePools: Record<string, string> = {};
  const seen = new Set(previous.seenFailures);
  const seenFailures: string[] = [];
  for (const mi of instances) {
    const { zone, name } = instanceLocation(mi);
    const machineType = lastSegment(mi.propertiesFromFlexibilityPolicy?.machineType) || settings.defaultMachineType;
    const pool = region !== undefined ? `${region}/${zone}/${machineType}` : `${zone}/${machineType}`;
    instancePools[name] = pool;
    const p = pools.get(pool) ?? { ready: 0, launching: 0, launchFailures: 0, preempted: 0 };
    pools.set(pool, p);
    if (isReady(mi)) {
      p.ready++;
      continue;
    }
    const action = mi.currentAction ?? 'NONE';
    if (action === 'DELETING' || action === 'ABANDONING') continue;
    const errors = mi.lastAttempt?.errors?.errors ?? [];
    const capacityError = errors.find((e) => CAPACITY_ERRORS.test(`${e.code ?? ''} ${e.message ?? ''}`));
    if (capacityError) {
      const key = `${name}|${capacityError.code ?? capacityError.message}`;
      seenFailures.push(key);
      if (!seen.has(key)) p.launchFailures++;
      continue;
    }
    if (LAUNCHING_ACTIONS.has(action) || mi.instanceStatus === 'PROVISIONING' || mi.instanceStatus === 'STAGING' || mi.instanceStatus === 'RUNNING') {
      p.launching++;
    }
  }
  return { pools, instancePools, seenFailures };
}

/** Read the settings from the function's environment. Throws naming every missing or bad variable. */
export function fallbackSettingsFromEnv(env: Record<string, string | undefined>): GcpFallbackSettings {
  const need = ['FLEET_NAME', 'GCP_PROJECT', 'FLEET_REGION', 'SPOT_GROUP', 'ON_DEMAND_GROUP', 'ON_DEMAND_BASE', 'MAX_CAPACITY', 'DEFAULT_MACHINE_TYPE', 'STATE_BUCKET', 'STATE_OBJECT'];
  const missing = need.filter((k) => !env[k]);
  if (missing.length > 0) {
    throw new Error(`fallback function misconfigured: environment variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not set (the GcpOnDemandFallback construct sets them)`);
  }
  const int = (k: string): number => {
    const n = Number(env[k]);
    if (!Number.isInteger(n) || n < 0) throw new Error(`fallback function misconfigured: ${k} (${env[k]}) must be a whole number, 0 or more`);
    return n;
  };
  let policy: FallbackPolicyOptions | undefined;
  if (env.POLICY_OPTIONS) {
    try {
      policy = JSON.parse(env.POLICY_OPTIONS) as FallbackPolicyOptions;
    } catch {
      throw new Error(`fallback function misconfigured: POLICY_OPTIONS is not JSON (${env.POLICY_OPTIONS.slice(0, 40)})`);
    }
  }
  return {
    fleetName: env.FLEET_NAME!,
    project: env.GCP_PROJECT!,
    region: env.FLEET_REGION!,
    spotGroup: env.SPOT_GROUP!,
    onDemandGroup: env.ON_DEMAND_GROUP!,
    onDemandBase: int('ON_DEMAND_BASE'),
    maxCapacity: int('MAX_CAPACITY'),
    defaultMachineType: env.DEFAULT_MACHINE_TYPE!,
    stateBucket: env.STATE_BUCKET!,
    stateObject: env.STATE_OBJECT!,
    metricType: env.METRIC_TYPE || FALLBACK_METRIC_TYPE,
    instanceNamePrefix: env.INSTANCE_NAME_PREFIX || undefined,
    policy,
    spareGroups: jsonList<GcpSpareGroupSettings>(env, 'SPARE_GROUPS', spareProblems),
    spareInstanceNamePrefix: env.SPARE_INSTANCE_NAME_PREFIX || undefined,
    regions: jsonList<GcpRegionSettings>(env, 'REGIONS', regionProblems),
  };
}

const isCount = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x >= 0;
const isName = (x: unknown): boolean => typeof x === 'string' && x.length > 0;

function spareProblems(x: unknown, at: string): string[] {
  const o = (x ?? {}) as Record<string, unknown>;
  const out: string[] = [];
  if (!isName(o.name)) out.push(`${at}.name (${JSON.stringify(o.name)}) must be the zonal MIG's name`);
  if (!isName(o.zone)) out.push(`${at}.zone (${JSON.stringify(o.zone)}) must be a zone, e.g. us-central1-a`);
  if (!isCount(o.maxSize)) out.push(`${at}.maxSize (${JSON.stringify(o.maxSize)}) must be a whole number, 0 or more`);
  return out;
}

function regionProblems(x: unknown, at: string): string[] {
  const o = (x ?? {}) as Record<string, unknown>;
  const out: string[] = [];
  for (const k of ['region', 'spotGroup', 'onDemandGroup']) if (!isName(o[k])) out.push(`${at}.${k} (${JSON.stringify(o[k])}) must be a non-empty string`);
  for (const k of ['onDemandBase', 'maxCapacity']) if (!isCount(o[k])) out.push(`${at}.${k} (${JSON.stringify(o[k])}) must be a whole number, 0 or more`);
  if (o.spareGroups !== undefined) {
    if (!Array.isArray(o.spareGroups)) out.push(`${at}.spareGroups must be a list`);
    else o.spareGroups.forEach((g, i) => out.push(...spareProblems(g, `${at}.spareGroups[${i}]`)));
  }
  return out;
}

function jsonList<T>(env: Record<string, string | undefined>, name: string, check: (x: unknown, at: string) => string[]): T[] | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new Error(`fallback function misconfigured: ${name} is not JSON (${raw.slice(0, 40)})`);
  }
  if (!Array.isArray(v)) throw new Error(`fallback function misconfigured: ${name} (${raw.slice(0, 40)}) must be a JSON list`);
  const problems = v.flatMap((x, i) => check(x, `${name}[${i}]`));
  if (problems.length > 0) throw new Error(`fallback function misconfigured: ${problems.join('; ')}`);
  return v as T[];
}

/** The regions of the settings (the single-region form is one region). */
export function gcpRegionsOf(s: GcpFallbackSettings): GcpRegionSettings[] {
  if (s.regions && s.regions.length > 0) return s.regions;
  return [{ region: s.region, spotGroup: s.spotGroup, onDemandGroup: s.onDemandGroup, onDemandBase: s.onDemandBase, maxCapacity: s.maxCapacity, defaultMachineType: s.defaultMachineType, spareGroups: s.spareGroups }];
}

/**
 * Names of the fleet's spot and spare VMs start with one of these, in every region: the home region's
 * `instanceNamePrefix` and `spareInstanceNamePrefix` (defaults `<fleetName>-spot-`, `<fleetName>-spare-`), and for each
 * other region its spot group's name and each of its spare groups' names, then `-` (a managed instance group names its
 * VMs `<base instance name>-<suffix>`, and the fleets this package builds use the group's name as base instance name).
 */
export function fleetInstanceNamePrefixes(s: GcpFallbackSettings): string[] {
  const out = [s.instanceNamePrefix ?? `${s.fleetName}-spot-`, s.spareInstanceNamePrefix ?? `${s.fleetName}-spare-`];
  for (const r of gcpRegionsOf(s)) {
    if (r.region === s.region) continue; // the home region's prefixes are the two above
    out.push(`${r.spotGroup}-`, ...(r.spareGroups ?? []).map((g) => `${g.name}-`));
  }
  return [...new Set(out)];
}

/**
 * Whether a preempted VM is one of this fleet's: listed in a spot or spare group of any region by this run or the
 * previous one (a group's VMs are its own, whatever their base instance name), or named with one of
 * {@link fleetInstanceNamePrefixes} (a VM created and preempted between two runs).
 */
export function isFleetInstance(s: GcpFallbackSettings, present: readonly GcpRegionView[], prev: Pick<StoredState, 'instancePools'>, name: string): boolean {
  if (Object.prototype.hasOwnProperty.call(prev.instancePools, name)) return true;
  if (present.some((v) => [...v.spotInstances, ...v.spares.flatMap((g) => g.instances)].some((mi) => instanceLocation(mi).name === name))) return true;
  return fleetInstanceNamePrefixes(s).some((p) => name.startsWith(p));
}

/** The preemption carried by an event, when it is one of this fleet's; `undefined` for a scheduler tick. */
export function preemptionOf(event: PubsubCloudEvent | undefined): PreemptionRecord | undefined {
  const data = event?.data?.message?.data;
  if (typeof data !== 'string' || data.length === 0) return undefined;
  try {
    return parsePreemption(JSON.parse(Buffer.from(data, 'base64').toString('utf8')));
  } catch {
    return undefined;
  }
}

/** One region as a run read it: its groups' sizes and managed instances. */
export interface GcpRegionView {
  readonly r: GcpRegionSettings;
  /** References of its spot and standard groups for the {@link ComputeClient}. */
  readonly spotRef: string;
  readonly odRef: string;
  /** Target size of the spot group, and of the standard group. */
  readonly spotTarget: number;
  readonly onDemandSize: number;
  readonly spotInstances: ManagedInstance[];
  readonly onDemandInstances: ManagedInstance[];
  /** Its spare groups that answered (a vanished one is left out). */
  readonly spares: { readonly settings: GcpSpareGroupSettings; readonly ref: string; readonly size: number; readonly instances: ManagedInstance[] }[];
}

/** What {@link buildGcpStepInput} read from one run's views: the step's input and the memory the run keeps. */
export interface GcpStepReading {
  readonly stepInput: ControllerStepInput;
  /** Pool of each VM seen (to place a later preemption, whose log entry names no machine type). */
  readonly instancePools: Record<string, string>;
  readonly seenFailures: string[];
  /** Preemption ids counted so far (this run's included). */
  readonly seenPreemptions: string[];
  /** Ids of the given preemptions that were counted before (repeated deliveries), for the log. */
  readonly repeatedPreemptions: string[];
  readonly groups: ControllerGroup[];
  readonly targetReplicas: number;
  readonly onDemandBase: number;
  readonly readySpot: number;
  readonly onDemandReady: number;
}

/**
 * The pure half of a run: the groups and managed instances one run read, the preemptions it was given (this
 * fleet's only; the handler passes the one its event carries) and the stored memory -> the input of
 * `planControllerStep`. A preempted VM still listed as ready is not ready any more; each preemption is counted
 * once (by its log entry's insertId) in the pool the VM ran in. The handler calls exactly
 * `planControllerStep(buildGcpStepInput(...).stepInput)`, so a test (the simulator's equivalence test) can rebuild
 * the controller's input, preemptions and failed creations included, without the Compute Engine clients.
 */
export function buildGcpStepInput(
  settings: GcpFallbackSettings,
  present: readonly GcpRegionView[],
  prev: StoredState,
  preemptions: readonly PreemptionRecord[],
  nowSeconds: number,
): GcpStepReading {
  const seen = { seenFailures: prev.seenFailures };
  const pools = new Map<string, PoolCounts>();
  const instancePools: Record<string, string> = {};
  const seenFailures: string[] = [];
  const groups: ControllerGroup[] = [];
  const regionObs: { region: string; targetReplicas: number; onDemandBase: number }[] = [];
  let targetReplicas = 0;
  let base = 0;
  let maxCapacity = 0;
  let onDemandReady = 0;
  for (const v of present) {
    const machine = { defaultMachineType: v.r.defaultMachineType ?? settings.defaultMachineType };
    const all = [...v.spotInstances, ...v.spares.flatMap((g) => g.instances)];
    const o = observeSpotGroup(all, machine, seen, v.r.region);
    for (const [k, c] of o.pools) pools.set(k, c);
    // Every zone a spare group runs in is a pool, even with no VM yet (so the policy ranks it).
    for (const g of v.spares) {
      const id = `${v.r.region}/${g.settings.zone}/${machine.defaultMachineType}`;
      if (!pools.has(id)) pools.set(id, { ready: 0, launching: 0, launchFailures: 0, preempted: 0 });
    }
    Object.assign(instancePools, o.instancePools);
    seenFailures.push(...o.seenFailures);
    const b = Math.min(v.r.onDemandBase, v.r.maxCapacity);
    const target = Math.min(v.r.maxCapacity, b + v.spotTarget);
    targetReplicas += target;
    base += b;
    maxCapacity += v.r.maxCapacity;
    onDemandReady += v.onDemandInstances.filter(isReady).length;
    regionObs.push({ region: v.r.region, targetReplicas: target, onDemandBase: b });
    groups.push({ id: v.odRef, region: v.r.region, role: ControllerGroupRole.ON_DEMAND, desired: v.onDemandSize, maxSize: v.r.maxCapacity, baseReplicas: b, zones: [], types: [] });
    for (const g of v.spares) {
      groups.push({ id: g.ref, region: v.r.region, role: ControllerGroupRole.SPARE_SPOT, desired: g.size, maxSize: g.settings.maxSize, zones: [g.settings.zone], types: [machine.defaultMachineType] });
    }
  }

  const seenPreemptions = [...prev.seenPreemptions];
  const repeatedPreemptions: string[] = [];
  const doomed = new Set<string>();
  for (const preemption of preemptions) {
    // A preempted VM still listed as RUNNING is doomed (30 s notice): it is not ready any more (once per VM).
    const listed = present.flatMap((v) => [...v.spotInstances, ...v.spares.flatMap((g) => g.instances)]).find((mi) => instanceLocation(mi).name === preemption.instanceName);
    const livePool = listed ? instancePools[preemption.instanceName] : undefined;
    if (listed && livePool && isReady(listed) && !doomed.has(preemption.instanceName)) pools.get(livePool)!.ready--;
    doomed.add(preemption.instanceName);
    const id = preemption.insertId ?? `${preemption.instanceName}@${preemption.preemptedAt}`;
    if (seenPreemptions.includes(id)) {
      repeatedPreemptions.push(id);
      continue;
    }
    seenPreemptions.push(id);
    // Its pool as the previous run listed it, else as this run lists it; a VM never listed: its zone's region and
    // that region's default machine type.
    const region = regionOfZone(preemption.zone);
    const type = present.find((v) => v.r.region === region)?.r.defaultMachineType ?? settings.defaultMachineType;
    const pool = prev.instancePools[preemption.instanceName] ?? livePool ?? `${region}/${preemption.zone}/${type}`;
    const p = pools.get(pool) ?? { ready: 0, launching: 0, launchFailures: 0, preempted: 0 };
    pools.set(pool, p);
    p.preempted++;
  }

  const observations: SpotPoolObservation[] = [...pools.entries()].map(([pool, p]) => ({ pool, ...p }));
  const readySpot = observations.reduce((s, p) => s + p.ready, 0);
  // The spot MIGs' own ready VMs (not the spare MIGs', not the doomed): what the stand-ins for unlaunched spot count.
  const mainSpotInService = present.reduce((n, v) => n + v.spotInstances.filter((mi) => isReady(mi) && !doomed.has(instanceLocation(mi).name)).length, 0);
  const stepInput: ControllerStepInput = {
    observed: { nowSeconds, targetReplicas, onDemandBase: base, maxCapacity, onDemandReady, pools: observations, regions: regionObs, mainSpotInService },
    state: prev.policy,
    options: settings.policy,
    groups,
  };
  return { stepInput, instancePools, seenFailures, seenPreemptions, repeatedPreemptions, groups, targetReplicas, onDemandBase: base, readySpot, onDemandReady };
}

/**
 * The stored state when it has the shape this controller writes; otherwise (an object of JSON that is not that, e.g.
 * `{}` or a list) a fresh state, logged, so a damaged object never stops the controller. Missing bookkeeping fields
 * of an otherwise good state are filled in (kept policy memory).
 */
export function usableGcpState(stored: unknown, settings: Pick<GcpFallbackSettings, 'policy' | 'fleetName'>, log?: (entry: Record<string, unknown>) => void): StoredState {
  const fresh: StoredState = { policy: initialFallbackState(settings.policy), instancePools: {}, seenFailures: [], seenPreemptions: [] };
  if (stored === undefined || stored === null) return fresh;
  const o = stored as Partial<StoredState>;
  const isMap = (x: unknown): boolean => typeof x === 'object' && x !== null && !Array.isArray(x);
  const strings = (x: unknown): string[] => (Array.isArray(x) ? x.filter((y): y is string => typeof y === 'string') : []);
  if (!isMap(stored) || !isMap(o.policy)) {
    log?.({ severity: 'WARNING', message: `spot fallback: the state object is not a controller state (${JSON.stringify(stored).slice(0, 60)}); starting from a fresh state`, fleet: settings.fleetName });
    return fresh;
  }
  return { policy: o.policy!, instancePools: isMap(o.instancePools) ? o.instancePools! : {}, seenFailures: strings(o.seenFailures), seenPreemptions: strings(o.seenPreemptions) };
}

/**
 * One control period: observe, decide, apply, persist, report. Call it for every scheduler tick and every
 * preemption message (`event`); the same event twice does no harm.
 */
export async function runFallbackController(
  settings: GcpFallbackSettings,
  clients: GcpFallbackClients,
  event?: PubsubCloudEvent,
): Promise<GcpFallbackOutcome> {
  const now = clients.now();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const { state: stored, generation } = await clients.state.read();
  const prev = usableGcpState(stored, settings, clients.log);
  const home = settings.region;
  const gone = (err: unknown): boolean => err instanceof GoogleApiError && err.status === 404;

  // 1. Observe every region: its spot and standard groups, and its spare groups (zonal MIGs).
  const regions = gcpRegionsOf(settings);
  const views = await Promise.all(
    regions.map(async (r) => {
      const spotRef = regionalGroupRef(home, r.region, r.spotGroup);
      const odRef = regionalGroupRef(home, r.region, r.onDemandGroup);
      try {
        const [spotTarget, onDemandSize, spotInstances, onDemandInstances] = await Promise.all([
          clients.compute.getTargetSize(spotRef),
          clients.compute.getTargetSize(odRef),
          clients.compute.listManagedInstances(spotRef),
          clients.compute.listManagedInstances(odRef),
        ]);
        const spares = (
          await Promise.all(
            (r.spareGroups ?? []).map(async (g) => {
              const ref = zonalGroupRef(g.zone, g.name);
              try {
                const [size, instances] = await Promise.all([clients.compute.getTargetSize(ref), clients.compute.listManagedInstances(ref)]);
                return { settings: g, ref, size, instances };
              } catch (err) {
                if (!gone(err)) throw err;
                clients.log({ severity: 'WARNING', message: `spot fallback: spare group ${ref} not found (deleted, or not created yet): no spares there this run`, fleet: settings.fleetName });
                return undefined;
              }
            }),
          )
        ).filter((x): x is NonNullable<typeof x> => x !== undefined);
        return { r, spotRef, odRef, spotTarget, onDemandSize, spotInstances, onDemandInstances, spares };
      } catch (err) {
        if (!gone(err)) throw err;
        clients.log({ severity: 'WARNING', message: `spot fallback: a group of region ${r.region} not found (${(err as Error).message}): the region is left out of this run`, fleet: settings.fleetName });
        return undefined;
      }
    }),
  );
  const present: GcpRegionView[] = views.filter((v): v is NonNullable<typeof v> => v !== undefined);
  if (present.length === 0) throw new GoogleApiError(404, `spot fallback: no region of fleet ${settings.fleetName} has its spot and standard groups (deleted, or not created yet): nothing to do`);

  // A preemption message: one preempted VM in the pool it ran in (from the previous listing), when it is a VM of
  // any region's spot or spare groups. A repeated delivery of the same message is recognised by the log entry's
  // insertId and counted once.
  const found = preemptionOf(event);
  const preemption = found && found.project === settings.project && isFleetInstance(settings, present, prev, found.instanceName) ? found : undefined;

  // 2. Plan: the cloud-neutral step, on what the pure half read.
  const reading = buildGcpStepInput(settings, present, prev, preemption ? [preemption] : [], nowSeconds);
  for (const id of reading.repeatedPreemptions) clients.log({ severity: 'INFO', message: `spot fallback: preemption ${id} already counted (repeated delivery)`, fleet: settings.fleetName });
  const { stepInput, instancePools, seenFailures, seenPreemptions, groups, targetReplicas, readySpot, onDemandReady } = reading;
  const base = reading.onDemandBase;
  const step = planControllerStep(stepInput);
  const decision = step.decision;

  // 3. Apply: only what differs; a group gone since is logged and left to the next run.
  const failed: string[] = [];
  const applied: ControllerAction[] = [];
  for (const a of step.actions) {
    if (!a.changed) continue;
    try {
      await clients.compute.resize(a.group, a.desired);
      applied.push(a);
    } catch (err) {
      if (!(err instanceof GoogleApiError) || err.status < 400 || err.status === 403) throw err;
      failed.push(`${a.group}: ${err.message}`);
      clients.log({ severity: 'WARNING', message: `spot fallback: resize ${a.group} to ${a.desired} failed (${err.message}); the next run redoes it`, fleet: settings.fleetName });
    }
  }

  const next: StoredState = {
    policy: step.nextState,
    instancePools,
    seenFailures: seenFailures.slice(-256),
    seenPreemptions: seenPreemptions.slice(-64),
  };
  const stateSaved = await clients.state.write(next, generation);
  const od = step.actions.filter((a) => a.role === ControllerGroupRole.ON_DEMAND);
  const previousOnDemandSize = present.reduce((n, v) => n + v.onDemandSize, 0);
  const onDemandSize = od.reduce((n, a) => n + a.desired, 0);
  const spareSize = step.actions.filter((a) => a.role === ControllerGroupRole.SPARE_SPOT).reduce((n, a) => n + a.desired, 0);
  const fallback = onDemandSize - base;
  const resized = applied.some((a) => a.role === ControllerGroupRole.ON_DEMAND);
  clients.log({
    severity: decision.action === FallbackAction.FALL_BACK || failed.length > 0 ? 'WARNING' : 'INFO',
    message: `spot fallback: ${step.reasons.join('; ')}${applied.length > 0 ? `; resized ${applied.map((a) => `${a.group} ${groups.find((g) => g.id === a.group)!.desired} -> ${a.desired}`).join(', ')}` : '; groups unchanged'}${failed.length > 0 ? `; not applied: ${failed.join('; ')}` : ''}`,
    fleet: settings.fleetName,
    action: decision.action,
    fallbackReplicas: fallback,
    spareSpotReplicas: spareSize,
    onDemandSize,
    previousOnDemandSize,
    targetReplicas,
    readySpot,
    onDemandReady,
    regions: present.map((v) => v.r.region),
    unavailablePools: decision.unavailablePools,
    preferredPools: decision.preferredPools,
    trigger: preemption ? 'preemption' : 'schedule',
    stateSaved,
    'logging.googleapis.com/labels': { 'spot-fleet': settings.fleetName },
  });
  if (clients.metrics) {
    try {
      await clients.metrics.writeFallback(fallback, { fleet: settings.fleetName }, now);
    } catch (err) {
      // The decision is applied; a lost metric point must not make Pub/Sub redeliver it.
      clients.log({ severity: 'WARNING', message: `spot fallback: metric write failed: ${(err as Error).message}`, fleet: settings.fleetName });
    }
  }
  return { decision, previousOnDemandSize, onDemandSize, resized, stateSaved, preemption, readySpot, spareSize, actions: step.actions, stepInput, step };
}

// ---------------------------------------------------------------------------------------------------------
// REST clients (fetch + an access token); endpoints are configurable so tests talk to 127.0.0.1.

/** Options shared by the REST clients. */
export interface GoogleRestOptions {
  /** Returns an OAuth access token (cloud-platform scope). */
  readonly getAccessToken: () => Promise<string>;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Attempts for 429, 5xx and network errors. @default 5 */
  readonly maxAttempts?: number;
  /** First backoff, ms (doubles; `Retry-After` wins when given). @default 200 */
  readonly baseDelayMs?: number;
  /** @default setTimeout-based */
  readonly sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Send a request, retrying 429, 5xx and network errors; throws {@link GoogleApiError} for other failures. */
export async function googleRequest(options: GoogleRestOptions, url: string, init: { method: string; headers?: Record<string, string>; body?: string }): Promise<Response> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const attempts = options.maxAttempts ?? 5;
  const sleep = options.sleep ?? defaultSleep;
  let delay = options.baseDelayMs ?? 200;
  for (let attempt = 1; ; attempt++) {
    let res: Response | undefined;
    let failure: Error;
    try {
      const token = await options.getAccessToken();
      res = await doFetch(url, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
      if (res.ok || (res.status !== 429 && res.status < 500)) return res;
      failure = new GoogleApiError(res.status, await errorMessage(res));
    } catch (err) {
      failure = err as Error;
    }
    if (attempt >= attempts) throw failure;
    const retryAfter = Number(res?.headers.get('retry-after'));
    await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 30000) : delay);
    delay *= 2;
  }
}

async function errorMessage(res: Response): Promise<string> {
  const text = await res.text();
  try {
    return (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
  } catch {
    return text;
  }
}

async function ensureOk(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new GoogleApiError(res.status, `${what}: ${await errorMessage(res)}`);
  return res;
}

/** A {@link ComputeClient} on the Compute Engine REST API (v1). */
export function createComputeClient(options: GoogleRestOptions & { project: string; region: string; endpoint?: string }): ComputeClient {
  const project = `${(options.endpoint ?? 'https://compute.googleapis.com').replace(/\/+$/, '')}/compute/v1/projects/${encodeURIComponent(options.project)}`;
  /** URL of a group reference: `<name>`, `regions/<region>/<name>` or `zones/<zone>/<name>`. */
  const groupUrl = (ref: string): string => {
    const m = /^(regions|zones)\/([^/]+)\/([^/]+)$/.exec(ref);
    if (m) return `${project}/${m[1]}/${encodeURIComponent(m[2])}/instanceGroupManagers/${encodeURIComponent(m[3])}`;
    return `${project}/regions/${encodeURIComponent(options.region)}/instanceGroupManagers/${encodeURIComponent(ref)}`;
  };
  return {
    async getTargetSize(group) {
      const res = await ensureOk(await googleRequest(options, groupUrl(group), { method: 'GET' }), `get ${group}`);
      const body = (await res.json()) as { targetSize?: number };
      return body.targetSize ?? 0;
    },
    async listManagedInstances(group) {
      const out: ManagedInstance[] = [];
      let pageToken: string | undefined;
      do {
        const q = new URLSearchParams({ maxResults: '500', ...(pageToken ? { pageToken } : {}) });
        const res = await ensureOk(await googleRequest(options, `${groupUrl(group)}/listManagedInstances?${q}`, { method: 'POST' }), `listManagedInstances ${group}`);
        const body = (await res.json()) as { managedInstances?: ManagedInstance[]; nextPageToken?: string };
        out.push(...(body.managedInstances ?? []));
        pageToken = body.nextPageToken;
      } while (pageToken);
      return out;
    },
    async resize(group, size) {
      await ensureOk(await googleRequest(options, `${groupUrl(group)}/resize?size=${size}`, { method: 'POST' }), `resize ${group} to ${size}`);
    },
  };
}

/** A {@link StateStore} on a Cloud Storage object (JSON API, generation preconditions). */
export function createGcsStateStore(options: GoogleRestOptions & { bucket: string; object: string; endpoint?: string }): StateStore {
  const root = (options.endpoint ?? 'https://storage.googleapis.com').replace(/\/+$/, '');
  const b = encodeURIComponent(options.bucket);
  const o = encodeURIComponent(options.object);
  return {
    async read() {
      const res = await googleRequest(options, `${root}/storage/v1/b/${b}/o/${o}?alt=media`, { method: 'GET' });
      if (res.status === 404) {
        await res.text();
        return { generation: '0' };
      }
      await ensureOk(res, `read gs://${options.bucket}/${options.object}`);
      const generation = res.headers.get('x-goog-generation') ?? '0';
      const text = await res.text();
      try {
        return { state: JSON.parse(text) as StoredState, generation };
      } catch {
        // A corrupt object: start over (and overwrite it at this generation).
        return { generation };
      }
    },
    async write(state, generation) {
      const q = new URLSearchParams({ uploadType: 'media', name: options.object, ifGenerationMatch: generation });
      const res = await googleRequest(options, `${root}/upload/storage/v1/b/${b}/o?${q}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(state),
      });
      if (res.status === 412) {
        await res.text();
        return false;
      }
      await ensureOk(res, `write gs://${options.bucket}/${options.object}`);
      await res.text();
      return true;
    },
  };
}

/** {@link FallbackMetrics} on Cloud Monitoring (`projects.timeSeries.create`, a GAUGE INT64 point). */
export function createFallbackMetrics(options: GoogleRestOptions & { project: string; metricType?: string; endpoint?: string }): FallbackMetrics {
  const root = (options.endpoint ?? 'https://monitoring.googleapis.com').replace(/\/+$/, '');
  return {
    async writeFallback(value, labels, at) {
      const body = {
        timeSeries: [
          {
            metric: { type: options.metricType ?? FALLBACK_METRIC_TYPE, labels },
            resource: { type: 'global', labels: { project_id: options.project } },
            metricKind: 'GAUGE',
            valueType: 'INT64',
            points: [{ interval: { endTime: at.toISOString() }, value: { int64Value: String(value) } }],
          },
        ],
      };
      const res = await googleRequest(options, `${root}/v3/projects/${encodeURIComponent(options.project)}/timeSeries`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      await ensureOk(res, 'write fallback metric');
      await res.text();
    },
  };
}
