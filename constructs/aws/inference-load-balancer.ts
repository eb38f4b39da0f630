import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { SpotFleet } from './spot-fleet';

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
  /** The fleet the load balancer sends requests to. */
  readonly fleet: SpotFleet;
}

/**
 * A load balancer in front of a {@link SpotFleet}: a target group that probes the spec's health
 * check (on the agent's port in DrainMode.HEALTH), drains deregistered targets within the spot
 * notice, and a listener open only to the clients' CIDRs. The fleet's security group admits only
 * this load balancer, on the serving and health ports.
 */
export class InferenceLoadBalancer extends Construct implements ec2.IConnectable {
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
    const spec = fleet.spec;
    const type = props.loadBalancerType ?? InferenceLoadBalancerType.APPLICATION;
    const internetFacing = props.internetFacing ?? true;
    const cidrs = props.allowedClientCidrs ?? (internetFacing ? ['0.0.0.0/0'] : [fleet.vpc.vpcCidrBlock]);
    const idleTimeout = props.idleTimeout ?? Duration.seconds(120);

    const problems = new ProblemCollector();
    if (cidrs.length === 0) {
      problems.add(FleetSpecErrorCode.CLOUD_CONSTRAINT, 'allowedClientCidrs', 'allowedClientCidrs is empty, so no client could reach the service; list the CIDR blocks of your clients (e.g. ["10.0.0.0/8"]) or leave it out');
    }
    for (const c of cidrs) {
      if (!Token.isUnresolved(c) && !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(c) && !/^[0-9a-fA-F:]+\/\d{1,3}$/.test(c)) {
        problems.add(FleetSpecErrorCode.CLOUD_CONSTRAINT, 'allowedClientCidrs', `allowedClientCidrs has "${c}", which is not a CIDR block; write it like "203.0.113.0/24" or "2001:db8::/32"`);
      }
    }
    if (!idleTimeout.isUnresolved() && type === InferenceLoadBalancerType.APPLICATION && (idleTimeout.toSeconds() < 1 || idleTimeout.toSeconds() > 4000)) {
      problems.add(FleetSpecErrorCode.CLOUD_CONSTRAINT, 'idleTimeout', `idleTimeout (${idleTimeout.toSeconds()} s) must be from 1 s to 4000 s (ALB limit)`);
    }
    if (type === InferenceLoadBalancerType.NETWORK && props.idleTimeout !== undefined) {
      problems.add(FleetSpecErrorCode.CLOUD_CONSTRAINT, 'idleTimeout', 'idleTimeout applies to application load balancers only; leave it out with InferenceLoadBalancerType.NETWORK');
    }
    if (props.accessLogsBucket && Token.isUnresolved(Stack.of(this).region)) {
      problems.add(FleetSpecErrorCode.CLOUD_CONSTRAINT, 'accessLogsBucket', "accessLogsBucket needs the stack's region at synth (Elastic Load Balancing writes logs from a regional account named in the bucket policy), but the stack is environment-agnostic; set env (account and region) on the stack, or leave accessLogsBucket out");
    }
    problems.throwIfAny(this.node.path);

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: fleet.vpc,
      description: `Load balancer of ${fleet.node.path}: clients in, fleet out`,
      allowAllOutbound: false,
    });
    this.connections = new ec2.Connections({ securityGroups: [securityGroup] });
    const vpcSubnets = props.loadBalancerSubnets ?? { subnetType: internetFacing ? ec2.SubnetType.PUBLIC : ec2.SubnetType.PRIVATE_WITH_EGRESS };
    const healthCheck: elbv2.HealthCheck = {
      enabled: true,
      path: spec.healthCheck.path,
      port: String(fleet.healthCheckPort),
      interval: Duration.seconds(spec.healthCheck.intervalSeconds),
      timeout: Duration.seconds(spec.healthCheck.timeoutSeconds),
      healthyThresholdCount: spec.healthCheck.healthyThreshold,
      unhealthyThresholdCount: spec.healthCheck.unhealthyThreshold,
      healthyHttpCodes: '200',
    };
    const deregistrationDelay = Duration.seconds(spec.deregistrationDelaySeconds);
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
      const tg = new elbv2.ApplicationTargetGroup(this, 'TargetGroup', {
        vpc: fleet.vpc,
        port: fleet.servingPort,
        protocol: elbv2.ApplicationProtocol.HTTP,
        targetType: elbv2.TargetType.INSTANCE,
        healthCheck,
        deregistrationDelay,
        // Inference requests vary a lot in duration: send new ones to the least busy instance.
        loadBalancingAlgorithmType: elbv2.TargetGroupLoadBalancingAlgorithmType.LEAST_OUTSTANDING_REQUESTS,
      });
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
      tg.addTarget(fleet.autoScalingGroup);
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
      tg.addTarget(fleet.autoScalingGroup);
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
    // The workers admit this load balancer only: serving port for requests, health port for probes.
    this.connections.allowTo(fleet, ec2.Port.tcp(fleet.servingPort), 'load balancer to the inference server');
    if (fleet.healthCheckPort !== fleet.servingPort) {
      this.connections.allowTo(fleet, ec2.Port.tcp(fleet.healthCheckPort), 'load balancer health checks');
    }
    fleet.useLoadBalancerHealthChecks();

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
