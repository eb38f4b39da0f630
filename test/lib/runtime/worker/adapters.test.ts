import {
  InMemoryWorkQueue,
  PubSubReceivedMessageLike,
  PubSubSubscriberLike,
  PubSubWorkQueue,
  QueueWorker,
  ServiceBusMessageLike,
  ServiceBusReceiverLike,
  ServiceBusWorkQueue,
  WorkMessage,
} from '../../../../lib/runtime/worker';

const SUB = 'projects/p/subscriptions/jobs';

/** A Pub/Sub subscriber whose pull/modifyAckDeadline/acknowledge act on an in-memory queue. */
function fakePubSub(backing: InMemoryWorkQueue): { client: PubSubSubscriberLike; calls: unknown[] } {
  const calls: unknown[] = [];
  const held = new Map<string, WorkMessage>();
  return {
    calls,
    client: {
      pull: async (req, options) => {
        calls.push(['pull', req, options]);
        const got = await backing.receive(req.maxMessages, 0.05);
        got.forEach((m) => held.set(m.receipt, m));
        const receivedMessages: PubSubReceivedMessageLike[] = got.map((m) => ({ ackId: m.receipt, message: { messageId: m.id, data: Buffer.from(m.body) }, deliveryAttempt: m.receiveCount }));
        return [{ receivedMessages }];
      },
      modifyAckDeadline: async (req) => {
        calls.push(['modifyAckDeadline', req]);
        const m = held.get(req.ackIds[0])!;
        if (req.ackDeadlineSeconds === 0) await backing.release(m, 0);
        else await backing.extend(m, req.ackDeadlineSeconds);
      },
      acknowledge: async (req) => {
        calls.push(['acknowledge', req]);
        await backing.ack(held.get(req.ackIds[0])!);
      },
    },
  };
}

describe('PubSubWorkQueue', () => {
  test('interruption mid-message: modifyAckDeadline 0, then one acknowledge by the next worker', async () => {
    const backing = new InMemoryWorkQueue({ visibilityTimeoutSeconds: 60 });
    backing.send('{"prompt":"x"}');
    const { client, calls } = fakePubSub(backing);
    const interrupt = new AbortController();
    let started = false;
    const done: string[] = [];
    const a = new QueueWorker({
      queue: new PubSubWorkQueue({ client, subscription: SUB }),
      visibilityTimeoutSeconds: 60,
      waitTimeSeconds: 1,
      finishWithinSeconds: 0.02,
      interruption: interrupt.signal,
      handler: async (_m, { signal }) => {
        started = true;
        await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      },
    });
    const runA = a.run();
    while (!started) await new Promise((r) => setTimeout(r, 2));
    interrupt.abort();
    expect(await runA).toMatchObject({ released: 1, acked: 0 });
    const b = new QueueWorker({ queue: new PubSubWorkQueue({ client, subscription: SUB }), visibilityTimeoutSeconds: 60, waitTimeSeconds: 0, stopWhenIdle: true, handler: async (m) => void done.push(`${m.body}#${m.receiveCount}`) });
    expect(await b.run()).toMatchObject({ acked: 1 });
    expect(done).toEqual(['{"prompt":"x"}#2']);
    expect(calls.filter((c) => (c as unknown[])[0] !== 'pull')).toEqual([
      ['modifyAckDeadline', { subscription: SUB, ackIds: ['r-1'], ackDeadlineSeconds: 0 }],
      ['acknowledge', { subscription: SUB, ackIds: ['r-2'] }],
    ]);
    expect(calls[0]).toEqual(['pull', { subscription: SUB, maxMessages: 1 }, { timeout: 1000 }]);
  });

  test('extensions are capped at the 600 s Pub/Sub limit; an empty pull that times out is no message', async () => {
    const calls: unknown[] = [];
    const client: PubSubSubscriberLike = {
      pull: async () => Promise.reject(Object.assign(new Error('Deadline exceeded'), { code: 4 })),
      modifyAckDeadline: async (req) => void calls.push(req),
      acknowledge: async () => undefined,
    };
    const q = new PubSubWorkQueue({ client, subscription: SUB });
    expect(await q.receive(5, 20)).toEqual([]);
    await q.extend({ id: 'm', receipt: 'ack-1', body: '' }, 3600);
    expect(calls).toEqual([{ subscription: SUB, ackIds: ['ack-1'], ackDeadlineSeconds: 600 }]);
    const denied: PubSubSubscriberLike = { ...client, pull: async () => Promise.reject(Object.assign(new Error('PERMISSION_DENIED'), { code: 7 })) };
    await expect(new PubSubWorkQueue({ client: denied, subscription: SUB }).receive(1, 1)).rejects.toThrow(/PERMISSION_DENIED/);
  });
});

describe('ServiceBusWorkQueue', () => {
  test('receive maps peek-locked messages; extend renews the lock; ack completes; release abandons', async () => {
    const calls: string[] = [];
    const raw: ServiceBusMessageLike[] = [
      { messageId: 'sb-1', body: { prompt: 'hi' }, lockToken: 'lock-1', deliveryCount: 1 },
      { messageId: 'sb-2', body: 'plain', lockToken: 'lock-2', deliveryCount: 3 },
    ];
    const receiver: ServiceBusReceiverLike = {
      receiveMessages: async (n, o) => {
        calls.push(`receive:${n}:${o?.maxWaitTimeInMs}`);
        return raw;
      },
      renewMessageLock: async (m) => {
        calls.push(`renew:${m.lockToken}`);
        return new Date();
      },
      completeMessage: async (m) => void calls.push(`complete:${m.lockToken}`),
      abandonMessage: async (m) => void calls.push(`abandon:${m.lockToken}`),
    };
    const q = new ServiceBusWorkQueue({ receiver });
    const [m1, m2] = await q.receive(2, 5);
    expect(m1).toEqual({ id: 'sb-1', receipt: 'lock-1', body: '{"prompt":"hi"}', receiveCount: 1 });
    expect(m2.body).toBe('plain');
    await q.extend(m1);
    await q.ack(m1);
    await q.release(m2);
    expect(calls).toEqual(['receive:2:5000', 'renew:lock-1', 'complete:lock-1', 'abandon:lock-2']);
    await expect(q.ack(m1)).rejects.toThrow(/message sb-1 is not held by this receiver/);
  });
});
