// Queue workers on spot: an encrypted SQS queue with a dead-letter queue, spot GPU workers (no load balancer,
// no inbound traffic) that scale on the backlog per instance, and a checkpoint bucket.
import { CfnElement, CfnOutput, Duration, RemovalPolicy, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { QueueWorkerFleet } from 'spot-inference-constructs/aws';

/** Props of {@link QueueWorkersExampleStack}. */
export interface QueueWorkersExampleStackProps extends StackProps {
  /** Container image of the worker (reads /etc/queue-worker.env). @default 'public.ecr.aws/docker/library/python:3.12-slim' */
  readonly workerImage?: string;
  /** Most workers. @default 10 */
  readonly maxWorkers?: number;
}

export class QueueWorkersExampleStack extends Stack {
  public readonly workers: QueueWorkerFleet;

  constructor(scope: Construct, id: string, props: QueueWorkersExampleStackProps = {}) {
    super(scope, id, props);
    const image = props.workerImage ?? 'public.ecr.aws/docker/library/python:3.12-slim';
    const vpc = new ec2.Vpc(this, 'Vpc', { maxAzs: 3, natGateways: 1 });

    this.workers = new QueueWorkerFleet(this, 'Embeddings', {
      vpc,
      // Diversified spot GPU capacity; the fleet scales to zero when the queue is empty.
      instanceTypes: ['g5.xlarge', 'g6.xlarge', 'g4dn.xlarge', 'g6e.xlarge'],
      minCapacity: 0,
      maxCapacity: props.maxWorkers ?? 10,
      onDemandBaseCapacity: 0,
      // One message takes up to 2 minutes; a message may wait up to 10 minutes: 5 messages per worker.
      messageProcessingTime: Duration.minutes(2),
      acceptableLatency: Duration.minutes(10),
      maxReceiveCount: 5,
      removalPolicy: RemovalPolicy.DESTROY,
      bootCommands: [
        // The worker runs as a container; the agent sends SIGTERM to the PID below on an interruption notice
        // or a scale-in, and the worker hands its messages back.
        `docker run -d --gpus all --restart unless-stopped --env-file /etc/queue-worker.env --name queue-worker ${image}`,
        "docker inspect -f '{{.State.Pid}}' queue-worker > /run/queue-worker.pid",
      ],
    });

    new cloudwatch.Alarm(this, 'DeadLetters', {
      alarmDescription: 'Messages failed 5 times and wait in the dead-letter queue',
      metric: this.workers.metricDeadLetters(),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    new CfnOutput(this, 'QueueUrl', { value: this.workers.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.workers.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'CheckpointBucket', { value: this.workers.checkpointBucket.bucketName });
    this.acknowledgeReviewedFindings(vpc);
  }

  /** cdk-nag AwsSolutions findings reviewed for this example, each acknowledged with its reason (both nag spellings). */
  private acknowledgeReviewedFindings(vpc: ec2.Vpc): void {
    const ack = (scope: Construct, rule: string, reason: string) =>
      Validations.of(scope).acknowledge({ id: rule, reason }, { id: `AwsSolutions::${rule}`, reason });
    const w = this.workers;
    ack(vpc, 'AwsSolutions-VPC7', 'Example VPC whose only traffic is the workers calling SQS and S3 through NAT; add flow logs (vpc.addFlowLog) where network forensics is required.');
    ack(w.checkpointBucket, 'AwsSolutions-S1', 'Checkpoints of in-flight messages, written only by the worker role over TLS and expired after 30 days; turn on CloudTrail S3 data events for an audit trail.');
    for (const action of ['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*']) {
      ack(w.fleet.role, `AwsSolutions-IAM5[Action::${action}]`, 'Read/write on the fleet\'s own checkpoint bucket only (grantReadWrite); checkpoint keys are per message and unknown at synth.');
    }
    ack(w.fleet.role, `AwsSolutions-IAM5[Resource::<${this.getLogicalId(w.checkpointBucket.node.defaultChild as CfnElement)}.Arn>/*]`, 'Objects of the fleet\'s own checkpoint bucket; checkpoint keys are unknown at synth.');
    ack(w.fleet.role, `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/${w.fleet.autoScalingGroupName}]`, 'The agent completes lifecycle actions of this one named group; the group ARN embeds a UUID that exists only after creation.');
    ack(w.autoScalingGroup, 'AwsSolutions-AS3', 'Scaling follows the queue (target tracking and a step policy with their CloudWatch alarms); lifecycle events go to EventBridge. An SNS topic for group notifications would have no consumer in this example.');
  }
}
