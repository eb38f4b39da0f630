import { planSpotPlacement } from '../../../lib/policy';

describe('planSpotPlacement', () => {
  test('new replicas spread one per pool, best-ranked pools first', () => {
    expect(planSpotPlacement([], 3, ['a', 'b', 'c', 'd'])).toEqual([
      { pool: 'a', delta: 1 },
      { pool: 'b', delta: 1 },
      { pool: 'c', delta: 1 },
    ]);
  });

  test('pools left out of the preferred list (being avoided) get nothing new but keep what they run', () => {
    expect(planSpotPlacement([{ pool: 'x', count: 1 }], 3, ['b', 'c'])).toEqual([
      { pool: 'b', delta: 1 },
      { pool: 'c', delta: 1 },
    ]);
  });

  test('with fewer preferred pools than replicas, replicas share the emptiest pools', () => {
    expect(planSpotPlacement([{ pool: 'a', count: 1 }], 4, ['a', 'b'])).toEqual([
      { pool: 'b', delta: 2 },
      { pool: 'a', delta: 1 },
    ]);
  });

  test('no preferred pool at all: nothing is added (retry next period)', () => {
    expect(planSpotPlacement([{ pool: 'a', count: 0 }], 3, [])).toEqual([]);
  });

  test('scaling in removes launching replicas first, from the least preferred pool', () => {
    const current = [
      { pool: 'a', count: 1 },
      { pool: 'b', count: 2, launching: 1 },
      { pool: 'c', count: 1, launching: 1 },
    ];
    expect(planSpotPlacement(current, 3, ['a', 'b', 'c'])).toEqual([{ pool: 'c', delta: -1 }]);
    expect(planSpotPlacement(current, 2, ['a', 'b', 'c'])).toEqual([
      { pool: 'c', delta: -1 },
      { pool: 'b', delta: -1 },
    ]);
  });

  test('then ready replicas from the most crowded pool', () => {
    expect(planSpotPlacement([{ pool: 'a', count: 1 }, { pool: 'b', count: 3 }], 2, ['a', 'b'])).toEqual([{ pool: 'b', delta: -2 }]);
  });

  test('nothing to do when the count is right', () => {
    expect(planSpotPlacement([{ pool: 'a', count: 2 }], 2, ['b'])).toEqual([]);
  });
});

describe('planSpotPlacement across regions', () => {
  test('scaling in never takes the last ready replica of a region while another can go', () => {
    const current = [
      { pool: 'us-east-1/us-east-1a/g5', count: 1 },
      { pool: 'us-west-2/us-west-2a/g5', count: 1 },
      { pool: 'us-west-2/us-west-2b/g5', count: 1 },
    ];
    // us-east-1 is ranked worst, but it is the region's only replica: one of us-west-2 goes
    expect(planSpotPlacement(current, 2, ['us-west-2/us-west-2a/g5', 'us-west-2/us-west-2b/g5', 'us-east-1/us-east-1a/g5'])).toEqual([{ pool: 'us-west-2/us-west-2b/g5', delta: -1 }]);
    // down to one replica: a region's last one has to go after all
    expect(planSpotPlacement(current, 1, ['us-west-2/us-west-2a/g5', 'us-west-2/us-west-2b/g5', 'us-east-1/us-east-1a/g5'])).toEqual([
      { pool: 'us-west-2/us-west-2b/g5', delta: -1 },
      { pool: 'us-east-1/us-east-1a/g5', delta: -1 },
    ]);
  });
});
