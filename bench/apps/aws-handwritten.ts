// The AWS example (examples/aws) written by hand with aws-cdk-lib only: the same resources, no library.
// bench/synth.ts synthesizes both side by side to measure what the library costs at synth.
import { join } from 'node:path';
import { App, ArnFormat, Aws, CfnOutput, Duration, Names, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';

const app = new App();
const stack = new Stack(app, 'SpotInferenceHandwritten');
const bucketName = 'my-model-bucket';
const prefix = 'models/llama-3.2-3b-instruct/';

const vpc = new ec2.Vpc(stack, 'Vpc', {
  maxAzs: 3,
  subnetConfiguration: [
    { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
    { name: 'workers', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
  ],
  flowLogs: {
    rejected: {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(stack, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH })),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    },
  },
});

const role = new iam.Role(stack, 'InstanceRole', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
const workers = new ec2.SecurityGroup(stack, 'Workers', { vpc, allowAllOutbound: true });
const groupName = Names.uniqueResourceName(stack, { maxLength: 255, separator: '-' }) + '-group';
role.addToPrincipalPolicy(new iam.PolicyStatement({
  actions: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
  resources: [stack.formatArn({ service: 'autoscaling', resource: 'autoScalingGroup', resourceName: `*:autoScalingGroupName/${groupName}`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
}));
const agent = new s3assets.Asset(stack, 'Agent', { path: join(__dirname, '..', '..', 'dist', 'runtime', 'spot-agent', 'index.js') });
role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [agent.bucket.arnForObjects(agent.s3ObjectKey)] }));
role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [`arn:${Aws.PARTITION}:s3:::${bucketName}`], conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } } }));
role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`arn:${Aws.PARTITION}:s3:::${bucketName}/${prefix}*`] }));

const userData = ec2.UserData.forLinux();
userData.addCommands(
  'mkdir -p /opt/spot-agent /etc/spot-agent',
  `aws s3 cp ${agent.s3ObjectUrl} /opt/spot-agent/spot-agent.js --region ${Aws.REGION}`,
  `echo '{"cloud":"aws","servingPort":8080,"healthPath":"/health","healthPort":9901,"drainBudgetSeconds":45,"drainMode":"health","lifecycleHookName":"drain","autoScalingGroupName":"${groupName}"}' > /etc/spot-agent/config.json`,
  'systemctl enable --now spot-agent.service',
  'mkdir -p /opt/models/model',
  `aws s3 sync s3://${bucketName}/${prefix} /opt/models/model --region ${Aws.REGION}`,
  'docker run -d --gpus all -p 8080:8000 -v /opt/models/model:/model:ro vllm/vllm-openai:v0.8.5 --model /model',
);
const launchTemplate = new ec2.LaunchTemplate(stack, 'LaunchTemplate', {
  machineImage: ec2.MachineImage.fromSsmParameter('/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id'),
  userData,
  role,
  securityGroup: workers,
  httpEndpoint: true,
  httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
  httpPutResponseHopLimit: 1,
  associatePublicIpAddress: false,
  blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(100, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }) }],
});
const group = new autoscaling.AutoScalingGroup(stack, 'Group', {
  vpc,
  vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
  autoScalingGroupName: groupName,
  minCapacity: 3,
  maxCapacity: 5,
  mixedInstancesPolicy: {
    launchTemplate,
    launchTemplateOverrides: ['g6.xlarge', 'g5.xlarge', 'g6e.xlarge', 'g4dn.xlarge', 'g6.2xlarge', 'g5.2xlarge'].map((t) => ({ instanceType: new ec2.InstanceType(t) })),
    instancesDistribution: {
      onDemandBaseCapacity: 1,
      onDemandPercentageAboveBaseCapacity: 0,
      onDemandAllocationStrategy: autoscaling.OnDemandAllocationStrategy.PRIORITIZED,
      spotAllocationStrategy: autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
    },
  },
  capacityRebalance: true,
  groupMetrics: [autoscaling.GroupMetrics.all()],
  healthChecks: autoscaling.HealthChecks.withAdditionalChecks({ additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB], gracePeriod: Duration.minutes(10) }),
});
(group.node.defaultChild as autoscaling.CfnAutoScalingGroup).lifecycleHookSpecificationList = [{
  lifecycleHookName: 'drain', lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', heartbeatTimeout: 120, defaultResult: 'CONTINUE',
}];

const lbSg = new ec2.SecurityGroup(stack, 'LbSg', { vpc, allowAllOutbound: false });
lbSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(80));
const alb = new elbv2.ApplicationLoadBalancer(stack, 'Alb', { vpc, internetFacing: true, securityGroup: lbSg, idleTimeout: Duration.seconds(120), dropInvalidHeaderFields: true });
const tg = new elbv2.ApplicationTargetGroup(stack, 'Tg', {
  vpc, port: 8080, protocol: elbv2.ApplicationProtocol.HTTP, targetType: elbv2.TargetType.INSTANCE,
  healthCheck: { path: '/health', port: '9901', interval: Duration.seconds(10), timeout: Duration.seconds(5), healthyThresholdCount: 2, unhealthyThresholdCount: 2, healthyHttpCodes: '200' },
  deregistrationDelay: Duration.seconds(30),
  loadBalancingAlgorithmType: elbv2.TargetGroupLoadBalancingAlgorithmType.LEAST_OUTSTANDING_REQUESTS,
});
alb.addListener('Http', { port: 80, open: false, defaultTargetGroups: [tg] });
tg.addTarget(group);
lbSg.connections.allowTo(workers, ec2.Port.tcp(9901));

new CfnOutput(stack, 'Url', { value: `http://${alb.loadBalancerDnsName}` });
new CfnOutput(stack, 'AutoScalingGroupName', { value: groupName });
new CfnOutput(stack, 'TerminationHookName', { value: 'drain' });
new CfnOutput(stack, 'TargetGroupArn', { value: tg.targetGroupArn });
new CfnOutput(stack, 'ModelLocation', { value: `s3://${bucketName}/${prefix}` });
app.synth();
