import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { waitForInterruption } from '../../../../lib/runtime/watch';
import { InMemoryWorkQueue, QueueWorker } from '../../../../lib/runtime/worker';
import { Cloud } from '../../../../lib/spec';

/** A loopback IMDSv2 emulator whose spot/instance-action appears when `notice` is set. */
function imds(): Promise<{ server: Server; endpoint: string; notice: (on: boolean) => void }> {
  let spotAction: string | undefined;
  const server = createServer((req, res) => {
    if (req.method === 'PUT' && req.url === '/latest/api/token') res.end('token-1');
    else if (req.headers['x-aws-ec2-metadata-token'] !== 'token-1') res.writeHead(401).end();
    else if (req.url === '/latest/meta-data/instance-id') res.end('i-0123456789abcdef0');
    else if (req.url === '/latest/meta-data/spot/instance-action' && spotAction) res.end(spotAction);
    else res.writeHead(404).end();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        notice: (on) => (spotAction = on ? JSON.stringify({ action: 'terminate', time: new Date(Date.now() + 120_000).toISOString() }) : undefined),
      }),
    ),
  );
}

test('the agent runtime watcher interrupts the worker: the message in hand is released, the next worker finishes it', async () => {
  const { server, endpoint, notice } = await imds();
  const stopWatching = new AbortController();
  try {
    const q = new InMemoryWorkQueue({ visibilityTimeoutSeconds: 60 });
    q.send('job-1');
    // The documented wiring: the first terminal notice aborts the worker's interruption signal.
    const interruption = new AbortController();
    const watching = waitForInterruption({ cloud: Cloud.AWS, metadataEndpoint: endpoint, pollIntervalSeconds: 0.02, signal: stopWatching.signal }).then((event) => {
      if (event) interruption.abort();
      return event;
    });
    let started = false;
    const completed: string[] = [];
    const worker = new QueueWorker({
      queue: q,
      visibilityTimeoutSeconds: 60,
      waitTimeSeconds: 1,
      finishWithinSeconds: 0.1,
      interruption: interruption.signal,
      handler: async (m, { signal }) => {
        started = true;
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        if (!signal.aborted) completed.push(m.body);
      },
    });
    const running = worker.run();
    while (!started) await new Promise((r) => setTimeout(r, 5));
    notice(true);
    const result = await running;
    expect(result).toMatchObject({ interrupted: true, released: 1, acked: 0 });
    expect((await watching)?.instanceId).toBe('i-0123456789abcdef0');

    const next = new QueueWorker({ queue: q, visibilityTimeoutSeconds: 60, waitTimeSeconds: 0, stopWhenIdle: true, handler: async (m) => void completed.push(m.body) });
    expect((await next.run()).acked).toBe(1);
    expect(completed).toEqual(['job-1']);
  } finally {
    stopWatching.abort();
    await new Promise((r) => server.close(r));
  }
});
