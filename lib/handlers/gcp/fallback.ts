/**
 * The on-demand fallback controller of a Google Cloud spot fleet, as pure functions of its inputs and clients.
 *
 * Every minute (Cloud Scheduler -> Pub/Sub -> this Cloud Function) and on each preemption (the preemption
 * hook's topic, a second Eventarc trigger), the controller:
 * 1. reads its state (a {@link FallbackState} JSON object in Cloud Storage, with its generation);
 * 2. lists the spot group's managed instances (`regionInstanceGroupManagers.listManagedInstances`): per pool
 *    (`<zone>/<machineType>`) the ready, launching and failed-to-launch VMs, and the standard group's ready VMs;
 * 3. calls the shared policy ({@link decideFallback}, the same code the planner simulates);
 * 4. resizes the standard (on-demand) group to `base + fallback` (`regionInstanceGroupManagers.resize`),
 *    only when that differs from its current target size (idempotent), never below the on-demand base and
 *    never above `maxCapacity` minus the ready spot VMs;
 * 5. writes the state back with `ifGenerationMatch` (a concurrent run that got there first wins; this run's
 *    resize was idempotent, so nothing is lost), logs one structured line with the reason, and writes the
 *    metric `custom.googleapis.com/spot_inference/fallback_replicas`.
 *
 * Transient API errors (429, 5xx, network) are retried with backoff, honouring `Retry-After`.
 */
import { decideFallback, FallbackAction, FallbackDecision, FallbackPolicyOptions, FallbackState, initialFallbackState, SpotPoolObservation } from '../../policy';
import { GoogleApiError, parsePreemption, PreemptionRecord, PubsubCloudEvent } from './preemption';

export { GoogleApiError } from './preemption';

/** Metric the controller writes: on-demand replicas above the base. */
export const FALLBACK_METRIC_TYPE = 'custom.googleapis.com/spot_inference/fallback_replicas';

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

/** The Compute Engine calls the controller makes. */
export interface ComputeClient {
  /** `regionInstanceGroupManagers.get`: the group's target size. */
  getTargetSize(group: string): Promise<number>;
  /** `regionInstanceGroupManagers.listManagedInstances`, every page. */
  listManagedInstances(group: string): Promise<ManagedInstance[]>;
  /** `regionInstanceGroupManagers.resize`. */
  resize(group: string, size: number): Promise<void>;
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
  /** Ready spot VMs seen. */
  readonly readySpot: number;
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
): { pools: Map<string, PoolCounts>; instancePools: Record<string, string>; seenFailures: string[] } {
  const pools = new Map<string, PoolCounts>();
  const instancePools: Record<string, string> = {};
  const seen = new Set(previous.seenFailures);
  const seenFailures: string[] = [];
  for (const mi of instances) {
    const { zone, name } = instanceLocation(mi);
    const machineType = lastSegment(mi.propertiesFromFlexibilityPolicy?.machineType) || settings.defaultMachineType;
    const pool = `${zone}/${machineType}`;
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
  };
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
  const prev: StoredState = stored ?? { policy: initialFallbackState(settings.policy), instancePools: {}, seenFailures: [], seenPreemptions: [] };

  const [spotTarget, onDemandSize, spotInstances, onDemandInstances] = await Promise.all([
    clients.compute.getTargetSize(settings.spotGroup),
    clients.compute.getTargetSize(settings.onDemandGroup),
    clients.compute.listManagedInstances(settings.spotGroup),
    clients.compute.listManagedInstances(settings.onDemandGroup),
  ]);
  const observed = observeSpotGroup(spotInstances, settings, prev);

  // A preemption message: one preempted VM in the pool it ran in (from the previous listing).
  // A repeated delivery of the same message is recognised by the log entry's insertId and counted once.
  const prefix = settings.instanceNamePrefix ?? `${settings.fleetName}-spot-`;
  const found = preemptionOf(event);
  const preemption = found && found.project === settings.project && found.instanceName.startsWith(prefix) ? found : undefined;
  const seenPreemptions = [...prev.seenPreemptions];
  if (preemption) {
    const id = preemption.insertId ?? `${preemption.instanceName}@${preemption.preemptedAt}`;
    if (!seenPreemptions.includes(id)) {
      seenPreemptions.push(id);
      const pool = prev.instancePools[preemption.instanceName] ?? `${preemption.zone}/${settings.defaultMachineType}`;
      const p = observed.pools.get(pool) ?? { ready: 0, launching: 0, launchFailures: 0, preempted: 0 };
      observed.pools.set(pool, p);
      p.preempted++;
    }
  }

  const pools: SpotPoolObservation[] = [...observed.pools.entries()].map(([pool, p]) => ({ pool, ...p }));
  const readySpot = pools.reduce((s, p) => s + p.ready, 0);
  const onDemandReady = onDemandInstances.filter(isReady).length;
  const base = Math.min(settings.onDemandBase, settings.maxCapacity);
  const targetReplicas = Math.min(settings.maxCapacity, base + spotTarget);
  const decision = decideFallback(
    { nowSeconds, targetReplicas, onDemandBase: base, maxCapacity: settings.maxCapacity, onDemandReady, pools, state: prev.policy },
    settings.policy,
  );

  // Bounds: never below the base; never more VMs than maxCapacity with the spot VMs that serve now.
  const ceiling = Math.max(base, settings.maxCapacity - readySpot);
  const desired = Math.min(Math.max(decision.onDemandReplicas, base), ceiling);
  const bounded = desired !== decision.onDemandReplicas;
  let resized = false;
  if (desired !== onDemandSize) {
    await clients.compute.resize(settings.onDemandGroup, desired);
    resized = true;
  }

  const next: StoredState = {
    policy: decision.state,
    instancePools: observed.instancePools,
    seenFailures: observed.seenFailures.slice(-256),
    seenPreemptions: seenPreemptions.slice(-64),
  };
  const stateSaved = await clients.state.write(next, generation);
  const fallback = desired - base;
  clients.log({
    severity: decision.action === FallbackAction.FALL_BACK ? 'WARNING' : 'INFO',
    message: `spot fallback: ${decision.action}: ${decision.reason}${bounded ? `; bounded to ${desired} standard VMs (base ${base}, maxCapacity ${settings.maxCapacity}, ready spot ${readySpot})` : ''}${resized ? `; resized ${settings.onDemandGroup} ${onDemandSize} -> ${desired}` : `; ${settings.onDemandGroup} stays at ${onDemandSize}`}`,
    fleet: settings.fleetName,
    action: decision.action,
    fallbackReplicas: fallback,
    onDemandSize: desired,
    previousOnDemandSize: onDemandSize,
    spotTargetSize: spotTarget,
    readySpot,
    onDemandReady,
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
  return { decision, previousOnDemandSize: onDemandSize, onDemandSize: desired, resized, stateSaved, preemption, readySpot };
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
  const root = `${(options.endpoint ?? 'https://compute.googleapis.com').replace(/\/+$/, '')}/compute/v1/projects/${encodeURIComponent(options.project)}/regions/${encodeURIComponent(options.region)}/instanceGroupManagers`;
  return {
    async getTargetSize(group) {
      const res = await ensureOk(await googleRequest(options, `${root}/${encodeURIComponent(group)}`, { method: 'GET' }), `get ${group}`);
      const body = (await res.json()) as { targetSize?: number };
      return body.targetSize ?? 0;
    },
    async listManagedInstances(group) {
      const out: ManagedInstance[] = [];
      let pageToken: string | undefined;
      do {
        const q = new URLSearchParams({ maxResults: '500', ...(pageToken ? { pageToken } : {}) });
        const res = await ensureOk(await googleRequest(options, `${root}/${encodeURIComponent(group)}/listManagedInstances?${q}`, { method: 'POST' }), `listManagedInstances ${group}`);
        const body = (await res.json()) as { managedInstances?: ManagedInstance[]; nextPageToken?: string };
        out.push(...(body.managedInstances ?? []));
        pageToken = body.nextPageToken;
      } while (pageToken);
      return out;
    },
    async resize(group, size) {
      await ensureOk(await googleRequest(options, `${root}/${encodeURIComponent(group)}/resize?size=${size}`, { method: 'POST' }), `resize ${group} to ${size}`);
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
