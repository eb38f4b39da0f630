import { Duration, Validations } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { OnDemandFallback, OnDemandFallbackProps } from '../../../constructs/aws/on-demand-fallback';
import { SpotFleet, SpotFleetProps } from '../../../constructs/aws/spot-fleet';
import { SpotInferenceService } from '../../../constructs/aws/spot-inference-service';
import { FALLBACK_ENV, FALLBACK_METRICS_NAMESPACE } from '../../../lib/handlers/aws/fallback-settings';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec/errors';
import { AGENT_BUNDLE, GPU_TYPES, stackWithVpc } from './fixtures';
import { lazy } from '../../support/lazy';

const ENV = { account: '123456789012', region: 'us-east-1' };

function serviceWithFallback(extra: Partial<OnDemandFallbackProps> = {}, env?: typeof ENV) {
  const { app, stack, vpc } = stackWithVpc(env);
  const svc = new SpotInferenceService(stack, 'Svc', {
    vpc, minCapacity: 2, maxCapacity: 6, onDemandBaseCapacity: 1,
    instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE }, autoScalingGroupName: 'inference',
    // this file attaches the fallback by hand
    onDemandFallback: false,
  });
  const fallback = new OnDemandFallback(stack, 'Fallback', { fleet: svc.fleet, interruptionHandler: svc.interruptionHandler, ...extra });
  return { app, stack, svc, fallback };
}

function fleetOnly(fleetExtra: Partial<SpotFleetProps> = {}, extra: Partial<OnDemandFallbackProps> = {}) {
  const { app, stack, vpc } = stackWithVpc();
  const fleet = new SpotFleet(stack, 'Fleet', {
    vpc, minCapacity: 1, maxCapacity: 4, onDemandBaseCapacity: 1,
    instanceTypes: ['g5.xlarge', 'g6.xlarge'], agent: { bundlePath: AGENT_BUNDLE }, autoScalingGroupName: 'fleet',
    ...fleetExtra,
  });
  const fallback = new OnDemandFallback(stack, 'Fallback', { fleet, ...extra });
  return { app, stack, fleet, fallback, t: Template.fromStack(stack) };
}

// Built once each for the tests that only read them (a test that adds to its stack builds its own).
const defaultFallback = lazy(() => serviceWithFallback());
const defaultFallbackInEnv = lazy(() => serviceWithFallback({}, ENV));
const defaultFleetOnly = lazy(() => fleetOnly());

const fallbackGroupOf = (t: Template) => Object.values(t.findResources('AWS::AutoScaling::AutoScalingGroup', { Properties: { AutoScalingGroupName: 'inference-od-fallback' } }));

describe('OnDemandFallback: the fallback group', () => {
  const { stack, svc } = defaultFallback();
  const t = Template.fromStack(stack);
  const spotCfn = stack.resolve((svc.autoScalingGroup.node.defaultChild as any).mixedInstancesPolicy.launchTemplate);

  test('an on-demand-only group on the fleet launch template, overrides, subnets and target groups; min 0, max = max - base, no desired', () => {
    t.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 3);
    const [group] = fallbackGroupOf(t);
    expect(group).toBeDefined();
    const spot = Object.values(t.findResources('AWS::AutoScaling::AutoScalingGroup', { Properties: { AutoScalingGroupName: 'inference' } }))[0];
    expect(group.Properties).toMatchObject({
      MinSize: '0',
      MaxSize: '5',
      CapacityRebalance: false,
      HealthCheckType: 'ELB',
      HealthCheckGracePeriod: spot.Properties.HealthCheckGracePeriod,
      VPCZoneIdentifier: spot.Properties.VPCZoneIdentifier,
      TargetGroupARNs: spot.Properties.TargetGroupARNs,
      MetricsCollection: [{ Granularity: '1Minute' }],
      MixedInstancesPolicy: {
        LaunchTemplate: spot.Properties.MixedInstancesPolicy.LaunchTemplate,
        InstancesDistribution: { OnDemandBaseCapacity: 0, OnDemandPercentageAboveBaseCapacity: 100, OnDemandAllocationStrategy: 'prioritized' },
      },
    });
    expect(group.Properties.DesiredCapacity).toBeUndefined();
    expect(group.Properties.LifecycleHookSpecificationList).toBeUndefined();
    expect(group.Properties.MixedInstancesPolicy.LaunchTemplate.Overrides.map((o: { InstanceType: string }) => o.InstanceType)).toEqual(GPU_TYPES);
    expect(spotCfn.overrides).toHaveLength(GPU_TYPES.length);
    // the spot group is untouched: its own base stays
    expect(spot.Properties.MixedInstancesPolicy.InstancesDistribution).toMatchObject({ OnDemandBaseCapacity: 1, OnDemandPercentageAboveBaseCapacity: 0 });
    expect(group.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^SvcFleetGroup/)]));
  });

  test('explicit target groups and max fallback capacity', () => {
    const { stack: s2, svc: svc2 } = serviceWithFallback({ maxFallbackCapacity: 2, targetGroups: [] });
    void svc2;
    const [group] = fallbackGroupOf(Template.fromStack(s2));
    expect(group.Properties.MaxSize).toBe('2');
    expect(group.Properties.TargetGroupARNs).toEqual([]);
  });

  test('instance requirements fleets: the fallback copies the requirements and uses lowest-price on-demand', () => {
    const { t: t2 } = fleetOnly({ instanceTypes: undefined, instanceRequirements: { vCpuCount: { min: 4 }, memoryMiB: { min: 16384 }, gpuCount: { min: 1 } } });
    const group = Object.values(t2.findResources('AWS::AutoScaling::AutoScalingGroup', { Properties: { AutoScalingGroupName: 'fleet-od-fallback' } }))[0];
    expect(group.Properties.MixedInstancesPolicy.LaunchTemplate.Overrides[0].InstanceRequirements).toMatchObject({ VCpuCount: { Min: 4 } });
    expect(group.Properties.MixedInstancesPolicy.InstancesDistribution.OnDemandAllocationStrategy).toBe('lowest-price');
    t2.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ [FALLBACK_ENV.INSTANCE_TYPES]: '' }) } });
  });

  test('a long fleet group name is shortened so the fallback name fits 255 characters', () => {
    const { fallback } = fleetOnly({ autoScalingGroupName: 'x'.repeat(255) });
    expect(fallback.fallbackGroupName).toHaveLength(255);
    expect(fallback.fallbackGroupName.endsWith('-od-fallback')).toBe(true);
  });
});

describe('OnDemandFallback: the controller', () => {
  const { stack, svc, fallback } = defaultFallback();
  const t = Template.fromStack(stack);

  test('Lambda: Node.js 24 on arm64 from the prebuilt bundle, reserved concurrency 1, JSON logs, settings in the environment', () => {
    const param = new Capture();
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      ReservedConcurrentExecutions: 1,
      Timeout: 60,
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
      Environment: {
        Variables: {
          SPOT_ASG_NAME: 'inference',
          FALLBACK_ASG_NAME: 'inference-od-fallback',
          FALLBACK_STATE_PARAMETER: { Ref: param },
          FALLBACK_ON_DEMAND_BASE: '1',
          FALLBACK_MAX_CAPACITY: '6',
          FALLBACK_INSTANCE_TYPES: GPU_TYPES.join(','),
          FALLBACK_LOOKBACK_SECONDS: '600',
          FALLBACK_POLICY_OPTIONS: '{}',
          POWERTOOLS_SERVICE_NAME: 'spot-fallback-controller',
          POWERTOOLS_METRICS_NAMESPACE: 'SpotInferenceConstructs',
        },
      },
    });
    expect(param.asString()).toMatch(/^FallbackState/);
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 900 });
  });

  test('state: one Standard SSM String parameter seeded with {}', () => {
    t.resourceCountIs('AWS::SSM::Parameter', 1);
    t.hasResourceProperties('AWS::SSM::Parameter', { Type: 'String', Value: '{}', Tier: 'Standard' });
  });

  test('schedule: rate(1 minute) by default, into the function', () => {
    t.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FallbackFunction'), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 900 } })],
    });
    const { t: t5 } = fleetOnly({}, { controlInterval: Duration.minutes(5) });
    t5.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
  });

  test("with an interruption handler, its launch-unsuccessful and spot-warning rules also invoke the controller (no new rules)", () => {
    const fnTarget = Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FallbackFunction'), 'Arn'] } });
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.autoscaling'], 'detail-type': ['EC2 Instance Launch Unsuccessful'], detail: { AutoScalingGroupName: [{ Ref: Match.stringLikeRegexp('^SvcFleetGroup') }] } },
      Targets: Match.arrayWith([fnTarget]),
    });
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.ec2'], 'detail-type': ['EC2 Spot Instance Interruption Warning'] },
      Targets: Match.arrayWith([fnTarget]),
    });
    expect(fallback.launchUnsuccessfulRule).toBeUndefined();
    expect(fallback.spotWarningRule).toBeUndefined();
    expect(svc.interruptionHandler!.launchUnsuccessfulRule).toBeDefined();
    // EventBridge may invoke the function
    t.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunction', Principal: 'events.amazonaws.com', SourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SvcInterruptionsLaunchUnsuccessfulRule'), 'Arn'] } });
  });

  test('without one, it has its own two rules with the same patterns (launch failures of the fleet, fallback and spare groups)', () => {
    const { t: t2, fallback: f2 } = defaultFleetOnly();
    t2.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.autoscaling'], 'detail-type': ['EC2 Instance Launch Unsuccessful'], detail: { AutoScalingGroupName: ['fleet', 'fleet-od-fallback', 'fleet-spare'] } },
    });
    t2.hasResourceProperties('AWS::Events::Rule', { EventPattern: { source: ['aws.ec2'], 'detail-type': ['EC2 Spot Instance Interruption Warning'] } });
    t2.resourceCountIs('AWS::Events::Rule', 3);
    expect(f2.launchUnsuccessfulRule).toBeDefined();
    expect(f2.spotWarningRule).toBeDefined();
  });

  test('metric: the namespace, name and dimension the fleet dashboard reads', () => {
    expect(FALLBACK_METRICS_NAMESPACE).toBe('SpotInferenceConstructs');
    const m = fallback.metricFallbackReplicas();
    expect(m.namespace).toBe('SpotInferenceConstructs');
    expect(m.metricName).toBe('FallbackReplicas');
    expect(m.dimensions).toEqual({ AutoScalingGroupName: 'inference' });
    expect(m.statistic).toBe('Maximum');
    expect(fallback.metricReadySpotReplicas().metricName).toBe('ReadySpotReplicas');
    expect(fallback.metricSpotLaunchFailures().statistic).toBe('Sum');
  });
});

describe('OnDemandFallback: scoped role', () => {
  const { stack, fallback } = defaultFallbackInEnv();
  const t = Template.fromStack(stack);
  const roleId = stack.getLogicalId(fallback.function!.role!.node.defaultChild as iam.CfnRole);
  const policies = Object.values(t.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]));
  const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Sid?: string; Action: string | string[]; Resource: unknown }>);

  test('SetDesiredCapacity on the fallback and spare groups only, UpdateAutoScalingGroup on the spare group only (by name; the UUID is *)', () => {
    const arn = (name: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/${name}`]] });
    const resize = statements.find((s) => s.Sid === 'ResizeItsOwnGroupsOnly')!;
    expect(resize.Action).toBe('autoscaling:SetDesiredCapacity');
    expect(resize.Resource).toEqual([arn('inference-od-fallback'), arn('inference-spare')]);
    const steer = statements.find((s) => s.Sid === 'SteerItsSpareGroupsOnly')!;
    expect(steer.Action).toBe('autoscaling:UpdateAutoScalingGroup');
    expect(steer.Resource).toEqual(arn('inference-spare'));
  });

  test('state read and write on its own parameter only', () => {
    const state = statements.find((s) => s.Sid === 'ReadAndWriteItsStateOnly')!;
    expect(state.Action).toEqual(['ssm:GetParameter', 'ssm:PutParameter']);
    expect(JSON.stringify(state.Resource)).toMatch(/parameter/);
    expect(JSON.stringify(state.Resource)).toMatch(/FallbackState/);
  });

  test('Describe* on * (AWS offers no resource-level permission for them); nothing else on *', () => {
    const star = statements.filter((s) => s.Resource === '*');
    expect(star).toEqual([
      expect.objectContaining({ Sid: 'DescribeActionsCannotBeScoped', Action: ['autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeScalingActivities', 'ec2:DescribeInstances'] }),
    ]);
    const actions = statements.flatMap((s) => ([] as string[]).concat(s.Action));
    expect(actions.filter((a) => !/^(autoscaling:Describe|ec2:Describe|logs:|ssm:GetParameter$|ssm:PutParameter$|autoscaling:SetDesiredCapacity$|autoscaling:UpdateAutoScalingGroup$)/.test(a))).toEqual([]);
  });

  test('no AWS managed policy on the role', () => {
    t.hasResourceProperties('AWS::IAM::Role', { Description: Match.stringLikeRegexp('On-demand fallback controller'), ManagedPolicyArns: Match.absent() });
  });
});

describe('OnDemandFallback and cdk-nag', () => {
  test('AwsSolutionsChecks as a synth plugin reports nothing under the fallback (acknowledged in the plugin spelling too)', () => {
    const { app } = serviceWithFallback({}, ENV);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    let message = '';
    try {
      app.synth();
    } catch (e) {
      message = (e as Error).message;
    }
    // The plugin does run here (the fixture VPC has no flow log) ...
    expect(message).toMatch(/AwsSolutions-VPC7/);
    // ... and finds nothing in the fallback's resources.
    expect(message).not.toMatch(/Test\/Fallback\//);
  });

  test('validateScope() finds nothing in the fallback either, and does catch a real finding', () => {
    const { app, fallback } = defaultFallback();
    app.synth();
    const report = new AwsSolutionsChecks(app).validateScope(fallback);
    expect(report.violations.map((v: { ruleName: string }) => v.ruleName)).toEqual([]);
    expect(report.success).toBe(true);
    const other = serviceWithFallback();
    other.fallback.function!.role!.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess'));
    other.app.synth();
    const bad = new AwsSolutionsChecks(other.app).validateScope(other.fallback);
    expect(bad.violations.map((v: { ruleName: string }) => v.ruleName)).toEqual([expect.stringMatching(/^AwsSolutions-IAM4\[Policy::.*ReadOnlyAccess\]/)]);
  });
});

describe('OnDemandFallback validation', () => {
  const build = (fleetExtra: Partial<SpotFleetProps>, extra: Partial<OnDemandFallbackProps>) => () => fleetOnly(fleetExtra, extra);

  test('appliesTo tells a fleet with room above its base from an all-on-demand one', () => {
    const { fleet } = defaultFleetOnly();
    expect(OnDemandFallback.appliesTo(fleet)).toBe(true);
    const { stack, vpc } = stackWithVpc();
    const allOnDemand = new SpotFleet(stack, 'Fleet', {
      vpc, minCapacity: 2, maxCapacity: 2, onDemandBaseCapacity: 2, instanceTypes: ['g5.xlarge', 'g6.xlarge'], agent: { bundlePath: AGENT_BUNDLE },
    });
    expect(OnDemandFallback.appliesTo(allOnDemand)).toBe(false);
  });

  test('a fleet that is all on-demand has nothing to fall back from', () => {
    expect(build({ maxCapacity: 2, onDemandBaseCapacity: 2, minCapacity: 2 }, {})).toThrow(
      /Fallback: the fleet's maxCapacity \(2\) leaves no room above its onDemandBaseCapacity \(2\): everything already runs on-demand.*\[CAPACITY_ORDER\]/,
    );
  });

  test('every bad prop is reported together, prefixed by the construct path, with value, limit and fix', () => {
    let err: FleetSpecError | undefined;
    try {
      fleetOnly({}, {
        maxFallbackCapacity: 7,
        controlInterval: Duration.seconds(30),
        launchFailureLookback: Duration.days(2),
        fallbackGroupName: 'fleet',
        policy: { scaleInStabilizationSeconds: -1 },
      });
    } catch (e) {
      err = e as FleetSpecError;
    }
    expect(err).toBeInstanceOf(FleetSpecError);
    expect(err!.code).toBe(FleetSpecErrorCode.FALLBACK_CAPACITY);
    expect(err!.family).toBe(FleetSpecErrorCode.CLOUD_CONSTRAINT);
    expect(err!.message).toMatch(/^Test\/Fallback: 5 problems/);
    expect(err!.message).toMatch(/maxFallbackCapacity \(7\) must be a whole number from 1 to 3 \(maxCapacity 4 minus onDemandBaseCapacity 1\).*leave it out to use 3/);
    expect(err!.message).toMatch(/controlInterval \(30 s\) must be whole minutes from 1 to 60 \(an EventBridge rate; 1 minute is the shortest\); use e\.g\. Duration\.minutes\(1\)/);
    expect(err!.message).toMatch(/launchFailureLookback \(172800 s\) must be at least controlInterval \(30 s\).*at most 1 day/);
    expect(err!.message).toMatch(/fallbackGroupName \("fleet"\) is the fleet group's own name; pick another name or leave it out to use "fleet-od-fallback"/);
    expect(err!.message).toMatch(/policy\.scaleInStabilizationSeconds \(-1\) must be a finite number, 0 or more/);
    expect(err!.problems.map((p) => p.prop)).toEqual(['maxFallbackCapacity', 'controlInterval', 'launchFailureLookback', 'fallbackGroupName', 'policy.scaleInStabilizationSeconds']);
  });

  test('a lookback shorter than the interval would miss failures', () => {
    expect(build({}, { controlInterval: Duration.minutes(10), launchFailureLookback: Duration.minutes(5) })).toThrow(/launchFailureLookback \(300 s\) must be at least controlInterval \(600 s\)/);
  });

  test('a bad fallback group name', () => {
    expect(build({}, { fallbackGroupName: 'a:b' })).toThrow(/fallbackGroupName \("a:b"\) must be 1 to 255 characters without ":"/);
  });

  test('a missing bundle names the fix', () => {
    const fs = require('node:fs');
    const path = require('node:path');
    const bundle = path.join(__dirname, '..', '..', '..', 'dist', 'handlers', 'aws', 'fallback', 'index.js');
    const real = fs.existsSync.bind(fs);
    const spy = jest.spyOn(fs, 'existsSync').mockImplementation((p: unknown) => (p === bundle ? false : real(p)));
    try {
      expect(build({}, {})).toThrow(/OnDemandFallback: the fallback function bundle .*index\.js is missing; run npm run build:handlers \(it bundles lib\/handlers\/aws\/fallback\.entry\.ts\)/);
    } finally {
      spy.mockRestore();
    }
  });
});


describe('OnDemandFallback: the spare spot group', () => {
  const { stack, svc, fallback } = defaultFallbackInEnv();
  const t = Template.fromStack(stack);
  const spare = () => Object.values(t.findResources('AWS::AutoScaling::AutoScalingGroup', { Properties: { AutoScalingGroupName: 'inference-spare' } }))[0];
  const env = () => Object.values(t.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler', Environment: { Variables: Match.objectLike({ SPOT_ASG_NAME: 'inference' }) } } }))[0].Properties.Environment.Variables;
  const statements = () => {
    const roleId = stack.getLogicalId(fallback.function!.role!.node.defaultChild as iam.CfnRole);
    return Object.values(t.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Sid?: string }>);
  };

  test('spot only, min 0, max = the policy spares, no desired, the fleet subnets, overrides and target groups', () => {
    const spot = Object.values(t.findResources('AWS::AutoScaling::AutoScalingGroup', { Properties: { AutoScalingGroupName: 'inference' } }))[0];
    expect(spare().Properties).toMatchObject({
      MinSize: '0',
      MaxSize: '1',
      CapacityRebalance: true,
      VPCZoneIdentifier: spot.Properties.VPCZoneIdentifier,
      TargetGroupARNs: spot.Properties.TargetGroupARNs,
      MixedInstancesPolicy: {
        LaunchTemplate: spot.Properties.MixedInstancesPolicy.LaunchTemplate,
        InstancesDistribution: { OnDemandBaseCapacity: 0, OnDemandPercentageAboveBaseCapacity: 0, SpotAllocationStrategy: 'price-capacity-optimized' },
      },
    });
    expect(spare().Properties.DesiredCapacity).toBeUndefined();
    expect(fallback.spareGroupName).toBe('inference-spare');
    expect(fallback.maxSpareCapacity).toBe(1);
    expect(svc.fleet.autoScalingGroupName).toBe('inference');
  });

  test('the controller gets the spare group and the subnet of each zone (a list: zones may be tokens)', () => {
    const vars = env();
    expect(vars[FALLBACK_ENV.SPARE_GROUP_NAME]).toBe('inference-spare');
    const subnets = JSON.stringify(stack.resolve(vars[FALLBACK_ENV.SUBNETS]));
    // (the test VPC's zones are CDK's placeholders without a context lookup)
    expect(subnets).toContain(`\\"zone\\":\\"${svc.fleet.vpc.availabilityZones[0]}\\"`);
    expect(subnets).toMatch(/subnetId/);
    expect(vars[FALLBACK_ENV.REGIONS]).toBeUndefined();
  });

  test('regionGroups describes this region for a controller elsewhere', () => {
    expect(stack.resolve(fallback.regionGroups)).toMatchObject({ region: 'us-east-1', spotGroupName: 'inference', fallbackGroupName: 'inference-od-fallback', spareGroupName: 'inference-spare', onDemandBase: 1, maxCapacity: 6 });
    expect(fallback.regionGroups.subnets!.map((s) => s.zone)).toEqual(svc.fleet.vpc.availabilityZones.slice(0, 2));
  });

  test('no spare group with spareSpotReplicas 0 or spareGroup false', () => {
    for (const extra of [{ policy: { spareSpotReplicas: 0 } }, { spareGroup: false }]) {
      const { stack: s2, fallback: f2 } = serviceWithFallback(extra);
      Template.fromStack(s2).resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 2);
      expect(f2.spareGroup).toBeUndefined();
    }
  });

  test('steerInstanceTypes: RunInstances only with the fleet launch template, PassRole of the fleet role only to EC2, and the flag in the environment', () => {
    const { stack: s2, fallback: f2, svc: svc2 } = serviceWithFallback({ steerInstanceTypes: true }, ENV);
    const t2 = Template.fromStack(s2);
    const roleId = s2.getLogicalId(f2.function!.role!.node.defaultChild as iam.CfnRole);
    const st = Object.values(t2.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Sid?: string; Action: string; Resource: unknown; Condition?: unknown }>);
    const run = st.find((x) => x.Sid === 'LaunchFromTheFleetTemplateOnly')!;
    expect(run.Action).toBe('ec2:RunInstances');
    expect(JSON.stringify(run.Condition)).toContain(s2.getLogicalId(svc2.fleet.launchTemplate.node.defaultChild as any));
    const pass = st.find((x) => x.Sid === 'PassTheFleetInstanceRoleOnly')!;
    expect(pass).toMatchObject({ Action: 'iam:PassRole', Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } } });
    t2.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ [FALLBACK_ENV.STEER_TYPES]: 'true' }) } });
    // without it, neither grant nor flag
    expect(statements().some((x) => x.Sid === 'LaunchFromTheFleetTemplateOnly')).toBe(false);
    expect(env()[FALLBACK_ENV.STEER_TYPES]).toBeUndefined();
  });

  test('metrics of the spares and of ignored events, on the fleet group dimension', () => {
    expect(stack.resolve(fallback.metricSpareSpotReplicas())).toMatchObject({ metricName: 'SpareSpotReplicas', statistic: 'Maximum', dimensions: { AutoScalingGroupName: 'inference' } });
    expect(stack.resolve(fallback.metricIgnoredEvents())).toMatchObject({ metricName: 'IgnoredEvents', statistic: 'Sum', namespace: FALLBACK_METRICS_NAMESPACE });
  });

  test('spareSpotReplicas 2: the spare group may run 2', () => {
    const { stack: s2 } = serviceWithFallback({ policy: { spareSpotReplicas: 2 } });
    Template.fromStack(s2).hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { AutoScalingGroupName: 'inference-spare', MaxSize: '2' });
  });
});

describe('OnDemandFallback: one controller over several regions', () => {
  const { stack, fallback } = serviceWithFallback({
    regions: [
      { region: 'us-west-2', spotGroupName: 'inference-usw2', fallbackGroupName: 'inference-usw2-od-fallback', spareGroupName: 'inference-usw2-spare', subnets: [{ zone: 'us-west-2a', subnetId: 'subnet-0a' }], onDemandBase: 0, maxCapacity: 4, instanceTypes: ['g5.xlarge'] },
      { region: 'us-east-2', spotGroupName: 'inference-use2', fallbackGroupName: 'inference-use2-od-fallback', onDemandBase: 1, maxCapacity: 3 },
    ],
  }, ENV);
  const t = Template.fromStack(stack);
  const roleId = stack.getLogicalId(fallback.function!.role!.node.defaultChild as iam.CfnRole);
  const statements = Object.values(t.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Sid?: string; Action: string | string[]; Resource: unknown }>);

  test('FALLBACK_REGIONS lists this region first, then the others, with their groups and subnets', () => {
    const fn = Object.values(t.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler', Environment: { Variables: Match.objectLike({ SPOT_ASG_NAME: 'inference' }) } } }))[0];
    const raw = JSON.stringify(stack.resolve(fn.Properties.Environment.Variables[FALLBACK_ENV.REGIONS]));
    expect(raw).toMatch(/\\"region\\":\\"us-east-1\\".*\\"region\\":\\"us-west-2\\".*\\"region\\":\\"us-east-2\\"/);
    expect(raw).toMatch(/\\"spareGroupName\\":\\"inference-usw2-spare\\",\\"subnets\\":\[\{\\"zone\\":\\"us-west-2a\\",\\"subnetId\\":\\"subnet-0a\\"\}\]/);
  });

  test('the role may resize and steer those regions groups, by their ARNs, and nothing else', () => {
    const arn = (region: string, name: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:autoscaling:${region}:123456789012:autoScalingGroup:*:autoScalingGroupName/${name}`]] });
    const resize = statements.find((s) => s.Sid === 'ResizeItsOwnGroupsOnly')!;
    expect(resize.Resource).toEqual([
      arn('us-east-1', 'inference-od-fallback'),
      arn('us-east-1', 'inference-spare'),
      arn('us-west-2', 'inference-usw2-od-fallback'),
      arn('us-west-2', 'inference-usw2-spare'),
      arn('us-east-2', 'inference-use2-od-fallback'),
    ]);
    const steer = statements.find((s) => s.Sid === 'SteerItsSpareGroupsOnly')!;
    expect(steer.Resource).toEqual([arn('us-east-1', 'inference-spare'), arn('us-west-2', 'inference-usw2-spare')]);
  });

  test('controller: false renders the groups only (for a regional stack another controller drives)', () => {
    const { stack: s2, fallback: f2 } = serviceWithFallback({ controller: false });
    const t2 = Template.fromStack(s2);
    t2.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 3);
    expect(Object.keys(t2.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler', Environment: { Variables: Match.objectLike({ SPOT_ASG_NAME: 'inference' }) } } }))).toEqual([]);
    expect(f2.function).toBeUndefined();
    expect(f2.stateParameter).toBeUndefined();
    expect(f2.regionGroups.spareGroupName).toBe('inference-spare');
  });

  test('bad regions and spare settings are reported together with the fix', () => {
    let err: FleetSpecError | undefined;
    try {
      serviceWithFallback({
        spareGroup: true,
        policy: { spareSpotReplicas: 0 },
        regions: [
          { region: 'us-east-1', spotGroupName: 'a', fallbackGroupName: 'b', onDemandBase: 0, maxCapacity: 2 },
          { region: 'mars', spotGroupName: 'a', fallbackGroupName: 'b', onDemandBase: -1, maxCapacity: 2 },
        ],
      }, ENV);
    } catch (e) {
      err = e as FleetSpecError;
    }
    expect(err).toBeInstanceOf(FleetSpecError);
    expect(err!.message).toMatch(/spareGroup is true but policy\.spareSpotReplicas is 0.*set policy\.spareSpotReplicas to 1 or more, or leave spareGroup out/);
    expect(err!.message).toMatch(/regions\[0\]\.region \("us-east-1"\) is listed twice or is this stack's own region/);
    expect(err!.message).toMatch(/regions\[1\]\.region \("mars"\) must be an AWS region name known at synth, e\.g\. "us-west-2"/);
    expect(err!.message).toMatch(/regions\[1\]\.onDemandBase \(-1\) must be a whole number, 0 or more/);
    expect(() => serviceWithFallback({ controller: false, regions: [{ region: 'us-west-2', spotGroupName: 'a', fallbackGroupName: 'b', onDemandBase: 0, maxCapacity: 2 }] }, ENV)).toThrow(/regions lists 1 region\(s\) but controller is false/);
    expect(() => serviceWithFallback({ spareGroupName: 'inference' })).toThrow(/spareGroupName \("inference"\) is the name of the fleet group or of the fallback group/);
    expect(() => serviceWithFallback({ regions: [{ region: 'us-west-2', spotGroupName: 'a', fallbackGroupName: 'b', onDemandBase: 0, maxCapacity: 2 }] })).toThrow(/regions needs a stack with an explicit env\.region/);
  });
});
