// The Azure agent posts each Preempt notice to the fallback controller's Storage queue (with the VM's managed identity),
// so the controller runs at once. One loopback server plays both the instance metadata service and the queue.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Cloud } from '../../../lib/spec';
import { SpotAgent } from '../../../lib/runtime/agent';
import { AgentConfig, DrainMode } from '../../../lib/runtime/agent-config';
import { validateAgentConfig } from '../../../lib/runtime/agent-options';
import { postEvictionNotice, QUEUE_API_VERSION } from '../../../lib/runtime/azure-controller-queue';
import { EVICTION_MESSAGE_TYPE } from '../../../lib/spec/eviction-message';
import { InterruptionEvent, InterruptionKind } from '../../../lib/runtime/events';
import { InterruptionWatcher, WatcherContext } from '../../../lib/runtime/watcher';
import { memoryLogger } from './support/collect';
import { stateDir } from './support/loopback';

interface Seen {
  tokens: string[];
  posts: { url: string; headers: http.IncomingHttpHeaders; message: Record<string, unknown> }[];
}

/** Answers: `token` status codes for successive token requests (then 200), `queue` for successive posts (then 201). */
async function fakeAzure(script: { token?: number[]; tokenBody?: string; queue?: number[] } = {}) {
  const seen: Seen = { tokens: [], posts: [] };
  const token = [...(script.token ?? [])];
  const queue = [...(script.queue ?? [])];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.url!.startsWith('/metadata/identity/oauth2/token')) {
        seen.tokens.push(`${req.headers.metadata}|${req.url}`);
        const status = token.shift() ?? 200;
        res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? (script.tokenBody ?? '{"access_token":"tok-1","expires_in":"3599"}') : '{"error":"busy"}');
        return;
      }
      if (req.method === 'POST' && req.url!.startsWith('/evictions/messages')) {
        const text = /<MessageText>([^<]*)<\/MessageText>/.exec(body)?.[1] ?? '';
        seen.posts.push({ url: req.url!, headers: req.headers, message: JSON.parse(Buffer.from(text, 'base64').toString('utf8')) });
        const status = queue.shift() ?? 201;
        res.writeHead(status).end(status === 201 ? '' : '<Error><Code>AuthorizationPermissionMismatch</Code></Error>');
        return;
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const preempt = (eventId = 'EV-1'): InterruptionEvent => ({
  cloud: Cloud.AZURE,
  kind: InterruptionKind.PREEMPTION,
  instanceId: 'llm_0a1b2c',
  eventId,
  deadline: new Date('2026-12-04T12:00:30Z'),
  detectedAt: new Date('2026-12-04T12:00:00Z'),
});

describe('postEvictionNotice', () => {
  test('gets a storage token for the VM identity and posts the notice as a base64 JSON queue message', async () => {
    const az = await fakeAzure();
    const logger = memoryLogger();
    try {
      const ok = await postEvictionNotice({ queue: { url: `${az.base}/evictions`, identityClientId: 'client-1' }, metadataEndpoint: az.base, event: preempt(), log: logger.log });
      expect(ok).toBe(true);
      expect(az.seen.tokens).toEqual([`true|/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent('https://storage.azure.com/')}&client_id=client-1`]);
      expect(az.seen.posts).toHaveLength(1);
      const [post] = az.seen.posts;
      expect(post.url).toBe('/evictions/messages?messagettl=300');
      expect(post.headers).toMatchObject({ authorization: 'Bearer tok-1', 'x-ms-version': QUEUE_API_VERSION, 'content-type': 'application/xml' });
      expect(post.message).toEqual({ type: EVICTION_MESSAGE_TYPE, vmName: 'llm_0a1b2c', eventId: 'EV-1', deadline: '2026-12-04T12:00:30.000Z', detectedAt: '2026-12-04T12:00:00.000Z' });
      expect(logger.messages()).toContain("Preempt notice posted to the fallback controller's queue");
    } finally {
      await az.close();
    }
  });

  test('a throttled metadata service or queue is retried; a queue that refuses for good is given up at once and logged', async () => {
    const az = await fakeAzure({ token: [500], queue: [503] });
    const logger = memoryLogger();
    try {
      const ok = await postEvictionNotice({ queue: { url: `${az.base}/evictions` }, metadataEndpoint: az.base, event: preempt(), log: logger.log, retryDelayMs: 10 });
      expect(ok).toBe(true);
      expect(az.seen.tokens).toHaveLength(3);
      expect(az.seen.posts).toHaveLength(2);
      expect(logger.lines.find((l) => l.msg === "Preempt notice posted to the fallback controller's queue")).toMatchObject({ attempt: 3 });
    } finally {
      await az.close();
    }
    const gone = await fakeAzure({ queue: [404, 404, 404] });
    const logged = memoryLogger();
    try {
      expect(await postEvictionNotice({ queue: { url: `${gone.base}/evictions` }, metadataEndpoint: gone.base, event: preempt(), log: logged.log, retryDelayMs: 10 })).toBe(false);
      expect(gone.seen.posts).toHaveLength(1);
      expect(logged.lines.find((l) => l.level === 'warn')).toMatchObject({ msg: expect.stringMatching(/could not post the Preempt notice .* its timer still runs within a minute/), error: expect.stringMatching(/^queue answered 404: <Error><Code>AuthorizationPermissionMismatch/) });
    } finally {
      await gone.close();
    }
  });

  test('a token answer without access_token, or an unreachable queue, ends in one warning and false, never a throw', async () => {
    const az = await fakeAzure({ tokenBody: '{"expires_in":"3599"}' });
    const logger = memoryLogger();
    try {
      expect(await postEvictionNotice({ queue: { url: `${az.base}/evictions` }, metadataEndpoint: az.base, event: preempt(), log: logger.log, attempts: 2, retryDelayMs: 10 })).toBe(false);
      expect(az.seen.tokens).toHaveLength(2);
      expect(az.seen.posts).toHaveLength(0);
      expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([expect.objectContaining({ error: 'identity token: answer has no access_token' })]);
      const closed = memoryLogger();
      expect(await postEvictionNotice({ queue: { url: 'http://127.0.0.1:1/evictions' }, metadataEndpoint: az.base, event: preempt(), log: closed.log, attempts: 1, timeoutMs: 500 })).toBe(false);
      expect(closed.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    } finally {
      await az.close();
    }
  });
});

class QuietWatcher implements InterruptionWatcher {
  public readonly cloud = Cloud.AZURE;
  public run(ctx: WatcherContext): Promise<void> {
    return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
  }
}

describe('the agent tells the controller', () => {
  const config = (base: string, extra: Partial<AgentConfig> = {}): AgentConfig => ({
    cloud: Cloud.AZURE,
    servingPort: 1,
    healthPath: '/health',
    healthPort: 0,
    healthHost: '127.0.0.1',
    drainBudgetSeconds: 0.2,
    safetyMarginSeconds: 0.1,
    loadBalancerDetectionSeconds: 0,
    drainMode: DrainMode.HEALTH,
    serveThroughNotice: false,
    stateDirectory: stateDir(),
    metadataEndpoint: base,
    controllerQueue: { url: `${base}/evictions`, identityClientId: 'client-1' },
    ...extra,
  });

  test('once per Preempt event (a repeated notice is not posted again); not for Terminate, nor without controllerQueue', async () => {
    const az = await fakeAzure();
    try {
      const agent = new SpotAgent(config(az.base), { watcher: new QuietWatcher(), log: memoryLogger().log });
      await agent.start();
      const soon = { deadline: new Date(Date.now() + 3000), detectedAt: new Date() };
      agent.notify({ ...preempt('EV-7'), ...soon });
      agent.notify({ ...preempt('EV-7'), ...soon });
      agent.notify({ ...preempt('EV-8'), kind: InterruptionKind.TERMINATION, ...soon });
      await agent.finished;
      await agent.stop();
      expect(az.seen.posts.map((p) => p.message.eventId)).toEqual(['EV-7']);
      const without = new SpotAgent(config(az.base, { controllerQueue: undefined }), { watcher: new QuietWatcher(), log: memoryLogger().log });
      await without.start();
      without.notify({ ...preempt('EV-9'), deadline: new Date(Date.now() + 3000), detectedAt: new Date() });
      await without.finished;
      await without.stop();
      expect(az.seen.posts).toHaveLength(1);
    } finally {
      await az.close();
    }
  });

  test('controllerQueue is checked: Azure only, an https queue URL', () => {
    const codes = (c: AgentConfig) => validateAgentConfig(c).map((p) => `${p.prop}: ${p.message}`);
    expect(codes(config('http://127.0.0.1:9', { controllerQueue: { url: 'https://spotfb1.queue.core.windows.net/evictions' } }))).toEqual([]);
    expect(codes(config('http://127.0.0.1:9', { controllerQueue: { url: 'http://spotfb1.queue.core.windows.net/evictions' } }))).toEqual([
      expect.stringMatching(/^controllerQueue.url: controllerQueue.url \("http:\/\/spotfb1.queue.core.windows.net\/evictions"\) must be the queue's https URL/),
    ]);
    expect(codes(config('http://127.0.0.1:9', { cloud: Cloud.AWS, drainBudgetSeconds: 1 }))).toEqual([expect.stringMatching(/^controllerQueue: controllerQueue is for Azure .*cloud is aws: leave it out/)]);
  });
});
