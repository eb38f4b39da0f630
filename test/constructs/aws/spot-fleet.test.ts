import { Duration } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import {
  AllocationStrategy,
  DeepLearningImage,
  DrainMode,
  SpotFleet,
  SpotFleetProps,
} from '../../../constructs/aws';
import { toCfnInstanceRequirements } from '../../../constructs/aws/instance-requirements';
import { AcceleratorManufacturer, CpuArchitecture, FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';
import { AGENT_BUNDLE, GPU_TYPES, stackWithVpc } from './fixtures';

function fleet(overrides: Partial<SpotFleetProps> = {}) {
  const { app, stack, vpc } = stackWithVpc();
  const f = new SpotFleet(stack, 'Fleet', {
    vpc,
    minCapacity: 1,
    maxCapacity: 6,
    onDemandBaseCapacity: 1,
    instanceTypes: GPU_TYPES,
    agent: { bundlePath: AGENT_BUNDLE },
    ...overrides,
  });
  return { app, stack, vpc, fleet: f, template: () => Template.fromStack(stack) };
}

function expectFleetError(overrides: Partial<SpotFleetProps>, message: RegExp, code?: FleetSpecErrorCode) {
  let caught: unknown;
  try {
    fleet(overrides);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(FleetSpecError);
  expect((caught as Error).message).toMatch(message);
  if (code) expect((caught as FleetSpecError).problems.map((p) => p.code)).toContain(code);
}

describe('SpotFleet: the group', () => {
  const { fleet: f, template } = fleet();
  const t = template();

  test('mixed instances policy with price-capacity-optimized spot, an on-demand base and one override per type', () => {
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MinSize: '1',
      MaxSize: '6',
      CapacityRebalance: true,
      MixedInstancesPolicy: {
        InstancesDistribution: {
          OnDemandBaseCapacity: 1,
          OnDemandPercentageAboveBaseCapacity: 0,
          OnDemandAllocationStrategy: 'prioritized',
          SpotAllocationStrategy: 'price-capacity-optimized',
        },
        LaunchTemplate: {
          LaunchTemplateSpecification: Match.objectLike({ LaunchTemplateId: Match.anyValue() }),
          Overrides: GPU_TYPES.map((InstanceType) => ({ InstanceType })),
        },
      },
    });
  });

  test('the terminate lifecycle hook is declared on the group, fitting the 120 s notice', () => {
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      LifecycleHookSpecificationList: [{
        LifecycleHookName: 'spot-inference-drain',
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        HeartbeatTimeout: 120,
        DefaultResult: 'CONTINUE',
      }],
    });
    t.resourceCountIs('AWS::AutoScaling::LifecycleHook', 0);
    expect(f.terminationHookName).toBe(SpotFleet.DEFAULT_TERMINATION_HOOK_NAME);
    expect(f.lifecycleHookNames).toEqual(['spot-inference-drain']);
  });

  test('group metrics are collected, the name is fixed, instances sit in private subnets only', () => {
    const subnets = new Capture();
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      AutoScalingGroupName: f.autoScalingGroupName,
      MetricsCollection: [{ Granularity: '1Minute' }],
      HealthCheckType: 'EC2',
      HealthCheckGracePeriod: 600,
      VPCZoneIdentifier: subnets,
    });
    const ids = JSON.stringify(subnets.asArray());
    expect(ids).toContain('PrivateSubnet');
    expect(ids).not.toContain('PublicSubnet');
    expect(f.autoScalingGroupName).toMatch(/^Test-Fleet-/);
  });

  test('the launch template requires IMDSv2, has no public IP and an encrypted gp3 root volume', () => {
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: { HttpEndpoint: 'enabled', HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
        NetworkInterfaces: [Match.objectLike({ AssociatePublicIpAddress: false, DeviceIndex: 0 })],
        BlockDeviceMappings: [{
          DeviceName: '/dev/xvda',
          Ebs: { Encrypted: true, VolumeType: 'gp3', VolumeSize: 100, DeleteOnTermination: true },
        }],
        InstanceMarketOptions: Match.absent(),
      }),
    });
  });

  test('the default image is the Deep Learning AMI read from its public SSM parameter', () => {
    const params = t.toJSON().Parameters as Record<string, { Type: string; Default: string }>;
    const dlami = Object.values(params).find((p) => p.Type === 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>');
    expect(dlami?.Default).toBe('/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id');
    expect(DeepLearningImage.ssmParameterName(CpuArchitecture.ARM64)).toBe('/aws/service/deeplearning/ami/arm64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id');
  });

  test('user data installs the agent from its asset, in DrainMode.HEALTH, with the hook and group names', () => {
    const ud = JSON.stringify(t.findResources('AWS::EC2::LaunchTemplate'));
    expect(ud).toContain('spot-agent: watches the interruption notice');
    expect(ud).toMatch(/aws s3 cp \",\{\"Fn::Sub\":\"s3:\/\/cdk-[^\"]+\/[0-9a-f]{64}\.js\"\},\" \/opt\/spot-agent\/spot-agent.js --region /);
    expect(ud).toContain('\\"drainMode\\": \\"health\\"');
    expect(ud).toContain('\\"healthPort\\": 9901');
    expect(ud).toContain('\\"drainBudgetSeconds\\": 45');
    expect(ud).toContain('\\"lifecycleHookName\\": \\"spot-inference-drain\\"');
    expect(ud).toContain(`\\"autoScalingGroupName\\": \\"${f.autoScalingGroupName}\\"`);
    expect(ud).toContain('systemctl enable --now spot-agent.service');
    expect(f.healthCheckPort).toBe(9901);
    expect(f.servingPort).toBe(8080);
  });

  test('the role reads the agent object only and completes lifecycle actions of its own group only', () => {
    const policies = t.findResources('AWS::IAM::Policy');
    const statements = Object.values(policies).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const s3 = statements.find((s: any) => s.Action === 's3:GetObject');
    expect(JSON.stringify(s3.Resource)).toMatch(/\/[0-9a-f]{64}\.js/);
    const lifecycle = statements.find((s: any) => JSON.stringify(s.Action).includes('CompleteLifecycleAction'));
    expect(JSON.stringify(lifecycle.Resource)).toContain(`:autoScalingGroup:*:autoScalingGroupName/${f.autoScalingGroupName}`);
    expect(statements.every((s: any) => s.Action !== '*' && s.Resource !== '*')).toBe(true);
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })] }),
      ManagedPolicyArns: Match.absent(),
    });
  });

  test('the workers security group has no ingress until a load balancer is attached', () => {
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('Spot inference workers'),
      SecurityGroupIngress: Match.absent(),
    });
  });

  test('resolved spec and metric helpers', () => {
    expect(f.spec.onDemandBaseCapacity).toBe(1);
    expect(f.spec.deregistrationDelaySeconds).toBe(30);
    expect(f.metricInServiceInstances().metricName).toBe('GroupInServiceInstances');
    const od = f.metricInServiceOnDemandInstances() as any;
    expect(od.expression).toBe('IF(inService <= 1, inService, 1 + (inService - 1) * 0)');
    expect((f.metricInServiceSpotInstances() as any).expression).toBe('inService - (IF(inService <= 1, inService, 1 + (inService - 1) * 0))');
  });
});

describe('SpotFleet: options', () => {
  test('instance requirements become typed InstanceRequirements with GPU attributes and the architecture', () => {
    const { template } = fleet({
      instanceTypes: undefined,
      allocationStrategy: AllocationStrategy.CAPACITY_OPTIMIZED,
      instanceRequirements: {
        vCpuCount: { min: 4, max: 32 },
        memoryMiB: { min: 16384 },
        gpuCount: { min: 1, max: 1 },
        gpuTotalMemoryMiB: { min: 22000 },
        gpuManufacturers: [AcceleratorManufacturer.NVIDIA],
        gpuNames: ['a10g', 'l4', 'l40s'],
      },
    });
    template().hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MixedInstancesPolicy: {
        InstancesDistribution: Match.objectLike({ SpotAllocationStrategy: 'capacity-optimized', OnDemandAllocationStrategy: 'lowest-price' }),
        LaunchTemplate: {
          LaunchTemplateSpecification: Match.anyValue(),
          Overrides: [{
            InstanceRequirements: {
              VCpuCount: { Min: 4, Max: 32 },
              MemoryMiB: { Min: 16384 },
              AcceleratorCount: { Min: 1, Max: 1 },
              AcceleratorTotalMemoryMiB: { Min: 22000 },
              AcceleratorManufacturers: ['nvidia'],
              AcceleratorNames: ['a10g', 'l4', 'l40s'],
              AcceleratorTypes: ['gpu'],
              CpuManufacturers: ['intel', 'amd'],
            },
          }],
        },
      },
    });
  });

  test('arm64 requirements pick Graviton and the arm64 Deep Learning AMI', () => {
    expect(toCfnInstanceRequirements({ vCpuCount: { min: 4 }, memoryMiB: { min: 8192 } }, CpuArchitecture.ARM64)).toEqual({
      vCpuCount: { min: 4 }, memoryMiB: { min: 8192 }, cpuManufacturers: ['amazon-web-services'],
    });
    const { template } = fleet({ instanceTypes: ['g5g.xlarge', 'g5g.2xlarge'] });
    const params = JSON.stringify(template().toJSON().Parameters);
    expect(params).toContain('/aws/service/deeplearning/ami/arm64/');
  });

  test('capacity-optimized-prioritized, capacityRebalance off, a custom hook, hop limit and root size', () => {
    const { template } = fleet({
      allocationStrategy: AllocationStrategy.CAPACITY_OPTIMIZED_PRIORITIZED,
      capacityRebalance: false,
      terminationHook: { heartbeatTimeout: Duration.minutes(5), defaultResult: autoscaling.DefaultResult.ABANDON, lifecycleHookName: 'drain' },
      metadataHopLimit: 2,
      rootVolumeSizeGiB: 200,
      onDemandPercentageAboveBaseCapacity: 25,
      desiredCapacity: 3,
    });
    const t = template();
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      DesiredCapacity: '3',
      CapacityRebalance: false,
      MixedInstancesPolicy: Match.objectLike({
        InstancesDistribution: Match.objectLike({ SpotAllocationStrategy: 'capacity-optimized-prioritized', OnDemandPercentageAboveBaseCapacity: 25 }),
      }),
      LifecycleHookSpecificationList: [{ LifecycleHookName: 'drain', LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', HeartbeatTimeout: 300, DefaultResult: 'ABANDON' }],
    });
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: Match.objectLike({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 }),
        BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ VolumeSize: 200, Encrypted: true }) })],
      }),
    });
  });

  test('user data commands run after the agent install; an explicit health port skips the agent port', () => {
    const { fleet: f, template } = fleet({
      userDataCommands: ['echo start-the-server'],
      healthCheck: { port: 8081, path: '/ready' },
      agent: { bundlePath: AGENT_BUNDLE, drainMode: DrainMode.HTTP, drainUrl: 'http://127.0.0.1:8080/drain' },
    });
    const ud = JSON.stringify(template().findResources('AWS::EC2::LaunchTemplate'));
    expect(ud.indexOf('echo start-the-server')).toBeGreaterThan(ud.indexOf('end spot-agent'));
    expect(ud).toContain('\\"drainMode\\": \\"http\\"');
    expect(ud).toContain('\\"healthPath\\": \\"/ready\\"');
    expect(f.healthCheckPort).toBe(8081);
    expect(f.healthCheckPath).toBe('/ready');
  });

  test('in DrainMode.HEALTH an explicit health port becomes the agent port', () => {
    const { fleet: f, template } = fleet({ healthCheck: { port: 9000 } });
    expect(f.healthCheckPort).toBe(9000);
    expect(JSON.stringify(template().findResources('AWS::EC2::LaunchTemplate'))).toContain('\\"healthPort\\": 9000');
  });

  test('without the agent there is no asset and the health check probes the serving port', () => {
    const { fleet: f, template } = fleet({ agent: { enabled: false } });
    expect(f.agentAsset).toBeUndefined();
    expect(f.healthCheckPort).toBe(8080);
    expect(JSON.stringify(template().findResources('AWS::EC2::LaunchTemplate'))).not.toContain('spot-agent');
  });

  test('zones narrow the subnets in an environment-aware stack', () => {
    const { stack, vpc } = stackWithVpc({ account: '111111111111', region: 'us-east-1' });
    new SpotFleet(stack, 'Fleet', {
      vpc, minCapacity: 1, maxCapacity: 2, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES,
      zones: [vpc.availabilityZones[0]], allowUndiversified: true, agent: { bundlePath: AGENT_BUNDLE },
    });
    const subnets = new Capture();
    Template.fromStack(stack).hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { VPCZoneIdentifier: subnets });
    expect(subnets.asArray()).toHaveLength(1);
  });

  test('bring your own launch template: the fleet uses its role and adds the agent to its user data', () => {
    const { stack, vpc } = stackWithVpc();
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    const lt = new ec2.LaunchTemplate(stack, 'Lt', {
      machineImage: ec2.MachineImage.latestAmazonLinux2023(),
      userData: ec2.UserData.forLinux(),
      role,
      securityGroup: new ec2.SecurityGroup(stack, 'Sg', { vpc }),
    });
    const f = new SpotFleet(stack, 'Fleet', {
      vpc, minCapacity: 1, maxCapacity: 2, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES, launchTemplate: lt, agent: { bundlePath: AGENT_BUNDLE },
    });
    expect(f.role).toBe(role);
    expect(f.launchTemplate).toBe(lt);
    expect(JSON.stringify(Template.fromStack(stack).findResources('AWS::EC2::LaunchTemplate'))).toContain('spot-agent');
  });
});

describe('SpotFleet: refused at synth', () => {
  test('the FleetSpec is validated (drain budget) with the construct path', () => {
    expectFleetError({ drainBudgetSeconds: 100 }, /^Test\/Fleet: drain budget exceeded: deregistrationDelaySeconds \(30 s\) \+ drainBudgetSeconds \(100 s\) = 130 s is longer than the 120 s AWS spot notice/, FleetSpecErrorCode.DRAIN_BUDGET_EXCEEDED);
  });

  test('capacity-optimized-prioritized with instance requirements', () => {
    expectFleetError({
      instanceTypes: undefined,
      instanceRequirements: { vCpuCount: { min: 4 }, memoryMiB: { min: 16384 } },
      allocationStrategy: AllocationStrategy.CAPACITY_OPTIMIZED_PRIORITIZED,
    }, /allocationStrategy \(capacity-optimized-prioritized\) needs an ordered list of instanceTypes, but instanceRequirements is set.*use AllocationStrategy.PRICE_CAPACITY_OPTIMIZED/, FleetSpecErrorCode.AWS_ALLOCATION_STRATEGY);
  });

  test('more than 40 overrides', () => {
    const sizes = ['xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge', '24xlarge', '48xlarge'];
    const types = ['g5', 'g6', 'g6e', 'g4dn', 'g4ad', 'g5a'].flatMap((f) => sizes.map((s) => `${f}.${s}`)).slice(0, 41);
    expectFleetError({ instanceTypes: types }, /instanceTypes lists 41 types but a mixed instances policy takes at most 40 overrides; keep the 40 you prefer, or use instanceRequirements/);
  });

  test('a launch template that requests spot itself', () => {
    const { stack, vpc } = stackWithVpc();
    const lt = new ec2.LaunchTemplate(stack, 'SpotLt', {
      machineImage: ec2.MachineImage.latestAmazonLinux2023(),
      userData: ec2.UserData.forLinux(),
      role: new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') }),
      securityGroup: new ec2.SecurityGroup(stack, 'Sg', { vpc }),
      spotOptions: { requestType: ec2.SpotRequestType.ONE_TIME },
    });
    expect(() => new SpotFleet(stack, 'Fleet', {
      vpc, minCapacity: 1, maxCapacity: 2, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES, launchTemplate: lt, agent: { bundlePath: AGENT_BUNDLE },
    })).toThrow(/launchTemplate \(Test\/SpotLt\) requests spot itself \(spotOptions \/ InstanceMarketOptions\), which AWS refuses inside a mixed instances policy; remove spotOptions/);
  });

  test('a launch template without role, user data or security group', () => {
    const { stack, vpc } = stackWithVpc();
    const lt = new ec2.LaunchTemplate(stack, 'Bare', { machineImage: ec2.MachineImage.latestAmazonLinux2023() });
    expect(() => new SpotFleet(stack, 'Fleet', {
      vpc, minCapacity: 1, maxCapacity: 2, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES, launchTemplate: lt, agent: { bundlePath: AGENT_BUNDLE },
    })).toThrow(/3 problems[\s\S]*has no role[\s\S]*has no user data[\s\S]*has no security group/);
  });

  test('a warm pool added to the mixed group fails the synth', () => {
    const { app, fleet: f } = fleet();
    f.autoScalingGroup.addWarmPool({ minSize: 1 });
    expect(() => app.synth()).toThrow(/a warm pool \(Test\/Fleet\/Group\/WarmPool\/Resource\) was added to the group, but AWS refuses warm pools on groups with a mixed instances policy; remove the warm pool/);
  });

  test('a root volume smaller than the Deep Learning AMI snapshot', () => {
    expectFleetError({ rootVolumeSizeGiB: 50 }, /rootVolumeSizeGiB \(50\) must be a whole number from 75 to 16384 \(gp3 limit; the Deep Learning AMI's root snapshot is 75 GiB\); use e.g. 100/);
  });

  test('a metadata hop limit out of range', () => {
    expectFleetError({ metadataHopLimit: 0 }, /metadataHopLimit \(0\) must be a whole number from 1 to 64/);
  });

  test('a heartbeat timeout outside AWS limits, or too short for the drain', () => {
    expectFleetError({ terminationHook: { heartbeatTimeout: Duration.seconds(10) } }, /terminationHook.heartbeatTimeout \(10 s\) must be from 30 s to 7200 s/);
    expectFleetError({ terminationHook: { heartbeatTimeout: Duration.seconds(60) } }, /terminationHook.heartbeatTimeout \(60 s\) is shorter than drainBudgetSeconds \(45 s\) \+ deregistrationDelaySeconds \(30 s\).*at least 75 s/, FleetSpecErrorCode.DRAIN_BUDGET_EXCEEDED);
  });

  test('the agent health port on the serving port, or out of range', () => {
    expectFleetError({ servingPort: 9901 }, /agent.healthPort \(9901\) is the serving port; the agent and the inference server cannot share a port/, FleetSpecErrorCode.PORT_RANGE);
    expectFleetError({ agent: { bundlePath: AGENT_BUNDLE, healthPort: 70000 } }, /agent.healthPort \(70000\) must be between 1 and 65535/);
  });

  test('a health check port that bypasses the agent in DrainMode.HEALTH', () => {
    expectFleetError({ healthCheck: { port: 8080 } }, /healthCheck.port \(8080\) is not the agent's health port \(9901\): in DrainMode.HEALTH the load balancer must probe the agent/, FleetSpecErrorCode.PORT_RANGE);
    expectFleetError({ healthCheck: { port: 9000 }, agent: { bundlePath: AGENT_BUNDLE, healthPort: 9100 } }, /healthCheck.port \(9000\) is not the agent's health port \(9100\)/);
  });

  test('public subnets for the workers', () => {
    expectFleetError({ vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC } }, /vpcSubnets selects public subnets; workers must not be reachable from the internet/);
  });

  test('a VPC without private subnets', () => {
    const { stack } = stackWithVpc();
    const vpc = new ec2.Vpc(stack, 'PublicOnly', { maxAzs: 2, subnetConfiguration: [{ name: 'pub', subnetType: ec2.SubnetType.PUBLIC }] });
    expect(() => new SpotFleet(stack, 'Fleet', { vpc, minCapacity: 1, maxCapacity: 2, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE } }))
      .toThrow(/vpcSubnets selects no subnet of the VPC .*give the VPC private subnets with egress \(NAT\) or pass vpcSubnets/);
  });

  test('a subnet selection that selects nothing', () => {
    expectFleetError({ vpcSubnets: { subnets: [] } }, /vpcSubnets selects no subnet; give the VPC private subnets with egress \(NAT\) or pass vpcSubnets/);
  });

  test('zones the VPC does not have, or zones against an environment-agnostic VPC', () => {
    expectFleetError({ zones: ['us-east-1a', 'us-east-1b'] }, /zones \(us-east-1a, us-east-1b\) cannot be matched against the VPC: its zones are only known at deploy time.*set env/, FleetSpecErrorCode.ZONES);
    const { stack, vpc } = stackWithVpc({ account: '111111111111', region: 'us-east-1' });
    expect(() => new SpotFleet(stack, 'Fleet', {
      vpc, minCapacity: 1, maxCapacity: 2, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES, zones: ['eu-west-1a'], agent: { bundlePath: AGENT_BUNDLE },
    })).toThrow(/zones lists eu-west-1a, which the VPC does not have \(it has .*\); list zones of the VPC or leave zones out/);
  });

  test('one zone is refused unless allowUndiversified, from zones or from the subnets', () => {
    const { stack, vpc } = stackWithVpc({ account: '111111111111', region: 'us-east-1' });
    const props = { vpc, minCapacity: 1, maxCapacity: 2, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE } };
    expect(() => new SpotFleet(stack, 'Fleet', { ...props, zones: [vpc.availabilityZones[0]] }))
      .toThrow(/zones has 1 zone \("[a-z0-9-]+"\): an AWS spot fleet needs at least 2 zones .*or set allowUndiversified: true \[TOO_FEW_ZONES\]/);
    const one = { subnets: [vpc.privateSubnets[0]] };
    expect(() => new SpotFleet(stack, 'Fleet2', { ...props, vpcSubnets: one }))
      .toThrow(/vpcSubnets selects subnets of 1 zone \([a-z0-9-]+\): an AWS spot fleet needs at least 2 zones .*select private subnets in 2 or more zones .*or set allowUndiversified: true/);
    expect(() => new SpotFleet(stack, 'Fleet3', { ...props, vpcSubnets: one, allowUndiversified: true })).not.toThrow();
  });

  test('instance type names are checked against the AWS SDK list, with a suggestion', () => {
    expectFleetError({ instanceTypes: ['g5.xlarg', 'g6.xlarge'] },
      /instanceTypes: "g5.xlarg" is not an AWS instance type \(family g5 has no size xlarg; did you mean g5.xlarge\?\) \[UNKNOWN_INSTANCE_TYPE\]/, FleetSpecErrorCode.UNKNOWN_INSTANCE_TYPE);
    expectFleetError({ instanceTypes: ['g9.xlarge', 'g6.xlarge'] }, /"g9.xlarge" is not an AWS instance type \(no family g9 in @aws-sdk\/client-ec2; did you mean .*set allowUnknownInstanceTypes: true\)/);
    // A family newer than the SDK list goes through when asked, and reaches the template as written.
    const { template } = fleet({ instanceTypes: ['g9.xlarge', 'g6.xlarge'], allowUnknownInstanceTypes: true });
    template().hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MixedInstancesPolicy: Match.objectLike({ LaunchTemplate: Match.objectLike({ Overrides: Match.arrayWith([Match.objectLike({ InstanceType: 'g9.xlarge' })]) }) }),
    });
  });

  test('GPU and CPU-only types in one fleet are refused', () => {
    expectFleetError({ instanceTypes: ['g5.xlarge', 'm5.xlarge'] },
      /instanceTypes mixes GPU \(accelerator\) and CPU-only types \(g5.xlarge: NVIDIA GPU; m5.xlarge: no accelerator \(CPU only\)\) but a fleet boots one image with one driver/, FleetSpecErrorCode.MIXED_ACCELERATORS);
  });

  test('an allocationStrategy string that is not one of the enum values is refused', () => {
    expectFleetError({ allocationStrategy: 'price-capacity-optimised' as AllocationStrategy },
      /allocationStrategy \("price-capacity-optimised"\) is not one of the AllocationStrategy values; use one of AllocationStrategy.PRICE_CAPACITY_OPTIMIZED \("price-capacity-optimized"\), .*did you mean AllocationStrategy.PRICE_CAPACITY_OPTIMIZED/, FleetSpecErrorCode.UNKNOWN_ENUM_VALUE);
    expect(() => fleet({ allocationStrategy: 'capacity-optimized' as AllocationStrategy })).not.toThrow();
    expectFleetError({ terminationHook: { defaultResult: 'continue' as autoscaling.DefaultResult } },
      /terminationHook.defaultResult \("continue"\) is not one of the autoscaling.DefaultResult values; use one of autoscaling.DefaultResult.CONTINUE \("CONTINUE"\), autoscaling.DefaultResult.ABANDON \("ABANDON"\); did you mean autoscaling.DefaultResult.CONTINUE/, FleetSpecErrorCode.UNKNOWN_ENUM_VALUE);
  });

  test('a missing agent bundle tells the user to build it', () => {
    expectFleetError({ agent: { bundlePath: '/nonexistent/spot-agent/index.js' } }, /the spot-agent bundle was not found \(\/nonexistent\/spot-agent\/index.js\); run `npm run build:handlers` to build it, pass agent.bundlePath, or set agent.enabled: false/);
  });

  test('several problems are reported together', () => {
    expectFleetError({ rootVolumeSizeGiB: 10, metadataHopLimit: 100, maxCapacity: 0 }, /4 problems in the fleet spec:[\s\S]*minCapacity \(1\) is above maxCapacity \(0\)[\s\S]*onDemandBaseCapacity[\s\S]*rootVolumeSizeGiB[\s\S]*metadataHopLimit/);
  });

  test('tokens are not validated', () => {
    const { stack, vpc } = stackWithVpc();
    const { CfnParameter } = require('aws-cdk-lib');
    const size = new CfnParameter(stack, 'Size', { type: 'Number' }).valueAsNumber;
    expect(() => new SpotFleet(stack, 'Fleet', {
      vpc, minCapacity: 1, maxCapacity: size, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES, rootVolumeSizeGiB: size, agent: { bundlePath: AGENT_BUNDLE },
    })).not.toThrow();
  });
});
