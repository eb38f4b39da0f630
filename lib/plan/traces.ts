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
  let json: { metadata?: { gap_seconds?: unknown }; data?: unknown };
  try {
    json = JSON.parse(text);
  } catch (e) {
    v.add(C.WORKLOAD, 'traces', `trace ${name} is not JSON (${(e as Error).message}); expected {"metadata": {"gap_seconds": 195}, "data": [0, 1, ...]}`);
    v.throwIfAny('spot trace');
    throw e;
  }
  const gap = json.metadata?.gap_seconds;
  if (typeof gap !== 'number' || !(gap > 0)) {
    v.add(C.WORKLOAD, 'traces', `trace ${name} has metadata.gap_seconds ${JSON.stringify(gap)}; it must be the seconds between samples, above 0`);
  }
  const data = json.data;
  if (!Array.isArray(data) || data.length === 0 || data.some((d) => typeof d !== 'number' || !(d >= 0))) {
    v.add(C.WORKLOAD, 'traces', `trace ${name} needs "data": a non-empty array of numbers 0 or more (0 = no spot, n = n instances obtainable)`);
  }
  v.throwIfAny('spot trace');
  return { name, gapSeconds: gap as number, data: Int32Array.from(data as number[], (d) => Math.floor(d)) };
}

/** Load every `*.json` trace of a directory, sorted by name. */
export function loadTraceDir(dir: string): SpotTrace[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  } catch (e) {
    const v = new ProblemCollector();
    v.add(C.WORKLOAD, 'traces', `--traces ${dir} is not a readable directory (${(e as Error).message}); point it at a folder of <zone>.json spot traces`);
    v.throwIfAny('spot-plan simulate');
    throw e;
  }
  if (names.length === 0) {
    const v = new ProblemCollector();
    v.add(C.WORKLOAD, 'traces', `--traces ${dir} holds no .json traces; expected one file per pool, {"metadata": {"gap_seconds": 195}, "data": [0, 1, ...]}`);
    v.throwIfAny('spot-plan simulate');
  }
  return names.map((n) => parseTrace(basename(n, '.json'), readFileSync(join(dir, n), 'utf8')));
}
