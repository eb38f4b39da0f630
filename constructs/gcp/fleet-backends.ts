import { Token } from 'cdktf';
import { Construct } from 'constructs';
import { ComputeBackendService, ComputeBackendServiceBackend } from '@cdktf/provider-google/lib/compute-backend-service';
import { ComputeFirewall } from '@cdktf/provider-google/lib/compute-firewall';
import { ComputeHealthCheck } from '@cdktf/provider-google/lib/compute-health-check';
import { ComputeUrlMap, ComputeUrlMapHostRule, ComputeUrlMapPathMatcher } from '@cdktf/provider-google/lib/compute-url-map';
import { CLOUD_LIMITS, Cloud } from '../../lib/spec/clouds';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { IGcpSpotFleet } from './fleet-interface';
import { checkBackendService, checkFirewall } from './provider-rules';
import { GcpSpotFleet } from './spot-fleet';

/** Source ranges of Google's health checkers and global external Application Load Balancer proxies. */
export const GOOGLE_LB_SOURCE_RANGES = ['35.191.0.0/16', '130.211.0.0/22'];

/** The fleet's backends: one per instance group, balanced on utilization at the fleet's target. */
export function fleetBackends(fleet: IGcpSpotFleet): ComputeBackendServiceBackend[] {
  return fleet.instanceGroupUrls.map((group) => ({
    group,
    balancingMode: 'UTILIZATION',
    maxUtilization: fleet.targetUtilization,
    capacityScaler: 1,
  }));
}

/**
 * A health check on the fleet's health port and path, with a timing that notices a draining VM inside the 30 s
 * notice (10 s x 2 unhealthy = 20 s).
 */
export function createFleetHealthCheck(scope: Construct, id: string, fleet: IGcpSpotFleet): ComputeHealthCheck {
  return new ComputeHealthCheck(scope, id, {
    project: fleet.project,
    name: `${fleet.fleetName}-lb-hc`,
    checkIntervalSec: 10,
    timeoutSec: 5,
    healthyThreshold: 2,
    unhealthyThreshold: 2,
    httpHealthCheck: { port: fleet.healthPort, requestPath: fleet.healthCheckPath },
  });
}

/** Firewall rule: only Google's load balancer and health-check ranges reach the fleet, on the serving and health ports. */
export function createFleetFirewall(scope: Construct, id: string, fleet: IGcpSpotFleet, priority: number, v: ProblemCollector): ComputeFirewall {
  const ports = [...new Set([fleet.servingPort, fleet.healthPort])].map((p) => (Token.isUnresolved(p) ? Token.asString(p) : String(p)));
  checkFirewall(v, 'firewallPriority', {
    direction: 'INGRESS',
    sourceRanges: GOOGLE_LB_SOURCE_RANGES,
    targetServiceAccounts: fleet.serviceAccountEmails,
    targetTags: fleet.networkTags,
    priority,
    allowCount: 1,
  });
  return new ComputeFirewall(scope, id, {
    project: fleet.project,
    name: `${fleet.fleetName}-allow-glb`,
    network: fleet.network,
    direction: 'INGRESS',
    priority,
    sourceRanges: GOOGLE_LB_SOURCE_RANGES,
    targetServiceAccounts: fleet.serviceAccountEmails,
    targetTags: fleet.networkTags,
    allow: [{ protocol: 'tcp', ports }],
    description: `spot fleet ${fleet.fleetName}: Google load balancer and health-check ranges to the serving and health ports`,
  });
}

/** Props of {@link GcpFleetBackends}. */
export interface GcpFleetBackendsProps {
  /** The fleet to put behind the existing load balancer (a `GcpSpotFleet` or `GcpSpotFleet.fromInstanceGroupManagers`). */
  readonly fleet: IGcpSpotFleet;
  /**
   * An existing backend service (declared in this program, or imported into it with `terraform import`): the fleet's
   * groups are added to its backends, its health check and connection draining are set for the fleet.
   * Give this or `urlMap`.
   * @default - none
   */
  readonly backendService?: ComputeBackendService;
  /**
   * Keep the backend service's own health check (the fleet's VMs must pass it) instead of refusing it.
   * @default false
   */
  readonly keepExistingHealthCheck?: boolean;
  /**
   * An existing URL map: a backend service for the fleet is created and routed to, for `hosts` (and `paths`), or as
   * the map's default service with `asDefaultService`. Give this or `backendService`.
   * @default - none
   */
  readonly urlMap?: ComputeUrlMap;
  /** Host names routed to the fleet (a host rule and path matcher are added to the URL map). @default - none */
  readonly hosts?: string[];
  /** Paths of `hosts` routed to the fleet (other paths keep the map's default service). @default - every path */
  readonly paths?: string[];
  /** Make the fleet's backend service the URL map's default service. @default false */
  readonly asDefaultService?: boolean;
  /**
   * Load balancing scheme of the backend service created for the URL map: it must match the map's forwarding rule
   * (`EXTERNAL_MANAGED` for the global external Application Load Balancer, `EXTERNAL` for the classic one).
   * @default 'EXTERNAL_MANAGED'
   */
  readonly loadBalancingScheme?: string;
  /** Seconds the load balancer waits for a response (the created backend service's timeout). @default 120 */
  readonly requestTimeoutSeconds?: number;
  /** Priority of the firewall rule admitting Google's ranges (0 to 65535, lower wins). @default 1000 */
  readonly firewallPriority?: number;
  /**
   * Create the firewall rule for 35.191.0.0/16 and 130.211.0.0/22 to the serving and health ports. Turn off only when
   * a rule of yours already admits them.
   * @default - true, except for a load-balanced `GcpSpotFleet`, which opens that rule itself
   */
  readonly createFirewall?: boolean;
}

/**
 * Puts a spot fleet behind a load balancer that exists already: adds the fleet's groups to an existing backend
 * service, or creates a backend service for the fleet and routes an existing URL map's hosts / paths (or its default)
 * to it; sets the health check (on the agent's port), the connection draining inside the 30 s notice, and the
 * firewall rule for Google's ranges (35.191.0.0/16, 130.211.0.0/22) itself.
 */
export class GcpFleetBackends extends Construct {
  /** The backend service the fleet serves behind (the given one, or the one created for the URL map). */
  public readonly backendService: ComputeBackendService;
  /** The health check created for the fleet, unless the fleet or the backend service brought one. */
  public readonly healthCheck?: ComputeHealthCheck;
  /** The firewall rule admitting Google's ranges, unless `createFirewall` is false. */
  public readonly firewall?: ComputeFirewall;

  constructor(scope: Construct, id: string, props: GcpFleetBackendsProps) {
    super(scope, id);
    const { fleet } = props;
    const v = new ProblemCollector();
    const C = FleetSpecErrorCode;
    if ((props.backendService === undefined) === (props.urlMap === undefined)) {
      v.add(C.GCP_URL_MAP, 'backendService', 'give exactly one of backendService (add the fleet to an existing backend service) and urlMap (route an existing URL map to a new backend service for the fleet)');
      v.throwIfAny(this.node.path);
    }
    if (props.urlMap && !props.asDefaultService && !(props.hosts && props.hosts.length > 0)) {
      v.add(C.GCP_URL_MAP, 'hosts', 'urlMap is given without hosts or asDefaultService: nothing would route to the fleet; list the host names (e.g. ["llm.example.com"]) or set asDefaultService: true');
    }
    if (!props.urlMap && (props.hosts !== undefined || props.paths !== undefined || props.asDefaultService !== undefined)) {
      v.add(C.GCP_URL_MAP, 'hosts', 'hosts, paths and asDefaultService route a URL map; they have no effect with backendService: leave them out, or give urlMap instead');
    }
    if (props.paths !== undefined && !(props.hosts && props.hosts.length > 0)) {
      v.add(C.GCP_URL_MAP, 'paths', 'paths needs hosts: a path matcher hangs off a host rule; list the hosts the paths belong to');
    }
    const notice = CLOUD_LIMITS[Cloud.GCP].noticeSeconds;
    if (!Token.isUnresolved(fleet.deregistrationDelaySeconds) && fleet.deregistrationDelaySeconds >= notice) {
      v.add(FleetSpecErrorCode.DRAIN_BUDGET_EXCEEDED, 'fleet', `the fleet's deregistration delay (${fleet.deregistrationDelaySeconds} s) is not shorter than the ${notice} s Google Cloud preemption notice`);
    }

    let healthCheckId = fleet.healthCheckId;
    const existing = props.backendService;
    const existingChecks = existing?.healthChecksInput;
    const keepTheirs = props.keepExistingHealthCheck === true && existingChecks !== undefined && existingChecks.length > 0;
    if (existing && existingChecks !== undefined && !Token.isUnresolved(existingChecks) && existingChecks.length > 0 && !keepTheirs
      && !(healthCheckId !== undefined && existingChecks.length === 1 && existingChecks[0] === healthCheckId)) {
      v.add(C.GCP_BACKEND_SERVICE, 'backendService', `the backend service already has a health check (${existingChecks.join(', ')}) and a backend service takes one (terraform-provider-google: "Currently at most one health check can be specified"); set keepExistingHealthCheck: true if the fleet's VMs pass it (the agent's port ${Token.isUnresolved(fleet.healthPort) ? '' : fleet.healthPort} fails on a preemption notice, another check may not), or remove it from the backend service`);
    }
    if (healthCheckId === undefined && !keepTheirs) {
      this.healthCheck = createFleetHealthCheck(this, 'HealthCheck', fleet);
      healthCheckId = this.healthCheck.id;
    }
    // A load-balanced GcpSpotFleet opens its own rule for these ranges; imported groups get one here.
    const ownRule = fleet instanceof GcpSpotFleet && fleet.loadBalanced && fleet.hasFirewall;
    if (props.createFirewall ?? !ownRule) {
      this.firewall = createFleetFirewall(this, 'AllowGoogleLb', fleet, props.firewallPriority ?? 1000, v);
    }

    if (existing) {
      const current = existing.backendInput;
      if (current !== undefined && !Array.isArray(current)) {
        v.add(C.DEPLOY_TIME_VALUE, 'backendService', 'the backend service\'s backends are a deploy-time value (a token): the fleet\'s groups cannot be added to them at synth; declare the backends as a list');
      }
      const before = Array.isArray(current) ? current : [];
      const ours = fleetBackends(fleet);
      const dupes = ours.filter((b) => before.some((x) => x.group === b.group));
      if (dupes.length > 0) {
        v.add(C.GCP_BACKEND_SERVICE, 'backendService', `the backend service already has the fleet's group(s) ${dupes.map((d) => d.group).join(', ')}; a backend service lists each group once: remove them from the backend service or do not attach the fleet again`);
      }
      const scheme = existing.loadBalancingSchemeInput;
      if (scheme !== undefined && !Token.isUnresolved(scheme) && !['EXTERNAL_MANAGED', 'EXTERNAL', 'INTERNAL_MANAGED'].includes(scheme)) {
        v.add(C.GCP_BACKEND_SERVICE, 'backendService', `the backend service's load_balancing_scheme is ${scheme}: instance-group backends with UTILIZATION balancing need an Application Load Balancer scheme (EXTERNAL_MANAGED, EXTERNAL or INTERNAL_MANAGED)`);
      }
      checkBackendService(v, {
        timeoutSeconds: existing.timeoutSecInput ?? 30,
        connectionDrainingTimeoutSeconds: fleet.deregistrationDelaySeconds,
        maxUtilization: fleet.targetUtilization,
        healthCheckCount: keepTheirs ? existingChecks!.length : 1,
      });
      v.throwIfAny(this.node.path);
      existing.putBackend([...before, ...ours]);
      if (!keepTheirs) existing.healthChecks = [healthCheckId!];
      existing.portName = fleet.servingPortName;
      // A preempted VM has 30 s: in-flight requests finish within the fleet's deregistration delay.
      existing.connectionDrainingTimeoutSec = fleet.deregistrationDelaySeconds;
      this.backendService = existing;
      return;
    }

    const timeout = props.requestTimeoutSeconds ?? 120;
    checkBackendService(v, { timeoutSeconds: timeout, connectionDrainingTimeoutSeconds: fleet.deregistrationDelaySeconds, maxUtilization: fleet.targetUtilization, healthCheckCount: 1 });
    const urlMap = props.urlMap!;
    const hostRules = urlMap.hostRuleInput;
    const matchers = urlMap.pathMatcherInput;
    if ((hostRules !== undefined && !Array.isArray(hostRules)) || (matchers !== undefined && !Array.isArray(matchers))) {
      v.add(C.DEPLOY_TIME_VALUE, 'urlMap', 'the URL map\'s host rules or path matchers are a deploy-time value (a token): rules for the fleet cannot be added at synth; declare them as lists');
    }
    const matcherName = `${fleet.fleetName}-paths`;
    const taken = (Array.isArray(hostRules) ? hostRules : []).flatMap((r) => r.hosts).filter((h) => (props.hosts ?? []).includes(h));
    if (taken.length > 0) {
      v.add(C.GCP_URL_MAP, 'hosts', `host(s) ${taken.join(', ')} already have a host rule in the URL map; a host may appear in one host rule: route them to the fleet there, or pick other hosts`);
    }
    v.throwIfAny(this.node.path);

    this.backendService = new ComputeBackendService(this, 'Backend', {
      project: fleet.project,
      name: `${fleet.fleetName}-backend`,
      protocol: 'HTTP',
      portName: fleet.servingPortName,
      loadBalancingScheme: props.loadBalancingScheme ?? 'EXTERNAL_MANAGED',
      healthChecks: [healthCheckId!],
      connectionDrainingTimeoutSec: fleet.deregistrationDelaySeconds,
      timeoutSec: timeout,
      backend: fleetBackends(fleet),
      logConfig: { enable: true, sampleRate: 1 },
    });
    if (props.asDefaultService) urlMap.defaultService = this.backendService.id;
    if (props.hosts && props.hosts.length > 0) {
      const rule: ComputeUrlMapHostRule = { hosts: props.hosts, pathMatcher: matcherName };
      const matcher: ComputeUrlMapPathMatcher = props.paths
        ? { name: matcherName, defaultService: urlMap.defaultServiceInput ?? this.backendService.id, pathRule: [{ paths: props.paths, service: this.backendService.id }] }
        : { name: matcherName, defaultService: this.backendService.id };
      urlMap.putHostRule([...(Array.isArray(hostRules) ? hostRules : []), rule]);
      urlMap.putPathMatcher([...(Array.isArray(matchers) ? matchers : []), matcher]);
    }
  }
}
