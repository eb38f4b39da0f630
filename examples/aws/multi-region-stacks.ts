import { Aws, CfnOutput, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { MultiRegionSpotInferenceService } from 'spot-inference-constructs/aws';

/** Options of {@link multiRegionExample}. */
export interface MultiRegionExampleOptions {
  /** Account of every stack. @default - CDK_DEFAULT_ACCOUNT, else the placeholder 111111111111 (synth needs no credentials) */
  readonly account?: string;
  /** Bucket holding the model weights, replicated to every region under the same name plus `-<region>`. @default 'my-model-bucket' */
  readonly modelBucketName?: string;
  /** Key prefix of the model. @default 'models/llama-3.2-3b-instruct/' */
  readonly modelPrefix?: string;
  /** Region that takes the traffic while healthy; the others are failover targets. @default - none: nearest region */
  readonly homeRegion?: string;
  /** Path of the spot-agent bundle. @default - the package's `dist/runtime/spot-agent/index.js` */
  readonly agentBundlePath?: string;
}

/**
 * One model API over three regions (the regions of the shared 9-zone trace: us-east-1, us-east-2, us-west-2)
 * behind one Global Accelerator: one stack per region (VPC, spot fleet, internal ALB, interruption pipeline,
 * on-demand fallback, dashboard, drill) and one stack in us-west-2 with the accelerator.
 */
export function multiRegionExample(scope: Construct, id: string, options: MultiRegionExampleOptions = {}): MultiRegionSpotInferenceService {
  const bucket = options.modelBucketName ?? 'my-model-bucket';
  const prefix = (options.modelPrefix ?? 'models/llama-3.2-3b-instruct/').replace(/^\/+/, '').replace(/\/*$/, '/');
  const modelDir = '/opt/models/model';
  const service = new MultiRegionSpotInferenceService(scope, id, {
    account: options.account ?? process.env.CDK_DEFAULT_ACCOUNT ?? '111111111111',
    homeRegion: options.homeRegion,
    allowedRegions: ['us-east-1', 'us-east-2', 'us-west-2'],
    regions: [
      { region: 'us-east-1', zones: ['us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1d'] },
      { region: 'us-east-2', zones: ['us-east-2a', 'us-east-2b', 'us-east-2c'] },
      // g4dn is scarce in us-west-2 on the trace; the region lists its own types.
      { region: 'us-west-2', zones: ['us-west-2a', 'us-west-2b', 'us-west-2c'], instanceTypes: ['g6.xlarge', 'g5.xlarge', 'g6e.xlarge'] },
    ],
    // One on-demand replica per region keeps every region that takes traffic serving while its spot is gone.
    minCapacity: 2,
    maxCapacity: 4,
    onDemandBaseCapacity: 1,
    instanceTypes: ['g6.xlarge', 'g5.xlarge', 'g6e.xlarge', 'g4dn.xlarge'],
    servingPort: 8080,
    healthCheck: { path: '/health' },
    agent: options.agentBundlePath ? { bundlePath: options.agentBundlePath } : undefined,
    bootCommands: [
      '# --- model from the region\'s copy of the bucket, then the inference server ---',
      `mkdir -p ${modelDir}`,
      `aws s3 sync s3://${bucket}-${Aws.REGION}/${prefix} ${modelDir} --region ${Aws.REGION} --only-show-errors`,
      'systemctl enable --now docker',
      `docker run -d --restart unless-stopped --gpus all --name inference -p 8080:8000 -v ${modelDir}:/model:ro vllm/vllm-openai:v0.8.5 --model /model --served-model-name model --dtype float16 --max-model-len 8192`,
    ],
  });
  for (const region of service.regionNames) {
    const regional = service.services[region];
    const bucketArn = `arn:${Aws.PARTITION}:s3:::${bucket}-${region}`;
    regional.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
    }));
    regional.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`${bucketArn}/${prefix}*`] }));
    Validations.of(regional.fleet.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${bucket}-${region}/${prefix}*]`,
      reason: "The instances read the model objects under one prefix of the region's bucket; their keys are not known at synth.",
    });
    const stack = service.regionalStacks[region];
    new CfnOutput(stack, 'AutoScalingGroupName', { value: regional.autoScalingGroupName });
    new CfnOutput(stack, 'InternalLoadBalancer', { value: regional.loadBalancer.loadBalancerDnsName, description: 'Reachable through the accelerator only' });
  }
  new CfnOutput(service.globalStack, 'Url', { value: `http://${service.dnsName}`, description: 'OpenAI-compatible endpoint for every region, e.g. POST <Url>/v1/completions' });
  return service;
}
