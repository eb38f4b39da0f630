import { findPrice, listPrices, PRICE_CATALOG, typicalSpotUsdPerHour } from '../../../lib/catalog';
import { Cloud, FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';

describe('price catalogue', () => {
  test('covers GPU inference types on all three clouds, each with a source', () => {
    for (const cloud of Object.values(Cloud)) expect(listPrices(cloud).length).toBeGreaterThanOrEqual(2);
    for (const p of PRICE_CATALOG) {
      expect(p.source).toMatch(/\S/);
      expect(p.spotUsdPerHourLow).toBeLessThanOrEqual(p.spotUsdPerHourHigh);
      expect(p.spotUsdPerHourHigh).toBeLessThan(p.onDemandUsdPerHour);
    }
  });

  test('finds a type case-insensitively, in its region or any', () => {
    expect(findPrice(Cloud.AWS, 'G5.XLARGE')).toMatchObject({ instanceType: 'g5.xlarge', onDemandUsdPerHour: 1.006, gpu: 'A10G' });
    expect(findPrice(Cloud.AWS, 'g5.xlarge', 'eu-west-1').region).toBe('us-east-1');
    expect(findPrice(Cloud.AZURE, 'Standard_NC4as_T4_v3').note).toMatch(/stale/);
    expect(listPrices(Cloud.GCP, 'us-central1').map((p) => p.instanceType)).toEqual(['nvidia-l4', 'a2-highgpu-1g']);
  });

  test('the typical spot price is the middle of the observed range', () => {
    expect(typicalSpotUsdPerHour(findPrice(Cloud.AWS, 'g4dn.xlarge'))).toBeCloseTo((0.1845 + 0.201) / 2, 6);
  });

  test('an unknown type fails naming the type and the known ones', () => {
    expect(() => findPrice(Cloud.AWS, 'p5.48xlarge')).toThrow(FleetSpecError);
    expect(() => findPrice(Cloud.AWS, 'p5.48xlarge')).toThrow(/instanceType "p5.48xlarge" is not in the aws price catalogue \(known: g4dn.xlarge, g5.xlarge, .*\); pick one of those/);
    try {
      findPrice(Cloud.GCP, 'g5.xlarge');
    } catch (e) {
      expect((e as FleetSpecError).code).toBe(FleetSpecErrorCode.INSTANCE_SELECTION);
    }
  });
});
