import { estimateCost, renderCostAvailabilityChart, SimulatedPolicy } from '../../../lib/plan';
import { Cloud } from '../../../lib/spec';

describe('estimateCost', () => {
  test('prices the base on-demand and the rest at the typical spot price', () => {
    const e = estimateCost({ cloud: Cloud.AWS, instanceTypes: ['g5.xlarge'], replicas: 4, onDemandBase: 1 });
    expect(e).toMatchObject({ spotReplicas: 3, onDemandReplicas: 1 });
    expect(e.spotUsdPerReplicaHour).toBeCloseTo(0.4075, 6);
    expect(e.fleetUsdPerHour).toBeCloseTo(1.006 + 3 * 0.4075, 6);
    expect(e.allOnDemandUsdPerHour).toBeCloseTo(4 * 1.006, 6);
    expect(e.relativeCost).toBeCloseTo((1.006 + 3 * 0.4075) / (4 * 1.006), 6);
  });

  test('several types are averaged; a spot share below 100 % keeps the rest on-demand', () => {
    const e = estimateCost({ cloud: Cloud.AWS, instanceTypes: ['g5.xlarge', 'g6.xlarge'], replicas: 5, onDemandBase: 1, spotPercentageAboveBase: 50 });
    expect(e).toMatchObject({ spotReplicas: 2, onDemandReplicas: 3 });
    expect(e.onDemandUsdPerReplicaHour).toBeCloseTo((1.006 + 0.8048) / 2, 6);
    expect(e.prices.map((p) => p.instanceType)).toEqual(['g5.xlarge', 'g6.xlarge']);
  });

  test('bad input is reported together, naming each prop', () => {
    expect(() => estimateCost({ cloud: Cloud.AWS, instanceTypes: [], replicas: 0, onDemandBase: -1, spotPercentageAboveBase: 120 })).toThrow(
      /4 problems[\s\S]*replicas \(0\) must be a whole number, 1 or more[\s\S]*onDemandBase \(-1\)[\s\S]*spotPercentageAboveBase \(120\) must be between 0 and 100[\s\S]*instanceTypes is empty/,
    );
    expect(() => estimateCost({ cloud: Cloud.AWS, instanceTypes: ['g5.xlarge'], replicas: 2, onDemandBase: 3 })).toThrow(/onDemandBase \(3\) is above replicas \(2\); lower it to at most 2/);
    expect(() => estimateCost({ cloud: Cloud.AZURE, instanceTypes: ['g5.xlarge'], replicas: 2, onDemandBase: 0 })).toThrow(/not in the azure price catalogue/);
  });
});

describe('renderCostAvailabilityChart', () => {
  test('draws one labelled point per policy in a standalone SVG', () => {
    const svg = renderCostAvailabilityChart(
      [
        { policy: SimulatedPolicy.ON_DEMAND, relativeCost: 1, availability: 1, preemptions: 0, meanRecoverySeconds: 0, model: 'any' },
        { policy: SimulatedPolicy.OURS, relativeCost: 0.42, availability: 0.9933, preemptions: 13.9, meanRecoverySeconds: 148, model: 'idealised' },
      ],
      'AWS <p3>',
    );
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg.trim()).toMatch(/<\/svg>$/);
    // one point and one legend entry per policy
    expect(svg.match(/<circle /g)).toHaveLength(4);
    expect(svg.match(/<title>/g)).toHaveLength(2);
    expect(svg).toContain('ours: 0.420 / 0.9933');
    expect(svg).toContain('AWS &lt;p3&gt;');
    expect(svg).toContain('cost relative to all on-demand');
  });
});
