import { CdnFrontdoorEndpoint } from '@cdktf/provider-azurerm/lib/cdn-frontdoor-endpoint';
import { CdnFrontdoorOrigin } from '@cdktf/provider-azurerm/lib/cdn-frontdoor-origin';
import { CdnFrontdoorOriginGroup } from '@cdktf/provider-azurerm/lib/cdn-frontdoor-origin-group';
import { CdnFrontdoorProfile } from '@cdktf/provider-azurerm/lib/cdn-frontdoor-profile';
import { CdnFrontdoorRoute } from '@cdktf/provider-azurerm/lib/cdn-frontdoor-route';
import { MonitorMetricAlert } from '@cdktf/provider-azurerm/lib/monitor-metric-alert';
import { TerraformOutput, Token } from 'cdktf';
import { Construct } from 'constructs';
import { Cloud } from '../../lib/spec/clouds';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { GLOBAL_LAYER_DEFAULTS, GlobalRoutingTiming, controllerRegionOf, globalFailoverTimes, policyWithHomeRegion, validateGlobalRouting, validateRegionList, regionFleetSpec } from '../../lib/spec/global-routing';
import { AzureFleetAlerts, AzureFleetAlertsOptions } from './fleet-alerts';
import { azureName } from './network';
import { AzureOnDemandFallback, AzureOnDemandFallbackOptions, agentWithPlannedEvictionQueue } from './on-demand-fallback';
import { AzureSpotFleet, AzureSpotFleetProps } from './spot-scale-set-fleet';

/** Azure region names as the provider takes them: `eastus2`, `westeurope`, `swedencentral`. */
export const AZURE_REGION_PATTERN = /^[a-z]+\d*$/;
/** Service tag of Front Door's back end: the only source the regional load balancers admit by default. */
export const FRONT_DOOR_SERVICE_TAG = 'AzureFrontDoor.Backend';

/** One region of an {@link AzureMultiRegionSpotInferenceService}, with what differs there. */
export interface AzureFleetRegion {
  /** The region (Azure location), e.g. `eastus2`. */
  readonly region: string;
  /** Zones of the region. @default - the fleet's default zones */
  readonly zones?: string[];
  /** VM sizes in this region. @default - the service's `instanceTypes` */
  readonly instanceTypes?: string[];
  /** Fewest VMs in this region. @default - the service's `minCapacity` */
  readonly minCapacity?: number;
  /** Most VMs in this region. @default - the service's `maxCapacity` */
  readonly maxCapacity?: number;
  /**
   * VMs to start with in this region (0 with `minCapacity: 0`: the region hosts only the controller's spares, stand-ins
   * and fallback). @default - the service's `desiredCapacity`
   */
  readonly desiredCapacity?: number;
  /** Regular (on-demand) VMs in this region. @default - the service's `onDemandBaseCapacity` */
  readonly onDemandBaseCapacity?: number;
  /**
   * Share of the traffic among regions of the same priority: the origin's weight (1-1000) is this x 10.
   * 0 keeps the region out of the rotation but in the origin group as a lower-priority (failover) origin.
   * @default 100
   */
  readonly trafficDialPercentage?: number;
  /** Address space of the region's new virtual network. @default - `10.<40 + index>.0.0/16` */
  readonly addressSpace?: string;
}

/**
 * Props of {@link AzureMultiRegionSpotInferenceService}: the fleet props every region shares (per-region values in
 * `regions` override them). `location` is not used (each fleet takes its region; Front Door is global): pass the
 * home region. Every resource goes into `resourceGroupName`, whatever its region.
 */
export interface AzureMultiRegionSpotInferenceServiceProps extends AzureSpotFleetProps {
  /** The regions. */
  readonly regions: AzureFleetRegion[];
  /**
   * Region that takes the traffic while healthy (origin priority 1; the others priority 2, failover only). It also
   * hosts the controller and becomes its policy's `homeRegion`: among equally good pools, new Spot goes there first.
   * @default - none: every region priority 1
   */
  readonly homeRegion?: string;
  /** Regions the team allows; synth refuses any other. @default - any region */
  readonly allowedRegions?: string[];
  /** Seconds between two Front Door probes of each region, 5 or more. Part of the timing rule. @default 5 */
  readonly frontDoorProbeIntervalSeconds?: number;
  /** Probes Front Door looks at for each origin (`sample_size`). @default 4 */
  readonly frontDoorSampleSize?: number;
  /** Of those, how many must succeed (`successful_samples_required`). @default 3 */
  readonly frontDoorSuccessfulSamplesRequired?: number;
  /**
   * Origins within this many milliseconds of the fastest one share the traffic (`additional_latency_in_milliseconds`);
   * 0 sends each client to its fastest region only. The latency a team accepts to spread load across regions.
   * @default 50
   */
  readonly frontDoorAdditionalLatencyMs?: number;
  /** Seconds Front Door waits for the origin's response (16-240). @default 120 */
  readonly frontDoorResponseTimeoutSeconds?: number;
  /** An on-demand fallback controller. @default true */
  readonly onDemandFallback?: boolean;
  /**
   * Tuning of the one controller over every region (schedule, policy, spare scale sets, custom metric, storage
   * account). Its policy's `homeRegion` defaults to `homeRegion`.
   * @default - see AzureOnDemandFallbackOptions
   */
  readonly onDemandFallbackOptions?: AzureOnDemandFallbackOptions;
  /**
   * Create the Azure Monitor alerts: one set over every region (Spot evictions of every region's scale sets and in
   * the resource group, a long fallback when the controller is on: on the home region's first scale set, where it
   * writes every region's fallback) and a health-probe alert on each region's load balancer.
   * @default true
   */
  readonly alerts?: boolean;
  /** Options of the alerts (action groups, thresholds). @default - see AzureFleetAlertsOptions */
  readonly alertOptions?: AzureFleetAlertsOptions;
  /** Terraform outputs (the endpoint's host name). @default true */
  readonly outputs?: boolean;
}

/**
 * One spot inference service over several Azure regions behind Azure Front Door (Standard): per region a
 * {@link AzureSpotFleet} (Flexible scale sets with Spot Priority Mix, agent, regional Standard load balancer
 * with its probe on the agent's health endpoint) whose network security group admits only Front Door's back end
 * (`AzureFrontDoor.Backend`), and one Front Door profile, endpoint, origin group (health probe on the health
 * path) and route, with one origin per region; one {@link AzureOnDemandFallback} controller over every region,
 * which adjusts every region's priority mix and sizes every region's spare Spot scale sets (one per zone, behind
 * the region's load balancer); and the alerts ({@link AzureFleetAlerts} over every region, a health-probe alert
 * per region).
 *
 * Why Front Door and not the cross-region (Global tier) load balancer: the cross-region load balancer polls each
 * regional load balancer every 20 s, a fixed interval, which with the regional probe (at least 5 s x 2) leaves
 * none of the 30 s Azure notice for the drain; Front Door's probe interval is a setting (5 s up), so a region's
 * failover (regional probe + Front Door's failed samples x interval) fits with the default 10 s drain. It is also
 * a layer-7 HTTPS endpoint with a managed certificate, which an inference API wants anyway.
 */
export class AzureMultiRegionSpotInferenceService extends Construct {
  /** The regions, in the order given. */
  public readonly regionNames: string[];
  /** Region of the one controller and its storage (the home region, else the first). */
  public readonly controllerRegion: string;
  /** The fleet of each region. */
  public readonly fleets: Record<string, AzureSpotFleet>;
  /** The one fallback controller, under every region's name, unless `onDemandFallback` is false. */
  public readonly onDemandFallbacks: Record<string, AzureOnDemandFallback>;
  /** The Front Door profile. */
  public readonly profile: CdnFrontdoorProfile;
  /** The Front Door endpoint (`<name>-<hash>.z01.azurefd.net`). */
  public readonly endpoint: CdnFrontdoorEndpoint;
  /** The origin group. */
  public readonly originGroup: CdnFrontdoorOriginGroup;
  /** The origin of each region. */
  public readonly origins: Record<string, CdnFrontdoorOrigin>;
  /** The route. */
  public readonly route: CdnFrontdoorRoute;
  /** The one alert set over every region's scale sets (evictions, a long fallback), unless `alerts` is false. */
  public readonly alerts?: AzureFleetAlerts;
  /** The health-probe alert of each region's load balancer (empty when `alerts` is false). */
  public readonly healthProbeAlerts: Record<string, MonitorMetricAlert>;
  /** Seconds from a region's notice until Front Door sends it no new request. */
  public readonly failoverSeconds: number;

  constructor(scope: Construct, id: string, props: AzureMultiRegionSpotInferenceServiceProps) {
    super(scope, id);
    const prefix = props.namePrefix ?? azureName(id);
    const { frontDoor, healthCheck, timing } = this.validateProps(props);
    this.failoverSeconds = globalFailoverTimes(timing).failoverSeconds;
    this.regionNames = props.regions.map((r) => r.region);
    this.controllerRegion = controllerRegionOf(props.regions, props.homeRegion);

    const fd = this.addFrontDoor(prefix, props, frontDoor, healthCheck.path);
    this.profile = fd.profile;
    this.endpoint = fd.endpoint;
    this.originGroup = fd.originGroup;
    const { fleets, origins } = this.addRegions(prefix, props, healthCheck);
    this.fleets = fleets;
    this.origins = origins;
    this.onDemandFallbacks = this.addController(prefix, props);
    this.route = this.addRoute(prefix);
    const alerts = (props.alerts ?? true) ? this.addAlerts(prefix, props) : { fleetAlerts: undefined, healthProbeAlerts: {} };
    this.alerts = alerts.fleetAlerts;
    this.healthProbeAlerts = alerts.healthProbeAlerts;
    if (props.outputs ?? true) this.addOutputs();
  }

  /**
   * Refuses (all problems at once) bad regions, top-level zones or subnet, a private or missing regional load
   * balancer, Front Door settings outside its limits, bad dials, alert options without alerts, and timings whose
   * failover does not fit the notice; returns the Front Door settings, the regional health check and the failover timing.
   */
  private validateProps(props: AzureMultiRegionSpotInferenceServiceProps): { frontDoor: FrontDoorSettings; healthCheck: RegionalHealthCheck; timing: GlobalRoutingTiming } {
    const isUnresolved = (x: unknown) => Token.isUnresolved(x);
    const C = FleetSpecErrorCode;
    const v = new ProblemCollector();
    const layer = GLOBAL_LAYER_DEFAULTS[Cloud.AZURE];
    const frontDoor: FrontDoorSettings = {
      interval: props.frontDoorProbeIntervalSeconds ?? layer.globalIntervalSeconds,
      sampleSize: props.frontDoorSampleSize ?? 4,
      required: props.frontDoorSuccessfulSamplesRequired ?? 3,
      latency: props.frontDoorAdditionalLatencyMs ?? 50,
      responseTimeout: props.frontDoorResponseTimeoutSeconds ?? 120,
    };
    const { interval, sampleSize, required, latency, responseTimeout } = frontDoor;
    // The regional probe: every 5 s, out after 2 failures (the spec's floor), so the failover fits the notice.
    const healthCheck = { intervalSeconds: layer.regionalIntervalSeconds, timeoutSeconds: 2, unhealthyThreshold: layer.regionalUnhealthyThreshold, ...stripUndefined(props.healthCheck ?? {}) };

    v.addAll(validateRegionList(props.regions, { isUnresolved, homeRegion: props.homeRegion, policyHomeRegion: props.onDemandFallbackOptions?.policy?.homeRegion, allowedRegions: props.allowedRegions, regionPattern: AZURE_REGION_PATTERN, example: 'eastus2' }));
    if (props.zones !== undefined) {
      v.add(C.ZONES, 'zones', `zones (${props.zones.join(', ')}) is set for the whole service, but zones belong to one region; give each entry of regions its own zones and leave the top-level zones out`);
    }
    if (props.subnetId !== undefined) {
      v.add(C.AZURE_FRONT_DOOR, 'subnetId', 'subnetId names one subnet, but each region needs its own; leave it out (each region gets a new virtual network, addressSpace per region)');
    }
    if (props.internalLoadBalancer) {
      v.add(C.AZURE_FRONT_DOOR, 'internalLoadBalancer', 'internalLoadBalancer: true hides the regional load balancers from Front Door Standard (private origins need Front Door Premium and Private Link); leave it out: the regional load balancers admit only the AzureFrontDoor.Backend service tag');
    }
    if (props.loadBalanced === false) {
      v.add(C.AZURE_FRONT_DOOR, 'loadBalanced', 'loadBalanced: false leaves Front Door no regional load balancer to send requests to; leave it out');
    }
    if (!isUnresolved(interval) && !(Number.isInteger(interval) && interval >= 5)) {
      v.add(C.AZURE_FRONT_DOOR, 'frontDoorProbeIntervalSeconds', `frontDoorProbeIntervalSeconds (${interval}) must be a whole number of seconds, 5 or more (Front Door's floor); use 5`);
    }
    if (!isUnresolved(sampleSize) && !isUnresolved(required) && !(Number.isInteger(sampleSize) && Number.isInteger(required) && required >= 1 && required <= sampleSize && sampleSize <= 255)) {
      v.add(C.AZURE_FRONT_DOOR, 'frontDoorSuccessfulSamplesRequired', `frontDoorSuccessfulSamplesRequired (${required}) must be from 1 to frontDoorSampleSize (${sampleSize}), and frontDoorSampleSize at most 255; use 3 of 4`);
    }
    if (!isUnresolved(latency) && !(Number.isInteger(latency) && latency >= 0 && latency <= 1000)) {
      v.add(C.AZURE_FRONT_DOOR, 'frontDoorAdditionalLatencyMs', `frontDoorAdditionalLatencyMs (${latency}) must be a whole number of milliseconds from 0 to 1000; use e.g. 50`);
    }
    if (!isUnresolved(responseTimeout) && !(Number.isInteger(responseTimeout) && responseTimeout >= 16 && responseTimeout <= 240)) {
      v.add(C.AZURE_FRONT_DOOR, 'frontDoorResponseTimeoutSeconds', `frontDoorResponseTimeoutSeconds (${responseTimeout}) must be from 16 to 240 seconds (Front Door's limits); inference calls longer than 240 s need streaming or a queue`);
    }
    for (const r of props.regions) {
      const dial = r.trafficDialPercentage ?? 100;
      if (!isUnresolved(dial) && dial > 0 && dial < 0.1) {
        v.add(C.PERCENTAGE_RANGE, 'regions.trafficDialPercentage', `trafficDialPercentage of ${r.region} (${dial}) gives an origin weight below 1; use 0 (failover only) or 0.1 to 100`);
      }
    }
    if (props.alerts === false && props.alertOptions !== undefined) {
      v.add(C.OPTION_CONFLICT, 'alertOptions', 'alertOptions is set but alerts is false; remove alertOptions or turn the alerts on');
    }
    const timing = failoverTiming(layer, frontDoor, healthCheck, props.drainBudgetSeconds ?? 10);
    if (v.problems.every((p) => !p.prop.startsWith('frontDoor'))) v.addAll(validateGlobalRouting(timing, { isUnresolved }));
    v.throwIfAny(this.node.path);
    return { frontDoor, healthCheck, timing };
  }

  /** The Front Door profile, endpoint and origin group (its health probe on the health path, through each regional load balancer). */
  private addFrontDoor(prefix: string, props: AzureMultiRegionSpotInferenceServiceProps, fd: FrontDoorSettings, healthPath: string | undefined): { profile: CdnFrontdoorProfile; endpoint: CdnFrontdoorEndpoint; originGroup: CdnFrontdoorOriginGroup } {
    const profile = new CdnFrontdoorProfile(this, 'Profile', {
      name: `${prefix}-fd`,
      resourceGroupName: props.resourceGroupName,
      skuName: 'Standard_AzureFrontDoor',
      responseTimeoutSeconds: fd.responseTimeout,
      tags: props.tags,
    });
    const endpoint = new CdnFrontdoorEndpoint(this, 'Endpoint', { name: `${prefix}-api`, cdnFrontdoorProfileId: profile.id, tags: props.tags });
    const originGroup = new CdnFrontdoorOriginGroup(this, 'Origins', {
      name: `${prefix}-regions`,
      cdnFrontdoorProfileId: profile.id,
      // No stickiness: every request goes to the best healthy region, so a failover moves every client at once.
      sessionAffinityEnabled: false,
      restoreTrafficTimeToHealedOrNewEndpointInMinutes: 0,
      healthProbe: {
        // Through the regional load balancer: it stops answering once its probe (the agent's health endpoint)
        // has taken every VM of the region out.
        intervalInSeconds: fd.interval,
        path: healthPath ?? '/health',
        protocol: 'Http',
        requestType: 'GET',
      },
      loadBalancing: { sampleSize: fd.sampleSize, successfulSamplesRequired: fd.required, additionalLatencyInMilliseconds: fd.latency },
    });
    return { profile, endpoint, originGroup };
  }

  /**
   * Per region, in the order given: its AzureSpotFleet (the region's values over the shared props, its own virtual
   * network, a public regional load balancer admitting Front Door's back end only) and its Front Door origin.
   */
  private addRegions(prefix: string, props: AzureMultiRegionSpotInferenceServiceProps, healthCheck: RegionalHealthCheck): { fleets: Record<string, AzureSpotFleet>; origins: Record<string, CdnFrontdoorOrigin> } {
    const fleets: Record<string, AzureSpotFleet> = {};
    const origins: Record<string, CdnFrontdoorOrigin> = {};
    // Every region's agents post their Preempt notices to the one controller's queue (in the home region).
    const agent = agentWithPlannedEvictionQueue(props.agent, {
      path: `${this.node.path}/OnDemandFallback`,
      resourceGroupName: props.resourceGroupName,
      location: this.controllerRegion,
      onDemandFallback: props.onDemandFallback,
      options: props.onDemandFallbackOptions,
    });
    props.regions.forEach((r, index) => {
      const fleet = new AzureSpotFleet(this, `Fleet-${r.region}`, {
        ...props,
        agent,
        namePrefix: `${prefix}-${r.region}`.slice(0, 40),
        location: r.region,
        zones: r.zones,
        ...regionFleetSpec(props, r),
        addressSpace: r.addressSpace ?? `10.${40 + index}.0.0/16`,
        subnetPrefix: r.addressSpace ? undefined : `10.${40 + index}.0.0/20`,
        healthCheck,
        loadBalanced: true,
        internalLoadBalancer: false,
        // The regional load balancers keep the client's address; only Front Door's back end reaches them.
        allowedClientCidrs: props.allowedClientCidrs ?? [FRONT_DOOR_SERVICE_TAG],
      });
      fleets[r.region] = fleet;
      origins[r.region] = this.addOrigin(r, fleet, props);
    });
    return { fleets, origins };
  }

  /** A region's origin: its regional load balancer's address; priority 1 (2 outside the home region or at dial 0), weight from the dial. */
  private addOrigin(r: AzureFleetRegion, fleet: AzureSpotFleet, props: AzureMultiRegionSpotInferenceServiceProps): CdnFrontdoorOrigin {
    const dial = r.trafficDialPercentage ?? 100;
    const home = props.homeRegion;
    return new CdnFrontdoorOrigin(this, `Origin-${r.region}`, {
      name: r.region,
      cdnFrontdoorOriginGroupId: this.originGroup.id,
      enabled: true,
      hostName: fleet.loadBalancer.frontendIpAddress,
      originHostHeader: fleet.loadBalancer.frontendIpAddress,
      httpPort: props.listenerPort ?? 80,
      // An IP origin has no certificate name to check; Front Door reaches it over HTTP on Azure's backbone.
      certificateNameCheckEnabled: false,
      // Priority 1 takes traffic; 2 only when every priority-1 origin is unhealthy.
      priority: (home !== undefined && home !== r.region) || dial === 0 ? 2 : 1,
      weight: Math.max(1, Math.round(dial * 10)),
    });
  }

  /**
   * One controller over every region (in the home region, else the first), unless `onDemandFallback` is false: it
   * sees all regions' pools and moves capacity between them; its control role sits on the regions' scale sets only.
   */
  private addController(prefix: string, props: AzureMultiRegionSpotInferenceServiceProps): Record<string, AzureOnDemandFallback> {
    const byRegion: Record<string, AzureOnDemandFallback> = {};
    if (!(props.onDemandFallback ?? true)) return byRegion;
    const host = this.controllerRegion;
    const options = props.onDemandFallbackOptions ?? {};
    const controller = new AzureOnDemandFallback(this, 'OnDemandFallback', {
      ...options,
      // The home region steers the Spot too: among equal pools, new Spot goes there first.
      policy: policyWithHomeRegion(options.policy, props.homeRegion),
      fleet: this.fleets[host],
      additionalFleets: this.regionNames.filter((r) => r !== host).map((r) => ({ fleet: this.fleets[r], location: r })),
      resourceGroupName: props.resourceGroupName,
      location: host,
      namePrefix: prefix,
      tags: props.tags,
    });
    for (const r of this.regionNames) byRegion[r] = controller;
    return byRegion;
  }

  /**
   * The alerts: one {@link AzureFleetAlerts} over every region's scale sets (the controller's region first: the
   * controller writes its metric on that region's first scale set), so each eviction alerts once, and one
   * health-probe alert per region's load balancer (an Azure metric alert watches resources of one region).
   */
  private addAlerts(prefix: string, props: AzureMultiRegionSpotInferenceServiceProps): { fleetAlerts: AzureFleetAlerts; healthProbeAlerts: Record<string, MonitorMetricAlert> } {
    const options = props.alertOptions ?? {};
    const host = this.controllerRegion;
    const ordered = [host, ...this.regionNames.filter((r) => r !== host)];
    // Validates the options (thresholds, severity) before the per-region alerts use them.
    const fleetAlerts = new AzureFleetAlerts(this, 'Alerts', {
      ...options,
      resourceGroupName: props.resourceGroupName,
      namePrefix: prefix,
      scaleSetIds: ordered.flatMap((r) => this.fleets[r].scaleSetIds),
      // The one controller writes its metric (every region's fallback) on the home fleet's first scale set; without
      // a controller nothing writes it, and there is no fallback alert.
      fallbackMetricResourceId: this.onDemandFallbacks[host]?.metricResourceId,
      tags: props.tags,
    });
    const pct = options.minHealthProbePercent ?? 50;
    const action = (options.actionGroupIds ?? []).map((actionGroupId) => ({ actionGroupId }));
    const healthProbeAlerts: Record<string, MonitorMetricAlert> = {};
    for (const r of this.regionNames) {
      healthProbeAlerts[r] = new MonitorMetricAlert(this, `HealthProbeAlert-${r}`, {
        resourceGroupName: props.resourceGroupName,
        tags: props.tags,
        action: action.length > 0 ? action : undefined,
        name: `${prefix}-${r}-backend-health`,
        description: `Fewer than ${pct}% of the health probes of the ${r} load balancer of ${prefix} succeed: that region's backends are down or draining, and Front Door sends its traffic to the other regions. Check its scale sets' VMs and recent evictions.`,
        scopes: [this.fleets[r].loadBalancerId!],
        severity: options.severity ?? 1,
        frequency: 'PT1M',
        windowSize: 'PT5M',
        criteria: [{ metricNamespace: 'Microsoft.Network/loadBalancers', metricName: 'DipAvailability', aggregation: 'Average', operator: 'LessThan', threshold: pct }],
      });
    }
    return { fleetAlerts, healthProbeAlerts };
  }

  /** The route: every path, HTTP and HTTPS (redirected), to the regions' origins. */
  private addRoute(prefix: string): CdnFrontdoorRoute {
    return new CdnFrontdoorRoute(this, 'Route', {
      name: `${prefix}-all`,
      cdnFrontdoorEndpointId: this.endpoint.id,
      cdnFrontdoorOriginGroupId: this.originGroup.id,
      cdnFrontdoorOriginIds: this.regionNames.map((r) => this.origins[r].id),
      patternsToMatch: ['/*'],
      supportedProtocols: ['Http', 'Https'],
      httpsRedirectEnabled: true,
      forwardingProtocol: 'HttpOnly',
      linkToDefaultDomain: true,
    });
  }

  /** The endpoint's host name, and the profile id the server should expect in X-Azure-FDID. */
  private addOutputs(): void {
    new TerraformOutput(this, 'EndpointHostName', { value: this.endpoint.hostName, description: 'Front Door host name clients call (HTTPS), every region' });
    // The AzureFrontDoor.Backend service tag admits every Front Door profile: the server should accept only
    // requests whose X-Azure-FDID header is this profile's id.
    new TerraformOutput(this, 'FrontDoorId', { value: this.profile.resourceGuid, description: 'Expected X-Azure-FDID header value: reject requests without it' });
  }
}

/** Front Door's probe and routing settings, defaults filled in. */
interface FrontDoorSettings {
  readonly interval: number;
  readonly sampleSize: number;
  readonly required: number;
  readonly latency: number;
  readonly responseTimeout: number;
}

/** The regional load balancers' probe: the spec's health check over the fast defaults. */
type RegionalHealthCheck = NonNullable<AzureSpotFleetProps['healthCheck']> & { readonly intervalSeconds: number; readonly unhealthyThreshold: number };

/**
 * The failover timing: the regional probe, then Front Door's failed samples. terraform-provider-azurerm's
 * cdn_frontdoor_origin_group: health_probe.interval_in_seconds IntBetween(5, 31536000); load_balancing defaults
 * sample_size 4, successful_samples_required 3, additional_latency_in_milliseconds 50. Front Door marks an origin
 * unhealthy once fewer than `required` of the last `sampleSize` probes passed: after (sampleSize - required + 1)
 * failed probes.
 */
function failoverTiming(layer: { name: string }, fd: FrontDoorSettings, healthCheck: RegionalHealthCheck, drainBudgetSeconds: number): GlobalRoutingTiming {
  return {
    cloud: Cloud.AZURE,
    globalLayerName: layer.name,
    regionalIntervalSeconds: healthCheck.intervalSeconds,
    regionalUnhealthyThreshold: healthCheck.unhealthyThreshold,
    globalIntervalSeconds: fd.interval,
    globalUnhealthyThreshold: fd.sampleSize - fd.required + 1,
    drainBudgetSeconds,
    props: {
      globalInterval: 'frontDoorProbeIntervalSeconds',
      globalThreshold: 'failed samples (frontDoorSampleSize - frontDoorSuccessfulSamplesRequired + 1)',
    },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as Partial<T>;
}

/** @deprecated use {@link AzureMultiRegionSpotInferenceService} (the same class: one naming scheme across the clouds, see docs/names.md). */
export const AzureMultiRegionSpotService = AzureMultiRegionSpotInferenceService;
/** @deprecated use {@link AzureMultiRegionSpotInferenceService}. */
export type AzureMultiRegionSpotService = AzureMultiRegionSpotInferenceService;

/** @deprecated use {@link AzureMultiRegionSpotInferenceServiceProps} (one naming scheme across the clouds, see docs/names.md). */
export type AzureMultiRegionSpotServiceProps = AzureMultiRegionSpotInferenceServiceProps;
