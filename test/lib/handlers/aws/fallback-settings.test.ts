import { FALLBACK_ENV, fallbackSettingsFromEnv, renderFallbackEnvironment, FallbackSettings } from '../../../../lib/handlers/aws/fallback-settings';

const S: FallbackSettings = {
  spotGroupName: 'g',
  fallbackGroupName: 'g-od-fallback',
  stateParameterName: '/p',
  onDemandBase: 1,
  maxCapacity: 8,
  instanceTypes: ['g5.xlarge', 'g6.xlarge'],
  lookbackSeconds: 600,
  policy: { scaleInStabilizationSeconds: 120, spareSpotReplicas: 0 },
};

describe('fallback settings', () => {
  test('render and read back', () => {
    const env = renderFallbackEnvironment(S);
    expect(env).toMatchObject({ SPOT_ASG_NAME: 'g', FALLBACK_ASG_NAME: 'g-od-fallback', FALLBACK_INSTANCE_TYPES: 'g5.xlarge,g6.xlarge' });
    expect(fallbackSettingsFromEnv(env)).toEqual(S);
  });

  test('render and read back with a spare group, its subnets, several regions and type steering', () => {
    const full: FallbackSettings = {
      ...S,
      spareGroupName: 'g-spare',
      subnetsByZone: { 'us-east-1a': 'subnet-a', 'us-east-1b': 'subnet-b' },
      regions: [{ region: 'us-west-2', spotGroupName: 'w', fallbackGroupName: 'w-od', spareGroupName: 'w-spare', subnetsByZone: { 'us-west-2a': 'subnet-wa' }, onDemandBase: 0, maxCapacity: 4, instanceTypes: ['g5.xlarge'] }],
      steerInstanceTypes: true,
    };
    const env = renderFallbackEnvironment(full);
    expect(JSON.parse(env[FALLBACK_ENV.SUBNETS])).toEqual([{ zone: 'us-east-1a', subnetId: 'subnet-a' }, { zone: 'us-east-1b', subnetId: 'subnet-b' }]);
    expect(env[FALLBACK_ENV.STEER_TYPES]).toBe('true');
    expect(fallbackSettingsFromEnv(env)).toEqual(full);
  });

  test('defaults: no policy options, 600 s lookback, no types', () => {
    const env = renderFallbackEnvironment(S);
    delete env[FALLBACK_ENV.POLICY_OPTIONS];
    delete env[FALLBACK_ENV.LOOKBACK_SECONDS];
    env[FALLBACK_ENV.INSTANCE_TYPES] = '';
    expect(fallbackSettingsFromEnv(env)).toMatchObject({ policy: {}, lookbackSeconds: 600, instanceTypes: [] });
  });

  test.each([
    [FALLBACK_ENV.SPOT_GROUP_NAME, undefined, /SPOT_ASG_NAME is not set: the fallback controller needs the name of the spot Auto Scaling group/],
    [FALLBACK_ENV.FALLBACK_GROUP_NAME, undefined, /FALLBACK_ASG_NAME is not set/],
    [FALLBACK_ENV.STATE_PARAMETER_NAME, undefined, /FALLBACK_STATE_PARAMETER is not set/],
    [FALLBACK_ENV.ON_DEMAND_BASE, '-1', /FALLBACK_ON_DEMAND_BASE \(-1\) must be a whole number, 0 or more/],
    [FALLBACK_ENV.MAX_CAPACITY, '2.5', /FALLBACK_MAX_CAPACITY \(2.5\) must be a whole number/],
    [FALLBACK_ENV.POLICY_OPTIONS, '{', /FALLBACK_POLICY_OPTIONS is not valid JSON/],
    [FALLBACK_ENV.LOOKBACK_SECONDS, '-5', /FALLBACK_LOOKBACK_SECONDS \(-5\) must be a number of seconds above 0/],
  ])('%s = %s fails at cold start', (name, value, message) => {
    const env: Record<string, string | undefined> = { ...renderFallbackEnvironment(S), [name]: value };
    expect(() => fallbackSettingsFromEnv(env)).toThrow(message);
  });
});
