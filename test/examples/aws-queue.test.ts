// The AWS queue-worker example (examples/aws/queue-stack.ts), as `npm run synth` renders it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Token } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { QueueWorkersExampleStack } from '../../examples/aws/queue-stack';

const app = new App({ context: {} });
const stack = new QueueWorkersExampleStack(app, 'SpotQueueWorkersExample');
const t = Template.fromStack(stack);

test('environment-agnostic, imports only the public entry points', () => {
  expect(Token.isUnresolved(stack.region)).toBe(true);
  for (const f of ['app.ts', 'queue-stack.ts']) {
    const src = readFileSync(join(__dirname, '..', '..', 'examples', 'aws', f), 'utf8');
    const imports = [...src.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    expect(imports.filter((i) => i.startsWith('spot-inference-constructs') && !/^spot-inference-constructs\/(aws|core)$/.test(i))).toEqual([]);
    expect(imports.filter((i) => i.startsWith('../'))).toEqual([]);
  }
});

test('encrypted queue with a dead-letter queue after 5 receives, visibility 1.5x of 2 minutes', () => {
  t.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, VisibilityTimeout: 180, RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }) });
});

test('spot GPU workers from 0 to 10, target tracking on 5 messages per instance, step policy from 0', () => {
  t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '0', MaxSize: '10' });
  const metrics = new Capture();
  t.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
    PolicyType: 'TargetTrackingScaling',
    TargetTrackingConfiguration: { TargetValue: 5, CustomizedMetricSpecification: { Metrics: metrics } },
  });
  expect((metrics.asArray() as { Expression?: string }[]).map((m) => m.Expression).filter(Boolean)).toEqual([
    'FILL(visibleRaw, 0)',
    'IF(inService > 0, visible / inService, visible)',
  ]);
  t.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', { PolicyType: 'StepScaling', AdjustmentType: 'ExactCapacity' });
});

test('the worker container gets the environment file and its PID is recorded for the agent', () => {
  const lt = Object.values(t.findResources('AWS::EC2::LaunchTemplate'))[0];
  const userData = JSON.stringify(lt.Properties.LaunchTemplateData.UserData);
  expect(userData).toContain('--env-file /etc/queue-worker.env');
  expect(userData).toContain('> /run/queue-worker.pid');
});

test('an alarm on dead letters and outputs for the queue and the bucket', () => {
  t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1 });
  t.hasOutput('QueueUrl', {});
  t.hasOutput('DeadLetterQueueUrl', {});
  t.hasOutput('CheckpointBucket', {});
});

test('cdk-nag AwsSolutions: no unacknowledged error or warning', () => {
  const nagApp = new App();
  const nagStack = new QueueWorkersExampleStack(nagApp, 'SpotQueueWorkersExample');
  nagApp.synth();
  const report = new AwsSolutionsChecks(nagApp).validateScope(nagStack);
  const findings = report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r: any) => r.constructPath ?? r.resourceLogicalId).join(', ')}`);
  expect(findings).toEqual([]);
  expect(report.success).toBe(true);
});
