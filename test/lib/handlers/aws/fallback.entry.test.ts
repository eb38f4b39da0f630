/**
 * The built controller bundle (dist/handlers/aws/fallback/index.js), end to end over the real wire
 * protocols: one fake endpoint on 127.0.0.1 (AWS_ENDPOINT_URL) speaks Auto Scaling (Query/XML), EC2
 * (EC2 Query/XML) and SSM (JSON 1.1): Auto Scaling through the SDK client, EC2 and SSM through the bundle's own signed calls. Run `npm run build:handlers`
 * first (npm test does).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { Context } from 'aws-lambda';
import { spotWarning } from './sample-events';

const BUNDLE = path.join(__dirname, '../../../../dist/handlers/aws/fallback/index.js');
const SPOT = 'wire-asg';
const FALLBACK = 'wire-asg-od-fallback';
const PARAM = '/wire/fallback-state';

interface Request {
  readonly service: 'autoscaling' | 'ec2' | 'ssm';
  readonly action: string;
  readonly params: URLSearchParams;
  readonly json?: Record<string, unknown>;
}

let server: http.Server;
let requests: Request[];
let stored: string | undefined;
let fallbackDesired: number;
let spotInstances: Array<{ id: string; zone: string; type: string; spot: boolean }>;
let stdout: string[];
let savedEnv: NodeJS.ProcessEnv;
let handler: (e: unknown, c?: Context) => Promise<Record<string, unknown>>;

const ASG_NS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';
const asgOk = (action: string, result = '') =>
  `<${action}Response xmlns="${ASG_NS}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></${action}Response>`;

function group(name: string, desired: number, min: number, max: number, instances: typeof spotInstances): string {
  const members = instances
    .map((i) => `<member><InstanceId>${i.id}</InstanceId><InstanceType>${i.type}</InstanceType><AvailabilityZone>${i.zone}</AvailabilityZone><LifecycleState>InService</LifecycleState><HealthStatus>Healthy</HealthStatus><ProtectedFromScaleIn>false</ProtectedFromScaleIn></member>`)
    .join('');
  return `<member><AutoScalingGroupName>${name}</AutoScalingGroupName><MinSize>${min}</MinSize><MaxSize>${max}</MaxSize><DesiredCapacity>${desired}</DesiredCapacity><DefaultCooldown>300</DefaultCooldown><AvailabilityZones><member>us-east-1a</member><member>us-east-1b</member></AvailabilityZones><HealthCheckType>ELB</HealthCheckType><CreatedTime>2026-01-01T00:00:00Z</CreatedTime><Instances>${members}</Instances></member>`;
}

function answer(r: Request): { status: number; body: string; type: string } {
  const xml = (body: string, status = 200) => ({ status, body, type: 'text/xml' });
  const json = (body: unknown, status = 200) => ({ status, body: JSON.stringify(body), type: 'application/x-amz-json-1.1' });
  if (r.service === 'ssm') {
    if (r.action === 'GetParameter') {
      return stored === undefined ? json({ __type: 'ParameterNotFound', message: 'not found' }, 400) : json({ Parameter: { Name: PARAM, Type: 'String', Value: stored, Version: 1 } });
    }
    if (r.action === 'PutParameter') {
      stored = String(r.json?.Value);
      return json({ Version: 2, Tier: 'Standard' });
    }
  }
  if (r.service === 'ec2' && r.action === 'DescribeInstances') {
    const ids = [...r.params.entries()].filter(([k]) => /^Filter\.1\.Value\.\d+$/.test(k)).map(([, v]) => v);
    const items = spotInstances
      .filter((i) => ids.includes(i.id))
      .map((i) => `<item><instanceId>${i.id}</instanceId><instanceType>${i.type}</instanceType>${i.spot ? '<instanceLifecycle>spot</instanceLifecycle>' : ''}</item>`)
      .join('');
    return xml(`<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><reservationSet><item><reservationId>r-1</reservationId><ownerId>123456789012</ownerId><instancesSet>${items}</instancesSet></item></reservationSet></DescribeInstancesResponse>`);
  }
  switch (r.action) {
    case 'DescribeAutoScalingGroups':
      return xml(asgOk(r.action, `<AutoScalingGroups>${group(SPOT, 4, 1, 6, spotInstances)}${group(FALLBACK, fallbackDesired, 0, 5, [])}</AutoScalingGroups>`));
    case 'DescribeScalingActivities':
      return xml(asgOk(r.action, '<Activities></Activities>'));
    case 'SetDesiredCapacity':
      fallbackDesired = Number(r.params.get('DesiredCapacity'));
      return xml(asgOk(r.action));
    default:
      return xml(`<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>${r.action}</Message></Error><RequestId>r</RequestId></ErrorResponse>`, 400);
  }
}

beforeAll(async () => {
  if (!fs.existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing; run npm run build:handlers`);
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const target = req.headers['x-amz-target'];
      let r: Request;
      if (typeof target === 'string' && target.startsWith('AmazonSSM.')) {
        r = { service: 'ssm', action: target.slice('AmazonSSM.'.length), params: new URLSearchParams(), json: JSON.parse(body || '{}') };
      } else {
        const params = new URLSearchParams(body);
        const action = params.get('Action') ?? '';
        r = { service: action === 'DescribeInstances' ? 'ec2' : 'autoscaling', action, params };
      }
      requests.push(r);
      const out = answer(r);
      res.writeHead(out.status, { 'content-type': out.type });
      res.end(out.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  savedEnv = { ...process.env };
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    AWS_REGION: 'us-east-1',
    SPOT_ASG_NAME: SPOT,
    FALLBACK_ASG_NAME: FALLBACK,
    FALLBACK_STATE_PARAMETER: PARAM,
    FALLBACK_ON_DEMAND_BASE: '1',
    FALLBACK_MAX_CAPACITY: '6',
    FALLBACK_INSTANCE_TYPES: 'g5.xlarge,g6.xlarge',
    FALLBACK_POLICY_OPTIONS: '{"spareSpotReplicas":0}',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  jest.isolateModules(() => {
    handler = require(BUNDLE).handler;
  });
});

afterAll(async () => {
  process.env = savedEnv;
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  requests = [];
  stored = undefined;
  fallbackDesired = 0;
  spotInstances = [
    { id: 'i-0000000000000000a', zone: 'us-east-1a', type: 'g5.xlarge', spot: false },
    { id: 'i-0000000000000001a', zone: 'us-east-1a', type: 'g5.xlarge', spot: true },
    { id: 'i-0000000000000002b', zone: 'us-east-1b', type: 'g6.xlarge', spot: true },
    { id: 'i-0000000000000003b', zone: 'us-east-1b', type: 'g5.xlarge', spot: true },
  ];
  stdout = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(String(chunk));
    return true;
  });
});

afterEach(() => jest.restoreAllMocks());

const context = { getRemainingTimeInMillis: () => 55_000, functionName: 'fallback', awsRequestId: 'req' } as unknown as Context;

test('a spot warning over the wire: describe, persist, SetDesiredCapacity(HonorCooldown=false), EMF FallbackReplicas', async () => {
  const out = await handler(spotWarning({ id: 'w1', detail: { 'instance-id': 'i-0000000000000001a', 'instance-action': 'terminate' } }), context);
  expect(out).toMatchObject({ trigger: 'spot-warning', outcome: 'applied', action: 'fall-back', fallbackBefore: 0, fallbackAfter: 1 });
  expect(requests.map((r) => `${r.service}:${r.action}`)).toEqual([
    'autoscaling:DescribeAutoScalingGroups',
    'ssm:GetParameter',
    'ec2:DescribeInstances',
    'autoscaling:DescribeScalingActivities',
    'ssm:PutParameter',
    'autoscaling:SetDesiredCapacity',
  ]);
  const set = Object.fromEntries(requests[5].params);
  expect(set).toMatchObject({ AutoScalingGroupName: FALLBACK, DesiredCapacity: '1', HonorCooldown: 'false' });
  const describe = Object.fromEntries(requests[2].params);
  expect(describe).toMatchObject({ 'Filter.1.Name': 'instance-id', 'Filter.1.Value.1': 'i-0000000000000000a' });
  expect(requests[4].json).toMatchObject({ Name: PARAM, Overwrite: true });
  expect(JSON.parse(stored!)).toMatchObject({ v: 1, f: 1 });
  const emf = stdout.map((l) => l.trim()).filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l));
  expect(emf).toHaveLength(1);
  expect(emf[0]).toMatchObject({ FallbackReplicas: 1, ReadySpotReplicas: 2, SpotPreemptions: 1, AutoScalingGroupName: SPOT });
  expect(emf[0].service).toBeUndefined();
  expect(emf[0]._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'SpotInferenceConstructs', Dimensions: [['AutoScalingGroupName']] });
});

test('the same warning again is a no-op on the group (no SetDesiredCapacity)', async () => {
  const warning = spotWarning({ id: 'w2', detail: { 'instance-id': 'i-0000000000000002b', 'instance-action': 'terminate' } });
  await handler(warning, context);
  requests = [];
  const out = await handler(warning, context);
  expect(out).toMatchObject({ outcome: 'unchanged', fallbackAfter: 1, preemptions: 0 });
  expect(requests.map((r) => r.action)).not.toContain('SetDesiredCapacity');
});
