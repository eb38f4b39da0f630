/**
 * The one EC2 call of the fallback controller, `DescribeInstances`, without `@aws-sdk/client-ec2`.
 *
 * Only DescribeInstances tells a spot instance of a mixed-instances group from an on-demand one
 * (`instanceLifecycle`; the Auto Scaling `Instance` has no market field). The EC2 client is 1 MB of the
 * controller's bundle for that one call (its serializers cannot be tree-shaken), so this file sends the
 * call itself: the EC2 Query protocol (`Action=DescribeInstances&Version=2016-11-15&Filter.N...`, an XML
 * answer), signed with Signature Version 4 (node:crypto), with the credentials and region of the Auto
 * Scaling client the controller already has. Only `instanceId`, `instanceType` and `instanceLifecycle` are
 * read from the answer.
 *
 * References: EC2 Query API (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-Requests.html),
 * Signature Version 4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html).
 */
import { createHash, createHmac } from 'node:crypto';

/** AWS credentials, as the SDK's credential providers return them. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** What the controller needs to know of an instance. */
export interface InstanceLifecycle {
  /** True for a spot instance (`instanceLifecycle` = `spot`); false for on-demand. */
  readonly spot: boolean;
  readonly instanceType?: string;
}

/** Reads the lifecycle of instances by id. Instances that no longer exist are absent from the answer. */
export interface InstanceLifecycleReader {
  describe(ids: string[]): Promise<Map<string, InstanceLifecycle>>;
}

/** An error answered by EC2, shaped like an SDK error (`name` = the EC2 error code) so the retry layer can read it. */
export class Ec2QueryError extends Error {
  public readonly $metadata: { httpStatusCode: number };
  public readonly $fault: 'client' | 'server';
  constructor(code: string, message: string, status: number) {
    super(`${code}: ${message}`);
    this.name = code;
    this.$metadata = { httpStatusCode: status };
    this.$fault = status >= 500 ? 'server' : 'client';
  }
}

const sha256 = (data: string): string => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/** RFC 3986 encoding, as Signature Version 4 wants it. */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A request to sign. */
export interface SignableRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Sign a request with Signature Version 4: returns the headers to send (the given ones, plus `host`,
 * `x-amz-date`, `x-amz-security-token` when there is a session token, and `authorization`).
 */
export function signV4(req: SignableRequest, o: { credentials: AwsCredentials; region: string; service: string; now: Date }): Record<string, string> {
  const url = new URL(req.url);
  const amzDate = o.now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v.trim().replace(/\s+/g, ' ');
  headers.host = url.host;
  headers['x-amz-date'] = amzDate;
  if (o.credentials.sessionToken) headers['x-amz-security-token'] = o.credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const query = [...url.searchParams.entries()]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const path = url.pathname.split('/').map((seg) => uriEncode(decodeURIComponent(seg))).join('/') || '/';
  const canonical = [req.method.toUpperCase(), path, query, names.map((n) => `${n}:${headers[n]}\n`).join(''), names.join(';'), sha256(req.body)].join('\n');
  const scope = `${day}/${o.region}/${o.service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${o.credentials.secretAccessKey}`, day), o.region), o.service), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${o.credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return headers;
}

const text = (xml: string, tag: string): string | undefined => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];

/**
 * Read the instances of a DescribeInstances answer: each `<instanceId>` opens an instance; its
 * `instanceType` and `instanceLifecycle` are the first ones before the next instance. (The nested sets of
 * an instance, network interfaces, volumes, tags, hold no `instanceId`.)
 */
export function parseDescribeInstances(xml: string): { instances: Map<string, InstanceLifecycle>; nextToken?: string } {
  const instances = new Map<string, InstanceLifecycle>();
  const parts = xml.split(/<instanceId>/);
  for (let i = 1; i < parts.length; i++) {
    const end = parts[i].indexOf('</instanceId>');
    if (end < 0) continue;
    const id = parts[i].slice(0, end).trim();
    const rest = parts[i].slice(end);
    instances.set(id, { spot: text(rest, 'instanceLifecycle') === 'spot', instanceType: text(rest, 'instanceType') });
  }
  const nextToken = text(parts[parts.length - 1] ?? xml, 'nextToken');
  return { instances, nextToken: nextToken || undefined };
}

/** Options of {@link createEc2LifecycleReader}. */
export interface Ec2ReaderOptions {
  readonly region: string;
  /** Credentials (the Auto Scaling client's `config.credentials`). */
  readonly credentials: () => Promise<AwsCredentials>;
  /** @default - AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL, or https://ec2.<region>.amazonaws.com */
  readonly endpoint?: string;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** Ids per call. @default 200 */
  readonly batchSize?: number;
}

/**
 * {@link InstanceLifecycleReader} on the EC2 Query API: `DescribeInstances` by an `instance-id` filter (unlike
 * `InstanceIds`, a filter does not fail the whole call when one instance has vanished), 200 ids a call, every page.
 */
export function createEc2LifecycleReader(o: Ec2ReaderOptions): InstanceLifecycleReader {
  const endpoint = (o.endpoint ?? process.env.AWS_ENDPOINT_URL_EC2 ?? process.env.AWS_ENDPOINT_URL ?? `https://ec2.${o.region}.amazonaws.com`).replace(/\/+$/, '');
  const doFetch = o.fetch ?? globalThis.fetch;
  const batchSize = o.batchSize ?? 200;
  return {
    async describe(ids) {
      const out = new Map<string, InstanceLifecycle>();
      for (let i = 0; i < ids.length; i += batchSize) {
        const batch = ids.slice(i, i + batchSize);
        let token: string | undefined;
        do {
          const params = new URLSearchParams({ Action: 'DescribeInstances', Version: '2016-11-15', 'Filter.1.Name': 'instance-id' });
          batch.forEach((id, k) => params.set(`Filter.1.Value.${k + 1}`, id));
          if (token) params.set('NextToken', token);
          const body = params.toString();
          const headers = signV4(
            { method: 'POST', url: `${endpoint}/`, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body },
            { credentials: await o.credentials(), region: o.region, service: 'ec2', now: (o.now ?? (() => new Date()))() },
          );
          delete headers.host; // fetch sets it
          let res: Response;
          try {
            res = await doFetch(`${endpoint}/`, { method: 'POST', headers, body });
          } catch (e) {
            // A network error is worth a retry, like a 5xx.
            throw new Ec2QueryError('NetworkingError', e instanceof Error ? e.message : String(e), 503);
          }
          const xml = await res.text();
          if (!res.ok) throw new Ec2QueryError(text(xml, 'Code') ?? `HTTP${res.status}`, text(xml, 'Message') ?? xml.slice(0, 200), res.status);
          const page = parseDescribeInstances(xml);
          for (const [id, l] of page.instances) if (batch.includes(id)) out.set(id, l);
          token = page.nextToken;
        } while (token);
      }
      return out;
    },
  };
}

/**
 * The controller's state parameter, read and written with two SSM calls (`GetParameter`, `PutParameter`).
 * `get` answers `undefined` when the parameter does not exist.
 */
export interface StateParameterStore {
  get(name: string): Promise<string | undefined>;
  put(name: string, value: string): Promise<void>;
}

/** Options of {@link createSsmParameterStore}. */
export interface SsmStoreOptions {
  readonly region: string;
  readonly credentials: () => Promise<AwsCredentials>;
  /** @default - AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL, or https://ssm.<region>.amazonaws.com */
  readonly endpoint?: string;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/**
 * {@link StateParameterStore} on the SSM API (JSON 1.1 protocol: `POST /` with `X-Amz-Target: AmazonSSM.<Action>`),
 * signed like {@link createEc2LifecycleReader}: the SSM client would be another 207 KiB of the bundle for two calls.
 * Errors carry SSM's error code (`__type`) as their name, so the retry layer retries throttling.
 */
export function createSsmParameterStore(o: SsmStoreOptions): StateParameterStore {
  const endpoint = (o.endpoint ?? process.env.AWS_ENDPOINT_URL_SSM ?? process.env.AWS_ENDPOINT_URL ?? `https://ssm.${o.region}.amazonaws.com`).replace(/\/+$/, '');
  const doFetch = o.fetch ?? globalThis.fetch;
  const call = async (action: string, input: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> => {
    const body = JSON.stringify(input);
    const headers = signV4(
      { method: 'POST', url: `${endpoint}/`, headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AmazonSSM.${action}` }, body },
      { credentials: await o.credentials(), region: o.region, service: 'ssm', now: (o.now ?? (() => new Date()))() },
    );
    delete headers.host;
    let res: Response;
    try {
      res = await doFetch(`${endpoint}/`, { method: 'POST', headers, body });
    } catch (e) {
      throw new Ec2QueryError('NetworkingError', e instanceof Error ? e.message : String(e), 503);
    }
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = { message: text.slice(0, 200) };
    }
    return { status: res.status, body: parsed };
  };
  const fail = (status: number, body: Record<string, unknown>): never => {
    const type = String(body.__type ?? `HTTP${status}`).split('#').pop()!;
    throw new Ec2QueryError(type, String(body.message ?? body.Message ?? ''), status);
  };
  return {
    async get(name) {
      const { status, body } = await call('GetParameter', { Name: name });
      if (status === 400 && String(body.__type ?? '').endsWith('ParameterNotFound')) return undefined;
      if (status !== 200) fail(status, body);
      const value = (body.Parameter as { Value?: unknown } | undefined)?.Value;
      return typeof value === 'string' ? value : undefined;
    },
    async put(name, value) {
      const { status, body } = await call('PutParameter', { Name: name, Value: value, Overwrite: true });
      if (status !== 200) fail(status, body);
    },
  };
}
