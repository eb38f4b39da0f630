import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Annotations, Duration, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { InferenceLoadBalancer, InferenceLoadBalancerOptions, InferenceLoadBalancerType } from './inference-load-balancer';
import { PRICE_CATALOG } from '../../lib/catalog/prices';
import { Cloud } from '../../lib/spec/clouds';
import { noticeServingSeconds } from '../../lib/spec/notice';
import { FleetSpecError } from '../../lib/spec/errors';
import { checkEnumValue } from '../../lib/spec/rules';
import { FleetDashboard, FleetDashboardOptions, IFleetDashboardSource, MONITORING_PACKAGE_INSTALL } from './fleet-dashboard';
import { InterruptionDrill } from './interruption-drill';
import { InterruptionHandler } from './interruption-handler';
import { OnDemandFallback, OnDemandFallbackOptions } from './on-demand-fallback';
import { SpotFleet, SpotFleetProps } from './spot-fleet';

/** Props of {@link SpotInferenceService}: the fleet's props plus the load balancer's options. */
export interface SpotInferenceServiceProps extends SpotFleetProps, InferenceLoadBalancerOptions {
  /**
   * Attach an {@link InterruptionHandler}: EventBridge rules for spot warnings, rebalance recommendations,
   * terminate lifecycle actions and scheduled changes, an encrypted queue and the drain Lambda that
   * deregisters doomed instances and completes the lifecycle action once they have drained.
   * @default true
   */
  readonly interruptionHandling?: boolean;
  /**
   * Attach an {@link OnDemandFallback}: an on-demand-only group on the fleet's launch template and target
   * groups, resized by a controller when spot launches fail or spot is preempted, and back to 0 once spot
   * replacements are ready. Skipped for a fleet whose maxCapacity equals its on-demand base.
   * @default true
   */
  readonly onDemandFallback?: boolean;
  /** Tuning of the on-demand fallback. @default - see OnDemandFallbackOptions */
  readonly onDemandFallbackOptions?: OnDemandFallbackOptions;
  /**
   * Create a CloudWatch dashboard with alarms: spot vs on-demand in service, interruptions, drains, fallback
   * replicas, healthy targets, 5xx, latency and the estimated cost per hour. It is built with the optional peer
   * `cdk-monitoring-constructs`: left unset, the dashboard is built when that package is installed and skipped
   * with a synth warning naming the install command when it is not; `true` requires it (synth fails without it).
   * @default - a dashboard when cdk-monitoring-constructs is installed, else none and a warning
   */
  readonly dashboard?: boolean;
  /**
   * Options of the dashboard.
   * @default - prices of the first instance type the package's price catalogue knows (no cost widget if none)
   */
  readonly dashboardOptions?: FleetDashboardOptions;
  /**
   * Create FIS experiment templates that interrupt one of the fleet's spot instances and make its launches
   * fail for lack of capacity, stopped by the no-healthy-targets alarm. Templates cost nothing until run.
   * @default true
   */
  readonly interruptionDrill?: boolean;
}

/** Seconds the drain Lambda keeps clear of the end of the notice. */
const HANDLER_SAFETY_MARGIN_SECONDS = 10;

/**
 * An inference API on spot capacity: a {@link SpotFleet} behind an {@link InferenceLoadBalancer},
 * with the drain agent wired to the load balancer's health check. Attach an interruption handler or
 * an on-demand fallback through `fleet`, `autoScalingGroupName` and `targetGroups`.
 */
export class SpotInferenceService extends Construct implements ec2.IConnectable, iam.IGrantable, IFleetDashboardSource {
  /** The spot fleet. */
  public readonly fleet: SpotFleet;
  /** The load balancer in front of it. */
  public readonly loadBalancer: InferenceLoadBalancer;
  /** The workers' security group(s). */
  public readonly connections: ec2.Connections;
  /** The workers' role: grant it access to the model, queues, etc. */
  public readonly grantPrincipal: iam.IPrincipal;
  /** The Auto Scaling group. */
  public readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  /** Name of the Auto Scaling group (known at synth). */
  public readonly autoScalingGroupName: string;
  /** Target groups the group's instances are registered in (for a drain handler to deregister from). */
  public readonly targetGroups: elbv2.ITargetGroup[];
  /** The ALB target group, with an application load balancer. */
  public readonly applicationTargetGroup?: elbv2.IApplicationTargetGroup;
  /** The NLB target group, with a network load balancer. */
  public readonly networkTargetGroup?: elbv2.INetworkTargetGroup;
  /** ARNs of `targetGroups`. */
  public readonly targetGroupArns: string[];
  /** Name of the terminate lifecycle hook on the group. */
  public readonly terminationHookName: string;
  /** URL clients call. */
  public readonly url: string;
  /** The interruption pipeline, unless `interruptionHandling` is false. */
  public readonly interruptionHandler?: InterruptionHandler;
  /** The on-demand fallback, unless `onDemandFallback` is false or the fleet is all on-demand. */
  public readonly onDemandFallback?: OnDemandFallback;
  /** The dashboard and its alarms, unless `dashboard` is false. */
  public readonly dashboard?: FleetDashboard;
  /** The FIS drill, unless `interruptionDrill` is false. */
  public readonly interruptionDrill?: InterruptionDrill;

  constructor(scope: Construct, id: string, props: SpotInferenceServiceProps) {
    super(scope, id);
    const lbType = checkEnumValue('loadBalancerType', props.loadBalancerType, 'InferenceLoadBalancerType', InferenceLoadBalancerType, { isUnresolved: Token.isUnresolved });
    if (lbType.length > 0) throw new FleetSpecError(lbType, this.node.path);
    this.fleet = new SpotFleet(this, 'Fleet', props);
    this.loadBalancer = new InferenceLoadBalancer(this, 'LoadBalancer', {
      fleet: this.fleet,
      loadBalancerType: props.loadBalancerType,
      internetFacing: props.internetFacing,
      loadBalancerSubnets: props.loadBalancerSubnets,
      certificate: props.certificate,
      allowedClientCidrs: props.allowedClientCidrs,
      idleTimeout: props.idleTimeout,
      accessLogsBucket: props.accessLogsBucket,
      accessLogsPrefix: props.accessLogsPrefix,
      deletionProtection: props.deletionProtection,
    });
    this.connections = this.fleet.connections;
    this.grantPrincipal = this.fleet.grantPrincipal;
    this.autoScalingGroup = this.fleet.autoScalingGroup;
    this.autoScalingGroupName = this.fleet.autoScalingGroupName;
    this.targetGroups = [this.loadBalancer.targetGroup];
    this.applicationTargetGroup = this.loadBalancer.applicationTargetGroup;
    this.networkTargetGroup = this.loadBalancer.networkTargetGroup;
    this.targetGroupArns = this.targetGroups.map((t) => t.targetGroupArn);
    this.terminationHookName = this.fleet.terminationHookName;
    this.url = this.loadBalancer.url;

    if (props.interruptionHandling ?? true) {
      const spec = this.fleet.spec;
      // The handler waits for the targets to finish draining: the load balancer's deregistration delay plus
      // the server's own drain, inside the notice (the spec's validation already holds the sum to it).
      const waitSeconds = Math.min(
        spec.deregistrationDelaySeconds + spec.drainBudgetSeconds,
        spec.noticeSeconds - HANDLER_SAFETY_MARGIN_SECONDS,
      );
      this.interruptionHandler = new InterruptionHandler(this, 'Interruptions', {
        autoScalingGroup: this.autoScalingGroup,
        targetGroups: this.targetGroups,
        terminateLifecycleHookName: this.terminationHookName,
        drainBudget: Duration.seconds(waitSeconds),
        safetyMargin: Duration.seconds(HANDLER_SAFETY_MARGIN_SECONDS),
        // The agent keeps the instance healthy until its drain must start; the handler must not deregister it sooner.
        serveThroughNotice: Duration.seconds(agentServesThrough(props) ? handlerServingSeconds(spec) : 0),
        // With capacity rebalancing on, the group already launches a replacement on a rebalance
        // recommendation; marking the instance unhealthy as well would launch two.
        markUnhealthyOnRebalance: !(props.capacityRebalance ?? true),
      });
    }

    if ((props.onDemandFallback ?? true) && OnDemandFallback.appliesTo(this.fleet)) {
      this.onDemandFallback = new OnDemandFallback(this, 'Fallback', {
        ...props.onDemandFallbackOptions,
        fleet: this.fleet,
        interruptionHandler: this.interruptionHandler,
        targetGroups: this.targetGroups,
      });
    }

    const wantsDashboard = props.dashboard ?? FleetDashboard.isAvailable();
    if (props.dashboard === undefined && !wantsDashboard) {
      Annotations.of(this).addWarningV2('spot-inference-constructs:dashboardSkipped',
        `no dashboard: the fleet dashboard and its alarms are built with cdk-monitoring-constructs, which is not installed; run ${MONITORING_PACKAGE_INSTALL} to get them, or set dashboard: false to silence this warning`);
    }
    if (wantsDashboard) {
      const options = props.dashboardOptions ?? {};
      this.dashboard = new FleetDashboard(this, 'Dashboard', {
        ...options,
        instanceType: options.instanceType ?? (options.spotUsdPerHour === undefined ? catalogedInstanceType(this.fleet.spec.instanceTypes) : undefined),
        interruptionHandler: options.interruptionHandler ?? this.interruptionHandler,
        fallbackReplicasMetric: options.fallbackReplicasMetric ?? this.onDemandFallback?.metricFallbackReplicas(),
        autoScalingGroup: this.autoScalingGroup,
        applicationTargetGroup: this.loadBalancer.applicationTargetGroup,
        networkTargetGroup: this.loadBalancer.networkTargetGroup,
        spotInstancesMetric: this.metricInServiceSpotInstances(),
        onDemandInstancesMetric: this.metricInServiceOnDemandInstances(),
      });
    }

    if (props.interruptionDrill ?? true) {
      this.interruptionDrill = new InterruptionDrill(this, 'Drill', {
        autoScalingGroup: this.autoScalingGroup,
        stopConditionAlarm: this.dashboard?.noHealthyTargetsAlarm,
        healthyTargetsMetric: this.dashboard ? undefined : this.metricHealthyTargets(),
      });
    }
  }

  /** Instances in service, spot and on-demand. */
  public metricInServiceInstances(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.fleet.metricInServiceInstances(props);
  }

  /** Spot instances in service (estimated from group metrics and the instances distribution). */
  public metricInServiceSpotInstances(props?: cloudwatch.MathExpressionOptions): cloudwatch.IMetric {
    return this.fleet.metricInServiceSpotInstances(props);
  }

  /** On-demand instances in service (estimated from group metrics and the instances distribution). */
  public metricInServiceOnDemandInstances(props?: cloudwatch.MathExpressionOptions): cloudwatch.IMetric {
    return this.fleet.metricInServiceOnDemandInstances(props);
  }

  /** Healthy targets behind the load balancer. */
  public metricHealthyTargets(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.loadBalancer.metricHealthyTargets(props);
  }
}

/**
 * Seconds the agent serves after the warning (`notice - drainBudget - the agent's 5 s margin`, 70 s with the
 * defaults), kept below the handler's `notice - safetyMargin` (which only a drain budget under 5 s reaches): there
 * the handler deregisters a moment before the agent's drain starts.
 */
function handlerServingSeconds(spec: { readonly drainBudgetSeconds: number; readonly noticeSeconds: number }): number {
  const serving = noticeServingSeconds({ cloud: Cloud.AWS, drainBudgetSeconds: spec.drainBudgetSeconds, noticeSeconds: spec.noticeSeconds });
  return Math.max(0, Math.min(serving, spec.noticeSeconds - HANDLER_SAFETY_MARGIN_SECONDS - 1));
}

/** Whether the instances run the spot-agent and it serves through the notice (both on by default). */
function agentServesThrough(props: SpotInferenceServiceProps): boolean {
  return props.agent?.enabled !== false && props.agent?.serveThroughNotice !== false;
}

/** The first of the fleet's instance types the price catalogue knows, for the dashboard's cost widget. */
function catalogedInstanceType(instanceTypes: readonly string[]): string | undefined {
  const known = new Set(PRICE_CATALOG.filter((p) => p.cloud === Cloud.AWS).map((p) => p.instanceType.toLowerCase()));
  return instanceTypes.find((t) => known.has(t.toLowerCase()));
}
