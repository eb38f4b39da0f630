import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { FleetSpecErrorCode as C, ProblemCollector } from '../spec/errors';

/**
 * Spot availability of one pool over time, as the public spot-trace repositories publish it:
 * `{"metadata": {"gap_seconds": 195}, "data": [0, 1, 1, ...]}`. Each value is what a probe got at that
 * tick: 0 = no spot capacity; otherwise 1 (single-node probes) or the number of instances obtained.
 */
export interface SpotTrace {
  /** Pool name (the file name without `.json`). */
  readonly name: string;
  /** Seconds between two samples. */
  readonly gapSeconds: number;
  /** The samples. */
  readonly data: Int32Array;
  /** When the first sample was taken, epoch seconds, when the metadata says (`start`, `start_time` or `start_timestamp`). */
  readonly startSeconds?: number;
}

/** How a trace value is read. */
export enum TraceReading {
  /** Any value above 0 means "spot available, no cap": any number of replicas may run (SpotHedge's artifact reading of single-node traces). */
  UNCAPPED = 'uncapped',
  /** A value is the most replicas the pool holds at that tick (1 = one replica per zone). */
  CAPPED = 'capped',
}

/** Parse one trace file's JSON text. */
export function parseTrace(name: string, text: string): SpotTrace {
  const v = new ProblemCollector();
  let json: { metadata?: { gap_seconds?: unknown; start?: unknown; start_time?: unknown; start_timestamp?: unknown }; data?: unknown };
  try {
    json = JSON.parse(text);
  } catch (e) {
    v.add(C.PLAN_TRACES, 'traces', `trace ${name} is not JSON (${(e as Error).message}); expected {"metadata": {"gap_seconds": 195}, "data": [0, 1, ...]}`);
    v.throwIfAny('spot trace');
    throw e;
  }
  const gap = json.metadata?.gap_seconds;
  if (typeof gap !== 'number' || !(gap > 0)) {
    v.add(C.PLAN_TRACES, 'traces', `trace ${name} has metadata.gap_seconds ${JSON.stringify(gap)}; it must be the seconds between samples, above 0`);
  }
  const data = json.data;
  if (!Array.isArray(data) || data.length === 0 || data.some((d) => typeof d !== 'number' || !(d >= 0))) {
    v.add(C.PLAN_TRACES, 'traces', `trace ${name} needs "data": a non-empty array of numbers 0 or more (0 = no spot, n = n instances obtainable)`);
  }
  v.throwIfAny('spot trace');
  const start = startOf(json.metadata?.start ?? json.metadata?.start_time ?? json.metadata?.start_timestamp);
  const trace: SpotTrace = { name, gapSeconds: gap as number, data: Int32Array.from(data as number[], (d) => Math.floor(d)) };
  return start === undefined ? trace : { ...trace, startSeconds: start };
}

function startOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value > 1e11 ? value / 1000 : value;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms / 1000;
  }
  return undefined;
}

/**
 * What a reader of a replay must know about its traces, in words (the CLI prints them as warnings):
 * a count trace read without `--cap`, pools of different lengths (the replay cuts them to the shortest)
 * or starts, pools sampled at different gaps.
 */
export function traceWarnings(traces: readonly SpotTrace[], reading: TraceReading): string[] {
  const out: string[] = [];
  if (traces.length === 0) return out;
  if (reading === TraceReading.UNCAPPED) {
    const counts = traces.filter((t) => t.data.some((d) => d > 1));
    if (counts.length > 0) {
      out.push(`${counts.map((t) => t.name).join(', ')} hold${counts.length === 1 ? 's' : ''} counts above 1 (instances obtained), read here as "available, no cap"; pass --cap to read each value as the most replicas the pool holds`);
    }
  }
  const seconds = traces.map((t) => t.data.length * t.gapSeconds);
  const shortest = Math.min(...seconds);
  if (seconds.some((s) => s !== shortest)) {
    const longest = traces[seconds.indexOf(Math.max(...seconds))];
    const cut = traces[seconds.indexOf(shortest)];
    out.push(`pools differ in length (${cut.name}: ${shortest} s, ${longest.name}: ${longest.data.length * longest.gapSeconds} s); every pool is cut to the shortest, ${shortest} s`);
  }
  const gaps = [...new Set(traces.map((t) => t.gapSeconds))];
  if (gaps.length > 1) out.push(`pools are sampled at different gaps (${gaps.join(', ')} s); each is expanded to the simulator's ticks on its own`);
  const starts = traces.filter((t) => t.startSeconds !== undefined);
  if (starts.length > 0 && starts.length < traces.length) {
    out.push(`only ${starts.length} of ${traces.length} pools say when they start (metadata.start); the replay aligns every pool on its first sample`);
  } else if (starts.length > 0) {
    const first = Math.min(...starts.map((t) => t.startSeconds!));
    const late = starts.filter((t) => t.startSeconds! !== first);
    if (late.length > 0) {
      out.push(`pools start at different times (${late.map((t) => `${t.name} ${t.startSeconds! - first} s later`).join(', ')}); the replay aligns every pool on its first sample`);
    }
  }
  return out;
}

/** Load every `*.json` trace of a directory, sorted by name. */
export function loadTraceDir(dir: string): SpotTrace[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  } catch (e) {
    const v = new ProblemCollector();
    v.add(C.PLAN_TRACES, 'traces', `--traces ${dir} is not a readable directory (${(e as Error).message}); point it at a folder of <zone>.json spot traces`);
    v.throwIfAny('spot-plan simulate');
    throw e;
  }
  if (names.length === 0) {
    const v = new ProblemCollector();
    v.add(C.PLAN_TRACES, 'traces', `--traces ${dir} holds no .json traces; expected one file per pool, {"metadata": {"gap_seconds": 195}, "data": [0, 1, ...]}`);
    v.throwIfAny('spot-plan simulate');
  }
  return names.map((n) => parseTrace(basename(n, '.json'), readFileSync(join(dir, n), 'utf8')));
}
