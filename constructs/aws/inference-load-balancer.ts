import { Annotations, Duration, Stack, Token } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { ISpotFleet } from './fleet-interface';

/** Which kind of Elastic Load Balancer fronts the fleet. */
export enum InferenceLoadBalancerType {
  /** Application Load Balancer: HTTP(S), least-outstanding-requests routing. */
  APPLICATION = 'application',
  /** Network Load Balancer: TCP (or TLS with a certificate), for gRPC or non-HTTP servers. */
  NETWORK = 'network',
}

/** Options of {@link InferenceLoadBalancer} that do not name the fleet (reused by the pattern). */
export interface InferenceLoadBalancerOptions {
  /** Application or network load balancer. @default InferenceLoadBalancerType.APPLICATION */
  readonly loadBalancerType?: InferenceLoadBalancerType;
  /** Reachable from the internet. @default true */
  readonly internetFacing?: boolean;
  /**
   * Subnets of the load balancer.
   * @default - public subnets when internet-facing, private subnets otherwise
   */
  readonly loadBalancerSubnets?: ec2.SubnetSelection;
  /**
   * Certificate for an HTTPS (ALB) or TLS (NLB) listener on 443. With an ALB, port 80 then
   * redirects to HTTPS.
   * @default - no TLS; an HTTP (ALB) or TCP (NLB) listener on 80
   */
  readonly certificate?: acm.ICertificate;
  /**
   * CIDR blocks of the clients allowed to call the load balancer.
   * @default - ['0.0.0.0/0'] when internet-facing, the VPC's CIDR otherwise
   */
  readonly allowedClientCidrs?: string[];
  /**
   * Seconds an idle connection stays open (ALB). Inference responses can take long; keep this above
   * the slowest request.
   * @default Duration.seconds(120)
   */
  readonly idleTimeout?: Duration;
  /** Bucket for access logs. @default - no access logs */
  readonly accessLogsBucket?: s3.IBucket;
  /** Key prefix of the access logs. @default - none */
  readonly accessLogsPrefix?: string;
  /** Refuse deletion of the load balancer. @default false */
  readonly deletionProtection?: boolean;
}

/** Props of {@link InferenceLoadBalancer}. */
export interface InferenceLoadBalancerProps extends InferenceLoadBalancerOptions {
  /** The fleet the load balancer sends requests to: a `SpotFleet`, or `SpotFleet.fromAutoScalingGroup(...)`. */
  readonly fleet: ISpotFleet;
}

/** Props of {@link InferenceListenerTarget} (`InferenceLoadBalancer.attachToListener`). */
export interface InferenceListenerTargetProps {
  /** The fleet to route to: a `SpotFleet`, or `SpotFleet.fromAutoScalingGroup(...)`. */
  readonly fleet: ISpotFleet;
  /**
   * An existing Application Load Balancer listener: one of this app, or
   * `elbv2.ApplicationListener.fromApplicationListenerAttributes(...)` (its `securityGroup` is the load balancer's,
   * which the fleet then admits).
   */
  readonly listener: elbv2.IApplicationListener;
  /**
   * Priority of the listener rule that routes to the fleet (1 to 50000, unique on the listener). Give it with
   * `conditions`.
   * @default - no rule: the fleet becomes the listener's default action (only for a listener defined in this app)
   */
  readonly priority?: number;
  /**
   * Conditions of the listener rule (e.g. `elbv2.ListenerCondition.pathPatterns(['/v1/*'])`,
   * `elbv2.ListenerCondition.hostHeaders(['llm.example.com'])`). Give them with `priority`.
   * @default - no rule: the fleet becomes the listener's default action
   */
  readonly conditions?: elbv2.ListenerCondition[];
}

/**
 * The fleet behind an existing ALB listener: a target group with the fleet's health check (on the agent's port
 * and path in DrainMode.HEALTH) and its deregistration delay (inside the drain budget), the group registered in
 * it, a listener rule (or the default action) forwarding to it, and the fleet's security group opened to the
 * load balancer's security group only, on the serving and health ports.
 *
 * @example
 * const listener = elbv2.ApplicationListener.fromApplicationListenerAttributes(this, 'Listener', {
 *   listenerArn, securityGroup: ec2.SecurityGroup.fromSecurityGroupId(this, 'AlbSg', albSecurityGroupId),
 * });
 * InferenceLoadBalancer.attachToListener(this, 'Llm', {
 *   fleet, listener, priority: 10, conditions: [elbv2.ListenerCondition.pathPatterns(['/v1/*'])],
 * });
 */
export class InferenceListenerTarget extends Construct {
  /** The fleet's target group. */
  public readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** The listener rule, when `priority` and `conditions` were given. */
  public readonly listenerRule?: elbv2.ApplicationListenerRule;

  constructor(scope: Construct, id: string, props: InferenceListenerTargetProps) {
    super(scope, id);
    const { fleet, listener } = props;
    validateListenerTarget(props, this.node.path);
    this.targetGroup = fleetTargetGroup(this, fleet);
    if (props.priority !== undefined) {
      this.listenerRule = new elbv2.ApplicationListenerRule(this, 'Rule', {
        listener,
        priority: props.priority,
        conditions: props.conditions,
        action: elbv2.ListenerAction.forward([this.targetGroup]),
      });
    } else {
      (listener as elbv2.ApplicationListener).addTargetGroups(id, { targetGroups: [this.targetGroup] });
    }
    registerFleet(this, this.targetGroup, fleet);
    admitLoadBalancer(listener.connections, fleet);
  }

  /** Healthy targets of the target group (per minute, minimum). */
  public metricHealthyTargets(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.targetGroup.metrics.healthyHostCount({ statistic: cloudwatch.Stats.MINIMUM, period: Duration.minutes(1), ...props });
  }

  /** Unhealthy targets of the target group (per minute, maximum). */
  public metricUnhealthyTargets(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.targetGroup.metrics.unhealthyHostCount({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1), ...props });
  }
}

/**
 * A load balancer in front of a fleet ({@link ISpotFleet}): a target group that probes the fleet's health
 * check (on the agent's port in DrainMode.HEALTH), drains deregistered targets within the spot
 * notice, and a listener open only to the clients' CIDRs. The fleet's security group admits only
 * this load balancer, on the serving and health ports. To put the fleet behind a load balancer you
 * already have, use {@link InferenceLoadBalancer.attachToListener}.
 */
export class InferenceLoadBalancer extends Construct implements ec2.IConnectable {
  /**
   * Put the fleet behind an existing ALB listener, as a listener rule (`priority` + `conditions`) or as the
   * listener's default action, with the fleet's health check, deregistration delay and security-group rule.
   */
  public static attachToListener(scope: Construct, id: string, props: InferenceListenerTargetProps): InferenceListenerTarget {
    return new InferenceListenerTarget(scope, id, props);
  }

  /** The ALB, when `loadBalancerType` is APPLICATION. */
  public readonly applicationLoadBalancer?: elbv2.ApplicationLoadBalancer;
  /** The NLB, when `loadBalancerType` is NETWORK. */
  public readonly networkLoadBalancer?: elbv2.NetworkLoadBalancer;
  /** The load balancer, whichever kind. */
  public readonly loadBalancer: elbv2.BaseLoadBalancer;
  /** The target group the fleet's group registers in. */
  public readonly targetGroup: elbv2.ITargetGroup;
  /** The ALB target group, when APPLICATION. */
  public readonly applicationTargetGroup?: elbv2.ApplicationTargetGroup;
  /** The NLB target group, when NETWORK. */
  public readonly networkTargetGroup?: elbv2.NetworkTargetGroup;
  /** Security group(s) of the load balancer. */
  public readonly connections: ec2.Connections;
  /** DNS name of the load balancer. */
  public readonly loadBalancerDnsName: string;
  /** URL clients call (`http://` or `https://` + DNS name). */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: InferenceLoadBalancerProps) {
    super(scope, id);
    const fleet = props.fleet;
    const type = props.loadBalancerType ?? InferenceLoadBalancerType.APPLICATION;
    const internetFacing = props.internetFacing ?? true;
    const cidrs = props.allowedClientCidrs ?? (internetFacing ? ['0.0.0.0/0'] : [fleet.vpc.vpcCidrBlock]);
    const idleTimeout = props.idleTimeout ?? Duration.seconds(120);

    const problems = new ProblemCollector();
    if (cidrs.length === 0) {
      problems.add(FleetSpecErrorCode.CLIENT_CIDRS, 'allowedClientCidrs', 'allowedClientCidrs is empty, so no client could reach the service; list the CIDR blocks of your clients (e.g. ["10.0.0.0/8"]) or leave it out');
    }
    for (const c of cidrs) {
      if (!Token.isUnresolved(c) && !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(c) && !/^[0-9a-fA-F:]+\/\d{1,3}$/.test(c)) {
        problems.add(FleetSpecErrorCode.CLIENT_CIDRS, 'allowedClientCidrs', `allowedClientCidrs has "${c}", which is not a CIDR block; write it like "203.0.113.0/24" or "2001:db8::/32"`);
      }
    }
    if (!idleTimeout.isUnresolved() && type === InferenceLoadBalancerType.APPLICATION && (idleTimeout.toSeconds() < 1 || idleTimeout.toSeconds() > 4000)) {
      problems.add(FleetSpecErrorCode.AWS_LOAD_BALANCER_SETTINGS, 'idleTimeout', `idleTimeout (${idleTimeout.toSeconds()} s) must be from 1 s to 4000 s (ALB limit)`);
    }
    if (type === InferenceLoadBalancerType.NETWORK && props.idleTimeout !== undefined) {
      problems.add(FleetSpecErrorCode.AWS_LOAD_BALANCER_SETTINGS, 'idleTimeout', 'idleTimeout applies to application load balancers only; leave it out with InferenceLoadBalancerType.NETWORK');
    }
    if (props.accessLogsBucket && Token.isUnresolved(Stack.of(this).region)) {
      problems.add(FleetSpecErrorCode.AWS_LOAD_BALANCER_SETTINGS, 'accessLogsBucket', "accessLogsBucket needs the stack's region at synth (Elastic Load Balancing writes logs from a regional account named in the bucket policy), but the stack is environment-agnostic; set env (account and region) on the stack, or leave accessLogsBucket out");
    }
    problems.throwIfAny(this.node.path);

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: fleet.vpc,
      description: `Load balancer of ${fleet.node.path}: clients in, fleet out`,
      allowAllOutbound: false,
    });
    this.connections = new ec2.Connections({ securityGroups: [securityGroup] });
    const vpcSubnets = props.loadBalancerSubnets ?? { subnetType: internetFacing ? ec2.SubnetType.PUBLIC : ec2.SubnetType.PRIVATE_WITH_EGRESS };
    const healthCheck = fleetHealthCheck(fleet);
    const deregistrationDelay = Duration.seconds(fleet.deregistrationDelaySeconds);
    const listenerPorts = props.certificate ? (type === InferenceLoadBalancerType.APPLICATION ? [80, 443] : [443]) : [80];

    if (type === InferenceLoadBalancerType.APPLICATION) {
      const alb = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
        vpc: fleet.vpc,
        vpcSubnets,
        internetFacing,
        securityGroup,
        idleTimeout,
        dropInvalidHeaderFields: true,
        desyncMitigationMode: elbv2.DesyncMitigationMode.DEFENSIVE,
        deletionProtection: props.deletionProtection ?? false,
      });
      const tg = fleetTargetGroup(this, fleet);
      if (props.certificate) {
        alb.addListener('Https', {
          port: 443,
          protocol: elbv2.ApplicationProtocol.HTTPS,
          certificates: [props.certificate],
          sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
          open: false,
          defaultTargetGroups: [tg],
        });
        alb.addListener('Http', {
          port: 80,
          protocol: elbv2.ApplicationProtocol.HTTP,
          open: false,
          defaultAction: elbv2.ListenerAction.redirect({ protocol: 'HTTPS', port: '443', permanent: true }),
        });
      } else {
        alb.addListener('Http', { port: 80, protocol: elbv2.ApplicationProtocol.HTTP, open: false, defaultTargetGroups: [tg] });
      }
      if (props.accessLogsBucket) alb.logAccessLogs(props.accessLogsBucket, props.accessLogsPrefix);
      registerFleet(this, tg, fleet);
      this.applicationLoadBalancer = alb;
      this.applicationTargetGroup = tg;
      this.loadBalancer = alb;
      this.targetGroup = tg;
    } else {
      const nlb = new elbv2.NetworkLoadBalancer(this, 'LoadBalancer', {
        vpc: fleet.vpc,
        vpcSubnets,
        internetFacing,
        securityGroups: [securityGroup],
        deletionProtection: props.deletionProtection ?? false,
        crossZoneEnabled: true,
      });
      const tg = new elbv2.NetworkTargetGroup(this, 'TargetGroup', {
        vpc: fleet.vpc,
        port: fleet.servingPort,
        protocol: elbv2.Protocol.TCP,
        targetType: elbv2.TargetType.INSTANCE,
        healthCheck: { ...healthCheck, protocol: elbv2.Protocol.HTTP },
        deregistrationDelay,
        connectionTermination: true,
      });
      nlb.addListener(props.certificate ? 'Tls' : 'Tcp', {
        port: listenerPorts[0],
        protocol: props.certificate ? elbv2.Protocol.TLS : elbv2.Protocol.TCP,
        ...(props.certificate ? { certificates: [props.certificate], sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS } : {}),
        defaultTargetGroups: [tg],
      });
      if (props.accessLogsBucket) nlb.logAccessLogs(props.accessLogsBucket, props.accessLogsPrefix);
      registerFleet(this, tg, fleet);
      this.networkLoadBalancer = nlb;
      this.networkTargetGroup = tg;
      this.loadBalancer = nlb;
      this.targetGroup = tg;
    }

    // Clients in, only on the listener ports.
    for (const cidr of cidrs) {
      const peer = cidr.includes(':') ? ec2.Peer.ipv6(cidr) : ec2.Peer.ipv4(cidr);
      for (const port of listenerPorts) {
        securityGroup.addIngressRule(peer, ec2.Port.tcp(port), `clients (${cidr}) to the listener on ${port}`);
      }
    }
    admitLoadBalancer(this.connections, fleet);

    this.loadBalancerDnsName = this.loadBalancer.loadBalancerDnsName;
    const scheme = props.certificate ? 'https' : 'http';
    this.url = `${scheme}://${this.loadBalancerDnsName}`;
  }

  /** Healthy targets of the target group (per minute, minimum). */
  public metricHealthyTargets(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    if (this.applicationTargetGroup) {
      return this.applicationTargetGroup.metrics.healthyHostCount({ statistic: cloudwatch.Stats.MINIMUM, period: Duration.minutes(1), ...props });
    }
    return this.networkTargetGroup!.metrics.healthyHostCount({ statistic: cloudwatch.Stats.MINIMUM, period: Duration.minutes(1), ...props });
  }

  /** Unhealthy targets of the target group (per minute, maximum). */
  public metricUnhealthyTargets(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    if (this.applicationTargetGroup) {
      return this.applicationTargetGroup.metrics.unhealthyHostCount({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1), ...props });
    }
    return this.networkTargetGroup!.metrics.unHealthyHostCount({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1), ...props });
  }
}

/** The fleet's health check as an Elastic Load Balancing one (HTTP 200 on its path and port). */
function fleetHealthCheck(fleet: ISpotFleet): elbv2.HealthCheck {
  const hc = fleet.loadBalancerHealthCheck;
  return {
    enabled: true,
    path: hc.path,
    port: Token.isUnresolved(hc.port) ? Token.asString(hc.port) : String(hc.port),
    interval: Duration.seconds(hc.intervalSeconds),
    timeout: Duration.seconds(hc.timeoutSeconds),
    healthyThresholdCount: hc.healthyThreshold,
    unhealthyThresholdCount: hc.unhealthyThreshold,
    healthyHttpCodes: '200',
  };
}

/** An ALB target group for the fleet: its serving port, health check and deregistration delay. */
function fleetTargetGroup(scope: Construct, fleet: ISpotFleet): elbv2.ApplicationTargetGroup {
  return new elbv2.ApplicationTargetGroup(scope, 'TargetGroup', {
    vpc: fleet.vpc,
    port: fleet.servingPort,
    protocol: elbv2.ApplicationProtocol.HTTP,
    targetType: elbv2.TargetType.INSTANCE,
    healthCheck: fleetHealthCheck(fleet),
    // Inside the drain budget: the fleet's spec (or import) holds deregistration delay + drain budget to the notice.
    deregistrationDelay: Duration.seconds(fleet.deregistrationDelaySeconds),
    // Inference requests vary a lot in duration: send new ones to the least busy instance.
    loadBalancingAlgorithmType: elbv2.TargetGroupLoadBalancingAlgorithmType.LEAST_OUTSTANDING_REQUESTS,
  });
}

/**
 * Register the fleet's group in the target group and switch it to ELB health checks. A group defined outside
 * this app cannot be told from here: say how to attach it.
 */
function registerFleet(scope: Construct, tg: elbv2.ApplicationTargetGroup | elbv2.NetworkTargetGroup, fleet: ISpotFleet): void {
  const asg = fleet.autoScalingGroup;
  if (asg instanceof autoscaling.AutoScalingGroup) {
    if (tg instanceof elbv2.ApplicationTargetGroup) tg.addTarget(asg);
    else tg.addTarget(asg);
  } else {
    Annotations.of(scope).addWarningV2(
      'spot-inference:attach-target-group',
      `The group ${fleet.autoScalingGroupName} is defined outside this app, so it is not registered in the target group here: attach it where the group is defined (TargetGroupARNs), or run aws autoscaling attach-traffic-sources --auto-scaling-group-name <group> --traffic-sources Identifier=<targetGroupArn>`,
    );
  }
  fleet.useLoadBalancerHealthChecks();
}

/** The workers admit this load balancer only: serving port for requests, health port for probes. */
function admitLoadBalancer(lb: ec2.Connections, fleet: ISpotFleet): void {
  lb.allowTo(fleet, ec2.Port.tcp(fleet.servingPort), 'load balancer to the inference server');
  if (fleet.healthCheckPort !== fleet.servingPort) {
    lb.allowTo(fleet, ec2.Port.tcp(fleet.healthCheckPort), 'load balancer health checks');
  }
}

function validateListenerTarget(props: InferenceListenerTargetProps, scope: string): void {
  const v = new ProblemCollector();
  const C = FleetSpecErrorCode;
  const { priority, conditions } = props;
  if (priority !== undefined && !Token.isUnresolved(priority) && !(Number.isInteger(priority) && priority >= 1 && priority <= 50000)) {
    v.add(C.AWS_LISTENER_RULE, 'priority', `priority (${priority}) must be a whole number from 1 to 50000 (ALB listener rule limit), unique on the listener`);
  }
  if (priority !== undefined && (conditions === undefined || conditions.length === 0)) {
    v.add(C.AWS_LISTENER_RULE, 'conditions', `priority (${priority}) is set but conditions is ${conditions === undefined ? 'not' : 'empty'}; a listener rule needs at least one condition, e.g. [elbv2.ListenerCondition.pathPatterns(['/v1/*'])], or leave both out to make the fleet the listener's default action`);
  }
  if (priority === undefined && conditions !== undefined) {
    v.add(C.AWS_LISTENER_RULE, 'priority', 'conditions is set but priority is not; give the listener rule a priority (1-50000, unique on the listener), or leave conditions out to make the fleet the default action');
  }
  if (priority === undefined && conditions === undefined && !(props.listener instanceof elbv2.ApplicationListener)) {
    v.add(
      C.AWS_LISTENER_RULE,
      'priority',
      `listener (${props.listener.node.path}) is imported, and its default action belongs to the stack that defines it; give priority and conditions to route to the fleet with a listener rule, or attach to a listener defined in this app`,
    );
  }
  v.throwIfAny(scope);
}
