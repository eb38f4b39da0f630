import { Construct } from 'constructs';
import { ComputeBackendService } from '@cdktf/provider-google/lib/compute-backend-service';
import { ComputeGlobalAddress } from '@cdktf/provider-google/lib/compute-global-address';
import { ComputeGlobalForwardingRule } from '@cdktf/provider-google/lib/compute-global-forwarding-rule';
import { ComputeTargetHttpProxy } from '@cdktf/provider-google/lib/compute-target-http-proxy';
import { ComputeTargetHttpsProxy } from '@cdktf/provider-google/lib/compute-target-https-proxy';
import { ComputeUrlMap } from '@cdktf/provider-google/lib/compute-url-map';
import { Token } from 'cdktf';
import { ComputeFirewall } from '@cdktf/provider-google/lib/compute-firewall';
import { ComputeHealthCheck } from '@cdktf/provider-google/lib/compute-health-check';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec';
import { createFleetFirewall, createFleetHealthCheck, fleetBackends } from './fleet-backends';
import { IGcpSpotFleet } from './fleet-interface';
import { checkBackendService } from './provider-rules';
import { GcpSpotFleet } from './spot-fleet';

/** Options of {@link GcpInferenceLoadBalancer} that the pattern construct passes through. */
export interface GcpInferenceLoadBalancerOptions {
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

/** Props of {@link GcpInferenceLoadBalancer}. */
export interface GcpInferenceLoadBalancerProps extends GcpInferenceLoadBalancerOptions {
  /**
   * The fleet whose groups serve behind the load balancer: a {@link GcpSpotFleet}, or groups created elsewhere
   * (`GcpSpotFleet.fromInstanceGroupManagers`), for which the load balancer creates the health check (when they
   * bring none) and the firewall rule for Google's ranges itself.
   */
  readonly fleet: IGcpSpotFleet;
}

/**
 * A global external Application Load Balancer in front of a {@link GcpSpotFleet}: one backend service with
 * both groups (spot and on-demand), the fleet's health check, connection draining inside the 30 s notice, a URL
 * map, an HTTP or HTTPS target proxy, a reserved global IP and a global forwarding rule.
 */
export class GcpInferenceLoadBalancer extends Construct {
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
  /** Health check created for an imported fleet that brought none. */
  public readonly healthCheck?: ComputeHealthCheck;
  /** Firewall rule created for an imported fleet (a `GcpSpotFleet` opens its own). */
  public readonly firewall?: ComputeFirewall;

  constructor(scope: Construct, id: string, props: GcpInferenceLoadBalancerProps) {
    super(scope, id);
    const { fleet } = props;
    const name = fleet.fleetName;
    const timeout = props.requestTimeoutSeconds ?? 120;
    const v = new ProblemCollector();
    checkBackendService(v, { timeoutSeconds: timeout, connectionDrainingTimeoutSeconds: fleet.deregistrationDelaySeconds, maxUtilization: fleet.targetUtilization, healthCheckCount: 1 });
    if (props.sslCertificates && !Token.isUnresolved(props.sslCertificates) && props.sslCertificates.length === 0) {
      v.add(FleetSpecErrorCode.GCP_SSL_CERTIFICATES, 'sslCertificates', 'sslCertificates is an empty list; give at least one certificate for HTTPS, or leave it out to serve HTTP');
    }
    // A GcpSpotFleet brings its health check and firewall (and says why when it has none); imported groups get ours.
    let healthCheckId: string;
    if (fleet instanceof GcpSpotFleet) {
      healthCheckId = fleet.healthCheck.id;
    } else {
      if (fleet.healthCheckId === undefined) this.healthCheck = createFleetHealthCheck(this, 'HealthCheck', fleet);
      healthCheckId = fleet.healthCheckId ?? this.healthCheck!.id;
      this.firewall = createFleetFirewall(this, 'AllowGoogleLb', fleet, 1000, v);
    }
    v.throwIfAny(this.node.path);

    this.backendService = new ComputeBackendService(this, 'Backend', {
      project: fleet.project,
      name: `${name}-backend`,
      protocol: 'HTTP',
      portName: fleet.servingPortName,
      loadBalancingScheme: 'EXTERNAL_MANAGED',
      healthChecks: [healthCheckId],
      // A preempted VM has 30 s: the load balancer lets it finish in-flight requests for the deregistration delay.
      connectionDrainingTimeoutSec: fleet.deregistrationDelaySeconds,
      timeoutSec: timeout,
      backend: fleetBackends(fleet),
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

/** @deprecated use {@link GcpInferenceLoadBalancer} (the same class: one naming scheme across the clouds, see docs/names.md). */
export const GcpFleetLoadBalancer = GcpInferenceLoadBalancer;
/** @deprecated use {@link GcpInferenceLoadBalancer}. */
export type GcpFleetLoadBalancer = GcpInferenceLoadBalancer;

/** @deprecated use {@link GcpInferenceLoadBalancerProps} (one naming scheme across the clouds, see docs/names.md). */
export type GcpFleetLoadBalancerProps = GcpInferenceLoadBalancerProps;

/** @deprecated use {@link GcpInferenceLoadBalancerOptions} (one naming scheme across the clouds, see docs/names.md). */
export type GcpFleetLoadBalancerOptions = GcpInferenceLoadBalancerOptions;
