// Batch inference on spot: embeddings over a corpus in N shards that checkpoint to S3 and resume after a
// spot reclaim. Deploy, then run the command in the `SubmitJob` output.
import { CfnElement, CfnOutput, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Construct } from 'constructs';
import { BatchInference } from 'spot-inference-constructs/aws';

export interface BatchExampleStackProps extends StackProps {
  /** Container image of the shard worker. @default - a public PyTorch image (replace with yours) */
  readonly image?: string;
  /** Shards of the array job. @default 16 */
  readonly shardCount?: number;
}

export class BatchExampleStack extends Stack {
  public readonly batch: BatchInference;

  constructor(scope: Construct, id: string, props: BatchExampleStackProps = {}) {
    super(scope, id, props);
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 3,
      natGateways: 1,
      flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.REJECT } },
    });
    this.batch = new BatchInference(this, 'Embeddings', {
      vpc,
      image: ecs.ContainerImage.fromRegistry(props.image ?? 'public.ecr.aws/docker/library/python:3.12-slim'),
      instanceTypes: ['g5.xlarge', 'g6.xlarge', 'g4dn.xlarge'].map((t) => new ec2.InstanceType(t)),
      jobGpuCount: 1,
      shardCount: props.shardCount ?? 16,
      command: ['python', '-m', 'embed', '--resume-from-checkpoint'],
    });
    this.acknowledgeReviewedFindings();
    new CfnOutput(this, 'SubmitJob', { value: this.batch.submitJobCommand(), description: 'Submit the array job, one child per shard' });
    new CfnOutput(this, 'Bucket', { value: this.batch.bucket.bucketName, description: 'Checkpoints (checkpoints/) and outputs' });
  }

  /** cdk-nag AwsSolutions findings reviewed for this example, each acknowledged with its reason (both nag spellings). */
  private acknowledgeReviewedFindings(): void {
    const ack = (scope: Construct, rule: string, reason: string) =>
      Validations.of(scope).acknowledge({ id: rule, reason }, { id: `AwsSolutions::${rule}`, reason });
    const b = this.batch;
    ack(b.bucket, 'AwsSolutions-S1', 'Checkpoint and output bucket of one batch job, written only by its job role over TLS; server access logs would need a second bucket per job - turn on CloudTrail S3 data events for an audit trail.');
    ack(b.instanceRole, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]', 'The ECS agent on AWS Batch instances needs exactly this AWS-maintained policy to register with the cluster and pull images.');
    for (const action of ['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*']) {
      ack(b.jobRole, `AwsSolutions-IAM5[Action::${action}]`, 'Read/write on the job\'s own bucket only (grantReadWrite); shards write checkpoints and outputs whose keys are unknown at synth.');
    }
    ack(b.jobRole, `AwsSolutions-IAM5[Resource::<${this.getLogicalId(b.bucket.node.defaultChild as CfnElement)}.Arn>/*]`, 'Objects of the job\'s own bucket; shard keys are unknown at synth.');
    ack(b, 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/batch/job:*]', 'AWS Batch writes container logs to its fixed /aws/batch/job log group; the streams are created per job at run time.');
  }
}
