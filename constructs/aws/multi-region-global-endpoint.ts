import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as globalaccelerator from 'aws-cdk-lib/aws-globalaccelerator';
import * as endpoints from 'aws-cdk-lib/aws-globalaccelerator-endpoints';
import { Construct } from 'constructs';
import { Cloud } from '../../lib/spec/clouds';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { GLOBAL_LAYER_DEFAULTS, validateGlobalRouting, validateRegionList } from '../../lib/spec/global-routing';
import { InferenceLoadBalancer } from './inference-load-balancer';
import { SpotFleet } from './spot-fleet';

/**
 * The only region whose API manages accelerators ("you must specify the US West (Oregon) Region to create,
 * update, or otherwise work with accelerators", Global Accelerator API reference, CreateAccelerator): the stack
 * holding a {@link GlobalAcceleratorEndpoint} must be deployed there.
 */
export const GLOBAL_ACCELERATOR_HOME_REGION = 'us-west-2';

/** AWS region names: `us-east-1`, `ap-southeast-2`, `us-gov-west-1`. */
export const AWS_REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** One regional fleet behind the accelerator. */
export interface GlobalAcceleratorRegion {
  /** The region's fleet (its spec gives the health check and the drain budget the timing rule checks). */
  readonly fleet: SpotFleet;
  /** The fleet's load balancer (an ALB or NLB): the endpoint of the region's endpoint group. */
  readonly loadBalancer: InferenceLoadBalancer;
  /**
   * Share of the traffic Global Accelerator would route to this region (the nearest healthy one to each client)
   * that it does route there, 0-100. A region at 0 takes traffic only in a failover (Global Accelerator ignores
   * dials when it fails over).
   * @default 100
   */
  readonly trafficDialPercentage?: number;
}

/** Props of {@link GlobalAcceleratorEndpoint}. */
export interface GlobalAcceleratorEndpointProps {
  /** The regional fleets, one per region. */
  readonly regions: GlobalAcceleratorRegion[];
  /** Name of the accelerator. @default - the construct's path */
  readonly acceleratorName?: string;
  /**
   * Ports the listener accepts (the load balancers' listener ports: 80, or 443 with a certificate).
   * @default [80]
   */
  readonly listenerPorts?: number[];
  /**
   * How often Global Accelerator checks each endpoint: 10 or 30 seconds. For ALB and NLB endpoints it reads the
   * load balancer's target-group health (the agent's health path) at this interval; the threshold below applies
   * to EC2 instance and Elastic IP endpoints only. Part of the timing rule.
   * @default Duration.seconds(10)
   */
  readonly globalHealthCheckInterval?: Duration;
  /**
   * Consecutive failed checks before an EC2 instance or Elastic IP endpoint is unhealthy, 1-10 (load balancer
   * endpoints use the target group's `unhealthyThreshold`).
   * @default 2
   */
  readonly globalHealthCheckThreshold?: number;
  /**
   * Forward the client's IP address to the load balancer. Global Accelerator then reaches an internal ALB
   * through network interfaces in its subnets, so the ALB needs no public address.
   * @default true
   */
  readonly preserveClientIp?: boolean;
}

/**
 * AWS Global Accelerator in front of regional spot fleets: an accelerator (two static anycast IPv4 addresses),
 * a TCP listener with client affinity NONE (every new connection goes to the nearest healthy region, so a
 * failover moves clients at once), and one endpoint group per region whose endpoint is the region's load
 * balancer, with a health check on the agent's health path and port and a traffic dial.
 *
 * Synth refuses settings where the failover (the target group's interval x unhealthy threshold + Global
 * Accelerator's interval) plus the fleet's drain budget does not fit the 120 s spot notice
 * (`lib/spec/global-routing.ts`).
 *
 * Deploy the stack holding it in us-west-2 ({@link GLOBAL_ACCELERATOR_HOME_REGION}); the load balancers live in
 * their own regions' stacks and reach it through `crossRegionReferences`.
 */
export class GlobalAcceleratorEndpoint extends Construct {
  /** The accelerator. */
  public readonly accelerator: globalaccelerator.Accelerator;
  /** The listener. */
  public readonly listener: globalaccelerator.Listener;
  /** Endpoint groups by region. */
  public readonly endpointGroups: Record<string, globalaccelerator.EndpointGroup>;
  /** DNS name clients call (resolves to the accelerator's static IP addresses). */
  public readonly dnsName: string;
  /** Seconds from a region's notice until no new request enters it, per region (the timing rule's failover). */
  public readonly failoverSeconds: Record<string, number>;

  constructor(scope: Construct, id: string, props: GlobalAcceleratorEndpointProps) {
    super(scope, id);
    const interval = props.globalHealthCheckInterval ?? Duration.seconds(GLOBAL_LAYER_DEFAULTS[Cloud.AWS].globalIntervalSeconds);
    const threshold = props.globalHealthCheckThreshold ?? 2;
    const ports = props.listenerPorts ?? [80];
    const stackRegion = Stack.of(this).region;
    const regionOf = (r: GlobalAcceleratorRegion) => Stack.of(r.fleet).region;

    const v = new ProblemCollector();
    const C = FleetSpecErrorCode;
    if (!Token.isUnresolved(stackRegion) && stackRegion !== GLOBAL_ACCELERATOR_HOME_REGION) {
      v.add(C.AWS_GLOBAL_ACCELERATOR, 'stack region', `the stack of ${this.node.path} is in ${stackRegion}, but Global Accelerator is managed from ${GLOBAL_ACCELERATOR_HOME_REGION} only; put it in a stack with env.region '${GLOBAL_ACCELERATOR_HOME_REGION}'`);
    }
    const unresolvedRegions = props.regions.filter((r) => Token.isUnresolved(regionOf(r)));
    if (unresolvedRegions.length > 0) {
      v.add(C.AWS_STACK_ENVIRONMENT, 'regions', `the fleets ${unresolvedRegions.map((r) => r.fleet.node.path).join(', ')} are in environment-agnostic stacks; give each regional stack env (account and region) so each endpoint group names its region`);
    }
    v.addAll(validateRegionList(props.regions.map((r) => ({ region: regionOf(r), trafficDialPercentage: r.trafficDialPercentage })), {
      isUnresolved: (x) => Token.isUnresolved(x),
      regionPattern: AWS_REGION_PATTERN,
    }));
    if (!interval.isUnresolved() && ![10, 30].includes(interval.toSeconds())) {
      v.add(C.AWS_GLOBAL_ACCELERATOR, 'globalHealthCheckInterval', `globalHealthCheckInterval (${interval.toSeconds()} s) must be 10 or 30 seconds (Global Accelerator's two intervals); use Duration.seconds(10) for the fastest failover`);
    }
    if (!Token.isUnresolved(threshold) && !(Number.isInteger(threshold) && threshold >= 1 && threshold <= 10)) {
      v.add(C.AWS_GLOBAL_ACCELERATOR, 'globalHealthCheckThreshold', `globalHealthCheckThreshold (${threshold}) must be a whole number from 1 to 10 (Global Accelerator's limit); use e.g. 2`);
    }
    if (ports.length === 0 || ports.some((p) => !Token.isUnresolved(p) && !(Number.isInteger(p) && p >= 1 && p <= 65535))) {
      v.add(C.PORT_RANGE, 'listenerPorts', `listenerPorts (${ports.join(', ') || 'empty'}) must list 1 to 10 ports from 1 to 65535: the ports of the load balancers' listeners, e.g. [80] or [443]`);
    }
    // Client IP preservation (Global Accelerator developer guide, "How to enable client IP address preservation" and
    // "Requirements for endpoints with client IP address preservation"): always on for internal ALBs, not
    // available for NLBs with TLS listeners.
    const preserve = props.preserveClientIp ?? true;
    for (const r of props.regions) {
      const scheme = (r.loadBalancer.loadBalancer.node.defaultChild as elbv2.CfnLoadBalancer).scheme;
      if (!preserve && r.loadBalancer.applicationLoadBalancer && scheme === 'internal') {
        v.add(C.AWS_GLOBAL_ACCELERATOR, 'preserveClientIp', `preserveClientIp is false, but the ALB of ${r.fleet.node.path} is internal, and Global Accelerator always preserves client addresses for internal ALBs (it reaches them through its network interfaces in the VPC); leave preserveClientIp out, or make the ALB internet-facing`);
      }
      if (preserve && r.loadBalancer.networkLoadBalancer && r.loadBalancer.networkLoadBalancer.node.findAll().some((c) => c instanceof elbv2.CfnListener && c.protocol === 'TLS')) {
        v.add(C.AWS_GLOBAL_ACCELERATOR, 'preserveClientIp', `the NLB of ${r.fleet.node.path} has a TLS listener, and Global Accelerator cannot preserve client addresses for NLBs with TLS listeners; set preserveClientIp: false, or use an ALB`);
      }
    }
    this.failoverSeconds = {};
    if (!interval.isUnresolved()) {
      for (const r of props.regions) {
        const hc = r.fleet.spec.healthCheck;
        const region = regionOf(r);
        const timing = {
          cloud: Cloud.AWS,
          globalLayerName: GLOBAL_LAYER_DEFAULTS[Cloud.AWS].name,
          regionalIntervalSeconds: hc.intervalSeconds,
          regionalUnhealthyThreshold: hc.unhealthyThreshold,
          // Load balancer endpoints: Global Accelerator reads the target group's state once per interval.
          globalIntervalSeconds: interval.toSeconds(),
          globalUnhealthyThreshold: GLOBAL_LAYER_DEFAULTS[Cloud.AWS].globalUnhealthyThreshold,
          drainBudgetSeconds: r.fleet.spec.drainBudgetSeconds,
          props: {
            regionalInterval: `${region}: healthCheck.intervalSeconds`,
            regionalThreshold: 'healthCheck.unhealthyThreshold',
            globalInterval: 'globalHealthCheckInterval',
            globalThreshold: 'one read of the load balancer state',
          },
        };
        v.addAll(validateGlobalRouting(timing, { isUnresolved: (x) => Token.isUnresolved(x) }));
        if (!Token.isUnresolved(hc.intervalSeconds) && !Token.isUnresolved(hc.unhealthyThreshold)) {
          this.failoverSeconds[region] = hc.intervalSeconds * hc.unhealthyThreshold + interval.toSeconds();
        }
      }
    }
    v.throwIfAny(this.node.path);

    this.accelerator = new globalaccelerator.Accelerator(this, 'Accelerator', {
      acceleratorName: props.acceleratorName ?? this.node.path.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 64),
      enabled: true,
      ipAddressType: globalaccelerator.IpAddressType.IPV4,
    });
    this.listener = this.accelerator.addListener('Listener', {
      protocol: globalaccelerator.ConnectionProtocol.TCP,
      portRanges: ports.map((p) => ({ fromPort: p, toPort: p })),
      // No stickiness: each new connection goes to the nearest healthy region, so a failover takes effect for
      // every client at once (inference calls keep no server-side session).
      clientAffinity: globalaccelerator.ClientAffinity.NONE,
    });
    this.endpointGroups = {};
    for (const r of props.regions) {
      const region = regionOf(r);
      const lb = r.loadBalancer;
      const endpoint = lb.applicationLoadBalancer
        ? new endpoints.ApplicationLoadBalancerEndpoint(lb.applicationLoadBalancer, { preserveClientIp: preserve })
        : new endpoints.NetworkLoadBalancerEndpoint(lb.networkLoadBalancer as elbv2.INetworkLoadBalancer, { preserveClientIp: preserve });
      this.endpointGroups[region] = this.listener.addEndpointGroup(`Region-${region}`, {
        region,
        endpoints: [endpoint],
        trafficDialPercentage: r.trafficDialPercentage ?? 100,
        // The agent's health endpoint (it turns 503 on the notice). Global Accelerator applies these to EC2 and
        // EIP endpoints; for the load balancer endpoint it reads the target group's health on the same path.
        healthCheckProtocol: globalaccelerator.HealthCheckProtocol.HTTP,
        healthCheckPath: r.fleet.healthCheckPath,
        healthCheckPort: r.fleet.healthCheckPort,
        healthCheckInterval: interval,
        healthCheckThreshold: threshold,
      });
    }
    this.dnsName = this.accelerator.dnsName;
  }
}
