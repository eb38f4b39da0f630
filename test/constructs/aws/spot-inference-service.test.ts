import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { InferenceLoadBalancerType, SpotInferenceService } from '../../../constructs/aws';
import { AGENT_BUNDLE, GPU_TYPES, stackWithVpc } from './fixtures';
import { DRAIN_ENV } from '../../../lib/handlers/aws/drain-settings';
import { lazy } from '../../support/lazy';

/** The drain function's environment variables. */
function drainEnv(from: Stack | Template): Record<string, unknown> {
  const template = from instanceof Template ? from : Template.fromStack(from);
  const fns = Object.values(template.findResources('AWS::Lambda::Function')) as Array<{ Properties: { Environment?: { Variables?: Record<string, unknown> } } }>;
  const fn = fns.find((f) => f.Properties.Environment?.Variables?.[DRAIN_ENV.AUTO_SCALING_GROUP_NAME] !== undefined);
  return fn!.Properties.Environment!.Variables!;
}

function service(extra: object = {}) {
  const { stack, vpc } = stackWithVpc();
  const svc = new SpotInferenceService(stack, 'Svc', {
    vpc, minCapacity: 2, maxCapacity: 6, onDemandBaseCapacity: 1, onDemandPercentageAboveBaseCapacity: 20,
    instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE }, ...extra,
  });
  return { stack, svc };
}

/** The service with the defaults, synthesized once for the tests that only read it. */
const defaultService = lazy(() => {
  const { stack, svc } = service();
  return { stack, svc, t: Template.fromStack(stack) };
});

describe('SpotInferenceService', () => {
  const { stack, svc, t } = defaultService();

  test('composes a fleet and an ALB, with ELB health checks and the agent health port', () => {
    // the spot fleet's group, the on-demand fallback group and the fallback's spare spot group
    t.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 3);
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 1);
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      HealthCheckType: 'ELB',
      TargetGroupARNs: [Match.anyValue()],
      MixedInstancesPolicy: Match.objectLike({ InstancesDistribution: Match.objectLike({ OnDemandBaseCapacity: 1, OnDemandPercentageAboveBaseCapacity: 20 }) }),
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { HealthCheckPort: '9901', Port: 8080 });
  });

  test('exposes what an interruption handler or a fallback controller needs', () => {
    expect(svc.autoScalingGroupName).toBe(svc.fleet.autoScalingGroupName);
    expect(svc.autoScalingGroup).toBe(svc.fleet.autoScalingGroup);
    expect(svc.targetGroups).toEqual([svc.loadBalancer.targetGroup]);
    expect(svc.targetGroupArns).toHaveLength(1);
    expect(svc.terminationHookName).toBe('spot-inference-drain');
    expect(svc.connections).toBe(svc.fleet.connections);
    expect(svc.grantPrincipal).toBe(svc.fleet.role);
    expect(svc.url).toMatch(/^http:\/\//);
  });

  test('attaches the interruption pipeline by default, waiting for the deregistration delay plus the drain budget', () => {
    expect(svc.interruptionHandler).toBeDefined();
    t.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ source: ['aws.ec2'], 'detail-type': ['EC2 Spot Instance Interruption Warning'] }),
    });
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        source: ['aws.autoscaling'],
        'detail-type': ['EC2 Instance-terminate Lifecycle Action'],
        detail: Match.objectLike({ LifecycleHookName: ['spot-inference-drain'] }),
      }),
    });
    const fn = Object.values(t.findResources('AWS::Lambda::Function')).find((f: any) => f.Properties.Environment?.Variables);
    const env = (fn as any).Properties.Environment.Variables;
    // 30 s deregistration delay + 45 s drain budget (AWS defaults); capacity rebalance is on, so a rebalance
    // recommendation does not also mark the instance unhealthy (that would launch two replacements).
    expect(JSON.stringify(env)).toMatch(/75/);
    expect(Object.entries(env).find(([k]) => /REBALANCE/.test(k))?.[1]).toBe('false');
  });

  test('the drain Lambda lets an interrupted instance serve through the notice as long as its agent does: 120 - 45 - 5 = 70 s', () => {
    expect(drainEnv(t)[DRAIN_ENV.SERVE_THROUGH_SECONDS]).toBe('70');
  });

  test('a custom drain budget changes how long it serves: 120 - 30 - 5 = 85 s', () => {
    expect(drainEnv(service({ drainBudgetSeconds: 30 }).stack)[DRAIN_ENV.SERVE_THROUGH_SECONDS]).toBe('85');
  });

  test('without the agent, or with agent.serveThroughNotice false, the warning deregisters at once (no serve-through setting)', () => {
    const off = drainEnv(service({ agent: { enabled: false } }).stack);
    expect(off[DRAIN_ENV.SERVE_THROUGH_SECONDS]).toBeUndefined();
    expect(off[DRAIN_ENV.AUTO_SCALING_GROUP_NAME]).toBeDefined();
    const noServe = drainEnv(service({ agent: { bundlePath: AGENT_BUNDLE, serveThroughNotice: false } }).stack);
    expect(noServe[DRAIN_ENV.SERVE_THROUGH_SECONDS]).toBeUndefined();
    expect(drainEnv(service({ agent: { bundlePath: AGENT_BUNDLE, serveThroughNotice: true } }).stack)[DRAIN_ENV.SERVE_THROUGH_SECONDS]).toBe('70');
  });

  test('a drain budget under 5 s serves just short of the handler\'s notice less its 10 s margin, not into it', () => {
    expect(drainEnv(service({ drainBudgetSeconds: 0 }).stack)[DRAIN_ENV.SERVE_THROUGH_SECONDS]).toBe('109');
  });

  test('interruptionHandling: false leaves the pipeline out', () => {
    const { stack, svc } = service({ interruptionHandling: false, onDemandFallback: false });
    expect(svc.interruptionHandler).toBeUndefined();
    Template.fromStack(stack).resourceCountIs('AWS::Events::Rule', 0);
  });

  test('attaches the on-demand fallback, the dashboard and the drill by default, wired to each other', () => {
    expect(svc.onDemandFallback).toBeDefined();
    expect(svc.dashboard).toBeDefined();
    expect(svc.interruptionDrill).toBeDefined();
    // The fallback controller listens to the interruption handler's spot-warning and launch-failure rules.
    const ruleTargets = Object.values(t.findResources('AWS::Events::Rule')).map((r: any) => (r.Properties.Targets ?? []).length);
    expect(ruleTargets.filter((n) => n === 2).length).toBe(2);
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    t.resourceCountIs('AWS::FIS::ExperimentTemplate', 2);
    // The drill stops on the dashboard's no-healthy-targets alarm.
    t.hasResourceProperties('AWS::FIS::ExperimentTemplate', {
      StopConditions: [{ Source: 'aws:cloudwatch:alarm', Value: Match.objectLike({ 'Fn::GetAtt': [Match.stringLikeRegexp('SvcDashboard'), 'Arn'] }) }],
    });
    // The dashboard's cost widget prices the first catalogued type (g5.xlarge).
    expect(JSON.stringify(t.findResources('AWS::CloudWatch::Dashboard'))).toMatch(/cost/i);
  });

  test('each of them can be left out', () => {
    const { stack, svc } = service({ onDemandFallback: false, dashboard: false, interruptionDrill: false });
    expect([svc.onDemandFallback, svc.dashboard, svc.interruptionDrill]).toEqual([undefined, undefined, undefined]);
    const tt = Template.fromStack(stack);
    tt.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 1);
    tt.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    tt.resourceCountIs('AWS::FIS::ExperimentTemplate', 0);
  });

  test('grants go to the instance role', () => {
    const { stack, svc } = service();
    const bucket = new s3.Bucket(stack, 'Data');
    bucket.grantRead(svc);
    const policies = Template.fromStack(stack).findResources('AWS::IAM::Policy');
    const onData = Object.values(policies).filter((p: any) => /"Data[0-9A-F]{8}"/.test(JSON.stringify(p.Properties.PolicyDocument)));
    const roles = onData.flatMap((p: any) => p.Properties.Roles.map((r: any) => r.Ref));
    expect(roles.length).toBeGreaterThan(0);
    expect(roles.every((r: string) => r.startsWith('SvcFleetInstanceRole'))).toBe(true);
  });

  test('metric helpers: in-service spot / on-demand estimates, healthy targets; group metrics are collected', () => {
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MetricsCollection: [{ Granularity: '1Minute' }] });
    const onDemand = svc.metricInServiceOnDemandInstances() as cloudwatch.MathExpression;
    const spot = svc.metricInServiceSpotInstances() as cloudwatch.MathExpression;
    expect(onDemand.expression).toBe('IF(inService <= 1, inService, 1 + (inService - 1) * 0.2)');
    expect(spot.expression).toBe('inService - (IF(inService <= 1, inService, 1 + (inService - 1) * 0.2))');
    const inService = onDemand.usingMetrics.inService as cloudwatch.Metric;
    expect(inService.namespace).toBe('AWS/AutoScaling');
    expect(inService.metricName).toBe('GroupInServiceInstances');
    expect(Stack.of(stack).resolve(inService.dimensions)).toEqual({ AutoScalingGroupName: { Ref: expect.stringMatching(/^SvcFleetGroup/) } });
    expect(svc.metricInServiceInstances().metricName).toBe('GroupInServiceInstances');
    expect(svc.metricHealthyTargets().metricName).toBe('HealthyHostCount');
    // The metrics render into an alarm.
    const { stack: s2, svc: svc2 } = service();
    new cloudwatch.Alarm(s2, 'NoSpot', { metric: svc2.metricInServiceSpotInstances(), threshold: 1, evaluationPeriods: 5, comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD });
    Template.fromStack(s2).hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([Match.objectLike({ Expression: spot.expression })]),
    });
  });

  test('passes the load balancer options through (NLB, internal)', () => {
    const { stack: s2, svc: s } = service({ loadBalancerType: InferenceLoadBalancerType.NETWORK, internetFacing: false });
    Template.fromStack(s2).hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Type: 'network', Scheme: 'internal' });
    expect(s.loadBalancer.networkLoadBalancer).toBeDefined();
  });

  test('fleet validation errors surface from the pattern', () => {
    expect(() => service({ onDemandBaseCapacity: 9 })).toThrow(/Test\/Svc\/Fleet: onDemandBaseCapacity \(9\) is above maxCapacity \(6\)/);
  });

  test('a loadBalancerType string that is not an InferenceLoadBalancerType value is refused', () => {
    expect(() => service({ loadBalancerType: 'alb' })).toThrow(/Test\/Svc: loadBalancerType \("alb"\) is not one of the InferenceLoadBalancerType values; use one of InferenceLoadBalancerType.APPLICATION \("application"\), InferenceLoadBalancerType.NETWORK \("network"\) \[UNKNOWN_ENUM_VALUE\]/);
  });
});

describe('SpotInferenceService synthesizes without warnings (cdk synth --strict)', () => {
  /** Warnings of a synthesized stack: the dashboard adds some while rendering, so synthesize the app first. */
  function warningsOf(stack: Stack): unknown[] {
    (stack.node.root as App).synth();
    return Annotations.fromStack(stack).findWarning('*', Match.anyValue()).map((w) => w.entry.data);
  }

  test('the default service, with its dashboard and cost widget, has no warning annotation', () => {
    const { stack, svc } = defaultService();
    expect(svc.dashboard?.metricEstimatedCostPerHour()).toBeDefined();
    expect(warningsOf(stack)).toEqual([]);
  });

  test('an NLB service without the fallback, and a service without a dashboard, neither', () => {
    for (const extra of [{ loadBalancerType: InferenceLoadBalancerType.NETWORK, onDemandFallback: false }, { dashboard: false }]) {
      expect(warningsOf(service(extra).stack)).toEqual([]);
    }
  });
});

describe('SpotInferenceService without cdk-monitoring-constructs installed (an optional peer)', () => {
  /** Loads the package's constructs in a module registry where cdk-monitoring-constructs cannot be found. */
  function withoutMonitoring<T>(fn: (mods: { aws: typeof import('../../../constructs/aws'); cdk: typeof import('aws-cdk-lib'); assertions: typeof import('aws-cdk-lib/assertions'); ec2: typeof import('aws-cdk-lib/aws-ec2') }) => T): T {
    let result: T;
    jest.isolateModules(() => {
      jest.doMock('cdk-monitoring-constructs', () => {
        throw new Error("Cannot find module 'cdk-monitoring-constructs'");
      });
      result = fn({ aws: require('../../../constructs/aws'), cdk: require('aws-cdk-lib'), assertions: require('aws-cdk-lib/assertions'), ec2: require('aws-cdk-lib/aws-ec2') });
    });
    jest.dontMock('cdk-monitoring-constructs');
    return result!;
  }

  function build(extra: object) {
    return withoutMonitoring(({ aws, cdk, assertions, ec2 }) => {
      const app = new cdk.App();
      const stack = new cdk.Stack(app, 'Test');
      const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
      const svc = new aws.SpotInferenceService(stack, 'Svc', {
        vpc, minCapacity: 2, maxCapacity: 6, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE }, ...extra,
      });
      return {
        svc,
        available: aws.FleetDashboard.isAvailable(),
        warnings: assertions.Annotations.fromStack(stack).findWarning('*', assertions.Match.anyValue()).map((w) => String(w.entry.data)),
        dashboards: Object.keys(assertions.Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard')).length,
        drills: Object.keys(assertions.Template.fromStack(stack).findResources('AWS::FIS::ExperimentTemplate')).length,
      };
    });
  }

  test('the default skips the dashboard with a warning naming the install command; the rest is built', () => {
    const r = build({});
    expect(r.available).toBe(false);
    expect(r.svc.dashboard).toBeUndefined();
    expect(r.dashboards).toBe(0);
    expect(r.drills).toBeGreaterThan(0);
    expect(r.warnings).toEqual([expect.stringMatching(/^no dashboard: the fleet dashboard and its alarms are built with cdk-monitoring-constructs, which is not installed; run npm install cdk-monitoring-constructs@\^10 to get them, or set dashboard: false to silence this warning/)]);
  });

  test('dashboard: false builds none and warns of nothing', () => {
    const r = build({ dashboard: false });
    expect(r.dashboards).toBe(0);
    expect(r.warnings).toEqual([]);
  });

  test('dashboard: true fails at synth with the install command', () => {
    expect(() => build({ dashboard: true })).toThrow(/FleetDashboard builds its dashboard with cdk-monitoring-constructs, which is not installed \(Cannot find module 'cdk-monitoring-constructs'\); run npm install cdk-monitoring-constructs@\^10, or leave the dashboard out \(SpotInferenceService: dashboard: false\)/);
  });

  test('with it installed, isAvailable is true', () => {
    expect(require('../../../constructs/aws').FleetDashboard.isAvailable()).toBe(true);
  });
});
