import { FleetSpecErrorCode } from '../../../../lib/spec';
import { queueTimingProblems } from '../../../../lib/runtime/worker';

describe('queueTimingProblems', () => {
  test('without heartbeats the visibility timeout must cover the job', () => {
    const problems = queueTimingProblems({ visibilityTimeoutSeconds: 30, expectedProcessingSeconds: 90, heartbeat: false });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ code: FleetSpecErrorCode.QUEUE_TIMING, prop: 'visibilityTimeoutSeconds' });
    expect(problems[0].message).toMatch(/visibilityTimeoutSeconds \(30 s\) is shorter than the job's expected duration expectedProcessingSeconds \(90 s\).*raise visibilityTimeoutSeconds to at least 135 s/);
    expect(queueTimingProblems({ visibilityTimeoutSeconds: 120, expectedProcessingSeconds: 90, heartbeat: false })).toEqual([]);
  });

  test('with heartbeats a long job is fine but a tiny timeout is not', () => {
    expect(queueTimingProblems({ visibilityTimeoutSeconds: 30, expectedProcessingSeconds: 3600 })).toEqual([]);
    expect(queueTimingProblems({ visibilityTimeoutSeconds: 3, expectedProcessingSeconds: 1 })[0].message).toMatch(/visibilityTimeoutSeconds \(3 s\) is too short to extend in time.*at least 6 s/);
  });

  test('uses the construct prop names, range-checks, and skips tokens', () => {
    const names = { visibilityTimeout: 'visibilityTimeout', expectedProcessing: 'expectedJobDuration' };
    expect(queueTimingProblems({ visibilityTimeoutSeconds: 50_000, expectedProcessingSeconds: 0, propNames: names }).map((p) => p.message)).toEqual([
      'visibilityTimeout (50000 s) must be between 0 and 43200 s (12 hours, the SQS limit)',
      'expectedJobDuration (0 s) must be above 0: give the slowest time one message takes',
    ]);
    const TOKEN = -1.8881545897087505e289;
    expect(queueTimingProblems({ visibilityTimeoutSeconds: TOKEN, expectedProcessingSeconds: 90, heartbeat: false, isUnresolved: (v) => v === TOKEN })).toEqual([]);
  });
});
