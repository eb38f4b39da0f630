import { App, Duration, Stack } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { InterruptionDrill, InterruptionDrillProps, ISpotFleet, SpotFleet, SpotInferenceService, SpotInterruptionSelection } from '../../../constructs/aws';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec/errors';
import { AGENT_BUNDLE, GPU_TYPES, stackWithVpc } from './fixtures';

const ENV = { account: '123456789012', region: 'us-east-1' };

function importedGroup(): { stack: Stack; asg: autoscaling.IAutoScalingGroup; healthy: cloudwatch.Metric } {
  const stack = new Stack(new App(), 'Fleet', { env: ENV });
  const asg = autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'Asg', 'inference-asg');
  const healthy = new cloudwatch.Metric({ namespace: 'AWS/ApplicationELB', metricName: 'HealthyHostCount', dimensionsMap: { TargetGroup: 'targetgroup/api/0123' }, statistic: 'Minimum', period: Duration.minutes(1) });
  return { stack, asg, healthy };
}

function drill(extra: Partial<InterruptionDrillProps> = {}): { t: Template; d: InterruptionDrill; stack: Stack } {
  const { stack, asg, healthy } = importedGroup();
  const d = new InterruptionDrill(stack, 'Drill', { autoScalingGroup: asg, healthyTargetsMetric: healthy, ...extra });
  return { t: Template.fromStack(stack), d, stack };
}

/** Resolve `Fn::Join`s of literals and `AWS::Partition` to plain strings, so ARNs read as text. */
function flat(v: any): any {
  if (Array.isArray(v)) return v.map(flat);
  if (v && typeof v === 'object') {
    if (v.Ref === 'AWS::Partition') return 'aws';
    if (v['Fn::Join']) {
      const parts = flat(v['Fn::Join'][1]);
      if (parts.every((p: unknown) => typeof p === 'string')) return parts.join(v['Fn::Join'][0]);
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, flat(x)]));
  }
  return v;
}

function templateNamed(t: Template, logicalIdPrefix: string): any {
  const all = t.findResources('AWS::FIS::ExperimentTemplate');
  const id = Object.keys(all).find((k) => k.startsWith(logicalIdPrefix));
  expect(id).toBeDefined();
  return all[id!].Properties;
}

describe('InterruptionDrill: spot interruption experiment', () => {
  const { t } = drill();
  const spot = templateNamed(t, 'DrillSpotInterruption');

  test('targets running spot instances of this group by its aws:autoscaling:groupName tag, COUNT(1)', () => {
    expect(spot.Targets).toEqual({
      SpotInstances: {
        ResourceType: 'aws:ec2:spot-instance',
        ResourceTags: { 'aws:autoscaling:groupName': 'inference-asg' },
        Filters: [{ Path: 'State.Name', Values: ['running'] }],
        SelectionMode: 'COUNT(1)',
      },
    });
  });

  test('sends spot interruptions after PT2M', () => {
    expect(spot.Actions).toEqual({
      InterruptSpotInstances: expect.objectContaining({
        ActionId: 'aws:ec2:send-spot-instance-interruptions',
        Parameters: { durationBeforeInterruption: 'PT2M' },
        Targets: { SpotInstances: 'SpotInstances' },
      }),
    });
  });

  test('stops on the healthy-targets alarm, which fires below 1 healthy target', () => {
    const alarm = new Capture();
    t.hasResourceProperties('AWS::FIS::ExperimentTemplate', {
      StopConditions: [{ Source: 'aws:cloudwatch:alarm', Value: { 'Fn::GetAtt': [alarm, 'Arn'] } }],
    });
    expect(alarm.asString()).toMatch(/^DrillNoHealthyTargetsAlarm/);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'HealthyHostCount',
      Namespace: 'AWS/ApplicationELB',
      Statistic: 'Minimum',
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'breaching',
    });
  });

  test('PERCENT(n) and a longer lead time are selectable', () => {
    const { t } = drill({ selection: SpotInterruptionSelection.percent(50), durationBeforeInterruption: Duration.minutes(5) });
    const p = templateNamed(t, 'DrillSpotInterruption');
    expect(p.Targets.SpotInstances.SelectionMode).toBe('PERCENT(50)');
    expect(p.Actions.InterruptSpotInstances.Parameters).toEqual({ durationBeforeInterruption: 'PT5M' });
    expect(templateNamed(drill({ selection: SpotInterruptionSelection.count(2) }).t, 'DrillSpotInterruption').Targets.SpotInstances.SelectionMode).toBe('COUNT(2)');
  });
});

describe('InterruptionDrill: capacity-error experiment', () => {
  const { t, d } = drill();
  const ice = templateNamed(t, 'DrillCapacityError');

  test('makes the group launches fail with insufficient capacity in the stack\'s zones, 100 %, for PT10M', () => {
    expect(ice.Actions.InsufficientCapacity).toMatchObject({
      ActionId: 'aws:ec2:asg-insufficient-instance-capacity-error',
      Parameters: {
        // An environment-aware stack without context gets CDK's placeholder zones; `cdk synth` looks the real ones up.
        availabilityZoneIdentifiers: 'dummy1a,dummy1b,dummy1c',
        percentage: '100',
        duration: 'PT10M',
      },
      Targets: { AutoScalingGroups: 'AutoScalingGroups' },
    });
  });

  test('selects the group by the drill tag', () => {
    expect(ice.Targets.AutoScalingGroups).toEqual({
      ResourceType: 'aws:ec2:autoscaling-group',
      ResourceTags: { 'spot-inference:drill-target': d.node.addr },
      SelectionMode: 'ALL',
    });
    expect(ice.StopConditions).toEqual(templateNamed(t, 'DrillSpotInterruption').StopConditions);
  });

  test('zones, percentage, duration and tag value are configurable', () => {
    const { t } = drill({
      capacityErrorAvailabilityZones: ['us-east-1a', 'use1-az2'],
      capacityErrorPercentage: 50,
      capacityErrorDuration: Duration.hours(1),
      capacityErrorTargetTagValue: 'api-fleet',
    });
    const p = templateNamed(t, 'DrillCapacityError');
    expect(p.Actions.InsufficientCapacity.Parameters).toEqual({ availabilityZoneIdentifiers: 'us-east-1a,use1-az2', percentage: '50', duration: 'PT1H' });
    expect(p.Targets.AutoScalingGroups.ResourceTags).toEqual({ 'spot-inference:drill-target': 'api-fleet' });
  });

  test('tags a group defined in the app with the drill tag, not its instances', () => {
    const { stack, vpc } = stackWithVpc(ENV);
    const svc = new SpotInferenceService(stack, 'Svc', {
      vpc, minCapacity: 2, maxCapacity: 4, onDemandBaseCapacity: 1, onDemandPercentageAboveBaseCapacity: 0,
      instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE },
    });
    const d = new InterruptionDrill(stack, 'Drill', { autoScalingGroup: svc.autoScalingGroup, healthyTargetsMetric: svc.metricHealthyTargets() });
    Template.fromStack(stack).hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      Tags: Match.arrayWith([{ Key: 'spot-inference:drill-target', Value: d.node.addr, PropagateAtLaunch: false }]),
    });
  });
});

describe('InterruptionDrill on an ISpotFleet', () => {
  test('fleet: a fleet built here (service.fleet) is drilled and tagged, as with its autoScalingGroup', () => {
    const { stack, vpc } = stackWithVpc(ENV);
    const svc = new SpotInferenceService(stack, 'Svc', {
      vpc, minCapacity: 2, maxCapacity: 4, onDemandBaseCapacity: 1, onDemandPercentageAboveBaseCapacity: 0,
      instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE },
    });
    const fleet: ISpotFleet = svc.fleet;
    const d = new InterruptionDrill(stack, 'Drill', { fleet, healthyTargetsMetric: svc.metricHealthyTargets() });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      Tags: Match.arrayWith([{ Key: 'spot-inference:drill-target', Value: d.node.addr, PropagateAtLaunch: false }]),
    });
    const groupRef = stack.resolve(svc.autoScalingGroup.autoScalingGroupName);
    expect(templateNamed(t, 'DrillSpotInterruption').Targets.SpotInstances.ResourceTags).toEqual({ 'aws:autoscaling:groupName': groupRef });
  });

  test('fleet: SpotFleet.fromAutoScalingGroup(...) of a group built elsewhere targets that group by name', () => {
    const { stack, asg, healthy } = importedGroup();
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-1', availabilityZones: ['us-east-1a', 'us-east-1b'] });
    const sg = ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-0123');
    const fleet = SpotFleet.fromAutoScalingGroup(stack, 'Imported', { autoScalingGroup: asg, vpc, securityGroups: [sg] });
    new InterruptionDrill(stack, 'Drill', { fleet, healthyTargetsMetric: healthy });
    const t = Template.fromStack(stack);
    expect(templateNamed(t, 'DrillSpotInterruption').Targets.SpotInstances.ResourceTags).toEqual({ 'aws:autoscaling:groupName': 'inference-asg' });
    const role = Object.values(t.findResources('AWS::IAM::Policy'))[0] as any;
    const interrupt = role.Properties.PolicyDocument.Statement.find((st: any) => st.Sid === 'InterruptThisGroupsSpotInstances');
    expect(interrupt.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/aws:autoscaling:groupName': 'inference-asg' } });
  });

  test('fleet and its own autoScalingGroup together are accepted', () => {
    const { stack, asg, healthy } = importedGroup();
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-1', availabilityZones: ['us-east-1a', 'us-east-1b'] });
    const fleet = SpotFleet.fromAutoScalingGroup(stack, 'Imported', { autoScalingGroup: asg, vpc, securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-0123')] });
    expect(() => new InterruptionDrill(stack, 'Drill', { fleet, autoScalingGroup: asg, healthyTargetsMetric: healthy })).not.toThrow();
  });

  test('neither fleet nor autoScalingGroup is refused, naming both and the fix', () => {
    const { stack, healthy } = importedGroup();
    let e: FleetSpecError | undefined;
    try {
      new InterruptionDrill(stack, 'Drill', { healthyTargetsMetric: healthy });
    } catch (x) {
      e = x as FleetSpecError;
    }
    expect(e).toBeInstanceOf(FleetSpecError);
    expect(e!.code).toBe(FleetSpecErrorCode.DRILL_TARGET);
    expect(e!.message).toBe('Fleet/Drill: neither fleet nor autoScalingGroup is set, so there is no group to drill; pass fleet (a SpotFleet, service.fleet, or SpotFleet.fromAutoScalingGroup(...) for an existing group) [DRILL_TARGET]');
  });

  test('an autoScalingGroup that is not the fleet\'s group is refused', () => {
    const { stack, asg, healthy } = importedGroup();
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-1', availabilityZones: ['us-east-1a', 'us-east-1b'] });
    const other = autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'Other', 'other-asg');
    const fleet = SpotFleet.fromAutoScalingGroup(stack, 'Imported', { autoScalingGroup: asg, vpc, securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-0123')] });
    expect(() => new InterruptionDrill(stack, 'Drill', { fleet, autoScalingGroup: other, healthyTargetsMetric: healthy })).toThrow(
      /^Fleet\/Drill: autoScalingGroup \(Fleet\/Other\) is not the group of fleet \(Fleet\/Imported\); leave autoScalingGroup out: the fleet's group is drilled \[DRILL_TARGET\]$/,
    );
  });
});

test('environment-agnostic stack: the first two zones of the region, as Fn::Select (CloudFormation refuses Fn::GetAZs in Fn::Join)', () => {
  const stack = new Stack(new App(), 'Agnostic');
  const asg = autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'Asg', 'inference-asg');
  new InterruptionDrill(stack, 'Drill', { autoScalingGroup: asg, stopConditionAlarm: cloudwatch.Alarm.fromAlarmArn(stack, 'A', 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:x') });
  const p = templateNamed(Template.fromStack(stack), 'DrillCapacityError');
  expect(p.Actions.InsufficientCapacity.Parameters.availabilityZoneIdentifiers).toEqual({
    'Fn::Join': ['', [{ 'Fn::Select': [0, { 'Fn::GetAZs': '' }] }, ',', { 'Fn::Select': [1, { 'Fn::GetAZs': '' }] }]],
  });
});

describe('InterruptionDrill: FIS role', () => {
  const { t } = drill();
  const only = (type: string): any => flat(Object.values(t.findResources(type))[0].Properties);

  test('is trusted by fis.amazonaws.com of this account only', () => {
    expect(only('AWS::IAM::Role')).toMatchObject({
      AssumeRolePolicyDocument: {
        Statement: [
          expect.objectContaining({
            Principal: { Service: 'fis.amazonaws.com' },
            Condition: {
              StringEquals: { 'aws:SourceAccount': '123456789012' },
              ArnLike: { 'aws:SourceArn': 'arn:aws:fis:us-east-1:123456789012:experiment/*' },
            },
          }),
        ],
      },
    });
  });

  test('interrupts only instances tagged with this group, injects errors only into this group', () => {
    expect(only('AWS::IAM::Policy')).toMatchObject({
      PolicyDocument: {
        Statement: [
          {
            Sid: 'InterruptThisGroupsSpotInstances',
            Effect: 'Allow',
            Action: 'ec2:SendSpotInstanceInterruptions',
            Resource: 'arn:aws:ec2:us-east-1:123456789012:instance/*',
            Condition: { StringEquals: { 'aws:ResourceTag/aws:autoscaling:groupName': 'inference-asg' } },
          },
          {
            Sid: 'InjectCapacityErrorsIntoThisGroup',
            Effect: 'Allow',
            Action: 'ec2:InjectApiError',
            Resource: '*',
            Condition: {
              StringEquals: { 'ec2:FisActionId': ['aws:ec2:asg-insufficient-instance-capacity-error'] },
              'ForAllValues:StringLike': { 'ec2:FisTargetArns': ['arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/inference-asg'] },
            },
          },
          {
            Sid: 'DescribeActionsCannotBeScoped',
            Effect: 'Allow',
            Action: ['ec2:DescribeInstances', 'autoscaling:DescribeAutoScalingGroups'],
            Resource: '*',
          },
        ],
      },
    });
    t.resourceCountIs('AWS::IAM::Policy', 1);
    const roles = t.findResources('AWS::IAM::Role');
    expect(Object.values(roles).every((r: any) => r.Properties.ManagedPolicyArns === undefined)).toBe(true);
  });
});

describe('InterruptionDrill outputs', () => {
  test('template ids and the aws fis start-experiment commands', () => {
    const { t, d, stack } = drill();
    expect(stack.resolve(d.startSpotInterruptionCommand)).toEqual({
      'Fn::Join': ['', ['aws fis start-experiment --experiment-template-id ', { 'Fn::GetAtt': [expect.stringMatching(/^DrillSpotInterruption/), 'Id'] }]],
    });
    const outputs = t.findOutputs('*');
    const keys = Object.keys(outputs);
    const byPrefix = (p: string) => outputs[keys.find((k) => k.startsWith(p))!];
    expect(byPrefix('DrillSpotInterruptionTemplateId').Value).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DrillSpotInterruption/), 'Id'] });
    expect(byPrefix('DrillStartSpotInterruptionDrill').Value['Fn::Join'][1][0]).toBe('aws fis start-experiment --experiment-template-id ');
    expect(byPrefix('DrillCapacityErrorTemplateId').Value).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DrillCapacityError/), 'Id'] });
    expect(byPrefix('DrillStartCapacityErrorDrill').Value['Fn::Join'][1][1]).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DrillCapacityError/), 'Id'] });
  });

  test('createOutputs: false leaves them out; a given stop alarm is used as is', () => {
    const { stack, asg } = importedGroup();
    const alarm = cloudwatch.Alarm.fromAlarmArn(stack, 'Existing', 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:fleet-down');
    new InterruptionDrill(stack, 'Drill', { autoScalingGroup: asg, stopConditionAlarm: alarm, createOutputs: false });
    const t = Template.fromStack(stack);
    expect(Object.keys(t.findOutputs('*'))).toHaveLength(0);
    t.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    t.allResourcesProperties('AWS::FIS::ExperimentTemplate', {
      StopConditions: [{ Source: 'aws:cloudwatch:alarm', Value: 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:fleet-down' }],
    });
  });
});

describe('InterruptionDrill and cdk-nag', () => {
  test('AwsSolutionsChecks finds nothing: the unavoidable wildcards are acknowledged with a reason', () => {
    const { AwsSolutionsChecks } = require('cdk-nag');
    const { Validations } = require('aws-cdk-lib');
    const { stack, asg, healthy } = importedGroup();
    new InterruptionDrill(stack, 'Drill', { autoScalingGroup: asg, healthyTargetsMetric: healthy });
    const app = stack.node.root as App;
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();

    // Control: the checks do run on the drill's role, and fail on an unacknowledged wildcard.
    const other = importedGroup();
    const d = new InterruptionDrill(other.stack, 'Drill', { autoScalingGroup: other.asg, healthyTargetsMetric: other.healthy });
    d.role.addToPolicy(new (require('aws-cdk-lib/aws-iam').PolicyStatement)({ actions: ['ec2:StopInstances'], resources: ['arn:aws:ec2:us-east-1:123456789012:volume/*'] }));
    const otherApp = other.stack.node.root as App;
    Validations.of(otherApp).addPlugins(new AwsSolutionsChecks(otherApp));
    expect(() => otherApp.synth()).toThrow(/AwsSolutions-IAM5/);
  });
});

describe('InterruptionDrill validation', () => {
  const fail = (extra: Partial<InterruptionDrillProps>): FleetSpecError => {
    try {
      drill(extra);
    } catch (e) {
      return e as FleetSpecError;
    }
    throw new Error('expected a FleetSpecError');
  };

  test.each<[string, Partial<InterruptionDrillProps>, RegExp, FleetSpecErrorCode]>([
    ['percent above 100', { selection: SpotInterruptionSelection.percent(150) }, /selection PERCENT\(150\) must be a whole percentage from 1 to 100; use e.g. SpotInterruptionSelection.percent\(25\)/, FleetSpecErrorCode.DRILL_SELECTION],
    ['count 0', { selection: SpotInterruptionSelection.count(0) }, /selection COUNT\(0\) must be a whole number of instances, 1 or more/, FleetSpecErrorCode.DRILL_SELECTION],
    ['lead time too short', { durationBeforeInterruption: Duration.seconds(60) }, /durationBeforeInterruption \(60 s\) must be from 2 to 15 minutes \(the FIS limit for aws:ec2:send-spot-instance-interruptions\); use Duration.minutes\(2\)/, FleetSpecErrorCode.DRILL_DURATION],
    ['lead time too long', { durationBeforeInterruption: Duration.minutes(16) }, /durationBeforeInterruption \(960 s\) must be from 2 to 15 minutes/, FleetSpecErrorCode.DRILL_DURATION],
    ['no stop condition', { healthyTargetsMetric: undefined }, /an interruption drill needs a stop condition, but neither stopConditionAlarm nor healthyTargetsMetric is set/, FleetSpecErrorCode.DRILL_STOP_CONDITION],
    ['min healthy 0', { minHealthyTargets: 0 }, /minHealthyTargets \(0\) must be a whole number, 1 or more/, FleetSpecErrorCode.ALARM_THRESHOLD],
    ['percentage 0', { capacityErrorPercentage: 0 }, /capacityErrorPercentage \(0\) must be a whole percentage from 1 to 100 \(FIS limit\)/, FleetSpecErrorCode.DRILL_CAPACITY_ERROR],
    ['duration too long', { capacityErrorDuration: Duration.hours(13) }, /capacityErrorDuration \(46800 s\) must be from 1 minute to 12 hours/, FleetSpecErrorCode.DRILL_DURATION],
    ['empty zones', { capacityErrorAvailabilityZones: [] }, /capacityErrorAvailabilityZones is empty/, FleetSpecErrorCode.DRILL_CAPACITY_ERROR],
    ['bad zone', { capacityErrorAvailabilityZones: ['east'] }, /capacityErrorAvailabilityZones has "east", which is neither a zone name \(us-east-1a\) nor a zone id \(use1-az1\)/, FleetSpecErrorCode.DRILL_CAPACITY_ERROR],
    ['bad tag value', { capacityErrorTargetTagValue: 'a{b}' }, /capacityErrorTargetTagValue \("a\{b\}"\) must be 1-256 letters/, FleetSpecErrorCode.DRILL_TARGET],
  ])('%s', (_name, extra, message, code) => {
    const e = fail(extra);
    expect(e).toBeInstanceOf(FleetSpecError);
    // The code names the rule; the broad code it replaced still matches.
    expect(e.code).toBe(code);
    expect(e.family).toBe(FleetSpecErrorCode.CLOUD_CONSTRAINT);
    expect(e.hasCode(FleetSpecErrorCode.CLOUD_CONSTRAINT)).toBe(true);
    expect(e.message.endsWith(`[${code}]`)).toBe(true);
    expect(e.message).toMatch(message);
    expect(e.message).toMatch(/^Fleet\/Drill: /);
  });

  test('both a stop alarm and a metric is ambiguous', () => {
    const { stack, asg, healthy } = importedGroup();
    const alarm = cloudwatch.Alarm.fromAlarmArn(stack, 'A', 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:x');
    expect(() => new InterruptionDrill(stack, 'Drill', { autoScalingGroup: asg, healthyTargetsMetric: healthy, stopConditionAlarm: alarm })).toThrow(
      /healthyTargetsMetric is only used to create the stop-condition alarm, but stopConditionAlarm is set too; give one of them/,
    );
  });

  test('all problems are reported together', () => {
    const e = fail({ capacityErrorPercentage: 101, durationBeforeInterruption: Duration.minutes(1), minHealthyTargets: -1 });
    expect(e.problems.map((p) => p.prop)).toEqual(['durationBeforeInterruption', 'minHealthyTargets', 'capacityErrorPercentage']);
    expect(e.message).toMatch(/3 problems/);
  });
});
