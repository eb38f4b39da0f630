/**
 * Pool names of the planner: a trace file `<zone>_<type>.json` is the spot pool `<region>/<zone>/<type>`
 * (DESIGN.md "Regions"), its region read from the zone name the way each cloud spells it.
 */

/** Where one pool lives. */
export interface PoolLocation {
  /** `<region>/<zone>/<type>`, the id the policy and the controllers use. */
  readonly id: string;
  /** Region, e.g. `us-east-1`, `us-central1`, `eastus`; `unknown` when the zone name shows none. */
  readonly region: string;
  /** Zone, e.g. `us-east-1a`, `us-central1-a`, `eastus-1`. */
  readonly zone: string;
  /** Instance type as the trace names it (`v100_1`), empty when the name has none. */
  readonly instanceType: string;
}

/** The region of pools whose zone names carry none (synthetic traces). */
export const UNKNOWN_REGION = 'unknown';

const AWS_ZONE = /^([a-z]{2}(?:-gov)?-[a-z]+-\d+)[a-z]$/; // us-east-1a -> us-east-1
const AWS_LOCAL_ZONE = /^([a-z]{2}-[a-z]+-\d+)-[a-z]+-\d+[a-z]$/; // us-west-2-lax-1a -> us-west-2
const GCP_ZONE = /^([a-z]+-[a-z]+\d+)-[a-z]$/; // us-central1-a -> us-central1
const AZURE_ZONE = /^([a-z]+\d*)-([1-3])$/; // eastus-1 -> eastus (Azure zones are 1, 2, 3 of a region)

/** The region of a zone name on AWS, Google Cloud or Azure (`<region>-<1|2|3>`); undefined when it is none of them. */
export function regionOfZone(zone: string): string | undefined {
  return AWS_ZONE.exec(zone)?.[1] ?? AWS_LOCAL_ZONE.exec(zone)?.[1] ?? GCP_ZONE.exec(zone)?.[1] ?? AZURE_ZONE.exec(zone)?.[1];
}

/**
 * Where a trace's pool lives: the file name up to the first `_` is the zone, the rest the type
 * (`us-east-1a_v100_1` -> `us-east-1/us-east-1a/v100_1`; Azure's `eastus-1_nc6` -> `eastus/1/nc6`, Azure naming a
 * zone by its number in the region). A name already in `<region>/<zone>/<type>` form
 * is taken as it is.
 */
export function locatePool(name: string): PoolLocation {
  const parts = name.split('/');
  if (parts.length === 3 && parts.every((p) => p.length > 0)) {
    return { id: name, region: parts[0], zone: parts[1], instanceType: parts[2] };
  }
  const cut = name.indexOf('_');
  let zone = cut > 0 ? name.slice(0, cut) : name;
  const instanceType = cut > 0 ? name.slice(cut + 1) : '';
  const region = regionOfZone(zone) ?? UNKNOWN_REGION;
  // Azure names a zone by its number inside the region (`zones: ["1"]`), as its controller's pool ids do.
  const azure = AWS_ZONE.test(zone) || GCP_ZONE.test(zone) ? undefined : AZURE_ZONE.exec(zone);
  if (azure) zone = azure[2];
  return { id: `${region}/${zone}/${instanceType}`, region, zone, instanceType };
}

/** The regions of some pools, in first-seen order. */
export function regionsOf(names: readonly string[]): string[] {
  return [...new Set(names.map((n) => locatePool(n).region))];
}
