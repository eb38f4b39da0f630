import { App, Duration, Lazy, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { BatchInference, BatchInferenceProps } from '../../../constructs/aws/batch-inference';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';

const GPU_TYPES = [new ec2.InstanceType('g5.xlarge'), new ec2.InstanceType('g6.xlarge')];

function setup(props: Partial<BatchInferenceProps> = {}): { stack: Stack; template: Template; construct: BatchInference } {
  const app = new App();
  const stack = new Stack(app, 'Test', { env: { account: '123456789012', region: 'us-east-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
  const construct = new BatchInference(stack, 'Batch', {
    vpc,
    image: ecs.ContainerImage.fromRegistry('public.ecr.aws/acme/infer:1.0'),
    instanceTypes: GPU_TYPES,
    jobGpuCount: 1,
    ...props,
  });
  return { stack, template: Template.fromStack(stack), construct };
}

function setupWithoutSynth(props: Partial<BatchInferenceProps>): { stack: Stack; construct: BatchInference } {
  const app = new App();
  const stack = new Stack(app, 'Test');
  const construct = new BatchInference(stack, 'Batch', { vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 }), image: ecs.ContainerImage.fromRegistry('x'), instanceTypes: GPU_TYPES, ...props });
  return { stack, construct };
}

function build(props: Partial<BatchInferenceProps>): () => BatchInference {
  return () => setup(props).construct;
}

describe('BatchInference', () => {
  const { template } = setup({ shardCount: 64 });

  test('spot compute environment first, SPOT_PRICE_CAPACITY_OPTIMIZED, private subnets, IMDSv2 launch template', () => {
    template.resourceCountIs('AWS::Batch::ComputeEnvironment', 2);
    template.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      Type: 'managed',
      ComputeResources: Match.objectLike({
        Type: 'SPOT',
        AllocationStrategy: 'SPOT_PRICE_CAPACITY_OPTIMIZED',
        InstanceTypes: ['g5.xlarge', 'g6.xlarge'],
        MaxvCpus: 256,
        MinvCpus: 0,
        Subnets: [{ Ref: Match.stringLikeRegexp('VpcPrivateSubnet1') }, { Ref: Match.stringLikeRegexp('VpcPrivateSubnet2') }],
        LaunchTemplate: {
          LaunchTemplateId: { Ref: Match.stringLikeRegexp('BatchLaunchTemplate') },
          Version: { 'Fn::GetAtt': [Match.stringLikeRegexp('BatchLaunchTemplate'), 'LatestVersionNumber'] },
        },
        Ec2Configuration: [{ ImageType: 'ECS_AL2023_NVIDIA' }, { ImageType: 'ECS_AL2023' }],
        BidPercentage: Match.absent(),
      }),
    });
    template.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      ComputeResources: Match.objectLike({
        Type: 'EC2',
        AllocationStrategy: 'BEST_FIT_PROGRESSIVE',
        InstanceTypes: ['g5.xlarge', 'g6.xlarge'],
        LaunchTemplate: Match.objectLike({ Version: { 'Fn::GetAtt': [Match.stringLikeRegexp('BatchLaunchTemplate'), 'LatestVersionNumber'] } }),
      }),
    });
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: { HttpEndpoint: 'enabled', HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeSize: 100, VolumeType: 'gp3', DeleteOnTermination: true } }],
      }),
    });
  });

  test('job queue orders spot (1) before on-demand (2)', () => {
    const envs = template.findResources('AWS::Batch::ComputeEnvironment');
    const spotId = Object.keys(envs).find((k) => envs[k].Properties.ComputeResources.Type === 'SPOT')!;
    const odId = Object.keys(envs).find((k) => envs[k].Properties.ComputeResources.Type === 'EC2')!;
    template.hasResourceProperties('AWS::Batch::JobQueue', {
      Priority: 1,
      ComputeEnvironmentOrder: [
        { ComputeEnvironment: { 'Fn::GetAtt': [spotId, 'ComputeEnvironmentArn'] }, Order: 1 },
        { ComputeEnvironment: { 'Fn::GetAtt': [odId, 'ComputeEnvironmentArn'] }, Order: 2 },
      ],
    });
  });

  test('job definition retries on spot reclaim only and exits on anything else; GPU and shard count in the container', () => {
    template.hasResourceProperties('AWS::Batch::JobDefinition', {
      Type: 'container',
      PlatformCapabilities: ['EC2'],
      PropagateTags: true,
      RetryStrategy: {
        Attempts: 5,
        EvaluateOnExit: [
          { Action: 'RETRY', OnStatusReason: 'Host EC2*' },
          { Action: 'EXIT', OnReason: '*' },
        ],
      },
      ContainerProperties: Match.objectLike({
        Image: 'public.ecr.aws/acme/infer:1.0',
        JobRoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('BatchJobRole'), 'Arn'] },
        ResourceRequirements: [{ Type: 'MEMORY', Value: '15360' }, { Type: 'VCPU', Value: '4' }, { Type: 'GPU', Value: '1' }],
        Environment: Match.arrayWith([
          { Name: 'SPOT_CHECKPOINT_BUCKET', Value: { Ref: Match.stringLikeRegexp('BatchBucket') } },
          { Name: 'SPOT_CHECKPOINT_PREFIX', Value: 'checkpoints/' },
          { Name: 'SPOT_OUTPUT_PREFIX', Value: 'outputs/' },
          { Name: 'SPOT_SHARD_COUNT', Value: '64' },
        ]),
      }),
    });
  });

  test('bucket: encrypted, public access blocked, TLS only, checkpoints expire, incomplete uploads aborted, retained', () => {
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: {
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        LifecycleConfiguration: {
          Rules: [
            { Id: 'ExpireCheckpoints', Prefix: 'checkpoints/', ExpirationInDays: 30, Status: 'Enabled' },
            { Id: 'AbortIncompleteUploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 }, Status: 'Enabled' },
          ],
        },
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('job role reads and writes only its bucket; instances share one ECS-agent role', () => {
    const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('BatchJobRole') }] } });
    const statements = Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement);
    expect(statements).toHaveLength(1);
    expect(statements[0].Effect).toBe('Allow');
    expect(statements[0].Action).toEqual(expect.arrayContaining(['s3:GetObject*', 's3:PutObject', 's3:List*']));
    expect(JSON.stringify(statements[0].Resource)).toMatch(/BatchBucket/);
    expect(JSON.stringify(statements[0].Resource)).not.toContain('"*"');
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'ecs-tasks.amazonaws.com' } })] },
      Description: Match.stringLikeRegexp('checkpoint and output bucket'),
    });
    const ec2Roles = template.findResources('AWS::IAM::Role', { Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })] } } });
    expect(Object.keys(ec2Roles)).toHaveLength(1);
    template.resourceCountIs('AWS::IAM::InstanceProfile', 2);
  });

  test('security group admits nothing and sends only HTTPS', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('Batch inference workers'),
      SecurityGroupIngress: Match.absent(),
      SecurityGroupEgress: [{ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: 'HTTPS to AWS APIs, ECR and S3' }],
    });
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
  });

  test('grantSubmitJob and submitJobCommand', () => {
    const { stack, construct } = setupWithoutSynth({ shardCount: 64 });
    const user = new iam.Role(stack, 'Submitter', { assumedBy: new iam.AccountRootPrincipal() });
    construct.grantSubmitJob(user);
    const t = Template.fromStack(stack);
    const jobDefinitionArn = new Capture();
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('Submitter') }],
      PolicyDocument: { Statement: [Match.objectLike({ Action: 'batch:SubmitJob', Resource: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('BatchJobQueue'), 'JobQueueArn'] }, jobDefinitionArn] })] },
    });
    expect(JSON.stringify(jobDefinitionArn.asObject())).toMatch(/:job-definition\/",\{"Fn::Select".*":\*"/);
    expect(stack.resolve(construct.submitJobCommand())).toEqual(
      expect.objectContaining({ 'Fn::Join': ['', expect.arrayContaining([expect.stringContaining('--array-properties size=64')])] }),
    );
    expect(JSON.stringify(stack.resolve(construct.submitJobCommand(8)))).toContain('aws batch submit-job --job-name batch-inference --job-queue ');
  });
});

describe('BatchInference options', () => {
  test('without on-demand fallback the queue has only the spot environment', () => {
    const { template, construct } = setup({ onDemandFallback: false });
    template.resourceCountIs('AWS::Batch::ComputeEnvironment', 1);
    expect(construct.onDemandComputeEnvironment).toBeUndefined();
    template.hasResourceProperties('AWS::Batch::JobQueue', { ComputeEnvironmentOrder: [Match.objectLike({ Order: 1 })] });
  });

  test('CPU-only jobs boot the plain ECS image and reserve no GPU; a capped on-demand share', () => {
    const { template } = setup({ instanceTypes: [new ec2.InstanceType('c7i.2xlarge'), new ec2.InstanceType('m7i.2xlarge')], jobGpuCount: 0, onDemandMaxvCpus: 16, jobVcpus: 8, jobMemory: Size.gibibytes(28) });
    template.hasResourceProperties('AWS::Batch::ComputeEnvironment', { ComputeResources: Match.objectLike({ Type: 'SPOT', Ec2Configuration: [{ ImageType: 'ECS_AL2023' }] }) });
    template.hasResourceProperties('AWS::Batch::ComputeEnvironment', { ComputeResources: Match.objectLike({ Type: 'EC2', MaxvCpus: 16 }) });
    template.hasResourceProperties('AWS::Batch::JobDefinition', {
      ContainerProperties: Match.objectLike({ ResourceRequirements: [{ Type: 'MEMORY', Value: '28672' }, { Type: 'VCPU', Value: '8' }] }),
    });
  });

  test('KMS key, output expiry, timeout, container metadata access, removal policy', () => {
    const app = new App();
    const stack = new Stack(app, 'K');
    const key = new kms.Key(stack, 'Key');
    new BatchInference(stack, 'Batch', {
      vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 }),
      image: ecs.ContainerImage.fromRegistry('x'),
      instanceTypes: GPU_TYPES,
      encryptionKey: key,
      outputExpiration: Duration.days(90),
      checkpointExpiration: Duration.days(7),
      jobTimeout: Duration.hours(6),
      allowContainerMetadataAccess: true,
      removalPolicy: RemovalPolicy.DESTROY,
      retryAttempts: 10,
    });
    const t = Template.fromStack(stack);
    t.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [Match.stringLikeRegexp('Key'), 'Arn'] } } }] },
        LifecycleConfiguration: {
          Rules: [
            Match.objectLike({ Id: 'ExpireCheckpoints', ExpirationInDays: 7 }),
            Match.objectLike({ Id: 'ExpireOutputs', Prefix: 'outputs/', ExpirationInDays: 90 }),
            Match.objectLike({ Id: 'AbortIncompleteUploads' }),
          ],
        },
      }),
    });
    t.hasResourceProperties('AWS::Batch::JobDefinition', { Timeout: { AttemptDurationSeconds: 21600 }, RetryStrategy: Match.objectLike({ Attempts: 10 }) });
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', { LaunchTemplateData: Match.objectLike({ MetadataOptions: Match.objectLike({ HttpPutResponseHopLimit: 2, HttpTokens: 'required' }) }) });
    // the job role may use the key for the bucket's objects
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('BatchJobRole') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['kms:Decrypt']), Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('Key'), 'Arn'] } })]) },
    });
  });

  test('an existing bucket is used and granted, no bucket is created', () => {
    const app = new App();
    const stack = new Stack(app, 'B');
    const bucket = s3.Bucket.fromBucketName(stack, 'Existing', 'my-results');
    const c = new BatchInference(stack, 'Batch', { vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 }), image: ecs.ContainerImage.fromRegistry('x'), instanceTypes: GPU_TYPES, bucket });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::S3::Bucket', 0);
    expect(c.bucket).toBe(bucket);
    t.hasResourceProperties('AWS::Batch::JobDefinition', { ContainerProperties: Match.objectLike({ Environment: Match.arrayWith([{ Name: 'SPOT_CHECKPOINT_BUCKET', Value: 'my-results' }]) }) });
  });

  test('custom retry strategies that keep a final EXIT catch-all are accepted', () => {
    const { template } = setup({
      retryStrategies: [
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.CANNOT_PULL_CONTAINER),
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onStatusReason: '*' })),
      ],
    });
    template.hasResourceProperties('AWS::Batch::JobDefinition', {
      RetryStrategy: { Attempts: 5, EvaluateOnExit: [{ Action: 'RETRY', OnStatusReason: 'Host EC2*' }, { Action: 'RETRY', OnReason: 'CannotPullContainerError:*' }, { Action: 'EXIT', OnStatusReason: '*' }] },
    });
  });
});

describe('BatchInference validation', () => {
  const { RETRY, EXIT } = batch.Action;
  const reclaim = batch.RetryStrategy.of(RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED);

  test('retryAttempts must be 1-10', () => {
    expect(build({ retryAttempts: 0 })).toThrow(/retryAttempts \(0\) must be a whole number from 1 to 10 \(the AWS Batch limit\).* \[BATCH_RETRY_POLICY\]$/);
    expect(build({ retryAttempts: 11 })).toThrow(/retryAttempts \(11\) must be a whole number from 1 to 10/);
  });

  test('a retry strategy that would retry every failure is refused', () => {
    expect(build({ retryStrategies: [reclaim] })).toThrow(
      /retryStrategies ends with RETRY on \{onStatusReason: 'Host EC2\*'\}, not an EXIT catch-all: a failure that matches no entry is retried, so every bug would be retried until retryAttempts \(5\) runs out; end the list with RetryStrategy.of\(Action.EXIT, Reason.custom\(\{ onReason: '\*' \}\)\)/,
    );
    expect(build({ retryStrategies: [batch.RetryStrategy.of(RETRY, batch.Reason.custom({ onReason: '*' })), batch.RetryStrategy.of(EXIT, batch.Reason.custom({ onReason: '*' }))] })).toThrow(
      /retryStrategies has RETRY on \{onReason: '\*'\}: it retries every failure.*retry only on spot reclaim/,
    );
  });

  test('an EXIT on exit code only is not a catch-all; entries after a catch-all never apply; reclaim must retry', () => {
    expect(build({ retryStrategies: [reclaim, batch.RetryStrategy.of(EXIT, batch.Reason.NON_ZERO_EXIT_CODE)] })).toThrow(/ends with EXIT on \{onExitCode: '\*'\}, not an EXIT catch-all/);
    expect(build({ retryStrategies: [batch.RetryStrategy.of(EXIT, batch.Reason.custom({ onReason: '*' })), reclaim, batch.RetryStrategy.of(EXIT, batch.Reason.custom({ onReason: '*' }))] })).toThrow(
      /retryStrategies entry 1 \(EXIT on \{onReason: '\*'\}\) catches everything, so the 2 entries after it never apply; move the catch-all to the end/,
    );
    expect(build({ retryStrategies: [batch.RetryStrategy.of(EXIT, batch.Reason.custom({ onReason: '*' }))] })).toThrow(/retryStrategies has no RETRY on spot reclaim.*Reason.SPOT_INSTANCE_RECLAIMED/);
    expect(build({ retryStrategies: [] })).toThrow(/retryStrategies has 0 entries; AWS Batch takes 1 to 5.* \[BATCH_RETRY_POLICY\]$/);
    const six = [reclaim, reclaim, reclaim, reclaim, reclaim, batch.RetryStrategy.of(EXIT, batch.Reason.custom({ onReason: '*' }))];
    expect(build({ retryStrategies: six })).toThrow(/retryStrategies has 6 entries; AWS Batch takes 1 to 5/);
  });

  test('fewer than two instance types is refused unless allowed', () => {
    expect(build({ instanceTypes: [new ec2.InstanceType('g5.xlarge')] })).toThrow(/instanceTypes has 1 type \(g5.xlarge\): spot batch needs at least 2 instance types.*allowUndiversified: true/);
    expect(build({ instanceTypes: [new ec2.InstanceType('g5.xlarge'), new ec2.InstanceType('g5.xlarge')] })).toThrow(/instanceTypes has 1 type/);
    expect(build({ instanceTypes: [new ec2.InstanceType('g5.xlarge')], allowUndiversified: true })).not.toThrow();
    try {
      build({ instanceTypes: [new ec2.InstanceType('g5.xlarge')] })();
    } catch (e) {
      expect(e).toBeInstanceOf(FleetSpecError);
      expect((e as FleetSpecError).code).toBe(FleetSpecErrorCode.NOT_DIVERSIFIED);
    }
  });

  test('GPU jobs need GPU instance types', () => {
    expect(build({ instanceTypes: [new ec2.InstanceType('g5.xlarge'), new ec2.InstanceType('m5.xlarge')], jobGpuCount: 1 })).toThrow(
      /jobGpuCount \(1\) needs NVIDIA GPU instance types, but m5.xlarge has none/,
    );
    expect(build({ jobGpuCount: 1.5 })).toThrow(/jobGpuCount \(1.5\) must be a whole number, 0 or more \[BATCH_JOB_RESOURCES\]$/);
  });

  test('capacity, shards, timeout, expiry, volume and bucket options are range-checked, all problems together', () => {
    let error: FleetSpecError | undefined;
    try {
      build({
        jobVcpus: 8,
        maxvCpus: 4,
        onDemandMaxvCpus: 2,
        shardCount: 20_000,
        jobTimeout: Duration.seconds(30),
        checkpointExpiration: Duration.hours(12),
        rootVolumeSize: Size.gibibytes(20),
      })();
    } catch (e) {
      error = e as FleetSpecError;
    }
    expect(error).toBeInstanceOf(FleetSpecError);
    expect(error!.code).toBe(FleetSpecErrorCode.BATCH_JOB_RESOURCES);
    expect(error!.hasCode(FleetSpecErrorCode.WORKLOAD)).toBe(true);
    expect(error!.message).toMatch(/^Test\/Batch: 6 problems in the fleet spec:/);
    expect(error!.problems.map((p) => p.prop)).toEqual(['maxvCpus', 'onDemandMaxvCpus', 'shardCount', 'jobTimeout', 'checkpointExpiration', 'rootVolumeSize']);
    const C = FleetSpecErrorCode;
    expect(error!.problems.map((p) => p.code)).toEqual([C.BATCH_JOB_RESOURCES, C.BATCH_JOB_RESOURCES, C.BATCH_JOB_LIMITS, C.BATCH_JOB_LIMITS, C.BATCH_STORAGE, C.BATCH_STORAGE]);
    expect(error!.message).toMatch(/shardCount \(20000\) .* \[BATCH_JOB_LIMITS\]\n/);
    expect(error!.message).toMatch(/maxvCpus \(4\) is below jobVcpus \(8\): no job would ever be placed; raise maxvCpus to at least 8/);
    expect(error!.message).toMatch(/onDemandMaxvCpus \(2\) is below jobVcpus \(8\): the on-demand fallback could never place a job/);
    expect(error!.message).toMatch(/shardCount \(20000\) must be a whole number from 2 to 10000 \(the AWS Batch array size limit\)/);
    expect(error!.message).toMatch(/jobTimeout \(30 s\) must be at least 60 seconds/);
    expect(error!.message).toMatch(/checkpointExpiration \(12 hours\) must be at least 1 day/);
    expect(error!.message).toMatch(/rootVolumeSize \(20 GiB\) must be at least 30 GiB/);
    expect(build({ jobVcpus: 0 })).toThrow(/jobVcpus \(0\) must be a whole number, 1 or more/);
    expect(build({ onDemandFallback: false, onDemandMaxvCpus: 8 })).toThrow(/onDemandMaxvCpus \(8\) is set but onDemandFallback is false/);
  });

  test('encryptionKey with an existing bucket is refused', () => {
    const app = new App();
    const stack = new Stack(app, 'E');
    expect(
      () =>
        new BatchInference(stack, 'Batch', {
          vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 }),
          image: ecs.ContainerImage.fromRegistry('x'),
          instanceTypes: GPU_TYPES,
          bucket: s3.Bucket.fromBucketName(stack, 'B', 'my-bucket'),
          encryptionKey: new kms.Key(stack, 'K'),
        }),
    ).toThrow(/encryptionKey is set together with bucket/);
  });

  test('tokens are not validated', () => {
    const tokenAttempts = Lazy.number({ produce: () => 3 });
    const tokenShards = Lazy.number({ produce: () => 50_000 });
    expect(build({ retryAttempts: tokenAttempts, shardCount: tokenShards, maxvCpus: Lazy.number({ produce: () => 1 }) })).not.toThrow();
  });
});
