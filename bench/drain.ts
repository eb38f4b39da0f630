/**
 * `npm run bench:drain`: size of the drain Lambda bundle and AWS API calls per interruption.
 *
 * 1. Bundles lib/handlers/aws/drain.entry.ts with esbuild (the options of scripts/build-handlers.mjs) and
 *    prints its minified size (and gzipped, what Lambda downloads), and the time to load it (cold start share).
 * 2. Runs the SQS handler on the AWS sample spot warning, for an instance behind one target group, against
 *    mocked clients (aws-sdk-client-mock: nothing leaves the machine) and prints the API calls it made.
 * 3. Same for the terminate lifecycle action with targets that drain for 30 s (fake time).
 */
import { AutoScalingClient, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import * as path from 'node:path';
import { DrainDeps, makeDrainHandler, RecentEvents } from '../lib/handlers/aws/drain';
import { DRAIN_ENV } from '../lib/handlers/aws/drain-settings';

process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_ACCESS_KEY_ID = process.env.AWS_ACCESS_KEY_ID ?? 'AKIDBENCH';
process.env.AWS_SECRET_ACCESS_KEY = process.env.AWS_SECRET_ACCESS_KEY ?? 'bench-secret';
process.env.AWS_REGION = process.env.AWS_REGION ?? 'us-east-1';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const root = path.join(__dirname, '..');
const INSTANCE = 'i-1234567890abcdef0';
const ASG = 'my-asg';
const TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/0123456789abcdef';

async function bundleSize(): Promise<void> {
  const started = Date.now();
  const out = await build({
    entryPoints: [path.join(root, 'lib/handlers/aws/drain.entry.ts')],
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    legalComments: 'none',
    write: false,
    logLevel: 'warning',
  });
  const code = out.outputFiles[0].contents;
  console.log(`bundle: ${(code.length / 1024).toFixed(1)} KiB (minified), ${(gzipSync(code).length / 1024).toFixed(1)} KiB gzipped, built in ${Date.now() - started} ms`);
  // Load time of the bundle in a fresh process (module init is part of every cold start).
  const bundlePath = path.join(root, 'dist/handlers/aws/drain/index.js');
  const loads: number[] = [];
  for (let i = 0; i < 3; i++) {
    const out = execFileSync(
      process.execPath,
      ['-e', `const t=process.hrtime.bigint();require(${JSON.stringify(bundlePath)});console.log(Number(process.hrtime.bigint()-t)/1e6)`],
      { env: { ...process.env, NODE_NO_WARNINGS: '1', [DRAIN_ENV.AUTO_SCALING_GROUP_NAME]: ASG, [DRAIN_ENV.TARGET_GROUP_ARNS]: TG }, encoding: 'utf8' },
    );
    loads.push(Number(out.trim()));
  }
  const ms = loads.sort((a, b) => a - b)[1];
  console.log(`bundle load (require in a fresh node process, median of 3): ${ms.toFixed(0)} ms`);
}

function sqsEvent(body: unknown): SQSEvent {
  return {
    Records: [
      {
        messageId: 'm1',
        receiptHandle: 'rh',
        body: JSON.stringify(body),
        attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'events', ApproximateFirstReceiveTimestamp: '0' },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:q',
        awsRegion: 'us-east-1',
      },
    ],
  };
}

async function apiCalls(): Promise<void> {
  const asg = mockClient(AutoScalingClient);
  const elb = mockClient(ElasticLoadBalancingV2Client);
  let t = Date.parse('2026-11-27T12:00:02Z');
  let drainedAt = t;
  asg.onAnyCommand().resolves({});
  asg.on(DescribeAutoScalingInstancesCommand).resolves({
    AutoScalingInstances: [{ InstanceId: INSTANCE, AutoScalingGroupName: ASG, LifecycleState: 'InService', HealthStatus: 'HEALTHY', AvailabilityZone: 'us-east-1a', ProtectedFromScaleIn: false }],
  });
  elb.onAnyCommand().resolves({});
  elb.on(DescribeTargetHealthCommand).callsFake(async () => ({ TargetHealthDescriptions: [{ TargetHealth: { State: t < drainedAt ? 'draining' : 'unused' } }] }));

  const deps: DrainDeps = {
    settings: {
      autoScalingGroupName: ASG,
      targetGroupArns: [TG],
      lifecycleHookName: 'drain',
      noticeSeconds: 120,
      drainBudgetSeconds: 75,
      safetyMarginSeconds: 10,
      heartbeatIntervalSeconds: 20,
      pollIntervalSeconds: 5,
      markUnhealthyOnWarning: true,
      markUnhealthyOnRebalance: true,
      markUnhealthyOnScheduledChange: true,
    },
    autoscaling: new AutoScalingClient({}),
    elbv2: new ElasticLoadBalancingV2Client({}),
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'Bench' }),
    now: () => t,
    sleep: async (ms) => void (t += ms),
    recent: new RecentEvents(),
  };
  const handler = makeDrainHandler(deps);
  const context = { getRemainingTimeInMillis: () => 150_000 } as Context;
  const names = (): string[] =>
    [...asg.calls(), ...elb.calls()]
      .sort((a, b) => (a as unknown as { callId: number }).callId - (b as unknown as { callId: number }).callId)
      .map((c) => (c.args[0] as object).constructor.name.replace(/Command$/, ''));

  const warning = {
    version: '0',
    id: '12345678-1234-1234-1234-123456789012',
    'detail-type': 'EC2 Spot Instance Interruption Warning',
    source: 'aws.ec2',
    account: '123456789012',
    time: '2026-11-27T12:00:00Z',
    region: 'us-east-1',
    resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${INSTANCE}`],
    detail: { 'instance-id': INSTANCE, 'instance-action': 'terminate' },
  };
  let started = process.hrtime.bigint();
  await handler(sqsEvent(warning), context);
  let wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const warningCalls = names();
  console.log(`spot warning, 1 target group: ${warningCalls.join(' -> ')}`);
  console.log(`API calls: ${warningCalls.length} (spot warning, instance behind 1 target group; target <= 6), handler time ${wallMs.toFixed(1)} ms with mocked clients`);

  asg.resetHistory();
  elb.resetHistory();
  drainedAt = t + 30_000;
  const lifecycle = {
    version: '0',
    id: '12345678-1234-1234-1234-123456789014',
    'detail-type': 'EC2 Instance-terminate Lifecycle Action',
    source: 'aws.autoscaling',
    account: '123456789012',
    time: new Date(t).toISOString(),
    region: 'us-east-1',
    resources: ['arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x:autoScalingGroupName/my-asg'],
    detail: {
      LifecycleActionToken: '87654321-4321-4321-4321-210987654321',
      AutoScalingGroupName: ASG,
      LifecycleHookName: 'drain',
      EC2InstanceId: INSTANCE,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
    },
  };
  started = process.hrtime.bigint();
  await handler(sqsEvent(lifecycle), context);
  wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const lc = names();
  const count = (op: string) => lc.filter((n) => n === op).length;
  console.log(
    `terminate lifecycle action, targets draining 30 s (fake time): ${lc.length} API calls ` +
      `(DeregisterTargets ${count('DeregisterTargets')}, DescribeTargetHealth ${count('DescribeTargetHealth')}, ` +
      `RecordLifecycleActionHeartbeat ${count('RecordLifecycleActionHeartbeat')}, CompleteLifecycleAction ${count('CompleteLifecycleAction')}), handler time ${wallMs.toFixed(1)} ms`,
  );

  // The same spot warning delivered twice in one batch (EventBridge and SQS both deliver at least once),
  // to a fresh container: handled once.
  asg.resetHistory();
  elb.resetHistory();
  const dupHandler = makeDrainHandler({ ...deps, recent: new RecentEvents() });
  const twice: SQSEvent = { Records: [sqsEvent(warning).Records[0], { ...sqsEvent(warning).Records[0], messageId: 'm2' }] };
  const dupRes = await dupHandler(twice, context);
  console.log(`same spot warning twice in one batch: ${names().length} API calls (one copy handled, the other shares its outcome), failures ${dupRes.batchItemFailures.length}`);

  // A batch of bad records only (JSON null, a number): answered with batchItemFailures, not a function error.
  const bad: SQSEvent = { Records: [{ ...sqsEvent(null).Records[0], body: 'null' }, { ...sqsEvent(null).Records[0], messageId: 'm2', body: '42' }] };
  const badRes = await dupHandler(bad, context);
  console.log(`batch of 2 malformed records: batchItemFailures ${badRes.batchItemFailures.length}, function error: none`);
  asg.restore();
  elb.restore();
}

async function main(): Promise<void> {
  await bundleSize();
  await apiCalls();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
