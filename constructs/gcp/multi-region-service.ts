import { createHash } from 'node:crypto';
import { TerraformOutput, Token } from 'cdktf';
import { Construct } from 'constructs';
import { ComputeBackendService } from '@cdktf/provider-google/lib/compute-backend-service';
import { ComputeGlobalAddress } from '@cdktf/provider-google/lib/compute-global-address';
import { ComputeGlobalForwardingRule } from '@cdktf/provider-google/lib/compute-global-forwarding-rule';
import { ComputeTargetHttpProxy } from '@cdktf/provider-google/lib/compute-target-http-proxy';
import { ComputeTargetHttpsProxy } from '@cdktf/provider-google/lib/compute-target-https-proxy';
import { ComputeUrlMap } from '@cdktf/provider-google/lib/compute-url-map';
import { EventarcTrigger } from '@cdktf/provider-google/lib/eventarc-trigger';
import { Cloud } from '../../lib/spec/clouds';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { FleetSpec } from '../../lib/spec/fleet-spec';
import { GLOBAL_LAYER_DEFAULTS, GlobalRoutingTiming, controllerRegionOf, globalFailoverTimes, policyWithHomeRegion, validateGlobalRouting, validateRegionList, regionFleetSpec } from '../../lib/spec/global-routing';
import { withCurrentOptionNames } from '../../lib/spec/option-aliases';
import { GcpFleetAlerts, GcpFleetAlertsOptions } from './fleet-alerts';
import { GcpInterruptionDrill } from './interruption-drill';
import { GcpOnDemandFallback, GcpOnDemandFallbackOptions } from './on-demand-fallback';
import { GcpPreemptionHook } from './preemption-hook';
import { GcpSpotAgentOptions, GcpSpotFleet, SERVING_PORT_NAME } from './spot-fleet';
import { MachineTypeRanking, TargetShape } from './types';

/** Google Cloud region names: `us-central1`, `europe-west4`, `northamerica-northeast2`. */
export const GCP_REGION_PATTERN = /^[a-z]+-[a-z]+\d+$/;

/** One region of a {@link GcpMultiRegionSpotInferenceService}, with what differs there. */
export interface GcpFleetRegion {
  /** The region, e.g. `us-central1`. */
  readonly region: string;
  /** Zones of the region (at least two). @default - every zone of the region */
  readonly zones?: string[];
  /** Machine types in this region, in order of preference. @default - the service's `instanceTypes` */
  readonly instanceTypes?: string[];
  /** Fewest VMs in this region. @default - the service's `minCapacity` */
  readonly minCapacity?: number;
  /** Most VMs in this region. @default - the service's `maxCapacity` */
  readonly maxCapacity?: number;
  /** VMs to start with in this region. @default - the service's `desiredCapacity` */
  readonly desiredCapacity?: number;
  /** Standard (on-demand) VMs in this region. @default - the service's `onDemandBaseCapacity` */
  readonly onDemandBaseCapacity?: number;
  /**
   * Share of the region's serving capacity the load balancer counts (the backends' `capacityScaler`), 0 or
   * 10-100. The load balancer sends each client to the nearest region with capacity left and overflows to the
   * next; a lower dial makes the region overflow sooner. 0 takes the region out of rotation entirely (Google
   * Cloud has no failover-only backend): keep every region that should take over at 10 or more.
   * @default 100
   */
  readonly trafficDialPercentage?: number;
  /** Subnetwork of this region. @default - the network's subnet in the region (auto-mode networks) */
  readonly subnetwork?: string;
}

/** Props of {@link GcpMultiRegionSpotInferenceService}: the shared fleet spec, the regions, the Google Cloud options. */
export interface GcpMultiRegionSpotInferenceServiceProps extends FleetSpec {
  /** Project of every resource. */
  readonly project: string;
  /** The regions, each with what differs there. */
  readonly regions: GcpFleetRegion[];
  /** Regions the team allows; synth refuses any other. @default - any region */
  readonly allowedRegions?: string[];
  /**
   * The region closest to the users: it hosts the controller and becomes its policy's `homeRegion` (among equally
   * good pools, new spot goes there first). The global Application Load Balancer already sends each client to its
   * nearest region with capacity, so no traffic setting changes; lower the other regions' `trafficDialPercentage` to
   * keep traffic home.
   * @default - none: the controller runs in the first region and no region is preferred
   */
  readonly homeRegion?: string;
  /** Prefix of every resource name (1-13 lower-case letters, digits, hyphens; each region adds a short suffix). @default - the construct id, lower-cased */
  readonly namePrefix?: string;
  /** @deprecated use `namePrefix` (one name on every cloud). Setting both is refused. @default - the construct id, lower-cased */
  readonly name?: string;
  /** VPC network of every region (a Google Cloud network is global). @default 'default' */
  readonly network?: string;
  /** Boot image. @default - GcpSpotFleet's default */
  readonly sourceImage?: string;
  /** Boot disk size, GB. @default 100 */
  readonly bootDiskSizeGb?: number;
  /** How each regional group spreads VMs over zones. @default TargetShape.BALANCED */
  readonly targetShape?: TargetShape;
  /** Ranking of the machine types. @default MachineTypeRanking.IN_ORDER */
  readonly machineTypeRanking?: MachineTypeRanking;
  /** The on-instance drain agent. @default - DrainMode.HEALTH on port 9901 */
  readonly agent?: GcpSpotAgentOptions;
  /** Commands that start the inference server (the same prop on every cloud). @default - none */
  readonly bootCommands?: string[];
  /** @deprecated use `bootCommands` (one name on every cloud). Setting both is refused. @default - none */
  readonly startupScript?: string;
  /** Share of each VM's serving capacity the autoscaler and the backends aim for. @default 0.8 */
  readonly targetUtilization?: number;
  /** Seconds a new VM needs to boot and pass its health check. @default 300 */
  readonly initializationPeriodSeconds?: number;
  /** SSL certificates for HTTPS on 443. @default - HTTP on 80 */
  readonly sslCertificates?: string[];
  /** Seconds the load balancer waits for a response. @default 120 */
  readonly requestTimeoutSeconds?: number;
  /** Cloud Armor policy on the backend service. @default - none */
  readonly securityPolicy?: string;
  /** An on-demand fallback controller. @default true */
  readonly onDemandFallback?: boolean;
  /** Tuning of the fallback controller. @default - see GcpOnDemandFallbackOptions */
  readonly onDemandFallbackOptions?: GcpOnDemandFallbackOptions;
  /**
   * Create one set of alert policies over every region: no healthy backend (the one backend service), too few
   * serving VMs in all regions' groups together, preemptions per hour in all regions together, fallback active.
   * @default true
   */
  readonly alerts?: boolean;
  /** Options of the alert policies (notification channels, thresholds). @default - see GcpFleetAlertsOptions */
  readonly alertOptions?: GcpFleetAlertsOptions;
  /** Labels on every VM and bucket. @default - only `spot-fleet: <name>` */
  readonly labels?: { [key: string]: string };
  /** @deprecated use `agent.bundlePath` (one name on every cloud). Setting both is refused. @default - the package's portable agent bundle */
  readonly agentBundlePath?: string;
  /** Directory of the preemption function bundle. @default - the package's bundle */
  readonly functionBundleDir?: string;
  /** Terraform outputs (IP, groups, drill commands). @default true */
  readonly outputs?: boolean;
}

/**
 * One spot inference service over several Google Cloud regions behind one global external Application Load
 * Balancer: per region a {@link GcpSpotFleet} (regional spot MIG over the region's zones and machine types,
 * plus its standard MIG for the on-demand base, health check, autohealing, agent) and its
 * {@link GcpPreemptionHook}; one {@link GcpOnDemandFallback} controller over every region, which resizes every
 * region's standard MIG and owns every region's spare spot groups (one zonal MIG per listed zone); one backend
 * service whose backends are every region's two MIGs and its spare groups (at the region's traffic dial), with
 * the fleets' health check, so the load balancer sends each client to the nearest region with healthy capacity
 * and moves traffic out of a region as soon as its VMs fail the health check (the global layer adds no
 * detection of its own: failover = interval x unhealthy threshold); and one set of {@link GcpFleetAlerts} over
 * every region.
 */
export class GcpMultiRegionSpotInferenceService extends Construct {
  /** The regions, in the order given. */
  public readonly regionNames: string[];
  /** The fleet of each region. */
  public readonly fleets: Record<string, GcpSpotFleet>;
  /** The preemption hook of each region. */
  public readonly preemptionHooks: Record<string, GcpPreemptionHook>;
  /**
   * The one on-demand fallback controller over every region (in the home region, else the first; it resizes every region's
   * standard MIG), unless `onDemandFallback` is false.
   */
  public readonly onDemandFallback?: GcpOnDemandFallback;
  /** Region of the controller's function (the home region, else the first). */
  public readonly controllerRegion: string;
  /** Eventarc triggers that run the controller on the other regions' preemptions (their hooks' topics). */
  public readonly preemptionTriggers: EventarcTrigger[];
  /** The one alert set over every region, unless `alerts` is false. */
  public readonly alerts?: GcpFleetAlerts;
  /** The one backend service over every region's groups. */
  public readonly backendService: ComputeBackendService;
  /** URL map. */
  public readonly urlMap: ComputeUrlMap;
  /** Id of the target proxy. */
  public readonly targetProxyId: string;
  /** Reserved global address. */
  public readonly address: ComputeGlobalAddress;
  /** Global forwarding rule. */
  public readonly forwardingRule: ComputeGlobalForwardingRule;
  /** Seconds from a region's notice until the load balancer sends it no new request. */
  public readonly failoverSeconds: number;

  constructor(scope: Construct, id: string, given: GcpMultiRegionSpotInferenceServiceProps) {
    super(scope, id);
    const { props, name, timing } = this.validateProps(id, given);
    this.regionNames = props.regions.map((r) => r.region);
    this.failoverSeconds = globalFailoverTimes(timing).failoverSeconds;

    const { fleets, hooks } = this.addRegions(name, props);
    this.fleets = fleets;
    this.preemptionHooks = hooks;
    this.backendService = this.addBackendService(name, props);
    this.controllerRegion = controllerRegionOf(props.regions, props.homeRegion);
    const { controller, triggers } = this.addController(props);
    this.onDemandFallback = controller;
    this.preemptionTriggers = triggers;

    const frontend = this.addFrontend(name, props);
    this.urlMap = frontend.urlMap;
    this.targetProxyId = frontend.targetProxyId;
    this.address = frontend.address;
    this.forwardingRule = frontend.forwardingRule;
    if (props.alerts ?? true) this.alerts = this.addAlerts(name, props);
    if (props.outputs ?? true) {
      new TerraformOutput(this, 'LoadBalancerIp', { value: this.address.address, description: 'Public IP of the global load balancer (every region)' });
    }
  }

  /**
   * Refuses (all problems at once) both spellings of one option, a bad name prefix, top-level zones, bad regions,
   * dials and zones, alert options without alerts, and health-check timings whose failover does not fit the notice; returns the props in their
   * current spelling, the name prefix and the failover timing.
   */
  private validateProps(id: string, given: GcpMultiRegionSpotInferenceServiceProps): { props: GcpMultiRegionSpotInferenceServiceProps; name: string; timing: GlobalRoutingTiming } {
    const isUnresolved = (x: unknown) => Token.isUnresolved(x);
    const C = FleetSpecErrorCode;
    const v = new ProblemCollector();
    // One spelling per option (namePrefix, bootCommands, agent.bundlePath); both spellings of one are refused.
    const current = withCurrentOptionNames(given);
    v.addAll(current.problems);
    const props = current.props;
    const name = props.namePrefix ?? id.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 13).replace(/-+$/, '');
    if (!isUnresolved(name) && !/^[a-z]([a-z0-9-]{0,11}[a-z0-9])?$/.test(name)) {
      const nameProp = given.name !== undefined ? 'name' : 'namePrefix';
      v.add(C.GCP_RESOURCE_NAME, nameProp, `${nameProp} ("${name}") must be 1-13 lower-case letters, digits or hyphens, starting with a letter (each region adds '-' and a suffix of up to 6 characters to the fleets' 20-character prefix); e.g. "llm"`);
    }
    if (props.zones !== undefined) {
      v.add(C.ZONES, 'zones', `zones (${props.zones.join(', ')}) is set for the whole service, but zones belong to one region; give each entry of regions its own zones and leave the top-level zones out`);
    }
    v.addAll(validateRegionList(props.regions, { isUnresolved, homeRegion: props.homeRegion, policyHomeRegion: props.onDemandFallbackOptions?.policy?.homeRegion, allowedRegions: props.allowedRegions, regionPattern: GCP_REGION_PATTERN, example: 'us-central1' }));
    for (const r of props.regions) {
      const dial = r.trafficDialPercentage ?? 100;
      if (!isUnresolved(dial) && dial > 0 && dial < 10) {
        v.add(C.PERCENTAGE_RANGE, 'regions.trafficDialPercentage', `trafficDialPercentage of ${r.region} (${dial}) must be 0 or from 10 to 100: it becomes the backends' capacityScaler, which Google Cloud takes as 0 or 0.1-1.0`);
      }
      const foreign = (r.zones ?? []).filter((z) => !isUnresolved(z) && !z.startsWith(`${r.region}-`));
      if (foreign.length > 0) {
        v.add(C.ZONES, `regions[${r.region}].zones`, `regions[${r.region}].zones lists ${foreign.join(', ')}, not in ${r.region}; list zones named like ${r.region}-a`);
      }
    }
    if (props.alerts === false && props.alertOptions !== undefined) {
      v.add(C.OPTION_CONFLICT, 'alertOptions', 'alertOptions is set but alerts is false; remove alertOptions or turn the alerts on');
    }
    const timing = failoverTiming(props);
    v.addAll(validateGlobalRouting(timing, { isUnresolved }));
    v.throwIfAny(this.node.path);
    return { props, name, timing };
  }

  /** Per region, in the order given: its GcpSpotFleet (the region's values over the shared spec), preemption hook and drill. */
  private addRegions(name: string, props: GcpMultiRegionSpotInferenceServiceProps): { fleets: Record<string, GcpSpotFleet>; hooks: Record<string, GcpPreemptionHook> } {
    const fleets: Record<string, GcpSpotFleet> = {};
    const hooks: Record<string, GcpPreemptionHook> = {};
    const suffixes = regionSuffixes(this.regionNames);
    for (const r of props.regions) {
      const fleet = new GcpSpotFleet(this, `Fleet-${r.region}`, {
        ...props,
        namePrefix: `${name}-${suffixes[r.region]}`,
        region: r.region,
        zones: r.zones,
        ...regionFleetSpec(props, r),
        subnetwork: r.subnetwork,
        loadBalanced: true,
      });
      fleets[r.region] = fleet;
      hooks[r.region] = new GcpPreemptionHook(this, `PreemptionHook-${r.region}`, { fleet, functionBundleDir: props.functionBundleDir });
      GcpInterruptionDrill.forFleet(this, `Drill-${r.region}`, fleet, props.outputs ?? true);
    }
    return { fleets, hooks };
  }

  /**
   * One controller over every region, unless `onDemandFallback` is false: the home region's (else the first region's) function observes
   * every region's groups, resizes every region's standard MIG (GcpOnDemandFallback's additionalFleets) and sizes
   * every region's spare groups (one zonal MIG per zone of a region that lists its zones), which serve behind the
   * one backend service at their region's dial; its own region's preemptions run it at once, and so do the other
   * regions' (a trigger on each of their hooks' topics), besides the 1-minute tick.
   */
  private addController(props: GcpMultiRegionSpotInferenceServiceProps): { controller?: GcpOnDemandFallback; triggers: EventarcTrigger[] } {
    const triggers: EventarcTrigger[] = [];
    if (!(props.onDemandFallback ?? true)) return { triggers };
    const controller = new GcpOnDemandFallback(this, 'OnDemandFallback', {
      ...props.onDemandFallbackOptions,
      // The home region steers the spot: among equal pools, new spot goes there first.
      policy: policyWithHomeRegion(props.onDemandFallbackOptions?.policy, props.homeRegion),
      fleet: this.fleets[this.controllerRegion],
      preemptionHook: this.preemptionHooks[this.controllerRegion],
      additionalFleets: this.regionNames.filter((r) => r !== this.controllerRegion).map((r) => this.fleets[r]),
      backendService: this.backendService,
      spareCapacityScalers: Object.fromEntries(props.regions.map((r) => [r.region, (r.trafficDialPercentage ?? 100) / 100])),
    });
    for (const r of this.regionNames.filter((x) => x !== this.controllerRegion)) {
      const fleet = this.fleets[r];
      triggers.push(new EventarcTrigger(this, `PreemptionTrigger-${r}`, {
        project: props.project,
        location: this.controllerRegion,
        name: `${fleet.fleetName}-fallback-preempted`,
        labels: { 'spot-fleet': fleet.fleetName },
        matchingCriteria: [{ attribute: 'type', value: 'google.cloud.pubsub.topic.v1.messagePublished' }],
        destination: { cloudRunService: { service: controller.function.serviceConfig.service, region: this.controllerRegion } },
        transport: { pubsub: { topic: this.preemptionHooks[r].topic.id } },
        serviceAccount: controller.triggerServiceAccount.email,
      }));
    }
    return { controller, triggers };
  }

  /** The one backend service: every region's spot and standard MIG, the region's dial as their capacity scaler. */
  private addBackendService(name: string, props: GcpMultiRegionSpotInferenceServiceProps): ComputeBackendService {
    const first = this.fleets[this.regionNames[0]];
    return new ComputeBackendService(this, 'Backend', {
      project: props.project,
      name: `${name}-backend`,
      protocol: 'HTTP',
      portName: SERVING_PORT_NAME,
      loadBalancingScheme: 'EXTERNAL_MANAGED',
      // A health check is a global resource: the first region's probes the VMs of every region on the same path
      // and port (every fleet's health check is built from the same spec).
      healthChecks: [first.healthCheck.id],
      connectionDrainingTimeoutSec: first.spec.deregistrationDelaySeconds,
      timeoutSec: props.requestTimeoutSeconds ?? 120,
      backend: props.regions.flatMap((r) => {
        const fleet = this.fleets[r.region];
        const capacityScaler = (r.trafficDialPercentage ?? 100) / 100;
        return [fleet.spotGroup.instanceGroup, fleet.onDemandGroup.instanceGroup].map((group) => ({
          group,
          balancingMode: 'UTILIZATION',
          maxUtilization: fleet.targetUtilization,
          capacityScaler,
        }));
      }),
      logConfig: { enable: true, sampleRate: 1 },
      securityPolicy: props.securityPolicy,
    });
  }

  /**
   * One alert set over every region: the one backend service, every region's spot and standard groups, and the
   * preemption and fallback metrics of every region's fleet (each region's preemption hook labels its points with
   * its fleet's name; the controller labels its own with the first region's).
   */
  private addAlerts(name: string, props: GcpMultiRegionSpotInferenceServiceProps): GcpFleetAlerts {
    return new GcpFleetAlerts(this, 'Alerts', {
      ...props.alertOptions,
      project: props.project,
      fleetName: name,
      instanceGroupNames: this.regionNames.flatMap((r) => this.fleets[r].instanceGroupManagerNames),
      backendServiceName: this.backendService.name,
      metricFleetNames: this.regionNames.map((r) => this.fleets[r].fleetName),
    });
  }

  /** URL map, HTTP (or, with certificates, HTTPS) proxy, global address and forwarding rule in front of the backend service. */
  private addFrontend(name: string, props: GcpMultiRegionSpotInferenceServiceProps): { urlMap: ComputeUrlMap; targetProxyId: string; address: ComputeGlobalAddress; forwardingRule: ComputeGlobalForwardingRule } {
    const urlMap = new ComputeUrlMap(this, 'UrlMap', { project: props.project, name: `${name}-urlmap`, defaultService: this.backendService.id });
    const https = props.sslCertificates !== undefined;
    const targetProxyId = https
      ? new ComputeTargetHttpsProxy(this, 'HttpsProxy', { project: props.project, name: `${name}-https`, urlMap: urlMap.id, sslCertificates: props.sslCertificates }).id
      : new ComputeTargetHttpProxy(this, 'HttpProxy', { project: props.project, name: `${name}-http`, urlMap: urlMap.id }).id;
    const address = new ComputeGlobalAddress(this, 'Address', { project: props.project, name: `${name}-ip` });
    const forwardingRule = new ComputeGlobalForwardingRule(this, 'ForwardingRule', {
      project: props.project,
      name: `${name}-${https ? 'https' : 'http'}`,
      target: targetProxyId,
      ipAddress: address.address,
      ipProtocol: 'TCP',
      portRange: https ? '443' : '80',
      loadBalancingScheme: 'EXTERNAL_MANAGED',
    });
    return { urlMap, targetProxyId, address, forwardingRule };
  }

  /** Public IP of the load balancer. */
  public get ipAddress(): string {
    return this.address.address;
  }
}

/** A short, stable suffix for a region in resource names: `us-central1` -> `usce1`, `europe-west4` -> `euwe4`. */
export function regionSuffix(region: string): string {
  const [geo, area] = region.split('-');
  const m = /^([a-z]+?)(\d+)$/.exec(area ?? '');
  return m ? `${geo.slice(0, 2)}${m[1].slice(0, 2)}${m[2]}`.slice(0, 6) : region.replace(/[^a-z0-9]/g, '').slice(0, 6);
}

/**
 * The suffix of every region of one list; regions whose short suffixes collide (`asia-south1`,
 * `asia-southeast1`) get 6 hex characters of a hash of their name instead, stable whatever the list's order.
 */
export function regionSuffixes(regions: readonly string[]): Record<string, string> {
  const short = regions.map(regionSuffix);
  return Object.fromEntries(regions.map((r, i) => [r, short.filter((x) => x === short[i]).length > 1 ? createHash('sha1').update(r).digest('hex').slice(0, 6) : short[i]]));
}

/**
 * The failover timing of the service: Google Cloud's global backend service routes on the fleets' own health
 * check (no second detection layer), so the global layer adds nothing to the regional probe.
 */
function failoverTiming(props: GcpMultiRegionSpotInferenceServiceProps): GlobalRoutingTiming {
  const layer = GLOBAL_LAYER_DEFAULTS[Cloud.GCP];
  const hc = { intervalSeconds: layer.regionalIntervalSeconds, unhealthyThreshold: layer.regionalUnhealthyThreshold, ...stripUndefined(props.healthCheck ?? {}) };
  return {
    cloud: Cloud.GCP,
    globalLayerName: layer.name,
    regionalIntervalSeconds: hc.intervalSeconds,
    regionalUnhealthyThreshold: hc.unhealthyThreshold,
    globalIntervalSeconds: layer.globalIntervalSeconds,
    globalUnhealthyThreshold: layer.globalUnhealthyThreshold,
    drainBudgetSeconds: props.drainBudgetSeconds ?? 10,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as Partial<T>;
}

/** @deprecated use {@link GcpMultiRegionSpotInferenceService} (the same class: one naming scheme across the clouds, see docs/names.md). */
export const GcpMultiRegionSpotService = GcpMultiRegionSpotInferenceService;
/** @deprecated use {@link GcpMultiRegionSpotInferenceService}. */
export type GcpMultiRegionSpotService = GcpMultiRegionSpotInferenceService;

/** @deprecated use {@link GcpMultiRegionSpotInferenceServiceProps} (one naming scheme across the clouds, see docs/names.md). */
export type GcpMultiRegionSpotServiceProps = GcpMultiRegionSpotInferenceServiceProps;
