import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cw_actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import {
  FleetDashboard,
  FleetDashboardProps,
  InferenceLoadBalancerType,
  InterruptionDrill,
  InterruptionHandler,
  SpotInferenceService,
} from '../../../constructs/aws';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec/errors';
import { AGENT_BUNDLE, GPU_TYPES, stackWithVpc } from './fixtures';

const ENV = { account: '123456789012', region: 'us-east-1' };

function serviceStack(extra: object = {}) {
  const { app, stack, vpc } = stackWithVpc(ENV);
  const service = new SpotInferenceService(stack, 'Svc', {
    vpc, minCapacity: 2, maxCapacity: 6, onDemandBaseCapacity: 1, onDemandPercentageAboveBaseCapacity: 0,
    instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE },
    // this file builds the dashboard by hand on the service's pieces
    interruptionHandling: false, onDemandFallback: false, dashboard: false, interruptionDrill: false,
    ...extra,
  });
  const handler = new InterruptionHandler(stack, 'Interruptions', {
    autoScalingGroup: service.autoScalingGroup,
    targetGroups: service.targetGroups,
    terminateLifecycleHookName: service.terminationHookName,
  });
  return { app, stack, service, handler };
}

/** The dashboard body, parsed, with CloudFormation tokens rendered as `TOKEN:<ref>`. */
function dashboardBody(t: Template): { text: string; widgets: any[] } {
  const dashboards = Object.values(t.findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  const body = (dashboards[0] as any).Properties.DashboardBody;
  const parts: unknown[] = body['Fn::Join'] ? body['Fn::Join'][1] : [body];
  const text = parts.map((p: any) => (typeof p === 'string' ? p : `TOKEN:${p.Ref ?? Object.keys(p)[0]}`)).join('');
  return { text, widgets: JSON.parse(text).widgets };
}

function widget(widgets: any[], title: RegExp): any {
  const w = widgets.find((x) => typeof x.properties?.title === 'string' && title.test(x.properties.title));
  expect(w).toBeDefined();
  return w;
}

describe('FleetDashboard.forService with an interruption handler and prices', () => {
  const { stack, service, handler } = serviceStack();
  const dash = FleetDashboard.forService(stack, 'Dashboard', service, { interruptionHandler: handler, instanceType: 'g5.xlarge', dashboardName: 'api-fleet' });
  const t = Template.fromStack(stack);
  const { widgets } = dashboardBody(t);

  test('one dashboard, named as asked', () => {
    t.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'api-fleet' });
    expect(dash.dashboard).toBeDefined();
  });

  test('spot vs on-demand in service, from the fleet estimates', () => {
    const w = widget(widgets, /^Instances in service: spot vs on-demand/);
    const exprs = w.properties.metrics.filter((m: any[]) => m[0]?.expression).map((m: any[]) => m[0].expression);
    expect(exprs).toEqual(expect.arrayContaining(['inService - (IF(inService <= 1, inService, 1 + (inService - 1) * 0))', 'IF(inService <= 1, inService, 1 + (inService - 1) * 0)']));
    expect(JSON.stringify(w)).toMatch(/GroupInServiceInstances/);
    expect(JSON.stringify(w)).toMatch(/GroupDesiredCapacity/);
  });

  test('interruptions and rebalance recommendations per hour from the drain function', () => {
    const w = widget(widgets, /^Interruptions and rebalance recommendations per hour/);
    const s = JSON.stringify(w.properties.metrics);
    expect(s).toMatch(/"SpotInference","InterruptionsSeen"/);
    expect(s).toMatch(/"SpotInference","RebalanceRecommendations"/);
    expect(w.properties.metrics.every((m: any[]) => m[m.length - 1].stat === 'Sum' && m[m.length - 1].period === 3600)).toBe(true);
  });

  test('drain durations and outcomes', () => {
    expect(JSON.stringify(widget(widgets, /^Drain duration/).properties.metrics)).toMatch(/DrainDurationSeconds.*"stat":"Maximum".*DrainDurationSeconds.*"stat":"p50".*ServeThroughSeconds.*"stat":"Maximum"/);
    const outcomes = JSON.stringify(widget(widgets, /^Drain outcomes/).properties.metrics);
    for (const o of ['Drained', 'BudgetSpent', 'ActionGone', 'Error']) expect(outcomes).toContain(`"DrainOutcome${o}"`);
  });

  test('fallback replicas: SpotInferenceConstructs/FallbackReplicas by AutoScalingGroupName', () => {
    const s = JSON.stringify(widget(widgets, /^Fallback replicas/).properties.metrics);
    expect(s).toMatch(/"SpotInferenceConstructs","FallbackReplicas","AutoScalingGroupName"/);
  });

  test('healthy targets, target 5xx, latency p50 and p99', () => {
    expect(JSON.stringify(widget(widgets, /^Targets/).properties.metrics)).toMatch(/HealthyHostCount.*UnHealthyHostCount/);
    expect(JSON.stringify(widget(widgets, /^Target 5xx/).properties.metrics)).toMatch(/"AWS\/ApplicationELB","HTTPCode_Target_5XX_Count"/);
    const latency = JSON.stringify(widget(widgets, /^Target response time/).properties.metrics);
    expect(latency).toMatch(/TargetResponseTime.*"stat":"p50".*TargetResponseTime.*"stat":"p99"/);
  });

  test('estimated cost per hour vs all on-demand, with the catalogue prices of g5.xlarge', () => {
    const w = widget(widgets, /^Estimated cost per hour vs all on-demand/);
    const exprs = w.properties.metrics.filter((m: any[]) => m[0]?.expression).map((m: any[]) => m[0].expression);
    // g5.xlarge us-east-1: spot 0.397-0.418 -> 0.4075, on-demand 1.006
    // Fallback replicas run in the controller's on-demand group, outside the spot group: billed on-demand.
    expect(exprs).toEqual(expect.arrayContaining(['spot * 0.4075 + (onDemand + FILL(fallback, 0)) * 1.006', '(spot + onDemand + FILL(fallback, 0)) * 1.006']));
    // The nested spot / on-demand estimates are inputs, not lines of their own.
    const hidden = w.properties.metrics.filter((m: any[]) => m[0]?.expression && m[0].visible === false).map((m: any[]) => m[0].expression);
    expect(hidden).toHaveLength(exprs.length - 2);
    expect(JSON.stringify(w.properties.metrics)).toMatch(/"SpotInferenceConstructs","FallbackReplicas"/);
    expect(dash.metricEstimatedCostPerHour()).toBeDefined();
    expect(dash.metricAllOnDemandCostPerHour()).toBeDefined();
  });

  test('library widgets for the group, the event queue and the drain function, and an alarm status row', () => {
    const s = JSON.stringify(widgets);
    expect(s).toMatch(/GroupTotalInstances|GroupPendingInstances/);
    expect(s).toMatch(/ApproximateNumberOfMessagesVisible/);
    expect(s).toMatch(/"AWS\/Lambda","Invocations"|"AWS\/Lambda","Errors"|Duration/);
    const status = widgets.find((w) => w.type === 'alarm');
    expect(status.properties.alarms).toHaveLength(4);
  });

  test('alarm: no healthy targets (Minimum < 1 for 2 minutes, missing data breaches)', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'HealthyHostCount',
      Statistic: 'Minimum',
      Period: 60,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 2,
      TreatMissingData: 'breaching',
    });
  });

  test('alarm: drain failures (BudgetSpent + Error >= 1 in 5 minutes)', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'FILL(budgetSpent, 0) + FILL(errors, 0)' }),
        Match.objectLike({ Id: 'budgetSpent', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'DrainOutcomeBudgetSpent', Namespace: 'SpotInference' }), Period: 300, Stat: 'Sum' }) }),
        Match.objectLike({ Id: 'errors', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'DrainOutcomeError' }) }) }),
      ]),
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  test('alarm: DLQ not empty is the handler\'s own alarm', () => {
    expect(dash.deadLetterAlarm).toBe(handler.dlqAlarm);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
  });

  test('alarm: fallback active for 6 hours without a break (hourly Minimum > 0, 6 periods)', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: [
        Match.objectLike({
          MetricStat: {
            Metric: { Namespace: 'SpotInferenceConstructs', MetricName: 'FallbackReplicas', Dimensions: [{ Name: 'AutoScalingGroupName', Value: { Ref: Match.stringLikeRegexp('^SvcFleetGroup') } }] },
            Period: 3600,
            Stat: 'Minimum',
          },
        }),
      ],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 6,
      TreatMissingData: 'notBreaching',
    });
    expect(dash.alarms).toEqual([dash.noHealthyTargetsAlarm, dash.drainFailuresAlarm, handler.dlqAlarm, dash.fallbackActiveAlarm]);
  });
});

describe('FleetDashboard options', () => {
  test('thresholds, a custom fallback metric and alarm actions', () => {
    const { stack, service } = serviceStack();
    const topic = new sns.Topic(stack, 'Pager', { enforceSSL: true });
    const fallback = new cloudwatch.Metric({ namespace: 'MyController', metricName: 'OnDemandReplicas', statistic: 'Maximum' });
    FleetDashboard.forService(stack, 'Dashboard', service, {
      minHealthyTargets: 2,
      healthyTargetsEvaluationPeriods: 3,
      fallbackActiveAlarmAfter: Duration.hours(2),
      fallbackReplicasMetric: fallback,
      alarmActions: [new cw_actions.SnsAction(topic)],
      spotUsdPerHour: 0.3,
      onDemandUsdPerHour: 1,
    });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'HealthyHostCount', Threshold: 2, EvaluationPeriods: 3, AlarmActions: [{ Ref: Match.stringLikeRegexp('^Pager') }] });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'MyController', MetricName: 'OnDemandReplicas', Statistic: 'Minimum', Period: 3600, Threshold: 0, EvaluationPeriods: 2, AlarmActions: [{ Ref: Match.stringLikeRegexp('^Pager') }] });
    expect(JSON.stringify(dashboardBody(t).widgets)).toContain('spot * 0.3 + (onDemand + FILL(fallback, 0)) * 1');
  });

  test('any group: imported group, NLB target group, no handler, no prices', () => {
    const stack = new Stack(new App(), 'Any', { env: ENV });
    const asg = autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'Asg', 'inference-asg');
    const dash = new FleetDashboard(stack, 'Dashboard', { autoScalingGroup: asg });
    const t = Template.fromStack(stack);
    const { widgets } = dashboardBody(t);
    expect(JSON.stringify(widget(widgets, /^Instances in service/).properties.metrics)).toMatch(/GroupInServiceInstances.*inference-asg/);
    expect(widgets.find((w) => /cost/i.test(w.properties?.title ?? ''))).toBeUndefined();
    expect(widgets.find((w) => /Drain/.test(w.properties?.title ?? ''))).toBeUndefined();
    expect(dash.noHealthyTargetsAlarm).toBeUndefined();
    expect(dash.alarms).toEqual([dash.fallbackActiveAlarm]);
    t.resourceCountIs('AWS::CloudWatch::Alarm', 1);
  });

  test('NLB service: healthy targets from AWS/NetworkELB, no latency widget', () => {
    const { stack, service } = serviceStack({ loadBalancerType: InferenceLoadBalancerType.NETWORK });
    FleetDashboard.forService(stack, 'Dashboard', service);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/NetworkELB', MetricName: 'HealthyHostCount', Threshold: 1 });
    expect(dashboardBody(t).widgets.find((w) => /response time/.test(w.properties?.title ?? ''))).toBeUndefined();
  });

  test('the dashboard\'s no-healthy-targets alarm is the drill\'s stop condition', () => {
    const { stack, service } = serviceStack();
    const dash = FleetDashboard.forService(stack, 'Dashboard', service);
    new InterruptionDrill(stack, 'Drill', { autoScalingGroup: service.autoScalingGroup, stopConditionAlarm: dash.noHealthyTargetsAlarm });
    const t = Template.fromStack(stack);
    t.allResourcesProperties('AWS::FIS::ExperimentTemplate', {
      StopConditions: [{ Source: 'aws:cloudwatch:alarm', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DashboardNoHealthyTargetsAlarm'), 'Arn'] } }],
    });
  });
});

describe('FleetDashboard with the drill, the handler and the service: cdk-nag', () => {
  test('AwsSolutionsChecks finds nothing new from the dashboard, its alarms and the drill', () => {
    const { AwsSolutionsChecks } = require('cdk-nag');
    const { Validations } = require('aws-cdk-lib');
    const stack = new Stack(new App(), 'Nag', { env: ENV });
    const asg = autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'Asg', 'inference-asg');
    const handler = new InterruptionHandler(stack, 'Interruptions', { autoScalingGroup: asg });
    const dash = new FleetDashboard(stack, 'Dashboard', { autoScalingGroup: asg, interruptionHandler: handler });
    new InterruptionDrill(stack, 'Drill', { autoScalingGroup: asg, stopConditionAlarm: dash.fallbackActiveAlarm });
    const app = stack.node.root as App;
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });
});

describe('FleetDashboard validation', () => {
  const fail = (extra: Partial<FleetDashboardProps>): FleetSpecError => {
    const stack = new Stack(new App(), 'V', { env: ENV });
    const asg = autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'Asg', 'inference-asg');
    try {
      new FleetDashboard(stack, 'Dashboard', { autoScalingGroup: asg, ...extra });
    } catch (e) {
      return e as FleetSpecError;
    }
    throw new Error('expected a FleetSpecError');
  };
  const m = new cloudwatch.Metric({ namespace: 'X', metricName: 'Y' });

  test.each<[string, Partial<FleetDashboardProps>, RegExp, FleetSpecErrorCode]>([
    ['min healthy 0', { minHealthyTargets: 0 }, /minHealthyTargets \(0\) must be a whole number, 1 or more: the alarm fires below it; use 1/, FleetSpecErrorCode.ALARM_THRESHOLD],
    ['evaluation periods 0', { healthyTargetsEvaluationPeriods: 0 }, /healthyTargetsEvaluationPeriods \(0\) must be a whole number of minutes from 1 to 1440/, FleetSpecErrorCode.ALARM_THRESHOLD],
    ['fallback 90 min', { fallbackActiveAlarmAfter: Duration.minutes(90) }, /fallbackActiveAlarmAfter \(5400 s\) must be whole hours from 1 to 168 \(the alarm evaluates 1-hour periods, at most 7 days\); use e.g. Duration.hours\(6\)/, FleetSpecErrorCode.ALARM_THRESHOLD],
    ['fallback 8 days', { fallbackActiveAlarmAfter: Duration.days(8) }, /fallbackActiveAlarmAfter \(691200 s\) must be whole hours from 1 to 168/, FleetSpecErrorCode.ALARM_THRESHOLD],
    ['half a split', { spotInstancesMetric: m }, /spotInstancesMetric and onDemandInstancesMetric go together/, FleetSpecErrorCode.AWS_DASHBOARD_INPUTS],
    ['negative price', { spotUsdPerHour: -1, onDemandUsdPerHour: 1, spotInstancesMetric: m, onDemandInstancesMetric: m }, /spotUsdPerHour \(-1\) must be a price above 0 USD per hour/, FleetSpecErrorCode.AWS_DASHBOARD_INPUTS],
    ['half the prices', { spotUsdPerHour: 0.3 }, /spotUsdPerHour and onDemandUsdPerHour go together/, FleetSpecErrorCode.AWS_DASHBOARD_INPUTS],
    ['prices without the split', { spotUsdPerHour: 0.3, onDemandUsdPerHour: 1 }, /the cost per hour needs the spot\/on-demand split: give spotInstancesMetric and onDemandInstancesMetric/, FleetSpecErrorCode.AWS_DASHBOARD_INPUTS],
    ['type not in the catalogue', { instanceType: 'x9.huge', spotInstancesMetric: m, onDemandInstancesMetric: m }, /instanceType "x9.huge" is not in the aws price catalogue \(known: g4dn.xlarge, g5.xlarge/, FleetSpecErrorCode.INSTANCE_SELECTION],
  ])('%s', (_name, extra, message, code) => {
    const e = fail(extra);
    expect(e).toBeInstanceOf(FleetSpecError);
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
    expect(e.message).toMatch(/^V\/Dashboard|^Dashboard/);
  });
});

describe('The AWS example stack: SpotInferenceService brings the interruption handler, the dashboard and the drill', () => {
  test('cdk-nag AwsSolutions: no error or warning, no unacknowledged finding; the drill stops on the dashboard alarm', () => {
    const { AwsSolutionsChecks } = require('cdk-nag');
    const { exampleStack } = require('../../examples/aws-fixture');
    const { app, stack } = exampleStack();
    const service: SpotInferenceService = stack.service;
    app.synth();
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    const findings = report.violations.map((v: any) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r: any) => r.constructPath ?? r.resourceLogicalId).join(', ')}`);
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);

    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::FIS::ExperimentTemplate', 2);
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    expect(Object.keys(t.findOutputs('*')).filter((k) => /Drill/.test(k))).toHaveLength(4);
    expect(service.interruptionDrill!.stopConditionAlarm).toBe(service.dashboard!.noHealthyTargetsAlarm);
  });
});
