import { Aws, Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DrainMode } from '../../lib/runtime/agent-config';
import { CLOUD_LIMITS, Cloud } from '../../lib/spec/clouds';
import { WorkloadKind } from '../../lib/spec/fleet-spec';
import { createCheckpointBucket } from './checkpoint-bucket';
import { QueueWorkerPlan, SQS_MAX_RETENTION_SECONDS, planQueueWorkers } from './queue-worker-plan';
import { SpotFleet } from './spot-fleet';
import { QueueWorkerFleetProps } from './queue-worker-props';
export * from './queue-worker-props';

/** Where the fleet writes the worker's environment (queue URL, bucket, timings). */
export const QUEUE_WORKER_ENV_FILE = '/etc/queue-worker.env';
/** Where the agent reads the worker's PID (DrainMode.SIGNAL) unless told otherwise. */
export const DEFAULT_QUEUE_WORKER_PID_FILE = '/run/queue-worker.pid';
/** Prefix of checkpoint objects (expired by the bucket's lifecycle rule). */
export const QUEUE_CHECKPOINT_PREFIX = 'checkpoints/';

/**
 * Queue-driven inference on spot on AWS: an encrypted SQS queue with a dead-letter queue, a diversified
 * {@link SpotFleet} of workers without load balancer or inbound rule, an S3 bucket for checkpoints, and a
 * target tracking policy on the backlog per instance:
 * `ApproximateNumberOfMessagesVisible / GroupInServiceInstances`, computed with metric math in the L1
 * `CustomizedMetricSpecification.Metrics` because aws-cdk-lib's `scaleToTrackMetric` refuses math
 * expressions (aws/aws-cdk#20659). At 0 in-service instances the expression takes the queue length itself
 * instead of dividing by zero, and a step policy starts the first worker when messages wait and none runs
 * (target tracking scales proportionally to the current capacity, which cannot grow from 0).
 *
 * A reclaimed worker costs only a delay: its message becomes visible again (the agent signals the worker,
 * which hands messages back), and a message that fails `maxReceiveCount` times goes to the dead-letter queue.
 */
export class QueueWorkerFleet extends Construct implements iam.IGrantable, ec2.IConnectable {
  /** The work queue. */
  public readonly queue: sqs.Queue;
  /** Where messages go after `maxReceiveCount` receives. */
  public readonly deadLetterQueue: sqs.Queue;
  /** Bucket of checkpoints. */
  public readonly checkpointBucket: s3.IBucket;
  /** The spot fleet of workers. */
  public readonly fleet: SpotFleet;
  /** The Auto Scaling group of the workers. */
  public readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  /** The target tracking policy on the backlog per instance. */
  public readonly scalingPolicy: autoscaling.CfnScalingPolicy;
  /** Step policy that starts the first worker when messages wait and none runs (only when minCapacity is 0). */
  public readonly scaleOutFromZero?: autoscaling.StepScalingAction;
  /** Backlog per instance the group keeps. */
  public readonly targetBacklogPerInstance: number;
  /** Visibility timeout of the queue, in seconds. */
  public readonly visibilityTimeoutSeconds: number;
  /** Receives before a message goes to the dead-letter queue. */
  public readonly maxReceiveCount: number;
  /** The workers' role (grant it what the model needs). */
  public readonly grantPrincipal: iam.IPrincipal;
  /** Network access of the workers: no inbound rule. */
  public readonly connections: ec2.Connections;

  constructor(scope: Construct, id: string, props: QueueWorkerFleetProps) {
    super(scope, id);
    const plan = planQueueWorkers(props, this.node.path);
    this.visibilityTimeoutSeconds = plan.visibilityTimeoutSeconds;
    this.maxReceiveCount = plan.maxReceiveCount;
    this.targetBacklogPerInstance = plan.targetBacklogPerInstance;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.deadLetterQueue = this.createDeadLetterQueue(props, removalPolicy);
    this.queue = this.createQueue(props, removalPolicy);
    this.checkpointBucket = props.checkpointBucket ?? this.createCheckpointBucket(props, removalPolicy);
    this.fleet = this.createWorkers(props, plan);
    this.autoScalingGroup = this.fleet.autoScalingGroup;
    this.grantPrincipal = this.fleet.grantPrincipal;
    this.connections = this.fleet.connections;
    // Least privilege: consume this queue only (receive, change visibility, delete; kms:Decrypt on its key),
    // read/write this bucket only.
    this.queue.grantConsumeMessages(this.fleet.role);
    this.checkpointBucket.grantReadWrite(this.fleet.role);

    this.scalingPolicy = this.createBacklogScalingPolicy(props);
    const minCapacity = this.fleet.spec.minCapacity;
    if (known(minCapacity) && minCapacity === 0) this.scaleOutFromZero = this.createScaleOutFromZero();
  }

  /** Messages waiting in the queue (ApproximateNumberOfMessagesVisible, Sum per minute). */
  public metricMessagesVisible(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.queue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(1), ...props });
  }

  /** The tracked metric: visible messages per in-service instance (the queue length at 0 instances). */
  public metricBacklogPerInstance(props?: cloudwatch.MathExpressionOptions): cloudwatch.IMetric {
    return new cloudwatch.MathExpression({
      expression: `IF(inService > 0, FILL(visibleRaw, 0) / inService, FILL(visibleRaw, 0))`,
      usingMetrics: { visibleRaw: this.metricMessagesVisible(), inService: this.fleet.metricInServiceInstances() },
      label: 'Backlog per instance',
      period: Duration.minutes(1),
      ...props,
    });
  }

  /** Messages in the dead-letter queue (alarm on it: each one failed `maxReceiveCount` times). */
  public metricDeadLetters(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1), ...props });
  }

  /** Allow `grantee` to send messages to the queue. */
  public grantSendMessages(grantee: iam.IGrantable): iam.Grant {
    return this.queue.grantSendMessages(grantee);
  }


  /** Where poison messages go: encrypted like the queue, TLS only, kept longer than the queue keeps messages. */
  private createDeadLetterQueue(props: QueueWorkerFleetProps, removalPolicy: RemovalPolicy): sqs.Queue {
    return new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: queueEncryption(props),
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      // Longer than the work queue's retention, so a message never expires on its way to inspection.
      retentionPeriod: Duration.seconds(SQS_MAX_RETENTION_SECONDS),
      removalPolicy,
    });
  }

  /** The work queue: encrypted, TLS only, long polling, poison messages to the dead-letter queue. */
  private createQueue(props: QueueWorkerFleetProps, removalPolicy: RemovalPolicy): sqs.Queue {
    return new sqs.Queue(this, 'Queue', {
      queueName: props.queueName,
      encryption: queueEncryption(props),
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout ?? Duration.seconds(this.visibilityTimeoutSeconds),
      retentionPeriod: props.retentionPeriod ?? Duration.days(4),
      // Long polling: fewer empty receives, lower cost.
      receiveMessageWaitTime: Duration.seconds(20),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
      removalPolicy,
    });
  }

  /** The checkpoint bucket, when none is given: encrypted, private, TLS only, checkpoints expired after 30 days. */
  private createCheckpointBucket(props: QueueWorkerFleetProps, removalPolicy: RemovalPolicy): s3.Bucket {
    return createCheckpointBucket(this, 'CheckpointBucket', {
      encryptionKey: props.encryptionKey,
      removalPolicy,
      expirations: [{ id: 'ExpireCheckpoints', prefix: QUEUE_CHECKPOINT_PREFIX, expiration: Duration.days(30) }],
    });
  }

  /** The workers: a spot fleet without load balancer whose agent signals the worker on a notice. */
  private createWorkers(props: QueueWorkerFleetProps, plan: QueueWorkerPlan): SpotFleet {
    const pidFile = props.workerPidFile ?? DEFAULT_QUEUE_WORKER_PID_FILE;
    const limits = CLOUD_LIMITS[Cloud.AWS];
    return new SpotFleet(this, 'Fleet', {
      ...props,
      workload: WorkloadKind.QUEUE_WORKER,
      // No load balancer: nothing to deregister from; the worker gets the rest of the notice to hand back work.
      deregistrationDelaySeconds: props.deregistrationDelaySeconds ?? 0,
      drainBudgetSeconds: props.drainBudgetSeconds ?? limits.noticeSeconds - 30,
      userDataCommands: undefined,
      bootCommands: [
        '# --- queue worker environment ---',
        `cat > ${QUEUE_WORKER_ENV_FILE} <<'QUEUE_WORKER_ENV'`,
        ...this.workerEnvironment(pidFile),
        'QUEUE_WORKER_ENV',
        `chmod 0644 ${QUEUE_WORKER_ENV_FILE}`,
        ...(plan.bootCommands ?? []),
      ],
      agent: {
        drainMode: DrainMode.SIGNAL,
        pidFile,
        drainSignal: 'SIGTERM',
        ...(plan.agentBundlePath !== undefined ? { bundlePath: plan.agentBundlePath } : {}),
      },
    });
  }

  /** The lines of the worker's environment file (QUEUE_WORKER_ENV_FILE). */
  private workerEnvironment(pidFile: string): string[] {
    return [
      `SPOT_QUEUE_URL=${this.queue.queueUrl}`,
      `SPOT_QUEUE_VISIBILITY_TIMEOUT_SECONDS=${this.visibilityTimeoutSeconds}`,
      `SPOT_CHECKPOINT_BUCKET=${this.checkpointBucket.bucketName}`,
      `SPOT_CHECKPOINT_PREFIX=${QUEUE_CHECKPOINT_PREFIX}`,
      `SPOT_WORKER_PID_FILE=${pidFile}`,
      `AWS_REGION=${Aws.REGION}`,
    ];
  }

  /**
   * Target tracking on the backlog per instance, with metric math in the L1 policy (aws-cdk-lib's
   * `scaleToTrackMetric` refuses math expressions, aws/aws-cdk#20659).
   */
  private createBacklogScalingPolicy(props: QueueWorkerFleetProps): autoscaling.CfnScalingPolicy {
    const queueName = this.queue.queueName;
    const groupName = this.autoScalingGroup.autoScalingGroupName;
    const expression = 'IF(inService > 0, visible / inService, visible)';
    const policy = new autoscaling.CfnScalingPolicy(this, 'BacklogPerInstance', {
      autoScalingGroupName: groupName,
      policyType: 'TargetTrackingScaling',
      estimatedInstanceWarmup: (props.instanceWarmup ?? Duration.minutes(5)).toSeconds(),
      targetTrackingConfiguration: {
        targetValue: this.targetBacklogPerInstance,
        customizedMetricSpecification: {
          metrics: [
            {
              id: 'visibleRaw',
              label: 'Messages waiting (ApproximateNumberOfMessagesVisible)',
              metricStat: {
                metric: { namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible', dimensions: [{ name: 'QueueName', value: queueName }] },
                stat: 'Sum',
              },
              returnData: false,
            },
            {
              id: 'inService',
              label: 'Instances in service (GroupInServiceInstances)',
              metricStat: {
                metric: { namespace: 'AWS/AutoScaling', metricName: 'GroupInServiceInstances', dimensions: [{ name: 'AutoScalingGroupName', value: groupName }] },
                stat: 'Average',
              },
              returnData: false,
            },
            // SQS stops publishing for a queue idle for hours: read a missing point as an empty queue.
            { id: 'visible', label: 'Messages waiting, missing points as 0', expression: 'FILL(visibleRaw, 0)', returnData: false },
            // No division by zero at 0 in-service instances: the backlog is then the whole queue.
            { id: 'backlogPerInstance', label: 'Backlog per instance', expression, returnData: true },
          ],
        },
      },
    });
    policy.node.addDependency(this.autoScalingGroup);
    return policy;
  }

  /**
   * A step policy that starts the first worker when messages wait and none runs, with its alarm (target
   * tracking scales proportionally to the current capacity, which cannot grow from 0).
   */
  private createScaleOutFromZero(): autoscaling.StepScalingAction {
    const action = new autoscaling.StepScalingAction(this, 'ScaleOutFromZero', {
      autoScalingGroup: this.autoScalingGroup,
      adjustmentType: autoscaling.AdjustmentType.EXACT_CAPACITY,
    });
    action.addAdjustment({ lowerBound: 0, adjustment: 1 });
    const alarm = new cloudwatch.Alarm(this, 'MessagesWaitingNoWorker', {
      alarmDescription: `Messages wait in ${this.node.path}'s queue and no worker is in service: start one (target tracking cannot scale from 0)`,
      metric: new cloudwatch.MathExpression({
        expression: 'IF(inService == 0 AND visible > 0, 1, 0)',
        usingMetrics: { visible: this.metricMessagesVisible(), inService: this.fleet.metricInServiceInstances() },
        period: Duration.minutes(1),
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new cwActions.AutoScalingAction(action));
    return action;
  }
}

/** SSE-KMS with the given key, else SQS-managed encryption (SSE-SQS). */
function queueEncryption(props: QueueWorkerFleetProps): sqs.QueueEncryption {
  return props.encryptionKey ? sqs.QueueEncryption.KMS : sqs.QueueEncryption.SQS_MANAGED;
}

/** A number known at synth (not a token). */
function known(x: unknown): x is number {
  return typeof x === 'number' && !Token.isUnresolved(x);
}
