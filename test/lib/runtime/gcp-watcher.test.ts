import { Cloud } from '../../../lib/spec';
import { InterruptionKind } from '../../../lib/runtime/events';
import { GcpInterruptionWatcher } from '../../../lib/runtime/gcp-watcher';
import { runWatcher } from './support/collect';
import type * as http from 'node:http';
import { LoopbackServer, SeenRequest, waitFor } from './support/loopback';
import { GcpMetadataEmulator } from './support/metadata-emulators';

let md: GcpMetadataEmulator;
beforeEach(async () => {
  md = await new GcpMetadataEmulator().start();
});
afterEach(() => md.stop());

test('long-polls instance/preempted with Metadata-Flavor: Google and sees the preemption at once', async () => {
  const w = runWatcher(new GcpInterruptionWatcher({ endpoint: md.url }));
  await waitFor(() => md.openLongPolls === 2, 2000, 'two long polls held open');
  const polls = md.requests.filter((r) => r.url.includes('wait_for_change=true'));
  expect(polls.map((r) => r.url.split('?')[0]).sort()).toEqual(['/computeMetadata/v1/instance/maintenance-event', '/computeMetadata/v1/instance/preempted']);
  expect(polls.every((r) => r.headers['metadata-flavor'] === 'Google' && /last_etag=[0-9a-f]+&timeout_sec=60/.test(r.url))).toBe(true);
  const before = md.requests.length;
  await new Promise((r) => setTimeout(r, 300));
  expect(md.requests.length).toBe(before); // a long poll, not a busy loop
  const published = Date.now();
  md.preempt();
  await waitFor(() => w.events.length > 0, 2000, 'the preemption');
  expect(Date.now() - published).toBeLessThan(200);
  const e = w.events[0];
  expect(e).toMatchObject({ cloud: Cloud.GCP, kind: InterruptionKind.PREEMPTION, instanceId: '4567890123456789012', detail: 'TRUE' });
  expect(e.deadline.getTime() - e.detectedAt.getTime()).toBe(30_000);
  await w.stop();
});

test('a VM preempted before the agent started is reported by the first read', async () => {
  md.preempt();
  const w = runWatcher(new GcpInterruptionWatcher({ endpoint: md.url }));
  await waitFor(() => w.events.length > 0, 2000, 'the preemption');
  expect(md.requests.filter((r) => r.url.startsWith('/computeMetadata/v1/instance/preempted?wait_for_change'))).toHaveLength(0);
  await w.stop();
});

test('a long poll that times out unchanged is simply renewed', async () => {
  const w = runWatcher(new GcpInterruptionWatcher({ endpoint: md.url, longPollSeconds: 0.2 }));
  await new Promise((r) => setTimeout(r, 700));
  const renewed = md.requests.filter((r) => r.url.startsWith('/computeMetadata/v1/instance/preempted?wait_for_change')).length;
  expect(renewed).toBeGreaterThanOrEqual(2);
  expect(w.events).toHaveLength(0);
  md.preempt();
  await waitFor(() => w.events.length > 0, 2000, 'the preemption');
  await w.stop();
});

test('maintenance: live migration is ignored, a terminating maintenance event is reported', async () => {
  const w = runWatcher(new GcpInterruptionWatcher({ endpoint: md.url }));
  await waitFor(() => md.openLongPolls === 2, 2000, 'long polls');
  md.set('instance/maintenance-event', 'MIGRATE_ON_HOST_MAINTENANCE');
  await waitFor(() => md.openLongPolls === 2 && md.requests.length > 6, 2000, 'the renewed long poll');
  expect(w.events).toHaveLength(0);
  md.set('instance/maintenance-event', 'TERMINATE_ON_HOST_MAINTENANCE');
  await waitFor(() => w.events.length > 0, 2000, 'the maintenance event');
  expect(w.events[0]).toMatchObject({ kind: InterruptionKind.MAINTENANCE, detail: 'TERMINATE_ON_HOST_MAINTENANCE' });
  await w.stop();
});

test('survives a metadata server that is down, slow, answers garbage or is not the metadata server', async () => {
  const w = runWatcher(new GcpInterruptionWatcher({ endpoint: md.url, requestTimeoutMs: 150, longPollSeconds: 0.3 }));
  md.fault = 'down';
  await new Promise((r) => setTimeout(r, 200));
  md.fault = 'slow';
  await new Promise((r) => setTimeout(r, 400));
  md.fault = 'garbage';
  await new Promise((r) => setTimeout(r, 200));
  expect(w.events).toHaveLength(0);
  md.fault = 'none';
  md.preempt();
  await waitFor(() => w.events.length > 0, 6000, 'the preemption after the faults');
  expect(w.crashed).toBeUndefined();
  expect(w.messages()).toContain('Google Cloud metadata server long poll of instance/preempted failed; retrying');
  await w.stop();
});

test('a request without Metadata-Flavor is refused, and an answer without it is not trusted', async () => {
  const { httpRequest } = await import('../../../lib/runtime/http');
  expect((await httpRequest(md.url + '/computeMetadata/v1/instance/id')).status).toBe(403);
  // Something else on the address (a proxy, a captive portal) answers without the header.
  class Impostor extends LoopbackServer {
    protected handle(_req: SeenRequest, res: http.ServerResponse): void {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('TRUE');
    }
  }
  const impostor = await new Impostor().start();
  try {
    const watcher = new GcpInterruptionWatcher({ endpoint: impostor.url });
    await expect(watcher.get('instance/preempted', '', 500, new AbortController().signal)).rejects.toThrow(
      /answer for instance\/preempted lacks the Metadata-Flavor: Google header \(status 200\): not the metadata server/,
    );
    const w = runWatcher(watcher);
    await new Promise((r) => setTimeout(r, 300));
    expect(w.events).toHaveLength(0);
    await w.stop();
  } finally {
    await impostor.stop();
  }
});

test('a garbage value is retried, not taken for a notice', async () => {
  const w = runWatcher(new GcpInterruptionWatcher({ endpoint: md.url }));
  md.fault = 'garbage';
  await waitFor(() => w.lines.some((l) => String(l.error).includes('is not a metadata value')), 3000, 'the garbage warning');
  expect(w.events).toHaveLength(0);
  await w.stop();
});
