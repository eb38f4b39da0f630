/**
 * The AWS drain handler: turns interruption events of one Auto Scaling group into load balancer
 * deregistrations, health changes and lifecycle action completions, so that no request is lost when
 * AWS takes a spot instance back.
 *
 * Pure functions that take their SDK clients (see `drain.entry.ts` for the Lambda wiring); time and
 * sleep are injected so tests run on fake time.
 */
import {
  AutoScalingClient,
  AutoScalingInstanceDetails,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetInstanceHealthCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DeregisterTargetsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { DRAIN_METRIC, DrainSettings, IGNORED_REASON_DIMENSION, IgnoreReason } from './drain-settings';
import {
  EventBridgeEnvelope,
  InterruptionEventKind,
  LEAVING_STATES,
  classifyEvent,
  ec2EventInstanceId,
  healthEventInstanceIds,
} from './events';
import { errorMessage, errorName, withRetry } from './retry';

/** The AWS SDK clients the handler calls. */
export interface DrainClients {
  readonly autoscaling: AutoScalingClient;
  readonly elbv2: ElasticLoadBalancingV2Client;
}

/** Everything the handler needs; tests pass mocked clients and a fake clock. */
export interface DrainDeps extends DrainClients {
  readonly settings: DrainSettings;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /** @default real setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter source for retries. @default Math.random */
  readonly random?: () => number;
  /**
   * Ids of events already handled by this container (a duplicate costs no API call) and the spot warning
   * times of instances (so a later terminate lifecycle action counts the notice from the warning).
   * @default - the container-wide memory
   */
  readonly recent?: RecentEvents;
  /**
   * Where ignored events are counted. The SQS handler passes one per invocation and publishes it once at the
   * end (one EMF line per reason, not per event).
   * @default - each ignored event is published at once as its own `IgnoredEvents` metric
   */
  readonly ignored?: IgnoredTally;
}

/** What the handler did with one event. */
export enum DrainAction {
  /** Not for this fleet, already handled, or nothing to do. */
  IGNORED = 'ignored',
  /** Deregistered from the target groups (and marked unhealthy where configured). */
  DEREGISTERED = 'deregistered',
  /** Only recorded (metric and log): a rebalance or scheduled change left to Capacity Rebalancing, a launch failure. */
  RECORDED = 'recorded',
  /** Terminate lifecycle action completed with CONTINUE. */
  COMPLETED = 'completed',
  /**
   * Spot warning with `serveThroughSeconds` > 0: counted, the warning time remembered, the instance marked
   * unhealthy where configured (so the replacement launches now), but left registered: its agent keeps passing
   * health until its drain must start, and the terminate lifecycle action deregisters it then.
   */
  SERVING = 'serving',
}

/** How the wait of a terminate lifecycle action ended. */
export enum DrainOutcome {
  /** Every target left the `draining` state in time. */
  DRAINED = 'Drained',
  /** The drain budget (or the notice, or the Lambda timeout) ran out first. */
  BUDGET_SPENT = 'BudgetSpent',
  /** The lifecycle action was already completed or timed out (duplicate, or someone else finished it). */
  ACTION_GONE = 'ActionGone',
  /** Deregistering or watching the targets failed; the action was completed anyway and the record fails. */
  ERROR = 'Error',
}

/** Why the wait before the drain of a terminate lifecycle action (`serveThroughSeconds` > 0) ended. */
export enum ServeThroughEnd {
  /** The spot warning (seen by this container) plus `serveThroughSeconds` was reached. */
  WARNING_PLUS_SERVE_THROUGH = 'WarningPlusServeThrough',
  /** The warning was not seen here, and the lifecycle event time plus `serveThroughSeconds` was reached. */
  EVENT_PLUS_SERVE_THROUGH = 'EventPlusServeThrough',
  /** The warning was not seen here, and no target group reports the target `healthy`: the agent has begun its drain (or it is a scale-in, or the instance is gone). */
  NOT_HEALTHY = 'NotHealthy',
  /** The notice (less the safety margin) or the Lambda timeout came first. */
  DEADLINE = 'Deadline',
  /** The lifecycle action was completed or timed out meanwhile. */
  ACTION_GONE = 'ActionGone',
}

/** Result of {@link handleInterruptionEvent}. */
export interface DrainResult {
  readonly kind: InterruptionEventKind;
  readonly action: DrainAction;
  /** Instances of the fleet the event concerned. */
  readonly instanceIds: string[];
  /** Why the event was ignored on purpose, when it was (the `Reason` of the `IgnoredEvents` metric). */
  readonly reason?: IgnoreReason;
  /** More about the reason, for the debug log (e.g. the state of a state change). */
  readonly detail?: string;
  /** Terminate lifecycle action: how the wait ended. */
  readonly outcome?: DrainOutcome;
  /**
   * Terminate lifecycle action: seconds from the start of the drain to CONTINUE (the start of handling, or the end of
   * serving through the notice; the metric `DrainDurationSeconds`).
   */
  readonly drainSeconds?: number;
  /** Terminate lifecycle action that served through the notice first: seconds it waited before the drain (`ServeThroughSeconds`). */
  readonly servedSeconds?: number;
  /** Spot warning served through, or terminate lifecycle action that waited: when the drain starts (ISO time). */
  readonly drainStartsAt?: string;
  /** Terminate lifecycle action that waited for the drain start: why the wait ended. */
  readonly serveThroughEnd?: ServeThroughEnd;
}

/** Options of one call of {@link handleInterruptionEvent}. */
export interface HandleOptions {
  /** Epoch ms at which the Lambda invocation times out; waits end a safety margin before it. @default - no limit */
  readonly invocationDeadline?: number;
}

/**
 * What a warm container remembers between events (best effort: another container may get the next event).
 * - ids of handled events, so a duplicate delivery is a true no-op;
 * - when each instance got its spot warning, so the wait of its terminate lifecycle action (which AWS
 *   emits some seconds later) still ends inside the notice counted from the warning.
 */
export class RecentEvents {
  private readonly ids = new Set<string>();
  private readonly warnings = new Map<string, number>();
  constructor(private readonly capacity = 1000) {}
  public has(id: string): boolean {
    return this.ids.has(id);
  }
  public add(id: string): void {
    this.ids.delete(id);
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string);
  }
  /** Remember the time (epoch ms) of an instance's spot warning; the earliest one counts. */
  public warned(instanceId: string, atMs: number): void {
    if (!Number.isFinite(atMs)) return;
    const prev = this.warnings.get(instanceId);
    this.warnings.delete(instanceId);
    this.warnings.set(instanceId, prev === undefined ? atMs : Math.min(prev, atMs));
    if (this.warnings.size > this.capacity) this.warnings.delete(this.warnings.keys().next().value as string);
  }
  /** Time of the instance's spot warning, if this container saw it. */
  public warnedAt(instanceId: string): number | undefined {
    return this.warnings.get(instanceId);
  }
}

/**
 * Counts of ignored events by reason, published as `IgnoredEvents` (dimension `Reason`, on top of the
 * metrics object's default dimensions) so that events dropped on purpose, which log nothing at INFO, still
 * show up. One EMF line per reason per publish.
 */
export class IgnoredTally {
  private readonly counts = new Map<IgnoreReason, number>();
  public add(reason: IgnoreReason, n = 1): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + n);
  }
  /** Counts so far, by reason. */
  public get(reason: IgnoreReason): number {
    return this.counts.get(reason) ?? 0;
  }
  /** Total ignored events so far. */
  public get total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }
  /** Publish every count (a single-metric EMF line per reason) and start again from zero. */
  public publish(metrics: Metrics): void {
    for (const [reason, n] of this.counts) publishIgnored(metrics, reason, n);
    this.counts.clear();
  }
}

function publishIgnored(metrics: Metrics, reason: IgnoreReason, n: number): void {
  // A single metric keeps the Reason dimension off the other metrics of the invocation.
  const single = metrics.singleMetric();
  single.addDimension(IGNORED_REASON_DIMENSION, reason);
  single.addMetric(DRAIN_METRIC.IGNORED_EVENTS, MetricUnit.Count, n);
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const defaultRecent = new RecentEvents();

/** Handle one EventBridge event. Idempotent: a duplicate or a vanished instance is a success. */
export async function handleInterruptionEvent(event: EventBridgeEnvelope, deps: DrainDeps, options: HandleOptions = {}): Promise<DrainResult> {
  const kind = classifyEvent(event);
  const recent = deps.recent ?? defaultRecent;
  if (event.id && recent.has(event.id)) {
    return ignored(deps, { kind, action: DrainAction.IGNORED, instanceIds: [], reason: IgnoreReason.DUPLICATE }, event);
  }
  const ctx = new Ctx(deps, options, recent);
  let result: DrainResult;
  switch (kind) {
    case InterruptionEventKind.SPOT_WARNING:
    case InterruptionEventKind.REBALANCE:
    case InterruptionEventKind.STATE_CHANGE:
      result = await onEc2Event(event, kind, ctx);
      break;
    case InterruptionEventKind.SCHEDULED_CHANGE:
      result = await onScheduledChange(event, ctx);
      break;
    case InterruptionEventKind.TERMINATE_ACTION:
      result = await onTerminateAction(event, ctx);
      break;
    case InterruptionEventKind.LAUNCH_UNSUCCESSFUL:
      result = onLaunchUnsuccessful(event, ctx);
      break;
    default:
      // Not on purpose: the rules route only the kinds above, so this is a misrouted event; say so.
      deps.logger.warn('event of an unexpected kind ignored', { eventId: event.id, source: event.source, detailType: event['detail-type'] });
      result = { kind, action: DrainAction.IGNORED, instanceIds: [], reason: IgnoreReason.UNEXPECTED_EVENT };
  }
  if (event.id) recent.add(event.id);
  return result.reason !== undefined ? ignored(deps, result, event) : result;
}

/** Count an ignored event (and log it at DEBUG: ignoring is the normal fate of most events the rules match). */
function ignored(deps: DrainDeps, result: DrainResult, event: EventBridgeEnvelope): DrainResult {
  const reason = result.reason!;
  deps.logger.debug('event ignored', { eventId: event.id, kind: result.kind, reason, detail: result.detail });
  if (deps.ignored) deps.ignored.add(reason);
  else publishIgnored(deps.metrics, reason, 1);
  return result;
}

/**
 * The SQS-triggered Lambda handler: every record is one EventBridge event; records are handled in
 * parallel and only failed ones are reported back (partial batch response), so the rest are not
 * redelivered. A batch whose every record failed is reported the same way (never as a function
 * error, which would redeliver it without telling which records failed). The same event twice in one
 * batch (EventBridge and SQS both deliver at least once) is handled once; the copy shares its outcome.
 */
export function makeDrainHandler(deps: DrainDeps): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  const now = deps.now ?? Date.now;
  return async (event, context) => {
    const invocationDeadline = typeof context?.getRemainingTimeInMillis === 'function' ? now() + context.getRemainingTimeInMillis() : undefined;
    if (!event || !Array.isArray(event.Records)) {
      deps.logger.error('invocation is not an SQS batch (no Records array); nothing handled', { eventType: event === null ? 'null' : typeof event });
      throw new Error('the drain handler expects an SQS event with a Records array (it is invoked by the interruption queue\'s event source mapping)');
    }
    const tally = new IgnoredTally();
    const batchDeps: DrainDeps = { ...deps, ignored: tally };
    const inBatch = new Map<string, Promise<DrainResult>>();
    const processor = new BatchProcessor(EventType.SQS);

    const handleRecord = async (record: SQSRecord, body: EventBridgeEnvelope): Promise<DrainResult> => {
      try {
        return await handleInterruptionEvent(body, batchDeps, { invocationDeadline });
      } catch (e) {
        deps.logger.error('event failed; it will be retried, then sent to the dead-letter queue', {
          messageId: record.messageId,
          eventId: body.id,
          detailType: body['detail-type'],
          error: errorMessage(e),
          errorName: errorName(e),
        });
        throw e;
      }
    };
    const recordHandler = async (record: SQSRecord): Promise<DrainResult> => {
      const body = parseRecord(record, deps);
      const id = typeof body.id === 'string' && body.id.length > 0 ? body.id : undefined;
      if (id === undefined) return handleRecord(record, body);
      // Checked and set with no await in between: records run concurrently, but this part never interleaves.
      const first = inBatch.get(id);
      if (first === undefined) {
        const p = handleRecord(record, body);
        inBatch.set(id, p);
        return p;
      }
      tally.add(IgnoreReason.DUPLICATE);
      deps.logger.debug('same event twice in one batch: handled once', { messageId: record.messageId, eventId: id });
      try {
        return await first;
      } catch (e) {
        deps.logger.error('duplicate of a failed event fails with it; it will be retried', { messageId: record.messageId, eventId: id, error: errorMessage(e) });
        throw e;
      }
    };
    try {
      const res = await processPartialResponse(event, recordHandler, processor, { context, throwOnFullBatchFailure: false });
      if (event.Records.length > 0 && res.batchItemFailures.length === event.Records.length) {
        deps.logger.warn('every record of the batch failed; all are reported for redelivery', { records: event.Records.length });
      }
      return res;
    } finally {
      tally.publish(deps.metrics);
      // Most events (other instances' state changes) record nothing; publishing then would only log a warning.
      if (deps.metrics.hasStoredMetrics()) deps.metrics.publishStoredMetrics();
    }
  };
}

/**
 * The EventBridge event of an SQS record. Anything else (not JSON, JSON `null`, a number, an array) is
 * logged and counted, and fails the record: retrying cannot fix it, so it lands in the dead-letter queue
 * after `maxReceiveCount` deliveries, whose alarm asks a person to look.
 */
function parseRecord(record: SQSRecord, deps: DrainDeps): EventBridgeEnvelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(record.body);
  } catch (e) {
    deps.metrics.addMetric(DRAIN_METRIC.MALFORMED_RECORDS, MetricUnit.Count, 1);
    deps.logger.error('message is not an EventBridge event: not JSON', { messageId: record.messageId, error: errorMessage(e), bodyStart: String(record.body).slice(0, 200) });
    throw new Error(`record ${record.messageId}: the body is not JSON (${errorMessage(e)}), so it is not an EventBridge event`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    const what = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`;
    deps.metrics.addMetric(DRAIN_METRIC.MALFORMED_RECORDS, MetricUnit.Count, 1);
    deps.logger.error('message is not an EventBridge event: not a JSON object', { messageId: record.messageId, bodyType: what, bodyStart: record.body.slice(0, 200) });
    throw new Error(`record ${record.messageId}: the body is JSON ${what}, not an EventBridge event object`);
  }
  return parsed as EventBridgeEnvelope;
}

/** Per-call helpers: clock, retries, the fleet's identity. */
class Ctx {
  public readonly now: () => number;
  public readonly sleep: (ms: number) => Promise<void>;
  public readonly s: DrainSettings;
  constructor(public readonly deps: DrainDeps, public readonly options: HandleOptions, public readonly recent: RecentEvents) {
    this.now = deps.now ?? Date.now;
    this.sleep = deps.sleep ?? realSleep;
    this.s = deps.settings;
  }

  public retry<T>(what: string, fn: () => Promise<T>, deadline?: number): Promise<T> {
    return withRetry(fn, {
      now: this.now,
      sleep: this.sleep,
      random: this.deps.random,
      deadline,
      onRetry: (e, attempt, delayMs) => this.deps.logger.warn('AWS call throttled, retrying', { call: what, attempt, delayMs, error: errorName(e) }),
    });
  }

  public count(name: string, value = 1): void {
    this.deps.metrics.addMetric(name, MetricUnit.Count, value);
  }

  /** The fleet's instances among `ids` (one DescribeAutoScalingInstances call); unknown ids are not ours or gone. */
  public async fleetInstances(ids: string[]): Promise<AutoScalingInstanceDetails[]> {
    if (ids.length === 0) return [];
    const out: AutoScalingInstanceDetails[] = [];
    for (let i = 0; i < ids.length; i += 50) {
      const chunk = ids.slice(i, i + 50);
      const res = await this.retry('DescribeAutoScalingInstances', () =>
        this.deps.autoscaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: chunk })),
      );
      out.push(...(res.AutoScalingInstances ?? []).filter((x) => x.AutoScalingGroupName === this.s.autoScalingGroupName));
    }
    return out;
  }

  /** Deregister an instance from every target group at once. A target already gone is a success. */
  public async deregister(instanceId: string): Promise<void> {
    await Promise.all(
      this.s.targetGroupArns.map(async (arn) => {
        try {
          await this.retry('DeregisterTargets', () =>
            this.deps.elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: instanceId }] })),
          );
        } catch (e) {
          if (isGoneTarget(e)) {
            this.deps.logger.info('target already gone', { instanceId, targetGroupArn: arn });
            return;
          }
          throw e;
        }
      }),
    );
  }

  /** Mark an instance unhealthy so the group launches its replacement now. An instance already gone is a success. */
  public async markUnhealthy(inst: AutoScalingInstanceDetails): Promise<boolean> {
    const state = inst.LifecycleState ?? '';
    if ((inst.HealthStatus ?? '').toUpperCase() === 'UNHEALTHY' || /^Terminat/.test(state)) {
      this.deps.logger.info('instance already unhealthy or terminating; not marking it again', { instanceId: inst.InstanceId, state, health: inst.HealthStatus });
      return false;
    }
    try {
      await this.retry('SetInstanceHealth', () =>
        this.deps.autoscaling.send(
          new SetInstanceHealthCommand({ InstanceId: inst.InstanceId, HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: false }),
        ),
      );
      return true;
    } catch (e) {
      if (isGoneInstance(e)) {
        this.deps.logger.info('instance already gone from the group', { instanceId: inst.InstanceId });
        return false;
      }
      throw e;
    }
  }
}

async function onEc2Event(event: EventBridgeEnvelope, kind: InterruptionEventKind, ctx: Ctx): Promise<DrainResult> {
  const { logger } = ctx.deps;
  const id = ec2EventInstanceId(event);
  if (!id) {
    logger.warn('event without a valid instance id ignored', { eventId: event.id, kind, instanceId: String(event.detail?.['instance-id'] ?? '') });
    return { kind, action: DrainAction.IGNORED, instanceIds: [], reason: IgnoreReason.NO_INSTANCE_ID };
  }
  if (kind === InterruptionEventKind.STATE_CHANGE) {
    const state = String(event.detail?.state ?? '');
    if (!LEAVING_STATES.includes(state)) {
      return { kind, action: DrainAction.IGNORED, instanceIds: [], reason: IgnoreReason.NOT_LEAVING, detail: `state ${state}` };
    }
  }
  const [inst] = await ctx.fleetInstances([id]);
  if (!inst) {
    return { kind, action: DrainAction.IGNORED, instanceIds: [], reason: IgnoreReason.NOT_IN_FLEET, detail: id };
  }
  const log = { eventId: event.id, instanceId: id, kind, lifecycleState: inst.LifecycleState, eventTime: event.time };
  if (kind === InterruptionEventKind.SPOT_WARNING) {
    const warnedMs = Date.parse(event.time);
    ctx.recent.warned(id, warnedMs);
    ctx.count(DRAIN_METRIC.INTERRUPTIONS);
    const serveThrough = ctx.s.serveThroughSeconds ?? 0;
    if (serveThrough > 0 && ctx.s.lifecycleHookName !== undefined) {
      // The agent keeps passing health until its drain must start; deregistering now would cut that short.
      // The terminate lifecycle action (which marking unhealthy, or EC2, brings) deregisters at the drain start.
      const drainStartsAt = new Date((Number.isFinite(warnedMs) ? warnedMs : ctx.now()) + serveThrough * 1000).toISOString();
      logger.info('spot interruption warning: serving through the notice until its drain starts', {
        ...log,
        instanceAction: event.detail?.['instance-action'],
        serveThroughSeconds: serveThrough,
        drainStartsAt,
      });
      const marked = ctx.s.markUnhealthyOnWarning ? await ctx.markUnhealthy(inst) : false;
      logger.info('instance left registered', { ...log, markedUnhealthy: marked, drainStartsAt });
      return { kind, action: DrainAction.SERVING, instanceIds: [id], drainStartsAt };
    }
    if (serveThrough > 0) {
      // Without a terminate hook nothing would deregister it at the drain start, and marking it unhealthy would
      // terminate it at once while the load balancer still routes to it.
      logger.warn('spot interruption warning: serveThroughSeconds is set but the group has no terminate hook; deregistering now', { ...log, serveThroughSeconds: serveThrough });
    }
    logger.info('spot interruption warning: deregistering and replacing', { ...log, instanceAction: event.detail?.['instance-action'] });
    await ctx.deregister(id);
    const marked = ctx.s.markUnhealthyOnWarning ? await ctx.markUnhealthy(inst) : false;
    logger.info('instance deregistered', { ...log, markedUnhealthy: marked, targetGroups: ctx.s.targetGroupArns.length });
    return { kind, action: DrainAction.DEREGISTERED, instanceIds: [id] };
  }
  if (kind === InterruptionEventKind.REBALANCE) {
    ctx.count(DRAIN_METRIC.REBALANCE_RECOMMENDATIONS);
    if (!ctx.s.markUnhealthyOnRebalance) {
      logger.info('rebalance recommendation recorded; replacement left to Capacity Rebalancing', log);
      return { kind, action: DrainAction.RECORDED, instanceIds: [id] };
    }
    logger.info('rebalance recommendation: deregistering and replacing', log);
    await ctx.deregister(id);
    const marked = await ctx.markUnhealthy(inst);
    logger.info('instance deregistered', { ...log, markedUnhealthy: marked });
    return { kind, action: DrainAction.DEREGISTERED, instanceIds: [id] };
  }
  // State change: the instance is stopping or gone; make sure the load balancer stops routing to it.
  ctx.count(DRAIN_METRIC.STATE_CHANGES);
  logger.info('instance leaving: making sure it is deregistered', { ...log, state: event.detail?.state });
  await ctx.deregister(id);
  return { kind, action: DrainAction.DEREGISTERED, instanceIds: [id] };
}

async function onScheduledChange(event: EventBridgeEnvelope, ctx: Ctx): Promise<DrainResult> {
  const kind = InterruptionEventKind.SCHEDULED_CHANGE;
  const { logger } = ctx.deps;
  const d = event.detail ?? {};
  if (d.service !== 'EC2' || d.eventTypeCategory !== 'scheduledChange') {
    return { kind, action: DrainAction.IGNORED, instanceIds: [], reason: IgnoreReason.NOT_SCHEDULED_CHANGE, detail: `${String(d.service)} ${String(d.eventTypeCategory)}` };
  }
  if (d.statusCode === 'closed') {
    return { kind, action: DrainAction.IGNORED, instanceIds: [], reason: IgnoreReason.CLOSED };
  }
  const instances = await ctx.fleetInstances(healthEventInstanceIds(event));
  if (instances.length === 0) {
    return { kind, action: DrainAction.IGNORED, instanceIds: [], reason: IgnoreReason.NOT_IN_FLEET };
  }
  const ids = instances.map((i) => i.InstanceId!);
  ctx.count(DRAIN_METRIC.SCHEDULED_CHANGES, ids.length);
  const log = { eventId: event.id, instanceIds: ids, eventTypeCode: d.eventTypeCode, startTime: d.startTime };
  if (!ctx.s.markUnhealthyOnScheduledChange) {
    logger.info('scheduled change recorded; instances left in service', log);
    return { kind, action: DrainAction.RECORDED, instanceIds: ids };
  }
  logger.info('scheduled change: deregistering and replacing ahead of it', log);
  for (const inst of instances) {
    await ctx.deregister(inst.InstanceId!);
    await ctx.markUnhealthy(inst);
  }
  return { kind, action: DrainAction.DEREGISTERED, instanceIds: ids };
}

function onLaunchUnsuccessful(event: EventBridgeEnvelope, ctx: Ctx): DrainResult {
  const kind = InterruptionEventKind.LAUNCH_UNSUCCESSFUL;
  const d = event.detail ?? {};
  if (d.AutoScalingGroupName !== ctx.s.autoScalingGroupName) {
    return { kind, action: DrainAction.IGNORED, instanceIds: [], reason: IgnoreReason.OTHER_GROUP, detail: String(d.AutoScalingGroupName) };
  }
  ctx.count(DRAIN_METRIC.LAUNCH_FAILURES);
  ctx.deps.logger.warn('instance launch unsuccessful', { eventId: event.id, statusMessage: d.StatusMessage, cause: d.Cause, details: d.Details });
  return { kind, action: DrainAction.RECORDED, instanceIds: [] };
}

async function onTerminateAction(event: EventBridgeEnvelope, ctx: Ctx): Promise<DrainResult> {
  const kind = InterruptionEventKind.TERMINATE_ACTION;
  const { logger, autoscaling } = ctx.deps;
  const d = (event.detail ?? {}) as {
    AutoScalingGroupName?: string;
    LifecycleHookName?: string;
    EC2InstanceId?: string;
    LifecycleActionToken?: string;
    LifecycleTransition?: string;
  };
  const s = ctx.s;
  if (d.AutoScalingGroupName !== s.autoScalingGroupName) {
    return { kind, action: DrainAction.IGNORED, instanceIds: [], reason: IgnoreReason.OTHER_GROUP, detail: String(d.AutoScalingGroupName) };
  }
  if (s.lifecycleHookName !== undefined && d.LifecycleHookName !== s.lifecycleHookName) {
    return { kind, action: DrainAction.IGNORED, instanceIds: [], reason: IgnoreReason.OTHER_HOOK, detail: String(d.LifecycleHookName) };
  }
  if (d.LifecycleTransition !== 'autoscaling:EC2_INSTANCE_TERMINATING' || !d.EC2InstanceId || !d.LifecycleHookName) {
    return { kind, action: DrainAction.IGNORED, instanceIds: [], reason: IgnoreReason.NOT_TERMINATE_ACTION, detail: String(d.LifecycleTransition) };
  }
  const instanceId = d.EC2InstanceId;
  const hook = { AutoScalingGroupName: d.AutoScalingGroupName, LifecycleHookName: d.LifecycleHookName, InstanceId: instanceId, LifecycleActionToken: d.LifecycleActionToken };
  const start = ctx.now();
  const eventMs = Date.parse(event.time);
  const warnedMs = ctx.recent.warnedAt(instanceId);
  const noticeStart = warnedMs !== undefined && !(warnedMs >= eventMs) ? warnedMs : eventMs;
  const iso = (ms: number): string | undefined => (Number.isFinite(ms) ? new Date(ms).toISOString() : undefined);

  let outcome: DrainOutcome | undefined;
  let failure: unknown;
  // Serve through the notice first: the instance stays registered until its agent's drain starts.
  let lastBeat = start;
  let drainStart = start;
  let served: ServeThrough | undefined;
  if ((s.serveThroughSeconds ?? 0) > 0) {
    try {
      served = await serveThroughNotice(instanceId, hook, { eventMs, warnedMs, noticeStart, start }, ctx);
      lastBeat = served.lastBeat;
      if (served.end === ServeThroughEnd.ACTION_GONE) outcome = DrainOutcome.ACTION_GONE;
    } catch (e) {
      // Could not heartbeat or watch the targets: drain now rather than hold an instance we cannot see.
      logger.warn('serving through the notice failed; draining now', { eventId: event.id, instanceId, error: errorMessage(e), errorName: errorName(e) });
    }
    drainStart = ctx.now();
  }
  const deadline = drainDeadline(noticeStart, drainStart, s, ctx.options.invocationDeadline);
  const log = {
    eventId: event.id,
    instanceId,
    eventTime: event.time,
    noticeStart: iso(noticeStart),
    deadline: new Date(deadline).toISOString(),
    ...(served ? { drainStartedAt: new Date(drainStart).toISOString(), serveThroughEnd: served.end } : {}),
  };

  if (outcome === DrainOutcome.ACTION_GONE) {
    // Someone completed the action, or it timed out: the instance is leaving now, so the load balancer must stop
    // routing to it now. Nothing is left to complete.
    logger.info('lifecycle action gone while serving through the notice: deregistering now, not completing it', log);
    try {
      await ctx.deregister(instanceId);
    } catch (e) {
      failure = e;
      outcome = DrainOutcome.ERROR;
      logger.error('deregistering failed after the lifecycle action went away', { ...log, error: errorMessage(e), errorName: errorName(e) });
    }
  } else {
    logger.info('terminate lifecycle action: draining before CONTINUE', log);
    try {
      outcome = await waitForDrain(instanceId, hook, deadline, lastBeat, ctx);
    } catch (e) {
      // Could not deregister or watch the targets. Let the instance go anyway (it is leaving; holding it in
      // Terminating:Wait only delays its replacement), then fail the record so it is retried and, if it keeps
      // failing, lands in the dead-letter queue and raises the alarm.
      failure = e;
      outcome = DrainOutcome.ERROR;
      logger.error('draining failed; completing the lifecycle action anyway', { ...log, error: errorMessage(e), errorName: errorName(e) });
    }
  }

  if (outcome !== DrainOutcome.ACTION_GONE && served?.end !== ServeThroughEnd.ACTION_GONE) {
    try {
      await ctx.retry('CompleteLifecycleAction', () =>
        autoscaling.send(new CompleteLifecycleActionCommand({ ...hook, LifecycleActionResult: 'CONTINUE' })),
      );
    } catch (e) {
      if (!isGoneAction(e)) throw e;
      if (failure === undefined) outcome = DrainOutcome.ACTION_GONE;
    }
  }
  // The drain and the wait before it are measured apart: the drain's length is what the drain budget bounds.
  const tenths = (ms: number): number => Math.round(ms / 100) / 10;
  const drainSeconds = tenths(ctx.now() - drainStart);
  const servedSeconds = served ? tenths(drainStart - start) : undefined;
  ctx.deps.metrics.addMetric(DRAIN_METRIC.DRAIN_DURATION, MetricUnit.Seconds, drainSeconds);
  if (servedSeconds !== undefined) ctx.deps.metrics.addMetric(DRAIN_METRIC.SERVE_THROUGH_DURATION, MetricUnit.Seconds, servedSeconds);
  ctx.count(`${DRAIN_METRIC.DRAIN_OUTCOME_PREFIX}${outcome}`);
  logger.info('lifecycle action done', { ...log, outcome, drainSeconds, ...(servedSeconds !== undefined ? { servedSeconds } : {}) });
  if (failure !== undefined) throw failure;
  return {
    kind,
    action: outcome === DrainOutcome.ACTION_GONE ? DrainAction.IGNORED : DrainAction.COMPLETED,
    instanceIds: [instanceId],
    outcome,
    drainSeconds,
    ...(served ? { drainStartsAt: new Date(drainStart).toISOString(), serveThroughEnd: served.end, servedSeconds } : {}),
  };
}

interface ServeThrough {
  readonly end: ServeThroughEnd;
  /** When the action was last heartbeaten (epoch ms), so the drain's wait heartbeats on the same rhythm. */
  readonly lastBeat: number;
}

/**
 * Wait until the instance's drain starts, heartbeating the lifecycle action, with the instance still registered:
 * its agent keeps passing health until then. The drain starts at the spot warning plus `serveThroughSeconds`
 * when this container saw the warning. Otherwise the handler cannot tell a spot interruption from a scale-in,
 * so it starts the drain as soon as no target group reports the target `healthy` (the agent has begun its drain;
 * a scale-in's agent drains at once), or at the lifecycle event plus `serveThroughSeconds`, whichever is first.
 * Never past the notice (less the safety margin) or the Lambda timeout (less the margin).
 */
async function serveThroughNotice(
  instanceId: string,
  hook: { AutoScalingGroupName: string; LifecycleHookName: string; InstanceId: string; LifecycleActionToken?: string },
  times: { eventMs: number; warnedMs: number | undefined; noticeStart: number; start: number },
  ctx: Ctx,
): Promise<ServeThrough> {
  const { logger, autoscaling } = ctx.deps;
  const s = ctx.s;
  const serveMs = (s.serveThroughSeconds ?? 0) * 1000;
  const known = times.warnedMs !== undefined && Number.isFinite(times.warnedMs);
  const from = known ? times.warnedMs! : Number.isFinite(times.eventMs) ? times.eventMs : times.start;
  const until = from + serveMs;
  const margin = s.safetyMarginSeconds * 1000;
  const hard = Math.min(
    Number.isFinite(times.noticeStart) ? times.noticeStart + s.noticeSeconds * 1000 - margin : Infinity,
    ctx.options.invocationDeadline !== undefined ? ctx.options.invocationDeadline - margin : Infinity,
  );
  const timeUp = known ? ServeThroughEnd.WARNING_PLUS_SERVE_THROUGH : ServeThroughEnd.EVENT_PLUS_SERVE_THROUGH;
  const watch = !known && s.targetGroupArns.length > 0;
  const log = { instanceId, warningSeen: known, drainStartsAt: new Date(until).toISOString(), serveThroughSeconds: s.serveThroughSeconds };
  logger.info(
    known
      ? 'terminate lifecycle action: serving through the notice until its drain starts (spot warning plus serveThroughSeconds)'
      : 'terminate lifecycle action: serving through the notice until the target stops being healthy or the event plus serveThroughSeconds (the warning was not seen here)',
    log,
  );
  const done = (end: ServeThroughEnd, lastBeat: number): ServeThrough => {
    logger.info('serving through the notice ended: draining now', { ...log, end, waitedSeconds: Math.round((ctx.now() - times.start) / 100) / 10 });
    return { end, lastBeat };
  };
  let lastBeat = times.start;
  for (;;) {
    if (ctx.now() >= hard) return done(ServeThroughEnd.DEADLINE, lastBeat);
    if (ctx.now() >= until) return done(timeUp, lastBeat);
    if (watch && !(await healthySomewhere(instanceId, ctx, hard))) return done(ServeThroughEnd.NOT_HEALTHY, lastBeat);
    if (ctx.now() - lastBeat >= s.heartbeatIntervalSeconds * 1000) {
      try {
        await ctx.retry('RecordLifecycleActionHeartbeat', () => autoscaling.send(new RecordLifecycleActionHeartbeatCommand(hook)), hard);
      } catch (e) {
        if (isGoneAction(e)) return done(ServeThroughEnd.ACTION_GONE, lastBeat);
        throw e;
      }
      lastBeat = ctx.now();
    }
    const wake = Math.min(watch ? ctx.now() + s.pollIntervalSeconds * 1000 : Infinity, lastBeat + s.heartbeatIntervalSeconds * 1000, until, hard);
    await ctx.sleep(Math.max(0, wake - ctx.now()));
  }
}

/** True while some target group reports the instance `healthy` (one DescribeTargetHealth per group, in parallel). A target gone from a group is not healthy there. */
async function healthySomewhere(instanceId: string, ctx: Ctx, deadline: number): Promise<boolean> {
  const states = await targetStates(instanceId, ctx, deadline);
  return states.some((st) => st === 'healthy');
}

/** Deregister, then wait until the targets stopped draining or the deadline, heartbeating the action. */
async function waitForDrain(
  instanceId: string,
  hook: { AutoScalingGroupName: string; LifecycleHookName: string; InstanceId: string; LifecycleActionToken?: string },
  deadline: number,
  lastBeatAt: number,
  ctx: Ctx,
): Promise<DrainOutcome> {
  const { autoscaling } = ctx.deps;
  const s = ctx.s;
  await ctx.deregister(instanceId);
  if (ctx.now() >= deadline) return DrainOutcome.BUDGET_SPENT;
  let lastBeat = lastBeatAt;
  for (;;) {
    if (!(await stillDraining(instanceId, ctx, deadline))) return DrainOutcome.DRAINED;
    if (ctx.now() >= deadline) return DrainOutcome.BUDGET_SPENT;
    if (ctx.now() - lastBeat >= s.heartbeatIntervalSeconds * 1000) {
      try {
        await ctx.retry('RecordLifecycleActionHeartbeat', () => autoscaling.send(new RecordLifecycleActionHeartbeatCommand(hook)), deadline);
      } catch (e) {
        if (isGoneAction(e)) return DrainOutcome.ACTION_GONE;
        throw e;
      }
      lastBeat = ctx.now();
    }
    const wake = Math.min(ctx.now() + s.pollIntervalSeconds * 1000, lastBeat + s.heartbeatIntervalSeconds * 1000, deadline);
    await ctx.sleep(Math.max(0, wake - ctx.now()));
  }
}

/**
 * When the wait of a terminate lifecycle action must end (epoch ms): the earliest of the drain budget from
 * the drain start (`now`: the start of handling, or the end of serving through the notice), the notice from
 * its start (the spot warning if this container saw it, else the lifecycle event) less the safety margin, and
 * the Lambda timeout less the safety margin. A redelivered old event gets a deadline in the past and completes
 * at once.
 */
export function drainDeadline(noticeStartMs: number, now: number, s: DrainSettings, invocationDeadline?: number): number {
  const margin = s.safetyMarginSeconds * 1000;
  const limits = [now + s.drainBudgetSeconds * 1000];
  if (Number.isFinite(noticeStartMs)) limits.push(noticeStartMs + s.noticeSeconds * 1000 - margin);
  if (invocationDeadline !== undefined) limits.push(invocationDeadline - margin);
  return Math.min(...limits);
}

/** True while any target group still has the instance in a draining state (one DescribeTargetHealth per group, in parallel). */
async function stillDraining(instanceId: string, ctx: Ctx, deadline: number): Promise<boolean> {
  const states = await targetStates(instanceId, ctx, deadline);
  return states.some((st) => st === 'draining' || st === 'unhealthy.draining');
}

/** The instance's target state in every target group (a group it is gone from contributes none). */
async function targetStates(instanceId: string, ctx: Ctx, deadline: number): Promise<string[]> {
  const elbv2 = ctx.deps.elbv2;
  const states = await Promise.all(
    ctx.s.targetGroupArns.map(async (arn) => {
      try {
        const res = await ctx.retry(
          'DescribeTargetHealth',
          () => elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn, Targets: [{ Id: instanceId }] })),
          deadline,
        );
        return (res.TargetHealthDescriptions ?? []).map((t) => t.TargetHealth?.State ?? 'unused');
      } catch (e) {
        if (isGoneTarget(e)) return [];
        throw e;
      }
    }),
  );
  return states.flat();
}

function isGoneTarget(e: unknown): boolean {
  const n = errorName(e);
  return n === 'InvalidTargetException' || n === 'InvalidTarget';
}

function isGoneInstance(e: unknown): boolean {
  return errorName(e) === 'ValidationError' && /not found|no managed instance|does not exist/i.test(errorMessage(e));
}

function isGoneAction(e: unknown): boolean {
  return errorName(e) === 'ValidationError' && /no active lifecycle action|not found|does not exist/i.test(errorMessage(e));
}
