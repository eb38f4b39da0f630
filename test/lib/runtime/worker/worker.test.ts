import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  ReceiveMessageCommandInput,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { FleetSpecError, FleetSpecErrorCode } from '../../../../lib/spec';
import {
  abortOnProcessSignals,
  anySignal,
  InMemoryWorkQueue,
  QueueWorker,
  QueueWorkerOptions,
  SqsWorkQueue,
  StaleReceiptError,
  WorkMessage,
  WorkQueue,
  WorkerEvent,
} from '../../../../lib/runtime/worker';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(2);
  }
}

/** Work that takes `ms` unless the worker gives the message up first. Resolves true when it ran to the end. */
function work(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(true), ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve(false);
    }, { once: true });
  });
}

describe('InMemoryWorkQueue', () => {
  test('a received message is invisible until its timeout, then delivered again with a new receipt', async () => {
    let now = 1_000;
    const q = new InMemoryWorkQueue({ visibilityTimeoutSeconds: 30, now: () => now });
    q.send('hello');
    const [first] = await q.receive(10, 0);
    expect(first).toMatchObject({ body: 'hello', receiveCount: 1 });
    expect(await q.receive(10, 0)).toEqual([]);
    now += 30_000;
    const [second] = await q.receive(10, 0);
    expect(second.id).toBe(first.id);
    expect(second.receipt).not.toBe(first.receipt);
    expect(second.receiveCount).toBe(2);
    await expect(q.ack(first)).rejects.toThrow(StaleReceiptError);
    await expect(q.ack(first)).rejects.toThrow(/ack of message m-1 refused: its receipt is stale/);
    await q.ack(second);
    expect(q.size).toBe(0);
  });

  test('release makes the message visible at once; maxReceiveCount moves it to deadLetters', async () => {
    const q = new InMemoryWorkQueue({ maxReceiveCount: 2 });
    q.send('poison');
    await q.release((await q.receive(1, 0))[0]);
    await q.release((await q.receive(1, 0))[0]);
    expect(await q.receive(1, 0)).toEqual([]);
    expect(q.deadLetters).toEqual([{ id: 'm-1', body: 'poison' }]);
  });

  test('a long poll wakes up on send and returns empty on abort', async () => {
    const q = new InMemoryWorkQueue();
    const polled = q.receive(1, 5);
    setTimeout(() => q.send('late'), 10);
    expect((await polled).map((m) => m.body)).toEqual(['late']);
    const ac = new AbortController();
    const aborted = q.receive(1, 5, ac.signal);
    setTimeout(() => ac.abort(), 10);
    const t0 = Date.now();
    expect(await aborted).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(3000); // not the 5 s poll
  });
});

describe('QueueWorker', () => {
  test('processes and acknowledges every message, then stops when idle', async () => {
    const q = new InMemoryWorkQueue();
    for (const b of ['a', 'b', 'c', 'd']) q.send(b);
    const seen: string[] = [];
    const worker = new QueueWorker({
      queue: q,
      visibilityTimeoutSeconds: 30,
      concurrency: 2,
      waitTimeSeconds: 0,
      stopWhenIdle: true,
      handler: async (m) => {
        seen.push(m.body);
      },
    });
    const result = await worker.run();
    expect(seen.sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(result).toEqual({ acked: 4, released: 0, failed: 0, lost: 0, extensions: 0, interrupted: false });
    expect(q.size).toBe(0);
  });

  test('extends visibility before it expires while a long job runs, so no other worker gets the message', async () => {
    jest.useFakeTimers();
    try {
      const q = new InMemoryWorkQueue({ visibilityTimeoutSeconds: 30 });
      q.send('long job');
      let release!: () => void;
      const done = new Promise<void>((r) => (release = r));
      const worker = new QueueWorker({
        queue: q,
        visibilityTimeoutSeconds: 30,
        heartbeatIntervalSeconds: 10,
        waitTimeSeconds: 0,
        stopWhenIdle: true,
        handler: () => done,
      });
      const running = worker.run();
      // 95 s of work: three times the visibility timeout.
      for (let s = 0; s < 95; s += 5) {
        await jest.advanceTimersByTimeAsync(5_000);
        expect(await q.receive(1, 0)).toEqual([]); // never visible to a second consumer
      }
      release();
      await jest.advanceTimersByTimeAsync(1);
      const result = await running;
      expect(result.extensions).toBe(9);
      expect(result.acked).toBe(1);
      expect(q.log.filter((l) => l.startsWith('extend:'))).toEqual(Array(9).fill('extend:m-1:30'));
      expect(q.size).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  test('the default heartbeat is a third of the visibility timeout', async () => {
    jest.useFakeTimers();
    try {
      const q = new InMemoryWorkQueue({ visibilityTimeoutSeconds: 60 });
      q.send('x');
      let release!: () => void;
      const done = new Promise<void>((r) => (release = r));
      const worker = new QueueWorker({ queue: q, visibilityTimeoutSeconds: 60, waitTimeSeconds: 0, stopWhenIdle: true, handler: () => done });
      const running = worker.run();
      await jest.advanceTimersByTimeAsync(61_000);
      release();
      await jest.advanceTimersByTimeAsync(1);
      expect((await running).extensions).toBe(3); // at 20, 40, 60 s
    } finally {
      jest.useRealTimers();
    }
  });

  test('interruption mid-message: the message is released and processed exactly once by another worker', async () => {
    const q = new InMemoryWorkQueue({ visibilityTimeoutSeconds: 30 });
    q.send('infer me');
    const completions: string[] = [];
    const started: string[] = [];
    const handler = (name: string) => async (m: WorkMessage, ctx: { signal: AbortSignal }) => {
      started.push(name);
      const finished = await work(name === 'A' ? 5_000 : 5, ctx.signal);
      if (finished && !ctx.signal.aborted) completions.push(`${name}:${m.body}`);
    };
    const interruptA = new AbortController();
    const eventsA: WorkerEvent[] = [];
    const a = new QueueWorker({
      queue: q,
      visibilityTimeoutSeconds: 30,
      waitTimeSeconds: 1,
      finishWithinSeconds: 0.05,
      interruption: interruptA.signal,
      handler: handler('A'),
      onEvent: (e) => eventsA.push(e),
    });
    const runA = a.run();
    await until(() => started.includes('A'));

    const b = new QueueWorker({
      queue: q,
      visibilityTimeoutSeconds: 30,
      waitTimeSeconds: 1,
      handler: handler('B'),
      onEvent: (e) => e.type === 'acked' && b.stop(),
    });
    const runB = b.run();
    await sleep(20);
    expect(started).toEqual(['A']); // B cannot see the message while A holds it

    interruptA.abort(); // the spot notice
    const t0 = Date.now();
    const [resultA, resultB] = await Promise.all([runA, runB]);
    expect(Date.now() - t0).toBeLessThan(5000); // released at the deadline, not after the 30 s visibility timeout

    expect(resultA).toMatchObject({ acked: 0, released: 1, interrupted: true });
    expect(resultB).toMatchObject({ acked: 1, released: 0 });
    expect(completions).toEqual(['B:infer me']);
    expect(q.log).toEqual(['receive:m-1', 'release:m-1:0', 'receive:m-1', 'ack:m-1']);
    expect(eventsA.map((e) => e.type)).toEqual(['received', 'interrupted', 'released', 'stopped']);
    expect(q.size).toBe(0);
  });

  test('a handler that ignores the abort and finishes late is never acknowledged', async () => {
    const q = new InMemoryWorkQueue({ visibilityTimeoutSeconds: 30 });
    q.send('job');
    let lateFinishA!: () => void;
    const aBlocked = new Promise<void>((r) => (lateFinishA = r));
    const acks: string[] = [];
    const interrupt = new AbortController();
    const a = new QueueWorker({ queue: q, visibilityTimeoutSeconds: 30, waitTimeSeconds: 0, finishWithinSeconds: 0, interruption: interrupt.signal, handler: () => aBlocked, onEvent: (e) => e.type === 'acked' && acks.push('A') });
    const runA = a.run();
    await until(() => q.log.includes('receive:m-1'));
    interrupt.abort();
    const resultA = await runA;
    expect(resultA.released).toBe(1);

    const b = new QueueWorker({ queue: q, visibilityTimeoutSeconds: 30, waitTimeSeconds: 0, stopWhenIdle: true, handler: async () => {}, onEvent: (e) => e.type === 'acked' && acks.push('B') });
    expect((await b.run()).acked).toBe(1);
    lateFinishA(); // A's first attempt completes after it was given up
    await sleep(10);
    expect(acks).toEqual(['B']);
    expect(q.log.filter((l) => l.startsWith('ack:'))).toHaveLength(1);
  });

  test('a message that finishes within the deadline after the notice is acknowledged, and no new one is taken', async () => {
    const q = new InMemoryWorkQueue();
    q.send('first');
    q.send('second');
    const interrupt = new AbortController();
    const worker = new QueueWorker({
      queue: q,
      visibilityTimeoutSeconds: 30,
      waitTimeSeconds: 0,
      finishWithinSeconds: 5,
      interruption: interrupt.signal,
      handler: async (_m, ctx) => {
        interrupt.abort(); // the notice arrives mid-message
        expect(ctx.interrupted()).toBe(true);
        await sleep(20);
      },
    });
    const result = await worker.run();
    expect(result).toMatchObject({ acked: 1, released: 0, interrupted: true });
    expect(q.log).toEqual(['receive:m-1', 'ack:m-1']);
    expect(q.visibleCount).toBe(1); // 'second' waits for another worker
  });

  test('a failing handler leaves the message for its visibility timeout, or releases it after retryDelaySeconds', async () => {
    const q = new InMemoryWorkQueue();
    q.send('bad');
    const failures: unknown[] = [];
    const boom = async (): Promise<void> => {
      throw new Error('model crashed');
    };
    const r1 = await new QueueWorker({ queue: q, visibilityTimeoutSeconds: 30, waitTimeSeconds: 0, stopWhenIdle: true, handler: boom, onEvent: (e) => e.type === 'failed' && failures.push(e.error) }).run();
    expect(r1).toMatchObject({ acked: 0, failed: 1 });
    expect((failures[0] as Error).message).toBe('model crashed');
    expect(q.visibleCount).toBe(0);

    // Released at once: retried until the redrive policy moves it to the dead letters.
    const q2 = new InMemoryWorkQueue({ maxReceiveCount: 2 });
    q2.send('bad');
    const r2 = await new QueueWorker({ queue: q2, visibilityTimeoutSeconds: 30, waitTimeSeconds: 0, retryDelaySeconds: 0, stopWhenIdle: true, handler: boom }).run();
    expect(r2).toMatchObject({ acked: 0, failed: 2 });
    expect(q2.log).toEqual(['receive:m-1', 'release:m-1:0', 'receive:m-1', 'release:m-1:0']);
    expect(q2.deadLetters).toEqual([{ id: 'm-1', body: 'bad' }]);
  });

  test('a handler that throws synchronously fails its message, not the loop', async () => {
    const q = new InMemoryWorkQueue();
    q.send('x');
    const handler = ((): Promise<void> => {
      throw new Error('sync boom');
    }) as QueueWorkerOptions['handler'];
    const r = await new QueueWorker({ queue: q, visibilityTimeoutSeconds: 30, waitTimeSeconds: 0, stopWhenIdle: true, handler }).run();
    expect(r).toMatchObject({ failed: 1, acked: 0 });
  });

  test('with concurrency 2 the message that finishes in time is acknowledged and the slow one released', async () => {
    const q = new InMemoryWorkQueue();
    q.send('fast');
    q.send('slow');
    const interrupt = new AbortController();
    let running = 0;
    const worker = new QueueWorker({
      queue: q,
      visibilityTimeoutSeconds: 30,
      concurrency: 2,
      waitTimeSeconds: 0,
      finishWithinSeconds: 0.1,
      interruption: interrupt.signal,
      handler: async (m, { signal }) => {
        running++;
        if (running === 2) interrupt.abort();
        await work(m.body === 'fast' ? 20 : 5_000, signal);
      },
    });
    const r = await worker.run();
    expect(r).toMatchObject({ acked: 1, released: 1, interrupted: true });
    expect(q.log.filter((l) => !l.startsWith('receive'))).toEqual(['ack:m-1', 'release:m-2:0']);
  });

  test('when an extension is refused the handler is aborted and the stale delivery is not acknowledged', async () => {
    const inner = new InMemoryWorkQueue({ visibilityTimeoutSeconds: 30 });
    inner.send('x');
    const queue: WorkQueue = {
      receive: (n, w, s) => inner.receive(n, w, s),
      extend: async (m) => {
        throw new StaleReceiptError(m.id, 'extend');
      },
      ack: (m) => inner.ack(m),
      release: (m, d) => inner.release(m, d),
    };
    let aborted = false;
    const result = await new QueueWorker({
      queue,
      visibilityTimeoutSeconds: 1,
      heartbeatIntervalSeconds: 0.02,
      waitTimeSeconds: 0,
      stopWhenIdle: true,
      handler: async (_m, ctx) => {
        aborted = !(await work(2_000, ctx.signal));
      },
    }).run();
    expect(aborted).toBe(true);
    expect(result).toMatchObject({ acked: 0, lost: 1 });
    expect(inner.log).toEqual(['receive:m-1']);
  });

  test('invalid options are refused with every problem named', () => {
    const base: QueueWorkerOptions = { queue: new InMemoryWorkQueue(), handler: async () => {}, visibilityTimeoutSeconds: 30 };
    expect(() => new QueueWorker({ ...base, visibilityTimeoutSeconds: 0 })).toThrow(/visibilityTimeoutSeconds \(0\) must be a whole number of seconds from 1 to 43200/);
    expect(() => new QueueWorker({ ...base, heartbeatIntervalSeconds: 20 })).toThrow(/heartbeatIntervalSeconds \(20\) must be above 0 and at most half of visibilityTimeoutSeconds \(30 s\).*use 10/);
    expect(() => new QueueWorker({ ...base, finishWithinSeconds: 300 })).toThrow(/finishWithinSeconds \(300\) must be between 0 and 110.*120 s notice/);
    expect(() => new QueueWorker({ ...base, concurrency: 0 })).toThrow(/concurrency \(0\) must be a whole number, 1 or more/);
    expect(() => new QueueWorker({ ...base, waitTimeSeconds: 30 })).toThrow(/waitTimeSeconds \(30\) must be between 0 and 20/);
    expect(() => new QueueWorker({ ...base, retryDelaySeconds: -1 })).toThrow(/retryDelaySeconds \(-1\) must be between 0 and 43200/);
    try {
      new QueueWorker({ ...base, concurrency: 0, waitTimeSeconds: 21 });
      fail('expected an error');
    } catch (e) {
      expect(e).toBeInstanceOf(FleetSpecError);
      expect((e as FleetSpecError).code).toBe(FleetSpecErrorCode.QUEUE_LIMITS);
      expect((e as FleetSpecError).hasCode(FleetSpecErrorCode.WORKLOAD)).toBe(true);
      expect((e as FleetSpecError).problems.map((p) => p.prop)).toEqual(['concurrency', 'waitTimeSeconds']);
      expect((e as Error).message).toMatch(/^QueueWorker: 2 problems/);
    }
  });

  test('run() twice at once is refused', async () => {
    const w = new QueueWorker({ queue: new InMemoryWorkQueue(), handler: async () => {}, visibilityTimeoutSeconds: 30, waitTimeSeconds: 0, stopWhenIdle: true });
    const first = w.run();
    await expect(w.run()).rejects.toThrow(/already running/);
    await first;
  });
});

describe('QueueWorker on SQS (aws-sdk-client-mock)', () => {
  const sqsMock = mockClient(SQSClient);
  afterEach(() => sqsMock.reset());
  const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/jobs';

  /** SQS semantics behind the mock: a fake SQS backed by the in-memory queue. */
  function fakeSqs(backing: InMemoryWorkQueue): void {
    const byReceipt = new Map<string, WorkMessage>();
    const find = (receipt: string | undefined): WorkMessage => {
      const m = byReceipt.get(receipt ?? '');
      if (!m) throw Object.assign(new Error('The receipt handle is not valid'), { name: 'ReceiptHandleIsInvalid' });
      return m;
    };
    sqsMock.on(ReceiveMessageCommand).callsFake(async (input: ReceiveMessageCommandInput) => {
      const got = await backing.receive(input.MaxNumberOfMessages ?? 1, Math.min(input.WaitTimeSeconds ?? 0, 0.05));
      for (const m of got) byReceipt.set(m.receipt, m);
      return {
        Messages: got.map((m) => ({ MessageId: m.id, ReceiptHandle: m.receipt, Body: m.body, Attributes: { ApproximateReceiveCount: String(m.receiveCount) } })),
      };
    });
    sqsMock.on(ChangeMessageVisibilityCommand).callsFake(async (input) => {
      const m = find(input.ReceiptHandle);
      if (input.VisibilityTimeout === 0) await backing.release(m, 0);
      else await backing.extend(m, input.VisibilityTimeout!);
      return {};
    });
    sqsMock.on(DeleteMessageCommand).callsFake(async (input) => {
      await backing.ack(find(input.ReceiptHandle));
      return {};
    });
  }

  test('interruption mid-message: ChangeMessageVisibility 0, then exactly one DeleteMessage by the other worker', async () => {
    const backing = new InMemoryWorkQueue({ visibilityTimeoutSeconds: 30 });
    fakeSqs(backing);
    backing.send('{"prompt":"hi"}');
    const client = new SQSClient({ region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' } });
    const completions: string[] = [];
    const started: string[] = [];
    const handler = (name: string) => async (m: WorkMessage, ctx: { signal: AbortSignal }) => {
      started.push(name);
      if ((await work(name === 'A' ? 5_000 : 5, ctx.signal)) && !ctx.signal.aborted) completions.push(`${name}:${m.receiveCount}`);
    };
    const interruptA = new AbortController();
    const a = new QueueWorker({ queue: new SqsWorkQueue({ client, queueUrl: QUEUE_URL }), visibilityTimeoutSeconds: 30, waitTimeSeconds: 1, finishWithinSeconds: 0.05, interruption: interruptA.signal, handler: handler('A') });
    const runA = a.run();
    await until(() => started.includes('A'));
    const b: QueueWorker = new QueueWorker({ queue: new SqsWorkQueue({ client, queueUrl: QUEUE_URL }), visibilityTimeoutSeconds: 30, waitTimeSeconds: 1, handler: handler('B'), onEvent: (e) => e.type === 'acked' && b.stop() });
    const runB = b.run();
    interruptA.abort();
    const [ra, rb] = await Promise.all([runA, runB]);

    expect(ra).toMatchObject({ released: 1, acked: 0, interrupted: true });
    expect(rb).toMatchObject({ acked: 1 });
    expect(completions).toEqual(['B:2']);
    const released = sqsMock.commandCalls(ChangeMessageVisibilityCommand);
    expect(released).toHaveLength(1);
    expect(released[0].args[0].input).toEqual({ QueueUrl: QUEUE_URL, ReceiptHandle: 'r-1', VisibilityTimeout: 0 });
    const deletes = sqsMock.commandCalls(DeleteMessageCommand);
    expect(deletes).toHaveLength(1);
    expect(deletes[0].args[0].input).toEqual({ QueueUrl: QUEUE_URL, ReceiptHandle: 'r-2' });
    expect(sqsMock.commandCalls(ReceiveMessageCommand)[0].args[0].input).toEqual({
      QueueUrl: QUEUE_URL,
      MaxNumberOfMessages: 1,
      WaitTimeSeconds: 1,
      VisibilityTimeout: undefined,
      MessageSystemAttributeNames: ['ApproximateReceiveCount'],
    });
    expect(backing.size).toBe(0);
  });

  test('SqsWorkQueue maps messages, caps batch size and visibility, and heartbeats with ChangeMessageVisibility', async () => {
    sqsMock.on(ReceiveMessageCommand).resolves({
      Messages: [
        { MessageId: 'id-1', ReceiptHandle: 'rh-1', Body: 'b1', Attributes: { ApproximateReceiveCount: '3' } },
        { MessageId: 'id-2', ReceiptHandle: undefined, Body: 'no handle' },
      ],
    });
    sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
    const client = new SQSClient({ region: 'us-east-1' });
    const q = new SqsWorkQueue({ client, queueUrl: QUEUE_URL, visibilityTimeoutSeconds: 45 });
    const got = await q.receive(50, 99);
    expect(got).toEqual([{ id: 'id-1', receipt: 'rh-1', body: 'b1', receiveCount: 3, attributes: { ApproximateReceiveCount: '3' } }]);
    expect(sqsMock.commandCalls(ReceiveMessageCommand)[0].args[0].input).toMatchObject({ MaxNumberOfMessages: 10, WaitTimeSeconds: 20, VisibilityTimeout: 45 });
    await q.extend(got[0], 99_999);
    expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand)[0].args[0].input).toEqual({ QueueUrl: QUEUE_URL, ReceiptHandle: 'rh-1', VisibilityTimeout: 43200 });
  });

  test('an aborted long poll returns no message; other errors propagate', async () => {
    const client = new SQSClient({ region: 'us-east-1' });
    const q = new SqsWorkQueue({ client, queueUrl: QUEUE_URL });
    const ac = new AbortController();
    sqsMock.on(ReceiveMessageCommand).callsFake(async () => {
      ac.abort();
      throw Object.assign(new Error('Request aborted'), { name: 'AbortError' });
    });
    expect(await q.receive(1, 20, ac.signal)).toEqual([]);
    sqsMock.on(ReceiveMessageCommand).rejects(Object.assign(new Error('Access to the resource is denied'), { name: 'AccessDenied' }));
    await expect(q.receive(1, 20)).rejects.toThrow(/Access to the resource is denied/);
  });
});

describe('signals', () => {
  test('anySignal aborts when any input aborts, at once when one already has', () => {
    const a = new AbortController();
    const s = anySignal([undefined, a.signal, new AbortController().signal]);
    expect(s.aborted).toBe(false);
    a.abort();
    expect(s.aborted).toBe(true);
    expect(anySignal([AbortSignal.abort()]).aborted).toBe(true);
  });

  test('abortOnProcessSignals aborts on SIGTERM and removes its listeners on dispose', () => {
    const before = process.listenerCount('SIGTERM');
    const { signal, dispose } = abortOnProcessSignals(['SIGTERM']);
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    process.emit('SIGTERM', 'SIGTERM');
    expect(signal.aborted).toBe(true);
    dispose();
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});
