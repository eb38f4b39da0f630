import { findPrice, InstancePrice, typicalSpotUsdPerHour } from '../catalog/prices';
import { Cloud } from '../spec/clouds';
import { FleetSpecErrorCode as C, ProblemCollector } from '../spec/errors';

/** A fleet to price. */
export interface CostEstimateInput {
  /** Cloud of the fleet. */
  readonly cloud: Cloud;
  /** Instance types the fleet spreads over (replicas are assumed spread evenly over them). */
  readonly instanceTypes: string[];
  /** Replicas the fleet runs. */
  readonly replicas: number;
  /** Replicas that always run on-demand. */
  readonly onDemandBase: number;
  /** Share of the replicas above the base that run on spot, 0-100. @default 100 */
  readonly spotPercentageAboveBase?: number;
  /** Region to price in. @default - the catalogue's region of each type */
  readonly region?: string;
}

/** What a fleet costs per hour, against running it all on-demand. */
export interface CostEstimate {
  /** Replicas on spot. */
  readonly spotReplicas: number;
  /** Replicas on-demand. */
  readonly onDemandReplicas: number;
  /** Mean on-demand price of one replica over the types, USD/hour. */
  readonly onDemandUsdPerReplicaHour: number;
  /** Mean typical spot price of one replica over the types, USD/hour. */
  readonly spotUsdPerReplicaHour: number;
  /** Expected cost of the fleet, USD/hour. */
  readonly fleetUsdPerHour: number;
  /** Cost of the same replicas all on-demand, USD/hour. */
  readonly allOnDemandUsdPerHour: number;
  /** fleetUsdPerHour / allOnDemandUsdPerHour. */
  readonly relativeCost: number;
  /** The catalogue entries used. */
  readonly prices: InstancePrice[];
}

/**
 * Expected $/hour of a fleet from the price catalogue: the base and the on-demand share above it at the
 * on-demand price, the rest at the typical spot price (middle of the observed range). It assumes spot
 * is obtainable; `spot-plan simulate` adds what fallback to on-demand costs when it is not.
 */
export function estimateCost(input: CostEstimateInput): CostEstimate {
  const v = new ProblemCollector();
  const pct = input.spotPercentageAboveBase ?? 100;
  if (!Number.isInteger(input.replicas) || input.replicas < 1) v.add(C.CAPACITY_NEGATIVE, 'replicas', `replicas (${input.replicas}) must be a whole number, 1 or more`);
  if (!Number.isInteger(input.onDemandBase) || input.onDemandBase < 0) v.add(C.CAPACITY_NEGATIVE, 'onDemandBase', `onDemandBase (${input.onDemandBase}) must be a whole number, 0 or more`);
  else if (input.onDemandBase > input.replicas) v.add(C.ON_DEMAND_BASE_ABOVE_MAX, 'onDemandBase', `onDemandBase (${input.onDemandBase}) is above replicas (${input.replicas}); lower it to at most ${input.replicas}`);
  if (!(pct >= 0 && pct <= 100)) v.add(C.PERCENTAGE_RANGE, 'spotPercentageAboveBase', `spotPercentageAboveBase (${pct}) must be between 0 and 100`);
  if (input.instanceTypes.length === 0) v.add(C.INSTANCE_SELECTION, 'instanceTypes', 'instanceTypes is empty; name at least one type from the price catalogue');
  v.throwIfAny('spot-plan cost');
  const prices = input.instanceTypes.map((t) => findPrice(input.cloud, t, input.region));
  const od = prices.reduce((s, p) => s + p.onDemandUsdPerHour, 0) / prices.length;
  const spot = prices.reduce((s, p) => s + typicalSpotUsdPerHour(p), 0) / prices.length;
  const above = input.replicas - input.onDemandBase;
  const spotReplicas = Math.floor((above * pct) / 100);
  const onDemandReplicas = input.replicas - spotReplicas;
  const fleet = onDemandReplicas * od + spotReplicas * spot;
  const all = input.replicas * od;
  return {
    spotReplicas,
    onDemandReplicas,
    onDemandUsdPerReplicaHour: od,
    spotUsdPerReplicaHour: spot,
    fleetUsdPerHour: fleet,
    allOnDemandUsdPerHour: all,
    relativeCost: fleet / all,
    prices,
  };
}
