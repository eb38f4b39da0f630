import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cloud } from '../spec/clouds';
import { InterruptionEvent, InterruptionKind } from './events';

/** File name of the pending notice under the agent's state directory. */
export const NOTICE_STATE_FILE = 'notice.json';
const STATE_VERSION = 1;

/**
 * What the agent writes when a notice comes (and again when the drain is done), so that an agent restarted on
 * the same doomed instance (SIGKILL, `systemctl restart`, a crash and `Restart=on-failure`) fails the health
 * endpoint from its first probe and resumes the drain instead of answering 200 again.
 */
export interface NoticeState {
  readonly version: number;
  /** `/proc/sys/kernel/random/boot_id` when written: a state of an earlier boot (stopped and started VM) is stale. */
  readonly bootId: string;
  readonly event: {
    readonly cloud: Cloud;
    readonly kind: InterruptionKind;
    readonly instanceId: string;
    readonly deadline: string;
    readonly detectedAt: string;
    readonly eventId?: string;
    readonly detail?: string;
  };
  readonly healthFailingAt: string;
  readonly drainDeadline: string;
  /** Set once the drain (hook and acknowledgement included) finished. */
  readonly drainedAt?: string;
  /** The server process the agent sent the drain signal to (never signalled twice). */
  readonly signalledPid?: number;
}

/** This boot's id (Linux); '' where the kernel does not expose one. */
export function currentBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** The event a state holds. */
export function eventOf(state: NoticeState): InterruptionEvent {
  const e = state.event;
  return {
    cloud: e.cloud,
    kind: e.kind,
    instanceId: e.instanceId,
    deadline: new Date(e.deadline),
    detectedAt: new Date(e.detectedAt),
    ...(e.eventId !== undefined ? { eventId: e.eventId } : {}),
    ...(e.detail !== undefined ? { detail: e.detail } : {}),
  };
}

/** The state to write for a notice. */
export function noticeState(event: InterruptionEvent, bootId: string, healthFailingAt: Date, drainDeadline: Date, drainedAt?: Date): NoticeState {
  return {
    version: STATE_VERSION,
    bootId,
    event: {
      cloud: event.cloud,
      kind: event.kind,
      instanceId: event.instanceId,
      deadline: event.deadline.toISOString(),
      detectedAt: event.detectedAt.toISOString(),
      ...(event.eventId !== undefined ? { eventId: event.eventId } : {}),
      ...(event.detail !== undefined ? { detail: event.detail.slice(0, 2048) } : {}),
    },
    healthFailingAt: healthFailingAt.toISOString(),
    drainDeadline: drainDeadline.toISOString(),
    ...(drainedAt ? { drainedAt: drainedAt.toISOString() } : {}),
  };
}

/** Writes the state atomically (a temporary file renamed over the old one): a kill mid-write leaves the old file or the new one. */
export function writeNoticeState(dir: string, state: NoticeState): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, NOTICE_STATE_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
  renameSync(tmp, file);
}

/** What reading the state directory found. */
export type LoadedNoticeState =
  | { readonly status: 'none' }
  | { readonly status: 'pending'; readonly state: NoticeState }
  | { readonly status: 'stale'; readonly reason: string }
  | { readonly status: 'unreadable'; readonly reason: string };

/** Reads the pending notice, if any, and says whether it belongs to this boot. Never throws. */
export function loadNoticeState(dir: string, bootId: string, cloud: Cloud): LoadedNoticeState {
  let text: string;
  try {
    text = readFileSync(join(dir, NOTICE_STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'none' };
    return { status: 'unreadable', reason: (err as Error).message };
  }
  let doc: Partial<NoticeState>;
  try {
    doc = JSON.parse(text) as Partial<NoticeState>;
  } catch {
    return { status: 'unreadable', reason: `not JSON: ${text.slice(0, 60)}` };
  }
  const e = doc?.event;
  const valid =
    doc !== null &&
    typeof doc === 'object' &&
    doc.version === STATE_VERSION &&
    typeof doc.bootId === 'string' &&
    typeof e?.kind === 'string' &&
    !isNaN(Date.parse(e?.deadline ?? '')) &&
    !isNaN(Date.parse(doc.healthFailingAt ?? '')) &&
    !isNaN(Date.parse(doc.drainDeadline ?? ''));
  if (!valid) return { status: 'unreadable', reason: `not a notice state: ${text.slice(0, 60)}` };
  if (doc.bootId !== bootId) return { status: 'stale', reason: `written during an earlier boot (${doc.bootId || 'unknown'}; now ${bootId || 'unknown'})` };
  if (e!.cloud !== cloud) return { status: 'stale', reason: `written by an agent watching ${e!.cloud}, this one watches ${cloud}` };
  return { status: 'pending', state: doc as NoticeState };
}
