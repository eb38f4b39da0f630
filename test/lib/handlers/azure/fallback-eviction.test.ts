// The queue trigger's message: what an agent posts on a Preempt notice (lib/runtime/azure-controller-queue.ts).
import { readEvictionMessage } from '../../../../lib/handlers/azure/fallback';
import { EVICTION_MESSAGE_TYPE } from '../../../../lib/spec/eviction-message';

describe('readEvictionMessage', () => {
  const message = { type: EVICTION_MESSAGE_TYPE, vmName: 'llm_0a1b', eventId: 'EV-1', deadline: '2026-12-04T12:00:30.000Z', detectedAt: '2026-12-04T12:00:00.000Z' };

  test('the Functions host hands it parsed (a JSON message) or as text; both read the same', () => {
    expect(readEvictionMessage(message)).toEqual({ vmName: 'llm_0a1b', eventId: 'EV-1' });
    expect(readEvictionMessage(JSON.stringify(message))).toEqual({ vmName: 'llm_0a1b', eventId: 'EV-1' });
    expect(readEvictionMessage({ ...message, eventId: undefined })).toEqual({ vmName: 'llm_0a1b' });
  });

  test('a malformed or foreign message names the problem (the run goes ahead: it never trusts the message)', () => {
    expect(readEvictionMessage('not json')).toEqual({ problem: 'not JSON: not json' });
    expect(readEvictionMessage(42)).toEqual({ problem: 'not an object: 42' });
    expect(readEvictionMessage(null)).toEqual({ problem: 'not an object: null' });
    expect(readEvictionMessage({ ...message, type: 'other' })).toEqual({ problem: `type "other" is not ${EVICTION_MESSAGE_TYPE}` });
    expect(readEvictionMessage({ ...message, vmName: '' })).toEqual({ problem: 'no vmName' });
  });
});
