import { ITerraformDependable, Token } from 'cdktf';
import { Construct } from 'constructs';
import { LoggingMetric } from '@cdktf/provider-google/lib/logging-metric';
import { MonitoringAlertPolicy, MonitoringAlertPolicyConditions } from '@cdktf/provider-google/lib/monitoring-alert-policy';
import { MonitoringMetricDescriptor } from '@cdktf/provider-google/lib/monitoring-metric-descriptor';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
// The fallback controller writes this GAUGE INT64 on the `global` resource with the label `fleet`.
import { FALLBACK_REPLICAS_METRIC_TYPE } from './on-demand-fallback';
import { PREEMPTION_METRIC_TYPE } from './preemption-hook';
import { IGcpSpotFleet } from './fleet-interface';

/**
 * What {@link GcpFleetAlerts.forService} reads of a service (a `GcpSpotInferenceService`, or anything shaped like
 * it): structural, so the alerts do not import the service that creates them.
 */
export interface GcpAlertedService {
  /** The service's fleet. */
  readonly fleet: IGcpSpotFleet;
  /** The service's load balancer. */
  readonly loadBalancer: GcpAlertedLoadBalancer;
}

/** The part of a load balancer {@link GcpFleetAlerts.forService} reads. */
export interface GcpAlertedLoadBalancer {
  /** Its backend service (request logging on). */
  readonly backendService: GcpAlertedBackendService;
}

/** The part of a backend service {@link GcpFleetAlerts.forService} reads. */
export interface GcpAlertedBackendService {
  /** Name of the backend service. */
  readonly name: string;
}

/** Options of {@link GcpFleetAlerts.forFleet}. */
export interface GcpFleetAlertsForFleetOptions extends GcpFleetAlertsOptions {
  /**
   * Name of the backend service in front of the fleet (request logging on), for the no-healthy-backend alert.
   * @default - no load balancer alert
   */
  readonly backendServiceName?: string;
}

/** Options of {@link GcpFleetAlerts} that do not name the fleet's resources (reused by `forService`). */
export interface GcpFleetAlertsOptions {
  /**
   * Notification channels (ids like `projects/p/notificationChannels/123`) every policy notifies.
   * @default - none: incidents show in the console only
   */
  readonly notificationChannels?: string[];

  /**
   * The serving-VMs alert opens when fewer VMs than this run in the fleet's groups for 5 minutes.
   * @default 1
   */
  readonly minServingInstances?: number;

  /**
   * The preemption alert opens when more of the fleet's VMs than this are preempted within one hour.
   * @default 3
   */
  readonly maxPreemptionsPerHour?: number;

  /**
   * The fallback alert opens when fallback replicas have run for this many hours without a break (1 to 24).
   * @default 6
   */
  readonly fallbackActiveAlertAfterHours?: number;

  /**
   * Declare the custom metrics (preemptions, fallback replicas) so the policies can be created before the first
   * point is written. Turn off when another stack declares them.
   * @default true
   */
  readonly createMetricDescriptors?: boolean;
}

/** Properties of {@link GcpFleetAlerts}. */
export interface GcpFleetAlertsProps extends GcpFleetAlertsOptions {
  /** Project of the fleet. */
  readonly project: string;

  /** Name of the fleet: the `fleet` label of its metrics and the prefix of the created names. */
  readonly fleetName: string;

  /** Names of the fleet's managed instance groups (spot and on-demand). */
  readonly instanceGroupNames: string[];

  /**
   * Name of the backend service of the fleet's Application Load Balancer (with request logging on): requests it
   * could not send to any healthy backend open the no-healthy-backend alert.
   * @default - no load balancer alert
   */
  readonly backendServiceName?: string;

  /**
   * Values of the `fleet` label of the preemption and fallback metrics the policies watch: the fleets whose
   * preemption hooks and fallback controller write them (a multi-region service: every region's fleet).
   * @default - `[fleetName]`
   */
  readonly metricFleetNames?: string[];
}

/**
 * Cloud Monitoring alert policies for one spot fleet on Google Cloud, for the signals the platform exposes:
 *
 * - **no healthy backend**: the load balancer answered requests itself because no backend was healthy
 *   (a log-based metric on `statusDetails="failed_to_pick_backend"` of the backend service's request logs);
 * - **serving VMs**: fewer VMs than `minServingInstances` in the fleet's groups (`compute.googleapis.com/instance_group/size`);
 * - **preemptions**: more than `maxPreemptionsPerHour` preemptions in an hour (the preemption hook's metric);
 * - **fallback active**: the fallback controller has run on-demand replicas for `fallbackActiveAlertAfterHours` hours.
 */
export class GcpFleetAlerts extends Construct {
  /** Alerts for a {@link GcpSpotInferenceService}: its groups and its backend service. */
  public static forService(scope: Construct, id: string, service: GcpAlertedService, options: GcpFleetAlertsOptions = {}): GcpFleetAlerts {
    return GcpFleetAlerts.forFleet(scope, id, service.fleet, { ...options, backendServiceName: service.loadBalancer.backendService.name });
  }

  /** Alerts for any {@link IGcpSpotFleet} (a `GcpSpotFleet` or imported groups), with its backend service if it has one. */
  public static forFleet(scope: Construct, id: string, fleet: IGcpSpotFleet, options: GcpFleetAlertsForFleetOptions = {}): GcpFleetAlerts {
    return new GcpFleetAlerts(scope, id, {
      ...options,
      project: fleet.project,
      fleetName: fleet.fleetName,
      instanceGroupNames: fleet.instanceGroupManagerNames,
    });
  }

  /** Log-based metric counting requests that found no healthy backend (when a backend service is given). */
  public readonly noHealthyBackendMetric?: LoggingMetric;
  /** Opens when the load balancer found no healthy backend (when a backend service is given). */
  public readonly noHealthyBackendPolicy?: MonitoringAlertPolicy;
  /** Opens when too few VMs serve. */
  public readonly servingInstancesPolicy: MonitoringAlertPolicy;
  /** Opens on a burst of preemptions. */
  public readonly preemptionsPolicy: MonitoringAlertPolicy;
  /** Opens when the fallback has been active too long. */
  public readonly fallbackActivePolicy: MonitoringAlertPolicy;
  /** Every policy above. */
  public readonly policies: MonitoringAlertPolicy[];

  constructor(scope: Construct, id: string, props: GcpFleetAlertsProps) {
    super(scope, id);
    const s = validate(props, this.node.path);
    const { project, fleetName: name } = props;
    const policy = (pid: string, displayName: string, content: string, condition: MonitoringAlertPolicyConditions, dependsOn: ITerraformDependable[] = []): MonitoringAlertPolicy =>
      this.createPolicy(props, pid, displayName, content, condition, dependsOn);
    const policies: MonitoringAlertPolicy[] = [];

    if (props.backendServiceName !== undefined) {
      this.noHealthyBackendMetric = new LoggingMetric(this, 'NoHealthyBackendMetric', {
        project,
        name: `${name}-no-healthy-backend`,
        description: `Requests of fleet ${name} the load balancer could not send to a healthy backend`,
        filter: `resource.type="http_load_balancer" AND resource.labels.backend_service_name="${props.backendServiceName}" AND jsonPayload.statusDetails="failed_to_pick_backend"`,
        metricDescriptor: { metricKind: 'DELTA', valueType: 'INT64', unit: '1' },
      });
      this.noHealthyBackendPolicy = policy(
        'NoHealthyBackendPolicy',
        'no healthy backend',
        `The load balancer of fleet **${name}** answered requests itself because no backend was healthy. Check the health of the VMs in ${props.instanceGroupNames.join(', ')} and the preemptions of the last hour.`,
        {
          displayName: 'Requests found no healthy backend',
          conditionThreshold: {
            filter: `metric.type="logging.googleapis.com/user/${this.noHealthyBackendMetric.name}"`,
            comparison: 'COMPARISON_GT',
            thresholdValue: 0,
            duration: '60s',
            aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_SUM', crossSeriesReducer: 'REDUCE_SUM' }],
          },
        },
        [this.noHealthyBackendMetric],
      );
      policies.push(this.noHealthyBackendPolicy);
    }

    const groupFilter = props.instanceGroupNames.map((g) => `"${g}"`).join(', ');
    const fleets = props.metricFleetNames ?? [name];
    const fleetLabel = fleets.length === 1 ? `"${fleets[0]}"` : `one_of(${fleets.map((f) => `"${f}"`).join(', ')})`;
    this.servingInstancesPolicy = policy(
      'ServingInstancesPolicy',
      `fewer than ${s.minServingInstances} serving VM(s)`,
      `Fleet **${name}** has had fewer than ${s.minServingInstances} VM(s) in its groups for 5 minutes: spot capacity is short and the on-demand base or fallback has not covered it.`,
      {
        displayName: `Fewer than ${s.minServingInstances} VM(s) in the fleet's groups`,
        conditionThreshold: {
          filter: `metric.type="compute.googleapis.com/instance_group/size" AND resource.type="instance_group" AND resource.label.instance_group_name=one_of(${groupFilter})`,
          comparison: 'COMPARISON_LT',
          thresholdValue: s.minServingInstances,
          duration: '300s',
          aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MEAN', crossSeriesReducer: 'REDUCE_SUM' }],
          evaluationMissingData: 'EVALUATION_MISSING_DATA_ACTIVE',
        },
      },
    );
    policies.push(this.servingInstancesPolicy);

    const descriptors: MonitoringMetricDescriptor[] = [];
    const descriptor = (did: string, type: string, displayName: string, description: string, labelKeys: string[]): MonitoringMetricDescriptor =>
      new MonitoringMetricDescriptor(this, did, {
        project,
        type,
        displayName,
        description,
        metricKind: 'GAUGE',
        valueType: 'INT64',
        unit: '1',
        labels: labelKeys.map((key) => ({ key, valueType: 'STRING' })),
      });
    const createDescriptors = props.createMetricDescriptors ?? true;
    const preemptionDescriptor = createDescriptors
      ? descriptor('PreemptionMetricDescriptor', PREEMPTION_METRIC_TYPE, 'Spot preemptions', 'One point per preempted spot VM (written by the preemption hook)', ['fleet', 'zone', 'instance'])
      : undefined;
    const fallbackDescriptor = createDescriptors
      ? descriptor('FallbackMetricDescriptor', FALLBACK_REPLICAS_METRIC_TYPE, 'Fallback replicas', 'On-demand replicas running in place of missing spot capacity (written by the fallback controller)', ['fleet'])
      : undefined;
    if (preemptionDescriptor) descriptors.push(preemptionDescriptor);
    if (fallbackDescriptor) descriptors.push(fallbackDescriptor);

    this.preemptionsPolicy = policy(
      'PreemptionsPolicy',
      `more than ${s.maxPreemptionsPerHour} preemptions per hour`,
      `More than ${s.maxPreemptionsPerHour} spot VMs of fleet **${name}** were preempted within an hour. Spot capacity of these machine types is scarce in these zones: add machine types or zones, or raise the on-demand base.`,
      {
        displayName: `More than ${s.maxPreemptionsPerHour} preemptions in an hour`,
        conditionThreshold: {
          filter: `metric.type="${PREEMPTION_METRIC_TYPE}" AND resource.type="global" AND metric.label.fleet=${fleetLabel}`,
          comparison: 'COMPARISON_GT',
          thresholdValue: s.maxPreemptionsPerHour,
          duration: '0s',
          aggregations: [{ alignmentPeriod: '3600s', perSeriesAligner: 'ALIGN_SUM', crossSeriesReducer: 'REDUCE_SUM' }],
        },
      },
      preemptionDescriptor ? [preemptionDescriptor] : [],
    );
    this.fallbackActivePolicy = policy(
      'FallbackActivePolicy',
      `fallback active for ${s.fallbackHours} h`,
      `Fleet **${name}** has run on-demand fallback replicas for ${s.fallbackHours} hours without a break: spot capacity has not come back. Add machine types or zones, or accept the on-demand cost.`,
      {
        displayName: `Fallback replicas above 0 for ${s.fallbackHours} h`,
        conditionThreshold: {
          filter: `metric.type="${FALLBACK_REPLICAS_METRIC_TYPE}" AND resource.type="global" AND metric.label.fleet=${fleetLabel}`,
          comparison: 'COMPARISON_GT',
          thresholdValue: 0,
          duration: `${s.fallbackHours * 3600}s`,
          aggregations: [{ alignmentPeriod: '300s', perSeriesAligner: 'ALIGN_MIN', crossSeriesReducer: 'REDUCE_SUM' }],
        },
      },
      fallbackDescriptor ? [fallbackDescriptor] : [],
    );
    policies.push(this.preemptionsPolicy, this.fallbackActivePolicy);
    this.policies = policies;
  }

  /** One alert policy of the fleet: its name prefixed, the channels, ERROR severity, markdown documentation. */
  private createPolicy(props: GcpFleetAlertsProps, pid: string, displayName: string, content: string, condition: MonitoringAlertPolicyConditions, dependsOn: ITerraformDependable[]): MonitoringAlertPolicy {
    return new MonitoringAlertPolicy(this, pid, {
      project: props.project,
      displayName: `${props.fleetName}: ${displayName}`,
      combiner: 'OR',
      conditions: [condition],
      notificationChannels: props.notificationChannels,
      severity: 'ERROR',
      userLabels: { 'spot-fleet': props.fleetName },
      documentation: { content, mimeType: 'text/markdown' },
      dependsOn: dependsOn.length > 0 ? dependsOn : undefined,
    });
  }
}

interface ValidatedAlerts {
  readonly minServingInstances: number;
  readonly maxPreemptionsPerHour: number;
  readonly fallbackHours: number;
}

function validate(props: GcpFleetAlertsProps, scope: string): ValidatedAlerts {
  const v = new ProblemCollector();
  const C = FleetSpecErrorCode;
  const known = (x: unknown): boolean => x !== undefined && !Token.isUnresolved(x);
  const minServing = props.minServingInstances ?? 1;
  if (known(props.minServingInstances) && !(Number.isInteger(minServing) && minServing >= 1)) {
    v.add(C.ALARM_THRESHOLD, 'minServingInstances', `minServingInstances (${minServing}) must be a whole number, 1 or more: the alert opens below it; use 1`);
  }
  const maxPreemptions = props.maxPreemptionsPerHour ?? 3;
  if (known(props.maxPreemptionsPerHour) && !(Number.isInteger(maxPreemptions) && maxPreemptions >= 0)) {
    v.add(C.ALARM_THRESHOLD, 'maxPreemptionsPerHour', `maxPreemptionsPerHour (${maxPreemptions}) must be a whole number, 0 or more (0 alerts on every preemption); use e.g. 3`);
  }
  const hours = props.fallbackActiveAlertAfterHours ?? 6;
  if (known(props.fallbackActiveAlertAfterHours) && !(Number.isInteger(hours) && hours >= 1 && hours <= 24)) {
    v.add(C.ALARM_THRESHOLD, 'fallbackActiveAlertAfterHours', `fallbackActiveAlertAfterHours (${hours}) must be a whole number of hours from 1 to 24; use e.g. 6`);
  }
  if (!Token.isUnresolved(props.instanceGroupNames) && props.instanceGroupNames.length === 0) {
    v.add(C.ALERT_TARGETS, 'instanceGroupNames', 'instanceGroupNames is empty; give the names of the fleet\'s spot and on-demand managed instance groups');
  }
  if (props.metricFleetNames !== undefined && !Token.isUnresolved(props.metricFleetNames) && props.metricFleetNames.length === 0) {
    v.add(C.ALERT_TARGETS, 'metricFleetNames', 'metricFleetNames is empty; give the fleet label values the preemption and fallback metrics carry (the fleets\' names), or leave it out for [fleetName]');
  }
  if (!Token.isUnresolved(props.fleetName) && !/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(props.fleetName)) {
    v.add(C.GCP_RESOURCE_NAME, 'fleetName', `fleetName ("${props.fleetName}") must be a Google Cloud resource name: lower-case letters, digits and "-", starting with a letter`);
  }
  v.throwIfAny(scope);
  return { minServingInstances: minServing, maxPreemptionsPerHour: maxPreemptions, fallbackHours: hours };
}
