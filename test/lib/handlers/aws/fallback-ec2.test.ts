/**
 * The fallback controller's own EC2 DescribeInstances call (no @aws-sdk/client-ec2): Signature Version 4
 * checked against AWS's published example and against the SDK's own signer, and the call against a
 * loopback EC2 Query endpoint (batching, pages, vanished instances, errors).
 */
import { createHash, createHmac } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { Ec2QueryError, createEc2LifecycleReader, createSsmParameterStore, parseDescribeInstances, signV4 } from '../../../../lib/handlers/aws/fallback-ec2';
import { isRetryable } from '../../../../lib/handlers/aws/retry';

const CREDS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

/** node:crypto as the SDK signer's hash constructor. */
class Sha256 {
  private readonly h;
  constructor(secret?: string | Uint8Array) {
    this.h = secret ? createHmac('sha256', Buffer.from(secret as Uint8Array)) : createHash('sha256');
  }
  update(data: string | Uint8Array): void {
    this.h.update(typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
}

describe('signV4', () => {
  test("AWS's get-vanilla example of the Signature Version 4 test suite", () => {
    const h = signV4({ method: 'GET', url: 'https://example.amazonaws.com/', headers: {}, body: '' }, { credentials: CREDS, region: 'us-east-1', service: 'service', now: new Date('2015-08-30T12:36:00Z') });
    expect(h.authorization).toBe('AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
  });

  test('the same signature as the SDK signer for an EC2 Query POST with a session token', async () => {
    const body = 'Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=instance-id&Filter.1.Value.1=i-0123456789abcdef0';
    const now = new Date('2026-11-27T12:00:00Z');
    const creds = { ...CREDS, sessionToken: 'token/with+odd=chars' };
    const mine = signV4({ method: 'POST', url: 'https://ec2.us-west-2.amazonaws.com/', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body }, { credentials: creds, region: 'us-west-2', service: 'ec2', now });
    const sdk = new SignatureV4({ credentials: creds, region: 'us-west-2', service: 'ec2', sha256: Sha256 as never, applyChecksum: false });
    const signed = await sdk.sign(
      { method: 'POST', protocol: 'https:', hostname: 'ec2.us-west-2.amazonaws.com', path: '/', headers: { host: 'ec2.us-west-2.amazonaws.com', 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body, query: {} } as never,
      { signingDate: now },
    );
    const theirs = (signed as unknown as { headers: Record<string, string> }).headers;
    const sig = (a: string) => /Signature=([0-9a-f]{64})/.exec(a)![1];
    // (applyChecksum false: the SDK's EC2 client does not send x-amz-content-sha256 either)
    expect(theirs.authorization).toMatch(/SignedHeaders=content-type;host;x-amz-date;x-amz-security-token/);
    expect(mine.authorization).toMatch(/SignedHeaders=content-type;host;x-amz-date;x-amz-security-token/);
    expect(sig(mine.authorization)).toBe(sig(theirs.authorization));
    expect(mine['x-amz-security-token']).toBe('token/with+odd=chars');
  });
});

describe('parseDescribeInstances', () => {
  test('lifecycle and type per instance; on-demand instances have no instanceLifecycle; nested sets are ignored', () => {
    const xml = `<DescribeInstancesResponse><reservationSet><item><instancesSet>
      <item><instanceId>i-0000000000000000a</instanceId><instanceType>g5.xlarge</instanceType><networkInterfaceSet><item><attachment><attachmentId>eni-attach-1</attachmentId></attachment></item></networkInterfaceSet><instanceLifecycle>spot</instanceLifecycle></item>
      <item><instanceId>i-0000000000000000b</instanceId><instanceType>g6.xlarge</instanceType></item>
    </instancesSet></item></reservationSet><nextToken>tok-2</nextToken></DescribeInstancesResponse>`;
    const { instances, nextToken } = parseDescribeInstances(xml);
    expect([...instances.entries()]).toEqual([
      ['i-0000000000000000a', { spot: true, instanceType: 'g5.xlarge' }],
      ['i-0000000000000000b', { spot: false, instanceType: 'g6.xlarge' }],
    ]);
    expect(nextToken).toBe('tok-2');
    expect(parseDescribeInstances('<DescribeInstancesResponse><reservationSet/></DescribeInstancesResponse>').instances.size).toBe(0);
  });
});

describe('createEc2LifecycleReader against a loopback EC2 Query endpoint', () => {
  let server: http.Server;
  let endpoint: string;
  let requests: Array<{ params: URLSearchParams; headers: http.IncomingHttpHeaders }>;
  let answer: (params: URLSearchParams) => { status: number; body: string };
  const spotIds = new Set<string>();

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const params = new URLSearchParams(body);
        requests.push({ params, headers: req.headers });
        const out = answer(params);
        res.writeHead(out.status, { 'content-type': 'text/xml' });
        res.end(out.body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));
  beforeEach(() => {
    requests = [];
    answer = (params) => {
      const ids = [...params.entries()].filter(([k]) => /^Filter\.1\.Value\.\d+$/.test(k)).map(([, v]) => v).filter((id) => !id.endsWith('dead'));
      const items = ids.map((id) => `<item><instanceId>${id}</instanceId><instanceType>g5.xlarge</instanceType>${spotIds.has(id) ? '<instanceLifecycle>spot</instanceLifecycle>' : ''}</item>`).join('');
      return { status: 200, body: `<DescribeInstancesResponse><reservationSet><item><instancesSet>${items}</instancesSet></item></reservationSet></DescribeInstancesResponse>` };
    };
  });

  const reader = (batchSize?: number) => createEc2LifecycleReader({ region: 'us-east-1', endpoint, credentials: async () => CREDS, batchSize });

  test('signed EC2 Query calls, 200 ids a call by filter; vanished instances are absent', async () => {
    const ids = Array.from({ length: 251 }, (_, k) => `i-${k.toString(16).padStart(17, '0')}`);
    ids[3] = 'i-00000000000000dead';
    spotIds.add(ids[0]);
    const out = await reader().describe(ids);
    expect(requests.map((r) => [...r.params.keys()].filter((k) => k.startsWith('Filter.1.Value.')).length)).toEqual([200, 51]);
    expect(requests[0].params.get('Action')).toBe('DescribeInstances');
    expect(requests[0].params.get('Version')).toBe('2016-11-15');
    expect(requests[0].params.get('Filter.1.Name')).toBe('instance-id');
    expect(requests[0].headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/ec2\/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=[0-9a-f]{64}$/);
    expect(out.size).toBe(250);
    expect(out.has('i-00000000000000dead')).toBe(false);
    expect(out.get(ids[0])).toEqual({ spot: true, instanceType: 'g5.xlarge' });
    expect(out.get(ids[1])).toEqual({ spot: false, instanceType: 'g5.xlarge' });
  });

  test('every page is read (NextToken)', async () => {
    answer = (params) => {
      const token = params.get('NextToken');
      const id = token ? 'i-0000000000000000b' : 'i-0000000000000000a';
      return { status: 200, body: `<DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>${id}</instanceId></item></instancesSet></item></reservationSet>${token ? '' : '<nextToken>p2</nextToken>'}</DescribeInstancesResponse>` };
    };
    const out = await reader().describe(['i-0000000000000000a', 'i-0000000000000000b']);
    expect([...out.keys()]).toEqual(['i-0000000000000000a', 'i-0000000000000000b']);
    expect(requests[1].params.get('NextToken')).toBe('p2');
  });

  test('EC2 errors carry their code and status, so throttling is retried and a denial is not', async () => {
    answer = () => ({ status: 503, body: '<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors></Response>' });
    const throttled = await reader().describe(['i-0000000000000000a']).catch((e) => e);
    expect(throttled).toBeInstanceOf(Ec2QueryError);
    expect(throttled.name).toBe('RequestLimitExceeded');
    expect(throttled.message).toBe('RequestLimitExceeded: Request limit exceeded.');
    expect(isRetryable(throttled)).toBe(true);
    answer = () => ({ status: 403, body: '<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors></Response>' });
    const denied = await reader().describe(['i-0000000000000000a']).catch((e) => e);
    expect(denied.name).toBe('UnauthorizedOperation');
    expect(isRetryable(denied)).toBe(false);
  });

  test('a network error is a retryable error, not a crash', async () => {
    const r = createEc2LifecycleReader({ region: 'us-east-1', endpoint: 'http://127.0.0.1:1', credentials: async () => CREDS });
    const err = await r.describe(['i-0000000000000000a']).catch((e) => e);
    expect(err).toBeInstanceOf(Ec2QueryError);
    expect(err.name).toBe('NetworkingError');
    expect(isRetryable(err)).toBe(true);
  });
});

describe('createSsmParameterStore against a loopback SSM endpoint (JSON 1.1)', () => {
  let server: http.Server;
  let endpoint: string;
  let requests: Array<{ target: string; body: Record<string, unknown>; headers: http.IncomingHttpHeaders }>;
  let stored: string | undefined;
  let failNext: { status: number; type: string } | undefined;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const target = String(req.headers['x-amz-target']);
        const json = JSON.parse(body || '{}');
        requests.push({ target, body: json, headers: req.headers });
        const send = (status: number, value: unknown) => {
          res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
          res.end(JSON.stringify(value));
        };
        if (failNext) {
          const f = failNext;
          failNext = undefined;
          return send(f.status, { __type: f.type, message: `injected ${f.type}` });
        }
        if (target === 'AmazonSSM.GetParameter') return stored === undefined ? send(400, { __type: 'ParameterNotFound', message: '' }) : send(200, { Parameter: { Name: json.Name, Value: stored, Version: 1 } });
        if (target === 'AmazonSSM.PutParameter') {
          stored = json.Value;
          return send(200, { Version: 2, Tier: 'Standard' });
        }
        return send(400, { __type: 'InvalidAction' });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));
  beforeEach(() => {
    requests = [];
    stored = undefined;
    failNext = undefined;
  });
  const store = () => createSsmParameterStore({ region: 'us-east-1', endpoint, credentials: async () => ({ ...CREDS, sessionToken: 'tok' }) });

  test('a missing parameter reads as undefined; put overwrites; get reads it back; calls are signed for ssm', async () => {
    expect(await store().get('/p')).toBeUndefined();
    await store().put('/p', '{"v":1}');
    expect(await store().get('/p')).toBe('{"v":1}');
    expect(requests.map((r) => r.target)).toEqual(['AmazonSSM.GetParameter', 'AmazonSSM.PutParameter', 'AmazonSSM.GetParameter']);
    expect(requests[1].body).toEqual({ Name: '/p', Value: '{"v":1}', Overwrite: true });
    expect(requests[0].headers.authorization).toMatch(/Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/ssm\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target/);
    expect(requests[0].headers['content-type']).toBe('application/x-amz-json-1.1');
  });

  test('errors carry the SSM error code: throttling is retryable, access denied is not', async () => {
    failNext = { status: 400, type: 'ThrottlingException' };
    const t = await store().put('/p', 'x').catch((e) => e);
    expect(t.name).toBe('ThrottlingException');
    expect(isRetryable(t)).toBe(true);
    failNext = { status: 400, type: 'com.amazon.coral.service#AccessDeniedException' };
    const d = await store().get('/p').catch((e) => e);
    expect(d.name).toBe('AccessDeniedException');
    expect(d.message).toBe('AccessDeniedException: injected com.amazon.coral.service#AccessDeniedException');
    expect(isRetryable(d)).toBe(false);
  });
});
