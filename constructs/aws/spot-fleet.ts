import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ArnFormat, Aws, Duration, Names, Stack, Token, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import {
  AgentDrainOptions,
  AGENT_INSTALL_DIR,
  AgentConfig,
  renderAgentInstallScript,
} from '../../lib/runtime/agent-config';
import { prebuiltBundlePath } from '../../lib/runtime/bundles';
import { Cloud } from '../../lib/spec/clouds';
import { ResolvedFleetSpec, ResolvedHealthCheck } from '../../lib/spec/defaults';
import { FleetSpecError, FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { FleetSpec } from '../../lib/spec/fleet-spec';
import { AWS_INSTANCE_TYPE_CATALOG } from '../../lib/catalog/aws';
import { checkEnumValue, checkZoneCount } from '../../lib/spec/rules';
import { CLOUD_PROFILES, FleetPlan, planFleet } from '../../lib/spec/plan-fleet';
import { resolveBootCommands } from '../../lib/spec/option-aliases';
import { toCfnInstanceRequirements } from './instance-requirements';
import { ISpotFleet, SpotFleetAttributes, importSpotFleet } from './fleet-interface';
import { DeepLearningImage } from './machine-image';

/** How the Auto Scaling group picks spot capacity pools. */
export enum AllocationStrategy {
  /**
   * Pools with the lowest price among those least likely to be interrupted. AWS's recommendation
   * for most spot workloads.
   */
  PRICE_CAPACITY_OPTIMIZED = 'price-capacity-optimized',
  /** Pools with the most spare capacity, whatever the price: fewest interruptions. */
  CAPACITY_OPTIMIZED = 'capacity-optimized',
  /**
   * Capacity first, then the order of `instanceTypes` as a priority. Needs `instanceTypes`; AWS
   * refuses it with `instanceRequirements`.
   */
  CAPACITY_OPTIMIZED_PRIORITIZED = 'capacity-optimized-prioritized',
}

const MAX_LAUNCH_TEMPLATE_OVERRIDES = 40;
const DEFAULT_TERMINATION_HOOK_NAME = 'spot-inference-drain';
/** Where the agent bundle lives relative to the package's `dist/`. */
const AGENT_BUNDLE_IN_DIST = join('runtime', 'spot-agent', 'index.js');

/** The terminate lifecycle hook that holds an instance in `Terminating:Wait` while it drains. */
export interface TerminationHookOptions {
  /**
   * How long the instance may stay in `Terminating:Wait` before the default result applies. Must
   * cover `drainBudgetSeconds + deregistrationDelaySeconds`; AWS accepts 30 s to 7200 s. A spot
   * interruption ends the instance after the 2-minute notice whatever this says.
   * @default - the AWS spot notice, 120 seconds
   */
  readonly heartbeatTimeout?: Duration;
  /**
   * What happens when the timeout passes without the agent or a handler completing the action.
   * @default autoscaling.DefaultResult.CONTINUE
   */
  readonly defaultResult?: autoscaling.DefaultResult;
  /** Name of the hook. @default 'spot-inference-drain' */
  readonly lifecycleHookName?: string;
}

/** The on-instance agent that watches for the interruption notice and drains the server. */
export interface SpotAgentOptions extends AgentDrainOptions {
  /** Install the agent. @default true */
  readonly enabled?: boolean;
  /**
   * Path of the bundled agent (`spot-agent` CLI) uploaded as an S3 asset.
   * @default - `dist/runtime/spot-agent/index.js` of this package (built by `npm run build:handlers`)
   */
  readonly bundlePath?: string;
}

/** Props of {@link SpotFleet}: the cloud-neutral {@link FleetSpec} plus what only AWS has. */
export interface SpotFleetProps extends FleetSpec {
  /** VPC the fleet runs in. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets of the workers. Must be private: the workers get no public IP.
   * @default - the VPC's private subnets with egress (through NAT), narrowed to `zones` if set
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Machine image every instance boots. Its architecture must match the instance types.
   * @default - the AWS Deep Learning AMI (Base OSS Nvidia Driver GPU, Amazon Linux 2023) for the spec's architecture
   */
  readonly machineImage?: ec2.IMachineImage;
  /**
   * User data the fleet adds its agent install to. Add your commands with `bootCommands` or
   * `fleet.userData.addCommands()`.
   * @default - a new Linux user data
   */
  readonly userData?: ec2.UserData;
  /**
   * Commands run at boot after the agent is installed: fetch the model, start the server. The same prop on every
   * cloud (GcpSpotFleet, AzureSpotFleet).
   * @default - none
   */
  readonly bootCommands?: string[];
  /**
   * @deprecated use `bootCommands` (the same commands; one name on every cloud). Setting both is refused.
   * @default - none
   */
  readonly userDataCommands?: string[];
  /** How spot capacity pools are picked. @default AllocationStrategy.PRICE_CAPACITY_OPTIMIZED */
  readonly allocationStrategy?: AllocationStrategy;
  /** Size of the encrypted gp3 root volume, in GiB. @default 100 */
  readonly rootVolumeSizeGiB?: number;
  /**
   * Device name of the image's root volume; it must match the image or the instance gets a second,
   * empty volume instead of a bigger root.
   * @default '/dev/xvda' (the DLAMI on Amazon Linux 2023)
   */
  readonly rootDeviceName?: string;
  /**
   * Let the group launch a replacement when AWS signals an elevated risk of interruption
   * (EC2 instance rebalance recommendation), before the 2-minute notice.
   * @default true
   */
  readonly capacityRebalance?: boolean;
  /** The terminate lifecycle hook declared on the group. @default - see TerminationHookOptions */
  readonly terminationHook?: TerminationHookOptions;
  /** The on-instance drain agent. @default - installed, DrainMode.HEALTH */
  readonly agent?: SpotAgentOptions;
  /**
   * Hops an IMDSv2 response may travel. 1 keeps the metadata service (and the role's credentials)
   * away from containers on a bridge network; raise to 2 if a container must call AWS with the role.
   * @default 1
   */
  readonly metadataHopLimit?: number;
  /**
   * Time a new instance gets (boot, model download, server start) before failed health checks
   * replace it.
   * @default Duration.minutes(10)
   */
  readonly healthCheckGracePeriod?: Duration;
  /**
   * Name of the Auto Scaling group. A fixed name lets the instance role be scoped to this group
   * without a circular reference.
   * @default - a name unique to this construct's path
   */
  readonly autoScalingGroupName?: string;
  /** IAM role of the instances. @default - a new role with only what the fleet needs */
  readonly role?: iam.IRole;
  /** Security group of the instances. @default - a new group without ingress rules */
  readonly securityGroup?: ec2.ISecurityGroup;
  /**
   * Bring your own launch template instead of the one the fleet creates. It must have a role, a
   * security group and Linux user data (the fleet adds the agent install to it), and must not
   * request spot itself (`spotOptions`): the mixed instances policy decides spot vs on-demand.
   * @default - a launch template with IMDSv2 required and an encrypted gp3 root volume
   */
  readonly launchTemplate?: ec2.LaunchTemplate;
}

/**
 * A diversified spot fleet on AWS: an Auto Scaling group with a mixed instances policy (several
 * instance types or attribute-based instance requirements, an on-demand base, spot above it), a
 * hardened launch template, a terminate lifecycle hook declared on the group, and the on-instance
 * agent that drains the inference server when AWS takes an instance back.
 *
 * Bad input fails at construction with a {@link FleetSpecError}; values that are tokens are not
 * validated.
 */
export class SpotFleet extends Construct implements ISpotFleet, ec2.IConnectable, iam.IGrantable {
  /** Most launch template overrides (instance types) a mixed instances policy takes. */
  public static readonly MAX_LAUNCH_TEMPLATE_OVERRIDES = MAX_LAUNCH_TEMPLATE_OVERRIDES;
  /** Name of the terminate lifecycle hook the fleet declares on its group unless told otherwise. */
  public static readonly DEFAULT_TERMINATION_HOOK_NAME = DEFAULT_TERMINATION_HOOK_NAME;

  /**
   * An {@link ISpotFleet} for an Auto Scaling group built elsewhere, so that the load balancer, the
   * interruption handler and the other pieces work on it. What the group cannot tell (ports, health
   * check, drain times, hook names) comes from `attrs`, checked with the rules of a fleet built here.
   */
  public static fromAutoScalingGroup(scope: Construct, id: string, attrs: SpotFleetAttributes): ISpotFleet {
    return importSpotFleet(scope, id, attrs);
  }

  /** The health check a load balancer runs on this fleet (its port is `healthCheckPort`). */
  public get loadBalancerHealthCheck(): ResolvedHealthCheck {
    return { ...this.spec.healthCheck, port: this.healthCheckPort, path: this.healthCheckPath };
  }
  /** Seconds the inference server gets to finish in-flight requests (`spec.drainBudgetSeconds`). */
  public get drainBudgetSeconds(): number {
    return this.spec.drainBudgetSeconds;
  }
  /** Seconds a load balancer keeps a deregistered instance draining (`spec.deregistrationDelaySeconds`). */
  public get deregistrationDelaySeconds(): number {
    return this.spec.deregistrationDelaySeconds;
  }
  /** Seconds of the interruption notice (`spec.noticeSeconds`). */
  public get noticeSeconds(): number {
    return this.spec.noticeSeconds;
  }
  /** Least instances (`spec.minCapacity`). */
  public get minCapacity(): number {
    return this.spec.minCapacity;
  }
  /** Most instances (`spec.maxCapacity`). */
  public get maxCapacity(): number {
    return this.spec.maxCapacity;
  }
  /** On-demand base (`spec.onDemandBaseCapacity`). */
  public get onDemandBaseCapacity(): number {
    return this.spec.onDemandBaseCapacity;
  }

  /** The fleet spec with every default filled in. */
  public readonly spec: ResolvedFleetSpec;
  /** The Auto Scaling group. */
  public readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  /** Name of the Auto Scaling group. */
  public readonly autoScalingGroupName: string;
  /** The launch template of every instance. */
  public readonly launchTemplate: ec2.LaunchTemplate;
  /** The instances' role. */
  public readonly role: iam.IRole;
  /** Principal to grant the instances access to resources (their role). */
  public readonly grantPrincipal: iam.IPrincipal;
  /** The instances' security group(s). */
  public readonly connections: ec2.Connections;
  /** User data of the instances; add commands to run at boot. */
  public readonly userData: ec2.UserData;
  /** The VPC the fleet runs in. */
  public readonly vpc: ec2.IVpc;
  /** The subnets the group launches in (the selection, narrowed to the spec's zones): what a sibling group (the fallback's spare spot group) reuses. */
  public readonly vpcSubnets: ec2.SubnetSelection;
  /** Name of the terminate lifecycle hook declared on the group. */
  public readonly terminationHookName: string;
  /** Names of every lifecycle hook declared on the group. */
  public readonly lifecycleHookNames: string[];
  /** Port the inference server listens on. */
  public readonly servingPort: number;
  /** Port the load balancer probes: the agent's health port in DrainMode.HEALTH, else `healthCheck.port` (default the serving port). */
  public readonly healthCheckPort: number;
  /** Path the load balancer probes. */
  public readonly healthCheckPath: string;
  /** The agent bundle asset, when the agent is installed. */
  public readonly agentAsset?: s3assets.Asset;

  constructor(scope: Construct, id: string, props: SpotFleetProps) {
    super(scope, id);
    // Every rule of the props, thrown together; the spec resolved once (planFleet) and what the fleet decided.
    const d = this.validate(props);
    this.spec = d.plan.spec;
    this.servingPort = this.spec.servingPort;
    this.healthCheckPath = this.spec.healthCheck.path;
    this.healthCheckPort = d.plan.healthCheckPort;
    this.terminationHookName = d.hookName;
    this.lifecycleHookNames = [d.hookName];
    this.autoScalingGroupName = props.autoScalingGroupName ?? Names.uniqueResourceName(this, { maxLength: 255, separator: '-' });
    this.vpc = props.vpc;
    this.vpcSubnets = d.selection;

    const instances = props.launchTemplate ? fromLaunchTemplate(props.launchTemplate) : this.createLaunchTemplate(props, d);
    this.launchTemplate = instances.launchTemplate;
    this.role = instances.role;
    this.userData = instances.userData;
    this.connections = instances.connections;
    this.grantPrincipal = this.role;
    this.allowLifecycleActions();
    this.agentAsset = d.plan.agentEnabled ? this.installAgent(props, d) : undefined;
    if (d.bootCommands.length > 0) this.userData.addCommands(...d.bootCommands);

    this.autoScalingGroup = this.createGroup(props, d);
    this.refuseWarmPools();
  }

  /**
   * Every rule of the props, collected and thrown together: the fleet resolved once (`planFleet`: the cross-cloud
   * rules with the AWS catalogue, the AWS profile, the agent), then what AWS refuses at deploy time and where the
   * workers run.
   */
  private validate(props: SpotFleetProps): AwsFleetDecisions {
    const isUnresolved = (v: unknown) => Token.isUnresolved(v);
    const problems = new ProblemCollector();
    const boot = resolveBootCommands(props.bootCommands, 'userDataCommands', props.userDataCommands);
    problems.addAll(boot.problems);
    const hookName = props.terminationHook?.lifecycleHookName ?? DEFAULT_TERMINATION_HOOK_NAME;
    // The fleet cannot tell whether a load balancer will be attached: the agent's plan assumes one probes the agent.
    const plan = planFleet(props, CLOUD_PROFILES[Cloud.AWS], { isUnresolved, catalog: AWS_INSTANCE_TYPE_CATALOG, lifecycleHookName: hookName });
    problems.addAll(plan.specProblems);
    problems.addAll(checkEnumValue('allocationStrategy', props.allocationStrategy, 'AllocationStrategy', AllocationStrategy, { isUnresolved }));
    problems.addAll(checkEnumValue('terminationHook.defaultResult', props.terminationHook?.defaultResult, 'autoscaling.DefaultResult', autoscaling.DefaultResult, { isUnresolved }));
    if (plan.agentEnabled) problems.addAll(plan.agent.problems);
    const d: AwsFleetDecisions = {
      plan,
      hookName,
      bootCommands: boot.value ?? [],
      allocation: props.allocationStrategy ?? AllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
      heartbeat: props.terminationHook?.heartbeatTimeout ?? Duration.seconds(plan.spec.noticeSeconds),
      rootVolumeSizeGiB: props.rootVolumeSizeGiB ?? 100,
      metadataHopLimit: props.metadataHopLimit ?? 1,
      selection: workerSubnetSelection(props),
    };
    // What AWS refuses at deploy time, refused here at synth.
    checkMixedInstancesPolicy(props, d.allocation, problems);
    if (props.launchTemplate) checkLaunchTemplate(props.launchTemplate, problems);
    checkRootVolume(props, d.rootVolumeSizeGiB, problems);
    checkMetadataHopLimit(d.metadataHopLimit, problems);
    checkHeartbeatTimeout(props, d.heartbeat, plan.spec, problems);
    // Where the workers run: private subnets only, narrowed to the zones of the spec.
    checkZonesOfVpc(props, problems);
    checkWorkerSubnets(props, d.selection, problems);
    problems.throwIfAny(this.node.path);
    return d;
  }

  /** Identity, network identity and boot script: a role, a security group without ingress, a hardened launch template. */
  private createLaunchTemplate(props: SpotFleetProps, d: AwsFleetDecisions): FleetInstances {
    const role = props.role ?? new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `Instances of the spot inference fleet ${this.node.path}`,
    });
    const securityGroup = props.securityGroup ?? new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `Spot inference workers of ${this.node.path}: ingress from the load balancer only`,
      allowAllOutbound: true,
    });
    const userData = props.userData ?? ec2.UserData.forLinux();
    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      machineImage: props.machineImage ?? DeepLearningImage.of(d.plan.spec.architecture),
      userData,
      role,
      securityGroup,
      httpEndpoint: true,
      httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
      httpPutResponseHopLimit: d.metadataHopLimit,
      associatePublicIpAddress: false,
      blockDevices: [{
        deviceName: props.rootDeviceName ?? DeepLearningImage.ROOT_DEVICE_NAME,
        volume: ec2.BlockDeviceVolume.ebs(d.rootVolumeSizeGiB, {
          encrypted: true,
          volumeType: ec2.EbsDeviceVolumeType.GP3,
          deleteOnTermination: true,
        }),
      }],
    });
    return { launchTemplate, role, userData, connections: new ec2.Connections({ securityGroups: [securityGroup] }) };
  }

  /**
   * The agent (and any handler running as the instance) completes the terminate lifecycle action of this group
   * only. The ARN carries the group's UUID, unknown until deploy: hence the `*`.
   */
  private allowLifecycleActions(): void {
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
      resources: [Stack.of(this).formatArn({
        service: 'autoscaling',
        resource: 'autoScalingGroup',
        resourceName: `*:autoScalingGroupName/${this.autoScalingGroupName}`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      })],
    }));
  }

  /** The agent bundle as an S3 asset the instances may read, and its install (with the plan's config) in the user data. */
  private installAgent(props: SpotFleetProps, d: AwsFleetDecisions): s3assets.Asset {
    const bundlePath = props.agent?.bundlePath ?? findAgentBundle();
    if (!bundlePath || !existsSync(bundlePath)) {
      throw new FleetSpecError([{
        code: FleetSpecErrorCode.AGENT_BUNDLE_MISSING,
        prop: 'agent.bundlePath',
        message: `the spot-agent bundle was not found (${bundlePath ?? `looked for dist/${AGENT_BUNDLE_IN_DIST}`}); run \`npm run build:handlers\` to build it, pass agent.bundlePath, or set agent.enabled: false`,
      }], this.node.path);
    }
    const asset = new s3assets.Asset(this, 'AgentBundle', { path: bundlePath });
    // Read on this one object only, not the whole staging bucket.
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['s3:GetObject'],
      resources: [asset.bucket.arnForObjects(asset.s3ObjectKey)],
    }));
    const config: AgentConfig = { ...d.plan.agent.config, autoScalingGroupName: this.autoScalingGroupName };
    this.userData.addCommands(renderAgentInstallScript({
      config,
      fetchAgentCommands: [`aws s3 cp ${asset.s3ObjectUrl} ${AGENT_INSTALL_DIR}/spot-agent.js --region ${Aws.REGION} --only-show-errors`],
    }));
    return asset;
  }

  /** The group: a mixed instances policy (on-demand base, spot above it), the terminate lifecycle hook declared on it. */
  private createGroup(props: SpotFleetProps, d: AwsFleetDecisions): autoscaling.AutoScalingGroup {
    const spec = d.plan.spec;
    const overrides: autoscaling.LaunchTemplateOverrides[] = spec.instanceRequirements
      ? [{ instanceRequirements: toCfnInstanceRequirements(spec.instanceRequirements, spec.architecture) }]
      : spec.instanceTypes.map((t) => ({ instanceType: new ec2.InstanceType(t) }));
    const group = new autoscaling.AutoScalingGroup(this, 'Group', {
      vpc: props.vpc,
      vpcSubnets: d.selection,
      autoScalingGroupName: this.autoScalingGroupName,
      minCapacity: spec.minCapacity,
      maxCapacity: spec.maxCapacity,
      ...(props.desiredCapacity !== undefined ? { desiredCapacity: props.desiredCapacity } : {}),
      mixedInstancesPolicy: {
        launchTemplate: this.launchTemplate,
        launchTemplateOverrides: overrides,
        instancesDistribution: {
          onDemandBaseCapacity: spec.onDemandBaseCapacity,
          onDemandPercentageAboveBaseCapacity: spec.onDemandPercentageAboveBaseCapacity,
          onDemandAllocationStrategy: spec.instanceRequirements
            ? autoscaling.OnDemandAllocationStrategy.LOWEST_PRICE
            : autoscaling.OnDemandAllocationStrategy.PRIORITIZED,
          spotAllocationStrategy: d.allocation as string as autoscaling.SpotAllocationStrategy,
        },
      },
      capacityRebalance: props.capacityRebalance ?? true,
      groupMetrics: [autoscaling.GroupMetrics.all()],
      healthChecks: autoscaling.HealthChecks.ec2({ gracePeriod: props.healthCheckGracePeriod ?? Duration.minutes(10) }),
    });
    // Declared on the group itself (not as separate LifecycleHook resources) so that the instances
    // launched while the group is created are covered too.
    const cfnGroup = group.node.defaultChild as autoscaling.CfnAutoScalingGroup;
    cfnGroup.lifecycleHookSpecificationList = [{
      lifecycleHookName: d.hookName,
      lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
      heartbeatTimeout: d.heartbeat.toSeconds(),
      defaultResult: props.terminationHook?.defaultResult ?? autoscaling.DefaultResult.CONTINUE,
    }];
    // cdk-nag's EC26 reads `LaunchTemplate` of the group and throws on a MixedInstancesPolicy one; the
    // template's only volume is the encrypted root volume above.
    Validations.of(group).acknowledge({
      id: 'AwsSolutions-EC26',
      reason: 'The group launches from a MixedInstancesPolicy launch template whose only EBS volume is the encrypted gp3 root volume; the rule cannot follow a MixedInstancesPolicy reference and reports an error instead.',
    });
    return group;
  }

  /** AWS refuses a warm pool on a group with a mixed instances policy: catch one added later. */
  private refuseWarmPools(): void {
    this.node.addValidation({
      validate: () => {
        const warmPool = this.autoScalingGroup.node.findAll().find((c) => c instanceof autoscaling.CfnWarmPool);
        if (warmPool) {
          throw new FleetSpecError([{
            code: FleetSpecErrorCode.AWS_WARM_POOL,
            prop: 'autoScalingGroup.addWarmPool',
            message: `a warm pool (${warmPool.node.path}) was added to the group, but AWS refuses warm pools on groups with a mixed instances policy; remove the warm pool (spot capacity comes from diversification and capacityRebalance instead)`,
          }], this.node.path);
        }
        return [];
      },
    });
  }

  /**
   * Make the group replace instances the load balancer finds unhealthy (ELB health checks), not
   * only instances EC2 finds impaired. Called by the load balancer constructs when they attach.
   */
  public useLoadBalancerHealthChecks(): void {
    const cfnGroup = this.autoScalingGroup.node.defaultChild as autoscaling.CfnAutoScalingGroup;
    cfnGroup.healthCheckType = 'ELB';
  }

  /** Instances in service (spot and on-demand). Group metrics collection is on. */
  public metricInServiceInstances(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.groupMetric('GroupInServiceInstances', props);
  }

  /** Instances the group wants (desired capacity). */
  public metricDesiredCapacity(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.groupMetric('GroupDesiredCapacity', props);
  }

  /**
   * On-demand instances in service, estimated from `GroupInServiceInstances` and the instances
   * distribution (the on-demand base first, then `onDemandPercentageAboveBaseCapacity` of the rest).
   * CloudWatch has no per-purchase-option group metric; the estimate is exact while the group keeps
   * its distribution, which it does (it never replaces missing spot with on-demand by itself).
   */
  public metricInServiceOnDemandInstances(props?: cloudwatch.MathExpressionOptions): cloudwatch.IMetric {
    return new cloudwatch.MathExpression({
      expression: this.onDemandExpression('inService'),
      usingMetrics: { inService: this.metricInServiceInstances() },
      label: 'On-demand instances in service (estimated)',
      period: Duration.minutes(1),
      ...props,
    });
  }

  /** Spot instances in service: in service minus the on-demand estimate (see `metricInServiceOnDemandInstances`). */
  public metricInServiceSpotInstances(props?: cloudwatch.MathExpressionOptions): cloudwatch.IMetric {
    return new cloudwatch.MathExpression({
      expression: `inService - (${this.onDemandExpression('inService')})`,
      usingMetrics: { inService: this.metricInServiceInstances() },
      label: 'Spot instances in service (estimated)',
      period: Duration.minutes(1),
      ...props,
    });
  }

  private onDemandExpression(m: string): string {
    const base = this.spec.onDemandBaseCapacity;
    const share = this.spec.onDemandPercentageAboveBaseCapacity / 100;
    return `IF(${m} <= ${base}, ${m}, ${base} + (${m} - ${base}) * ${share})`;
  }

  private groupMetric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/AutoScaling',
      metricName,
      dimensionsMap: { AutoScalingGroupName: this.autoScalingGroup.autoScalingGroupName },
      statistic: cloudwatch.Stats.AVERAGE,
      period: Duration.minutes(1),
      ...props,
    });
  }
}

/** The agent bundle `npm run build:handlers` writes, if it is there. */
function findAgentBundle(): string | undefined {
  const bundle = prebuiltBundlePath(AGENT_BUNDLE_IN_DIST);
  return existsSync(bundle) ? bundle : undefined;
}

/** What {@link SpotFleet} decided from its props (validated, defaults filled). */
interface AwsFleetDecisions {
  /** The fleet resolved once (spec, agent, health port). */
  readonly plan: FleetPlan;
  readonly hookName: string;
  /** `bootCommands` (or the deprecated `userDataCommands`). */
  readonly bootCommands: string[];
  readonly allocation: AllocationStrategy;
  readonly heartbeat: Duration;
  readonly rootVolumeSizeGiB: number;
  readonly metadataHopLimit: number;
  /** The subnets of the workers, narrowed to the spec's zones. */
  readonly selection: ec2.SubnetSelection;
}

/** What every instance of the fleet launches with. */
interface FleetInstances {
  readonly launchTemplate: ec2.LaunchTemplate;
  readonly role: iam.IRole;
  readonly userData: ec2.UserData;
  readonly connections: ec2.Connections;
}

/** The role, user data and security groups of a launch template the user brought (checked by {@link checkLaunchTemplate}). */
function fromLaunchTemplate(lt: ec2.LaunchTemplate): FleetInstances {
  return { launchTemplate: lt, role: lt.role!, userData: lt.userData!, connections: lt.connections };
}

const known = (v: unknown): v is number => typeof v === 'number' && !Token.isUnresolved(v);

/** What a mixed instances policy refuses: a prioritized strategy without a list, more overrides than it takes. */
function checkMixedInstancesPolicy(props: SpotFleetProps, allocation: AllocationStrategy, problems: ProblemCollector): void {
  if (allocation === AllocationStrategy.CAPACITY_OPTIMIZED_PRIORITIZED && props.instanceRequirements) {
    problems.add(FleetSpecErrorCode.AWS_ALLOCATION_STRATEGY, 'allocationStrategy',
      'allocationStrategy (capacity-optimized-prioritized) needs an ordered list of instanceTypes, but instanceRequirements is set and AWS rejects the pair; use AllocationStrategy.PRICE_CAPACITY_OPTIMIZED or CAPACITY_OPTIMIZED, or list instanceTypes in priority order');
  }
  if (props.instanceTypes && !Token.isUnresolved(props.instanceTypes) && props.instanceTypes.length > MAX_LAUNCH_TEMPLATE_OVERRIDES) {
    problems.add(FleetSpecErrorCode.AWS_TOO_MANY_OVERRIDES, 'instanceTypes',
      `instanceTypes lists ${props.instanceTypes.length} types but a mixed instances policy takes at most ${MAX_LAUNCH_TEMPLATE_OVERRIDES} overrides; keep the ${MAX_LAUNCH_TEMPLATE_OVERRIDES} you prefer, or use instanceRequirements to let AWS pick every matching type`);
  }
}

/** A launch template the user brought: no spot request of its own, and a role, user data and a security group. */
function checkLaunchTemplate(lt: ec2.LaunchTemplate, problems: ProblemCollector): void {
  const data = (lt.node.defaultChild as ec2.CfnLaunchTemplate | undefined)?.launchTemplateData as ec2.CfnLaunchTemplate.LaunchTemplateDataProperty | undefined;
  if (data && data.instanceMarketOptions !== undefined) {
    problems.add(FleetSpecErrorCode.AWS_LAUNCH_TEMPLATE, 'launchTemplate',
      `launchTemplate (${lt.node.path}) requests spot itself (spotOptions / InstanceMarketOptions), which AWS refuses inside a mixed instances policy; remove spotOptions: the policy's onDemandBaseCapacity and onDemandPercentageAboveBaseCapacity decide spot vs on-demand`);
  }
  if (!lt.role) {
    problems.add(FleetSpecErrorCode.AWS_LAUNCH_TEMPLATE, 'launchTemplate', `launchTemplate (${lt.node.path}) has no role; give it one (the agent and your boot commands need it) or leave launchTemplate out`);
  }
  if (!lt.userData) {
    problems.add(FleetSpecErrorCode.AWS_LAUNCH_TEMPLATE, 'launchTemplate', `launchTemplate (${lt.node.path}) has no user data; give it ec2.UserData.forLinux() so the fleet can install its agent, or leave launchTemplate out`);
  }
  if (!hasSecurityGroup(lt)) {
    problems.add(FleetSpecErrorCode.AWS_LAUNCH_TEMPLATE, 'launchTemplate', `launchTemplate (${lt.node.path}) has no security group; give it one so the load balancer can be admitted, or leave launchTemplate out`);
  }
}

/** A whole number of GiB within gp3's limit, and no smaller than the Deep Learning AMI's snapshot when that image boots. */
function checkRootVolume(props: SpotFleetProps, rootSize: number, problems: ProblemCollector): void {
  const minRoot = props.machineImage || props.launchTemplate ? 1 : DeepLearningImage.MIN_ROOT_VOLUME_GIB;
  if (known(rootSize) && !(Number.isInteger(rootSize) && rootSize >= minRoot && rootSize <= 16384)) {
    problems.add(FleetSpecErrorCode.AWS_ROOT_VOLUME, 'rootVolumeSizeGiB',
      `rootVolumeSizeGiB (${rootSize}) must be a whole number from ${minRoot} to 16384 (gp3 limit${minRoot > 1 ? `; the Deep Learning AMI's root snapshot is ${minRoot} GiB` : ''}); use e.g. 100`);
  }
}

/** IMDSv2's hop limit: 1 to 64. */
function checkMetadataHopLimit(hopLimit: number, problems: ProblemCollector): void {
  if (known(hopLimit) && !(Number.isInteger(hopLimit) && hopLimit >= 1 && hopLimit <= 64)) {
    problems.add(FleetSpecErrorCode.AWS_METADATA_HOP_LIMIT, 'metadataHopLimit', `metadataHopLimit (${hopLimit}) must be a whole number from 1 to 64; use 1, or 2 for containers that need the role`);
  }
}

/** The lifecycle hook's limits, and a timeout the user set that covers the drain. */
function checkHeartbeatTimeout(props: SpotFleetProps, heartbeat: Duration, r: ResolvedFleetSpec, problems: ProblemCollector): void {
  if (heartbeat.isUnresolved()) return;
  const hb = heartbeat.toSeconds();
  if (hb < 30 || hb > 7200) {
    problems.add(FleetSpecErrorCode.AWS_LIFECYCLE_HOOK, 'terminationHook.heartbeatTimeout',
      `terminationHook.heartbeatTimeout (${hb} s) must be from 30 s to 7200 s (AWS lifecycle hook limits); use e.g. ${r.noticeSeconds} s, the spot notice`);
  } else if (props.terminationHook?.heartbeatTimeout && known(r.drainBudgetSeconds) && known(r.deregistrationDelaySeconds) && hb < r.drainBudgetSeconds + r.deregistrationDelaySeconds) {
    problems.add(FleetSpecErrorCode.DRAIN_BUDGET_EXCEEDED, 'terminationHook.heartbeatTimeout',
      `terminationHook.heartbeatTimeout (${hb} s) is shorter than drainBudgetSeconds (${r.drainBudgetSeconds} s) + deregistrationDelaySeconds (${r.deregistrationDelaySeconds} s); the hook would expire mid-drain: raise it to at least ${r.drainBudgetSeconds + r.deregistrationDelaySeconds} s`);
  }
}

/** The subnets of the workers: `vpcSubnets` (default the private ones with egress), narrowed to `zones`. */
function workerSubnetSelection(props: SpotFleetProps): ec2.SubnetSelection {
  const selection: ec2.SubnetSelection = props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
  return props.zones && !Token.isUnresolved(props.zones) && props.zones.length > 0 ? { ...selection, availabilityZones: props.zones } : selection;
}

/** `zones` must be zones of the VPC, known at synth. */
function checkZonesOfVpc(props: SpotFleetProps, problems: ProblemCollector): void {
  if (!(props.zones && !Token.isUnresolved(props.zones) && props.zones.length > 0)) return;
  const vpcZones = props.vpc.availabilityZones;
  if (vpcZones.some((z) => Token.isUnresolved(z))) {
    problems.add(FleetSpecErrorCode.ZONES, 'zones',
      `zones (${props.zones.join(', ')}) cannot be matched against the VPC: its zones are only known at deploy time (environment-agnostic stack); set env (account and region) on the stack, or leave zones out to use every zone of the VPC`);
  } else {
    const missing = props.zones.filter((z) => !vpcZones.includes(z));
    if (missing.length > 0) {
      problems.add(FleetSpecErrorCode.ZONES, 'zones', `zones lists ${missing.join(', ')}, which the VPC does not have (it has ${vpcZones.join(', ')}); list zones of the VPC or leave zones out`);
    }
  }
}

/** The selected subnets: some, private, in at least 2 zones (unless `allowUndiversified`). */
function checkWorkerSubnets(props: SpotFleetProps, selection: ec2.SubnetSelection, problems: ProblemCollector): void {
  let hasSubnets = true;
  try {
    const selected = props.vpc.selectSubnets(selection);
    if (selected.hasPublic) {
      problems.add(FleetSpecErrorCode.AWS_SUBNETS, 'vpcSubnets', 'vpcSubnets selects public subnets; workers must not be reachable from the internet: select private subnets (ec2.SubnetType.PRIVATE_WITH_EGRESS) and put the load balancer in the public ones');
    }
    if (selected.subnets.length === 0) hasSubnets = false;
    // Without `zones`, the zones are those of the selected subnets: the same at-least-2 rule.
    if (!props.zones && selected.subnets.length > 0) {
      if (checkZoneCount('vpcSubnets', selected.availabilityZones, props.allowUndiversified, 'AWS', { isUnresolved: (v) => Token.isUnresolved(v) }).length > 0) {
        problems.add(FleetSpecErrorCode.TOO_FEW_ZONES, 'vpcSubnets',
          `vpcSubnets selects subnets of 1 zone (${selected.availabilityZones.join(', ')}): an AWS spot fleet needs at least 2 zones so that one zone running out of spot capacity does not take the whole fleet; select private subnets in 2 or more zones (a VPC with maxAzs >= 2), or set allowUndiversified: true`);
      }
    }
  } catch (e) {
    hasSubnets = false;
    problems.add(FleetSpecErrorCode.AWS_SUBNETS, 'vpcSubnets', `vpcSubnets selects no subnet of the VPC (${(e as Error).message.split('\n')[0]}); give the VPC private subnets with egress (NAT) or pass vpcSubnets`);
  }
  if (!hasSubnets && problems.problems.every((p) => p.prop !== 'vpcSubnets' && p.prop !== 'zones')) {
    problems.add(FleetSpecErrorCode.AWS_SUBNETS, 'vpcSubnets', 'vpcSubnets selects no subnet; give the VPC private subnets with egress (NAT) or pass vpcSubnets');
  }
}

function hasSecurityGroup(lt: ec2.LaunchTemplate): boolean {
  try {
    return lt.connections.securityGroups.length > 0;
  } catch {
    return false;
  }
}
