import { SyntheticFamily, syntheticTraces } from '../../../lib/plan/synthetic';
import { locatePool } from '../../../lib/plan/pools';
import { expectEqual } from '../../support/equal';

const upShare = (d: Int32Array): number => d.reduce((a, b) => a + b, 0) / d.length;

describe('synthetic trace families', () => {
  test('same seed, same traces; another seed, other traces; pools named <zone>_<type> in their regions', () => {
    const a = syntheticTraces({ family: SyntheticFamily.INDEPENDENT_ZONES, seed: 1 });
    const b = syntheticTraces({ family: SyntheticFamily.INDEPENDENT_ZONES, seed: 1 });
    const c = syntheticTraces({ family: SyntheticFamily.INDEPENDENT_ZONES, seed: 2 });
    expectEqual(a.map((t) => Array.from(t.data)), b.map((t) => Array.from(t.data)));
    expect(a.map((t) => Array.from(t.data))).not.toEqual(c.map((t) => Array.from(t.data)));
    expect(a.map((t) => t.name)).toEqual(['us-east-1a_gpu', 'us-east-1b_gpu', 'us-east-1c_gpu', 'us-east-2a_gpu', 'us-east-2b_gpu', 'us-east-2c_gpu', 'us-west-2a_gpu', 'us-west-2b_gpu', 'us-west-2c_gpu']);
    expect(new Set(a.map((t) => locatePool(t.name).region))).toEqual(new Set(['us-east-1', 'us-east-2', 'us-west-2']));
    expect(a.every((t) => t.data.length === 17280 && t.gapSeconds === 30)).toBe(true);
  });

  test('scarce has spot about a third of the time, plentiful nearly always', () => {
    const scarce = syntheticTraces({ family: SyntheticFamily.SCARCE, seed: 3, samples: 100_000 });
    const plentiful = syntheticTraces({ family: SyntheticFamily.PLENTIFUL, seed: 3, samples: 100_000 });
    for (const t of scarce) expect(upShare(t.data)).toBeGreaterThan(0.2);
    for (const t of scarce) expect(upShare(t.data)).toBeLessThan(0.5);
    for (const t of plentiful) expect(upShare(t.data)).toBeGreaterThan(0.98);
  });

  test('correlated zones fail together within a region; correlated regions across regions', () => {
    // fraction of samples where a region's three zones are all down at once
    const allDown = (traces: ReturnType<typeof syntheticTraces>, idx: number[]): number => {
      let n = 0;
      for (let i = 0; i < traces[0].data.length; i++) if (idx.every((z) => traces[z].data[i] === 0)) n++;
      return n / traces[0].data.length;
    };
    const independent = syntheticTraces({ family: SyntheticFamily.INDEPENDENT_ZONES, seed: 5, samples: 100_000 });
    const zones = syntheticTraces({ family: SyntheticFamily.CORRELATED_ZONES, seed: 5, samples: 100_000 });
    const regions = syntheticTraces({ family: SyntheticFamily.CORRELATED_REGIONS, seed: 5, samples: 100_000 });
    expect(allDown(zones, [0, 1, 2])).toBeGreaterThan(5 * allDown(independent, [0, 1, 2]) + 0.01);
    // one zone of each region down at once
    expect(allDown(regions, [0, 3, 6])).toBeGreaterThan(allDown(zones, [0, 3, 6]) + 0.005);
  });

  test('bad options are refused with the option, the value and the fix', () => {
    expect(() => syntheticTraces({ family: 'stormy' as SyntheticFamily, seed: 1 })).toThrow(/family \(stormy\) must be one of independent-zones, correlated-zones/);
    expect(() => syntheticTraces({ family: SyntheticFamily.SCARCE, seed: 1.5 })).toThrow(/seed \(1.5\) must be a whole number/);
    expect(() => syntheticTraces({ family: SyntheticFamily.SCARCE, seed: 1, regions: [] })).toThrow(/regions \(\[\]\) must name at least one region/);
    expect(() => syntheticTraces({ family: SyntheticFamily.SCARCE, seed: 1, zonesPerRegion: 0 })).toThrow(/zonesPerRegion \(0\) must be a whole number from 1 to 26/);
    expect(() => syntheticTraces({ family: SyntheticFamily.SCARCE, seed: 1, samples: 0 })).toThrow(/samples \(0\) must be a whole number, 1 or more/);
    expect(() => syntheticTraces({ family: SyntheticFamily.SCARCE, seed: 1, gapSeconds: 0 })).toThrow(/gapSeconds \(0\) must be above 0/);
  });
});
