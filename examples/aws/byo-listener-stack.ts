import { CfnOutput, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct } from 'constructs';
import { InferenceLoadBalancer, InterruptionHandler, SpotFleet } from 'spot-inference-constructs/aws';

/** Props of {@link ByoListenerExampleStack}: where the team's existing load balancer and network are. */
export interface ByoListenerExampleStackProps extends StackProps {
  /** ARN of the existing ALB listener. @default - a placeholder ARN (synth only) */
  readonly listenerArn?: string;
  /** Security group of the existing ALB; the fleet admits it, and only it. @default - a placeholder id */
  readonly loadBalancerSecurityGroupId?: string;
  /** The VPC of the ALB. @default - a placeholder id */
  readonly vpcId?: string;
  /** Two or more private subnets (with NAT) of that VPC, one per zone. @default - placeholders in us-east-1a/b */
  readonly privateSubnetIds?: string[];
  /** Route tables of those subnets, in the same order. @default - placeholders */
  readonly privateSubnetRouteTableIds?: string[];
  /** Zones of those subnets, in the same order. @default ['us-east-1a', 'us-east-1b'] */
  readonly availabilityZones?: string[];
  /** Path the fleet serves on the shared listener. @default '/v1/*' */
  readonly pathPattern?: string;
  /** Priority of the listener rule (unique on the listener). @default 100 */
  readonly priority?: number;
  /** Path of the spot-agent bundle. @default - the package's `dist/runtime/spot-agent/index.js` */
  readonly agentBundlePath?: string;
}

/**
 * Composition onto an existing load balancer: a spot fleet in the team's VPC, routed from the team's ALB
 * listener by a path rule (`InferenceLoadBalancer.attachToListener` sets the health check on the agent's port,
 * the deregistration delay and the security-group rule), and the interruption pipeline, whose drain wait is
 * derived from the fleet. Environment-agnostic: the ids come from context (`-c listenerArn=...`).
 */
export class ByoListenerExampleStack extends Stack {
  constructor(scope: Construct, id: string, props: ByoListenerExampleStackProps = {}) {
    super(scope, id, props);
    const zones = props.availabilityZones ?? ['us-east-1a', 'us-east-1b'];
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: props.vpcId ?? 'vpc-0123456789abcdef0',
      availabilityZones: zones,
      privateSubnetIds: props.privateSubnetIds ?? ['subnet-0aaaaaaaaaaaaaaaa', 'subnet-0bbbbbbbbbbbbbbbb'],
      privateSubnetRouteTableIds: props.privateSubnetRouteTableIds ?? ['rtb-0aaaaaaaaaaaaaaaa', 'rtb-0bbbbbbbbbbbbbbbb'],
    });
    const listener = elbv2.ApplicationListener.fromApplicationListenerAttributes(this, 'SharedListener', {
      listenerArn: props.listenerArn ?? 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shared-alb/50dc6c495c0c9188/f2f7dc8efc522ab2',
      securityGroup: ec2.SecurityGroup.fromSecurityGroupId(this, 'SharedAlbSg', props.loadBalancerSecurityGroupId ?? 'sg-0123456789abcdef0'),
    });

    const fleet = new SpotFleet(this, 'Fleet', {
      vpc,
      minCapacity: 2,
      maxCapacity: 6,
      onDemandBaseCapacity: 1,
      onDemandPercentageAboveBaseCapacity: 0,
      instanceTypes: ['g6.xlarge', 'g5.xlarge', 'g6e.xlarge', 'g4dn.xlarge'],
      healthCheck: { path: '/health' },
      agent: props.agentBundlePath ? { bundlePath: props.agentBundlePath } : undefined,
      bootCommands: ['systemctl enable --now docker', 'docker run -d --restart unless-stopped --gpus all -p 8080:8000 vllm/vllm-openai:v0.8.5 --model Qwen/Qwen2.5-1.5B-Instruct'],
    });
    const target = InferenceLoadBalancer.attachToListener(this, 'Route', {
      fleet,
      listener,
      priority: props.priority ?? 100,
      conditions: [elbv2.ListenerCondition.pathPatterns([props.pathPattern ?? '/v1/*'])],
    });
    new InterruptionHandler(this, 'Interruptions', { fleet, targetGroups: [target.targetGroup] });

    new CfnOutput(this, 'TargetGroupArn', { value: target.targetGroup.targetGroupArn });
    new CfnOutput(this, 'AutoScalingGroupName', { value: fleet.autoScalingGroupName });

    Validations.of(fleet.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/${fleet.autoScalingGroupName}]`,
      reason: 'The agent completes lifecycle actions of this one named group; the group ARN embeds a UUID that exists only after creation.',
    });
    Validations.of(fleet.autoScalingGroup).acknowledge({
      id: 'AwsSolutions-AS3',
      reason: 'Scaling and lifecycle events go to EventBridge (source aws.autoscaling), where the interruption handler consumes them; an SNS topic would duplicate that channel.',
    });
  }
}
