import { splitEvenly, splitFallback, splitOnDemandSpot, splitOverGroups, withoutOnDemandBase } from '../../../lib/policy';
import { splitEvenly as azureSplitEvenly } from '../../../constructs/azure/rules';
import { splitFallback as handlerSplitFallback } from '../../../lib/handlers/azure/fallback';

/** A stand-in for a deploy-time number (cdktf encodes number tokens as huge negative doubles). */
const TOKEN = -1.8881545897087626e289;
const isUnresolved = (v: unknown): boolean => v === TOKEN;
const fleet = (c: Partial<Parameters<typeof splitOnDemandSpot>[0]> = {}) => ({
  minCapacity: 2,
  maxCapacity: 10,
  desiredCapacity: 4,
  onDemandBaseCapacity: 1,
  onDemandPercentageAboveBaseCapacity: 0,
  ...c,
});

describe('splitOnDemandSpot', () => {
  test('the on-demand base runs on-demand, the rest on spot', () => {
    expect(splitOnDemandSpot(fleet())).toEqual({ onDemandCount: 1, spotMin: 1, spotMax: 9, spotDesired: 3 });
  });

  test('the share above the base is a percentage of the desired capacity above the base, rounded up', () => {
    // 1 + ceil(25 % of (4 - 1)) = 1 + 1
    expect(splitOnDemandSpot(fleet({ onDemandPercentageAboveBaseCapacity: 25 }))).toEqual({ onDemandCount: 2, spotMin: 0, spotMax: 8, spotDesired: 2 });
    expect(splitOnDemandSpot(fleet({ onDemandPercentageAboveBaseCapacity: 100 })).onDemandCount).toBe(4);
  });

  test('the on-demand count never exceeds the maximum, and spot bounds never go below 0', () => {
    expect(splitOnDemandSpot(fleet({ onDemandBaseCapacity: 12, maxCapacity: 10 }))).toEqual({ onDemandCount: 10, spotMin: 0, spotMax: 0, spotDesired: 0 });
  });

  test('a deploy-time capacity never enters arithmetic: spotOf renders its spot part, or it passes through', () => {
    const spotOf = jest.fn((x: number, od: number) => (x === TOKEN ? 1000 + od : NaN));
    const s = splitOnDemandSpot(fleet({ maxCapacity: TOKEN, desiredCapacity: TOKEN }), { isUnresolved, spotOf });
    expect(s).toEqual({ onDemandCount: 1, spotMin: 1, spotMax: 1001, spotDesired: 1001 });
    expect(spotOf).toHaveBeenCalledWith(TOKEN, 1);
    expect(splitOnDemandSpot(fleet({ maxCapacity: TOKEN, onDemandBaseCapacity: 0 }), { isUnresolved }).spotMax).toBe(TOKEN);
  });

  test('a deploy-time base or percentage counts as 0 (the fleet refuses it at synth)', () => {
    expect(splitOnDemandSpot(fleet({ onDemandBaseCapacity: TOKEN }), { isUnresolved }).onDemandCount).toBe(0);
    expect(splitOnDemandSpot(fleet({ onDemandPercentageAboveBaseCapacity: TOKEN }), { isUnresolved }).onDemandCount).toBe(1);
    // A deploy-time desired capacity leaves the share above the base out.
    expect(splitOnDemandSpot(fleet({ onDemandPercentageAboveBaseCapacity: 50, desiredCapacity: TOKEN }), { isUnresolved }).onDemandCount).toBe(1);
  });
});

describe('splitEvenly', () => {
  test('the first parts get the remainder and the total is kept', () => {
    expect(splitEvenly(7, 3)).toEqual([3, 2, 2]);
    expect(splitEvenly(1, 3)).toEqual([1, 0, 0]);
    expect(splitEvenly(0, 2)).toEqual([0, 0]);
  });

  test('one part takes the total as it is, a deploy-time value included', () => {
    expect(splitEvenly(TOKEN, 1)).toEqual([TOKEN]);
  });

  test('is still exported where it was (constructs/azure/rules)', () => {
    expect(azureSplitEvenly).toBe(splitEvenly);
  });
});

describe('splitFallback', () => {
  test('spreads over the groups within their room', () => {
    expect(splitFallback(5, [2, 4, 4])).toEqual([2, 2, 1]);
    expect(splitFallback(10, [1, 1])).toEqual([1, 1]);
    expect(splitFallback(0, [3])).toEqual([0]);
  });

  test('is still exported where it was (the Azure fallback handler)', () => {
    expect(handlerSplitFallback).toBe(splitFallback);
  });
});

describe('splitOverGroups', () => {
  test('every capacity and the base split evenly, the percentage the same in every group', () => {
    expect(splitOverGroups(fleet({ onDemandPercentageAboveBaseCapacity: 20, onDemandBaseCapacity: 3 }), 2)).toEqual([
      { minCapacity: 1, maxCapacity: 5, desiredCapacity: 2, onDemandBaseCapacity: 2, onDemandPercentageAboveBaseCapacity: 20 },
      { minCapacity: 1, maxCapacity: 5, desiredCapacity: 2, onDemandBaseCapacity: 1, onDemandPercentageAboveBaseCapacity: 20 },
    ]);
  });

  test('one group (or none asked) takes the capacities untouched', () => {
    const c = fleet({ maxCapacity: TOKEN });
    expect(splitOverGroups(c, 1)).toEqual([c]);
    expect(splitOverGroups(c, 0)).toEqual([c]);
  });
});

test('withoutOnDemandBase leaves every capacity less the base and no base', () => {
  expect(withoutOnDemandBase(fleet({ onDemandBaseCapacity: 3 }))).toEqual(fleet({ minCapacity: 0, maxCapacity: 7, desiredCapacity: 1, onDemandBaseCapacity: 0 }));
});
