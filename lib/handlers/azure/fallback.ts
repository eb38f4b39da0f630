/**
 * The on-demand fallback controller of an Azure spot fleet (Flexible-orchestration scale sets with Spot
 * Priority Mix), as pure functions of its inputs and clients.
 *
 * A timer-triggered Function runs it every minute:
 * 1. reads its state (a {@link FallbackState} JSON blob, with its ETag);
 * 2. lists each scale set's VMs (`virtualMachines` filtered by `virtualMachineScaleSet/id`, with their
 *    instance view): per pool (`<zone>/<vmSize>`) the ready, launching, failed and evicted Spot VMs, and the
 *    ready Regular VMs;
 * 3. calls the shared policy ({@link decideFallback});
 * 4. applies the fallback through the priority mix, never by replacing a healthy VM:
 *    - up: raise `priorityMixPolicy.baseRegularPriorityCount` to `base + fallback` and the capacity by the
 *      Regular VMs missing, so Azure adds exactly those VMs, as Regular; the Spot VMs stay as they are;
 *    - down (once the policy returns to spot, i.e. ready Spot VMs have covered the share long enough):
 *      lower the count back and delete only the surplus Regular VMs (`virtualMachineScaleSets/delete`);
 *    - nothing when the scale set already matches (idempotent); Regular VMs never fewer than the base,
 *      the fleet's VMs never more than `maxCapacity`;
 *    - spares: sets the capacity of the fleet's spare Spot scale sets, one per zone (a scale set's zones cannot
 *      be narrowed once it runs VMs, so steering is by size per zone), so the policy's spare Spot VMs run in
 *      zones it does not avoid; the main scale sets' own Spot placement is Azure's allocation (the cloud's
 *      behaviour);
 *    all through the cloud-neutral step (`planControllerStep`), with pools `<region>/<zone>/<vmSize>`; scale sets
 *    may sit in several regions (and resource groups): one controller drives them all;
 * 5. writes the state back with `If-Match` (a concurrent run that got there first wins), logs one structured
 *    line with the reason and, when configured, a custom metric `SpotInferenceConstructs/FallbackReplicas`
 *    ({@link FALLBACK_METRIC_NAMESPACE}, the AWS controller's namespace too) on the first scale set (Azure Monitor
 *    custom metrics ingestion).
 *
 * Transient errors (429, 5xx, network) are retried with backoff, honouring `Retry-After`.
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
import { EVICTION_MESSAGE_TYPE } from '../../spec/eviction-message';

/**
 * Namespace of the custom metric the controller writes (Azure Monitor), the one the AWS fallback controller writes
 * to as well. `AzureFleetAlerts` and `AzureOnDemandFallback` take it from here, so the alert watches what is written.
 */
export const FALLBACK_METRIC_NAMESPACE = 'SpotInferenceConstructs';
/** Name of that metric: Regular (on-demand) VMs running above the base in place of missing Spot capacity. */
export const FALLBACK_METRIC_NAME = 'FallbackReplicas';

/** One scale set the controller manages. */
export interface AzureScaleSetSettings {
  /** Name of the scale set. */
  readonly name: string;
  /** Regular VMs that always run in it (its `baseRegularCount` as deployed). */
  readonly baseRegularCount: number;
  /** Most VMs in it (its autoscale maximum). */
  readonly maxCapacity: number;
  /** VMs it should serve with at least (its deployed desired capacity): the target when evictions shrank it. */
  readonly desiredCapacity: number;
  /** Region of the scale set. @default - the settings' region */
  readonly region?: string;
  /** Resource group of the scale set. @default - the settings' resource group */
  readonly resourceGroup?: string;
}

/** A spare Spot scale set: Spot only, in one zone, whose capacity only the controller sets. */
export interface AzureSpareScaleSetSettings {
  readonly name: string;
  /** Its zone (`1`, `2`, `3`). */
  readonly zone: string;
  /** Its VM size (the pool's type). */
  readonly vmSize: string;
  /** Most VMs it may run. */
  readonly maxCapacity: number;
  /** @default - the settings' region */
  readonly region?: string;
  /** @default - the settings' resource group */
  readonly resourceGroup?: string;
}

/** What the controller was deployed for (from its app settings). */
export interface AzureFallbackSettings {
  readonly fleetName: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly scaleSets: AzureScaleSetSettings[];
  /** Most VMs of the fleet, Spot and Regular together. */
  readonly maxCapacity: number;
  /** Blob of the controller's state. */
  readonly stateAccount: string;
  readonly stateContainer: string;
  readonly stateBlob: string;
  /** Tuning of the policy. @default - the policy's defaults */
  readonly policy?: FallbackPolicyOptions;
  /** Region of the custom metric (Azure Monitor ingestion endpoint). @default - no custom metric, the log line only */
  readonly metricsRegion?: string;
  /** Region of the scale sets that do not name theirs (pool ids `<region>/<zone>/<size>`). @default '' */
  readonly region?: string;
  /** Spare Spot scale sets, one per zone. @default - none (no spares) */
  readonly spareScaleSets?: AzureSpareScaleSetSettings[];
}

/** A VM of a Flexible scale set, as `virtualMachines` list returns it with `$expand=instanceView` (the fields read). */
export interface AzureVm {
  readonly name: string;
  readonly zones?: string[];
  readonly properties?: {
    readonly priority?: string;
    readonly provisioningState?: string;
    readonly hardwareProfile?: { readonly vmSize?: string };
    readonly instanceView?: {
      readonly statuses?: { readonly code?: string; readonly message?: string }[];
      readonly vmHealth?: { readonly status?: { readonly code?: string } };
    };
  };
}

/** A scale set's capacity and priority mix. */
export interface AzureScaleSetState {
  readonly id: string;
  readonly capacity: number;
  readonly baseRegularPriorityCount: number;
  readonly regularPriorityPercentageAboveBase: number;
}

/** The Azure Resource Manager calls the controller makes; `resourceGroup` defaults to the client's. */
export interface ComputeApi {
  getScaleSet(name: string, resourceGroup?: string): Promise<AzureScaleSetState>;
  listVms(scaleSetId: string): Promise<AzureVm[]>;
  /** PATCH the scale set: the priority mix when given, and the capacity when given. */
  updateScaleSet(name: string, update: { baseRegularPriorityCount?: number; regularPriorityPercentageAboveBase?: number; capacity?: number }, resourceGroup?: string): Promise<void>;
  /** Delete VMs of a Flexible scale set (by VM name); the capacity goes down with them. */
  deleteVms(name: string, vmNames: string[], resourceGroup?: string): Promise<void>;
}

/** The controller's blob. */
export interface AzureStoredState {
  readonly policy: FallbackState;
  /** Pool of each Spot VM seen last time, by `<scaleSet>/<vm>` (a VM gone since, while the capacity did not drop, was evicted). */
  readonly spotVms: Record<string, string>;
  /** Capacity of each scale set last time. */
  readonly capacities: Record<string, number>;
  /**
   * VMs each scale set still had to lose last time because its capacity was below the VMs it listed (the controller
   * lowered a spare set, or the set was scaled in): Azure removes them, so that many vanished VMs are no eviction.
   * @default - none
   */
  readonly scaleIn?: Record<string, number>;
  /** Failures already counted (`<vm>|<code>`). */
  readonly seenFailures: string[];
  /** Fallback the previous run applied (Regular VMs above the base it asked for). */
  readonly appliedFallback?: number;
}

/** Reads and conditionally writes the state blob. */
export interface AzureStateStore {
  read(): Promise<{ state?: AzureStoredState; etag?: string }>;
  /** Write if the blob still has `etag` (or does not exist when `etag` is undefined); `false` on HTTP 412/409. */
  write(state: AzureStoredState, etag: string | undefined): Promise<boolean>;
}

/** Writes the fallback metric. */
export interface AzureFallbackMetrics {
  writeFallback(value: number, fleet: string, at: Date): Promise<void>;
}

/** What the controller talks to; tests pass fakes or clients pointed at 127.0.0.1. */
export interface AzureFallbackClients {
  readonly compute: ComputeApi;
  readonly state: AzureStateStore;
  readonly metrics?: AzureFallbackMetrics;
  readonly log: (entry: Record<string, unknown>) => void;
  readonly now: () => Date;
}

/** What the controller did to one scale set. */
export interface AzureScaleSetChange {
  readonly name: string;
  readonly regularTarget: number;
  readonly regularNow: number;
  readonly capacityBefore: number;
  readonly capacityAfter: number;
  readonly patched: boolean;
  readonly deleted: string[];
}

/** What one run did. */
export interface AzureFallbackOutcome {
  readonly decision: FallbackDecision;
  /** Fallback applied (Regular VMs above the base, bounded). */
  readonly fallbackReplicas: number;
  readonly changes: AzureScaleSetChange[];
  readonly stateSaved: boolean;
  readonly readySpot: number;
  /** Capacity the spare Spot scale sets were left at. */
  readonly spareCapacity: number;
  /** One action per owned group (main scale sets' Regular counts, spare scale sets' capacities). */
  readonly actions: ControllerAction[];
  /** The step's input (what the simulator's equivalence test feeds back). */
  readonly stepInput: ControllerStepInput;
  readonly step: ControllerStep;
}

const CAPACITY_FAILURE = /AllocationFailed|ZonalAllocationFailed|OverconstrainedAllocationRequest|OverconstrainedZonalAllocationRequest|SkuNotAvailable|SpotVM|Eviction/i;

function statusCodes(vm: AzureVm): string[] {
  return (vm.properties?.instanceView?.statuses ?? []).map((s) => s.code ?? '');
}

/** Deleting VMs count for nothing. */
export function isDeleting(vm: AzureVm): boolean {
  return /^deleting$/i.test(vm.properties?.provisioningState ?? '') || statusCodes(vm).some((c) => /^ProvisioningState\/deleting/i.test(c));
}

/** Spot (or the older Low) priority; Azure omits `priority` for Regular VMs. */
export function isSpot(vm: AzureVm): boolean {
  return /^(spot|low)$/i.test(vm.properties?.priority ?? '');
}

/** Provisioned, running, and healthy when the Application Health extension reports. */
export function isReady(vm: AzureVm): boolean {
  const codes = statusCodes(vm);
  const provisioned = /^succeeded$/i.test(vm.properties?.provisioningState ?? '') || codes.some((c) => /^ProvisioningState\/succeeded$/i.test(c));
  const running = codes.some((c) => /^PowerState\/running$/i.test(c));
  const health = vm.properties?.instanceView?.vmHealth?.status?.code;
  return provisioned && running && (health === undefined || /^HealthState\/healthy$/i.test(health));
}

/** `<zone>/<vmSize>` of a VM, or `<region>/<zone>/<vmSize>` when a region is given. */
export function poolOf(vm: AzureVm, region?: string): string {
  const p = `${vm.zones?.[0] ?? 'nozone'}/${vm.properties?.hardwareProfile?.vmSize ?? 'unknown'}`;
  return region !== undefined ? `${region}/${p}` : p;
}

/** Split `total` over sets as evenly as their room allows; earlier sets get the remainder (decided in lib/policy). */
export { splitFallback } from '../../policy/capacity-split';

/** Read the settings from the function's app settings. Throws naming every missing or bad variable. */
export function azureFallbackSettingsFromEnv(env: Record<string, string | undefined>): AzureFallbackSettings {
  const need = ['FLEET_NAME', 'SUBSCRIPTION_ID', 'RESOURCE_GROUP', 'SCALE_SETS', 'MAX_CAPACITY', 'STATE_ACCOUNT', 'STATE_CONTAINER', 'STATE_BLOB'];
  const missing = need.filter((k) => !env[k]);
  if (missing.length > 0) {
    throw new Error(`fallback function misconfigured: app setting${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not set (the AzureOnDemandFallback construct sets them)`);
  }
  let scaleSets: AzureScaleSetSettings[];
  let policy: FallbackPolicyOptions | undefined;
  try {
    scaleSets = JSON.parse(env.SCALE_SETS!) as AzureScaleSetSettings[];
    policy = env.POLICY_OPTIONS ? (JSON.parse(env.POLICY_OPTIONS) as FallbackPolicyOptions) : undefined;
  } catch {
    throw new Error('fallback function misconfigured: SCALE_SETS and POLICY_OPTIONS must be JSON');
  }
  if (!Array.isArray(scaleSets) || scaleSets.length === 0 || scaleSets.some((s) => !s.name || ![s.baseRegularCount, s.maxCapacity, s.desiredCapacity].every(Number.isInteger))) {
    throw new Error('fallback function misconfigured: SCALE_SETS must list {name, baseRegularCount, maxCapacity, desiredCapacity} per scale set');
  }
  const max = Number(env.MAX_CAPACITY);
  if (!Number.isInteger(max) || max < 0) throw new Error(`fallback function misconfigured: MAX_CAPACITY (${env.MAX_CAPACITY}) must be a whole number, 0 or more`);
  return {
    fleetName: env.FLEET_NAME!,
    subscriptionId: env.SUBSCRIPTION_ID!,
    resourceGroup: env.RESOURCE_GROUP!,
    scaleSets,
    maxCapacity: max,
    stateAccount: env.STATE_ACCOUNT!,
    stateContainer: env.STATE_CONTAINER!,
    stateBlob: env.STATE_BLOB!,
    policy,
    metricsRegion: env.METRICS_REGION || undefined,
    region: env.FLEET_REGION || undefined,
    spareScaleSets: spareSetsFromEnv(env.SPARE_SCALE_SETS),
  };
}

function spareSetsFromEnv(raw: string | undefined): AzureSpareScaleSetSettings[] | undefined {
  if (!raw) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new Error(`fallback function misconfigured: SPARE_SCALE_SETS is not JSON (${raw.slice(0, 40)})`);
  }
  if (!Array.isArray(v)) throw new Error(`fallback function misconfigured: SPARE_SCALE_SETS (${raw.slice(0, 40)}) must be a JSON list of {name, zone, vmSize, maxCapacity}`);
  const problems: string[] = [];
  v.forEach((x, i) => {
    const o = (x ?? {}) as Record<string, unknown>;
    for (const k of ['name', 'zone', 'vmSize']) if (typeof o[k] !== 'string' || (o[k] as string).length === 0) problems.push(`SPARE_SCALE_SETS[${i}].${k} (${JSON.stringify(o[k])}) must be a non-empty string`);
    if (!Number.isInteger(o.maxCapacity) || (o.maxCapacity as number) < 0) problems.push(`SPARE_SCALE_SETS[${i}].maxCapacity (${JSON.stringify(o.maxCapacity)}) must be a whole number, 0 or more`);
  });
  if (problems.length > 0) throw new Error(`fallback function misconfigured: ${problems.join('; ')}`);
  return v as AzureSpareScaleSetSettings[];
}

/** One scale set as a run read it: its settings, its capacity and priority mix, its VMs (none being deleted). */
export interface AzureScaleSetView {
  readonly settings: AzureScaleSetSettings;
  readonly scaleSet: AzureScaleSetState;
  readonly vms: AzureVm[];
}

/** One spare Spot scale set as a run read it. */
export interface AzureSpareScaleSetView {
  readonly settings: AzureSpareScaleSetSettings;
  readonly scaleSet: AzureScaleSetState;
  readonly vms: AzureVm[];
}

/** What {@link buildAzureStepInput} read from one run's views: the step's input and the memory the run keeps. */
export interface AzureStepReading {
  /** The input of `planControllerStep`. */
  readonly stepInput: ControllerStepInput;
  /** Pool of each Spot VM seen (`<scale set>/<vm>` -> pool), for the next run's eviction count. */
  readonly spotVms: Record<string, string>;
  /** Capacity of each scale set seen. */
  readonly capacities: Record<string, number>;
  /** Failure keys seen this run (each failure is one strike, not one per run). */
  readonly seenFailures: string[];
  /** Ready Spot VMs (main and spare scale sets). */
  readonly readySpot: number;
  /** Ready Regular VMs. */
  readonly onDemandReady: number;
  /** The fleet's target this run. */
  readonly targetReplicas: number;
  /** Capacity of the main scale sets together. */
  readonly currentTotal: number;
}

/**
 * The pure half of a run: the scale sets and VMs one run read (and the stored memory) -> the input of
 * `planControllerStep`. Evictions are Spot VMs gone while their scale set's capacity did not drop (less the VMs
 * the set had to lose to a scale-in, {@link AzureStoredState.scaleIn}), and deallocated Spot VMs; launch failures are allocation failures not seen before. The handler calls exactly
 * `planControllerStep(buildAzureStepInput(...).stepInput)`, so a test (the simulator's equivalence test) can rebuild
 * the controller's input from the same observations without the ARM clients.
 */
export function buildAzureStepInput(
  settings: AzureFallbackSettings,
  views: readonly AzureScaleSetView[],
  spareViews: readonly AzureSpareScaleSetView[],
  prev: AzureStoredState,
  nowSeconds: number,
): AzureStepReading {
  const regionOf = (r: string | undefined): string => r ?? settings.region ?? '';
  // Observe.
  const pools = new Map<string, { ready: number; launching: number; launchFailures: number; preempted: number }>();
  const pool = (id: string) => {
    let p = pools.get(id);
    if (!p) pools.set(id, (p = { ready: 0, launching: 0, launchFailures: 0, preempted: 0 }));
    return p;
  };
  const seen = new Set(prev.seenFailures);
  const seenFailures: string[] = [];
  const spotVms: Record<string, string> = {};
  const capacities: Record<string, number> = {};
  let onDemandReady = 0;
  // The main scale sets' own ready Spot VMs (not the spare sets'): what the stand-ins for unlaunched Spot count.
  let mainSpotInService = 0;
  const observe = (name: string, region: string, scaleSet: AzureScaleSetState, vms: AzureVm[], main: boolean): void => {
    capacities[name] = scaleSet.capacity;
    for (const vm of vms.filter((x) => !isDeleting(x))) {
      if (!isSpot(vm)) {
        if (isReady(vm)) onDemandReady++;
        continue;
      }
      const id = poolOf(vm, region);
      spotVms[`${name}/${vm.name}`] = id;
      const p = pool(id);
      const codes = statusCodes(vm);
      const failed = codes.find((c) => /^ProvisioningState\/failed/i.test(c) && CAPACITY_FAILURE.test(c)) ?? (/^failed$/i.test(vm.properties?.provisioningState ?? '') ? 'ProvisioningState/failed' : undefined);
      const evicted = codes.some((c) => /^PowerState\/deallocated$/i.test(c));
      if (isReady(vm)) {
        p.ready++;
        if (main) mainSpotInService++;
      } else if (failed || evicted) {
        const key = `${vm.name}|${evicted ? 'evicted' : failed}`;
        seenFailures.push(key);
        if (!seen.has(key)) {
          if (evicted) p.preempted++;
          else p.launchFailures++;
        }
      } else p.launching++;
    }
    // A Spot VM gone while the capacity did not drop was evicted (Delete eviction policy), less the VMs the set
    // still had to lose to a scale-in last time (the controller lowering a spare set, or Azure not done yet with
    // an earlier scale-in): those vanish without an eviction. Which VMs a scale-in takes is Azure's choice, so the
    // pools keep the first vanished VMs (in the order last seen) as evictions.
    // (A drop of the capacity means a scale-in, or evictions Azure already counted down; the desired
    // capacity floor of the target covers the latter.)
    if (prev.capacities[name] !== undefined && scaleSet.capacity >= prev.capacities[name]) {
      const vanished = Object.entries(prev.spotVms).filter(([key]) => key.startsWith(`${name}/`) && !(key in spotVms));
      const scaledIn = Math.max(0, Math.floor(Number(prev.scaleIn?.[name]) || 0));
      for (const [, id] of vanished.slice(0, Math.max(0, vanished.length - scaledIn))) pool(id).preempted++;
    }
  };
  for (const v of views) observe(v.settings.name, regionOf(v.settings.region), v.scaleSet, v.vms, true);
  for (const v of spareViews) {
    observe(v.settings.name, regionOf(v.settings.region), v.scaleSet, v.vms, false);
    pool(`${regionOf(v.settings.region)}/${v.settings.zone}/${v.settings.vmSize}`); // ranked even with no VM yet
  }
  const observations: SpotPoolObservation[] = [...pools.entries()].map(([id, p]) => ({ pool: id, ...p }));
  const readySpot = observations.reduce((n, p) => n + p.ready, 0);

  // Plan: the cloud-neutral step. The main scale sets' Regular counts are the on-demand groups (their base
  // plus the fallback share); the spare scale sets' capacities are the spare groups.
  const base = Math.min(settings.maxCapacity, views.reduce((n, v) => n + v.settings.baseRegularCount, 0));
  const currentTotal = views.reduce((n, v) => n + v.scaleSet.capacity, 0);
  const desiredTotal = views.reduce((n, v) => n + v.settings.desiredCapacity, 0);
  // The capacity the controller added for the fallback is not part of the fleet's target.
  const targetReplicas = Math.max(base, Math.min(settings.maxCapacity, Math.max(desiredTotal, currentTotal - (prev.appliedFallback ?? 0))));
  const byRegion = new Map<string, { targetReplicas: number; onDemandBase: number }>();
  for (const v of views) {
    const r = regionOf(v.settings.region);
    const e = byRegion.get(r) ?? { targetReplicas: 0, onDemandBase: 0 };
    byRegion.set(r, { targetReplicas: e.targetReplicas + v.settings.desiredCapacity, onDemandBase: e.onDemandBase + v.settings.baseRegularCount });
  }
  const groups: ControllerGroup[] = [
    ...views.map((v) => ({
      id: v.settings.name,
      region: regionOf(v.settings.region),
      role: ControllerGroupRole.ON_DEMAND,
      desired: v.scaleSet.baseRegularPriorityCount,
      maxSize: v.settings.maxCapacity,
      baseReplicas: v.settings.baseRegularCount,
      zones: [],
      types: [],
    })),
    ...spareViews.map((v) => ({
      id: v.settings.name,
      region: regionOf(v.settings.region),
      role: ControllerGroupRole.SPARE_SPOT,
      desired: v.scaleSet.capacity,
      maxSize: v.settings.maxCapacity,
      zones: [v.settings.zone],
      types: [v.settings.vmSize],
    })),
  ];
  const stepInput: ControllerStepInput = {
    observed: {
      nowSeconds,
      targetReplicas,
      onDemandBase: base,
      maxCapacity: settings.maxCapacity,
      onDemandReady,
      pools: observations,
      regions: byRegion.size > 1 ? [...byRegion.entries()].map(([region, x]) => ({ region, ...x })) : undefined,
      mainSpotInService,
    },
    state: prev.policy,
    options: settings.policy,
    groups,
  };
  return { stepInput, spotVms, capacities, seenFailures, readySpot, onDemandReady, targetReplicas, currentTotal };
}

/**
 * The stored state when it has the shape this controller writes; otherwise (a blob of JSON that is not that, e.g.
 * `{}` or a list) a fresh state, logged, so a damaged blob never stops the controller. Missing bookkeeping fields of
 * an otherwise good state are filled in (kept policy memory).
 */
export function usableAzureState(stored: unknown, settings: Pick<AzureFallbackSettings, 'policy' | 'fleetName'>, log?: (entry: Record<string, unknown>) => void): AzureStoredState {
  const fresh: AzureStoredState = { policy: initialFallbackState(settings.policy), spotVms: {}, capacities: {}, seenFailures: [] };
  if (stored === undefined || stored === null) return fresh;
  const o = stored as Partial<AzureStoredState>;
  const isMap = (x: unknown): boolean => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isMap(stored) || !isMap(o.policy)) {
    log?.({ level: 'warning', message: `spot fallback: the state blob is not a controller state (${JSON.stringify(stored).slice(0, 60)}); starting from a fresh state`, fleet: settings.fleetName });
    return fresh;
  }
  return {
    policy: o.policy!,
    spotVms: isMap(o.spotVms) ? o.spotVms! : {},
    capacities: isMap(o.capacities) ? o.capacities! : {},
    seenFailures: Array.isArray(o.seenFailures) ? o.seenFailures.filter((x): x is string => typeof x === 'string') : [],
    ...(typeof o.appliedFallback === 'number' && Number.isFinite(o.appliedFallback) ? { appliedFallback: o.appliedFallback } : {}),
    ...(isMap(o.scaleIn) ? { scaleIn: o.scaleIn! } : {}),
  };
}

/** What an eviction message says (lib/runtime/azure-controller-queue.ts), or why it could not be read. */
export function readEvictionMessage(message: unknown): { vmName?: string; eventId?: string; problem?: string } {
  let m = message;
  if (typeof message === 'string') {
    try {
      m = JSON.parse(message);
    } catch {
      return { problem: `not JSON: ${message.slice(0, 80)}` };
    }
  }
  if (typeof m !== 'object' || m === null) return { problem: `not an object: ${String(m).slice(0, 80)}` };
  const o = m as Record<string, unknown>;
  if (o.type !== EVICTION_MESSAGE_TYPE) return { problem: `type ${JSON.stringify(o.type)} is not ${EVICTION_MESSAGE_TYPE}` };
  if (typeof o.vmName !== 'string' || o.vmName.length === 0) return { problem: 'no vmName' };
  return { vmName: o.vmName, ...(typeof o.eventId === 'string' ? { eventId: o.eventId } : {}) };
}

/** One control period: observe, decide, apply, persist, report. Running it twice in a row changes nothing. */
export async function runAzureFallbackController(settings: AzureFallbackSettings, clients: AzureFallbackClients): Promise<AzureFallbackOutcome> {
  const now = clients.now();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const { state: stored, etag } = await clients.state.read();
  const prev = usableAzureState(stored, settings, clients.log);
  const missing = (err: unknown): boolean => err instanceof AzureApiError && err.status === 404;

  const views: AzureScaleSetView[] = await Promise.all(
    settings.scaleSets.map(async (s) => {
      const scaleSet = await clients.compute.getScaleSet(s.name, s.resourceGroup);
      const vms = (await clients.compute.listVms(scaleSet.id)).filter((vm) => !isDeleting(vm));
      return { settings: s, scaleSet, vms };
    }),
  );
  const spareViews = (
    await Promise.all(
      (settings.spareScaleSets ?? []).map(async (s) => {
        try {
          const scaleSet = await clients.compute.getScaleSet(s.name, s.resourceGroup);
          const vms = (await clients.compute.listVms(scaleSet.id)).filter((vm) => !isDeleting(vm));
          return { settings: s, scaleSet, vms };
        } catch (err) {
          if (!missing(err)) throw err;
          clients.log({ level: 'warning', message: `spot fallback: spare scale set ${s.name} not found (deleted, or not created yet): no spares there this run`, fleet: settings.fleetName });
          return undefined;
        }
      }),
    )
  ).filter((x): x is NonNullable<typeof x> => x !== undefined);

  const { stepInput, spotVms, capacities, seenFailures, readySpot, onDemandReady, targetReplicas, currentTotal } = buildAzureStepInput(settings, views, spareViews, prev, nowSeconds);
  const step = planControllerStep(stepInput);
  const decision = step.decision;
  const fallback = step.fallbackReplicas;

  // Apply.
  const changes: AzureScaleSetChange[] = [];
  const failed: string[] = [];
  /** VMs each scale set runs above the capacity it is left at (Azure scales them in): see {@link AzureStoredState.scaleIn}. */
  const scaleIn: Record<string, number> = {};
  let total = currentTotal + spareViews.reduce((n, v) => n + v.scaleSet.capacity, 0);
  for (let i = 0; i < views.length; i++) {
    const { settings: s, scaleSet, vms } = views[i];
    const regularTarget = step.actions.find((a) => a.group === s.name && a.role === ControllerGroupRole.ON_DEMAND)!.desired;
    const regularVms = vms.filter((vm) => !isSpot(vm));
    // Every listed Spot VM holds a slot of the capacity, failed ones too (Azure keeps them until deleted).
    const spotSlots = vms.filter(isSpot).length;
    let capacity = scaleSet.capacity;
    const deleted: string[] = [];
    let patched = false;
    if (regularVms.length < regularTarget) {
      // Up: room for the missing Regular VMs, within the set's and the fleet's maximum.
      const wanted = Math.min(s.maxCapacity, Math.max(capacity, regularTarget + spotSlots));
      capacity = Math.max(capacity, Math.min(wanted, capacity + Math.max(0, settings.maxCapacity - total)));
    }
    try {
      if (scaleSet.baseRegularPriorityCount !== regularTarget || capacity !== scaleSet.capacity) {
        await clients.compute.updateScaleSet(
          s.name,
          { baseRegularPriorityCount: regularTarget, regularPriorityPercentageAboveBase: scaleSet.regularPriorityPercentageAboveBase, capacity: capacity !== scaleSet.capacity ? capacity : undefined },
          s.resourceGroup,
        );
        patched = true;
        total += capacity - scaleSet.capacity;
      }
      if ((decision.action === FallbackAction.RETURN_TO_SPOT || fallback < decision.fallbackReplicas) && regularVms.length > regularTarget) {
        // Down (spot is back, or maxCapacity leaves no room next to the ready Spot VMs): only the surplus
        // Regular VMs go (not-ready ones first); Spot VMs are not touched.
        const surplus = [...regularVms].sort((a, b) => Number(isReady(a)) - Number(isReady(b)) || b.name.localeCompare(a.name)).slice(0, regularVms.length - regularTarget);
        deleted.push(...surplus.map((vm) => vm.name));
        await clients.compute.deleteVms(s.name, deleted, s.resourceGroup);
        capacity = Math.max(0, capacity - deleted.length);
        total -= deleted.length;
      }
    } catch (err) {
      if (!(err instanceof AzureApiError) || err.status === 403 || err.status < 400) throw err;
      failed.push(`${s.name}: ${err.message}`);
      clients.log({ level: 'warning', message: `spot fallback: applying to ${s.name} failed (${err.message}); the next run redoes it`, fleet: settings.fleetName });
      capacity = scaleSet.capacity;
    }
    changes.push({ name: s.name, regularTarget, regularNow: regularVms.length, capacityBefore: scaleSet.capacity, capacityAfter: capacity, patched, deleted });
    if (vms.length - deleted.length > capacity) scaleIn[s.name] = vms.length - deleted.length - capacity;
  }
  for (const v of spareViews) {
    const a = step.actions.find((x) => x.group === v.settings.name && x.role === ControllerGroupRole.SPARE_SPOT)!;
    let capacity = v.scaleSet.capacity;
    let patched = false;
    if (a.desired !== capacity) {
      try {
        await clients.compute.updateScaleSet(v.settings.name, { capacity: a.desired }, v.settings.resourceGroup);
        capacity = a.desired;
        patched = true;
      } catch (err) {
        if (!(err instanceof AzureApiError) || err.status === 403 || err.status < 400) throw err;
        failed.push(`${v.settings.name}: ${err.message}`);
        clients.log({ level: 'warning', message: `spot fallback: setting the capacity of ${v.settings.name} to ${a.desired} failed (${err.message}); the next run redoes it`, fleet: settings.fleetName });
      }
    }
    changes.push({ name: v.settings.name, regularTarget: 0, regularNow: 0, capacityBefore: v.scaleSet.capacity, capacityAfter: capacity, patched, deleted: [] });
    // Lowered below the VMs it runs: Azure removes the difference, which the next run must not count as evictions.
    if (v.vms.length > capacity) scaleIn[v.settings.name] = v.vms.length - capacity;
  }
  for (const c of changes) capacities[c.name] = c.capacityAfter;

  const next: AzureStoredState = { policy: step.nextState, spotVms, capacities, ...(Object.keys(scaleIn).length > 0 ? { scaleIn } : {}), seenFailures: seenFailures.slice(-256), appliedFallback: fallback };
  const stateSaved = await clients.state.write(next, etag);
  const applied = changes.filter((c) => c.patched || c.deleted.length > 0);
  const spareCapacity = step.actions.filter((a) => a.role === ControllerGroupRole.SPARE_SPOT).reduce((n, a) => n + a.desired, 0);
  clients.log({
    level: decision.action === FallbackAction.FALL_BACK || failed.length > 0 ? 'warning' : 'information',
    message: `spot fallback: ${decision.action}: ${decision.reason}${fallback !== decision.fallbackReplicas ? `; bounded to ${fallback} Regular VMs above the base (maxCapacity ${settings.maxCapacity}, ready Spot ${readySpot})` : ''}; ${
      applied.length === 0
        ? 'scale sets unchanged'
        : applied
          .map((c) => (c.regularTarget === 0 && c.regularNow === 0 && spareViews.some((v) => v.settings.name === c.name) ? `${c.name}: spare capacity ${c.capacityBefore} -> ${c.capacityAfter}` : `${c.name}: regular ${c.regularNow} -> ${c.regularTarget}, capacity ${c.capacityBefore} -> ${c.capacityAfter}${c.deleted.length ? `, deleted ${c.deleted.join(', ')}` : ''}`))
          .join('; ')
    }${failed.length > 0 ? `; not applied: ${failed.join('; ')}` : ''}`,
    fleet: settings.fleetName,
    metric: FALLBACK_METRIC_NAME,
    action: decision.action,
    fallbackReplicas: fallback,
    spareSpotReplicas: spareCapacity,
    targetReplicas,
    readySpot,
    onDemandReady,
    unavailablePools: decision.unavailablePools,
    reasons: step.reasons,
    stateSaved,
  });
  if (clients.metrics) {
    try {
      await clients.metrics.writeFallback(fallback, settings.fleetName, now);
    } catch (err) {
      clients.log({ level: 'warning', message: `spot fallback: metric write failed: ${(err as Error).message}`, fleet: settings.fleetName });
    }
  }
  return { decision, fallbackReplicas: fallback, changes, stateSaved, readySpot, spareCapacity, actions: step.actions, stepInput, step };
}


// ---------------------------------------------------------------------------------------------------------
// REST clients (fetch + a token provider); endpoints are configurable so tests talk to 127.0.0.1.

/** An HTTP error from an Azure API. */
export class AzureApiError extends Error {
  constructor(
    public readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'AzureApiError';
    Object.setPrototypeOf(this, AzureApiError.prototype);
  }
}

/** Options shared by the REST clients. */
export interface AzureRestOptions {
  /** Returns a bearer token for a scope (`https://management.azure.com/.default`, ...). */
  readonly getToken: (scope: string) => Promise<string>;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Attempts for 429, 5xx and network errors. @default 5 */
  readonly maxAttempts?: number;
  /** First backoff, ms (doubles; `Retry-After` wins when given). @default 500 */
  readonly baseDelayMs?: number;
  /** @default setTimeout-based */
  readonly sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function errorText(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    return body.error ? `${body.error.code ?? ''}: ${body.error.message ?? ''}` : text;
  } catch {
    return text;
  }
}

/** Send a request, retrying 429, 5xx and network errors. Other statuses are returned to the caller. */
export async function azureRequest(options: AzureRestOptions, scope: string, url: string, init: { method: string; headers?: Record<string, string>; body?: string }): Promise<Response> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const attempts = options.maxAttempts ?? 5;
  const sleep = options.sleep ?? defaultSleep;
  let delay = options.baseDelayMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    let res: Response | undefined;
    let failure: Error;
    try {
      const token = await options.getToken(scope);
      res = await doFetch(url, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
      if (res.status !== 429 && res.status < 500) return res;
      failure = new AzureApiError(res.status, await errorText(res));
    } catch (err) {
      failure = err as Error;
    }
    if (attempt >= attempts) throw failure;
    const retryAfter = Number(res?.headers.get('retry-after'));
    await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 30000) : delay);
    delay *= 2;
  }
}

async function ok(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new AzureApiError(res.status, `${what}: ${await errorText(res)}`);
  return res;
}

const ARM_SCOPE = 'https://management.azure.com/.default';
const COMPUTE_API = '2024-07-01';

/** A {@link ComputeApi} on Azure Resource Manager. */
export function createArmComputeApi(options: AzureRestOptions & { subscriptionId: string; resourceGroup: string; endpoint?: string }): ComputeApi {
  const arm = (options.endpoint ?? 'https://management.azure.com').replace(/\/+$/, '');
  const rgOf = (group?: string) => `/subscriptions/${encodeURIComponent(options.subscriptionId)}/resourceGroups/${encodeURIComponent(group ?? options.resourceGroup)}/providers/Microsoft.Compute`;
  const rg = rgOf();
  const vmss = (name: string, group?: string) => `${arm}${rgOf(group)}/virtualMachineScaleSets/${encodeURIComponent(name)}`;
  return {
    async getScaleSet(name, group) {
      const res = await ok(await azureRequest(options, ARM_SCOPE, `${vmss(name, group)}?api-version=${COMPUTE_API}`, { method: 'GET' }), `get scale set ${name}`);
      const body = (await res.json()) as {
        id: string;
        sku?: { capacity?: number };
        properties?: { priorityMixPolicy?: { baseRegularPriorityCount?: number; regularPriorityPercentageAboveBase?: number } };
      };
      return {
        id: body.id,
        capacity: body.sku?.capacity ?? 0,
        baseRegularPriorityCount: body.properties?.priorityMixPolicy?.baseRegularPriorityCount ?? 0,
        regularPriorityPercentageAboveBase: body.properties?.priorityMixPolicy?.regularPriorityPercentageAboveBase ?? 0,
      };
    },
    async listVms(scaleSetId) {
      const out: AzureVm[] = [];
      const q = new URLSearchParams({ 'api-version': COMPUTE_API, $filter: `'virtualMachineScaleSet/id' eq '${scaleSetId}'`, $expand: 'instanceView' });
      // The VMs of a Flexible scale set are resources of the scale set's own resource group.
      const groupOfSet = /\/resourceGroups\/([^/]+)\//i.exec(scaleSetId)?.[1];
      let next: string | undefined = `${arm}${groupOfSet ? rgOf(decodeURIComponent(groupOfSet)) : rg}/virtualMachines?${q}`;
      while (next) {
        const res = await ok(await azureRequest(options, ARM_SCOPE, next, { method: 'GET' }), 'list VMs');
        const body = (await res.json()) as { value?: AzureVm[]; nextLink?: string };
        out.push(...(body.value ?? []));
        next = body.nextLink ? body.nextLink.replace(/^https:\/\/management\.azure\.com/, arm) : undefined;
      }
      return out;
    },
    async updateScaleSet(name, update, group) {
      const body: Record<string, unknown> = {};
      if (update.baseRegularPriorityCount !== undefined) {
        body.properties = { priorityMixPolicy: { baseRegularPriorityCount: update.baseRegularPriorityCount, regularPriorityPercentageAboveBase: update.regularPriorityPercentageAboveBase ?? 0 } };
      }
      if (update.capacity !== undefined) body.sku = { capacity: update.capacity };
      const res = await azureRequest(options, ARM_SCOPE, `${vmss(name, group)}?api-version=${COMPUTE_API}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      await ok(res, `update scale set ${name}`);
      await res.text();
    },
    async deleteVms(name, vmNames, group) {
      const res = await azureRequest(options, ARM_SCOPE, `${vmss(name, group)}/delete?api-version=${COMPUTE_API}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instanceIds: vmNames }),
      });
      if (res.status === 404) {
        await res.text();
        return; // already gone
      }
      await ok(res, `delete VMs ${vmNames.join(', ')} of ${name}`);
      await res.text();
    },
  };
}

/** An {@link AzureStateStore} on a block blob (ETag preconditions), with the function's identity. */
export function createBlobStateStore(options: AzureRestOptions & { account: string; container: string; blob: string; endpoint?: string }): AzureStateStore {
  const url = `${(options.endpoint ?? `https://${options.account}.blob.core.windows.net`).replace(/\/+$/, '')}/${encodeURIComponent(options.container)}/${encodeURIComponent(options.blob)}`;
  const scope = 'https://storage.azure.com/.default';
  const version = { 'x-ms-version': '2023-11-03' };
  return {
    async read() {
      const res = await azureRequest(options, scope, url, { method: 'GET', headers: version });
      if (res.status === 404) {
        await res.text();
        return {};
      }
      await ok(res, `read state blob ${options.container}/${options.blob}`);
      const etag = res.headers.get('etag') ?? undefined;
      try {
        return { state: JSON.parse(await res.text()) as AzureStoredState, etag };
      } catch {
        return { etag };
      }
    },
    async write(state, etag) {
      const res = await azureRequest(options, scope, url, {
        method: 'PUT',
        headers: { ...version, 'x-ms-blob-type': 'BlockBlob', 'content-type': 'application/json', ...(etag ? { 'if-match': etag } : { 'if-none-match': '*' }) },
        body: JSON.stringify(state),
      });
      if (res.status === 412 || res.status === 409) {
        await res.text();
        return false;
      }
      await ok(res, `write state blob ${options.container}/${options.blob}`);
      await res.text();
      return true;
    },
  };
}

/** {@link AzureFallbackMetrics} on Azure Monitor custom metrics ingestion (`POST {region}.monitoring.azure.com{resourceId}/metrics`). */
export function createAzureMonitorMetrics(options: AzureRestOptions & { region: string; resourceId: string; endpoint?: string }): AzureFallbackMetrics {
  const root = (options.endpoint ?? `https://${options.region}.monitoring.azure.com`).replace(/\/+$/, '');
  return {
    async writeFallback(value, fleet, at) {
      const body = {
        time: at.toISOString(),
        data: { baseData: { metric: FALLBACK_METRIC_NAME, namespace: FALLBACK_METRIC_NAMESPACE, dimNames: ['fleet'], series: [{ dimValues: [fleet], min: value, max: value, sum: value, count: 1 }] } },
      };
      const res = await azureRequest(options, 'https://monitoring.azure.com/.default', `${root}${options.resourceId}/metrics`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      await ok(res, `write ${FALLBACK_METRIC_NAME} metric`);
      await res.text();
    },
  };
}
