/**
 * The EventBridge events the interruption pipeline reacts to, as AWS documents them, and how to tell
 * them apart. The construct builds its rules from the same constants, so rule and handler cannot drift.
 */

/** An EventBridge event envelope. */
export interface EventBridgeEnvelope<D = Record<string, unknown>> {
  readonly version?: string;
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account?: string;
  readonly time: string;
  readonly region?: string;
  readonly resources?: string[];
  readonly detail: D;
}

/** Sources and detail types of the events the pipeline consumes (exact spelling matters for the rules). */
export const INTERRUPTION_EVENTS = {
  SPOT_WARNING: { source: 'aws.ec2', detailType: 'EC2 Spot Instance Interruption Warning' },
  REBALANCE: { source: 'aws.ec2', detailType: 'EC2 Instance Rebalance Recommendation' },
  STATE_CHANGE: { source: 'aws.ec2', detailType: 'EC2 Instance State-change Notification' },
  TERMINATE_ACTION: { source: 'aws.autoscaling', detailType: 'EC2 Instance-terminate Lifecycle Action' },
  HEALTH: { source: 'aws.health', detailType: 'AWS Health Event' },
  LAUNCH_UNSUCCESSFUL: { source: 'aws.autoscaling', detailType: 'EC2 Instance Launch Unsuccessful' },
} as const;

/** Instance states of a state-change notification that mean the instance is going away. */
export const LEAVING_STATES = ['stopping', 'stopped', 'shutting-down', 'terminated'];

/** What an event means for the fleet. */
export enum InterruptionEventKind {
  SPOT_WARNING = 'spot-warning',
  REBALANCE = 'rebalance-recommendation',
  STATE_CHANGE = 'state-change',
  TERMINATE_ACTION = 'terminate-lifecycle-action',
  SCHEDULED_CHANGE = 'scheduled-change',
  LAUNCH_UNSUCCESSFUL = 'launch-unsuccessful',
  UNKNOWN = 'unknown',
}

/** Classify an event by source and detail type. */
export function classifyEvent(e: Pick<EventBridgeEnvelope, 'source' | 'detail-type'>): InterruptionEventKind {
  const is = (x: { source: string; detailType: string }): boolean => e.source === x.source && e['detail-type'] === x.detailType;
  if (is(INTERRUPTION_EVENTS.SPOT_WARNING)) return InterruptionEventKind.SPOT_WARNING;
  if (is(INTERRUPTION_EVENTS.REBALANCE)) return InterruptionEventKind.REBALANCE;
  if (is(INTERRUPTION_EVENTS.STATE_CHANGE)) return InterruptionEventKind.STATE_CHANGE;
  if (is(INTERRUPTION_EVENTS.TERMINATE_ACTION)) return InterruptionEventKind.TERMINATE_ACTION;
  if (is(INTERRUPTION_EVENTS.HEALTH)) return InterruptionEventKind.SCHEDULED_CHANGE;
  if (is(INTERRUPTION_EVENTS.LAUNCH_UNSUCCESSFUL)) return InterruptionEventKind.LAUNCH_UNSUCCESSFUL;
  return InterruptionEventKind.UNKNOWN;
}

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

/** Instance id of an `aws.ec2` event (`detail.instance-id`), if well-formed. */
export function ec2EventInstanceId(e: EventBridgeEnvelope): string | undefined {
  const id = e.detail?.['instance-id'];
  return typeof id === 'string' && INSTANCE_ID.test(id) ? id : undefined;
}

/** Instance ids an AWS Health event names (affected entities and resources), without duplicates. */
export function healthEventInstanceIds(e: EventBridgeEnvelope): string[] {
  const ids = new Set<string>();
  const entities = e.detail?.affectedEntities;
  if (Array.isArray(entities)) {
    for (const ent of entities) {
      const v = (ent as { entityValue?: unknown })?.entityValue;
      if (typeof v === 'string' && INSTANCE_ID.test(v)) ids.add(v);
    }
  }
  for (const r of e.resources ?? []) {
    const id = r.includes('/') ? r.slice(r.lastIndexOf('/') + 1) : r;
    if (INSTANCE_ID.test(id)) ids.add(id);
  }
  return [...ids];
}
