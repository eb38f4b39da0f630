import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import fs = require('node:fs');
import { InterruptionHandler, InterruptionHandlerProps } from '../../../constructs/aws/interruption-handler';
import { DRAIN_ENV } from '../../../lib/handlers/aws/drain-settings';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec/errors';
import { lazy } from '../../support/lazy';

const ENV = { account: '123456789012', region: 'us-east-1' };

/** A stack with an imported group and two imported target groups: the handler must work on any group. */
function importedFleet(): { stack: Stack; asg: autoscaling.IAutoScalingGroup; tgs: elbv2.ITargetGroup[] } {
  const stack = new Stack(new App(), 'Fleet', { env: ENV });
  const asg = autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'Asg', 'inference-asg');
  const tgs = [
    elbv2.ApplicationTargetGroup.fromTargetGroupAttributes(stack, 'Tg1', {
      targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/0123456789abcdef',
    }),
    elbv2.NetworkTargetGroup.fromTargetGroupAttributes(stack, 'Tg2', {
      targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/grpc/fedcba9876543210',
    }),
  ];
  return { stack, asg, tgs };
}

function synth(extra: Partial<InterruptionHandlerProps> = {}): { template: Template; handler: InterruptionHandler; stack: Stack } {
  const { stack, asg, tgs } = importedFleet();
  const handler = new InterruptionHandler(stack, 'Interruptions', {
    autoScalingGroup: asg,
    targetGroups: tgs,
    terminateLifecycleHookName: 'drain-hook',
    ...extra,
  });
  return { template: Template.fromStack(stack), handler, stack };
}

/** The handler with the defaults, synthesized once for the tests that only read it. */
const defaultHandler = lazy(() => synth());

describe('InterruptionHandler rules', () => {
  const { template } = defaultHandler();

  test.each([
    ['spot interruption warning', { source: ['aws.ec2'], 'detail-type': ['EC2 Spot Instance Interruption Warning'] }],
    ['rebalance recommendation', { source: ['aws.ec2'], 'detail-type': ['EC2 Instance Rebalance Recommendation'] }],
    [
      'state change',
      {
        source: ['aws.ec2'],
        'detail-type': ['EC2 Instance State-change Notification'],
        detail: { state: ['stopping', 'stopped', 'shutting-down', 'terminated'] },
      },
    ],
    [
      'terminate lifecycle action of this group and hook',
      {
        source: ['aws.autoscaling'],
        'detail-type': ['EC2 Instance-terminate Lifecycle Action'],
        detail: { AutoScalingGroupName: ['inference-asg'], LifecycleHookName: ['drain-hook'] },
      },
    ],
    [
      'AWS Health scheduled change of EC2',
      {
        source: ['aws.health'],
        'detail-type': ['AWS Health Event'],
        detail: { service: ['EC2'], eventTypeCategory: ['scheduledChange'] },
      },
    ],
    [
      'launch unsuccessful of this group',
      {
        source: ['aws.autoscaling'],
        'detail-type': ['EC2 Instance Launch Unsuccessful'],
        detail: { AutoScalingGroupName: ['inference-asg'] },
      },
    ],
  ])('%s: exact pattern, delivered to the queue', (_name, pattern) => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: pattern,
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^InterruptionsQueue'), 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^InterruptionsDeadLetterQueue'), 'Arn'] } },
          RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 5 },
        }),
      ],
    });
  });

  test('six rules in all; no terminate rule without a hook', () => {
    template.resourceCountIs('AWS::Events::Rule', 6);
    const { stack, asg } = importedFleet();
    const h = new InterruptionHandler(stack, 'NoHook', { autoScalingGroup: asg });
    expect(h.terminateActionRule).toBeUndefined();
    expect(h.rules).toHaveLength(5);
    Template.fromStack(stack).resourcePropertiesCountIs(
      'AWS::Events::Rule',
      { EventPattern: Match.objectLike({ 'detail-type': ['EC2 Instance-terminate Lifecycle Action'] }) },
      0,
    );
  });

  test('EventBridge may send to the queue and to the dead-letter queue', () => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
            Principal: { Service: 'events.amazonaws.com' },
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [Match.stringLikeRegexp('SpotWarningRule'), 'Arn'] } } },
          }),
        ]),
      },
      Queues: [{ Ref: Match.stringLikeRegexp('^InterruptionsQueue') }],
    });
  });

  test('each rule may send to the queue and to the dead-letter queue, scoped by its own ARN', () => {
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')) as Array<{
      Properties: { Queues: Array<{ Ref: string }>; PolicyDocument: { Statement: Array<{ Principal?: { Service?: string }; Condition?: unknown }> } };
    }>;
    for (const prefix of ['InterruptionsQueue', 'InterruptionsDeadLetterQueue']) {
      const policy = policies.find((p) => p.Properties.Queues[0].Ref.startsWith(prefix) && !p.Properties.Queues[0].Ref.startsWith(`${prefix}Policy`))!;
      const fromEvents = policy.Properties.PolicyDocument.Statement.filter((st) => st.Principal?.Service === 'events.amazonaws.com');
      expect(fromEvents).toHaveLength(6);
      for (const st of fromEvents) expect(st.Condition).toEqual({ ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [expect.stringMatching(/Rule/), 'Arn'] } } });
    }
  });

  test('launch failures can be routed to a fallback controller too', () => {
    const { stack, asg } = importedFleet();
    const h = new InterruptionHandler(stack, 'I', { autoScalingGroup: asg });
    const controllerQueue = new sqs.Queue(stack, 'Controller');
    h.onLaunchUnsuccessful(new (require('aws-cdk-lib/aws-events-targets').SqsQueue)(controllerQueue));
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ 'detail-type': ['EC2 Instance Launch Unsuccessful'] }),
      Targets: Match.arrayWith([Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Controller'), 'Arn'] } })]),
    });
    expect(h.launchUnsuccessfulRule).toBeInstanceOf(events.Rule);
  });
});

describe('InterruptionHandler queue, function and alarm', () => {
  const { template, handler } = defaultHandler();

  test('queue: SSE, TLS only, retention above the notice, visibility 6x the function timeout, DLQ after 3 receives', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 3600,
      VisibilityTimeout: 900,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^InterruptionsDeadLetterQueue'), 'Arn'] },
        maxReceiveCount: 3,
      },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1209600,
      RedrivePolicy: Match.absent(),
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('a customer-managed key encrypts both queues and EventBridge may use it', () => {
    const { stack, asg } = importedFleet();
    const key = new kms.Key(stack, 'Key');
    new InterruptionHandler(stack, 'I', { autoScalingGroup: asg, encryptionKey: key });
    const t = Template.fromStack(stack);
    t.resourcePropertiesCountIs('AWS::SQS::Queue', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] } }, 2);
    t.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Principal: { Service: 'events.amazonaws.com' } }),
        ]),
      },
    });
  });

  test('event source mapping reports batch item failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^InterruptionsQueue'), 'Arn'] },
      FunctionName: { Ref: Match.stringLikeRegexp('^InterruptionsFunction') },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  test('function: Node.js 24 on arm64, prebuilt bundle, timeout above the notice, settings in the environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 150,
      LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: Match.stringLikeRegexp('^InterruptionsLogGroup') } },
      Environment: {
        Variables: {
          [DRAIN_ENV.AUTO_SCALING_GROUP_NAME]: 'inference-asg',
          [DRAIN_ENV.TARGET_GROUP_ARNS]:
            'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/0123456789abcdef,arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/grpc/fedcba9876543210',
          [DRAIN_ENV.LIFECYCLE_HOOK_NAME]: 'drain-hook',
          [DRAIN_ENV.NOTICE_SECONDS]: '120',
          [DRAIN_ENV.DRAIN_BUDGET_SECONDS]: '75',
          [DRAIN_ENV.SAFETY_MARGIN_SECONDS]: '10',
          [DRAIN_ENV.HEARTBEAT_INTERVAL_SECONDS]: '20',
          [DRAIN_ENV.POLL_INTERVAL_SECONDS]: '5',
          [DRAIN_ENV.MARK_UNHEALTHY_ON_WARNING]: 'true',
          [DRAIN_ENV.MARK_UNHEALTHY_ON_REBALANCE]: 'true',
          [DRAIN_ENV.MARK_UNHEALTHY_ON_SCHEDULED_CHANGE]: 'true',
        },
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('options reach the function environment', () => {
    const { template: t } = synth({
      drainBudget: Duration.seconds(60),
      markUnhealthyOnRebalance: false,
      markUnhealthyOnWarning: false,
      heartbeatInterval: Duration.seconds(15),
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [DRAIN_ENV.DRAIN_BUDGET_SECONDS]: '60',
          [DRAIN_ENV.MARK_UNHEALTHY_ON_REBALANCE]: 'false',
          [DRAIN_ENV.MARK_UNHEALTHY_ON_WARNING]: 'false',
          [DRAIN_ENV.HEARTBEAT_INTERVAL_SECONDS]: '15',
        }),
      },
    });
  });

  test('alarm on the dead-letter queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^InterruptionsDeadLetterQueue'), 'QueueName'] } }],
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(handler.dlqAlarm).toBeInstanceOf(cloudwatch.Alarm);
  });

  test('metrics point at what the function emits', () => {
    const stack = Stack.of(handler);
    const m = stack.resolve(handler.metricInterruptions().toMetricConfig().metricStat);
    expect(m).toMatchObject({
      namespace: 'SpotInference',
      metricName: 'InterruptionsSeen',
      statistic: 'Sum',
    });
    expect(m.dimensions).toHaveLength(2);
    expect(m.dimensions).toEqual(
      expect.arrayContaining([
        { name: 'service', value: 'spot-interruption-handler' },
        { name: 'AutoScalingGroupName', value: 'inference-asg' },
      ]),
    );
    expect(handler.metricDrainDuration().metricName).toBe('DrainDurationSeconds');
    expect(handler.metricServeThroughDuration().metricName).toBe('ServeThroughSeconds');
    expect(handler.metricServeThroughDuration().statistic).toBe('Maximum');
    expect(handler.metricDrainBudgetSpent().metricName).toBe('DrainOutcomeBudgetSpent');
    expect(handler.metricLaunchFailures().metricName).toBe('LaunchFailures');
  });
});

describe('InterruptionHandler role', () => {
  test('writes scoped to the group and its target groups; only the unscopable Describe calls use *', () => {
    const { template } = defaultHandler();
    const asgArn = {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/inference-asg']],
    };
    const policies = template.findResources('AWS::IAM::Policy');
    const statements = Object.values(policies).flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: unknown[] } } }).Properties.PolicyDocument.Statement) as Array<{
      Sid?: string;
      Action: string | string[];
      Resource: unknown;
    }>;
    const bySid = (sid: string) => statements.find((s) => s.Sid === sid)!;
    expect(bySid('DrainThisGroup')).toMatchObject({
      Effect: 'Allow',
      Action: ['autoscaling:SetInstanceHealth', 'autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
      Resource: asgArn,
    });
    expect(bySid('DeregisterFromThisFleetsTargetGroups')).toMatchObject({
      Action: 'elasticloadbalancing:DeregisterTargets',
      Resource: [
        'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/0123456789abcdef',
        'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/grpc/fedcba9876543210',
      ],
    });
    // Every statement with a * resource holds only actions that AWS does not let a policy scope.
    const unscopable = new Set([
      'autoscaling:DescribeAutoScalingInstances',
      'elasticloadbalancing:DescribeTargetHealth',
    ]);
    for (const st of statements.filter((x) => x.Resource === '*')) {
      for (const a of ([] as string[]).concat(st.Action)) expect(unscopable.has(a)).toBe(true);
    }
    // No AWS managed policy; logging only to the function's own log group.
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })] },
      ManagedPolicyArns: Match.absent(),
    });
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: { 'Fn::GetAtt': [expect.stringMatching(/^InterruptionsLogGroup/), 'Arn'] },
        }),
      ]),
    );
    // The queue consumer grant is scoped to the queue.
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage']),
          Resource: { 'Fn::GetAtt': [expect.stringMatching(/^InterruptionsQueue/), 'Arn'] },
        }),
      ]),
    );
  });

  test('a group built in the same stack is scoped by its generated name', () => {
    const stack = new Stack(new App(), 'S', { env: ENV });
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, maxAzs: 2 });
    const asg = new autoscaling.AutoScalingGroup(stack, 'Asg', {
      vpc,
      instanceType: new ec2.InstanceType('g5.xlarge'),
      machineImage: ec2.MachineImage.latestAmazonLinux2023(),
    });
    const hook = asg.addLifecycleHook('Drain', { lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_TERMINATING });
    new InterruptionHandler(stack, 'I', { autoScalingGroup: asg, terminateLifecycleHookName: hook.lifecycleHookName });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.autoscaling'],
        'detail-type': ['EC2 Instance-terminate Lifecycle Action'],
        detail: { AutoScalingGroupName: [{ Ref: Match.stringLikeRegexp('^AsgASG') }], LifecycleHookName: [{ Ref: Match.stringLikeRegexp('^AsgLifecycleHookDrain') }] },
      },
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'DrainThisGroup',
            Resource: { 'Fn::Join': ['', Match.arrayWith([{ Ref: Match.stringLikeRegexp('^AsgASG') }])] },
          }),
        ]),
      },
    });
  });
});

describe('InterruptionHandler and cdk-nag', () => {
  test('AwsSolutionsChecks finds nothing: the two unavoidable wildcards are acknowledged with a reason', () => {
    const { AwsSolutionsChecks } = require('cdk-nag');
    const { Validations } = require('aws-cdk-lib');
    const { stack, asg, tgs } = importedFleet();
    const app = stack.node.root as App;
    new InterruptionHandler(stack, 'Interruptions', { autoScalingGroup: asg, targetGroups: tgs, terminateLifecycleHookName: 'drain-hook' });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();

    // Control: the check does run here, and fails on a finding.
    const other = importedFleet();
    const otherApp = other.stack.node.root as App;
    const h = new InterruptionHandler(other.stack, 'Interruptions', { autoScalingGroup: other.asg });
    h.function.role!.addManagedPolicy(require('aws-cdk-lib/aws-iam').ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess'));
    Validations.of(otherApp).addPlugins(new AwsSolutionsChecks(otherApp));
    expect(() => otherApp.synth()).toThrow(/AwsSolutions-IAM4/);
  });
});

describe('InterruptionHandler validation', () => {
  const make = (extra: Partial<InterruptionHandlerProps>) => () => synth(extra);

  test('drain budget plus margin must fit in the notice', () => {
    expect(make({ drainBudget: Duration.seconds(115) })).toThrow(
      /drain budget exceeded: drainBudget \(115 s\) \+ safetyMargin \(10 s\) = 125 s is longer than the 120 s AWS spot notice; lower drainBudget to at most 110 s/,
    );
    try {
      synth({ drainBudget: Duration.seconds(115) });
    } catch (e) {
      expect(e).toBeInstanceOf(FleetSpecError);
      expect((e as FleetSpecError).code).toBe(FleetSpecErrorCode.DRAIN_BUDGET_EXCEEDED);
      expect((e as FleetSpecError).problems[0].prop).toBe('drainBudget');
    }
  });

  test('every bad prop is reported together, prefixed by the construct path', () => {
    let err: FleetSpecError | undefined;
    try {
      synth({
        notice: Duration.seconds(300),
        heartbeatInterval: Duration.seconds(45),
        pollInterval: Duration.seconds(0),
        queueRetentionPeriod: Duration.seconds(60),
        maxReceiveCount: 0,
        terminateLifecycleHookName: 'bad hook!',
      });
    } catch (e) {
      err = e as FleetSpecError;
    }
    expect(err).toBeInstanceOf(FleetSpecError);
    expect(err!.message).toMatch(/^Fleet\/Interruptions: 6 problems/);
    expect(err!.problems.map((p) => p.prop)).toEqual([
      'notice',
      'heartbeatInterval',
      'pollInterval',
      'queueRetentionPeriod',
      'maxReceiveCount',
      'terminateLifecycleHookName',
    ]);
    expect(err!.message).toMatch(/notice \(300 s\) must be between 1 and 120 s, the AWS spot notice/);
    expect(err!.message).toMatch(/heartbeatInterval \(45 s\) must be between 1 and 30 s, the shortest heartbeat timeout of a lifecycle hook/);
    expect(err!.message).toMatch(/pollInterval \(0 s\) must be between 1 s and drainBudget \(75 s\)/);
    expect(err!.message).toMatch(/queueRetentionPeriod \(60 s\) must be longer than the 300 s notice/);
    expect(err!.message).toMatch(/maxReceiveCount \(0\) must be a whole number between 1 and 1000/);
    expect(err!.message).toMatch(/terminateLifecycleHookName \("bad hook!"\) must be 1-255 letters/);
  });

  test('a zero drain budget is refused', () => {
    expect(make({ drainBudget: Duration.seconds(0) })).toThrow(/drainBudget \(0 s\) must be more than 0 s/);
  });

  test('tokens are not validated', () => {
    const { stack, asg } = importedFleet();
    const { CfnParameter } = require('aws-cdk-lib');
    const p = new CfnParameter(stack, 'Budget', { type: 'Number' });
    const hook = new CfnParameter(stack, 'Hook', { type: 'String' });
    expect(
      () =>
        new InterruptionHandler(stack, 'I', {
          autoScalingGroup: asg,
          drainBudget: Duration.seconds(p.valueAsNumber),
          terminateLifecycleHookName: hook.valueAsString,
        }),
    ).not.toThrow();
  });

  test('a missing bundle says how to build it', () => {
    const real = fs.existsSync;
    const spy = jest.spyOn(fs, 'existsSync').mockImplementation((p) => (String(p).endsWith('index.js') ? false : real(p)));
    try {
      expect(make({})).toThrow(/drain function bundle .*dist\/handlers\/aws\/drain\/index\.js is missing; run npm run build:handlers/);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('InterruptionHandler serveThroughNotice', () => {
  const variables = (t: Template): Record<string, unknown> => {
    const fns = Object.values(t.findResources('AWS::Lambda::Function')) as Array<{ Properties: { Environment: { Variables: Record<string, unknown> } } }>;
    return fns[0].Properties.Environment.Variables;
  };

  test('is rendered for the function only when above 0; the timeout still covers the longest wait (notice + 30 s)', () => {
    const { template } = synth({ serveThroughNotice: Duration.seconds(70) });
    expect(variables(template)[DRAIN_ENV.SERVE_THROUGH_SECONDS]).toBe('70');
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 150 });
    expect(variables(synth({ serveThroughNotice: Duration.seconds(0) }).template)).not.toHaveProperty(DRAIN_ENV.SERVE_THROUGH_SECONDS);
    expect(variables(defaultHandler().template)).not.toHaveProperty(DRAIN_ENV.SERVE_THROUGH_SECONDS);
    expect(variables(synth({ serveThroughNotice: Duration.minutes(1) }).template)[DRAIN_ENV.SERVE_THROUGH_SECONDS]).toBe('60');
  });

  test('must be whole seconds', () => {
    expect(() => synth({ serveThroughNotice: Duration.millis(70_500) })).toThrow(
      /serveThroughNotice \(70\.5 s\) must be whole seconds; round it, e\.g\. Duration\.seconds\(70\)/,
    );
  });

  test('must end before the notice less the safety margin, with the numbers and the fix', () => {
    let err: FleetSpecError | undefined;
    try {
      synth({ serveThroughNotice: Duration.seconds(110) });
    } catch (e) {
      err = e as FleetSpecError;
    }
    expect(err).toBeInstanceOf(FleetSpecError);
    expect(err!.code).toBe(FleetSpecErrorCode.AWS_DRAIN_TIMING);
    expect(err!.problems.map((p) => p.prop)).toEqual(['serveThroughNotice']);
    expect(err!.message).toMatch(
      /serveThroughNotice \(110 s\) must be below notice \(120 s\) - safetyMargin \(10 s\) = 110 s, or the instance would still be serving when it must have drained; use the seconds its agent serves \(notice - drainBudgetSeconds - 5 s: 70 s with the default drain budget\), or leave it out/,
    );
    expect(() => synth({ serveThroughNotice: Duration.seconds(50), notice: Duration.seconds(60), drainBudget: Duration.seconds(30) })).toThrow(
      /serveThroughNotice \(50 s\) must be below notice \(60 s\) - safetyMargin \(10 s\) = 50 s/,
    );
    expect(() => synth({ serveThroughNotice: Duration.seconds(109) })).not.toThrow();
  });

  test('needs a terminate lifecycle hook', () => {
    const { stack, asg, tgs } = importedFleet();
    expect(() => new InterruptionHandler(stack, 'I', { autoScalingGroup: asg, targetGroups: tgs, serveThroughNotice: Duration.seconds(70) })).toThrow(
      /serveThroughNotice \(70 s\) needs a terminate lifecycle hook: without one nothing deregisters the instance when its drain starts.*set terminateLifecycleHookName \(or pass a fleet with a terminationHookName\), or leave serveThroughNotice out/,
    );
    expect(() => new InterruptionHandler(stack, 'J', { autoScalingGroup: asg, targetGroups: tgs, serveThroughNotice: Duration.seconds(0) })).not.toThrow();
  });

  test('a deploy-time value is passed to the function as it is (no arithmetic is done on it); a deploy-time notice defers the range check to the function', () => {
    const { stack, asg, tgs } = importedFleet();
    const { CfnParameter } = require('aws-cdk-lib');
    const serve = new CfnParameter(stack, 'Serve', { type: 'Number' });
    new InterruptionHandler(stack, 'I', { autoScalingGroup: asg, targetGroups: tgs, terminateLifecycleHookName: 'drain-hook', serveThroughNotice: Duration.seconds(serve.valueAsNumber) });
    expect(variables(Template.fromStack(stack))[DRAIN_ENV.SERVE_THROUGH_SECONDS]).toEqual({ Ref: 'Serve' });

    const other = importedFleet();
    const notice = new CfnParameter(other.stack, 'Notice', { type: 'Number' });
    expect(
      () =>
        new InterruptionHandler(other.stack, 'I', {
          autoScalingGroup: other.asg,
          terminateLifecycleHookName: 'drain-hook',
          notice: Duration.seconds(notice.valueAsNumber),
          serveThroughNotice: Duration.seconds(115),
        }),
    ).not.toThrow();
  });

  test('with a fleet, the fleet\'s terminate hook is enough', () => {
    const { SpotFleet } = require('../../../constructs/aws/spot-fleet') as typeof import('../../../constructs/aws/spot-fleet');
    const { AGENT_BUNDLE, GPU_TYPES, stackWithVpc } = require('./fixtures') as typeof import('./fixtures');
    const { stack, vpc } = stackWithVpc(ENV);
    const fleet = new SpotFleet(stack, 'Fleet', { vpc, minCapacity: 1, maxCapacity: 4, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE } });
    new InterruptionHandler(stack, 'Interruptions', { fleet, serveThroughNotice: Duration.seconds(70) });
    expect(variables(Template.fromStack(stack))[DRAIN_ENV.SERVE_THROUGH_SECONDS]).toBe('70');
  });
});

describe('InterruptionHandler on a fleet (ISpotFleet): values derived, not repeated', () => {
  const { SpotFleet } = require('../../../constructs/aws/spot-fleet') as typeof import('../../../constructs/aws/spot-fleet');
  const { AGENT_BUNDLE, GPU_TYPES, stackWithVpc } = require('./fixtures') as typeof import('./fixtures');
  const { Annotations } = require('aws-cdk-lib/assertions') as typeof import('aws-cdk-lib/assertions');

  function fleetStack(fleetProps: Record<string, unknown> = {}) {
    const { app, stack, vpc } = stackWithVpc(ENV);
    const fleet = new SpotFleet(stack, 'Fleet', {
      vpc, minCapacity: 1, maxCapacity: 4, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE }, ...fleetProps,
    });
    return { app, stack, vpc, fleet };
  }
  const envOf = (t: Template): Record<string, string> => {
    const fns = Object.values(t.findResources('AWS::Lambda::Function')) as any[];
    return fns.find((f) => f.Properties.Environment?.Variables?.[DRAIN_ENV.AUTO_SCALING_GROUP_NAME] !== undefined).Properties.Environment.Variables;
  };

  test('the drain wait is the fleet\'s deregistration delay plus its drain budget; the hook is the fleet\'s', () => {
    const { stack, fleet } = fleetStack({ drainBudgetSeconds: 50, deregistrationDelaySeconds: 20 });
    const h = new InterruptionHandler(stack, 'Interruptions', { fleet });
    const env = envOf(Template.fromStack(stack));
    expect(env[DRAIN_ENV.DRAIN_BUDGET_SECONDS]).toBe('70');
    expect(env[DRAIN_ENV.LIFECYCLE_HOOK_NAME]).toBe('spot-inference-drain');
    expect(h.drainBudgetSeconds).toBe(70);
    expect(h.terminateLifecycleHookName).toBe('spot-inference-drain');
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ detail: { AutoScalingGroupName: [Match.anyValue()], LifecycleHookName: ['spot-inference-drain'] } }),
    });
    expect(fleet.lifecycleHookNames).toEqual(['spot-inference-drain']);
  });

  test('a fleet with other drain times gets another wait: nothing is hard-coded', () => {
    const { stack, fleet } = fleetStack({ drainBudgetSeconds: 10, deregistrationDelaySeconds: 5 });
    new InterruptionHandler(stack, 'Interruptions', { fleet });
    expect(envOf(Template.fromStack(stack))[DRAIN_ENV.DRAIN_BUDGET_SECONDS]).toBe('15');
  });

  test('a drainBudget shorter than the fleet needs is refused, with the numbers', () => {
    const { stack, fleet } = fleetStack();
    let err: FleetSpecError | undefined;
    try {
      new InterruptionHandler(stack, 'Interruptions', { fleet, drainBudget: Duration.seconds(20) });
    } catch (e) {
      err = e as FleetSpecError;
    }
    expect(err).toBeInstanceOf(FleetSpecError);
    expect(err!.code).toBe(FleetSpecErrorCode.DRAIN_BUDGET_EXCEEDED);
    expect(err!.problems[0].prop).toBe('drainBudget');
    expect(err!.message).toMatch(
      /^Test\/Interruptions: drainBudget \(20 s\) is shorter than fleet Test\/Fleet needs: deregistrationDelaySeconds \(30 s\) \+ drainBudgetSeconds \(45 s\) = 75 s; the handler would let instances go while requests are still draining: raise drainBudget to at least 75 s, or leave it out to derive it from the fleet/,
    );
    // A longer wait is fine: it ends as soon as the targets have drained.
    expect(() => new InterruptionHandler(stack, 'Longer', { fleet, drainBudget: Duration.seconds(100) })).not.toThrow();
  });

  test('a fleet that needs more than notice - margin gets the longest possible wait, with a warning', () => {
    const { stack, fleet } = fleetStack({ drainBudgetSeconds: 75, deregistrationDelaySeconds: 40 });
    new InterruptionHandler(stack, 'Interruptions', { fleet });
    expect(envOf(Template.fromStack(stack))[DRAIN_ENV.DRAIN_BUDGET_SECONDS]).toBe('110');
    Annotations.fromStack(stack).hasWarning('/Test/Interruptions', Match.stringLikeRegexp('The fleet needs 115 s to drain .* can wait only 110 s \\(the 120 s notice less the 10 s safetyMargin\\)'));
  });

  test('a hook name the fleet does not have is refused at synth, naming the hooks it has', () => {
    const { app, stack, fleet } = fleetStack();
    new InterruptionHandler(stack, 'Interruptions', { fleet, terminateLifecycleHookName: 'spot-inference-drian' });
    expect(() => app.synth()).toThrow(
      /terminateLifecycleHookName \("spot-inference-drian"\) is not a lifecycle hook of the group Test\/Fleet\/Group, which has "spot-inference-drain"; use one of "spot-inference-drain"/,
    );
  });

  test('a hook added to the fleet\'s group later counts', () => {
    const { app, stack, fleet } = fleetStack();
    fleet.autoScalingGroup.addLifecycleHook('Extra', { lifecycleHookName: 'extra-terminate', lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_TERMINATING });
    new InterruptionHandler(stack, 'Interruptions', { fleet, terminateLifecycleHookName: 'extra-terminate' });
    expect(() => app.synth()).not.toThrow();
  });

  test('on a bare group of this app: a missing hook and a launch hook are refused', () => {
    const app = new App();
    const stack = new Stack(app, 'S', { env: ENV });
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, maxAzs: 2 });
    const asg = new autoscaling.AutoScalingGroup(stack, 'Asg', { vpc, instanceType: new ec2.InstanceType('g5.xlarge'), machineImage: ec2.MachineImage.latestAmazonLinux2023() });
    asg.addLifecycleHook('Drain', { lifecycleHookName: 'drain', lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_TERMINATING });
    asg.addLifecycleHook('Warm', { lifecycleHookName: 'warm-up', lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_LAUNCHING });
    new InterruptionHandler(stack, 'Typo', { autoScalingGroup: asg, terminateLifecycleHookName: 'drian' });
    new InterruptionHandler(stack, 'Launch', { autoScalingGroup: asg, terminateLifecycleHookName: 'warm-up' });
    let message = '';
    try {
      app.synth();
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/terminateLifecycleHookName \("drian"\) is not a lifecycle hook of the group S\/Asg, which has "drain", "warm-up"/);
    expect(message).toMatch(/terminateLifecycleHookName \("warm-up"\) is a autoscaling:EC2_INSTANCE_LAUNCHING hook of the group S\/Asg, not a terminate hook/);
  });

  test('an imported group without a hook list is not checked (nothing to check against)', () => {
    const { stack, asg } = importedFleet();
    new InterruptionHandler(stack, 'I', { autoScalingGroup: asg, terminateLifecycleHookName: 'whatever' });
    expect(() => (stack.node.root as App).synth()).not.toThrow();
  });

  test('SpotFleet.fromAutoScalingGroup: drain times and hooks come from the attributes, and are checked', () => {
    const imported = () => {
      const { stack, asg } = importedFleet();
      const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-1', availabilityZones: ['us-east-1a', 'us-east-1b'], privateSubnetIds: ['subnet-1', 'subnet-2'] });
      const sg = ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-0123456789abcdef0');
      const fleet = SpotFleet.fromAutoScalingGroup(stack, 'Imported', {
        autoScalingGroup: asg, vpc, securityGroups: [sg], drainBudgetSeconds: 25, deregistrationDelaySeconds: 15,
        terminationHookName: 'drain-hook', lifecycleHookNames: ['drain-hook', 'launch-hook'],
      });
      return { stack, fleet };
    };
    const good = imported();
    new InterruptionHandler(good.stack, 'Good', { fleet: good.fleet });
    const env = envOf(Template.fromStack(good.stack));
    expect(env[DRAIN_ENV.DRAIN_BUDGET_SECONDS]).toBe('40');
    expect(env[DRAIN_ENV.AUTO_SCALING_GROUP_NAME]).toBe('inference-asg');
    expect(env[DRAIN_ENV.LIFECYCLE_HOOK_NAME]).toBe('drain-hook');
    const bad = imported();
    new InterruptionHandler(bad.stack, 'Bad', { fleet: bad.fleet, terminateLifecycleHookName: 'drain-hok' });
    expect(() => (bad.stack.node.root as App).synth()).toThrow(/terminateLifecycleHookName \("drain-hok"\) is not a lifecycle hook of the group inference-asg, which has "drain-hook", "launch-hook"/);
  });

  test('SpotFleet.fromAutoScalingGroup refuses what a fleet built here would, all problems at once', () => {
    const { stack, asg } = importedFleet();
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-1', availabilityZones: ['us-east-1a'], privateSubnetIds: ['subnet-1'] });
    let err: FleetSpecError | undefined;
    try {
      SpotFleet.fromAutoScalingGroup(stack, 'Imported', {
        autoScalingGroup: asg, vpc, securityGroups: [], servingPort: 70000, healthCheck: { path: 'health' },
        drainBudgetSeconds: 100, deregistrationDelaySeconds: 30, terminationHookName: 'drain', lifecycleHookNames: ['other'],
      });
    } catch (e) {
      err = e as FleetSpecError;
    }
    expect(err).toBeInstanceOf(FleetSpecError);
    expect(err!.problems.map((p) => p.prop)).toEqual(['servingPort', 'healthCheck.port', 'healthCheck.path', 'drainBudgetSeconds', 'securityGroups', 'terminationHookName']);
    expect(err!.message).toMatch(/servingPort \(70000\) must be a whole number between 1 and 65535/);
    expect(err!.message).toMatch(/healthCheck.path \("health"\) must start with "\/"/);
    expect(err!.message).toMatch(/drain budget exceeded: deregistrationDelaySeconds \(30 s\) \+ drainBudgetSeconds \(100 s\) = 130 s is longer than the 120 s AWS spot notice/);
    expect(err!.message).toMatch(/securityGroups is empty, so no load balancer could be admitted to the instances/);
    expect(err!.message).toMatch(/terminationHookName \("drain"\) is not among lifecycleHookNames \("other"\)/);
  });

  test('fleet or autoScalingGroup is required; both must be the same group', () => {
    const { stack, asg } = importedFleet();
    expect(() => new InterruptionHandler(stack, 'None', {})).toThrow(/neither fleet nor autoScalingGroup is set, so there is no group to drain; pass fleet/);
    const other = fleetStack();
    expect(() => new InterruptionHandler(other.stack, 'Both', { fleet: other.fleet, autoScalingGroup: autoscaling.AutoScalingGroup.fromAutoScalingGroupName(other.stack, 'X', 'x') })).toThrow(
      /autoScalingGroup \(Test\/X\) is not the group of fleet \(Test\/Fleet\); leave autoScalingGroup out/,
    );
    void asg;
  });

  test('a deploy-time drainBudget is passed to the function untouched', () => {
    const { stack, fleet } = fleetStack();
    const { CfnParameter } = require('aws-cdk-lib');
    const p = new CfnParameter(stack, 'Budget', { type: 'Number' });
    new InterruptionHandler(stack, 'Interruptions', { fleet, drainBudget: Duration.seconds(p.valueAsNumber) });
    expect(envOf(Template.fromStack(stack))[DRAIN_ENV.DRAIN_BUDGET_SECONDS]).toEqual({ Ref: 'Budget' });
  });

  test('metricIgnoredEvents points at IgnoredEvents with its Reason', () => {
    const { stack, fleet } = fleetStack();
    const h = new InterruptionHandler(stack, 'Interruptions', { fleet });
    const m = h.metricIgnoredEvents('NotInFleet');
    expect(m.metricName).toBe('IgnoredEvents');
    expect(m.namespace).toBe('SpotInference');
    expect(Stack.of(h).resolve(m.dimensions)).toEqual({ service: 'spot-interruption-handler', AutoScalingGroupName: Stack.of(h).resolve(fleet.autoScalingGroup.autoScalingGroupName), Reason: 'NotInFleet' });
    expect(h.metricMalformedRecords().metricName).toBe('MalformedRecords');
  });
});
