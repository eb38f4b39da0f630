import { Cloud } from '../../../lib/spec';
import { AzureInterruptionWatcher, parseScheduledEvents } from '../../../lib/runtime/azure-watcher';
import { InterruptionKind } from '../../../lib/runtime/events';
import { runWatcher } from './support/collect';
import { waitFor } from './support/loopback';
import { AzureScheduledEventsEmulator } from './support/metadata-emulators';

let se: AzureScheduledEventsEmulator;
beforeEach(async () => {
  se = await new AzureScheduledEventsEmulator().start();
});
afterEach(() => se.stop());

test('polls Scheduled Events every second with Metadata: true and reports a Preempt of this VM with NotBefore as the deadline', async () => {
  const w = runWatcher(new AzureInterruptionWatcher({ endpoint: se.url }));
  await waitFor(() => se.requests.some((r) => r.url.startsWith('/metadata/scheduledevents')), 2000, 'the first poll');
  const event = se.schedule('Preempt', 30_000);
  await waitFor(() => w.events.length > 0, 2000, 'the Preempt');
  expect(Date.now() - se.publishedAt).toBeLessThanOrEqual(1100);
  expect(w.events[0]).toMatchObject({ cloud: Cloud.AZURE, kind: InterruptionKind.PREEMPTION, instanceId: se.vmName, eventId: event.EventId });
  expect(w.events[0].deadline.getTime()).toBe(new Date(event.NotBefore).getTime());
  const polls = se.requests.filter((r) => r.url === '/metadata/scheduledevents?api-version=2020-07-01');
  expect(polls.every((r) => r.headers.metadata === 'true')).toBe(true);
  // The VM name came from the instance metadata.
  expect(se.requests[0].url).toBe('/metadata/instance/compute/name?api-version=2021-02-01&format=text');
  await w.stop();
});

test('ignores events of other VMs and other event types, reports Terminate', async () => {
  const w = runWatcher(new AzureInterruptionWatcher({ endpoint: se.url, pollIntervalMs: 50 }));
  se.schedule('Preempt', 30_000, ['spotfleet_other']);
  se.schedule('Reboot', 30_000);
  await new Promise((r) => setTimeout(r, 200));
  expect(w.events).toHaveLength(0);
  se.schedule('Terminate', 60_000, ['SPOTFLEET_4F2A9C1E']);
  await waitFor(() => w.events.length > 0, 2000, 'the Terminate');
  expect(w.events[0].kind).toBe(InterruptionKind.TERMINATION);
  await new Promise((r) => setTimeout(r, 200));
  expect(w.events).toHaveLength(1);
  await w.stop();
});

test('acknowledge POSTs StartRequests with the event id', async () => {
  const watcher = new AzureInterruptionWatcher({ endpoint: se.url });
  const event = se.schedule('Preempt', 30_000);
  expect(await watcher.acknowledge([event.EventId], new Date(Date.now() + 2000))).toBe(true);
  const post = se.requests.find((r) => r.method === 'POST')!;
  expect(post.url).toBe('/metadata/scheduledevents?api-version=2020-07-01');
  expect(post.headers.metadata).toBe('true');
  expect(JSON.parse(post.body)).toEqual({ StartRequests: [{ EventId: event.EventId }] });
  expect(se.events).toHaveLength(0);
});

test('acknowledge retries a failing service until its deadline, then gives up', async () => {
  se.fault = 'error';
  const watcher = new AzureInterruptionWatcher({ endpoint: se.url });
  const started = Date.now();
  expect(await watcher.acknowledge(['X'], new Date(Date.now() + 600))).toBe(false);
  expect(Date.now() - started).toBeLessThan(1200);
  expect(se.requests.filter((r) => r.method === 'POST').length).toBeGreaterThan(1);
});

test('parseScheduledEvents checks the document shape', () => {
  expect(parseScheduledEvents('{"DocumentIncarnation":1,"Events":[]}').Events).toEqual([]);
  expect(() => parseScheduledEvents('nope')).toThrow(/Scheduled Events answer is not JSON: nope/);
  expect(() => parseScheduledEvents('{"DocumentIncarnation":1}')).toThrow(/has no Events array/);
  expect(() => parseScheduledEvents('{"Events":[{"EventId":"a"}]}')).toThrow(/lacks EventId\/EventType\/Resources/);
});

test('keeps polling through a service that is down, slow or answers garbage', async () => {
  const w = runWatcher(new AzureInterruptionWatcher({ endpoint: se.url, pollIntervalMs: 50, requestTimeoutMs: 150, instanceName: se.vmName }));
  se.fault = 'down';
  await new Promise((r) => setTimeout(r, 200));
  se.fault = 'slow';
  await new Promise((r) => setTimeout(r, 400));
  se.fault = 'garbage';
  se.schedule('Preempt', 30_000);
  await waitFor(() => w.lines.some((l) => String(l.error).includes('Scheduled Events answer is not JSON')), 6000, 'the garbage to be seen');
  expect(w.events).toHaveLength(0);
  se.fault = 'none';
  await waitFor(() => w.events.length > 0, 6000, 'the Preempt after the faults');
  expect(w.crashed).toBeUndefined();
  await w.stop();
});
