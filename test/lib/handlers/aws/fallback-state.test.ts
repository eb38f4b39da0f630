import { ControllerState, decodeControllerState, encodeControllerState, initialControllerState } from '../../../../lib/handlers/aws/fallback-state';
import { initialFallbackState } from '../../../../lib/policy/fallback-policy';

const NOW = 1_800_000_000;

function bigState(pools: number, seen: number, preemptions: number): ControllerState {
  return {
    policy: {
      ...initialFallbackState(),
      fallbackReplicas: 3,
      lastIncreaseAt: NOW - 100,
      coveredSince: NOW - 30,
      coveredNeed: 1,
      recentPreemptions: Array.from({ length: preemptions }, (_, i) => NOW - 1000 + i),
      pools: Array.from({ length: pools }, (_, i) => ({
        pool: `us-east-1${'abcdef'[i % 6]}/g${5 + (i % 3)}.${i}xlarge`,
        strikes: i % 4,
        unavailableUntil: i % 4 ? NOW + 60 * i : 0,
        lastBadAt: i % 4 ? NOW - 10 : 0,
        goodSince: i % 4 ? 0 : NOW - 500,
      })),
    },
    seen: Array.from({ length: seen }, (_, i) => [`a:12345678-1234-1234-1234-${String(i).padStart(12, '0')}`, NOW - i]),
    lastRunAt: NOW - 60,
    fresh: false,
  };
}

describe('controller state encoding', () => {
  test('round trip keeps every field', () => {
    const s = bigState(6, 3, 2);
    expect(decodeControllerState(encodeControllerState(s, NOW))).toEqual(s);
  });

  test('a large state is trimmed to the 4 KB of an SSM Standard parameter, keeping the fallback and the worst pools', () => {
    const s = bigState(80, 60, 64);
    expect(Buffer.byteLength(JSON.stringify(s))).toBeGreaterThan(4096);
    const raw = encodeControllerState(s, NOW);
    expect(Buffer.byteLength(raw, 'utf8')).toBeLessThanOrEqual(4096);
    const back = decodeControllerState(raw);
    expect(back.policy.fallbackReplicas).toBe(3);
    expect(back.policy.lastIncreaseAt).toBe(NOW - 100);
    expect(back.policy.coveredSince).toBe(NOW - 30);
    // pools with nothing held against them went first; those kept all have strikes
    expect(back.policy.pools.length).toBeGreaterThan(0);
    expect(back.policy.pools.every((p) => p.strikes > 0)).toBe(true);
    expect(back.policy.pools.some((p) => p.strikes === 3)).toBe(true);
  });

  test('a custom bound is honoured', () => {
    const raw = encodeControllerState(bigState(10, 10, 10), NOW, 300);
    expect(raw.length).toBeLessThanOrEqual(300);
  });

  test.each([
    ['missing', undefined],
    ['empty', ''],
    ['the CloudFormation seed', '{}'],
    ['not JSON', 'nope'],
    ['another format', '{"v":99}'],
    ['wrong types', '{"v":1,"f":"x","s":0,"i":0,"d":0,"c":0,"n":0,"z":60,"r":[],"p":[],"k":[],"t":0}'],
  ])('%s state decodes as the initial state, flagged fresh', (_what, raw) => {
    expect(decodeControllerState(raw)).toEqual(initialControllerState());
    expect(decodeControllerState(raw).fresh).toBe(true);
  });

  test('malformed pool and seen entries are dropped, the rest kept', () => {
    const raw = JSON.stringify({ v: 1, f: 1, s: 0, i: 5, d: 0, c: 0, n: 0, z: 60, r: [1, 'x'], p: [['a/b', 1, 2, 3, 4], ['bad'], 7], k: [['a:1', 10], [3, 4]], t: 9 });
    const s = decodeControllerState(raw);
    expect(s.policy.pools).toEqual([{ pool: 'a/b', strikes: 1, unavailableUntil: 2, lastBadAt: 3, goodSince: 4 }]);
    expect(s.policy.recentPreemptions).toEqual([1]);
    expect(s.seen).toEqual([['a:1', 10]]);
    expect(s.fresh).toBe(false);
  });
});
