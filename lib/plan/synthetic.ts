import { FleetSpecErrorCode as C, ProblemCollector } from '../spec/errors';
import { mulberry32 } from './rng';
import { SpotTrace } from './traces';

/**
 * Synthetic spot-availability traces, to judge a policy on traces it was not written against (the shared traces are
 * few; a policy tuned to them proves nothing). Each pool is a two-state (up / down) Markov chain with geometric up and
 * down times; families add correlation between the zones of a region or between regions through shared latent
 * chains. Values are 1 (available, no cap) or 0, as the single-node traces of the public spot-trace repositories.
 */
export enum SyntheticFamily {
  /** Zones fail on their own; each zone draws its own mean up (2-12 h) and down (10 min-2 h) times. */
  INDEPENDENT_ZONES = 'independent-zones',
  /** A region's zones fail together (region outage: mean up 8 h, down 1 h) on top of their own failures. */
  CORRELATED_ZONES = 'correlated-zones',
  /** One event hits several regions at once (mean up 12 h, down 1 h; each region hit with probability 0.6). */
  CORRELATED_REGIONS = 'correlated-regions',
  /** Spot is there a third of the time (mean up 1 h, down 2 h), zones independent. */
  SCARCE = 'scarce',
  /** Spot is nearly always there (mean up 48 h, down 10 min), zones independent. */
  PLENTIFUL = 'plentiful',
}

/** Options of {@link syntheticTraces}. */
export interface SyntheticTraceOptions {
  readonly family: SyntheticFamily;
  /** PRNG seed (a whole number); the same seed gives the same traces. */
  readonly seed: number;
  /** Regions, each with `zonesPerRegion` zones `<region>a`, `<region>b`, ... @default ['us-east-1', 'us-east-2', 'us-west-2'] */
  readonly regions?: string[];
  /** @default 3 */
  readonly zonesPerRegion?: number;
  /** Samples per pool. @default 17280 (6 days of 30 s samples) */
  readonly samples?: number;
  /** Seconds between samples. @default 30 */
  readonly gapSeconds?: number;
  /** Instance type in the pool names `<zone>_<type>`. @default 'gpu' */
  readonly instanceType?: string;
}

/** A two-state chain: P(up -> down) = 1 / meanUp, P(down -> up) = 1 / meanDown (in samples). */
class Chain {
  public up: boolean;
  constructor(private readonly rng: () => number, private readonly meanUp: number, private readonly meanDown: number) {
    this.up = rng() < meanUp / (meanUp + meanDown);
  }
  public next(): boolean {
    if (this.up) {
      if (this.rng() < 1 / this.meanUp) this.up = false;
    } else if (this.rng() < 1 / this.meanDown) {
      this.up = true;
    }
    return this.up;
  }
}

/** Generate one family's traces (one per zone). Throws a `FleetSpecError` on bad options. */
export function syntheticTraces(options: SyntheticTraceOptions): SpotTrace[] {
  const regions = options.regions ?? ['us-east-1', 'us-east-2', 'us-west-2'];
  const perRegion = options.zonesPerRegion ?? 3;
  const samples = options.samples ?? 17280;
  const gap = options.gapSeconds ?? 30;
  const type = options.instanceType ?? 'gpu';
  const v = new ProblemCollector();
  if (!Object.values(SyntheticFamily).includes(options.family)) v.add(C.PLAN_OPTIONS, 'family', `family (${String(options.family)}) must be one of ${Object.values(SyntheticFamily).join(', ')}`);
  if (!Number.isInteger(options.seed)) v.add(C.PLAN_OPTIONS, 'seed', `seed (${options.seed}) must be a whole number`);
  if (regions.length === 0) v.add(C.PLAN_OPTIONS, 'regions', 'regions ([]) must name at least one region, e.g. ["us-east-1"]');
  if (!Number.isInteger(perRegion) || perRegion < 1 || perRegion > 26) v.add(C.PLAN_OPTIONS, 'zonesPerRegion', `zonesPerRegion (${perRegion}) must be a whole number from 1 to 26`);
  if (!Number.isInteger(samples) || samples < 1) v.add(C.PLAN_OPTIONS, 'samples', `samples (${samples}) must be a whole number, 1 or more`);
  if (!(gap > 0)) v.add(C.PLAN_OPTIONS, 'gapSeconds', `gapSeconds (${gap}) must be above 0`);
  v.throwIfAny('synthetic traces');

  const rng = mulberry32(options.seed);
  const per = (seconds: number): number => Math.max(1, seconds / gap);
  const h = 3600;
  const zoneChain = (): Chain => {
    switch (options.family) {
      case SyntheticFamily.INDEPENDENT_ZONES:
        return new Chain(rng, per((2 + 10 * rng()) * h), per((10 + 110 * rng()) * 60));
      case SyntheticFamily.SCARCE:
        return new Chain(rng, per(h), per(2 * h));
      case SyntheticFamily.PLENTIFUL:
        return new Chain(rng, per(48 * h), per(600));
      default:
        return new Chain(rng, per(12 * h), per(20 * 60));
    }
  };
  const zones: { name: string; region: number; chain: Chain; data: Int32Array }[] = [];
  regions.forEach((region, ri) => {
    for (let i = 0; i < perRegion; i++) zones.push({ name: `${region}${String.fromCharCode(97 + i)}_${type}`, region: ri, chain: zoneChain(), data: new Int32Array(samples) });
  });
  const regionChains = regions.map(() => new Chain(rng, per(8 * h), per(h)));
  const global = new Chain(rng, per(12 * h), per(h));
  const hit = regions.map(() => false);
  for (let t = 0; t < samples; t++) {
    const wasUp = global.up;
    const globalUp = global.next();
    if (wasUp && !globalUp) for (let r = 0; r < regions.length; r++) hit[r] = rng() < 0.6;
    const regionUp = regionChains.map((c) => c.next());
    for (const z of zones) {
      let up = z.chain.next();
      if (options.family === SyntheticFamily.CORRELATED_ZONES) up &&= regionUp[z.region];
      if (options.family === SyntheticFamily.CORRELATED_REGIONS) up &&= globalUp || !hit[z.region];
      z.data[t] = up ? 1 : 0;
    }
  }
  return zones.map((z) => ({ name: z.name, gapSeconds: gap, data: z.data }));
}
