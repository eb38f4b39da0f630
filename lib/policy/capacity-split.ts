/**
 * How a fleet's capacity is split: between on-demand and spot, and over the groups (managed instance groups,
 * scale sets) that render it. Decided here once, for the renderers (`planFleet` in lib/spec), the cloud
 * functions (the Azure fallback controller) and the simulator alike. Pure, no I/O.
 *
 * Deploy-time values (a CDK token, a Terraform variable) never enter arithmetic: a value the split only passes on
 * is passed on untouched; one it must compute with is taken out of the computation (and the fleet refuses it at
 * synth with a message naming the prop) or handed to the caller's `spotOf`, which renders the computation for the
 * deploy tool (a Terraform expression).
 */

/** The capacities of a fleet, as a resolved fleet spec carries them (every default filled in). */
export interface FleetCapacity {
  readonly minCapacity: number;
  readonly maxCapacity: number;
  readonly desiredCapacity: number;
  readonly onDemandBaseCapacity: number;
  readonly onDemandPercentageAboveBaseCapacity: number;
}

/** How the split treats values it cannot know yet. */
export interface CapacitySplitOptions {
  /** Tells a deploy-time value from a number. @default - every value is a number */
  readonly isUnresolved?: (value: unknown) => boolean;
  /**
   * The spot part `max(0, value - onDemandCount)` of a deploy-time `value`, rendered for the deploy tool (e.g. the
   * Terraform expression `max(var.x - 2, 0)`).
   * @default - the deploy-time value itself (right when the on-demand count is 0)
   */
  readonly spotOf?: (value: number, onDemandCount: number) => number;
}

/**
 * The on-demand / spot split of a fleet whose cloud has no mixed group (a standard group beside a spot group, as on
 * Google Cloud): the on-demand instances at the desired capacity and the spot group's bounds.
 */
export interface OnDemandSpotSplit {
  /**
   * On-demand instances: `onDemandBaseCapacity` plus `onDemandPercentageAboveBaseCapacity` % (rounded up) of the
   * desired capacity above the base, at most `maxCapacity`.
   */
  readonly onDemandCount: number;
  /** Fewest spot instances: `max(0, minCapacity - onDemandCount)`. */
  readonly spotMin: number;
  /** Most spot instances: `max(0, maxCapacity - onDemandCount)`. */
  readonly spotMax: number;
  /** Spot instances to start with: `max(0, desiredCapacity - onDemandCount)`. */
  readonly spotDesired: number;
}

/**
 * Split a fleet into a fixed on-demand part and a spot part. A deploy-time base or percentage counts as 0 (the
 * fleet refuses it at synth); a deploy-time desired capacity leaves the share above the base out; a deploy-time
 * maximum does not cap the on-demand count. The spot bounds of deploy-time capacities come from `spotOf`.
 */
export function splitOnDemandSpot(c: FleetCapacity, options: CapacitySplitOptions = {}): OnDemandSpotSplit {
  const tok = options.isUnresolved ?? (() => false);
  const base = tok(c.onDemandBaseCapacity) ? 0 : c.onDemandBaseCapacity;
  const pct = tok(c.onDemandPercentageAboveBaseCapacity) ? 0 : c.onDemandPercentageAboveBaseCapacity;
  let od = base;
  if (pct > 0 && !tok(c.desiredCapacity)) {
    od = base + Math.ceil((pct / 100) * Math.max(0, c.desiredCapacity - base));
  }
  if (!tok(c.maxCapacity)) od = Math.min(c.maxCapacity, od);
  const spotOf = options.spotOf ?? ((x: number) => x);
  const spot = (x: number): number => (tok(x) ? spotOf(x, od) : Math.max(0, x - od));
  return { onDemandCount: od, spotMin: spot(c.minCapacity), spotMax: spot(c.maxCapacity), spotDesired: spot(c.desiredCapacity) };
}

/**
 * Split `total` over `parts` as evenly as possible; the first ones get the remainder. Adding one to
 * `total` adds one to exactly one part, so splits of `min <= desired <= max` keep that order per part.
 * One part takes `total` as it is (a deploy-time value passes through untouched).
 */
export function splitEvenly(total: number, parts: number): number[] {
  if (parts === 1) return [total];
  const base = Math.floor(total / parts);
  const rest = total % parts;
  return Array.from({ length: parts }, (_, i) => base + (i < rest ? 1 : 0));
}

/** Split `total` over groups as evenly as their room allows; earlier groups get the remainder. */
export function splitFallback(total: number, rooms: number[]): number[] {
  const out = rooms.map(() => 0);
  let left = total;
  while (left > 0) {
    let moved = false;
    for (let i = 0; i < rooms.length && left > 0; i++) {
      if (out[i] < rooms[i]) {
        out[i]++;
        left--;
        moved = true;
      }
    }
    if (!moved) break;
  }
  return out;
}

/**
 * Split a fleet over `groups` groups that each mix on-demand and spot the same way (Azure scale sets of one VM size
 * each): every capacity and the on-demand base split evenly ({@link splitEvenly}), the percentage above the base the
 * same in every group, so the fleet as a whole keeps it. One group takes the capacities as they are.
 */
export function splitOverGroups(c: FleetCapacity, groups: number): FleetCapacity[] {
  const n = Math.max(1, groups);
  const min = splitEvenly(c.minCapacity, n);
  const max = splitEvenly(c.maxCapacity, n);
  const desired = splitEvenly(c.desiredCapacity, n);
  const base = splitEvenly(c.onDemandBaseCapacity, n);
  return min.map((_, i) => ({
    minCapacity: min[i],
    maxCapacity: max[i],
    desiredCapacity: desired[i],
    onDemandBaseCapacity: base[i],
    onDemandPercentageAboveBaseCapacity: c.onDemandPercentageAboveBaseCapacity,
  }));
}

/**
 * The capacities left to the mixed groups when the on-demand base runs in a group of its own (Azure's
 * `regularBaseScaleSet`): every capacity less the base, no base of their own. Needs numbers.
 */
export function withoutOnDemandBase<T extends FleetCapacity>(c: T): T {
  const base = c.onDemandBaseCapacity;
  return {
    ...c,
    minCapacity: Math.max(0, c.minCapacity - base),
    maxCapacity: Math.max(0, c.maxCapacity - base),
    desiredCapacity: Math.max(0, c.desiredCapacity - base),
    onDemandBaseCapacity: 0,
  };
}
