import { ArnFormat, Duration, Lazy, Stack, Token, Tokenization } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
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
import { FallbackPolicyOptions, resolveFallbackPolicyOptions } from '../../lib/policy/fallback-policy';
import { FleetSpecError, FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { acknowledgeNagFindings, nagResourceName, prebuiltHandlerBundle } from './bundle';
import { InterruptionHandler } from './interruption-handler';
import { SpotFleet } from './spot-fleet';

/** Longest Auto Scaling group name AWS accepts. */
const MAX_GROUP_NAME_LENGTH = 255;
const FALLBACK_SUFFIX = '-od-fallback';
const SPARE_SUFFIX = '-spare';

/**
 * Options of {@link OnDemandFallback} that do not name the fleet's resources (what
 * `SpotInferenceService` passes through).
 */
export interface OnDemandFallbackOptions {
  /**
   * How often the controller runs on its own (it also runs on every launch failure and spot warning).
   * Whole minutes, 1 to 60 (an EventBridge rate).
   * @default Duration.minutes(1)
   */
  readonly controlInterval?: Duration;

  /**
   * How far back each run scans the fleet group's scaling activities for failed spot launches, so a
   * launch failure whose event was lost still counts. At least `controlInterval`, at most 1 day.
   * @default Duration.minutes(10)
   */
  readonly launchFailureLookback?: Duration;

  /**
   * Most on-demand instances the fallback group may run.
   * @default - the fleet's maxCapacity minus its onDemandBaseCapacity
   */
  readonly maxFallbackCapacity?: number;

  /**
   * Tuning of the fallback policy (stabilization before returning to spot, cool-down, how long a pool
   * that failed or was preempted is avoided, spare replicas while preemption risk is high).
   * @default - the policy's defaults: 60 s stabilization, 120 s cool-down, 180 s pool avoidance, 1 spare
   */
  readonly policy?: FallbackPolicyOptions;

  /**
   * Name of the on-demand fallback Auto Scaling group.
   * @default - the fleet group's name followed by `-od-fallback`
   */
  readonly fallbackGroupName?: string;

  /**
   * Retention of the controller's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Render the spare spot group: a spot-only Auto Scaling group (min 0) on the fleet's launch template,
   * overrides, subnets and target groups, whose size and subnets only the controller sets. It runs the
   * policy's spare spot replicas while preemption risk is high, so a preempted replica is covered at once;
   * the fleet group's desired capacity stays its scaling policies'.
   * @default - true when the policy keeps spares (`policy.spareSpotReplicas`, default 1, above 0)
   */
  readonly spareGroup?: boolean;

  /**
   * Name of the spare spot group.
   * @default - the fleet group's name followed by `-spare`
   */
  readonly spareGroupName?: string;

  /**
   * Let the controller also change the spare group's instance types (its launch template overrides), not only
   * its zones, so a type the policy avoids everywhere leaves the spare group. Auto Scaling checks that whoever
   * updates a group's launch template overrides may launch from it, so this grants the controller
   * `ec2:RunInstances` with the fleet's launch template only (condition `ec2:LaunchTemplate`) and
   * `iam:PassRole` of the fleet's instance role. Without it, the spare group's allocation strategy
   * (price-capacity-optimized) picks among the types: the cloud's behaviour.
   * @default false
   */
  readonly steerInstanceTypes?: boolean;

  /**
   * Whether this construct runs the controller. `false` renders the fallback and spare groups only, for a
   * fleet in another region whose groups one controller observes: pass this construct's `regionGroups` to
   * that controller's `regions`.
   * @default true
   */
  readonly controller?: boolean;

  /**
   * Groups of the same fleet in other regions that this controller observes and drives too (one controller
   * over several regional stacks). Each region's `OnDemandFallback` (with `controller: false`) gives its
   * `regionGroups`. The controller's role may resize those regions' fallback and spare groups and steer the
   * spare groups' subnets, nothing else.
   * @default - this fleet's region only
   */
  readonly regions?: OnDemandFallbackRegionGroups[];
}

/**
 * The groups of one region of a fleet that a controller in another region observes and drives (what
 * {@link OnDemandFallback.regionGroups} gives). Group names must be known at synth or passed across stacks
 * (`crossRegionReferences`, SSM parameters).
 */
export interface OnDemandFallbackRegionGroups {
  /** Region of the groups, e.g. `us-west-2`. */
  readonly region: string;
  /** The region's fleet (spot) group: observed, never resized. */
  readonly spotGroupName: string;
  /** The region's on-demand fallback group. */
  readonly fallbackGroupName: string;
  /** The region's spare spot group. @default - no spares in that region */
  readonly spareGroupName?: string;
  /** Subnet of each zone the spare group may launch in (zone steering). @default - its zones are not steered */
  readonly subnets?: OnDemandFallbackSubnet[];
  /** On-demand base of the region's fleet group. */
  readonly onDemandBase: number;
  /** Most instances of the region's fleet group. */
  readonly maxCapacity: number;
  /** Instance types of the region's fleet. @default - none (instance requirements) */
  readonly instanceTypes?: string[];
}

/** One subnet of a spare group, with its zone. */
export interface OnDemandFallbackSubnet {
  readonly zone: string;
  readonly subnetId: string;
}

/** Properties of {@link OnDemandFallback}. */
export interface OnDemandFallbackProps extends OnDemandFallbackOptions {
  /** The spot fleet to back with on-demand capacity. Its group keeps its own on-demand base. */
  readonly fleet: SpotFleet;

  /**
   * The fleet's interruption handler. When given, its `EC2 Instance Launch Unsuccessful` and spot
   * interruption warning rules also invoke the controller (no second pair of rules).
   * @default - the controller gets its own two rules with the same patterns
   */
  readonly interruptionHandler?: InterruptionHandler;

  /**
   * Target groups the fallback instances register in.
   * @default - the same target groups as the fleet's group (read when the template is written, so a load balancer attached later is included)
   */
  readonly targetGroups?: elbv2.ITargetGroup[];
}

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
    const fleet = props.fleet;
    const spec = fleet.spec;
    this.spotGroupName = fleet.autoScalingGroupName;
    const known = (x: unknown): x is number => typeof x === 'number' && !Token.isUnresolved(x);
    const room = known(spec.maxCapacity) && known(spec.onDemandBaseCapacity) ? spec.maxCapacity - spec.onDemandBaseCapacity : spec.maxCapacity;
    const interval = props.controlInterval ?? Duration.minutes(1);
    const lookback = props.launchFailureLookback ?? Duration.minutes(10);
    const fallbackName = props.fallbackGroupName ?? truncateName(fleet.autoScalingGroupName, FALLBACK_SUFFIX);

    // --- validation: every problem at once ---
    const v = new ProblemCollector();
    const C = FleetSpecErrorCode;
    if (known(room) && room <= 0) {
      v.add(C.CAPACITY_ORDER, 'fleet', `the fleet's maxCapacity (${spec.maxCapacity}) leaves no room above its onDemandBaseCapacity (${spec.onDemandBaseCapacity}): everything already runs on-demand, so there is nothing to fall back from; raise maxCapacity or do not add an OnDemandFallback`);
    }
    const mfc = props.maxFallbackCapacity;
    if (mfc !== undefined && known(mfc) && !(Number.isInteger(mfc) && mfc >= 1 && (!known(room) || mfc <= room))) {
      v.add(C.FALLBACK_CAPACITY, 'maxFallbackCapacity', `maxFallbackCapacity (${mfc}) must be a whole number from 1 to ${known(room) ? room : 'maxCapacity'} (maxCapacity ${spec.maxCapacity} minus onDemandBaseCapacity ${spec.onDemandBaseCapacity}): the fallback only replaces spot above the base; leave it out to use ${room}`);
    }
    if (!interval.isUnresolved()) {
      const s = interval.toSeconds();
      if (!(s >= 60 && s <= 3600 && s % 60 === 0)) {
        v.add(C.FALLBACK_SCHEDULE, 'controlInterval', `controlInterval (${s} s) must be whole minutes from 1 to 60 (an EventBridge rate; 1 minute is the shortest); use e.g. Duration.minutes(1)`);
      }
    }
    if (!lookback.isUnresolved()) {
      const s = lookback.toSeconds();
      const min = interval.isUnresolved() ? 60 : interval.toSeconds();
      if (!(s >= min && s <= 86400)) {
        v.add(C.FALLBACK_SCHEDULE, 'launchFailureLookback', `launchFailureLookback (${s} s) must be at least controlInterval (${min} s), so no failed launch falls between two runs, and at most 1 day; use e.g. Duration.minutes(10)`);
      }
    }
    if (!Token.isUnresolved(fallbackName)) {
      if (fallbackName.length < 1 || fallbackName.length > MAX_GROUP_NAME_LENGTH || fallbackName.includes(':')) {
        v.add(C.AWS_GROUP_NAME, 'fallbackGroupName', `fallbackGroupName ("${fallbackName}") must be 1 to ${MAX_GROUP_NAME_LENGTH} characters without ":" (an Auto Scaling group name)`);
      } else if (fallbackName === fleet.autoScalingGroupName) {
        v.add(C.AWS_GROUP_NAME, 'fallbackGroupName', `fallbackGroupName ("${fallbackName}") is the fleet group's own name; pick another name or leave it out to use "${truncateName(fleet.autoScalingGroupName, FALLBACK_SUFFIX)}"`);
      }
    }
    let spares = 0;
    try {
      spares = resolveFallbackPolicyOptions(props.policy ?? {}).spareSpotReplicas;
    } catch (e) {
      if (!(e instanceof FleetSpecError)) throw e;
      v.addAll(e.problems.map((p) => ({ ...p, prop: `policy.${p.prop}`, message: `policy.${p.message}` })));
    }
    const withSpares = props.spareGroup ?? spares > 0;
    if (props.spareGroup === true && spares === 0) {
      v.add(C.FALLBACK_SPARES, 'spareGroup', `spareGroup is true but policy.spareSpotReplicas is 0, so the spare group would never run anything; set policy.spareSpotReplicas to 1 or more, or leave spareGroup out`);
    }
    const spareName = withSpares ? props.spareGroupName ?? truncateName(fleet.autoScalingGroupName, SPARE_SUFFIX) : undefined;
    if (spareName !== undefined && !Token.isUnresolved(spareName)) {
      if (spareName.length < 1 || spareName.length > MAX_GROUP_NAME_LENGTH || spareName.includes(':')) {
        v.add(C.AWS_GROUP_NAME, 'spareGroupName', `spareGroupName ("${spareName}") must be 1 to ${MAX_GROUP_NAME_LENGTH} characters without ":" (an Auto Scaling group name)`);
      } else if (spareName === fleet.autoScalingGroupName || spareName === fallbackName) {
        v.add(C.AWS_GROUP_NAME, 'spareGroupName', `spareGroupName ("${spareName}") is the name of the fleet group or of the fallback group; pick another name or leave it out to use "${truncateName(fleet.autoScalingGroupName, SPARE_SUFFIX)}"`);
      }
    }
    const controller = props.controller ?? true;
    const otherRegions = props.regions ?? [];
    if (!controller && otherRegions.length > 0) {
      v.add(C.REGION_LIST, 'regions', `regions lists ${otherRegions.length} region(s) but controller is false: only the construct that runs the controller observes other regions; pass regions to that one, or set controller: true`);
    }
    const stackRegion = Stack.of(this).region;
    const seenRegions = new Set<string>(Token.isUnresolved(stackRegion) ? [] : [stackRegion]);
    otherRegions.forEach((r, i) => {
      if (Token.isUnresolved(r.region) || !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(r.region)) {
        v.add(C.REGION_LIST, `regions[${i}].region`, `regions[${i}].region ("${r.region}") must be an AWS region name known at synth, e.g. "us-west-2"`);
      } else if (seenRegions.has(r.region)) {
        v.add(C.REGION_LIST, `regions[${i}].region`, `regions[${i}].region ("${r.region}") is listed twice or is this stack's own region; list each other region once (this fleet's region is always observed)`);
      }
      seenRegions.add(r.region);
      for (const k of ['onDemandBase', 'maxCapacity'] as const) {
        const x = r[k];
        if (known(x) && !(Number.isInteger(x) && x >= 0)) v.add(C.CAPACITY_NEGATIVE, `regions[${i}].${k}`, `regions[${i}].${k} (${x}) must be a whole number, 0 or more`);
      }
    });
    if (otherRegions.length > 0 && Token.isUnresolved(stackRegion)) {
      v.add(C.AWS_STACK_ENVIRONMENT, 'regions', 'regions needs a stack with an explicit env.region: the controller names its own region next to the others; set env on the stack');
    }
    v.throwIfAny(this.node.path);

    this.maxFallbackCapacity = mfc ?? room;
    this.fallbackGroupName = fallbackName;
    const stack = Stack.of(this);
    this.fallbackGroupArn = stack.formatArn({
      service: 'autoscaling',
      resource: 'autoScalingGroup',
      resourceName: `*:autoScalingGroupName/${fallbackName}`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    // --- the fallback group: the fleet group's launch template and overrides, on-demand only ---
    const spotCfn = fleet.autoScalingGroup.node.defaultChild as autoscaling.CfnAutoScalingGroup;
    const spotPolicy = spotCfn.mixedInstancesPolicy as autoscaling.CfnAutoScalingGroup.MixedInstancesPolicyProperty;
    const spotDistribution = spotPolicy.instancesDistribution as autoscaling.CfnAutoScalingGroup.InstancesDistributionProperty | undefined;
    this.fallbackGroup = new autoscaling.CfnAutoScalingGroup(this, 'Group', {
      autoScalingGroupName: fallbackName,
      minSize: '0',
      maxSize: Tokenization.stringifyNumber(this.maxFallbackCapacity),
      // No desiredCapacity: the controller owns it; a deploy must never reset it.
      vpcZoneIdentifier: spotCfn.vpcZoneIdentifier,
      mixedInstancesPolicy: {
        launchTemplate: spotPolicy.launchTemplate,
        instancesDistribution: {
          onDemandBaseCapacity: 0,
          onDemandPercentageAboveBaseCapacity: 100,
          onDemandAllocationStrategy: spotDistribution?.onDemandAllocationStrategy ?? autoscaling.OnDemandAllocationStrategy.LOWEST_PRICE,
        },
      },
      targetGroupArns: props.targetGroups ? props.targetGroups.map((t) => t.targetGroupArn) : spotCfn.targetGroupArns,
      healthCheckType: Lazy.string({ produce: () => spotCfn.healthCheckType ?? 'EC2' }),
      healthCheckGracePeriod: spotCfn.healthCheckGracePeriod,
      capacityRebalance: false,
      metricsCollection: [{ granularity: '1Minute' }],
    });
    // Created after the fleet group (and so after its load balancer listeners).
    this.fallbackGroup.addResourceDependency(spotCfn);
    acknowledgeNagFindings(this.fallbackGroup, [
      {
        rule: 'AwsSolutions-AS3',
        reason: 'The fallback group is resized only by its controller, which logs every decision with its reason and emits FallbackReplicas; its launch failures reach the controller through the EC2 Instance Launch Unsuccessful rule, so SNS scaling notifications would only repeat them',
      },
      {
        rule: 'AwsSolutions-EC26',
        reason: "The group launches from the fleet's MixedInstancesPolicy launch template whose only EBS volume is the encrypted gp3 root volume; the rule cannot follow a MixedInstancesPolicy reference and reports an error instead",
      },
    ]);

    // --- the spare spot group: spot only, min 0, sized and steered by the controller alone ---
    this.maxSpareCapacity = withSpares ? spares : 0;
    this.spareGroupName = spareName;
    const subnets = fleet.vpc.selectSubnets(fleet.vpcSubnets).subnets.map((sn) => ({ zone: sn.availabilityZone, subnetId: sn.subnetId }));
    if (spareName !== undefined) {
      this.spareGroup = new autoscaling.CfnAutoScalingGroup(this, 'SpareGroup', {
        autoScalingGroupName: spareName,
        minSize: '0',
        maxSize: String(this.maxSpareCapacity),
        // No desiredCapacity and the subnets are the controller's from the first run: a deploy must not reset them.
        vpcZoneIdentifier: spotCfn.vpcZoneIdentifier,
        mixedInstancesPolicy: {
          launchTemplate: spotPolicy.launchTemplate,
          instancesDistribution: {
            onDemandBaseCapacity: 0,
            onDemandPercentageAboveBaseCapacity: 0,
            spotAllocationStrategy: spotDistribution?.spotAllocationStrategy ?? autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
          },
        },
        targetGroupArns: props.targetGroups ? props.targetGroups.map((t) => t.targetGroupArn) : spotCfn.targetGroupArns,
        healthCheckType: Lazy.string({ produce: () => spotCfn.healthCheckType ?? 'EC2' }),
        healthCheckGracePeriod: spotCfn.healthCheckGracePeriod,
        capacityRebalance: true,
        metricsCollection: [{ granularity: '1Minute' }],
      });
      this.spareGroup.addResourceDependency(spotCfn);
      // The controller steers the subnets; CloudFormation only writes them again when the template's change.
      acknowledgeNagFindings(this.spareGroup, [
        {
          rule: 'AwsSolutions-AS3',
          reason: 'The spare group is resized and steered only by its controller, which logs every decision with its reason and emits SpareSpotReplicas; its launch failures reach the controller through the activity scan',
        },
        {
          rule: 'AwsSolutions-EC26',
          reason: "The group launches from the fleet's MixedInstancesPolicy launch template whose only EBS volume is the encrypted gp3 root volume; the rule cannot follow a MixedInstancesPolicy reference and reports an error instead",
        },
      ]);
    }
    this.regionGroups = {
      region: stack.region,
      spotGroupName: fleet.autoScalingGroupName,
      fallbackGroupName: fallbackName,
      spareGroupName: spareName,
      subnets,
      onDemandBase: spec.onDemandBaseCapacity,
      maxCapacity: spec.maxCapacity,
      instanceTypes: spec.instanceTypes,
    };
    if (!controller) return;

    // --- state: one Standard SSM parameter ---
    const stateParameter = new ssm.StringParameter(this, 'State', {
      description: `State of the on-demand fallback controller of ${fleet.node.path} (written by the controller; the seed {} means "no state yet")`,
      stringValue: '{}',
      tier: ssm.ParameterTier.STANDARD,
    });

    // --- the controller ---
    const logGroup = new logs.LogGroup(this, 'LogGroup', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `On-demand fallback controller of ${fleet.node.path}: resizes its fallback and spare groups, steers the spare groups' subnets`,
    });
    logGroup.grantWrite(role);
    this.stateParameter = stateParameter;
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
      environment: {
        ...renderFallbackEnvironment({
          spotGroupName: fleet.autoScalingGroupName,
          fallbackGroupName: fallbackName,
          stateParameterName: stateParameter.parameterName,
          onDemandBase: spec.onDemandBaseCapacity,
          maxCapacity: spec.maxCapacity,
          instanceTypes: spec.instanceTypes,
          lookbackSeconds: lookback.toSeconds(),
          policy: props.policy ?? {},
          steerInstanceTypes: props.steerInstanceTypes === true && spareName !== undefined,
        }),
        // Tokens (values known at deploy) are passed as such, not as their placeholder numbers.
        [FALLBACK_ENV.ON_DEMAND_BASE]: Tokenization.stringifyNumber(spec.onDemandBaseCapacity),
        [FALLBACK_ENV.MAX_CAPACITY]: Tokenization.stringifyNumber(spec.maxCapacity),
        ...(spareName !== undefined
          ? {
            [FALLBACK_ENV.SPARE_GROUP_NAME]: spareName,
            // A list, not an object: the zone names may be tokens (environment-agnostic stacks).
            [FALLBACK_ENV.SUBNETS]: stack.toJsonString(subnets),
          }
          : {}),
        ...(otherRegions.length > 0 ? { [FALLBACK_ENV.REGIONS]: stack.toJsonString([this.regionGroups, ...otherRegions].map(renderRegion)) } : {}),
        POWERTOOLS_SERVICE_NAME: FALLBACK_SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: FALLBACK_METRICS_NAMESPACE,
      },
    });
    // Stale events are harmless (deduplicated) but useless: drop them after a while.
    this.function = fn;
    fn.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.minutes(15) });

    // Least privilege: the only writes are the sizes of the groups it owns (fallback and spare, in every region
    // it drives), the spare groups' subnets, and the state parameter.
    const groupArn = (region: string, name: string): string =>
      stack.formatArn({ service: 'autoscaling', region, resource: 'autoScalingGroup', resourceName: `*:autoScalingGroupName/${name}`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const all = [this.regionGroups, ...otherRegions];
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ResizeItsOwnGroupsOnly',
      actions: ['autoscaling:SetDesiredCapacity'],
      resources: all.flatMap((r) => [r === this.regionGroups ? this.fallbackGroupArn : groupArn(r.region, r.fallbackGroupName), ...(r.spareGroupName ? [groupArn(r.region, r.spareGroupName)] : [])]),
    }));
    const spareArns = all.filter((r) => r.spareGroupName).map((r) => groupArn(r.region, r.spareGroupName!));
    if (spareArns.length > 0) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({
        sid: 'SteerItsSpareGroupsOnly',
        actions: ['autoscaling:UpdateAutoScalingGroup'],
        resources: spareArns,
      }));
    }
    if (props.steerInstanceTypes === true && spareName !== undefined) {
      // Auto Scaling validates that the caller of UpdateAutoScalingGroup with a launch template may launch from it.
      role.addToPrincipalPolicy(new iam.PolicyStatement({
        sid: 'LaunchFromTheFleetTemplateOnly',
        actions: ['ec2:RunInstances'],
        resources: ['*'],
        conditions: { ArnLike: { 'ec2:LaunchTemplate': stack.formatArn({ service: 'ec2', resource: 'launch-template', resourceName: fleet.launchTemplate.launchTemplateId ?? '*' }) } },
      }));
      role.addToPrincipalPolicy(new iam.PolicyStatement({
        sid: 'PassTheFleetInstanceRoleOnly',
        actions: ['iam:PassRole'],
        resources: [fleet.role.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
      }));
    }
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ReadAndWriteItsStateOnly',
      actions: ['ssm:GetParameter', 'ssm:PutParameter'],
      resources: [stateParameter.parameterArn],
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'DescribeActionsCannotBeScoped',
      actions: ['autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeScalingActivities', 'ec2:DescribeInstances'],
      resources: ['*'],
    }));
    acknowledgeNagFindings(role, [
      {
        rule: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'autoscaling:DescribeAutoScalingGroups, autoscaling:DescribeScalingActivities and ec2:DescribeInstances support no resource-level permissions; the only writes are scoped to the groups the controller owns and the state parameter (with steerInstanceTypes, ec2:RunInstances is conditioned on the fleet launch template)',
      },
      ...[this.fallbackGroupArn, ...all.filter((r) => r !== this.regionGroups).map((r) => groupArn(r.region, r.fallbackGroupName)), ...spareArns].map((arn) => ({
        rule: `AwsSolutions-IAM5[Resource::${nagResourceName(stack.resolve(arn))}]`,
        reason: "An Auto Scaling group ARN holds the group's generated UUID, unknown at synth, so the ARN has a * there; it is pinned to one group the controller owns by autoScalingGroupName",
      })),
    ]);

    // --- triggers ---
    const target = new targets.LambdaFunction(fn, { retryAttempts: 2, maxEventAge: Duration.minutes(15) });
    this.scheduleRule = new events.Rule(this, 'ScheduleRule', {
      description: `Runs the on-demand fallback controller (${this.node.path})`,
      schedule: events.Schedule.rate(interval),
      targets: [target],
    });
    if (props.interruptionHandler) {
      props.interruptionHandler.onLaunchUnsuccessful(target);
      props.interruptionHandler.spotWarningRule.addTarget(target);
    } else {
      this.launchUnsuccessfulRule = new events.Rule(this, 'LaunchUnsuccessfulRule', {
        description: `Launch failures of the fleet, fallback and spare groups (${this.node.path})`,
        eventPattern: {
          source: [INTERRUPTION_EVENTS.LAUNCH_UNSUCCESSFUL.source],
          detailType: [INTERRUPTION_EVENTS.LAUNCH_UNSUCCESSFUL.detailType],
          detail: { AutoScalingGroupName: [fleet.autoScalingGroupName, fallbackName, ...(spareName !== undefined ? [spareName] : [])] },
        },
        targets: [target],
      });
      // aws.ec2 events carry only an instance id, so the rule cannot be scoped to the group: the controller filters.
      this.spotWarningRule = new events.Rule(this, 'SpotWarningRule', {
        description: `EC2 spot interruption warnings (${this.node.path})`,
        eventPattern: {
          source: [INTERRUPTION_EVENTS.SPOT_WARNING.source],
          detailType: [INTERRUPTION_EVENTS.SPOT_WARNING.detailType],
        },
        targets: [target],
      });
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

/** `name` + `suffix`, the name shortened so the whole fits an Auto Scaling group name. */
function truncateName(name: string, suffix: string): string {
  if (Token.isUnresolved(name)) return `${name}${suffix}`;
  return `${name.slice(0, MAX_GROUP_NAME_LENGTH - suffix.length)}${suffix}`;
}
