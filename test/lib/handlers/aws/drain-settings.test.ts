import { DRAIN_ENV, DrainSettings, drainSettingsFromEnv, renderDrainEnvironment } from '../../../../lib/handlers/aws/drain-settings';
import { classifyEvent, healthEventInstanceIds, InterruptionEventKind } from '../../../../lib/handlers/aws/events';
import { isRetryable, isThrottling, withRetry } from '../../../../lib/handlers/aws/retry';

const settings: DrainSettings = {
  autoScalingGroupName: 'asg',
  targetGroupArns: ['arn:a', 'arn:b'],
  lifecycleHookName: 'hook',
  noticeSeconds: 120,
  drainBudgetSeconds: 60,
  safetyMarginSeconds: 10,
  heartbeatIntervalSeconds: 20,
  pollIntervalSeconds: 5,
  markUnhealthyOnWarning: true,
  markUnhealthyOnRebalance: false,
  markUnhealthyOnScheduledChange: true,
  serveThroughSeconds: 70,
};

describe('drain settings', () => {
  test('round-trip through the environment', () => {
    expect(drainSettingsFromEnv(renderDrainEnvironment(settings))).toEqual(settings);
  });

  test('defaults when only the group is set', () => {
    expect(drainSettingsFromEnv({ [DRAIN_ENV.AUTO_SCALING_GROUP_NAME]: 'asg' })).toEqual({
      autoScalingGroupName: 'asg',
      targetGroupArns: [],
      lifecycleHookName: undefined,
      noticeSeconds: 120,
      drainBudgetSeconds: 75,
      safetyMarginSeconds: 10,
      heartbeatIntervalSeconds: 20,
      pollIntervalSeconds: 5,
      markUnhealthyOnWarning: true,
      markUnhealthyOnRebalance: true,
      markUnhealthyOnScheduledChange: true,
      serveThroughSeconds: 0,
    });
  });

  test('serveThroughSeconds is rendered only when above 0, so groups that do not serve through keep their environment', () => {
    expect(renderDrainEnvironment(settings)[DRAIN_ENV.SERVE_THROUGH_SECONDS]).toBe('70');
    expect(DRAIN_ENV.SERVE_THROUGH_SECONDS in renderDrainEnvironment({ ...settings, serveThroughSeconds: 0 })).toBe(false);
    expect(DRAIN_ENV.SERVE_THROUGH_SECONDS in renderDrainEnvironment({ ...settings, serveThroughSeconds: undefined })).toBe(false);
    expect(drainSettingsFromEnv(renderDrainEnvironment({ ...settings, serveThroughSeconds: 0 })).serveThroughSeconds).toBe(0);
  });

  test('a serveThroughSeconds that is not whole, negative, or leaves no time before the notice ends fails at cold start', () => {
    const env = (v: string, extra: Record<string, string> = {}) => ({ [DRAIN_ENV.AUTO_SCALING_GROUP_NAME]: 'a', [DRAIN_ENV.SERVE_THROUGH_SECONDS]: v, ...extra });
    expect(() => drainSettingsFromEnv(env('soon'))).toThrow(/SPOT_SERVE_THROUGH_SECONDS \(soon\) must be a number of seconds, 0 or more/);
    expect(() => drainSettingsFromEnv(env('-1'))).toThrow(/SPOT_SERVE_THROUGH_SECONDS \(-1\) must be a number of seconds, 0 or more/);
    expect(() => drainSettingsFromEnv(env('70.5'))).toThrow(
      /SPOT_SERVE_THROUGH_SECONDS \(70\.5\) must be a whole number of seconds, 0 or more and below SPOT_NOTICE_SECONDS \(120\) - SPOT_SAFETY_MARGIN_SECONDS \(10\) = 110; set the InterruptionHandler's serveThroughNotice accordingly, or 0/,
    );
    expect(() => drainSettingsFromEnv(env('110'))).toThrow(/SPOT_SERVE_THROUGH_SECONDS \(110\) must be .* below SPOT_NOTICE_SECONDS \(120\) - SPOT_SAFETY_MARGIN_SECONDS \(10\) = 110/);
    expect(() => drainSettingsFromEnv(env('60', { [DRAIN_ENV.NOTICE_SECONDS]: '70' }))).toThrow(/= 60;/);
    expect(drainSettingsFromEnv(env('109')).serveThroughSeconds).toBe(109);
    expect(drainSettingsFromEnv(env('')).serveThroughSeconds).toBe(0);
  });

  test('a missing group or a bad number fails at cold start', () => {
    expect(() => drainSettingsFromEnv({})).toThrow(/SPOT_ASG_NAME is not set: the drain handler needs the name of the Auto Scaling group/);
    expect(() => drainSettingsFromEnv({ [DRAIN_ENV.AUTO_SCALING_GROUP_NAME]: 'a', [DRAIN_ENV.DRAIN_BUDGET_SECONDS]: 'soon' })).toThrow(
      /SPOT_DRAIN_BUDGET_SECONDS \(soon\) must be a number of seconds, 0 or more/,
    );
  });
});

describe('events', () => {
  test('classify by source and detail type', () => {
    expect(classifyEvent({ source: 'aws.ec2', 'detail-type': 'EC2 Spot Instance Interruption Warning' })).toBe(InterruptionEventKind.SPOT_WARNING);
    expect(classifyEvent({ source: 'aws.autoscaling', 'detail-type': 'EC2 Spot Instance Interruption Warning' })).toBe(InterruptionEventKind.UNKNOWN);
    expect(classifyEvent({ source: 'aws.health', 'detail-type': 'AWS Health Event' })).toBe(InterruptionEventKind.SCHEDULED_CHANGE);
  });

  test('health event instance ids come from entities and resources, once each', () => {
    expect(
      healthEventInstanceIds({
        id: 'x',
        source: 'aws.health',
        'detail-type': 'AWS Health Event',
        time: '',
        resources: ['i-0123456789abcdef0', 'arn:aws:ec2:us-east-1:1:instance/i-0fedcba9876543210', 'vol-1'],
        detail: { affectedEntities: [{ entityValue: 'i-0123456789abcdef0' }, { entityValue: 'not-an-instance' }] },
      }),
    ).toEqual(['i-0123456789abcdef0', 'i-0fedcba9876543210']);
  });
});

describe('withRetry', () => {
  const clock = () => {
    let t = 0;
    const sleeps: number[] = [];
    return { now: () => t, sleep: async (ms: number) => void (sleeps.push(ms), (t += ms)), sleeps };
  };
  const throttle = Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });

  test('classifies throttling and server faults as retryable, client errors not', () => {
    expect(isThrottling(throttle)).toBe(true);
    expect(isThrottling({ name: 'Foo', $metadata: { httpStatusCode: 429 } })).toBe(true);
    expect(isRetryable({ name: 'InternalFailure', $fault: 'server' })).toBe(true);
    expect(isRetryable(Object.assign(new Error('bad'), { name: 'ValidationError' }))).toBe(false);
  });

  test('backs off exponentially, capped', async () => {
    const c = clock();
    let n = 0;
    const v = await withRetry(async () => (++n < 6 ? Promise.reject(throttle) : 'ok'), { ...c, random: () => 1, maxDelayMs: 1000 });
    expect(v).toBe('ok');
    expect(c.sleeps).toEqual([200, 400, 800, 1000, 1000]);
  });

  test('does not start a retry that would end past the deadline', async () => {
    const c = clock();
    await expect(withRetry(async () => Promise.reject(throttle), { ...c, random: () => 1, deadline: 500 })).rejects.toThrow(/Rate exceeded/);
    expect(c.sleeps).toEqual([200]);
  });
});
