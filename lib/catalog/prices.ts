import { Cloud } from '../spec/clouds';
import { FleetSpecErrorCode, ProblemCollector } from '../spec/errors';

/**
 * One price snapshot of an instance type (AWS), machine type (Google Cloud) or VM size (Azure) in one
 * region, with where the figure was read. Spot prices move by the hour: treat these as planning
 * defaults, not as a bill.
 */
export interface InstancePrice {
  /** Cloud the type belongs to. */
  readonly cloud: Cloud;
  /** Instance type, machine type or VM size, as the cloud spells it. */
  readonly instanceType: string;
  /** GPU model (`T4`, `A10G`, `L4`, `V100`, `A100`, ...). */
  readonly gpu: string;
  /** GPUs per instance. */
  readonly gpuCount: number;
  /** Region the prices were read for. */
  readonly region: string;
  /** On-demand price, USD per hour. */
  readonly onDemandUsdPerHour: number;
  /** Lowest observed spot price, USD per hour. */
  readonly spotUsdPerHourLow: number;
  /** Highest observed spot price, USD per hour. */
  readonly spotUsdPerHourHigh: number;
  /** Catalogue the figures come from. */
  readonly source: string;
  /** Caveat about the figure (stale, billed separately). @default - none */
  readonly note?: string;
}

const SKY_V7_AWS = 'skypilot-catalog v7/aws/vms.csv';
const SKY_V7_GCP = 'skypilot-catalog v7/gcp/vms.csv';
const SKY_V6_AZURE = 'skypilot-catalog v6/azure/vms.csv';
const STALE = 'catalogue not refreshed since v6; spot figure likely stale';

/**
 * Price snapshot of common GPU inference types on the three clouds. Figures as published in the
 * sources named on each entry.
 */
export const PRICE_CATALOG: readonly InstancePrice[] = [
  { cloud: Cloud.AWS, instanceType: 'g4dn.xlarge', gpu: 'T4', gpuCount: 1, region: 'us-east-1', onDemandUsdPerHour: 0.526, spotUsdPerHourLow: 0.1845, spotUsdPerHourHigh: 0.201, source: SKY_V7_AWS },
  { cloud: Cloud.AWS, instanceType: 'g5.xlarge', gpu: 'A10G', gpuCount: 1, region: 'us-east-1', onDemandUsdPerHour: 1.006, spotUsdPerHourLow: 0.397, spotUsdPerHourHigh: 0.418, source: SKY_V7_AWS },
  { cloud: Cloud.AWS, instanceType: 'g6.xlarge', gpu: 'L4', gpuCount: 1, region: 'us-east-1', onDemandUsdPerHour: 0.8048, spotUsdPerHourLow: 0.388, spotUsdPerHourHigh: 0.417, source: SKY_V7_AWS },
  { cloud: Cloud.AWS, instanceType: 'g6e.2xlarge', gpu: 'L40S', gpuCount: 1, region: 'us-east-1', onDemandUsdPerHour: 2.24208, spotUsdPerHourLow: 0.738, spotUsdPerHourHigh: 0.879, source: SKY_V7_AWS },
  { cloud: Cloud.AWS, instanceType: 'g5.12xlarge', gpu: 'A10G', gpuCount: 4, region: 'us-east-1', onDemandUsdPerHour: 5.672, spotUsdPerHourLow: 1.99, spotUsdPerHourHigh: 2.73, source: SKY_V7_AWS },
  { cloud: Cloud.AWS, instanceType: 'p3.2xlarge', gpu: 'V100', gpuCount: 1, region: 'us-east-1', onDemandUsdPerHour: 3.06, spotUsdPerHourLow: 0.9731, spotUsdPerHourHigh: 0.9731, source: "Can't Be Late (NSDI '24) simulator constants" },
  { cloud: Cloud.GCP, instanceType: 'nvidia-l4', gpu: 'L4', gpuCount: 1, region: 'us-central1', onDemandUsdPerHour: 0.56004, spotUsdPerHourLow: 0.2231, spotUsdPerHourHigh: 0.2231, source: SKY_V7_GCP, note: 'accelerator price alone (nvidia-l4 on g2-standard-*); add the host VM price' },
  { cloud: Cloud.GCP, instanceType: 'a2-highgpu-1g', gpu: 'A100', gpuCount: 1, region: 'us-central1', onDemandUsdPerHour: 0.73948, spotUsdPerHourLow: 0.29576, spotUsdPerHourHigh: 0.29576, source: SKY_V7_GCP, note: 'host VM price only; the A100 is billed separately' },
  { cloud: Cloud.AZURE, instanceType: 'Standard_NC4as_T4_v3', gpu: 'T4', gpuCount: 1, region: 'eastus', onDemandUsdPerHour: 0.526, spotUsdPerHourLow: 0.0627, spotUsdPerHourHigh: 0.0627, source: SKY_V6_AZURE, note: STALE },
  { cloud: Cloud.AZURE, instanceType: 'Standard_NC24ads_A100_v4', gpu: 'A100', gpuCount: 1, region: 'eastus', onDemandUsdPerHour: 3.673, spotUsdPerHourLow: 0.444, spotUsdPerHourHigh: 0.444, source: SKY_V6_AZURE, note: STALE },
  { cloud: Cloud.AZURE, instanceType: 'Standard_NV36ads_A10_v5', gpu: 'A10', gpuCount: 1, region: 'eastus', onDemandUsdPerHour: 3.2, spotUsdPerHourLow: 0.8, spotUsdPerHourHigh: 0.8, source: SKY_V6_AZURE, note: STALE },
];

/** Typical spot price of an entry: the middle of the observed range. */
export function typicalSpotUsdPerHour(price: InstancePrice): number {
  return (price.spotUsdPerHourLow + price.spotUsdPerHourHigh) / 2;
}

/** Every catalogue entry of one cloud (and region, when given). */
export function listPrices(cloud?: Cloud, region?: string): InstancePrice[] {
  return PRICE_CATALOG.filter((p) => (cloud === undefined || p.cloud === cloud) && (region === undefined || p.region === region));
}

/**
 * Find the price of one type. Matches the type case-insensitively; without a region, or when the region
 * has no entry, falls back to the type's entry in any region (the catalogue holds one region per type).
 *
 * @throws FleetSpecError (INSTANCE_SELECTION) naming the type and the types the catalogue knows.
 */
export function findPrice(cloud: Cloud, instanceType: string, region?: string): InstancePrice {
  const t = instanceType.toLowerCase();
  const same = PRICE_CATALOG.filter((p) => p.cloud === cloud && p.instanceType.toLowerCase() === t);
  const hit = same.find((p) => region === undefined || p.region === region) ?? same[0];
  if (!hit) {
    const v = new ProblemCollector();
    const known = listPrices(cloud).map((p) => p.instanceType).join(', ');
    v.add(
      FleetSpecErrorCode.INSTANCE_SELECTION,
      'instanceType',
      `instanceType "${instanceType}" is not in the ${cloud} price catalogue (known: ${known}); pick one of those or pass its prices explicitly (onDemandUsdPerHour, spotUsdPerHour)`,
    );
    v.throwIfAny('price catalogue');
  }
  return hit!;
}
