import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { InferenceLoadBalancer, InferenceLoadBalancerOptions } from './inference-load-balancer';
import { InterruptionHandler } from './interruption-handler';
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
}

/** Seconds the drain Lambda keeps clear of the end of the notice. */
const HANDLER_SAFETY_MARGIN_SECONDS = 10;

/**
 * An inference API on spot capacity: a {@link SpotFleet} behind an {@link InferenceLoadBalancer},
 * with the drain agent wired to the load balancer's health check. Attach an interruption handler or
 * an on-demand fallback through `fleet`, `autoScalingGroupName` and `targetGroups`.
 */
export class SpotInferenceService extends Construct implements ec2.IConnectable, iam.IGrantable {
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
  /** ARNs of `targetGroups`. */
  public readonly targetGroupArns: string[];
  /** Name of the terminate lifecycle hook on the group. */
  public readonly terminationHookName: string;
  /** URL clients call. */
  public readonly url: string;
  /** The interruption pipeline, unless `interruptionHandling` is false. */
  public readonly interruptionHandler?: InterruptionHandler;

  constructor(scope: Construct, id: string, props: SpotInferenceServiceProps) {
    super(scope, id);
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
        // With capacity rebalancing on, the group already launches a replacement on a rebalance
        // recommendation; marking the instance unhealthy as well would launch two.
        markUnhealthyOnRebalance: !(props.capacityRebalance ?? true),
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
