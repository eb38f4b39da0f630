import { CfnParameter, Duration, Token } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as kms from 'aws-cdk-lib/aws-kms';
import { InterruptionDrill, ISpotFleet, QueueWorkerFleet, QueueWorkerFleetProps } from '../../../constructs/aws';
import { FleetSpecError, FleetSpecErrorCode, WorkloadKind } from '../../../lib/spec';
import { AGENT_BUNDLE, GPU_TYPES, stackWithVpc } from './fixtures';

function workers(overrides: Partial<QueueWorkerFleetProps> = {}) {
  const { stack, vpc } = stackWithVpc();
  const fleet = new QueueWorkerFleet(stack, 'Workers', {
    vpc,
    minCapacity: 0,
    maxCapacity: 20,
    onDemandBaseCapacity: 0,
    instanceTypes: GPU_TYPES,
    messageProcessingTime: Duration.seconds(120),
    acceptableLatency: Duration.minutes(10),
    agentBundlePath: AGENT_BUNDLE,
    ...overrides,
  });
  return { stack, fleet, t: Template.fromStack(stack) };
}

/** Evaluates a CloudWatch metric math expression of IF/FILL and arithmetic on scalar points. */
function evaluate(expression: string, values: Record<string, number | undefined>): number | undefined {
  let js = expression;
  // FILL(x, c): a missing point becomes c.
  js = js.replace(/FILL\((\w+), ([\d.]+)\)/g, '($1 === undefined ? $2 : $1)');
  // IF(cond, a, b) with no nested parentheses inside the arguments.
  js = js.replace(/IF\(([^,]+), ([^,]+), ([^)]+)\)/g, '(($1) ? ($2) : ($3))').replace(/ AND /g, ' && ').replace(/ == /g, ' === ');
  const names = Object.keys(values);
  const out = new Function(...names, `return ${js};`)(...names.map((n) => values[n])) as number;
  return Number.isFinite(out) ? out : undefined;
}

describe('QueueWorkerFleet queue', () => {
  const { t } = workers();

  test('SQS-managed encryption, long polling, visibility 1.5x the job, DLQ after 5 receives', () => {
    t.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 180,
      MessageRetentionPeriod: 345600,
      ReceiveMessageWaitTimeSeconds: 20,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('WorkersDeadLetterQueue'), 'Arn'] }, maxReceiveCount: 5 },
    });
    t.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600, RedrivePolicy: Match.absent() });
    t.resourceCountIs('AWS::SQS::Queue', 2);
  });

  test('both queues refuse plain HTTP', () => {
    const policies = t.findResources('AWS::SQS::QueuePolicy');
    expect(Object.keys(policies)).toHaveLength(2);
    for (const p of Object.values(policies)) {
      expect(p.Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      );
    }
  });

  test('retained on stack deletion by default', () => {
    t.hasResource('AWS::SQS::Queue', { DeletionPolicy: 'Retain' });
  });

  test('a KMS key encrypts both queues and the bucket; the workers may decrypt with it', () => {
    const { stack, vpc } = stackWithVpc();
    const key = new kms.Key(stack, 'Key');
    new QueueWorkerFleet(stack, 'W', {
      vpc, minCapacity: 1, maxCapacity: 4, onDemandBaseCapacity: 0, instanceTypes: GPU_TYPES,
      messageProcessingTime: Duration.seconds(30), acceptableLatency: Duration.minutes(1), encryptionKey: key, agentBundlePath: AGENT_BUNDLE,
    });
    const k = Template.fromStack(stack);
    const sqsQueues = k.findResources('AWS::SQS::Queue', { Properties: { KmsMasterKeyId: Match.anyValue() } });
    expect(Object.keys(sqsQueues)).toHaveLength(2);
    k.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ BucketKeyEnabled: true, ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }) })] },
    });
    k.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['kms:Decrypt']), Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('Key'), 'Arn'] } })]) },
    });
  });
});

describe('QueueWorkerFleet workers', () => {
  const { t, fleet } = workers();

  test('a spot fleet with no load balancer, no ingress, group metrics on', () => {
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 0);
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::TargetGroup', 0);
    t.hasResourceProperties('AWS::EC2::SecurityGroup', { SecurityGroupIngress: Match.absent() });
    t.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MinSize: '0',
      MaxSize: '20',
      MetricsCollection: [{ Granularity: '1Minute' }],
      MixedInstancesPolicy: Match.objectLike({ InstancesDistribution: Match.objectLike({ OnDemandBaseCapacity: 0, SpotAllocationStrategy: 'price-capacity-optimized' }) }),
    });
    expect(fleet.fleet.spec.workload).toBe(WorkloadKind.QUEUE_WORKER);
    expect(fleet.fleet.spec.deregistrationDelaySeconds).toBe(0);
    expect(fleet.fleet.spec.drainBudgetSeconds).toBe(90);
  });

  test('IMDSv2 and no public IP on the launch template', () => {
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: Match.objectLike({ HttpTokens: 'required' }),
        NetworkInterfaces: [Match.objectLike({ AssociatePublicIpAddress: false })],
      }),
    });
  });

  test('the worker role consumes this queue only and reads/writes this bucket only', () => {
    const statements = new Capture();
    t.hasResourceProperties('AWS::IAM::Policy', { PolicyDocument: { Statement: statements } });
    const all = Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    const sqsStatements = all.filter((s) => [s.Action].flat().some((a) => a.startsWith('sqs:')));
    expect(sqsStatements).toHaveLength(1);
    expect([sqsStatements[0].Action].flat().sort()).toEqual(['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage']);
    expect(sqsStatements[0].Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^WorkersQueue[0-9A-F]+$/), 'Arn'] });
    expect(JSON.stringify(all)).not.toMatch(/"Resource":"\*"/);
    const s3Resources = JSON.stringify(all.filter((s) => [s.Action].flat().some((a) => a.startsWith('s3:') && a !== 's3:GetObject')));
    expect(s3Resources).toMatch(/WorkersCheckpointBucket/);
  });

  test('the agent signals the worker (DrainMode.SIGNAL) and the worker gets its environment file', () => {
    const lt = t.findResources('AWS::EC2::LaunchTemplate');
    const userData = JSON.stringify(Object.values(lt)[0].Properties.LaunchTemplateData.UserData);
    expect(userData).toContain('\\"drainMode\\": \\"signal\\"');
    expect(userData).toContain('\\"pidFile\\": \\"/run/queue-worker.pid\\"');
    expect(userData).toContain("cat > /etc/queue-worker.env <<'QUEUE_WORKER_ENV'");
    expect(userData).toContain('SPOT_QUEUE_URL=');
    expect(userData).toContain('SPOT_QUEUE_VISIBILITY_TIMEOUT_SECONDS=180');
    expect(userData).toContain('SPOT_CHECKPOINT_BUCKET=');
  });

  test('checkpoint bucket: encrypted, private, TLS only, checkpoints expire', () => {
    t.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Id: 'ExpireCheckpoints', Prefix: 'checkpoints/', ExpirationInDays: 30 })]) },
    });
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });
});

describe('QueueWorkerFleet scaling on backlog per instance', () => {
  const { t, fleet } = workers({ messagesInParallel: 2 });
  const metrics = new Capture();
  t.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
    PolicyType: 'TargetTrackingScaling',
    TargetTrackingConfiguration: { CustomizedMetricSpecification: { Metrics: metrics }, TargetValue: Match.anyValue() },
  });
  const queries = metrics.asArray() as { Id: string; Expression?: string; ReturnData: boolean; MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: unknown }[] }; Stat: string } }[];

  test('target = acceptableLatency x messagesInParallel / messageProcessingTime (600 x 2 / 120 = 10)', () => {
    expect(fleet.targetBacklogPerInstance).toBe(10);
    t.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
      AutoScalingGroupName: { Ref: Match.stringLikeRegexp('WorkersFleetGroup') },
      EstimatedInstanceWarmup: 300,
      TargetTrackingConfiguration: { TargetValue: 10 },
    });
  });

  test('the L1 metric math: SQS visible messages and group in-service instances, one returned expression', () => {
    const byId = Object.fromEntries(queries.map((q) => [q.Id, q]));
    expect(byId.visibleRaw.MetricStat).toEqual({
      Metric: { Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [expect.stringMatching(/^WorkersQueue/), 'QueueName'] } }] },
      Stat: 'Sum',
    });
    expect(byId.inService.MetricStat).toEqual({
      Metric: { Namespace: 'AWS/AutoScaling', MetricName: 'GroupInServiceInstances', Dimensions: [{ Name: 'AutoScalingGroupName', Value: { Ref: expect.stringMatching(/^WorkersFleetGroup/) } }] },
      Stat: 'Average',
    });
    expect(queries.filter((q) => q.ReturnData)).toHaveLength(1);
    expect(queries[queries.length - 1]).toMatchObject({ Id: 'backlogPerInstance', ReturnData: true });
    for (const q of queries) expect(q.Id).toMatch(/^[a-z][A-Za-z0-9_]*$/);
  });

  test('the expression divides the backlog by the instances, without dividing by zero, and fills gaps with 0', () => {
    const expressions = Object.fromEntries(queries.filter((q) => q.Expression).map((q) => [q.Id, q.Expression!]));
    const run = (visibleRaw: number | undefined, inService: number) => {
      const visible = evaluate(expressions.visible, { visibleRaw });
      return evaluate(expressions.backlogPerInstance, { visible, inService });
    };
    expect(run(100, 4)).toBe(25);
    expect(run(10, 1)).toBe(10);
    expect(run(0, 3)).toBe(0);
    expect(run(37, 0)).toBe(37); // 0 in service: the whole queue, not Infinity/NaN
    expect(run(undefined, 2)).toBe(0); // idle queue, no SQS data point
    expect(run(undefined, 0)).toBe(0);
  });

  test('scale out from zero: a step policy sets 1 instance when messages wait and none is in service', () => {
    t.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
      PolicyType: 'StepScaling',
      AdjustmentType: 'ExactCapacity',
      StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 1 }],
    });
    const alarmMetrics = new Capture();
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      Metrics: alarmMetrics,
      AlarmActions: [{ Ref: Match.stringLikeRegexp('WorkersScaleOutFromZero') }],
    });
    const expr = (alarmMetrics.asArray() as { Expression?: string }[]).find((m) => m.Expression)!.Expression!;
    expect(evaluate(expr, { inService: 0, visible: 3 })).toBe(1);
    expect(evaluate(expr, { inService: 0, visible: 0 })).toBe(0);
    expect(evaluate(expr, { inService: 2, visible: 50 })).toBe(0);
  });

  test('no scale-from-zero policy when the group never goes below 1', () => {
    const { t: t1, fleet: f1 } = workers({ minCapacity: 1 });
    t1.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    t1.resourcePropertiesCountIs('AWS::AutoScaling::ScalingPolicy', { PolicyType: 'StepScaling' }, 0);
    expect(f1.scaleOutFromZero).toBeUndefined();
  });

  test('targetBacklogPerInstance overrides the derived target', () => {
    const { t: t2 } = workers({ targetBacklogPerInstance: 3 });
    t2.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', { TargetTrackingConfiguration: { TargetValue: 3 } });
  });
});

describe('QueueWorkerFleet validation', () => {
  const fails = (overrides: Partial<QueueWorkerFleetProps>) => () => workers(overrides);

  test('a visibility timeout shorter than the job', () => {
    expect(fails({ visibilityTimeout: Duration.seconds(60) })).toThrow(
      /visibilityTimeout \(60 s\) is shorter than the job's expected duration messageProcessingTime \(120 s\).*raise visibilityTimeout to at least 180 s or extend visibility while working/,
    );
    try {
      workers({ visibilityTimeout: Duration.seconds(60) });
    } catch (e) {
      expect(e).toBeInstanceOf(FleetSpecError);
      expect((e as FleetSpecError).hasCode(FleetSpecErrorCode.WORKLOAD)).toBe(true);
      expect((e as FleetSpecError).problems[0].prop).toBe('visibilityTimeout');
    }
  });

  test('a shorter visibility timeout is fine when the worker extends visibility', () => {
    const { t } = workers({ visibilityTimeout: Duration.seconds(60), extendsVisibility: true });
    t.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 60, RedrivePolicy: Match.anyValue() });
  });

  test('a job longer than the SQS maximum without heartbeats', () => {
    expect(fails({ messageProcessingTime: Duration.hours(10), acceptableLatency: Duration.hours(20) })).toThrow(
      /messageProcessingTime \(36000 s\) is too long for an SQS visibility timeout \(at most 43200 s.*set extendsVisibility: true/,
    );
    expect(fails({ visibilityTimeout: Duration.hours(13) })).toThrow(/visibilityTimeout \(46800 s\) must be between 0 and 43200 s/);
  });

  test('retrying forever: maxReceiveCount out of range', () => {
    expect(fails({ maxReceiveCount: 0 })).toThrow(/maxReceiveCount \(0\) must be a whole number from 2 to 1000 .*must not be retried forever/);
    expect(fails({ maxReceiveCount: 1 })).toThrow(/spot interruption that hands a message back counts as a receive/);
    expect(fails({ maxReceiveCount: 5000 })).toThrow(/maxReceiveCount \(5000\)/);
  });

  test('an acceptable latency shorter than one message: target below 1', () => {
    expect(fails({ acceptableLatency: Duration.seconds(60) })).toThrow(
      /acceptable backlog per instance is 0.5 \(acceptableLatency 60 s x messagesInParallel 1 \/ messageProcessingTime 120 s\), below 1 message.*raise acceptableLatency to at least 120 s/,
    );
    expect(fails({ targetBacklogPerInstance: 0.5 })).toThrow(/targetBacklogPerInstance \(0.5\) must be at least 1/);
  });

  test('every problem is reported together, each with the code of its rule, all in the WORKLOAD family', () => {
    let error: FleetSpecError | undefined;
    try {
      workers({ workload: WorkloadKind.ONLINE, messagesInParallel: 0, maxReceiveCount: 1, retentionPeriod: Duration.days(20) });
    } catch (e) {
      error = e as FleetSpecError;
    }
    expect(error).toBeInstanceOf(FleetSpecError);
    expect(error!.message).toMatch(/^Test\/Workers: 4 problems/);
    expect(error!.problems.map((p) => p.prop)).toEqual(['workload', 'messagesInParallel', 'maxReceiveCount', 'retentionPeriod']);
    expect(error!.code).toBe(FleetSpecErrorCode.WORKLOAD_KIND);
    expect(error!.problems.map((p) => FleetSpecError.familyOf(p.code))).toEqual(Array(4).fill(FleetSpecErrorCode.WORKLOAD));
    expect(error!.problemsWithCode(FleetSpecErrorCode.QUEUE_LIMITS).map((p) => p.prop)).toEqual(['maxReceiveCount', 'retentionPeriod']);
    expect(error!.message).toMatch(/maxReceiveCount \(1\) must be a whole number from 2 to 1000 .* \[QUEUE_LIMITS\]\n/);
    expect(error!.message).toMatch(/retentionPeriod \(1728000 s\) must be from 60 s to 1209600 s/);
    expect(error!.message).toMatch(/workload \(online\) must be WorkloadKind.QUEUE_WORKER/);
  });

  test('tokens are not validated, but a target and a visibility timeout that cannot be derived must be given', () => {
    const { stack, vpc } = stackWithVpc();
    const seconds = new CfnParameter(stack, 'Seconds', { type: 'Number', default: 120 }).valueAsNumber;
    const base = {
      vpc, minCapacity: 1, maxCapacity: 4, onDemandBaseCapacity: 0, instanceTypes: GPU_TYPES, agentBundlePath: AGENT_BUNDLE,
      messageProcessingTime: Duration.seconds(seconds), acceptableLatency: Duration.minutes(10),
    };
    expect(() => new QueueWorkerFleet(stack, 'A', base)).toThrow(/2 problems[\s\S]*set targetBacklogPerInstance[\s\S]*set visibilityTimeout/);
    const f = new QueueWorkerFleet(stack, 'B', { ...base, targetBacklogPerInstance: 4, visibilityTimeout: Duration.minutes(5), maxReceiveCount: Token.asNumber(new CfnParameter(stack, 'Max', { type: 'Number' }).valueAsNumber) });
    expect(f.targetBacklogPerInstance).toBe(4);
    expect(f.visibilityTimeoutSeconds).toBe(300);
  });

  test('fleet spec rules still apply (through SpotFleet)', () => {
    expect(fails({ instanceTypes: ['g5.xlarge'] })).toThrow(/at least 2 instance types/);
  });
});

describe('QueueWorkerFleet as an ISpotFleet', () => {
  test('its fleet is an ISpotFleet with the worker settings: no load balancer drain, the rest of the notice for the worker', () => {
    const { fleet } = workers();
    const spot: ISpotFleet = fleet.fleet;
    expect(spot.autoScalingGroup).toBe(fleet.autoScalingGroup);
    expect(spot.deregistrationDelaySeconds).toBe(0);
    expect(spot.drainBudgetSeconds).toBe(90);
    expect(spot.noticeSeconds).toBe(120);
    expect(spot.minCapacity).toBe(0);
    expect(spot.maxCapacity).toBe(20);
  });

  test('an InterruptionDrill takes it as its fleet, stopping on the dead-letter queue', () => {
    const { stack, vpc } = stackWithVpc();
    const fleet = new QueueWorkerFleet(stack, 'Workers', {
      vpc, minCapacity: 0, maxCapacity: 20, onDemandBaseCapacity: 0, instanceTypes: GPU_TYPES,
      messageProcessingTime: Duration.seconds(120), acceptableLatency: Duration.minutes(10), agentBundlePath: AGENT_BUNDLE,
    });
    const alarm = new cloudwatch.Alarm(stack, 'DeadLetters', { metric: fleet.metricDeadLetters(), threshold: 1, evaluationPeriods: 1 });
    const drill = new InterruptionDrill(stack, 'Drill', { fleet: fleet.fleet, stopConditionAlarm: alarm });
    const t = Template.fromStack(stack);
    const groupRef = stack.resolve(fleet.autoScalingGroup.autoScalingGroupName);
    t.hasResourceProperties('AWS::FIS::ExperimentTemplate', {
      Targets: { SpotInstances: Match.objectLike({ ResourceTags: { 'aws:autoscaling:groupName': groupRef } }) },
      StopConditions: [{ Source: 'aws:cloudwatch:alarm', Value: stack.resolve(alarm.alarmArn) }],
    });
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      Tags: Match.arrayWith([{ Key: 'spot-inference:drill-target', Value: drill.node.addr, PropagateAtLaunch: false }]),
    });
  });
});
