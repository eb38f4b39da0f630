import { Duration, Names, Stack, Token } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
// Types only, and only in the implementation: the library is loaded when a dashboard is built (its require costs
// ~0.5 s), see loadMonitoring(), and the public declarations (fleet-dashboard.d.ts) never name its types, so a
// consumer type-checks without it installed (skipLibCheck: false).
import type * as monitoringLib from 'cdk-monitoring-constructs';
import type { MetricWithAlarmSupport, MonitoringFacade } from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import { findPrice, typicalSpotUsdPerHour } from '../../lib/catalog/prices';
import { DRAIN_METRIC } from '../../lib/handlers/aws/drain-settings';
import { FALLBACK_METRIC, FALLBACK_METRICS_NAMESPACE } from '../../lib/handlers/aws/fallback-settings';
import { Cloud } from '../../lib/spec/clouds';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { InterruptionHandler } from './interruption-handler';

/** The package to install for {@link FleetDashboard} (an optional peer dependency). */
export const MONITORING_PACKAGE_INSTALL = 'npm install cdk-monitoring-constructs@^10';

/**
 * What {@link FleetDashboard.forService} reads of a service: `SpotInferenceService` has it, and so can a team's own
 * composition of a fleet and a load balancer.
 */
export interface IFleetDashboardSource {
  /** The fleet's Auto Scaling group. */
  readonly autoScalingGroup: autoscaling.IAutoScalingGroup;
  /** The ALB target group the fleet registers in. @default - none (an NLB, or no load balancer) */
  readonly applicationTargetGroup?: elbv2.IApplicationTargetGroup;
  /** The NLB target group the fleet registers in. @default - none (an ALB, or no load balancer) */
  readonly networkTargetGroup?: elbv2.INetworkTargetGroup;
  /** Spot instances in service. */
  metricInServiceSpotInstances(): cloudwatch.IMetric;
  /** On-demand instances in service. */
  metricInServiceOnDemandInstances(): cloudwatch.IMetric;
}

/** Options of {@link FleetDashboard} that do not name the fleet's resources (reused by `FleetDashboard.forService`). */
export interface FleetDashboardOptions {
  /**
   * Name of the CloudWatch dashboard.
   * @default - `SpotFleet-` followed by a name unique to this construct
   */
  readonly dashboardName?: string;

  /**
   * The fleet's interruption handler: adds interruptions, rebalance recommendations, drain durations and
   * outcomes, the handler's queue and function, and the drain-failure and dead-letter alarms.
   * @default - no interruption widgets or alarms
   */
  readonly interruptionHandler?: InterruptionHandler;

  /**
   * On-demand replicas the fallback controller runs in place of missing spot capacity.
   * @default - `SpotInferenceConstructs`/`FallbackReplicas` with dimension `AutoScalingGroupName` = the group's name, Maximum per minute
   */
  readonly fallbackReplicasMetric?: cloudwatch.IMetric;

  /**
   * Instance type whose prices (from the package's price catalogue) give the estimated cost per hour.
   * Use `spotUsdPerHour` and `onDemandUsdPerHour` for a type the catalogue does not know.
   * @default - the prices given in `spotUsdPerHour` / `onDemandUsdPerHour`; without them no cost widget
   */
  readonly instanceType?: string;

  /**
   * Spot price of one instance, USD per hour (overrides the catalogue).
   * @default - the catalogue's typical spot price of `instanceType`
   */
  readonly spotUsdPerHour?: number;

  /**
   * On-demand price of one instance, USD per hour (overrides the catalogue).
   * @default - the catalogue's on-demand price of `instanceType`
   */
  readonly onDemandUsdPerHour?: number;

  /**
   * The no-healthy-targets alarm fires when healthy targets stay below this for `healthyTargetsEvaluationPeriods` minutes.
   * @default 1
   */
  readonly minHealthyTargets?: number;

  /**
   * Consecutive minutes below `minHealthyTargets` before the no-healthy-targets alarm fires.
   * @default 2
   */
  readonly healthyTargetsEvaluationPeriods?: number;

  /**
   * The fallback alarm fires when fallback replicas have been running for this long without a break (whole hours, 1 to 168).
   * @default Duration.hours(6)
   */
  readonly fallbackActiveAlarmAfter?: Duration;

  /**
   * Actions to run when any alarm of the dashboard fires (e.g. an SNS topic action).
   * @default - none
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
}

/** Properties of {@link FleetDashboard}. */
export interface FleetDashboardProps extends FleetDashboardOptions {
  /** The fleet's Auto Scaling group. */
  readonly autoScalingGroup: autoscaling.IAutoScalingGroup;

  /**
   * The ALB target group of the fleet: healthy targets, target 5xx, latency p50/p99, no-healthy-targets alarm.
   * @default - none
   */
  readonly applicationTargetGroup?: elbv2.IApplicationTargetGroup;

  /**
   * The NLB target group of the fleet: healthy targets, no-healthy-targets alarm.
   * @default - none
   */
  readonly networkTargetGroup?: elbv2.INetworkTargetGroup;

  /**
   * Spot instances in service (e.g. `SpotInferenceService.metricInServiceSpotInstances()`). Give it with
   * `onDemandInstancesMetric`; CloudWatch has no per-purchase-option group metric.
   * @default - the instances widget shows the total in service only, and there is no cost widget
   */
  readonly spotInstancesMetric?: cloudwatch.IMetric;

  /**
   * On-demand instances in service (e.g. `SpotInferenceService.metricInServiceOnDemandInstances()`).
   * @default - see `spotInstancesMetric`
   */
  readonly onDemandInstancesMetric?: cloudwatch.IMetric;
}

/**
 * A CloudWatch dashboard and alarms for one spot fleet, built with cdk-monitoring-constructs: spot vs on-demand
 * instances in service, interruptions and rebalance recommendations per hour, drain durations and outcomes,
 * fallback replicas, healthy targets, target 5xx and latency p50/p99, and the estimated cost per hour next to
 * the cost of the same fleet all on-demand.
 *
 * Alarms: no healthy targets, drain failures (drains that ran out of budget or failed), interruption events in
 * the dead-letter queue, and fallback active for longer than `fallbackActiveAlarmAfter`.
 *
 * @example
 * FleetDashboard.forService(this, 'Dashboard', service, { interruptionHandler, instanceType: 'g5.xlarge' });
 */
export class FleetDashboard extends Construct {
  /** A dashboard with every signal the service exposes. */
  public static forService(scope: Construct, id: string, service: IFleetDashboardSource, options: FleetDashboardOptions = {}): FleetDashboard {
    return new FleetDashboard(scope, id, {
      ...options,
      autoScalingGroup: service.autoScalingGroup,
      applicationTargetGroup: service.applicationTargetGroup,
      networkTargetGroup: service.networkTargetGroup,
      spotInstancesMetric: service.metricInServiceSpotInstances(),
      onDemandInstancesMetric: service.metricInServiceOnDemandInstances(),
    });
  }

  /**
   * Whether cdk-monitoring-constructs (the optional peer the dashboard is built with) can be loaded. Without it,
   * `SpotInferenceService` skips its dashboard with a warning, and `new FleetDashboard` throws.
   */
  public static isAvailable(): boolean {
    try {
      loadMonitoring();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The cdk-monitoring-constructs `MonitoringFacade` the dashboard is built with; add more monitoring to the same
   * dashboard with it: `(dashboard.monitoring as MonitoringFacade).monitorLambdaFunction(...)`. Typed as a
   * `Construct` so that this package's declarations do not need cdk-monitoring-constructs installed.
   */
  public readonly monitoring: Construct;
  /** The CloudWatch dashboard. */
  public readonly dashboard: cloudwatch.Dashboard;
  /** Fires when healthy targets fall below `minHealthyTargets` (when a target group is given). Use it as a drill's stop condition. */
  public readonly noHealthyTargetsAlarm?: cloudwatch.Alarm;
  /** Fires when a drain ran out of budget or failed (when an interruption handler is given). */
  public readonly drainFailuresAlarm?: cloudwatch.Alarm;
  /** Fires when an interruption event reached the dead-letter queue: the handler's own alarm (when a handler is given). */
  public readonly deadLetterAlarm?: cloudwatch.IAlarm;
  /** Fires when fallback replicas have been running for longer than `fallbackActiveAlarmAfter`. */
  public readonly fallbackActiveAlarm: cloudwatch.Alarm;
  /** Every alarm above. */
  public readonly alarms: cloudwatch.IAlarm[];
  /** Fallback replicas metric the dashboard shows. */
  public readonly fallbackReplicasMetric: cloudwatch.IMetric;

  private readonly costPerHour?: cloudwatch.MathExpression;
  private readonly allOnDemandCostPerHour?: cloudwatch.MathExpression;

  constructor(scope: Construct, id: string, props: FleetDashboardProps) {
    super(scope, id);
    const s = validate(props, this.node.path, Stack.of(this).region);
    const asg = props.autoScalingGroup;
    const handler = props.interruptionHandler;
    const dashboardName = props.dashboardName ?? `SpotFleet-${Names.uniqueResourceName(this, { maxLength: 200, separator: '-' })}`;
    const monitoring = this.createMonitoring(dashboardName);
    this.monitoring = monitoring;

    // Metrics.
    this.fallbackReplicasMetric = props.fallbackReplicasMetric ?? defaultFallbackReplicasMetric(asg.autoScalingGroupName);
    const instanceMetrics = instanceCountMetrics(props);
    const cost = this.costMetrics(props, s);
    this.costPerHour = cost?.costPerHour;
    this.allOnDemandCostPerHour = cost?.allOnDemandCostPerHour;
    const targets = targetHealthMetrics(props);

    // Alarms, with explicit thresholds.
    const alarms: cloudwatch.IAlarm[] = [];
    if (targets) {
      this.noHealthyTargetsAlarm = this.createNoHealthyTargetsAlarm(targets.healthy, asg, s);
      alarms.push(this.noHealthyTargetsAlarm);
    }
    if (handler) {
      this.drainFailuresAlarm = this.createDrainFailuresAlarm(handler, asg);
      this.deadLetterAlarm = handler.dlqAlarm;
      alarms.push(this.drainFailuresAlarm, this.deadLetterAlarm);
    }
    this.fallbackActiveAlarm = this.createFallbackActiveAlarm(asg, s);
    alarms.push(this.fallbackActiveAlarm);
    addAlarmActions(alarms, props.alarmActions ?? [], handler);
    this.alarms = alarms;

    // Dashboard.
    this.addFleetWidgets(monitoring, props, dashboardName, alarms, instanceMetrics, targets);
    this.addResourceMonitoring(monitoring, asg, handler, dashboardName);
    this.dashboard = monitoring.createdDashboard()!;
  }

  /** Estimated cost of the fleet, USD per hour (when prices and the spot/on-demand split are known). */
  public metricEstimatedCostPerHour(): cloudwatch.IMetric | undefined {
    return this.costPerHour;
  }

  /** Cost of the same instances all on-demand, USD per hour (when prices and the split are known). */
  public metricAllOnDemandCostPerHour(): cloudwatch.IMetric | undefined {
    return this.allOnDemandCostPerHour;
  }

  /** The cdk-monitoring-constructs facade that builds the one dashboard (no summary or alarm dashboards). */
  private createMonitoring(dashboardName: string): MonitoringFacade {
    const { MonitoringFacade: Facade, DefaultDashboardFactory } = loadMonitoring();
    return new Facade(this, 'Monitoring', {
      dashboardFactory: new DefaultDashboardFactory(this, 'Dashboards', {
        dashboardNamePrefix: dashboardName,
        createDashboard: true,
        createSummaryDashboard: false,
        createAlarmDashboard: false,
      }),
    });
  }

  /** The estimated cost per hour and that of the same fleet all on-demand (with prices and the spot/on-demand split). */
  private costMetrics(props: FleetDashboardProps, s: ValidatedDashboard): { costPerHour: cloudwatch.MathExpression; allOnDemandCostPerHour: cloudwatch.MathExpression } | undefined {
    if (!(props.spotInstancesMetric && props.onDemandInstancesMetric && s.prices)) return undefined;
    // Fallback replicas run in the controller's own on-demand group, outside the spot group's counts.
    const using = { spot: props.spotInstancesMetric, onDemand: props.onDemandInstancesMetric, fallback: this.fallbackReplicasMetric };
    return {
      costPerHour: new cloudwatch.MathExpression({
        expression: `spot * ${s.prices.spot} + (onDemand + FILL(fallback, 0)) * ${s.prices.onDemand}`,
        usingMetrics: using,
        label: `Estimated cost, USD/h (spot ${s.prices.spot}, on-demand ${s.prices.onDemand})`,
        // The period of the instance counts it multiplies: a rate in USD/h at each minute. A longer period here
        // would make CloudWatch override the counts' periods (a synth warning that fails `cdk synth --strict`).
        period: Duration.minutes(1),
      }),
      allOnDemandCostPerHour: new cloudwatch.MathExpression({
        expression: `(spot + onDemand + FILL(fallback, 0)) * ${s.prices.onDemand}`,
        usingMetrics: using,
        label: 'Same fleet all on-demand, USD/h',
        period: Duration.minutes(1),
      }),
    };
  }

  private createNoHealthyTargetsAlarm(healthyMetric: cloudwatch.Metric, asg: autoscaling.IAutoScalingGroup, s: ValidatedDashboard): cloudwatch.Alarm {
    return healthyMetric.createAlarm(this, 'NoHealthyTargetsAlarm', {
      alarmDescription: `Healthy targets of ${asg.node.path} below ${s.minHealthyTargets} for ${s.healthyTargetsEvaluationPeriods} min: the service is down or degraded. Also stops interruption drills.`,
      threshold: s.minHealthyTargets,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: s.healthyTargetsEvaluationPeriods,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
  }

  private createDrainFailuresAlarm(handler: InterruptionHandler, asg: autoscaling.IAutoScalingGroup): cloudwatch.Alarm {
    return new cloudwatch.MathExpression({
      expression: 'FILL(budgetSpent, 0) + FILL(errors, 0)',
      usingMetrics: { budgetSpent: drainOutcomeMetric(handler, 'BudgetSpent'), errors: drainOutcomeMetric(handler, 'Error') },
      label: 'Drains that ran out of budget or failed',
      period: Duration.minutes(5),
    }).createAlarm(this, 'DrainFailuresAlarm', {
      alarmDescription: `Drains of ${asg.node.path} ran out of budget or failed: requests may have been cut off. Check the drain function's logs and the deregistration delay.`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private createFallbackActiveAlarm(asg: autoscaling.IAutoScalingGroup, s: ValidatedDashboard): cloudwatch.Alarm {
    // Minimum over each hour > 0 for N hours in a row = never back to zero for N hours.
    const fb = this.fallbackReplicasMetric;
    const hourly = fb instanceof cloudwatch.Metric
      ? fb.with({ statistic: cloudwatch.Stats.MINIMUM, period: Duration.hours(1) })
      : fb instanceof cloudwatch.MathExpression ? fb.with({ period: Duration.hours(1) }) : fb;
    return new cloudwatch.Alarm(this, 'FallbackActiveAlarm', {
      metric: hourly,
      alarmDescription: `Fallback on-demand replicas of ${asg.node.path} have run for ${s.fallbackHours} h without a break: spot capacity has not come back. Add instance types or zones, or accept the on-demand cost.`,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: s.fallbackHours,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /** The header, the alarm status, and the fleet's own metric groups. */
  private addFleetWidgets(monitoring: MonitoringFacade, props: FleetDashboardProps, dashboardName: string, alarms: cloudwatch.IAlarm[],
    instanceMetrics: MetricWithAlarmSupport[], targets: TargetHealthMetrics | undefined): void {
    const { GraphWidgetType } = loadMonitoring();
    const handler = props.interruptionHandler;
    monitoring.addLargeHeader(`Spot fleet ${props.autoScalingGroup.node.path}`);
    monitoring.addWidget(new cloudwatch.AlarmStatusWidget({ title: 'Fleet alarms', alarms, width: 24, height: 3 }));
    const groups = [
      { title: 'Instances in service: spot vs on-demand', metrics: instanceMetrics, graphWidgetType: GraphWidgetType.STACKED_AREA },
      ...(handler ? interruptionGroups(handler, GraphWidgetType) : []),
      { title: 'Fallback replicas (on-demand in place of spot)', metrics: [supported(this.fallbackReplicasMetric, 'fallback')] },
      ...(targets ? [{ title: 'Targets', metrics: [targets.healthy.with({ label: 'Healthy targets' }), targets.unhealthy.with({ label: 'Unhealthy targets' })] }] : []),
      ...(props.applicationTargetGroup ? applicationTargetGroups(props.applicationTargetGroup) : []),
      ...(this.costPerHour ? [{ title: 'Estimated cost per hour vs all on-demand (USD)', metrics: [this.costPerHour, this.allOnDemandCostPerHour!] }] : []),
    ];
    monitoring.monitorCustom({
      alarmFriendlyName: `${dashboardName}-fleet`,
      humanReadableName: 'Spot fleet',
      metricGroups: groups,
    });
  }

  /** The library's own sections: the Auto Scaling group, and the handler's queue and function. */
  private addResourceMonitoring(monitoring: MonitoringFacade, asg: autoscaling.IAutoScalingGroup, handler: InterruptionHandler | undefined, dashboardName: string): void {
    monitoring.monitorAutoScalingGroup({ autoScalingGroup: asg, alarmFriendlyName: `${dashboardName}-asg` });
    if (handler) {
      monitoring.monitorSqsQueueWithDlq({ queue: handler.queue, deadLetterQueue: handler.deadLetterQueue, alarmFriendlyName: `${dashboardName}-events` });
      monitoring.monitorLambdaFunction({ lambdaFunction: handler.function, alarmFriendlyName: `${dashboardName}-drain` });
    }
  }
}

/** Fallback replicas, as the fallback controller publishes them: the most per minute. */
function defaultFallbackReplicasMetric(asgName: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: FALLBACK_METRICS_NAMESPACE,
    metricName: FALLBACK_METRIC.FALLBACK_REPLICAS,
    dimensionsMap: { AutoScalingGroupName: asgName },
    statistic: cloudwatch.Stats.MAXIMUM,
    period: Duration.minutes(1),
    label: 'Fallback (on-demand) replicas',
  });
}

/** Spot and on-demand in service (or the total, without the split), and the desired capacity. */
function instanceCountMetrics(props: FleetDashboardProps): MetricWithAlarmSupport[] {
  const asgName = props.autoScalingGroup.autoScalingGroupName;
  const groupMetric = (metricName: string, label: string): cloudwatch.Metric =>
    new cloudwatch.Metric({ namespace: 'AWS/AutoScaling', metricName, dimensionsMap: { AutoScalingGroupName: asgName }, statistic: cloudwatch.Stats.AVERAGE, period: Duration.minutes(1), label });
  const instanceMetrics: MetricWithAlarmSupport[] = props.spotInstancesMetric && props.onDemandInstancesMetric
    ? [supported(props.spotInstancesMetric, 'spot'), supported(props.onDemandInstancesMetric, 'onDemand')]
    : [groupMetric('GroupInServiceInstances', 'In service (spot + on-demand)')];
  instanceMetrics.push(groupMetric('GroupDesiredCapacity', 'Desired'));
  return instanceMetrics;
}

interface TargetHealthMetrics {
  readonly healthy: cloudwatch.Metric;
  readonly unhealthy: cloudwatch.Metric;
}

/** Healthy (minimum) and unhealthy (maximum) targets per minute of the fleet's target group, if it has one. */
function targetHealthMetrics(props: FleetDashboardProps): TargetHealthMetrics | undefined {
  const atg = props.applicationTargetGroup;
  const healthy = atg
    ? atg.metrics.healthyHostCount({ statistic: cloudwatch.Stats.MINIMUM, period: Duration.minutes(1) })
    : props.networkTargetGroup?.metrics.healthyHostCount({ statistic: cloudwatch.Stats.MINIMUM, period: Duration.minutes(1) });
  const unhealthy = atg
    ? atg.metrics.unhealthyHostCount({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1) })
    : props.networkTargetGroup?.metrics.unHealthyHostCount({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1) });
  return healthy ? { healthy, unhealthy: unhealthy! } : undefined;
}

/** Drains that ended with outcome `o`, per 5 minutes. */
function drainOutcomeMetric(handler: InterruptionHandler, o: string): cloudwatch.Metric {
  return handler.metric(`${DRAIN_METRIC.DRAIN_OUTCOME_PREFIX}${o}`, { statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5), label: `Drain ${o}` });
}

/** Every alarm but the handler's own dead-letter alarm (which has its own actions) runs each action. */
function addAlarmActions(alarms: cloudwatch.IAlarm[], actions: cloudwatch.IAlarmAction[], handler: InterruptionHandler | undefined): void {
  for (const action of actions) {
    for (const a of alarms) if (a instanceof cloudwatch.Alarm && a !== handler?.dlqAlarm) a.addAlarmAction(action);
  }
}

/** Interruptions and rebalance recommendations per hour, drain durations, and drain outcomes. */
function interruptionGroups(handler: InterruptionHandler, GraphWidgetType: typeof monitoringLib.GraphWidgetType) {
  const perHour = (m: cloudwatch.Metric | undefined): cloudwatch.Metric[] => (m ? [m.with({ period: Duration.hours(1), statistic: cloudwatch.Stats.SUM })] : []);
  return [
    {
      title: 'Interruptions and rebalance recommendations per hour',
      graphWidgetType: GraphWidgetType.BAR,
      metrics: [
        ...perHour(handler.metricInterruptions({ label: 'Spot interruption warnings' })),
        ...perHour(handler.metric(DRAIN_METRIC.REBALANCE_RECOMMENDATIONS, { label: 'Rebalance recommendations' })),
      ],
    },
    {
      title: 'Drain duration (s)',
      metrics: [
        handler.metricDrainDuration({ label: 'Drain duration, max', period: Duration.minutes(5) }),
        handler.metric(DRAIN_METRIC.DRAIN_DURATION, { statistic: 'p50', label: 'Drain duration, p50', period: Duration.minutes(5) }),
        handler.metricServeThroughDuration({ label: 'Served through the notice, max', period: Duration.minutes(5) }),
      ],
    },
    {
      title: 'Drain outcomes',
      graphWidgetType: GraphWidgetType.BAR,
      metrics: ['Drained', 'BudgetSpent', 'ActionGone', 'Error'].map((o) => drainOutcomeMetric(handler, o)),
    },
  ];
}

/** Target 5xx, and target response time p50/p99, of an ALB target group. */
function applicationTargetGroups(atg: elbv2.IApplicationTargetGroup) {
  return [
    {
      title: 'Target 5xx and latency',
      metrics: [
        atg.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { statistic: cloudwatch.Stats.SUM, period: Duration.minutes(1), label: 'Target 5xx' }),
      ],
    },
    {
      title: 'Target response time (s)',
      metrics: [
        atg.metrics.targetResponseTime({ statistic: cloudwatch.Stats.p(50), period: Duration.minutes(1), label: 'p50' }),
        atg.metrics.targetResponseTime({ statistic: cloudwatch.Stats.p(99), period: Duration.minutes(1), label: 'p99' }),
      ],
    },
  ];
}

/**
 * cdk-monitoring-constructs, loaded on first use: an AWS app that builds no dashboard neither pays for loading it
 * nor needs it installed.
 */
let monitoringModule: typeof monitoringLib | undefined;
function loadMonitoring(): typeof monitoringLib {
  try {
    monitoringModule ??= require('cdk-monitoring-constructs') as typeof monitoringLib;
    return monitoringModule;
  } catch (e) {
    throw new Error(`FleetDashboard builds its dashboard with cdk-monitoring-constructs, which is not installed (${(e as Error).message.split('\n')[0]}); run ${MONITORING_PACKAGE_INSTALL}, or leave the dashboard out (SpotInferenceService: dashboard: false)`);
  }
}

/** cdk-monitoring-constructs takes a Metric or a MathExpression; wrap any other IMetric. */
function supported(m: cloudwatch.IMetric, id: string): MetricWithAlarmSupport {
  if (m instanceof cloudwatch.Metric || m instanceof cloudwatch.MathExpression) return m;
  return new cloudwatch.MathExpression({ expression: id, usingMetrics: { [id]: m } });
}

interface ValidatedDashboard {
  readonly minHealthyTargets: number;
  readonly healthyTargetsEvaluationPeriods: number;
  readonly fallbackHours: number;
  readonly prices?: { readonly spot: number; readonly onDemand: number };
}

function validate(props: FleetDashboardProps, scope: string, region: string): ValidatedDashboard {
  const v = new ProblemCollector();
  const C = FleetSpecErrorCode;
  const known = (x: unknown): boolean => x !== undefined && !Token.isUnresolved(x);
  const minHealthy = props.minHealthyTargets ?? 1;
  if (known(props.minHealthyTargets) && !(Number.isInteger(minHealthy) && minHealthy >= 1)) {
    v.add(C.ALARM_THRESHOLD, 'minHealthyTargets', `minHealthyTargets (${minHealthy}) must be a whole number, 1 or more: the alarm fires below it; use 1`);
  }
  const periods = props.healthyTargetsEvaluationPeriods ?? 2;
  if (known(props.healthyTargetsEvaluationPeriods) && !(Number.isInteger(periods) && periods >= 1 && periods <= 1440)) {
    v.add(C.ALARM_THRESHOLD, 'healthyTargetsEvaluationPeriods', `healthyTargetsEvaluationPeriods (${periods}) must be a whole number of minutes from 1 to 1440 (CloudWatch allows one day of 1-minute periods); use e.g. 2`);
  }
  const after = props.fallbackActiveAlarmAfter ?? Duration.hours(6);
  let hours = 6;
  if (!after.isUnresolved()) {
    const secs = after.toSeconds();
    hours = secs / 3600;
    if (!(Number.isInteger(hours) && hours >= 1 && hours <= 168)) {
      v.add(C.ALARM_THRESHOLD, 'fallbackActiveAlarmAfter', `fallbackActiveAlarmAfter (${secs} s) must be whole hours from 1 to 168 (the alarm evaluates 1-hour periods, at most 7 days); use e.g. Duration.hours(6)`);
    }
  }
  if ((props.spotInstancesMetric === undefined) !== (props.onDemandInstancesMetric === undefined)) {
    v.add(C.AWS_DASHBOARD_INPUTS, props.spotInstancesMetric ? 'onDemandInstancesMetric' : 'spotInstancesMetric', 'spotInstancesMetric and onDemandInstancesMetric go together (the split of the instances in service); give both, e.g. service.metricInServiceSpotInstances() and service.metricInServiceOnDemandInstances(), or neither');
  }
  if (props.applicationTargetGroup && props.networkTargetGroup) {
    v.add(C.AWS_DASHBOARD_INPUTS, 'networkTargetGroup', 'applicationTargetGroup and networkTargetGroup are both set; give the one target group the fleet registers in');
  }
  let spot = props.spotUsdPerHour;
  let onDemand = props.onDemandUsdPerHour;
  for (const [prop, value] of [['spotUsdPerHour', spot], ['onDemandUsdPerHour', onDemand]] as const) {
    if (known(value) && !(Number.isFinite(value) && value! > 0)) {
      v.add(C.AWS_DASHBOARD_INPUTS, prop, `${prop} (${value}) must be a price above 0 USD per hour; use the price of one instance, e.g. 0.4`);
    }
  }
  if (props.instanceType !== undefined && !Token.isUnresolved(props.instanceType)) {
    try {
      const price = findPrice(Cloud.AWS, props.instanceType, Token.isUnresolved(region) ? undefined : region);
      spot = spot ?? Math.round(typicalSpotUsdPerHour(price) * 10000) / 10000;
      onDemand = onDemand ?? price.onDemandUsdPerHour;
    } catch (e) {
      const problems = (e as { problems?: { message: string }[] }).problems;
      v.add(FleetSpecErrorCode.INSTANCE_SELECTION, 'instanceType', problems ? problems[0].message : String(e));
    }
  } else if ((spot === undefined) !== (onDemand === undefined)) {
    v.add(C.AWS_DASHBOARD_INPUTS, spot === undefined ? 'spotUsdPerHour' : 'onDemandUsdPerHour', 'spotUsdPerHour and onDemandUsdPerHour go together (the cost widget needs both), unless instanceType names a type of the price catalogue; give both or neither');
  }
  if (spot !== undefined && onDemand !== undefined && !(props.spotInstancesMetric && props.onDemandInstancesMetric)) {
    v.add(C.AWS_DASHBOARD_INPUTS, 'spotInstancesMetric', 'the cost per hour needs the spot/on-demand split: give spotInstancesMetric and onDemandInstancesMetric (FleetDashboard.forService does), or leave the prices out');
  }
  v.throwIfAny(scope);
  return {
    minHealthyTargets: minHealthy,
    healthyTargetsEvaluationPeriods: periods,
    fallbackHours: hours,
    prices: spot !== undefined && onDemand !== undefined && known(spot) && known(onDemand) ? { spot, onDemand } : undefined,
  };
}
