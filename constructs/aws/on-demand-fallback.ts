import { Duration, Lazy, Stack, Token, Tokenization } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { INTERRUPTION_EVENTS } from '../../lib/handlers/aws/events';
import {
  FALLBACK_ENV,
  FALLBACK_METRIC,
  FALLBACK_METRICS_NAMESPACE,
  FALLBACK_SERVICE_NAME,
  FallbackRegionSettings,
  renderFallbackEnvironment,
} from '../../lib/handlers/aws/fallback-settings';
import { acknowledgeNagFindings, prebuiltHandlerBundle } from './bundle';
import { FallbackPlan, planFallback } from './on-demand-fallback-plan';
import { autoScalingGroupArn, grantFallbackController } from './on-demand-fallback-permissions';
import { SpotFleet } from './spot-fleet';
import { OnDemandFallbackProps, OnDemandFallbackRegionGroups, OnDemandFallbackSubnet } from './on-demand-fallback-props';
export * from './on-demand-fallback-props';

/** What cdk-nag reports on a group launching from the fleet's MixedInstancesPolicy launch template, with the reason. */
const LAUNCH_TEMPLATE_NAG_FINDING = {
  rule: 'AwsSolutions-EC26',
  reason: "The group launches from the fleet's MixedInstancesPolicy launch template whose only EBS volume is the encrypted gp3 root volume; the rule cannot follow a MixedInstancesPolicy reference and reports an error instead",
};

/**
 * On-demand fallback for a {@link SpotFleet}: a second, on-demand-only Auto Scaling group on the same
 * launch template, subnets and target groups (min 0), and a controller Lambda that sets its desired
 * capacity to the replicas spot cannot provide right now, and back to 0 once spot replacements are
 * ready and have stayed up.
 *
 * Why a second group rather than raising the fleet group's `OnDemandBaseCapacity`: changing a group's
 * instances distribution makes Auto Scaling rebalance it, terminating healthy spot instances to reach
 * the new on-demand share, and lowering it again terminates on-demand instances before spot has
 * landed. `SetDesiredCapacity` on a separate group only launches or removes fallback instances; the
 * spot group keeps its base, its desired capacity and its instances.
 *
 * Spares and steering: a spare spot group (spot only, min 0, same template, subnets and target groups) runs
 * the policy's spare spot replicas while preemptions are likely; the controller sets its size and its
 * subnets (one per zone the policy does not avoid), and its instance types with `steerInstanceTypes`. The
 * fleet group's own spot placement stays its allocation strategy's. With `regions` (and `controller: false`
 * in the other regions' stacks) one controller drives the groups of several regions.
 *
 * The controller runs every `controlInterval`, on each `EC2 Instance Launch Unsuccessful` event of the
 * groups and on spot interruption warnings; it keeps its state (a few hundred bytes) in an SSM
 * parameter and has a reserved concurrency of 1 so two runs never race. It emits `FallbackReplicas`,
 * `SpareSpotReplicas`, `IgnoredEvents` and more (namespace `SpotInferenceConstructs`, dimension
 * `AutoScalingGroupName` = the fleet's group). See docs/fallback-policy.md.
 *
 * @example
 * const fallback = new OnDemandFallback(this, 'Fallback', { fleet: service.fleet, interruptionHandler: service.interruptionHandler });
 */
export class OnDemandFallback extends Construct {
  /**
   * Whether a fallback has anything to do for this fleet: false when its maxCapacity equals its
   * onDemandBaseCapacity (everything already runs on-demand). True when either value is a token.
   */
  public static appliesTo(fleet: SpotFleet): boolean {
    const { maxCapacity, onDemandBaseCapacity } = fleet.spec;
    if (Token.isUnresolved(maxCapacity) || Token.isUnresolved(onDemandBaseCapacity)) return true;
    return maxCapacity > onDemandBaseCapacity;
  }

  /** The on-demand-only fallback group (desired capacity is set by the controller, never by CloudFormation). */
  public readonly fallbackGroup: autoscaling.CfnAutoScalingGroup;
  /** Name of the fallback group. */
  public readonly fallbackGroupName: string;
  /** ARN pattern of the fallback group (its UUID is `*`: unknown until deploy). */
  public readonly fallbackGroupArn: string;
  /** The controller function (absent with `controller: false`). */
  public readonly function?: lambda.Function;
  /** The parameter holding the controller's state (absent with `controller: false`). */
  public readonly stateParameter?: ssm.StringParameter;
  /** The rule that runs the controller every `controlInterval` (absent with `controller: false`). */
  public readonly scheduleRule?: events.Rule;
  /** The controller's own launch-unsuccessful rule (absent when it reuses the interruption handler's). */
  public readonly launchUnsuccessfulRule?: events.Rule;
  /** The controller's own spot warning rule (absent when it reuses the interruption handler's). */
  public readonly spotWarningRule?: events.Rule;
  /** Most instances the fallback group may run. */
  public readonly maxFallbackCapacity: number;
  /** The spare spot group (absent with `spareGroup: false` or a policy without spares). */
  public readonly spareGroup?: autoscaling.CfnAutoScalingGroup;
  /** Name of the spare spot group. */
  public readonly spareGroupName?: string;
  /** Most spare spot replicas (the policy's `spareSpotReplicas`). */
  public readonly maxSpareCapacity: number;
  /** This region's groups, for a controller in another region (`regions` of its OnDemandFallback). */
  public readonly regionGroups: OnDemandFallbackRegionGroups;

  private readonly spotGroupName: string;

  constructor(scope: Construct, id: string, props: OnDemandFallbackProps) {
    super(scope, id);
    this.spotGroupName = props.fleet.autoScalingGroupName;
    const plan = planFallback(props, Stack.of(this).region, this.node.path);
    this.maxFallbackCapacity = plan.maxFallbackCapacity;
    this.fallbackGroupName = plan.fallbackGroupName;
    this.fallbackGroupArn = autoScalingGroupArn(Stack.of(this), plan.fallbackGroupName);
    this.fallbackGroup = this.createFallbackGroup(props, plan);
    this.maxSpareCapacity = plan.maxSpareCapacity;
    this.spareGroupName = plan.spareGroupName;
    const subnets = props.fleet.vpc.selectSubnets(props.fleet.vpcSubnets).subnets.map((sn) => ({ zone: sn.availabilityZone, subnetId: sn.subnetId }));
    if (plan.spareGroupName !== undefined) this.spareGroup = this.createSpareGroup(props, plan.spareGroupName, plan.maxSpareCapacity);
    this.regionGroups = this.describeRegionGroups(props.fleet, plan, subnets);
    if (!plan.controller) return;

    this.stateParameter = this.createStateParameter(props.fleet);
    this.function = this.createController(props, plan, this.stateParameter, subnets);
    const target = new targets.LambdaFunction(this.function, { retryAttempts: 2, maxEventAge: Duration.minutes(15) });
    this.scheduleRule = this.createScheduleRule(plan, target);
    if (props.interruptionHandler) {
      // Its launch-unsuccessful and spot warning rules run the controller too: no second pair of rules.
      props.interruptionHandler.onLaunchUnsuccessful(target);
      props.interruptionHandler.spotWarningRule.addTarget(target);
    } else {
      this.launchUnsuccessfulRule = this.createLaunchUnsuccessfulRule(props, plan, target);
      this.spotWarningRule = this.createSpotWarningRule(target);
    }
  }

  /** On-demand replicas the fallback group runs in place of missing spot (Maximum per minute). */
  public metricFallbackReplicas(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(FALLBACK_METRIC.FALLBACK_REPLICAS, { statistic: cloudwatch.Stats.MAXIMUM, ...props });
  }

  /** Spot replicas in service, healthy and not warned, as the controller saw them (Minimum per minute). */
  public metricReadySpotReplicas(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(FALLBACK_METRIC.READY_SPOT_REPLICAS, { statistic: cloudwatch.Stats.MINIMUM, ...props });
  }

  /** Spot launch failures for lack of capacity the controller counted (Sum per period). */
  public metricSpotLaunchFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(FALLBACK_METRIC.SPOT_LAUNCH_FAILURES, { statistic: cloudwatch.Stats.SUM, ...props });
  }

  /** Spare spot replicas the controller runs in its spare groups (Maximum per minute). */
  public metricSpareSpotReplicas(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(FALLBACK_METRIC.SPARE_SPOT_REPLICAS, { statistic: cloudwatch.Stats.MAXIMUM, ...props });
  }

  /** Events the controller ignored on purpose (another fleet's, a kind it does not act on) (Sum per period). */
  public metricIgnoredEvents(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(FALLBACK_METRIC.IGNORED_EVENTS, { statistic: cloudwatch.Stats.SUM, ...props });
  }

  /** A metric the controller emits, by name (dimension `AutoScalingGroupName` = the fleet's group). */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: FALLBACK_METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { AutoScalingGroupName: this.spotGroupName },
      period: Duration.minutes(1),
      ...props,
    });
  }

  /** The fallback group: the fleet group's launch template and overrides, on-demand only. */
  private createFallbackGroup(props: OnDemandFallbackProps, plan: FallbackPlan): autoscaling.CfnAutoScalingGroup {
    const fleetGroup = fleetGroupParts(props.fleet);
    const group = new autoscaling.CfnAutoScalingGroup(this, 'Group', {
      autoScalingGroupName: plan.fallbackGroupName,
      minSize: '0',
      maxSize: Tokenization.stringifyNumber(plan.maxFallbackCapacity),
      // No desiredCapacity: the controller owns it; a deploy must never reset it.
      vpcZoneIdentifier: fleetGroup.cfn.vpcZoneIdentifier,
      mixedInstancesPolicy: {
        launchTemplate: fleetGroup.policy.launchTemplate,
        instancesDistribution: {
          onDemandBaseCapacity: 0,
          onDemandPercentageAboveBaseCapacity: 100,
          onDemandAllocationStrategy: fleetGroup.distribution?.onDemandAllocationStrategy ?? autoscaling.OnDemandAllocationStrategy.LOWEST_PRICE,
        },
      },
      targetGroupArns: props.targetGroups ? props.targetGroups.map((t) => t.targetGroupArn) : fleetGroup.cfn.targetGroupArns,
      healthCheckType: Lazy.string({ produce: () => fleetGroup.cfn.healthCheckType ?? 'EC2' }),
      healthCheckGracePeriod: fleetGroup.cfn.healthCheckGracePeriod,
      capacityRebalance: false,
      metricsCollection: [{ granularity: '1Minute' }],
    });
    // Created after the fleet group (and so after its load balancer listeners).
    group.addResourceDependency(fleetGroup.cfn);
    acknowledgeNagFindings(group, [
      {
        rule: 'AwsSolutions-AS3',
        reason: 'The fallback group is resized only by its controller, which logs every decision with its reason and emits FallbackReplicas; its launch failures reach the controller through the EC2 Instance Launch Unsuccessful rule, so SNS scaling notifications would only repeat them',
      },
      LAUNCH_TEMPLATE_NAG_FINDING,
    ]);
    return group;
  }

  /** The spare spot group: spot only, min 0, on the fleet's launch template, sized and steered by the controller alone. */
  private createSpareGroup(props: OnDemandFallbackProps, spareGroupName: string, maxSpareCapacity: number): autoscaling.CfnAutoScalingGroup {
    const fleetGroup = fleetGroupParts(props.fleet);
    const group = new autoscaling.CfnAutoScalingGroup(this, 'SpareGroup', {
      autoScalingGroupName: spareGroupName,
      minSize: '0',
      maxSize: String(maxSpareCapacity),
      // No desiredCapacity and the subnets are the controller's from the first run: a deploy must not reset them.
      vpcZoneIdentifier: fleetGroup.cfn.vpcZoneIdentifier,
      mixedInstancesPolicy: {
        launchTemplate: fleetGroup.policy.launchTemplate,
        instancesDistribution: {
          onDemandBaseCapacity: 0,
          onDemandPercentageAboveBaseCapacity: 0,
          spotAllocationStrategy: fleetGroup.distribution?.spotAllocationStrategy ?? autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
        },
      },
      targetGroupArns: props.targetGroups ? props.targetGroups.map((t) => t.targetGroupArn) : fleetGroup.cfn.targetGroupArns,
      healthCheckType: Lazy.string({ produce: () => fleetGroup.cfn.healthCheckType ?? 'EC2' }),
      healthCheckGracePeriod: fleetGroup.cfn.healthCheckGracePeriod,
      capacityRebalance: true,
      metricsCollection: [{ granularity: '1Minute' }],
    });
    group.addResourceDependency(fleetGroup.cfn);
    // The controller steers the subnets; CloudFormation only writes them again when the template's change.
    acknowledgeNagFindings(group, [
      {
        rule: 'AwsSolutions-AS3',
        reason: 'The spare group is resized and steered only by its controller, which logs every decision with its reason and emits SpareSpotReplicas; its launch failures reach the controller through the activity scan',
      },
      LAUNCH_TEMPLATE_NAG_FINDING,
    ]);
    return group;
  }

  /** This region's groups as a controller in another region reads them. */
  private describeRegionGroups(fleet: SpotFleet, plan: FallbackPlan, subnets: OnDemandFallbackSubnet[]): OnDemandFallbackRegionGroups {
    return {
      region: Stack.of(this).region,
      spotGroupName: fleet.autoScalingGroupName,
      fallbackGroupName: plan.fallbackGroupName,
      spareGroupName: plan.spareGroupName,
      subnets,
      onDemandBase: fleet.spec.onDemandBaseCapacity,
      maxCapacity: fleet.spec.maxCapacity,
      instanceTypes: fleet.spec.instanceTypes,
    };
  }

  /** The controller's state: one Standard SSM parameter. */
  private createStateParameter(fleet: SpotFleet): ssm.StringParameter {
    return new ssm.StringParameter(this, 'State', {
      description: `State of the on-demand fallback controller of ${fleet.node.path} (written by the controller; the seed {} means "no state yet")`,
      stringValue: '{}',
      tier: ssm.ParameterTier.STANDARD,
    });
  }

  /** The controller function, its log group and its least-privilege role. */
  private createController(props: OnDemandFallbackProps, plan: FallbackPlan, stateParameter: ssm.StringParameter, subnets: OnDemandFallbackSubnet[]): lambda.Function {
    const fleet = props.fleet;
    const logGroup = new logs.LogGroup(this, 'LogGroup', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `On-demand fallback controller of ${fleet.node.path}: resizes its fallback and spare groups, steers the spare groups' subnets`,
    });
    logGroup.grantWrite(role);
    const fn = new lambda.Function(this, 'Function', {
      role,
      description: `Applies the fallback policy: on-demand fallback, spare spot replicas, spare group steering (${fleet.node.path})`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(prebuiltHandlerBundle('fallback', 'OnDemandFallback')),
      memorySize: 256,
      timeout: Duration.seconds(60),
      reservedConcurrentExecutions: 1,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: this.controllerEnvironment(props, plan, stateParameter, subnets),
    });
    // Stale events are harmless (deduplicated) but useless: drop them after a while.
    fn.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.minutes(15) });
    grantFallbackController(role, {
      ownRegion: this.regionGroups,
      ownFallbackGroupArn: this.fallbackGroupArn,
      regions: [this.regionGroups, ...plan.otherRegions],
      stateParameterArn: stateParameter.parameterArn,
      steer: plan.steerInstanceTypes ? { launchTemplateId: fleet.launchTemplate.launchTemplateId, instanceRoleArn: fleet.role.roleArn } : undefined,
    });
    return fn;
  }

  /** What the controller reads (FALLBACK_ENV): its groups, state parameter, capacities, policy and regions. */
  private controllerEnvironment(props: OnDemandFallbackProps, plan: FallbackPlan, stateParameter: ssm.StringParameter, subnets: OnDemandFallbackSubnet[]): Record<string, string> {
    const spec = props.fleet.spec;
    const stack = Stack.of(this);
    return {
      ...renderFallbackEnvironment({
        spotGroupName: props.fleet.autoScalingGroupName,
        fallbackGroupName: plan.fallbackGroupName,
        stateParameterName: stateParameter.parameterName,
        onDemandBase: spec.onDemandBaseCapacity,
        maxCapacity: spec.maxCapacity,
        instanceTypes: spec.instanceTypes,
        lookbackSeconds: plan.launchFailureLookback.toSeconds(),
        policy: props.policy ?? {},
        steerInstanceTypes: plan.steerInstanceTypes,
      }),
      // Tokens (values known at deploy) are passed as such, not as their placeholder numbers.
      [FALLBACK_ENV.ON_DEMAND_BASE]: Tokenization.stringifyNumber(spec.onDemandBaseCapacity),
      [FALLBACK_ENV.MAX_CAPACITY]: Tokenization.stringifyNumber(spec.maxCapacity),
      ...(plan.spareGroupName !== undefined
        ? {
          [FALLBACK_ENV.SPARE_GROUP_NAME]: plan.spareGroupName,
          // A list, not an object: the zone names may be tokens (environment-agnostic stacks).
          [FALLBACK_ENV.SUBNETS]: stack.toJsonString(subnets),
        }
        : {}),
      ...(plan.otherRegions.length > 0 ? { [FALLBACK_ENV.REGIONS]: stack.toJsonString([this.regionGroups, ...plan.otherRegions].map(renderRegion)) } : {}),
      POWERTOOLS_SERVICE_NAME: FALLBACK_SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: FALLBACK_METRICS_NAMESPACE,
    };
  }

  /** The rule that runs the controller every `controlInterval`. */
  private createScheduleRule(plan: FallbackPlan, target: events.IRuleTarget): events.Rule {
    return new events.Rule(this, 'ScheduleRule', {
      description: `Runs the on-demand fallback controller (${this.node.path})`,
      schedule: events.Schedule.rate(plan.controlInterval),
      targets: [target],
    });
  }

  /** The controller's own rule on `EC2 Instance Launch Unsuccessful` of the fleet, fallback and spare groups. */
  private createLaunchUnsuccessfulRule(props: OnDemandFallbackProps, plan: FallbackPlan, target: events.IRuleTarget): events.Rule {
    return new events.Rule(this, 'LaunchUnsuccessfulRule', {
      description: `Launch failures of the fleet, fallback and spare groups (${this.node.path})`,
      eventPattern: {
        source: [INTERRUPTION_EVENTS.LAUNCH_UNSUCCESSFUL.source],
        detailType: [INTERRUPTION_EVENTS.LAUNCH_UNSUCCESSFUL.detailType],
        detail: { AutoScalingGroupName: [props.fleet.autoScalingGroupName, plan.fallbackGroupName, ...(plan.spareGroupName !== undefined ? [plan.spareGroupName] : [])] },
      },
      targets: [target],
    });
  }

  /** The controller's own spot warning rule: aws.ec2 events carry only an instance id, so it cannot be scoped to the group (the controller filters). */
  private createSpotWarningRule(target: events.IRuleTarget): events.Rule {
    return new events.Rule(this, 'SpotWarningRule', {
      description: `EC2 spot interruption warnings (${this.node.path})`,
      eventPattern: {
        source: [INTERRUPTION_EVENTS.SPOT_WARNING.source],
        detailType: [INTERRUPTION_EVENTS.SPOT_WARNING.detailType],
      },
      targets: [target],
    });
  }
}

/** A region's groups as the controller reads them (`FALLBACK_REGIONS`; subnets as a list). */
function renderRegion(r: OnDemandFallbackRegionGroups): Omit<FallbackRegionSettings, 'subnetsByZone'> & { subnets?: OnDemandFallbackSubnet[] } {
  return {
    region: r.region,
    spotGroupName: r.spotGroupName,
    fallbackGroupName: r.fallbackGroupName,
    ...(r.spareGroupName ? { spareGroupName: r.spareGroupName } : {}),
    ...(r.subnets && r.spareGroupName ? { subnets: r.subnets } : {}),
    onDemandBase: r.onDemandBase,
    maxCapacity: r.maxCapacity,
    instanceTypes: r.instanceTypes ?? [],
  };
}

/** The fleet group's L1 resource, its mixed instances policy and instances distribution, which both groups copy. */
function fleetGroupParts(fleet: SpotFleet): {
  cfn: autoscaling.CfnAutoScalingGroup;
  policy: autoscaling.CfnAutoScalingGroup.MixedInstancesPolicyProperty;
  distribution?: autoscaling.CfnAutoScalingGroup.InstancesDistributionProperty;
} {
  const cfn = fleet.autoScalingGroup.node.defaultChild as autoscaling.CfnAutoScalingGroup;
  const policy = cfn.mixedInstancesPolicy as autoscaling.CfnAutoScalingGroup.MixedInstancesPolicyProperty;
  return { cfn, policy, distribution: policy.instancesDistribution as autoscaling.CfnAutoScalingGroup.InstancesDistributionProperty | undefined };
}
