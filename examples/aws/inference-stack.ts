import { Aws, CfnOutput, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { SpotInferenceService } from 'spot-inference-constructs/aws';

/** Props of {@link SpotInferenceExampleStack}. */
export interface SpotInferenceExampleStackProps extends StackProps {
  /** Bucket holding the model weights. @default 'my-model-bucket' */
  readonly modelBucketName?: string;
  /** Key prefix of the model in the bucket (a folder in Hugging Face layout). @default 'models/llama-3.2-3b-instruct/' */
  readonly modelPrefix?: string;
  /** Spot instances on top of the one on-demand instance. @default 2 */
  readonly spotInstances?: number;
  /** Container image of the inference server (OpenAI-compatible, serves /health). @default 'vllm/vllm-openai:v0.8.5' */
  readonly servingImage?: string;
  /** Path of the spot-agent bundle. @default - the package's `dist/runtime/spot-agent/index.js` */
  readonly agentBundlePath?: string;
  /**
   * Only the fleet and its load balancer: leave out the interruption pipeline, the on-demand fallback, the
   * dashboard and the drill (`npm run bench:synth` compares this with the same stack written by hand).
   * @default false
   */
  readonly fleetOnly?: boolean;
}

/**
 * Serves a model from S3 on one on-demand and N spot GPU instances (four GPU families, every zone of
 * a new VPC, workers in private subnets behind NAT) behind an internet-facing ALB.
 */
export class SpotInferenceExampleStack extends Stack {
  public readonly service: SpotInferenceService;

  constructor(scope: Construct, id: string, props: SpotInferenceExampleStackProps = {}) {
    super(scope, id, props);
    const bucketName = props.modelBucketName ?? 'my-model-bucket';
    const prefix = (props.modelPrefix ?? 'models/llama-3.2-3b-instruct/').replace(/^\/+/, '').replace(/\/*$/, '/');
    const spot = props.spotInstances ?? 2;
    const image = props.servingImage ?? 'vllm/vllm-openai:v0.8.5';

    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 3,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'workers', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      flowLogs: {
        rejected: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH })),
          trafficType: ec2.FlowLogTrafficType.REJECT,
        },
      },
    });

    const modelDir = '/opt/models/model';
    this.service = new SpotInferenceService(this, 'Inference', {
      vpc,
      minCapacity: 1 + spot,
      maxCapacity: 1 + 2 * spot,
      onDemandBaseCapacity: 1,
      onDemandPercentageAboveBaseCapacity: 0,
      // One NVIDIA GPU with 16-48 GiB each: a 3B model in fp16 fits all of them.
      instanceTypes: ['g6.xlarge', 'g5.xlarge', 'g6e.xlarge', 'g4dn.xlarge', 'g6.2xlarge', 'g5.2xlarge'],
      servingPort: 8080,
      healthCheck: { path: '/health' },
      agent: props.agentBundlePath ? { bundlePath: props.agentBundlePath } : undefined,
      interruptionHandling: !props.fleetOnly,
      onDemandFallback: !props.fleetOnly,
      dashboard: !props.fleetOnly,
      interruptionDrill: !props.fleetOnly,
      bootCommands: [
        '# --- model from S3, then the inference server ---',
        `mkdir -p ${modelDir}`,
        `aws s3 sync s3://${bucketName}/${prefix} ${modelDir} --region ${Aws.REGION} --only-show-errors`,
        'systemctl enable --now docker',
        `docker run -d --restart unless-stopped --gpus all --name inference -p 8080:8000 -v ${modelDir}:/model:ro ${image} --model /model --served-model-name model --dtype float16 --max-model-len 8192`,
      ],
    });

    // Read the model prefix only: list it, get its objects.
    const bucketArn = `arn:${Aws.PARTITION}:s3:::${bucketName}`;
    this.service.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
    }));
    this.service.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['s3:GetObject'],
      resources: [`${bucketArn}/${prefix}*`],
    }));

    new CfnOutput(this, 'Url', { value: this.service.url, description: 'OpenAI-compatible endpoint, e.g. POST <Url>/v1/completions' });
    new CfnOutput(this, 'AutoScalingGroupName', { value: this.service.autoScalingGroupName });
    new CfnOutput(this, 'TerminationHookName', { value: this.service.terminationHookName });
    new CfnOutput(this, 'TargetGroupArn', { value: this.service.targetGroupArns[0] });
    new CfnOutput(this, 'ModelLocation', { value: `s3://${bucketName}/${prefix}` });

    this.suppressReviewedFindings(bucketName, prefix);
  }

  /** cdk-nag AwsSolutions findings reviewed for this example, each acknowledged with its reason. */
  private suppressReviewedFindings(bucketName: string, prefix: string): void {
    const fleet = this.service.fleet;
    Validations.of(fleet.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${bucketName}/${prefix}*]`,
      reason: 'The instances read the model objects under one prefix; their keys are not known at synth.',
    }, {
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/${fleet.autoScalingGroupName}]`,
      reason: 'The agent completes lifecycle actions of this one named group; the group ARN embeds a UUID that exists only after creation.',
    });
    Validations.of(this.service.loadBalancer.connections.securityGroups[0]).acknowledge({
      id: 'AwsSolutions-EC23',
      reason: 'Public endpoint of the service: the internet-facing ALB accepts clients from anywhere on port 80 only; the workers admit only the ALB.',
    });
    Validations.of(this.service.loadBalancer.loadBalancer).acknowledge({
      id: 'AwsSolutions-ELB2',
      reason: 'The example stack is environment-agnostic (synth without credentials) and ELB access logs need the region at synth; deploy with env set and pass accessLogsBucket to turn them on.',
    });
    Validations.of(fleet.autoScalingGroup).acknowledge({
      id: 'AwsSolutions-AS3',
      reason: 'Scaling and lifecycle events go to EventBridge (source aws.autoscaling), where interruption handling consumes them; an SNS topic would duplicate that channel.',
    });
  }
}
