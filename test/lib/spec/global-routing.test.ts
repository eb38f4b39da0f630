import { FallbackPolicyOptions } from '../../../lib/policy/fallback-policy';
import { CLOUD_LIMITS, Cloud } from '../../../lib/spec/clouds';
import { FleetSpecErrorCode } from '../../../lib/spec/errors';
import { GLOBAL_LAYER_DEFAULTS, defaultGlobalFailoverSeconds, globalFailoverTimes, policyWithHomeRegion, regionFleetSpec, validateGlobalRouting, validateRegionList } from '../../../lib/spec/global-routing';

const aws = {
  cloud: Cloud.AWS,
  globalLayerName: 'Global Accelerator',
  regionalIntervalSeconds: 10,
  regionalUnhealthyThreshold: 2,
  globalIntervalSeconds: 10,
  globalUnhealthyThreshold: 1,
  drainBudgetSeconds: 45,
};

describe('globalFailoverTimes', () => {
  test('regional detection + global detection, then the drain, against the notice', () => {
    expect(globalFailoverTimes(aws)).toEqual({
      regionalDetectionSeconds: 20,
      globalDetectionSeconds: 10,
      failoverSeconds: 30,
      lastRequestEndsSeconds: 75,
      noticeSeconds: 120,
      slackSeconds: 45,
    });
  });

  test('a global layer that routes on the regional health check adds nothing (Google Cloud)', () => {
    const f = globalFailoverTimes({ ...aws, cloud: Cloud.GCP, globalIntervalSeconds: 0, drainBudgetSeconds: 10 });
    expect(f.failoverSeconds).toBe(20);
    expect(f.noticeSeconds).toBe(30);
    expect(f.slackSeconds).toBe(0);
  });

  test('an explicit notice replaces the cloud default', () => {
    expect(globalFailoverTimes({ ...aws, noticeSeconds: 60 }).slackSeconds).toBe(-15);
  });
});

describe('validateGlobalRouting', () => {
  test('settings that fit pass, including exactly at the notice', () => {
    expect(validateGlobalRouting(aws)).toEqual([]);
    expect(validateGlobalRouting({ ...aws, drainBudgetSeconds: 90 })).toEqual([]);
  });

  test('refuses settings that do not fit, with every number and the fix', () => {
    const problems = validateGlobalRouting({ ...aws, regionalIntervalSeconds: 30, regionalUnhealthyThreshold: 3, globalIntervalSeconds: 30 });
    expect(problems).toHaveLength(1);
    expect(problems[0].code).toBe(FleetSpecErrorCode.DRAIN_BUDGET_EXCEEDED);
    expect(problems[0].prop).toBe('healthCheck.intervalSeconds');
    expect(problems[0].message).toBe(
      'global failover does not fit the notice: healthCheck.intervalSeconds (30 s) x healthCheck.unhealthyThreshold (3) = 90 s at the regional load balancer'
      + ' + globalHealthCheckIntervalSeconds (30 s) x globalHealthCheckThreshold (1) = 30 s at Global Accelerator = 120 s before Global Accelerator stops sending requests to a region whose replicas got the notice,'
      + ' + drainBudgetSeconds (45 s) for the last of them = 165 s, longer than the 120 s AWS spot notice (45 s over): requests routed into the region would be cut when its replicas go;'
      + ' lower the health check interval or thresholds, or drainBudgetSeconds, until the sum is at most 120 s',
    );
  });

  test('uses the prop names the construct passes', () => {
    const [p] = validateGlobalRouting({
      ...aws,
      cloud: Cloud.AZURE,
      globalLayerName: 'Front Door',
      drainBudgetSeconds: 10,
      props: { globalInterval: 'frontDoor.probeIntervalSeconds', globalThreshold: 'frontDoor.failedSamples', drainBudget: 'regions[eastus2].drainBudgetSeconds' },
    });
    expect(p.message).toMatch(/frontDoor\.probeIntervalSeconds \(10 s\) x frontDoor\.failedSamples \(1\) = 10 s at Front Door/);
    expect(p.message).toMatch(/regions\[eastus2\]\.drainBudgetSeconds \(10 s\) for the last of them = 40 s, longer than the 30 s Azure spot notice \(10 s over\)/);
  });

  test('a routing layer on the regional health check is named as such', () => {
    const [p] = validateGlobalRouting({ ...aws, cloud: Cloud.GCP, globalLayerName: 'the global backend service', globalIntervalSeconds: 0, drainBudgetSeconds: 15 });
    expect(p.message).toMatch(/\+ 0 s at the global backend service \(it routes on the regional health check\) = 20 s/);
  });

  test('values unknown at synth are not validated', () => {
    const token = 1e-9;
    expect(validateGlobalRouting({ ...aws, regionalIntervalSeconds: 300, drainBudgetSeconds: token }, { isUnresolved: (v) => v === token })).toEqual([]);
  });
});

describe('validateRegionList', () => {
  test('a valid list passes', () => {
    expect(validateRegionList([{ region: 'us-east-1' }, { region: 'us-west-2', trafficDialPercentage: 0 }], { homeRegion: 'us-east-1', allowedRegions: ['us-east-1', 'us-west-2'], regionPattern: /^[a-z]{2}(-[a-z]+)+-\d$/ })).toEqual([]);
  });

  test('an empty list', () => {
    expect(validateRegionList([])[0].message).toMatch(/regions is empty; list at least one region/);
  });

  test('every problem of one list together', () => {
    const problems = validateRegionList(
      [{ region: 'us-east-1' }, { region: 'us-east-1', trafficDialPercentage: 120 }, { region: 'US East', trafficDialPercentage: 0 }, { region: 'eu-west-1' }],
      { homeRegion: 'ap-south-1', allowedRegions: ['us-east-1', 'us-east-2'], regionPattern: /^[a-z]{2}(-[a-z]+)+-\d$/ },
    ).map((p) => p.message);
    expect(problems).toEqual([
      expect.stringMatching(/regions lists us-east-1 more than once; list each region once/),
      'regions has "US East", which is not a region name; write it like "us-east-1"',
      expect.stringMatching(/regions has US East, eu-west-1, outside allowedRegions \(us-east-1, us-east-2\); remove them or add them to allowedRegions/),
      'homeRegion ("ap-south-1") is not one of regions (us-east-1, us-east-1, US East, eu-west-1); name one of them or add it to regions',
      expect.stringMatching(/trafficDialPercentage of us-east-1 \(120\) must be from 0 to 100/),
    ]);
  });

  test('every dial at 0 leaves no region taking traffic', () => {
    const [p] = validateRegionList([{ region: 'us-east-1', trafficDialPercentage: 0 }, { region: 'us-west-2', trafficDialPercentage: 0 }]);
    expect(p.code).toBe(FleetSpecErrorCode.PERCENTAGE_RANGE);
    expect(p.message).toMatch(/every region has trafficDialPercentage 0/);
  });
});

describe('GLOBAL_LAYER_DEFAULTS', () => {
  test('the defaults of each cloud fit its notice with the default drain budget', () => {
    expect(defaultGlobalFailoverSeconds(Cloud.AWS)).toBe(30);
    expect(defaultGlobalFailoverSeconds(Cloud.GCP)).toBe(20);
    expect(defaultGlobalFailoverSeconds(Cloud.AZURE)).toBe(20);
    for (const cloud of [Cloud.AWS, Cloud.GCP, Cloud.AZURE]) {
      const d = GLOBAL_LAYER_DEFAULTS[cloud];
      expect(validateGlobalRouting({ cloud, globalLayerName: d.name, ...d, drainBudgetSeconds: CLOUD_LIMITS[cloud].defaultDrainBudgetSeconds })).toEqual([]);
    }
  });
});

describe('regionFleetSpec: a region of a multi-region fleet', () => {
  const fleet = { instanceTypes: ['g6.xlarge', 'g5.xlarge'], minCapacity: 1, maxCapacity: 6, desiredCapacity: 2, onDemandBaseCapacity: 1 };
  test("takes the region's own values where it sets them, the fleet's elsewhere", () => {
    expect(regionFleetSpec(fleet, {})).toEqual(fleet);
    expect(regionFleetSpec(fleet, { instanceTypes: ['g4dn.xlarge'], maxCapacity: 3, onDemandBaseCapacity: 0 })).toEqual({
      instanceTypes: ['g4dn.xlarge'],
      minCapacity: 1,
      maxCapacity: 3,
      desiredCapacity: 2,
      onDemandBaseCapacity: 0,
    });
  });
});

describe('the home region in the controller\'s policy', () => {
  test('policyWithHomeRegion adds the service\'s home region, keeps the policy\'s own, and changes nothing without one', () => {
    expect(policyWithHomeRegion(undefined, 'us-west-2')).toEqual({ homeRegion: 'us-west-2' });
    const spares: FallbackPolicyOptions = { spareSpotReplicas: 2 };
    expect(policyWithHomeRegion(spares, 'us-west-2')).toEqual({ spareSpotReplicas: 2, homeRegion: 'us-west-2' });
    expect(policyWithHomeRegion({ homeRegion: 'us-east-1' }, 'us-west-2')).toEqual({ homeRegion: 'us-east-1' });
    const policy: FallbackPolicyOptions = { spareSpotReplicas: 0 };
    expect(policyWithHomeRegion(policy, undefined)).toBe(policy);
    expect(policyWithHomeRegion(undefined, undefined)).toBeUndefined();
  });

  test('validateRegionList refuses a policy home region that differs from homeRegion or is none of the regions', () => {
    const regions = [{ region: 'us-east-1' }, { region: 'us-west-2' }];
    expect(validateRegionList(regions, { homeRegion: 'us-west-2', policyHomeRegion: 'us-west-2' })).toEqual([]);
    expect(validateRegionList(regions, { policyHomeRegion: 'us-east-1' })).toEqual([]);
    expect(validateRegionList(regions, { homeRegion: 'us-west-2', policyHomeRegion: 'us-east-1' })).toEqual([
      expect.objectContaining({ code: FleetSpecErrorCode.REGION_LIST, prop: 'onDemandFallbackOptions.policy.homeRegion', message: expect.stringContaining('("us-east-1") differs from homeRegion ("us-west-2")') }),
    ]);
    expect(validateRegionList(regions, { policyHomeRegion: 'eu-west-1' })).toEqual([
      expect.objectContaining({ prop: 'onDemandFallbackOptions.policy.homeRegion', message: expect.stringContaining('("eu-west-1") is not one of regions (us-east-1, us-west-2), so no pool would ever be preferred') }),
    ]);
    // A region unknown until deploy is not compared.
    expect(validateRegionList(regions, { policyHomeRegion: '${TfToken[TOKEN.1]}', isUnresolved: (x) => typeof x === 'string' && x.startsWith('${') })).toEqual([]);
  });
});
