import { backlogPerInstanceTarget } from '../../../lib/spec';

describe('backlogPerInstanceTarget', () => {
  const base = { messagesInParallel: 1, propNames: { acceptableLatency: 'acceptableLatencySeconds', messageProcessing: 'messageProcessingSeconds' }, instanceNoun: 'VM' };

  test('derives latency / seconds per message x messages in parallel, as AWS documents it', () => {
    expect(backlogPerInstanceTarget({ ...base, acceptableLatencySeconds: 300, messageProcessingSeconds: 60 })).toEqual({ target: 5, problems: [] });
    expect(backlogPerInstanceTarget({ ...base, acceptableLatencySeconds: 100, messageProcessingSeconds: 30, messagesInParallel: 4 }).target).toBe(13.33);
    expect(backlogPerInstanceTarget({ ...base, targetBacklogPerInstance: 7 })).toEqual({ target: 7, problems: [] });
  });

  test('a target below one message, a bad parallelism and unknown inputs are refused with the fix', () => {
    const low = backlogPerInstanceTarget({ ...base, acceptableLatencySeconds: 30, messageProcessingSeconds: 60 });
    expect(low.target).toBeUndefined();
    expect(low.problems[0].message).toMatch(/acceptable backlog per instance is 0.5 .*a VM cannot take a message within acceptableLatencySeconds; raise acceptableLatencySeconds to at least 60 s/);
    expect(backlogPerInstanceTarget({ ...base, targetBacklogPerInstance: 0.5 }).problems[0].message).toMatch(/targetBacklogPerInstance \(0.5\) must be at least 1 message per VM/);
    expect(backlogPerInstanceTarget({ ...base, messagesInParallel: 0, acceptableLatencySeconds: 60, messageProcessingSeconds: 60 }).problems[0].message).toMatch(/messagesInParallel \(0\) must be a whole number, 1 or more \(messages one VM works on at once\)/);
    expect(backlogPerInstanceTarget({ ...base, acceptableLatencySeconds: 0, messageProcessingSeconds: 60 }).problems[0].message).toMatch(/acceptableLatencySeconds \(0 s\) must be above 0/);
    expect(backlogPerInstanceTarget({ ...base }).problems[0].message).toMatch(/cannot be derived at synth; set targetBacklogPerInstance/);
  });
});
