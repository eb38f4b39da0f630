import { Cloud } from '../../../lib/spec/clouds';
import { DEFAULT_SAFETY_MARGIN_SECONDS, noticeServingSeconds, servedNoticeKind, servesThroughNotice } from '../../../lib/spec/notice';
import { InterruptionKind } from '../../../lib/runtime/events';

describe('the notice a replica serves through', () => {
  test('AWS serves through its spot interruption notice, Azure through Preempt, Google Cloud through none', () => {
    expect(servedNoticeKind(Cloud.AWS)).toBe(InterruptionKind.SPOT_INTERRUPTION);
    expect(servedNoticeKind(Cloud.AZURE)).toBe(InterruptionKind.PREEMPTION);
    expect(servedNoticeKind(Cloud.GCP)).toBeUndefined();
    expect([Cloud.AWS, Cloud.AZURE, Cloud.GCP].map(servesThroughNotice)).toEqual([true, true, false]);
  });

  test('serving time is the notice less the drain budget and the safety margin', () => {
    expect(DEFAULT_SAFETY_MARGIN_SECONDS).toBe(5);
    expect(noticeServingSeconds({ cloud: Cloud.AWS })).toBe(120 - 45 - 5);
    expect(noticeServingSeconds({ cloud: Cloud.AZURE })).toBe(30 - 10 - 5);
    expect(noticeServingSeconds({ cloud: Cloud.AWS, drainBudgetSeconds: 15, safetyMarginSeconds: 10 })).toBe(95);
    expect(noticeServingSeconds({ cloud: Cloud.AWS, noticeSeconds: 60 })).toBe(10);
  });

  test('never negative, and zero where the notice is the shutdown itself', () => {
    expect(noticeServingSeconds({ cloud: Cloud.AWS, drainBudgetSeconds: 200 })).toBe(0);
    expect(noticeServingSeconds({ cloud: Cloud.GCP, drainBudgetSeconds: 1, safetyMarginSeconds: 0 })).toBe(0);
  });
});
