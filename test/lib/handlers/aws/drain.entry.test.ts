/**
 * The built Lambda bundle (dist/handlers/aws/drain/index.js), end to end over the real AWS Query protocol:
 * a fake Auto Scaling + ELBv2 endpoint on 127.0.0.1 (AWS_ENDPOINT_URL), the bundle's own SDK clients,
 * Powertools and batch processing. Run `npm run build:handlers` first (npm test does).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ASG_NAME, HOOK_NAME, INSTANCE_ID, TG1, spotWarning, terminateAction } from './sample-events';

const BUNDLE = path.join(__dirname, '../../../../dist/handlers/aws/drain/index.js');

interface Request {
  readonly action: string;
  readonly params: URLSearchParams;
}

let server: http.Server;
let requests: Request[];
let respond: (r: Request) => { status: number; body: string };

const ok = (action: string, result = '', ns = 'http://autoscaling.amazonaws.com/doc/2011-01-01/') => ({
  status: 200,
  body: `<${action}Response xmlns="${ns}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></${action}Response>`,
});
const error = (code: string, message: string, status = 400) => ({
  status,
  body: `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>req-2</RequestId></ErrorResponse>`,
});
const ELB_NS = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';

function defaultResponses(r: Request): { status: number; body: string } {
  switch (r.action) {
    case 'DescribeAutoScalingInstances':
      return ok(
        r.action,
        `<AutoScalingInstances><member><InstanceId>${r.params.get('InstanceIds.member.1')}</InstanceId><AutoScalingGroupName>${ASG_NAME}</AutoScalingGroupName>` +
          '<AvailabilityZone>us-east-1a</AvailabilityZone><LifecycleState>InService</LifecycleState><HealthStatus>HEALTHY</HealthStatus>' +
          '<ProtectedFromScaleIn>false</ProtectedFromScaleIn></member></AutoScalingInstances>',
      );
    case 'SetInstanceHealth':
    case 'CompleteLifecycleAction':
    case 'RecordLifecycleActionHeartbeat':
      return ok(r.action);
    case 'DeregisterTargets':
      return ok(r.action, '', ELB_NS);
    case 'DescribeTargetHealth':
      return ok(
        r.action,
        `<TargetHealthDescriptions><member><Target><Id>${INSTANCE_ID}</Id><Port>8080</Port></Target><TargetHealth><State>unused</State></TargetHealth></member></TargetHealthDescriptions>`,
        ELB_NS,
      );
    default:
      return error('InvalidAction', r.action);
  }
}

const record = (messageId: string, body: unknown) => ({
  messageId,
  receiptHandle: 'rh',
  body: JSON.stringify(body),
  attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'events', ApproximateFirstReceiveTimestamp: '0' },
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:q',
  awsRegion: 'us-east-1',
});
const context = { getRemainingTimeInMillis: () => 150_000, functionName: 'drain', awsRequestId: 'req' } as unknown as Context;

let handler: (e: SQSEvent, c: Context) => Promise<SQSBatchResponse>;
let stdout: string[];
let savedEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  if (!fs.existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing; run npm run build:handlers`);
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const params = new URLSearchParams(body);
      const r = { action: params.get('Action') ?? '', params };
      requests.push(r);
      const out = respond(r);
      res.writeHead(out.status, { 'content-type': 'text/xml' });
      res.end(out.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const env = {
    AWS_ENDPOINT_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    AWS_REGION: 'us-east-1',
    SPOT_ASG_NAME: ASG_NAME,
    SPOT_TARGET_GROUP_ARNS: TG1,
    SPOT_TERMINATE_HOOK_NAME: HOOK_NAME,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  };
  savedEnv = { ...process.env };
  Object.assign(process.env, env);
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
  respond = defaultResponses;
  stdout = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(String(chunk));
    return true;
  });
});

afterEach(() => jest.restoreAllMocks());

test('the bundle exports index.handler', () => {
  expect(typeof handler).toBe('function');
});

test('a spot warning over the wire: describe, deregister, mark unhealthy; EMF metric published', async () => {
  const res = await handler({ Records: [record('m1', spotWarning({ time: new Date().toISOString() }))] }, context);
  expect(res).toEqual({ batchItemFailures: [] });
  expect(requests.map((r) => r.action)).toEqual(['DescribeAutoScalingInstances', 'DeregisterTargets', 'SetInstanceHealth']);
  expect(requests[1].params.get('TargetGroupArn')).toBe(TG1);
  expect(requests[1].params.get('Targets.member.1.Id')).toBe(INSTANCE_ID);
  expect(requests[2].params.get('HealthStatus')).toBe('Unhealthy');
  expect(requests[2].params.get('ShouldRespectGracePeriod')).toBe('false');
  const emf = stdout.map((l) => l.trim()).filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l));
  expect(emf).toHaveLength(1);
  expect(emf[0]).toMatchObject({ InterruptionsSeen: 1, AutoScalingGroupName: ASG_NAME, service: 'spot-interruption-handler' });
  expect(emf[0]._aws.CloudWatchMetrics[0].Namespace).toBe('SpotInference');
});

test('a terminate lifecycle action over the wire; an already-completed action (ValidationError) is a success', async () => {
  const event = terminateAction({ id: 'lc-1', time: new Date().toISOString() });
  let res = await handler({ Records: [record('m2', event)] }, context);
  expect(res).toEqual({ batchItemFailures: [] });
  expect(requests.map((r) => r.action)).toEqual(['DeregisterTargets', 'DescribeTargetHealth', 'CompleteLifecycleAction']);
  const complete = requests[2].params;
  expect(Object.fromEntries(complete)).toMatchObject({
    AutoScalingGroupName: ASG_NAME,
    LifecycleHookName: HOOK_NAME,
    InstanceId: INSTANCE_ID,
    LifecycleActionToken: '87654321-4321-4321-4321-210987654321',
    LifecycleActionResult: 'CONTINUE',
  });

  requests = [];
  respond = (r) => (r.action === 'CompleteLifecycleAction' ? error('ValidationError', `No active Lifecycle Action found with instance ID ${INSTANCE_ID}`) : defaultResponses(r));
  res = await handler({ Records: [record('m3', terminateAction({ id: 'lc-2', time: new Date().toISOString() }))] }, context);
  expect(res).toEqual({ batchItemFailures: [] });
  expect(requests.map((r) => r.action)).toContain('CompleteLifecycleAction');
});

test('a target unknown to the load balancer (InvalidTarget) is a success; an access error fails only its record', async () => {
  respond = (r) => {
    if (r.action === 'DeregisterTargets') return error('InvalidTarget', 'The specified target does not exist');
    if (r.action === 'DescribeAutoScalingInstances' && r.params.get('InstanceIds.member.1') === 'i-0bbbbbbbbbbbbbbbb') {
      return error('AccessDenied', 'not authorized', 403);
    }
    return defaultResponses(r);
  };
  const res = await handler(
    {
      Records: [
        record('good', spotWarning({ id: 'w-good', time: new Date().toISOString() })),
        record('denied', spotWarning({ id: 'w-denied', time: new Date().toISOString(), detail: { 'instance-id': 'i-0bbbbbbbbbbbbbbbb', 'instance-action': 'terminate' } })),
      ],
    },
    context,
  );
  expect(res).toEqual({ batchItemFailures: [{ itemIdentifier: 'denied' }] });
  expect(requests.filter((r) => r.action === 'SetInstanceHealth')).toHaveLength(1);
});

test('the bundle, gaps 1-3: a JSON null body fails its record only, a duplicate costs no call, an all-failed batch still answers', async () => {
  const now = new Date().toISOString();
  const warning = spotWarning({ id: 'w-dup', time: now });
  const nullRecord = { ...record('null-body', null), body: 'null' };
  let res = await handler({ Records: [nullRecord, record('copy-1', warning), record('copy-2', warning)] }, context);
  expect(res).toEqual({ batchItemFailures: [{ itemIdentifier: 'null-body' }] });
  expect(requests.map((r) => r.action)).toEqual(['DescribeAutoScalingInstances', 'DeregisterTargets', 'SetInstanceHealth']);
  const emf = stdout.map((l) => l.trim()).filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l));
  expect(emf).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ IgnoredEvents: 1, Reason: 'Duplicate', AutoScalingGroupName: ASG_NAME }),
      expect.objectContaining({ InterruptionsSeen: 1, MalformedRecords: 1 }),
    ]),
  );
  // Every record failing: an answer naming them, not a function error.
  res = await handler({ Records: [nullRecord, { ...record('number', 0), body: '7' }] }, context);
  expect(res).toEqual({ batchItemFailures: [{ itemIdentifier: 'null-body' }, { itemIdentifier: 'number' }] });
});
