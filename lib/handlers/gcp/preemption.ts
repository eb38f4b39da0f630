/**
 * The preemption hook of a Google Cloud spot fleet, as a pure function of its event and clients.
 *
 * A logging sink routes the audit log entry `compute.instances.preempted` of the fleet's spot VMs into a
 * Pub/Sub topic; Eventarc delivers each message to the Cloud Function as a CloudEvent
 * (`google.cloud.pubsub.topic.v1.messagePublished`) whose `data.message.data` is the LogEntry, base64-encoded
 * JSON. The function records the preemption: one structured log line (Cloud Logging parses JSON on stdout)
 * and one point of a Cloud Monitoring metric labelled with fleet, zone and instance.
 *
 * Idempotent: Pub/Sub delivers at least once. A second delivery writes the same point, which Cloud Monitoring
 * refuses as a duplicate; that counts as success. Malformed or foreign messages are acknowledged (retrying
 * cannot fix them) and logged. Transient errors (429, 5xx, network) are thrown so that Eventarc retries.
 *
 * Messages ignored on purpose (another fleet's VM, another audit entry) log at DEBUG only, so they stay
 * out of an INFO view, but each one writes a point of the `<metricType>_ignored` metric (labels `fleet`,
 * `reason`), so a silent drop is visible on a chart. Malformed messages log at ERROR and are counted the
 * same way (`reason: malformed`). The count is best effort: it never fails the delivery.
 */

/** The CloudEvent Eventarc delivers for a Pub/Sub message. */
export interface PubsubCloudEvent {
  readonly id?: string;
  readonly type?: string;
  readonly source?: string;
  readonly time?: string;
  readonly data?: {
    readonly message?: {
      readonly data?: string;
      readonly messageId?: string;
      readonly publishTime?: string;
      readonly attributes?: Record<string, string>;
    };
    readonly subscription?: string;
  };
}

/** One preempted VM, read from its audit log entry. */
export interface PreemptionRecord {
  readonly project: string;
  readonly zone: string;
  readonly instanceName: string;
  /** Numeric instance id (resource.labels.instance_id), when present. */
  readonly instanceId?: string;
  /** When Compute Engine preempted the VM (the entry's timestamp). */
  readonly preemptedAt: string;
  /** The log entry's insertId, unique per entry. */
  readonly insertId?: string;
}

/** What the function was deployed for (from its environment variables). */
export interface PreemptionSettings {
  readonly fleetName: string;
  readonly project: string;
  /** Spot VM names start with this (e.g. `llm-spot-`); other instances are ignored. */
  readonly instanceNamePrefix: string;
  /**
   * Names of the fallback controller's spare spot VMs start with this (e.g. `llm-spare-`); they are the fleet's too.
   * @default - none: only `instanceNamePrefix`
   */
  readonly spareInstanceNamePrefix?: string;
  readonly metricType: string;
  /** STOP or DELETE, for the log line. */
  readonly terminationAction?: string;
}

/** One point of the preemption metric. */
export interface PreemptionPoint {
  readonly project: string;
  readonly metricType: string;
  readonly labels: Record<string, string>;
  /** RFC 3339 time of the point. */
  readonly at: string;
}

/** Writes metric points (Cloud Monitoring `projects.timeSeries.create`). */
export interface MetricsClient {
  writePoint(point: PreemptionPoint): Promise<void>;
}

/** What the function talks to; tests pass fakes. */
export interface PreemptionClients {
  readonly metrics: MetricsClient;
  /** Writes one structured log entry (one JSON line on stdout in the function). */
  readonly log: (entry: Record<string, unknown>) => void;
  readonly now: () => Date;
}

/** Why a message was not recorded: the `reason` label of the `<metricType>_ignored` metric. */
export enum IgnoredReason {
  /** A log entry that is not a `compute.instances.preempted` audit entry of a VM. */
  NOT_PREEMPTION = 'not-preemption',
  /** A preemption of a VM of another fleet or project. */
  OTHER_FLEET = 'other-fleet',
  /** A message that carries no base64 JSON LogEntry. */
  MALFORMED = 'malformed',
}

/** Type of the metric that counts ignored and malformed messages: the preemption metric's type + `_ignored`. */
export function ignoredMetricType(metricType: string): string {
  return `${metricType}_ignored`;
}

/** Result of one delivery. */
export interface PreemptionOutcome {
  readonly status: 'recorded' | 'duplicate' | 'ignored' | 'malformed' | 'metric-rejected';
  readonly record?: PreemptionRecord;
  readonly reason?: string;
  /** Set when the message was ignored or malformed: the `reason` label it was counted under. */
  readonly ignoredReason?: IgnoredReason;
}

/** An HTTP error from a Google API, with its status. */
export class GoogleApiError extends Error {
  constructor(
    public readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'GoogleApiError';
    Object.setPrototypeOf(this, GoogleApiError.prototype);
  }

  /** 429, 5xx: worth retrying. */
  public get transient(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

const RESOURCE_NAME = /^projects\/([^/]+)\/zones\/([^/]+)\/instances\/([^/]+)$/;

/** Decode the LogEntry carried by a Pub/Sub CloudEvent. Throws on anything that is not base64 JSON. */
export function decodeLogEntry(event: PubsubCloudEvent): unknown {
  const data = event?.data?.message?.data;
  if (typeof data !== 'string' || data.length === 0) {
    throw new Error('the CloudEvent has no data.message.data (expected a Pub/Sub message carrying a LogEntry)');
  }
  const text = Buffer.from(data, 'base64').toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`data.message.data is not base64-encoded JSON (starts with ${JSON.stringify(text.slice(0, 40))})`);
  }
}

/** Read a preemption from an audit LogEntry; `undefined` when the entry is not a preemption. */
export function parsePreemption(entry: unknown): PreemptionRecord | undefined {
  const e = entry as {
    protoPayload?: { methodName?: string; resourceName?: string };
    resource?: { labels?: Record<string, string> };
    timestamp?: string;
    receiveTimestamp?: string;
    insertId?: string;
  };
  if (!e || typeof e !== 'object' || e.protoPayload?.methodName !== 'compute.instances.preempted') return undefined;
  const m = RESOURCE_NAME.exec(e.protoPayload.resourceName ?? '');
  if (!m) return undefined;
  return {
    project: m[1],
    zone: m[2],
    instanceName: m[3],
    instanceId: e.resource?.labels?.instance_id,
    preemptedAt: e.timestamp ?? e.receiveTimestamp ?? '',
    insertId: e.insertId,
  };
}

/** Read the settings from the function's environment. Throws naming every missing variable. */
export function settingsFromEnv(env: Record<string, string | undefined>): PreemptionSettings {
  const need = ['FLEET_NAME', 'GCP_PROJECT', 'INSTANCE_NAME_PREFIX', 'METRIC_TYPE'];
  const missing = need.filter((k) => !env[k]);
  if (missing.length > 0) {
    throw new Error(`preemption function misconfigured: environment variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not set (the GcpPreemptionHook construct sets them)`);
  }
  return {
    fleetName: env.FLEET_NAME!,
    project: env.GCP_PROJECT!,
    instanceNamePrefix: env.INSTANCE_NAME_PREFIX!,
    spareInstanceNamePrefix: env.SPARE_INSTANCE_NAME_PREFIX || undefined,
    metricType: env.METRIC_TYPE!,
    terminationAction: env.TERMINATION_ACTION,
  };
}

/** Handle one delivery. */
export async function recordPreemption(
  event: PubsubCloudEvent,
  settings: PreemptionSettings,
  clients: PreemptionClients,
): Promise<PreemptionOutcome> {
  const base = { fleet: settings.fleetName, eventId: event?.id, messageId: event?.data?.message?.messageId };
  let entry: unknown;
  try {
    entry = decodeLogEntry(event);
  } catch (err) {
    const reason = (err as Error).message;
    clients.log({ severity: 'ERROR', message: `spot preemption: malformed message acknowledged: ${reason}`, ...base });
    await countIgnored(IgnoredReason.MALFORMED, settings, clients, base);
    return { status: 'malformed', reason, ignoredReason: IgnoredReason.MALFORMED };
  }
  const record = parsePreemption(entry);
  if (!record) {
    const reason = 'not a compute.instances.preempted audit log entry';
    clients.log({ severity: 'DEBUG', message: `spot preemption: message ignored: ${reason}`, ignoredReason: IgnoredReason.NOT_PREEMPTION, ...base });
    await countIgnored(IgnoredReason.NOT_PREEMPTION, settings, clients, base);
    return { status: 'ignored', reason, ignoredReason: IgnoredReason.NOT_PREEMPTION };
  }
  const prefixes = [settings.instanceNamePrefix, ...(settings.spareInstanceNamePrefix ? [settings.spareInstanceNamePrefix] : [])];
  if (!prefixes.some((p) => record.instanceName.startsWith(p)) || record.project !== settings.project) {
    const reason = `instance ${record.project}/${record.instanceName} is not a spot VM of fleet ${settings.fleetName} (${prefixes.map((p) => `${settings.project}/${p}*`).join(' or ')})`;
    clients.log({ severity: 'DEBUG', message: `spot preemption: message ignored: ${reason}`, ignoredReason: IgnoredReason.OTHER_FLEET, ...base });
    await countIgnored(IgnoredReason.OTHER_FLEET, settings, clients, base);
    return { status: 'ignored', record, reason, ignoredReason: IgnoredReason.OTHER_FLEET };
  }

  const receivedAt = clients.now();
  const preempted = Date.parse(record.preemptedAt);
  const at = Number.isNaN(preempted) ? receivedAt.toISOString() : new Date(preempted).toISOString();
  const fields = {
    ...base,
    zone: record.zone,
    instance: record.instanceName,
    instanceId: record.instanceId,
    preemptedAt: at,
    deliveryDelaySeconds: Number.isNaN(preempted) ? undefined : Math.max(0, (receivedAt.getTime() - preempted) / 1000),
    terminationAction: settings.terminationAction,
    insertId: record.insertId,
    'logging.googleapis.com/labels': { 'spot-fleet': settings.fleetName, zone: record.zone },
  };
  let status: PreemptionOutcome['status'] = 'recorded';
  let reason: string | undefined;
  try {
    await clients.metrics.writePoint({
      project: settings.project,
      metricType: settings.metricType,
      labels: { fleet: settings.fleetName, zone: record.zone, instance: record.instanceName },
      at,
    });
  } catch (err) {
    if (err instanceof GoogleApiError && !err.transient) {
      if (err.status === 400 && /order|duplicate|already/i.test(err.message)) {
        status = 'duplicate';
        reason = 'the metric point of this preemption was already written (repeated delivery)';
      } else {
        status = 'metric-rejected';
        reason = `Cloud Monitoring refused the point (HTTP ${err.status}): ${err.message}`;
      }
    } else {
      clients.log({ severity: 'ERROR', message: `spot preemption: metric write failed, will retry: ${(err as Error).message}`, ...fields });
      throw err;
    }
  }
  clients.log({
    severity: status === 'metric-rejected' ? 'ERROR' : 'NOTICE',
    message: `spot preemption: ${record.instanceName} in ${record.zone} (fleet ${settings.fleetName})${reason ? `; ${reason}` : ''}`,
    status,
    ...fields,
  });
  return { status, record, reason };
}

/**
 * One point of `<metricType>_ignored` (labels fleet, reason) at the delivery time. Best effort: a failed
 * write is logged (DEBUG when Cloud Monitoring refuses a second point of the same series within its
 * sampling period, WARNING otherwise) and never fails the delivery, which retrying could not fix.
 */
async function countIgnored(reason: IgnoredReason, settings: PreemptionSettings, clients: PreemptionClients, base: Record<string, unknown>): Promise<void> {
  try {
    await clients.metrics.writePoint({
      project: settings.project,
      metricType: ignoredMetricType(settings.metricType),
      labels: { fleet: settings.fleetName, reason },
      at: clients.now().toISOString(),
    });
  } catch (err) {
    const collision = err instanceof GoogleApiError && err.status === 400 && /order|frequent|sampling|duplicate|already/i.test(err.message);
    clients.log({
      severity: collision ? 'DEBUG' : 'WARNING',
      message: `spot preemption: could not count the ${reason} message: ${(err as Error).message}`,
      ...base,
    });
  }
}

/** Options of {@link createMonitoringClient}. */
export interface MonitoringClientOptions {
  /** API root. @default 'https://monitoring.googleapis.com' */
  readonly endpoint?: string;
  /** Returns an OAuth access token with the monitoring.write scope. */
  readonly getAccessToken: () => Promise<string>;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** A {@link MetricsClient} on the Cloud Monitoring REST API (`POST v3/projects/{p}/timeSeries`). */
export function createMonitoringClient(options: MonitoringClientOptions): MetricsClient {
  const endpoint = (options.endpoint ?? 'https://monitoring.googleapis.com').replace(/\/+$/, '');
  const doFetch = options.fetch ?? globalThis.fetch;
  return {
    async writePoint(point: PreemptionPoint): Promise<void> {
      const token = await options.getAccessToken();
      const body = {
        timeSeries: [
          {
            metric: { type: point.metricType, labels: point.labels },
            resource: { type: 'global', labels: { project_id: point.project } },
            metricKind: 'GAUGE',
            valueType: 'INT64',
            points: [{ interval: { endTime: point.at }, value: { int64Value: '1' } }],
          },
        ],
      };
      const res = await doFetch(`${endpoint}/v3/projects/${encodeURIComponent(point.project)}/timeSeries`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) {
        const text = await res.text();
        let message = text;
        try {
          message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
        } catch {
          // not JSON: keep the text
        }
        throw new GoogleApiError(res.status, message);
      }
    },
  };
}

/** One JSON line per entry on stdout: Cloud Logging reads `severity`, `message` and the labels from it. */
export function jsonLineLogger(write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): (entry: Record<string, unknown>) => void {
  return (entry) => write(JSON.stringify(entry));
}
