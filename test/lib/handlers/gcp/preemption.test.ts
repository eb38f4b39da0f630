import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  createMonitoringClient,
  decodeLogEntry,
  GoogleApiError,
  jsonLineLogger,
  MetricsClient,
  parsePreemption,
  PreemptionClients,
  PreemptionPoint,
  PreemptionSettings,
  PubsubCloudEvent,
  recordPreemption,
  settingsFromEnv,
} from '../../../../lib/handlers/gcp/preemption';

/** A Compute Engine system-event audit log entry for a preempted spot VM, as a logging sink exports it. */
const SAMPLE_ENTRY = {
  protoPayload: {
    '@type': 'type.googleapis.com/google.cloud.audit.AuditLog',
    status: { message: 'Instance was preempted.' },
    authenticationInfo: { principalEmail: 'system@google.com' },
    serviceName: 'compute.googleapis.com',
    methodName: 'compute.instances.preempted',
    resourceName: 'projects/test-project/zones/us-central1-b/instances/llm-spot-x7k2',
    request: { '@type': 'type.googleapis.com/compute.instances.preempted' },
  },
  insertId: '-kq3v0re2kmq',
  resource: { type: 'gce_instance', labels: { instance_id: '4423106298373372112', project_id: 'test-project', zone: 'us-central1-b' } },
  timestamp: '2026-11-27T21:03:12.114Z',
  severity: 'INFO',
  logName: 'projects/test-project/logs/cloudaudit.googleapis.com%2Fsystem_event',
  operation: { id: 'systemevent-1764277392000-64c1b3a9e1f8a-2d0a6c3e-0b1f9a47', producer: 'compute.instances.preempted', first: true, last: true },
  receiveTimestamp: '2026-11-27T21:03:12.907Z',
};

function cloudEvent(entry: unknown, raw?: string): PubsubCloudEvent {
  return {
    id: '13371337',
    type: 'google.cloud.pubsub.topic.v1.messagePublished',
    source: '//pubsub.googleapis.com/projects/test-project/topics/llm-preemptions',
    data: {
      message: { data: raw ?? Buffer.from(JSON.stringify(entry)).toString('base64'), messageId: '13371337', publishTime: '2026-11-27T21:03:13.2Z' },
      subscription: 'projects/test-project/subscriptions/eventarc-us-central1-llm-preemption-123',
    },
  };
}

const SETTINGS: PreemptionSettings = {
  fleetName: 'llm',
  project: 'test-project',
  instanceNamePrefix: 'llm-spot-',
  metricType: 'custom.googleapis.com/spot_inference/preemptions',
  terminationAction: 'DELETE',
};

function fakeClients(writePoint: MetricsClient['writePoint'] = async () => undefined) {
  const logs: Record<string, any>[] = [];
  const points: PreemptionPoint[] = [];
  const clients: PreemptionClients = {
    metrics: {
      writePoint: async (p) => {
        points.push(p);
        return writePoint(p);
      },
    },
    log: (e) => logs.push(e),
    now: () => new Date('2026-11-27T21:03:14.614Z'),
  };
  return { clients, logs, points };
}

describe('decoding and parsing', () => {
  test('decodes the LogEntry from the Pub/Sub CloudEvent and reads the preemption', () => {
    const entry = decodeLogEntry(cloudEvent(SAMPLE_ENTRY));
    expect(parsePreemption(entry)).toEqual({
      project: 'test-project',
      zone: 'us-central1-b',
      instanceName: 'llm-spot-x7k2',
      instanceId: '4423106298373372112',
      preemptedAt: '2026-11-27T21:03:12.114Z',
      insertId: '-kq3v0re2kmq',
    });
  });

  test('refuses what is not a preemption', () => {
    expect(parsePreemption({ ...SAMPLE_ENTRY, protoPayload: { ...SAMPLE_ENTRY.protoPayload, methodName: 'v1.compute.instances.delete' } })).toBeUndefined();
    expect(parsePreemption({ ...SAMPLE_ENTRY, protoPayload: { ...SAMPLE_ENTRY.protoPayload, resourceName: 'projects/p/global/instanceTemplates/t' } })).toBeUndefined();
    expect(parsePreemption(null)).toBeUndefined();
    expect(parsePreemption('text')).toBeUndefined();
  });

  test('decode errors name what is wrong', () => {
    expect(() => decodeLogEntry({})).toThrow(/the CloudEvent has no data.message.data \(expected a Pub\/Sub message carrying a LogEntry\)/);
    expect(() => decodeLogEntry(cloudEvent(undefined, Buffer.from('not json').toString('base64')))).toThrow(/data.message.data is not base64-encoded JSON \(starts with "not json"\)/);
  });

  test('settings come from the environment the construct sets', () => {
    expect(
      settingsFromEnv({ FLEET_NAME: 'llm', GCP_PROJECT: 'test-project', INSTANCE_NAME_PREFIX: 'llm-spot-', METRIC_TYPE: 'custom.googleapis.com/x', TERMINATION_ACTION: 'STOP' }),
    ).toEqual({ fleetName: 'llm', project: 'test-project', instanceNamePrefix: 'llm-spot-', metricType: 'custom.googleapis.com/x', terminationAction: 'STOP' });
    expect(() => settingsFromEnv({ FLEET_NAME: 'llm' })).toThrow(
      /preemption function misconfigured: environment variables GCP_PROJECT, INSTANCE_NAME_PREFIX, METRIC_TYPE not set \(the GcpPreemptionHook construct sets them\)/,
    );
  });
});

describe('recordPreemption', () => {
  test('records a preemption: one metric point and one structured log line', async () => {
    const { clients, logs, points } = fakeClients();
    const out = await recordPreemption(cloudEvent(SAMPLE_ENTRY), SETTINGS, clients);
    expect(out.status).toBe('recorded');
    expect(points).toEqual([
      {
        project: 'test-project',
        metricType: 'custom.googleapis.com/spot_inference/preemptions',
        labels: { fleet: 'llm', zone: 'us-central1-b', instance: 'llm-spot-x7k2' },
        at: '2026-11-27T21:03:12.114Z',
      },
    ]);
    expect(logs).toEqual([
      expect.objectContaining({
        severity: 'NOTICE',
        message: 'spot preemption: llm-spot-x7k2 in us-central1-b (fleet llm)',
        status: 'recorded',
        fleet: 'llm',
        zone: 'us-central1-b',
        instance: 'llm-spot-x7k2',
        instanceId: '4423106298373372112',
        preemptedAt: '2026-11-27T21:03:12.114Z',
        deliveryDelaySeconds: 2.5,
        terminationAction: 'DELETE',
        eventId: '13371337',
        'logging.googleapis.com/labels': { 'spot-fleet': 'llm', zone: 'us-central1-b' },
      }),
    ]);
  });

  test('a repeated delivery is a duplicate, not an error', async () => {
    const { clients, logs } = fakeClients(async () => {
      throw new GoogleApiError(400, 'Field timeSeries[0].points[0].interval.end_time had an invalid value: Points must be written in order.');
    });
    const out = await recordPreemption(cloudEvent(SAMPLE_ENTRY), SETTINGS, clients);
    expect(out.status).toBe('duplicate');
    expect(logs[0]).toMatchObject({ severity: 'NOTICE', status: 'duplicate', message: expect.stringMatching(/already written \(repeated delivery\)$/) });
  });

  test('a refused metric (e.g. permission) is logged as an error and acknowledged', async () => {
    const { clients, logs } = fakeClients(async () => {
      throw new GoogleApiError(403, "Permission monitoring.timeSeries.create denied (or the resource may not exist).");
    });
    const out = await recordPreemption(cloudEvent(SAMPLE_ENTRY), SETTINGS, clients);
    expect(out).toMatchObject({ status: 'metric-rejected', reason: expect.stringMatching(/^Cloud Monitoring refused the point \(HTTP 403\): Permission/) });
    expect(logs[0].severity).toBe('ERROR');
  });

  test.each([
    ['HTTP 503', new GoogleApiError(503, 'The service is currently unavailable.')],
    ['HTTP 429', new GoogleApiError(429, 'Quota exceeded')],
    ['a network error', new TypeError('fetch failed')],
  ])('%s is thrown so that Eventarc retries', async (_label, err) => {
    const { clients, logs } = fakeClients(async () => {
      throw err;
    });
    await expect(recordPreemption(cloudEvent(SAMPLE_ENTRY), SETTINGS, clients)).rejects.toBe(err);
    expect(logs[0]).toMatchObject({ severity: 'ERROR', message: expect.stringMatching(/^spot preemption: metric write failed, will retry: /) });
  });

  test('VMs of other fleets or projects are ignored', async () => {
    const { clients, logs, points } = fakeClients();
    const other = { ...SAMPLE_ENTRY, protoPayload: { ...SAMPLE_ENTRY.protoPayload, resourceName: 'projects/test-project/zones/us-central1-b/instances/batch-spot-1' } };
    const out = await recordPreemption(cloudEvent(other), SETTINGS, clients);
    expect(out).toMatchObject({ status: 'ignored', reason: 'instance test-project/batch-spot-1 is not a spot VM of fleet llm (test-project/llm-spot-*)' });
    const foreign = { ...SAMPLE_ENTRY, protoPayload: { ...SAMPLE_ENTRY.protoPayload, resourceName: 'projects/other/zones/us-central1-b/instances/llm-spot-1' } };
    expect((await recordPreemption(cloudEvent(foreign), SETTINGS, clients)).status).toBe('ignored');
    // Quiet at INFO (DEBUG lines only), but each one counted under its reason; no preemption point.
    expect(logs.map((l) => l.severity)).toEqual(['DEBUG', 'DEBUG']);
    expect(points).toEqual([
      { project: 'test-project', metricType: 'custom.googleapis.com/spot_inference/preemptions_ignored', labels: { fleet: 'llm', reason: 'other-fleet' }, at: '2026-11-27T21:03:14.614Z' },
      { project: 'test-project', metricType: 'custom.googleapis.com/spot_inference/preemptions_ignored', labels: { fleet: 'llm', reason: 'other-fleet' }, at: '2026-11-27T21:03:14.614Z' },
    ]);
  });

  test('counting an ignored message never fails the delivery: a refused point is logged, not thrown', async () => {
    const notPreempted = { ...SAMPLE_ENTRY, protoPayload: { ...SAMPLE_ENTRY.protoPayload, methodName: 'compute.instances.guestTerminate' } };
    const collide = fakeClients(async () => {
      throw new GoogleApiError(400, 'One or more points were written more frequently than the maximum sampling period configured for the metric.');
    });
    await expect(recordPreemption(cloudEvent(notPreempted), SETTINGS, collide.clients)).resolves.toMatchObject({ status: 'ignored', ignoredReason: 'not-preemption' });
    expect(collide.logs.map((l) => [l.severity, l.message])).toEqual([
      ['DEBUG', 'spot preemption: message ignored: not a compute.instances.preempted audit log entry'],
      ['DEBUG', 'spot preemption: could not count the not-preemption message: One or more points were written more frequently than the maximum sampling period configured for the metric.'],
    ]);
    const down = fakeClients(async () => {
      throw new GoogleApiError(503, 'The service is currently unavailable.');
    });
    await expect(recordPreemption(cloudEvent(notPreempted), SETTINGS, down.clients)).resolves.toMatchObject({ status: 'ignored' });
    expect(down.logs[1]).toMatchObject({ severity: 'WARNING', message: 'spot preemption: could not count the not-preemption message: The service is currently unavailable.' });
  });

  test('other log entries are ignored, malformed messages acknowledged', async () => {
    const { clients, logs, points } = fakeClients();
    const notPreempted = { ...SAMPLE_ENTRY, protoPayload: { ...SAMPLE_ENTRY.protoPayload, methodName: 'compute.instances.guestTerminate' } };
    expect(await recordPreemption(cloudEvent(notPreempted), SETTINGS, clients)).toEqual({ status: 'ignored', reason: 'not a compute.instances.preempted audit log entry', ignoredReason: 'not-preemption' });
    const bad = await recordPreemption(cloudEvent(undefined, '%%%'), SETTINGS, clients);
    expect(bad).toMatchObject({ status: 'malformed', ignoredReason: 'malformed' });
    expect(points.map((p) => [p.metricType, p.labels.reason])).toEqual([
      ['custom.googleapis.com/spot_inference/preemptions_ignored', 'not-preemption'],
      ['custom.googleapis.com/spot_inference/preemptions_ignored', 'malformed'],
    ]);
    expect(logs[1]).toMatchObject({ severity: 'ERROR', message: expect.stringMatching(/^spot preemption: malformed message acknowledged: /) });
    // A CloudEvent that is null or carries a JSON null LogEntry is malformed / ignored, never a crash.
    await expect(recordPreemption(null as unknown as PubsubCloudEvent, SETTINGS, clients)).resolves.toMatchObject({ status: 'malformed' });
    await expect(recordPreemption(cloudEvent(null), SETTINGS, clients)).resolves.toMatchObject({ status: 'ignored', ignoredReason: 'not-preemption' });
  });

  test('an entry without a timestamp is recorded at the delivery time', async () => {
    const { clients, points } = fakeClients();
    const { timestamp: _t, receiveTimestamp: _r, ...noTime } = SAMPLE_ENTRY;
    await recordPreemption(cloudEvent(noTime), SETTINGS, clients);
    expect(points[0].at).toBe('2026-11-27T21:03:14.614Z');
  });

  test('the JSON line logger writes one parseable line per entry', () => {
    const lines: string[] = [];
    jsonLineLogger((l) => lines.push(l))({ severity: 'NOTICE', message: 'hi' });
    expect(lines.map((l) => JSON.parse(l))).toEqual([{ severity: 'NOTICE', message: 'hi' }]);
  });
});

describe('Cloud Monitoring REST client against a server on 127.0.0.1', () => {
  let server: Server;
  let endpoint: string;
  const seen: Array<{ method?: string; url?: string; auth?: string; body: any }> = [];
  let reply: (res: ServerResponse) => void = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}');

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body: JSON.parse(body || 'null') });
        reply(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    seen.length = 0;
    reply = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });

  test('writes a GAUGE INT64 point with the bearer token', async () => {
    const client = createMonitoringClient({ endpoint: `${endpoint}/`, getAccessToken: async () => 'tok-123' });
    await client.writePoint({ project: 'test-project', metricType: 'custom.googleapis.com/spot_inference/preemptions', labels: { fleet: 'llm', zone: 'us-central1-b', instance: 'llm-spot-x7k2' }, at: '2026-11-27T21:03:12.114Z' });
    expect(seen).toEqual([
      {
        method: 'POST',
        url: '/v3/projects/test-project/timeSeries',
        auth: 'Bearer tok-123',
        body: {
          timeSeries: [
            {
              metric: { type: 'custom.googleapis.com/spot_inference/preemptions', labels: { fleet: 'llm', zone: 'us-central1-b', instance: 'llm-spot-x7k2' } },
              resource: { type: 'global', labels: { project_id: 'test-project' } },
              metricKind: 'GAUGE',
              valueType: 'INT64',
              points: [{ interval: { endTime: '2026-11-27T21:03:12.114Z' }, value: { int64Value: '1' } }],
            },
          ],
        },
      },
    ]);
  });

  test('API errors become GoogleApiError with the API message', async () => {
    reply = (res) => res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 400, message: 'Points must be written in order.', status: 'INVALID_ARGUMENT' } }));
    const client = createMonitoringClient({ endpoint, getAccessToken: async () => 't' });
    const err = await client.writePoint({ project: 'p', metricType: 'm', labels: {}, at: '2026-01-01T00:00:00Z' }).catch((e) => e);
    expect(err).toBeInstanceOf(GoogleApiError);
    expect(err).toMatchObject({ status: 400, message: 'Points must be written in order.', transient: false });
    reply = (res) => res.writeHead(502).end('bad gateway');
    const err2 = await client.writePoint({ project: 'p', metricType: 'm', labels: {}, at: '2026-01-01T00:00:00Z' }).catch((e) => e);
    expect(err2).toMatchObject({ status: 502, message: 'bad gateway', transient: true });
  });

  test('end to end: the same message delivered twice is recorded once, then acknowledged as a duplicate', async () => {
    let n = 0;
    reply = (res) => {
      n += 1;
      if (n === 1) res.writeHead(200).end('{}');
      else res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'One or more TimeSeries could not be written: Points must be written in order.' } }));
    };
    const logs: Record<string, unknown>[] = [];
    const clients: PreemptionClients = {
      metrics: createMonitoringClient({ endpoint, getAccessToken: async () => 't' }),
      log: (e) => logs.push(e),
      now: () => new Date('2026-11-27T21:03:14Z'),
    };
    const event = cloudEvent(SAMPLE_ENTRY);
    expect((await recordPreemption(event, SETTINGS, clients)).status).toBe('recorded');
    expect((await recordPreemption(event, SETTINGS, clients)).status).toBe('duplicate');
    expect(seen).toHaveLength(2);
    expect(seen[0].body).toEqual(seen[1].body);
  });
});

describe('the bundle', () => {
  const root = join(__dirname, '..', '..', '..', '..');
  const dir = join(root, 'dist', 'handlers', 'gcp', 'preemption');
  beforeAll(() => {
    if (!existsSync(join(dir, 'index.js'))) {
      execFileSync(process.execPath, [join(root, 'scripts', 'build-handlers.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
    }
  });

  test('exports the entry point and ships a package.json for Node.js 22', () => {
    const mod = require(join(dir, 'index.js')) as Record<string, unknown>;
    expect(typeof mod.handlePreemption).toBe('function');
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(pkg.main).toBe('index.js');
    expect(pkg.engines.node).toBe('>=22');
    expect(pkg.dependencies['@google-cloud/functions-framework']).toBeDefined();
  });
});
