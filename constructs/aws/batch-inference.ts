import { Duration, RemovalPolicy, Size, Stack, Token, Tokenization } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { createCheckpointBucket } from './checkpoint-bucket';

/** Prefix of checkpoint objects in the bucket (expired by the lifecycle rule). Same as the runtime's `CHECKPOINT_PREFIX`. */
export const BATCH_CHECKPOINT_PREFIX = 'checkpoints/';
/** Prefix of output objects in the bucket. */
export const BATCH_OUTPUT_PREFIX = 'outputs/';

/** AWS Batch limits used by the validation. */
const MAX_RETRY_ATTEMPTS = 10;
const MAX_EVALUATE_ON_EXIT = 5;
const MAX_ARRAY_SIZE = 10_000;

/** Properties of {@link BatchInference}. */
export interface BatchInferenceProps {
  /** The VPC the compute environments launch instances in. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets of the instances. Keep them private: workers need no inbound traffic and get no public IP.
   * @default - the VPC's private subnets with egress (NAT), so instances can pull images and reach S3
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** The container image that runs one shard. */
  readonly image: ecs.ContainerImage;
  /**
   * Instance types the compute environments may launch, in no particular order (Batch picks with
   * `SPOT_PRICE_CAPACITY_OPTIMIZED`). Give at least two (same GPU, neighbouring sizes or generations) so
   * that one spot pool running dry does not stall the queue, unless `allowUndiversified` is set.
   */
  readonly instanceTypes: ec2.InstanceType[];
  /**
   * Accept fewer than two instance types.
   * @default false
   */
  readonly allowUndiversified?: boolean;
  /**
   * Most vCPUs the spot compute environment runs at once (the spot share of the fleet).
   * @default 256
   */
  readonly maxvCpus?: number;
  /**
   * Whether an on-demand compute environment follows the spot one in the job queue, so jobs still run
   * (at on-demand price) when spot capacity is short.
   * @default true
   */
  readonly onDemandFallback?: boolean;
  /**
   * Most vCPUs the on-demand compute environment runs at once. Keep it small to cap the cost of fallback.
   * @default - the same as maxvCpus
   */
  readonly onDemandMaxvCpus?: number;
  /**
   * vCPUs one job (shard) reserves.
   * @default 4
   */
  readonly jobVcpus?: number;
  /**
   * Memory one job reserves. Leave some of the instance's memory to the ECS agent and the OS.
   * @default Size.gibibytes(15)
   */
  readonly jobMemory?: Size;
  /**
   * GPUs one job reserves. When above 0 the instances boot the ECS-optimized NVIDIA image.
   * @default 0
   */
  readonly jobGpuCount?: number;
  /**
   * Command the container runs.
   * @default - the image's CMD
   */
  readonly command?: string[];
  /**
   * Extra environment variables of the container. The construct always adds `SPOT_CHECKPOINT_BUCKET`,
   * `SPOT_CHECKPOINT_PREFIX`, `SPOT_OUTPUT_PREFIX` (and `SPOT_SHARD_COUNT` when `shardCount` is set).
   * @default - none
   */
  readonly environment?: { [key: string]: string };
  /**
   * Attempts of a job, the first included, 1-10 (the AWS limit). A job retries only on a spot reclaim
   * (see `retryStrategies`), so each attempt resumes from the last checkpoint.
   * @default 5
   */
  readonly retryAttempts?: number;
  /**
   * When to retry and when to give up, evaluated in order (at most 5). The last one must be an EXIT
   * catch-all (`onReason: '*'` or `onStatusReason: '*'`): without it Batch retries every failure,
   * bugs included, until the attempts run out.
   * @default - RETRY on `onStatusReason: 'Host EC2*'` (spot reclaim), EXIT on `onReason: '*'`
   */
  readonly retryStrategies?: batch.RetryStrategy[];
  /**
   * Time limit of one attempt; Batch stops a job that runs longer (at least 60 seconds).
   * @default - no limit
   */
  readonly jobTimeout?: Duration;
  /**
   * Number of shards the job is usually submitted with (array size, 2-10,000). Passed to the container as
   * `SPOT_SHARD_COUNT` and used by `submitJobCommand()`. The array size itself is chosen at submit time:
   * `aws batch submit-job --array-properties size=N`.
   * @default - not set; give the array size when submitting
   */
  readonly shardCount?: number;
  /**
   * Bucket for checkpoints and outputs. The job role gets read/write on it.
   * @default - a new bucket: encrypted, all public access blocked, TLS only, checkpoints expired
   */
  readonly bucket?: s3.IBucket;
  /**
   * KMS key of the new bucket. Ignored when `bucket` is given.
   * @default - S3-managed encryption (SSE-S3)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * How long checkpoints (`checkpoints/`) are kept after their last write (at least one day).
   * @default Duration.days(30)
   */
  readonly checkpointExpiration?: Duration;
  /**
   * How long outputs (`outputs/`) are kept.
   * @default - kept until deleted
   */
  readonly outputExpiration?: Duration;
  /**
   * What happens to the new bucket when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Size of each instance's encrypted root volume (images and models are cached there). At least 30 GiB.
   * @default Size.gibibytes(100)
   */
  readonly rootVolumeSize?: Size;
  /**
   * Let containers reach the instance metadata service (IMDSv2 hop limit 2), e.g. for an in-container spot
   * interruption watcher. Containers can then read the instance role's credentials too. With the default
   * hop limit 1 only the host reaches IMDS: jobs use their job role and learn of a reclaim by SIGTERM.
   * @default false
   */
  readonly allowContainerMetadataAccess?: boolean;
}

/** The props with their defaults filled in (what the validation and the resources use). */
interface ResolvedProps {
  readonly retryAttempts: number;
  readonly retryStrategies: batch.RetryStrategy[];
  readonly maxvCpus: number;
  readonly onDemandFallback: boolean;
  readonly onDemandMaxvCpus: number;
  readonly jobVcpus: number;
  readonly jobMemory: Size;
  readonly gpuCount: number;
  readonly rootVolumeSize: Size;
  readonly checkpointExpiration: Duration;
}

/** What both compute environments share: everything but the capacity (spot or not, strategy, size). */
type ComputeEnvironmentBase = Omit<batch.ManagedEc2EcsComputeEnvironmentProps, 'spot' | 'allocationStrategy' | 'maxvCpus'>;

function resolveDefaults(props: BatchInferenceProps): ResolvedProps {
  const maxvCpus = props.maxvCpus ?? 256;
  return {
    retryAttempts: props.retryAttempts ?? 5,
    retryStrategies: props.retryStrategies ?? [
      batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
      batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onReason: '*' })),
    ],
    maxvCpus,
    onDemandFallback: props.onDemandFallback ?? true,
    onDemandMaxvCpus: props.onDemandMaxvCpus ?? maxvCpus,
    jobVcpus: props.jobVcpus ?? 4,
    jobMemory: props.jobMemory ?? Size.gibibytes(15),
    gpuCount: props.jobGpuCount ?? 0,
    rootVolumeSize: props.rootVolumeSize ?? Size.gibibytes(100),
    checkpointExpiration: props.checkpointExpiration ?? Duration.days(30),
  };
}

/** Whether a value is given and resolved at synth time (so it can be checked). */
function isKnown(x: unknown): boolean {
  return x !== undefined && !Token.isUnresolved(x);
}

function isGpuType(t: string): boolean {
  // NVIDIA GPU families: p2-p6, g3-g6 (g4dn, g5g, g6e...), gr6.
  return /^(p\d|g\d|gr\d)/.test(t);
}

function isCatchAll(reason: batch.CustomReason): boolean {
  const fields = [reason.onReason, reason.onStatusReason, reason.onExitCode].filter((f) => f !== undefined);
  return fields.length > 0 && fields.every((f) => f === '*') && (reason.onReason === '*' || reason.onStatusReason === '*');
}

function describeStrategy(s: batch.RetryStrategy): string {
  const on = s.on as batch.CustomReason;
  const parts = Object.entries(on).map(([k, v]) => `${k}: '${v}'`);
  return `${s.action} on {${parts.join(', ')}}`;
}

/**
 * Batch inference on spot with AWS Batch: a spot compute environment (`SPOT_PRICE_CAPACITY_OPTIMIZED`)
 * first and an on-demand one after it in the job queue, a job definition that retries only when a spot
 * reclaim took the host (`onStatusReason: 'Host EC2*'`) and exits on anything else, and an S3 bucket for
 * checkpoints and outputs. Submit an array job (one child per shard); each child reads
 * `AWS_BATCH_JOB_ARRAY_INDEX`, resumes from its checkpoint with the runtime's `runShard()` and writes
 * under `outputs/`. A reclaim costs one retry, not the work done.
 *
 * Instances run in private subnets with IMDSv2 required, an encrypted root volume and a security group
 * with no inbound rule and HTTPS-only outbound; the job role reads and writes only the bucket.
 */
export class BatchInference extends Construct {
  /** The job queue: spot first (order 1), on-demand after it (order 2). */
  public readonly jobQueue: batch.JobQueue;
  /** The job definition jobs are submitted with. */
  public readonly jobDefinition: batch.EcsJobDefinition;
  /** The spot compute environment. */
  public readonly spotComputeEnvironment: batch.ManagedEc2EcsComputeEnvironment;
  /** The on-demand compute environment, unless `onDemandFallback` is false. */
  public readonly onDemandComputeEnvironment?: batch.ManagedEc2EcsComputeEnvironment;
  /** Bucket of checkpoints and outputs. */
  public readonly bucket: s3.IBucket;
  /** Role the job's container runs as. */
  public readonly jobRole: iam.IRole;
  /** Role of the instances (the ECS agent's); jobs run as `jobRole`. */
  public readonly instanceRole: iam.IRole;
  /** Launch template of the instances (IMDSv2, encrypted root volume). */
  public readonly launchTemplate: ec2.LaunchTemplate;
  /** Security group of the instances: no inbound rule, HTTPS outbound. */
  public readonly securityGroup: ec2.SecurityGroup;
  /** Network access of the instances. */
  public readonly connections: ec2.Connections;
  private readonly shardCount?: number;

  constructor(scope: Construct, id: string, props: BatchInferenceProps) {
    super(scope, id);
    const r = resolveDefaults(props);
    this.validate(props, r);
    this.shardCount = props.shardCount;

    this.bucket = props.bucket ?? this.createBucket(props, r.checkpointExpiration);
    this.securityGroup = this.createSecurityGroup(props.vpc);
    this.connections = this.securityGroup.connections;
    this.launchTemplate = this.createLaunchTemplate(props, r.rootVolumeSize);
    this.instanceRole = this.createInstanceRole();

    const base = this.computeEnvironmentBase(props, r.gpuCount);
    this.spotComputeEnvironment = this.createComputeEnvironment('SpotEnvironment', base, {
      spot: true,
      allocationStrategy: batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED,
      maxvCpus: r.maxvCpus,
    });
    const order: batch.OrderedComputeEnvironment[] = [{ computeEnvironment: this.spotComputeEnvironment, order: 1 }];
    if (r.onDemandFallback) {
      this.onDemandComputeEnvironment = this.createComputeEnvironment('OnDemandEnvironment', base, {
        spot: false,
        allocationStrategy: batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
        maxvCpus: r.onDemandMaxvCpus,
      });
      order.push({ computeEnvironment: this.onDemandComputeEnvironment, order: 2 });
    }
    this.jobQueue = new batch.JobQueue(this, 'JobQueue', { computeEnvironments: order, priority: 1 });

    this.jobRole = this.createJobRole();
    this.jobDefinition = this.createJobDefinition(props, r);
  }

  /** Allow `grantee` to submit jobs to this queue with this job definition (any revision). */
  public grantSubmitJob(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['batch:SubmitJob'],
      resourceArns: [
        this.jobQueue.jobQueueArn,
        Stack.of(this).formatArn({ service: 'batch', resource: 'job-definition', resourceName: `${this.jobDefinition.jobDefinitionName}:*` }),
      ],
    });
  }

  /**
   * The AWS CLI command that submits an array job with one child per shard.
   * @param shards number of shards (array size, 2-10,000) @default - shardCount
   */
  public submitJobCommand(shards?: number): string {
    const size = shards ?? this.shardCount;
    const array = size !== undefined ? ` --array-properties size=${size}` : '';
    return `aws batch submit-job --job-name batch-inference --job-queue ${this.jobQueue.jobQueueName} --job-definition ${this.jobDefinition.jobDefinitionName}${array}`;
  }

  /** The bucket of checkpoints and outputs, when none is given: private, encrypted, TLS only, checkpoints expired. */
  private createBucket(props: BatchInferenceProps, checkpointExpiration: Duration): s3.Bucket {
    return createCheckpointBucket(this, 'Bucket', {
      encryptionKey: props.encryptionKey,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      expirations: [
        { id: 'ExpireCheckpoints', prefix: BATCH_CHECKPOINT_PREFIX, expiration: checkpointExpiration },
        ...(props.outputExpiration ? [{ id: 'ExpireOutputs', prefix: BATCH_OUTPUT_PREFIX, expiration: props.outputExpiration }] : []),
      ],
    });
  }

  /** The instances' security group: no inbound rule, HTTPS outbound only. */
  private createSecurityGroup(vpc: ec2.IVpc): ec2.SecurityGroup {
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'Batch inference workers: no inbound, HTTPS outbound (ECR, S3, ECS, CloudWatch Logs)',
      allowAllOutbound: false,
    });
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs, ECR and S3');
    return securityGroup;
  }

  /** The instances' launch template: IMDSv2 required, encrypted gp3 root volume. */
  private createLaunchTemplate(props: BatchInferenceProps, rootVolumeSize: Size): ec2.LaunchTemplate {
    return new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      requireImdsv2: true,
      httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
      httpEndpoint: true,
      httpPutResponseHopLimit: props.allowContainerMetadataAccess ? 2 : 1,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(rootVolumeSize.toGibibytes(), { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3, deleteOnTermination: true }),
        },
      ],
    });
  }

  /** One instance role for both environments: the ECS agent's permissions, nothing of the job's. */
  private createInstanceRole(): iam.Role {
    return new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonEC2ContainerServiceforEC2Role')],
      description: 'Batch inference instances: ECS agent only; jobs use the job role',
    });
  }

  /** What both compute environments share; the NVIDIA image comes first when any job or instance type has GPUs. */
  private computeEnvironmentBase(props: BatchInferenceProps, gpuCount: number): ComputeEnvironmentBase {
    const typeNames = props.instanceTypes.map((t) => t.toString());
    const anyGpu = gpuCount > 0 || typeNames.some((t) => !Token.isUnresolved(t) && isGpuType(t));
    const images: batch.EcsMachineImage[] = anyGpu
      ? [{ imageType: batch.EcsMachineImageType.ECS_AL2023_NVIDIA }, { imageType: batch.EcsMachineImageType.ECS_AL2023 }]
      : [{ imageType: batch.EcsMachineImageType.ECS_AL2023 }];
    return {
      instanceRole: this.instanceRole,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      instanceTypes: props.instanceTypes,
      useOptimalInstanceClasses: false,
      launchTemplate: this.launchTemplate,
      securityGroups: [this.securityGroup],
      images,
      updateToLatestImageVersion: true,
    };
  }

  /** A compute environment on the shared base, with its launch template version pinned. */
  private createComputeEnvironment(
    id: string,
    base: ComputeEnvironmentBase,
    capacity: { spot: boolean; allocationStrategy: batch.AllocationStrategy; maxvCpus: number },
  ): batch.ManagedEc2EcsComputeEnvironment {
    const env = new batch.ManagedEc2EcsComputeEnvironment(this, id, { ...base, ...capacity });
    // The L2 leaves the version out, which Batch resolves to `$Default` once, at creation: pin the
    // latest version number so that a changed launch template reaches the compute environment.
    (env.node.defaultChild as batch.CfnComputeEnvironment).addPropertyOverride('ComputeResources.LaunchTemplate.Version', this.launchTemplate.latestVersionNumber);
    return env;
  }

  /** The role the job's container runs as: read/write on the bucket, nothing else. */
  private createJobRole(): iam.Role {
    const jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Batch inference job: read/write its checkpoint and output bucket, nothing else',
    });
    this.bucket.grantReadWrite(jobRole);
    return jobRole;
  }

  /** The container (with the checkpoint/output environment) and the job definition with the retry policy. */
  private createJobDefinition(props: BatchInferenceProps, r: ResolvedProps): batch.EcsJobDefinition {
    const container = new batch.EcsEc2ContainerDefinition(this, 'Container', {
      image: props.image,
      cpu: r.jobVcpus,
      memory: r.jobMemory,
      gpu: r.gpuCount > 0 ? r.gpuCount : undefined,
      command: props.command,
      jobRole: this.jobRole,
      environment: {
        ...props.environment,
        SPOT_CHECKPOINT_BUCKET: this.bucket.bucketName,
        SPOT_CHECKPOINT_PREFIX: BATCH_CHECKPOINT_PREFIX,
        SPOT_OUTPUT_PREFIX: BATCH_OUTPUT_PREFIX,
        ...(props.shardCount !== undefined ? { SPOT_SHARD_COUNT: Tokenization.stringifyNumber(props.shardCount) } : {}),
      },
    });
    return new batch.EcsJobDefinition(this, 'JobDefinition', {
      container,
      retryAttempts: r.retryAttempts,
      retryStrategies: r.retryStrategies,
      timeout: props.jobTimeout,
      propagateTags: true,
    });
  }

  /** Checks the props (defaults filled in) and throws every problem found at once. */
  private validate(props: BatchInferenceProps, r: ResolvedProps): void {
    const v = new ProblemCollector();
    this.validateInstanceTypes(v, props, r);
    this.validateRetryPolicy(v, r);
    this.validateResourcesAndLimits(v, props, r);
    v.throwIfAny(this.node.path);
  }

  /** Diversification, and GPU jobs on GPU instance types. */
  private validateInstanceTypes(v: ProblemCollector, props: BatchInferenceProps, r: ResolvedProps): void {
    const C = FleetSpecErrorCode;
    const types = props.instanceTypes.map((t) => t.toString());
    const knownTypes = types.filter((t) => !Token.isUnresolved(t));
    const distinct = new Set(knownTypes).size + (types.length - knownTypes.length);
    if (!props.allowUndiversified && distinct < 2) {
      v.add(C.NOT_DIVERSIFIED, 'instanceTypes', `instanceTypes has ${distinct} type${distinct === 1 ? '' : 's'} (${knownTypes.join(', ') || 'none'}): spot batch needs at least 2 instance types so that one type running out of spot capacity does not stall the queue; add similar types (e.g. g5.xlarge and g6.xlarge) or set allowUndiversified: true`);
    }
    if (isKnown(r.gpuCount) && !(Number.isInteger(r.gpuCount) && r.gpuCount >= 0)) {
      v.add(C.BATCH_JOB_RESOURCES, 'jobGpuCount', `jobGpuCount (${r.gpuCount}) must be a whole number, 0 or more`);
    } else if (isKnown(r.gpuCount) && r.gpuCount > 0) {
      const noGpu = knownTypes.filter((t) => !isGpuType(t));
      if (noGpu.length > 0) {
        v.add(C.BATCH_JOB_RESOURCES, 'instanceTypes', `jobGpuCount (${r.gpuCount}) needs NVIDIA GPU instance types, but ${noGpu.join(', ')} ha${noGpu.length === 1 ? 's' : 've'} none; use GPU families (g4dn, g5, g6, p4d, p5...) or set jobGpuCount: 0`);
      }
    }
  }

  /** Attempts within the AWS limit; strategies that retry only spot reclaims and end with an EXIT catch-all. */
  private validateRetryPolicy(v: ProblemCollector, r: ResolvedProps): void {
    const C = FleetSpecErrorCode;
    if (isKnown(r.retryAttempts) && !(Number.isInteger(r.retryAttempts) && r.retryAttempts >= 1 && r.retryAttempts <= MAX_RETRY_ATTEMPTS)) {
      v.add(C.BATCH_RETRY_POLICY, 'retryAttempts', `retryAttempts (${r.retryAttempts}) must be a whole number from 1 to ${MAX_RETRY_ATTEMPTS} (the AWS Batch limit); 5 gives a shard four spot reclaims before it fails`);
    }
    const strategies = r.retryStrategies;
    if (strategies.length === 0 || strategies.length > MAX_EVALUATE_ON_EXIT) {
      v.add(C.BATCH_RETRY_POLICY, 'retryStrategies', `retryStrategies has ${strategies.length} entries; AWS Batch takes 1 to ${MAX_EVALUATE_ON_EXIT} (evaluateOnExit): RETRY on spot reclaim, then EXIT on everything else`);
    }
    if (strategies.length > 0) {
      const last = strategies[strategies.length - 1];
      if (!(last.action === batch.Action.EXIT && isCatchAll(last.on as batch.CustomReason))) {
        v.add(C.BATCH_RETRY_POLICY, 'retryStrategies', `retryStrategies ends with ${describeStrategy(last)}, not an EXIT catch-all: a failure that matches no entry is retried, so every bug would be retried until retryAttempts (${r.retryAttempts}) runs out; end the list with RetryStrategy.of(Action.EXIT, Reason.custom({ onReason: '*' }))`);
      }
      const retryAll = strategies.find((s) => s.action === batch.Action.RETRY && isCatchAll(s.on as batch.CustomReason));
      if (retryAll) {
        v.add(C.BATCH_RETRY_POLICY, 'retryStrategies', `retryStrategies has ${describeStrategy(retryAll)}: it retries every failure, so a job that can never succeed runs again and again; retry only on spot reclaim (Reason.SPOT_INSTANCE_RECLAIMED, onStatusReason 'Host EC2*')`);
      }
      const exitAllIndex = strategies.findIndex((s) => s.action === batch.Action.EXIT && isCatchAll(s.on as batch.CustomReason));
      if (exitAllIndex >= 0 && exitAllIndex < strategies.length - 1) {
        v.add(C.BATCH_RETRY_POLICY, 'retryStrategies', `retryStrategies entry ${exitAllIndex + 1} (${describeStrategy(strategies[exitAllIndex])}) catches everything, so the ${strategies.length - exitAllIndex - 1} entr${strategies.length - exitAllIndex - 1 === 1 ? 'y' : 'ies'} after it never apply; move the catch-all to the end`);
      }
      const retriesReclaim = strategies.some((s) => s.action === batch.Action.RETRY && (s.on as batch.CustomReason).onStatusReason?.startsWith('Host EC2'));
      if (!retriesReclaim) {
        v.add(C.BATCH_RETRY_POLICY, 'retryStrategies', "retryStrategies has no RETRY on spot reclaim: a shard whose host is reclaimed fails instead of resuming from its checkpoint; add RetryStrategy.of(Action.RETRY, Reason.SPOT_INSTANCE_RECLAIMED) (onStatusReason 'Host EC2*') first");
      }
    }
  }

  /** vCPUs, array size, timeout, storage and encryption. */
  private validateResourcesAndLimits(v: ProblemCollector, props: BatchInferenceProps, r: ResolvedProps): void {
    const C = FleetSpecErrorCode;
    if (isKnown(r.jobVcpus) && !(Number.isInteger(r.jobVcpus) && r.jobVcpus >= 1)) {
      v.add(C.BATCH_JOB_RESOURCES, 'jobVcpus', `jobVcpus (${r.jobVcpus}) must be a whole number, 1 or more`);
    }
    if (isKnown(r.maxvCpus) && isKnown(r.jobVcpus) && r.maxvCpus < r.jobVcpus) {
      v.add(C.BATCH_JOB_RESOURCES, 'maxvCpus', `maxvCpus (${r.maxvCpus}) is below jobVcpus (${r.jobVcpus}): no job would ever be placed; raise maxvCpus to at least ${r.jobVcpus}`);
    }
    if (r.onDemandFallback && isKnown(r.onDemandMaxvCpus) && isKnown(r.jobVcpus) && r.onDemandMaxvCpus < r.jobVcpus) {
      v.add(C.BATCH_JOB_RESOURCES, 'onDemandMaxvCpus', `onDemandMaxvCpus (${r.onDemandMaxvCpus}) is below jobVcpus (${r.jobVcpus}): the on-demand fallback could never place a job; raise it to at least ${r.jobVcpus} or set onDemandFallback: false`);
    }
    if (!r.onDemandFallback && props.onDemandMaxvCpus !== undefined) {
      v.add(C.BATCH_JOB_RESOURCES, 'onDemandMaxvCpus', `onDemandMaxvCpus (${props.onDemandMaxvCpus}) is set but onDemandFallback is false, so there is no on-demand environment; remove onDemandMaxvCpus or enable the fallback`);
    }
    if (isKnown(props.shardCount) && !(Number.isInteger(props.shardCount) && props.shardCount! >= 2 && props.shardCount! <= MAX_ARRAY_SIZE)) {
      v.add(C.BATCH_JOB_LIMITS, 'shardCount', `shardCount (${props.shardCount}) must be a whole number from 2 to ${MAX_ARRAY_SIZE} (the AWS Batch array size limit); for a single shard leave it out`);
    }
    if (props.jobTimeout && !props.jobTimeout.isUnresolved() && props.jobTimeout.toSeconds() < 60) {
      v.add(C.BATCH_JOB_LIMITS, 'jobTimeout', `jobTimeout (${props.jobTimeout.toSeconds()} s) must be at least 60 seconds (the AWS Batch minimum)`);
    }
    if (!r.checkpointExpiration.isUnresolved() && r.checkpointExpiration.toSeconds() < 86_400) {
      v.add(C.BATCH_STORAGE, 'checkpointExpiration', `checkpointExpiration (${r.checkpointExpiration.toHumanString()}) must be at least 1 day (S3 lifecycle rules count whole days); a shorter one would delete checkpoints of running jobs`);
    }
    if (!Token.isUnresolved(r.rootVolumeSize.toGibibytes()) && r.rootVolumeSize.toGibibytes() < 30) {
      v.add(C.BATCH_STORAGE, 'rootVolumeSize', `rootVolumeSize (${r.rootVolumeSize.toGibibytes()} GiB) must be at least 30 GiB (the ECS-optimized image's own snapshot size); images and models are cached there too`);
    }
    if (props.bucket && props.encryptionKey) {
      v.add(C.BATCH_STORAGE, 'encryptionKey', 'encryptionKey is set together with bucket: the key applies only to the bucket the construct creates; encrypt your own bucket yourself and leave encryptionKey out');
    }
  }
}
