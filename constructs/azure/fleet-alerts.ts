import { Annotations, Fn, Token } from 'cdktf';
import { Construct } from 'constructs';
import { MonitorActivityLogAlert } from '@cdktf/provider-azurerm/lib/monitor-activity-log-alert';
import { MonitorMetricAlert } from '@cdktf/provider-azurerm/lib/monitor-metric-alert';
import { FleetSpecError, FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { FALLBACK_METRIC_NAME, FALLBACK_METRIC_NAMESPACE } from '../../lib/handlers/azure/fallback';
import { IAzureSpotFleet } from './fleet-interface';
import type { AzureOnDemandFallback } from './on-demand-fallback';


/** Hours a metric alert window can span (Azure Monitor window sizes of 1 hour and more). */
const WINDOW_HOURS: Record<number, string> = { 1: 'PT1H', 6: 'PT6H', 12: 'PT12H', 24: 'P1D' };

/** Options of {@link AzureFleetAlerts} that do not name the fleet's resources (reused by `forFleet`). */
export interface AzureFleetAlertsOptions {
  /**
   * Action groups (ids) every alert notifies.
   * @default - none: alerts show in Azure Monitor only
   */
  readonly actionGroupIds?: string[];

  /**
   * The health-probe alert fires when the load balancer's average health probe status (`DipAvailability`,
   * percent of probes that succeed) stays below this for 5 minutes.
   * @default 50
   */
  readonly minHealthProbePercent?: number;

  /**
   * The fallback alert fires when fallback replicas have run for this many hours without a break: 1, 6, 12 or 24
   * (the Azure Monitor window sizes).
   * @default 6
   */
  readonly fallbackActiveAlertAfterHours?: number;

  /**
   * Severity of the alerts, 0 (critical) to 4 (verbose).
   * @default 1
   */
  readonly severity?: number;
}

/** Options of {@link AzureFleetAlerts.forFleet}. */
export interface AzureFleetAlertsForFleetOptions extends AzureFleetAlertsOptions {
  /**
   * The fallback controller that drives the fleet: the fallback alert watches the resource it writes its
   * `FallbackReplicas` metric on ({@link AzureOnDemandFallback.fallbackMetricResourceIdOf}). Only the controller's own
   * `fleet` carries that metric (the whole fallback, `additionalFleets` included), so a fleet of `additionalFleets`
   * gets no fallback alert of its own (a warning says so): alert on the controller's `fleet`.
   * @default - no fallback alert: without a controller nothing writes the metric, and the alert could never fire
   */
  readonly onDemandFallback?: AzureOnDemandFallback;
}

/** Properties of {@link AzureFleetAlerts}. */
export interface AzureFleetAlertsProps extends AzureFleetAlertsOptions {
  /** Resource group the alerts are created in. */
  readonly resourceGroupName: string;
  /** Prefix of the alert names. */
  readonly namePrefix: string;
  /** Ids of the fleet's scale sets (the eviction alerts). */
  readonly scaleSetIds: string[];
  /**
   * The resource the fallback controller writes its `FallbackReplicas` metric on
   * ({@link AzureOnDemandFallback.metricResourceId}: the first scale set of the controller's `fleet`, its app setting
   * `METRICS_RESOURCE_ID`): the fallback alert watches it.
   * @default - no fallback alert: no controller writes the metric for this fleet, so the alert could never fire
   */
  readonly fallbackMetricResourceId?: string;
  /**
   * Id of the fleet's (Standard) load balancer: health-probe alert.
   * @default - no health-probe alert
   */
  readonly loadBalancerId?: string;
  /** Tags on every alert. @default - none */
  readonly tags?: { [key: string]: string };
}

/**
 * Azure Monitor alerts for one spot fleet, for the signals Azure exposes:
 *
 * - **backend health**: the load balancer's health probe status (`DipAvailability`) below `minHealthProbePercent`;
 * - **evictions**: activity-log alerts on the Spot eviction operations of the fleet's scale sets and of the
 *   VMs in its resource group (Flexible scale sets' VMs are VM resources);
 * - **fallback active**: the fallback controller's `SpotInferenceConstructs`/`FallbackReplicas` custom metric has
 *   stayed above 0 for `fallbackActiveAlertAfterHours`: one alert, on the resource the controller writes the metric
 *   on (`fallbackMetricResourceId`, or `forFleet`'s `onDemandFallback`). Only for a fleet a controller drives: without
 *   one, nothing writes the metric, and there is no fallback alert.
 */
export class AzureFleetAlerts extends Construct {
  /** Activity-log operation Azure records when it evicts a Spot VM of a scale set. */
  public static readonly SCALE_SET_EVICTION_OPERATION = 'Microsoft.Compute/virtualMachineScaleSets/evictSpotVM/action';
  /** Activity-log operation Azure records when it evicts a Spot VM (a Flexible scale set's VMs are VM resources). */
  public static readonly VM_EVICTION_OPERATION = 'Microsoft.Compute/virtualMachines/evictSpotVM/action';
  /** Custom-metric namespace the fallback controller publishes to (the controller's own constant). */
  public static readonly FALLBACK_METRIC_NAMESPACE: string = FALLBACK_METRIC_NAMESPACE;
  /** Custom metric of the fallback controller: Regular VMs running in place of missing Spot capacity. */
  public static readonly FALLBACK_REPLICAS_METRIC: string = FALLBACK_METRIC_NAME;

  /**
   * Alerts for a fleet (an `AzureSpotFleet`, or one imported with `fromScaleSetAttributes`): its scale sets and
   * its load balancer, named after the fleet; the fallback alert only with `onDemandFallback`, the controller that
   * drives the fleet.
   */
  public static forFleet(scope: Construct, id: string, fleet: IAzureSpotFleet, options: AzureFleetAlertsForFleetOptions = {}): AzureFleetAlerts {
    const { onDemandFallback, ...rest } = options;
    if (onDemandFallback !== undefined && !onDemandFallback.drives(fleet)) {
      throw new FleetSpecError([{
        code: FleetSpecErrorCode.ALERT_TARGETS,
        prop: 'onDemandFallback',
        message: `onDemandFallback (${onDemandFallback.node.path}) does not drive fleet ${fleet.fleetName}, so it writes no fallback metric for it; give the controller whose fleet or additionalFleets holds this fleet, or leave onDemandFallback out (no fallback alert)`,
      }], `${scope.node.path}/${id}`);
    }
    const fallbackMetricResourceId = onDemandFallback?.fallbackMetricResourceIdOf(fleet);
    const alerts = new AzureFleetAlerts(scope, id, {
      ...rest,
      resourceGroupName: fleet.resourceGroupName,
      namePrefix: fleet.fleetName,
      scaleSetIds: fleet.scaleSetIds,
      // A fleet without a load balancer (queue workers) has no probe to watch.
      loadBalancerId: fleet.loadBalancerId,
      fallbackMetricResourceId,
    });
    if (onDemandFallback !== undefined && fallbackMetricResourceId === undefined) {
      Annotations.of(alerts).addWarning(onDemandFallback.metricResourceId === undefined
        ? `no fallback alert for fleet ${fleet.fleetName}: its controller ${onDemandFallback.node.path} has customMetric false, so it writes no FallbackReplicas metric`
        : `no fallback alert for fleet ${fleet.fleetName}: it is one of the additionalFleets of ${onDemandFallback.node.path}, which writes its FallbackReplicas metric (every fleet's fallback together) on the first scale set of its own fleet only; the fallback alert of that fleet covers this one`);
    }
    return alerts;
  }

  /** Fires when too few health probes succeed (when a load balancer is given). */
  public readonly healthProbeAlert?: MonitorMetricAlert;
  /** Fire on every Spot eviction: scale-set form and VM form. */
  public readonly evictionAlerts: MonitorActivityLogAlert[];
  /**
   * Fires when fallback VMs have run too long: one alert, on the resource the controller writes its
   * `FallbackReplicas` metric on. Undefined for a fleet no controller writes the metric for.
   */
  public readonly fallbackActiveAlert?: MonitorMetricAlert;
  /**
   * The fallback alert, as a list of one (empty without one).
   * @deprecated use {@link fallbackActiveAlert}: there is one fallback alert, on the scale set the controller writes to
   * (alerts on the other scale sets watched a metric nobody writes, so they could never fire)
   */
  public readonly fallbackActiveAlerts: MonitorMetricAlert[];

  constructor(scope: Construct, id: string, props: AzureFleetAlertsProps) {
    super(scope, id);
    const s = validate(props, this.node.path);
    const prefix = props.namePrefix;
    const action = (props.actionGroupIds ?? []).map((actionGroupId) => ({ actionGroupId }));
    const common = { resourceGroupName: props.resourceGroupName, tags: props.tags, action: action.length > 0 ? action : undefined };

    if (props.loadBalancerId !== undefined) {
      this.healthProbeAlert = new MonitorMetricAlert(this, 'HealthProbeAlert', {
        ...common,
        name: `${prefix}-backend-health`,
        description: `Fewer than ${s.minHealthProbePercent}% of the health probes of fleet ${prefix} succeed: backends are down or draining. Check the scale sets' VMs and recent evictions.`,
        scopes: [props.loadBalancerId],
        severity: s.severity,
        frequency: 'PT1M',
        windowSize: 'PT5M',
        criteria: [{ metricNamespace: 'Microsoft.Network/loadBalancers', metricName: 'DipAvailability', aggregation: 'Average', operator: 'LessThan', threshold: s.minHealthProbePercent }],
      });
    }

    // The resource group's id, from the first scale set's id (known at apply time).
    const resourceGroupId = Fn.regex('(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+', props.scaleSetIds[0]);
    const eviction = (aid: string, name: string, scopes: string[], operationName: string, what: string): MonitorActivityLogAlert =>
      new MonitorActivityLogAlert(this, aid, {
        resourceGroupName: props.resourceGroupName,
        tags: props.tags,
        action: common.action,
        name,
        location: 'global',
        description: `Azure evicted a Spot VM ${what} (fleet ${prefix}). One eviction is routine; many in an hour mean Spot capacity of these sizes is scarce.`,
        scopes,
        criteria: { category: 'Administrative', operationName },
      });
    this.evictionAlerts = [
      eviction('ScaleSetEvictionAlert', `${prefix}-spot-eviction`, props.scaleSetIds, AzureFleetAlerts.SCALE_SET_EVICTION_OPERATION, 'of the fleet\'s scale sets'),
      eviction('VmEvictionAlert', `${prefix}-spot-vm-eviction`, [resourceGroupId], AzureFleetAlerts.VM_EVICTION_OPERATION, `in resource group ${props.resourceGroupName}`),
    ];

    // The controller writes FallbackReplicas on one resource only, the first scale set of its fleet
    // (AzureOnDemandFallback's METRICS_RESOURCE_ID), so one alert there, and none where no controller writes it: such
    // an alert could never fire. The construct id and name are the ones that alert always had (`-0` when the fleet has
    // several scale sets), so a deployed alert stays.
    if (props.fallbackMetricResourceId === undefined) {
      this.fallbackActiveAlerts = [];
      return;
    }
    this.fallbackActiveAlert = new MonitorMetricAlert(this, 'FallbackActiveAlert0', {
      ...common,
      name: `${prefix}-fallback-active${props.scaleSetIds.length > 1 ? '-0' : ''}`,
      description: `Fleet ${prefix} has run Regular fallback VMs for ${s.fallbackHours} h without a break: Spot capacity has not come back. Add sizes or zones, or accept the on-demand cost.`,
      scopes: [props.fallbackMetricResourceId],
      severity: s.severity,
      frequency: 'PT1H',
      windowSize: WINDOW_HOURS[s.fallbackHours],
      criteria: [{
        metricNamespace: AzureFleetAlerts.FALLBACK_METRIC_NAMESPACE,
        metricName: AzureFleetAlerts.FALLBACK_REPLICAS_METRIC,
        aggregation: 'Minimum',
        operator: 'GreaterThan',
        threshold: 0,
        // The controller creates the metric with its first point; the alert may exist before that.
        skipMetricValidation: true,
      }],
    });
    this.fallbackActiveAlerts = [this.fallbackActiveAlert];
  }
}

interface ValidatedAlerts {
  readonly minHealthProbePercent: number;
  readonly fallbackHours: number;
  readonly severity: number;
}

function validate(props: AzureFleetAlertsProps, scope: string): ValidatedAlerts {
  const v = new ProblemCollector();
  const C = FleetSpecErrorCode;
  const known = (x: unknown): boolean => x !== undefined && !Token.isUnresolved(x);
  const pct = props.minHealthProbePercent ?? 50;
  if (known(props.minHealthProbePercent) && !(pct > 0 && pct <= 100)) {
    v.add(C.ALARM_THRESHOLD, 'minHealthProbePercent', `minHealthProbePercent (${pct}) must be above 0 and at most 100 (a percentage of successful probes); use e.g. 50`);
  }
  const hours = props.fallbackActiveAlertAfterHours ?? 6;
  if (known(props.fallbackActiveAlertAfterHours) && WINDOW_HOURS[hours] === undefined) {
    v.add(C.ALARM_THRESHOLD, 'fallbackActiveAlertAfterHours', `fallbackActiveAlertAfterHours (${hours}) must be 1, 6, 12 or 24: the Azure Monitor metric alert windows of an hour or more (PT1H, PT6H, PT12H, P1D)`);
  }
  const severity = props.severity ?? 1;
  if (known(props.severity) && !(Number.isInteger(severity) && severity >= 0 && severity <= 4)) {
    v.add(C.ALARM_THRESHOLD, 'severity', `severity (${severity}) must be a whole number from 0 (critical) to 4 (verbose); use e.g. 1`);
  }
  if (!Token.isUnresolved(props.scaleSetIds) && props.scaleSetIds.length === 0) {
    v.add(C.ALERT_TARGETS, 'scaleSetIds', 'scaleSetIds is empty; give the ids of the fleet\'s scale sets (AzureSpotFleet.scaleSets[].scaleSetId)');
  }
  if (!Token.isUnresolved(props.namePrefix) && !/^[A-Za-z0-9][-A-Za-z0-9_.]{0,200}$/.test(props.namePrefix)) {
    v.add(C.AZURE_RESOURCE_NAME, 'namePrefix', `namePrefix ("${props.namePrefix}") must start with a letter or digit and hold only letters, digits, "-", "_" and "."`);
  }
  v.throwIfAny(scope);
  return { minHealthProbePercent: pct, fallbackHours: hours, severity };
}
