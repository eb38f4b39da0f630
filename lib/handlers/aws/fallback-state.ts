/**
 * The fallback controller's persisted memory and its compact encoding for one SSM Standard parameter
 * (4 KB at most). No SDK imports: pure functions, tested on their own.
 */
import { FallbackState, PoolMemory, initialFallbackState } from '../../policy/fallback-policy';
import { SSM_STANDARD_PARAMETER_MAX_BYTES } from './fallback-settings';

/** What the controller remembers between runs. */
export interface ControllerState {
  /** The policy's own state, passed back to `decideFallback`. */
  readonly policy: FallbackState;
  /**
   * Keys of events already counted, with the epoch second they were seen: scaling activity ids of
   * failed launches (`a:<id>`) and warned instances (`w:<instance id>`). A redelivered event, or the
   * same failure seen again by the activity scan, is not counted twice.
   */
  readonly seen: Array<[string, number]>;
  /** Epoch seconds of the last run (0 = never): the next run scans activities since then. */
  readonly lastRunAt: number;
  /** True when nothing was stored (first run, or the parameter was reset): the controller then seeds the fallback from the group. */
  readonly fresh: boolean;
}

/** The state of a controller that has never run. */
export function initialControllerState(): ControllerState {
  return { policy: initialFallbackState(), seen: [], lastRunAt: 0, fresh: true };
}

type PoolTuple = [string, number, number, number, number];

interface Encoded {
  v: number;
  f: number;
  s: number;
  i: number;
  d: number;
  c: number;
  n: number;
  z: number;
  r: number[];
  p: PoolTuple[];
  k: Array<[string, number]>;
  t: number;
}

const FORMAT = 1;

function encodeObject(s: ControllerState): Encoded {
  const p = s.policy;
  return {
    v: FORMAT,
    f: p.fallbackReplicas,
    s: p.spareSpotReplicas,
    i: p.lastIncreaseAt,
    d: p.lastDecreaseAt,
    c: p.coveredSince,
    n: p.coveredNeed,
    z: p.stabilizationSeconds,
    r: p.recentPreemptions,
    p: p.pools.map((m) => [m.pool, m.strikes, m.unavailableUntil, m.lastBadAt, m.goodSince]),
    k: s.seen,
    t: s.lastRunAt,
  };
}

/**
 * Serialize the state to at most `maxBytes` (UTF-8). When it does not fit, the least useful memory goes
 * first: pools with nothing held against them, then the oldest seen keys, then the oldest preemptions,
 * then the pools with the fewest strikes. The fallback count and its timers are always kept.
 */
export function encodeControllerState(s: ControllerState, nowSeconds: number, maxBytes = SSM_STANDARD_PARAMETER_MAX_BYTES): string {
  const e = encodeObject(s);
  const size = (): number => Buffer.byteLength(JSON.stringify(e), 'utf8');
  if (size() <= maxBytes) return JSON.stringify(e);
  e.p = e.p.filter(([, strikes, until]) => strikes > 0 || until > nowSeconds);
  while (size() > maxBytes) {
    if (e.k.length > 0) e.k = e.k.slice(Math.ceil(e.k.length / 2));
    else if (e.r.length > 0) e.r = e.r.slice(Math.ceil(e.r.length / 2));
    else if (e.p.length > 0) e.p = [...e.p].sort((a, b) => b[1] - a[1] || b[2] - a[2]).slice(0, e.p.length - 1);
    else break;
  }
  return JSON.stringify(e);
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;

/**
 * Read a stored state. Anything missing, malformed or of another format gives the initial state
 * (flagged `fresh`): a lost state costs a seeded restart, never a crash.
 */
export function decodeControllerState(raw: string | undefined): ControllerState {
  if (!raw) return initialControllerState();
  let e: Partial<Encoded>;
  try {
    e = JSON.parse(raw) as Partial<Encoded>;
  } catch {
    return initialControllerState();
  }
  if (!e || typeof e !== 'object' || e.v !== FORMAT) return initialControllerState();
  const nums = [e.f, e.s, e.i, e.d, e.c, e.n, e.z, e.t];
  if (!nums.every(isNum) || !Array.isArray(e.r) || !Array.isArray(e.p) || !Array.isArray(e.k)) return initialControllerState();
  const pools: PoolMemory[] = [];
  for (const t of e.p) {
    if (Array.isArray(t) && t.length === 5 && typeof t[0] === 'string' && t.slice(1).every(isNum)) {
      pools.push({ pool: t[0], strikes: t[1], unavailableUntil: t[2], lastBadAt: t[3], goodSince: t[4] });
    }
  }
  const base = initialFallbackState();
  return {
    policy: {
      version: base.version,
      fallbackReplicas: e.f!,
      spareSpotReplicas: e.s!,
      lastIncreaseAt: e.i!,
      lastDecreaseAt: e.d!,
      coveredSince: e.c!,
      coveredNeed: e.n!,
      stabilizationSeconds: e.z!,
      recentPreemptions: e.r.filter(isNum),
      pools,
    },
    seen: e.k.filter((x): x is [string, number] => Array.isArray(x) && typeof x[0] === 'string' && isNum(x[1])),
    lastRunAt: e.t!,
    fresh: false,
  };
}
