import { Construct } from 'constructs';
import { ComputeBackendService } from '@cdktf/provider-google/lib/compute-backend-service';
import { ComputeGlobalAddress } from '@cdktf/provider-google/lib/compute-global-address';
import { ComputeGlobalForwardingRule } from '@cdktf/provider-google/lib/compute-global-forwarding-rule';
import { ComputeTargetHttpProxy } from '@cdktf/provider-google/lib/compute-target-http-proxy';
import { ComputeTargetHttpsProxy } from '@cdktf/provider-google/lib/compute-target-https-proxy';
import { ComputeUrlMap } from '@cdktf/provider-google/lib/compute-url-map';
import { Token } from 'cdktf';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec';
import { GcpSpotFleet, SERVING_PORT_NAME } from './spot-fleet';

/** Options of {@link GcpFleetLoadBalancer} that the pattern construct passes through. */
export interface GcpFleetLoadBalancerOptions {
  /**
   * SSL certificate self links (or ids) for HTTPS on port 443. Without them the load balancer serves HTTP on port 80.
   * @default - HTTP only
   */
  readonly sslCertificates?: string[];
  /**
   * Seconds the load balancer waits for a response (an inference call) before it gives up.
   * @default 120
   */
  readonly requestTimeoutSeconds?: number;
  /** Cloud Armor security policy attached to the backend service. @default - none */
  readonly securityPolicy?: string;
}

/** Props of {@link GcpFleetLoadBalancer}. */
export interface GcpFleetLoadBalancerProps extends GcpFleetLoadBalancerOptions {
  /** The fleet whose spot and on-demand groups serve behind the load balancer. */
  readonly fleet: GcpSpotFleet;
}

/**
 * A global external Application Load Balancer in front of a {@link GcpSpotFleet}: one backend service with
 * both groups (spot and on-demand), the fleet's health check, connection draining inside the 30 s notice, a URL
 * map, an HTTP or HTTPS target proxy, a reserved global IP and a global forwarding rule.
 */
export class GcpFleetLoadBalancer extends Construct {
  /** Backend service holding both groups. */
  public readonly backendService: ComputeBackendService;
  /** URL map sending every request to the backend service. */
  public readonly urlMap: ComputeUrlMap;
  /** The HTTP target proxy (when no certificates are given). */
  public readonly httpProxy?: ComputeTargetHttpProxy;
  /** The HTTPS target proxy (when certificates are given). */
  public readonly httpsProxy?: ComputeTargetHttpsProxy;
  /** Id of whichever target proxy the forwarding rule points at. */
  public readonly targetProxyId: string;
  /** Reserved global address. */
  public readonly address: ComputeGlobalAddress;
  /** Global forwarding rule on port 80 or 443. */
  public readonly forwardingRule: ComputeGlobalForwardingRule;

  constructor(scope: Construct, id: string, props: GcpFleetLoadBalancerProps) {
    super(scope, id);
    const { fleet } = props;
    const name = fleet.fleetName;
    const timeout = props.requestTimeoutSeconds ?? 120;
    const v = new ProblemCollector();
    if (!Token.isUnresolved(timeout) && !(Number.isInteger(timeout) && timeout >= 1 && timeout <= 86400)) {
      v.add(FleetSpecErrorCode.CLOUD_CONSTRAINT, 'requestTimeoutSeconds', `requestTimeoutSeconds (${timeout}) must be a whole number of seconds from 1 to 86400; use e.g. 120`);
    }
    if (props.sslCertificates && !Token.isUnresolved(props.sslCertificates) && props.sslCertificates.length === 0) {
      v.add(FleetSpecErrorCode.CLOUD_CONSTRAINT, 'sslCertificates', 'sslCertificates is an empty list; give at least one certificate for HTTPS, or leave it out to serve HTTP');
    }
    v.throwIfAny(this.node.path);

    const backend = (group: string) => ({
      group,
      balancingMode: 'UTILIZATION',
      maxUtilization: fleet.targetUtilization,
      capacityScaler: 1,
    });
    this.backendService = new ComputeBackendService(this, 'Backend', {
      project: fleet.project,
      name: `${name}-backend`,
      protocol: 'HTTP',
      portName: SERVING_PORT_NAME,
      loadBalancingScheme: 'EXTERNAL_MANAGED',
      healthChecks: [fleet.healthCheck.id],
      // A preempted VM has 30 s: the load balancer lets it finish in-flight requests for the deregistration delay.
      connectionDrainingTimeoutSec: fleet.spec.deregistrationDelaySeconds,
      timeoutSec: timeout,
      backend: [backend(fleet.spotGroup.instanceGroup), backend(fleet.onDemandGroup.instanceGroup)],
      logConfig: { enable: true, sampleRate: 1 },
      securityPolicy: props.securityPolicy,
    });
    this.urlMap = new ComputeUrlMap(this, 'UrlMap', {
      project: fleet.project,
      name: `${name}-urlmap`,
      defaultService: this.backendService.id,
    });
    const https = props.sslCertificates !== undefined;
    if (https) {
      this.httpsProxy = new ComputeTargetHttpsProxy(this, 'HttpsProxy', {
        project: fleet.project,
        name: `${name}-https`,
        urlMap: this.urlMap.id,
        sslCertificates: props.sslCertificates,
      });
      this.targetProxyId = this.httpsProxy.id;
    } else {
      this.httpProxy = new ComputeTargetHttpProxy(this, 'HttpProxy', {
        project: fleet.project,
        name: `${name}-http`,
        urlMap: this.urlMap.id,
      });
      this.targetProxyId = this.httpProxy.id;
    }
    this.address = new ComputeGlobalAddress(this, 'Address', {
      project: fleet.project,
      name: `${name}-ip`,
    });
    this.forwardingRule = new ComputeGlobalForwardingRule(this, 'ForwardingRule', {
      project: fleet.project,
      name: `${name}-${https ? 'https' : 'http'}`,
      target: this.targetProxyId,
      ipAddress: this.address.address,
      ipProtocol: 'TCP',
      portRange: https ? '443' : '80',
      loadBalancingScheme: 'EXTERNAL_MANAGED',
    });
  }

  /** The load balancer's public IP address. */
  public get ipAddress(): string {
    return this.address.address;
  }
}
