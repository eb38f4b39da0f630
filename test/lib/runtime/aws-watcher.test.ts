import { Cloud } from '../../../lib/spec';
import { AwsImdsClient, AwsInterruptionWatcher, parseInstanceAction } from '../../../lib/runtime/aws-watcher';
import { InterruptionKind } from '../../../lib/runtime/events';
import { runWatcher } from './support/collect';
import { waitFor } from './support/loopback';
import { AwsImdsEmulator } from './support/metadata-emulators';

let imds: AwsImdsEmulator;
beforeEach(async () => {
  imds = await new AwsImdsEmulator().start();
});
afterEach(() => imds.stop());

describe('AwsImdsClient', () => {
  test('takes a token with PUT, then sends it on every GET; 404 is "nothing yet"', async () => {
    const client = new AwsImdsClient({ endpoint: imds.url });
    expect(await client.get('/latest/meta-data/instance-id')).toBe('i-0123456789abcdef0');
    expect(await client.get('/latest/meta-data/spot/instance-action')).toBeUndefined();
    const puts = imds.requests.filter((r) => r.method === 'PUT');
    expect(puts).toHaveLength(1);
    expect(puts[0].headers['x-aws-ec2-metadata-token-ttl-seconds']).toBe('21600');
    const gets = imds.requests.filter((r) => r.method === 'GET');
    expect(gets.every((g) => imds.tokens.has(String(g.headers['x-aws-ec2-metadata-token'])))).toBe(true);
  });

  test('fetches a new token when the old one is rejected (401)', async () => {
    const client = new AwsImdsClient({ endpoint: imds.url });
    await client.get('/latest/meta-data/instance-id');
    imds.expireTokens();
    expect(await client.get('/latest/meta-data/placement/region')).toBe('eu-west-1');
    expect(imds.requests.filter((r) => r.method === 'PUT')).toHaveLength(2);
  });

  test('an unexpected status is an error naming it', async () => {
    imds.fault = 'error';
    await expect(new AwsImdsClient({ endpoint: imds.url }).get('/latest/meta-data/instance-id')).rejects.toThrow(/IMDS token request answered 500/);
  });
});

test('parseInstanceAction reads the documented document and refuses garbage', () => {
  expect(parseInstanceAction('{"action": "terminate", "time": "2017-09-18T08:22:00Z"}')).toEqual({ action: 'terminate', time: new Date('2017-09-18T08:22:00Z') });
  expect(() => parseInstanceAction('<html>')).toThrow(/spot\/instance-action is not JSON: <html>/);
  expect(() => parseInstanceAction('{"action":"stop"}')).toThrow(/spot\/instance-action lacks action\/time/);
});

describe('AwsInterruptionWatcher', () => {
  test('reports the spot interruption with its time as the deadline, within one poll interval, once', async () => {
    const w = runWatcher(new AwsInterruptionWatcher({ endpoint: imds.url, pollIntervalMs: 200 }));
    await new Promise((r) => setTimeout(r, 300));
    expect(w.events).toHaveLength(0);
    const time = imds.interrupt(120_000);
    await waitFor(() => w.events.length > 0, 2000, 'the notice');
    const latency = Date.now() - imds.publishedAt;
    expect(latency).toBeLessThanOrEqual(400);
    expect(w.events[0]).toMatchObject({ cloud: Cloud.AWS, kind: InterruptionKind.SPOT_INTERRUPTION, instanceId: 'i-0123456789abcdef0', deadline: time });
    await new Promise((r) => setTimeout(r, 500));
    expect(w.events).toHaveLength(1);
    await w.stop();
  });

  test('reports Terminated target lifecycle state and the (advisory) rebalance recommendation', async () => {
    const w = runWatcher(new AwsInterruptionWatcher({ endpoint: imds.url, pollIntervalMs: 100 }));
    imds.rebalance = { noticeTime: new Date().toISOString() };
    await waitFor(() => w.events.length === 1, 2000, 'the rebalance recommendation');
    expect(w.events[0]).toMatchObject({ kind: InterruptionKind.REBALANCE_RECOMMENDATION, advisory: true });
    imds.targetLifecycleState = 'Terminated';
    await waitFor(() => w.events.length === 2, 2000, 'the lifecycle state');
    expect(w.events[1]).toMatchObject({ kind: InterruptionKind.LIFECYCLE_TERMINATION, detail: 'Terminated' });
    expect(w.events[1].advisory).toBeUndefined();
    await w.stop();
  });

  test('keeps polling through an IMDS that is down, slow or answers garbage, and still sees the notice', async () => {
    const w = runWatcher(new AwsInterruptionWatcher({ endpoint: imds.url, pollIntervalMs: 50, requestTimeoutMs: 150 }));
    imds.fault = 'down';
    await new Promise((r) => setTimeout(r, 250));
    imds.fault = 'slow';
    await new Promise((r) => setTimeout(r, 400));
    imds.fault = 'garbage';
    imds.interrupt(60_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(w.events).toHaveLength(0);
    imds.fault = 'none';
    await waitFor(() => w.events.length > 0, 5000, 'the notice after the faults');
    expect(w.crashed).toBeUndefined();
    expect(w.messages()).toContain('AWS instance metadata (IMDSv2) poll failed; retrying');
    expect(w.messages()).toContain('AWS instance metadata (IMDSv2) poll answers again');
    // A streak of failures logs its first one (and every 30th), not every retry.
    expect(w.messages().filter((m) => m.endsWith('failed; retrying')).length).toBeLessThan(5);
    await w.stop();
  });

  test('garbage in spot/instance-action is retried, not trusted', async () => {
    const w = runWatcher(new AwsInterruptionWatcher({ endpoint: imds.url, pollIntervalMs: 50 }));
    imds.instanceAction = { action: 'terminate', time: 'soon' };
    await waitFor(() => w.lines.some((l) => String(l.error).includes('spot/instance-action lacks action/time')), 2000, 'the garbage warning');
    expect(w.events).toHaveLength(0);
    imds.interrupt(30_000);
    await waitFor(() => w.events.length > 0, 3000, 'the notice');
    await w.stop();
  });
});
