/**
 * Where new spot replicas go and which ones go first when there are too many: the placement half of the
 * fallback policy, for controllers that place replicas per pool (per-zone groups, launch overrides) and
 * for the simulator. Pure, no I/O.
 */

/** Spot replicas one pool runs now. */
export interface PoolCount {
  /** Pool id. */
  readonly pool: string;
  /** Spot replicas running or launching in the pool. */
  readonly count: number;
  /** Of those, replicas not ready yet (removed first when scaling in). @default 0 */
  readonly launching?: number;
}

/** A change of one pool's spot replicas. */
export interface PlacementChange {
  /** Pool id. */
  readonly pool: string;
  /** Replicas to add (positive) or remove (negative). */
  readonly delta: number;
}

/**
 * Spread spot replicas over the preferred pools: each new replica goes to the preferred pool that runs
 * the fewest (ties: the better-ranked pool), so a fleet of N replicas uses N pools when it can and one
 * pool running dry takes as few replicas as possible. Pools being avoided get nothing new; replicas they
 * still run are kept. With no preferred pool at all, nothing is added (the controller retries next
 * period, when the avoidance has expired).
 *
 * Removals take launching replicas first, from the least preferred pools (avoided pools first), then
 * ready ones from the most crowded pools, never the last ready replica of a region (pool ids
 * `<region>/<zone>/<type>`) while a replica elsewhere can go instead: a region with live traffic keeps one.
 */
export function planSpotPlacement(current: readonly PoolCount[], desired: number, preferredPools: readonly string[]): PlacementChange[] {
  let have = 0;
  for (const c of current) have += Math.max(0, c.count);
  if (have === desired || (have < desired && preferredPools.length === 0)) return [];
  const counts = new Map<string, number>(current.map((c) => [c.pool, Math.max(0, c.count)]));
  const launching = new Map<string, number>(current.map((c) => [c.pool, Math.min(Math.max(0, c.launching ?? 0), Math.max(0, c.count))]));
  for (const p of preferredPools) if (!counts.has(p)) counts.set(p, 0);
  const rank = new Map(preferredPools.map((p, i) => [p, i]));
  const rankOf = (p: string): number => rank.get(p) ?? Number.MAX_SAFE_INTEGER;
  const delta = new Map<string, number>();
  const bump = (p: string, d: number): void => {
    delta.set(p, (delta.get(p) ?? 0) + d);
    counts.set(p, counts.get(p)! + d);
  };
  let total = [...counts.values()].reduce((a, b) => a + b, 0);
  while (total < desired && preferredPools.length > 0) {
    let best = preferredPools[0];
    for (const p of preferredPools) if (counts.get(p)! < counts.get(best)!) best = p;
    bump(best, 1);
    total++;
  }
  while (total > desired) {
    // launching first, worst-ranked pool first
    let victim: string | undefined;
    for (const [p, n] of launching) {
      if (n > 0 && (victim === undefined || rankOf(p) > rankOf(victim))) victim = p;
    }
    if (victim !== undefined) {
      launching.set(victim, launching.get(victim)! - 1);
    } else {
      // Ready replicas: never the last one of a region that serves (pool ids <region>/<zone>/<type>) while
      // another region has more than one: the global layer still sends that region traffic.
      const lastOfRegion = (p: string): boolean => {
        const r = regionOf(p);
        if (r === undefined) return false;
        let inRegion = 0;
        for (const [q, n] of counts) if (regionOf(q) === r) inRegion += n;
        return inRegion <= 1;
      };
      for (const pass of [0, 1]) {
        for (const [p, n] of counts) {
          if (n <= 0 || (pass === 0 && lastOfRegion(p))) continue;
          if (victim === undefined || n > counts.get(victim)! || (n === counts.get(victim)! && rankOf(p) > rankOf(victim))) victim = p;
        }
        if (victim !== undefined) break;
      }
    }
    if (victim === undefined) break;
    bump(victim, -1);
    total--;
  }
  return [...delta.entries()].filter(([, d]) => d !== 0).map(([pool, d]) => ({ pool, delta: d }));
}

/** The region of a pool id `<region>/<zone>/<type>`; undefined for ids of another shape. */
function regionOf(pool: string): string | undefined {
  const parts = pool.split('/');
  return parts.length >= 3 ? parts[0] : undefined;
}
