import { CfnOutput, Duration, Stack, Tags, Token } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as fis from 'aws-cdk-lib/aws-fis';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { acknowledgeNagFindings, nagResourceName } from './bundle';
import { ISpotFleet } from './fleet-interface';

const FIS_SPOT_INTERRUPTION_ACTION = 'aws:ec2:send-spot-instance-interruptions';
const FIS_ASG_CAPACITY_ERROR_ACTION = 'aws:ec2:asg-insufficient-instance-capacity-error';
/** Tag EC2 Auto Scaling puts on every instance of a group (spot included): the drill finds the fleet's instances by it. */
const ASG_NAME_INSTANCE_TAG = 'aws:autoscaling:groupName';

type StopCondition = fis.CfnExperimentTemplate.ExperimentTemplateStopConditionProperty;

/**
 * How many of the fleet's running spot instances one interruption drill interrupts.
 * Maps to the FIS target's `selectionMode`.
 */
export class SpotInterruptionSelection {
  /** One instance, picked at random by FIS: `COUNT(1)`. The safest drill. */
  public static readonly ONE = new SpotInterruptionSelection('COUNT(1)', 1, false);

  /** `count` instances, picked at random: `COUNT(n)`. */
  public static count(count: number): SpotInterruptionSelection {
    return new SpotInterruptionSelection(`COUNT(${count})`, count, false);
  }

  /** `percent` % of the running spot instances, rounded by FIS: `PERCENT(n)`. */
  public static percent(percent: number): SpotInterruptionSelection {
    return new SpotInterruptionSelection(`PERCENT(${percent})`, percent, true);
  }

  /** The FIS `selectionMode` string (`COUNT(1)`, `PERCENT(25)`). */
  public readonly selectionMode: string;
  /** The number in the selection mode. */
  public readonly value: number;
  /** True for `PERCENT(n)`. */
  public readonly isPercent: boolean;

  private constructor(selectionMode: string, value: number, isPercent: boolean) {
    this.selectionMode = selectionMode;
    this.value = value;
    this.isPercent = isPercent;
  }
}

/** Properties of {@link InterruptionDrill}. */
export interface InterruptionDrillProps {
  /**
   * The fleet to drill: a `SpotFleet`, a `SpotInferenceService`'s fleet, a `QueueWorkerFleet`'s fleet, or
   * `SpotFleet.fromAutoScalingGroup(...)` for a group built elsewhere (which must carry the drill tag, see
   * `capacityErrorTargetTagValue`). Give this or `autoScalingGroup`.
   * @default - none; then `autoScalingGroup` is required
   */
  readonly fleet?: ISpotFleet;

  /**
   * The fleet's Auto Scaling group, for a group that is not an `ISpotFleet`. Any group works; an imported one
   * must carry the drill tag (see `capacityErrorTargetTagValue`). Give this or `fleet`.
   * @default - the group of `fleet`
   */
  readonly autoScalingGroup?: autoscaling.IAutoScalingGroup;

  /**
   * Which of the fleet's running spot instances the interruption drill takes.
   * @default SpotInterruptionSelection.ONE - `COUNT(1)`
   */
  readonly selection?: SpotInterruptionSelection;

  /**
   * Time between the rebalance recommendation and the interruption, as FIS's `durationBeforeInterruption`
   * (2 to 15 minutes). The two-minute interruption notice comes at the end of it.
   * @default Duration.minutes(2)
   */
  readonly durationBeforeInterruption?: Duration;

  /**
   * Alarm that stops both experiments when it fires: the fleet's "no healthy targets" alarm
   * (e.g. `FleetDashboard.noHealthyTargetsAlarm`).
   * @default - an alarm created here on `healthyTargetsMetric` below `minHealthyTargets`
   */
  readonly stopConditionAlarm?: cloudwatch.IAlarm;

  /**
   * Healthy targets of the fleet behind its load balancer (e.g. `SpotInferenceService.metricHealthyTargets()`),
   * used to create the stop-condition alarm when `stopConditionAlarm` is not given.
   * @default - none; then `stopConditionAlarm` is required
   */
  readonly healthyTargetsMetric?: cloudwatch.IMetric;

  /**
   * The created stop-condition alarm fires when healthy targets drop below this.
   * @default 1
   */
  readonly minHealthyTargets?: number;

  /**
   * Availability Zones (names like `us-east-1a` or ids like `use1-az1`) where the capacity-error drill makes the
   * group's launches fail.
   * @default - the stack's zones (`Stack.availabilityZones`, the zones a new VPC of the stack spreads over; the first
   * two of the region for an environment-agnostic stack): a shortage in every zone the fleet uses
   */
  readonly capacityErrorAvailabilityZones?: string[];

  /**
   * Share of the group's launch requests that fail during the capacity-error drill, 1 to 100.
   * @default 100
   */
  readonly capacityErrorPercentage?: number;

  /**
   * How long launches keep failing in the capacity-error drill (1 minute to 12 hours).
   * @default Duration.minutes(10)
   */
  readonly capacityErrorDuration?: Duration;

  /**
   * Value of the `spot-inference:drill-target` tag the capacity-error experiment selects the group by. It is
   * added to groups defined in this app; tag an imported group with it yourself.
   * @default - a value unique to this construct (its address)
   */
  readonly capacityErrorTargetTagValue?: string;

  /**
   * Create stack outputs with the template ids and the `aws fis start-experiment` commands.
   * @default true
   */
  readonly createOutputs?: boolean;
}

/**
 * One-command interruption drills for a spot fleet, as AWS Fault Injection Service experiment templates:
 *
 * - **spot interruption**: `aws:ec2:send-spot-instance-interruptions` on the fleet's running spot instances,
 *   found by the `aws:autoscaling:groupName` tag (COUNT(1) by default, or PERCENT(n));
 * - **capacity error**: `aws:ec2:asg-insufficient-instance-capacity-error` on the group, so its launches fail
 *   as in a spot shortage and the on-demand fallback has to act.
 *
 * Both stop when the fleet's healthy-targets alarm fires. The FIS role may interrupt only instances of this
 * group and inject errors only into this group. Start a drill with the command in the stack outputs:
 * `aws fis start-experiment --experiment-template-id <id>`.
 *
 * @example
 * new InterruptionDrill(this, 'Drill', {
 *   fleet: service.fleet,
 *   healthyTargetsMetric: service.metricHealthyTargets(),
 * });
 */
export class InterruptionDrill extends Construct {
  /** Tag the drill puts on the group so the capacity-error experiment finds it; tag an imported group with it yourself. */
  public static readonly DRILL_TARGET_TAG = 'spot-inference:drill-target';

  /** The experiment template that interrupts spot instances of the fleet. */
  public readonly spotInterruptionTemplate: fis.CfnExperimentTemplate;
  /** The experiment template that makes the group's launches fail with insufficient capacity. */
  public readonly capacityErrorTemplate: fis.CfnExperimentTemplate;
  /** Id of `spotInterruptionTemplate` (`EXT...`). */
  public readonly spotInterruptionTemplateId: string;
  /** Id of `capacityErrorTemplate`. */
  public readonly capacityErrorTemplateId: string;
  /** The role FIS runs both experiments with. */
  public readonly role: iam.Role;
  /** The alarm that stops the experiments. */
  public readonly stopConditionAlarm: cloudwatch.IAlarm;
  /** `aws fis start-experiment` command for the spot interruption drill. */
  public readonly startSpotInterruptionCommand: string;
  /** `aws fis start-experiment` command for the capacity-error drill. */
  public readonly startCapacityErrorCommand: string;

  constructor(scope: Construct, id: string, props: InterruptionDrillProps) {
    super(scope, id);
    const s = validate(props, this.node.path);
    this.stopConditionAlarm = props.stopConditionAlarm ?? this.createStopConditionAlarm(props, s);
    this.role = this.createRole(s.autoScalingGroup);
    const stopConditions = [{ source: 'aws:cloudwatch:alarm', value: this.stopConditionAlarm.alarmArn }];
    this.spotInterruptionTemplate = this.createSpotInterruptionTemplate(s, stopConditions);
    this.capacityErrorTemplate = this.createCapacityErrorTemplate(props, s, stopConditions);

    this.spotInterruptionTemplateId = this.spotInterruptionTemplate.attrId;
    this.capacityErrorTemplateId = this.capacityErrorTemplate.attrId;
    this.startSpotInterruptionCommand = startCommand(this.spotInterruptionTemplateId);
    this.startCapacityErrorCommand = startCommand(this.capacityErrorTemplateId);

    if (props.createOutputs ?? true) {
      this.createOutputs();
    }
  }

  /** Stop condition: the fleet has lost its healthy targets. */
  private createStopConditionAlarm(props: InterruptionDrillProps, s: ValidatedDrill): cloudwatch.Alarm {
    return new cloudwatch.Alarm(this, 'NoHealthyTargetsAlarm', {
      metric: props.healthyTargetsMetric!,
      alarmDescription: `Healthy targets of ${s.autoScalingGroup.node.path} fell below ${s.minHealthyTargets}: stops the interruption drills of ${this.node.path}`,
      threshold: s.minHealthyTargets,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
  }

  /** Least privilege: interrupt only this group's instances, inject errors only into this group. */
  private createRole(asg: autoscaling.IAutoScalingGroup): iam.Role {
    const stack = Stack.of(this);
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('fis.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'fis', resource: 'experiment', resourceName: '*' }) },
        },
      }),
      description: `FIS drills of ${this.node.path}: interrupts spot instances of this group only`,
    });
    const instanceArns = stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' });
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'InterruptThisGroupsSpotInstances',
        actions: ['ec2:SendSpotInstanceInterruptions'],
        resources: [instanceArns],
        conditions: { StringEquals: { [`aws:ResourceTag/${ASG_NAME_INSTANCE_TAG}`]: asg.autoScalingGroupName } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'InjectCapacityErrorsIntoThisGroup',
        actions: ['ec2:InjectApiError'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'ec2:FisActionId': [FIS_ASG_CAPACITY_ERROR_ACTION] },
          'ForAllValues:StringLike': { 'ec2:FisTargetArns': [asg.autoScalingGroupArn] },
        },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DescribeActionsCannotBeScoped',
        actions: ['ec2:DescribeInstances', 'autoscaling:DescribeAutoScalingGroups'],
        resources: ['*'],
      }),
    );
    acknowledgeNagFindings(role, [
      {
        rule: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'ec2:DescribeInstances and autoscaling:DescribeAutoScalingGroups have no resource-level permissions; ec2:InjectApiError is scoped by the ec2:FisActionId and ec2:FisTargetArns conditions to this group',
      },
      {
        rule: `AwsSolutions-IAM5[Resource::${nagResourceName(stack.resolve(instanceArns))}]`,
        reason: 'Spot instances of the group are created and replaced at run time; the statement is pinned to them by the aws:autoscaling:groupName tag condition',
      },
    ]);
    return role;
  }

  /** Experiment that interrupts the selected running spot instances of the group. */
  private createSpotInterruptionTemplate(s: ValidatedDrill, stopConditions: StopCondition[]): fis.CfnExperimentTemplate {
    const asg = s.autoScalingGroup;
    return new fis.CfnExperimentTemplate(this, 'SpotInterruption', {
      description: `Interrupt ${s.selection.selectionMode} running spot instance(s) of ${asg.node.path} after ${s.durationBeforeInterruptionIso}`,
      roleArn: this.role.roleArn,
      stopConditions,
      targets: {
        SpotInstances: {
          resourceType: 'aws:ec2:spot-instance',
          resourceTags: { [ASG_NAME_INSTANCE_TAG]: asg.autoScalingGroupName },
          filters: [{ path: 'State.Name', values: ['running'] }],
          selectionMode: s.selection.selectionMode,
        },
      },
      actions: {
        InterruptSpotInstances: {
          actionId: FIS_SPOT_INTERRUPTION_ACTION,
          description: 'Rebalance recommendation now, interruption notice after durationBeforeInterruption',
          parameters: { durationBeforeInterruption: s.durationBeforeInterruptionIso },
          targets: { SpotInstances: 'SpotInstances' },
        },
      },
      tags: this.templateTags('spot interruption drill'),
    });
  }

  /** Tags the group as the drill target, then the experiment that makes its launches fail with insufficient capacity. */
  private createCapacityErrorTemplate(
    props: InterruptionDrillProps,
    s: ValidatedDrill,
    stopConditions: StopCondition[],
  ): fis.CfnExperimentTemplate {
    const asg = s.autoScalingGroup;
    const tagValue = props.capacityErrorTargetTagValue ?? this.node.addr;
    Tags.of(asg).add(InterruptionDrill.DRILL_TARGET_TAG, tagValue, { applyToLaunchedInstances: false });
    // CloudFormation refuses Fn::GetAZs inside Fn::Join; the stack's zones are a list of literals or Fn::Selects.
    const zones = (props.capacityErrorAvailabilityZones ?? Stack.of(this).availabilityZones).join(',');
    return new fis.CfnExperimentTemplate(this, 'CapacityError', {
      description: `Fail ${s.capacityErrorPercentage}% of the launches of ${asg.node.path} with InsufficientInstanceCapacity for ${s.capacityErrorDurationIso}`,
      roleArn: this.role.roleArn,
      stopConditions,
      targets: {
        AutoScalingGroups: {
          resourceType: 'aws:ec2:autoscaling-group',
          resourceTags: { [InterruptionDrill.DRILL_TARGET_TAG]: tagValue },
          selectionMode: 'ALL',
        },
      },
      actions: {
        InsufficientCapacity: {
          actionId: FIS_ASG_CAPACITY_ERROR_ACTION,
          description: 'Launches of the group fail as in a spot capacity shortage; the on-demand fallback should take over',
          parameters: {
            availabilityZoneIdentifiers: zones,
            percentage: String(s.capacityErrorPercentage),
            duration: s.capacityErrorDurationIso,
          },
          targets: { AutoScalingGroups: 'AutoScalingGroups' },
        },
      },
      tags: this.templateTags('capacity error drill'),
    });
  }

  /** Stack outputs with the template ids and the `aws fis start-experiment` commands. */
  private createOutputs(): void {
    new CfnOutput(this, 'SpotInterruptionTemplateId', {
      description: 'FIS experiment template that interrupts spot instances of the fleet',
      value: this.spotInterruptionTemplateId,
    });
    new CfnOutput(this, 'StartSpotInterruptionDrill', {
      description: 'Run the spot interruption drill',
      value: this.startSpotInterruptionCommand,
    });
    new CfnOutput(this, 'CapacityErrorTemplateId', {
      description: 'FIS experiment template that makes the group launches fail with insufficient capacity',
      value: this.capacityErrorTemplateId,
    });
    new CfnOutput(this, 'StartCapacityErrorDrill', {
      description: 'Run the capacity-error (fallback) drill',
      value: this.startCapacityErrorCommand,
    });
  }

  private templateTags(what: string): Record<string, string> {
    return { Name: `${this.node.path} ${what}`.slice(0, 128) };
  }
}

function startCommand(templateId: string): string {
  return `aws fis start-experiment --experiment-template-id ${templateId}`;
}

interface ValidatedDrill {
  readonly autoScalingGroup: autoscaling.IAutoScalingGroup;
  readonly selection: SpotInterruptionSelection;
  readonly durationBeforeInterruptionIso: string;
  readonly minHealthyTargets: number;
  readonly capacityErrorPercentage: number;
  readonly capacityErrorDurationIso: string;
}

function validate(props: InterruptionDrillProps, scope: string): ValidatedDrill {
  const v = new ProblemCollector();
  const C = FleetSpecErrorCode;
  const known = (x: unknown): boolean => x !== undefined && !Token.isUnresolved(x);
  const asg = props.autoScalingGroup ?? props.fleet?.autoScalingGroup;
  if (!asg) {
    v.add(C.DRILL_TARGET, 'fleet', 'neither fleet nor autoScalingGroup is set, so there is no group to drill; pass fleet (a SpotFleet, service.fleet, or SpotFleet.fromAutoScalingGroup(...) for an existing group)');
  } else if (props.fleet && props.autoScalingGroup && props.autoScalingGroup !== props.fleet.autoScalingGroup) {
    v.add(C.DRILL_TARGET, 'autoScalingGroup', `autoScalingGroup (${props.autoScalingGroup.node.path}) is not the group of fleet (${props.fleet.node.path}); leave autoScalingGroup out: the fleet's group is drilled`);
  }
  const selection = props.selection ?? SpotInterruptionSelection.ONE;
  if (known(selection.value)) {
    if (selection.isPercent && !(Number.isInteger(selection.value) && selection.value >= 1 && selection.value <= 100)) {
      v.add(C.DRILL_SELECTION, 'selection', `selection PERCENT(${selection.value}) must be a whole percentage from 1 to 100; use e.g. SpotInterruptionSelection.percent(25)`);
    }
    if (!selection.isPercent && !(Number.isInteger(selection.value) && selection.value >= 1)) {
      v.add(C.DRILL_SELECTION, 'selection', `selection COUNT(${selection.value}) must be a whole number of instances, 1 or more; use SpotInterruptionSelection.ONE`);
    }
  }
  const before = props.durationBeforeInterruption ?? Duration.minutes(2);
  if (!before.isUnresolved() && (before.toSeconds() < 120 || before.toSeconds() > 900)) {
    v.add(C.DRILL_DURATION, 'durationBeforeInterruption', `durationBeforeInterruption (${before.toSeconds()} s) must be from 2 to 15 minutes (the FIS limit for ${FIS_SPOT_INTERRUPTION_ACTION}); use Duration.minutes(2)`);
  }
  if (!props.stopConditionAlarm && !props.healthyTargetsMetric) {
    v.add(C.DRILL_STOP_CONDITION, 'stopConditionAlarm', 'an interruption drill needs a stop condition, but neither stopConditionAlarm nor healthyTargetsMetric is set; pass the fleet\'s healthy-targets metric (e.g. service.metricHealthyTargets()) or its no-healthy-targets alarm (FleetDashboard.noHealthyTargetsAlarm)');
  }
  if (props.stopConditionAlarm && props.healthyTargetsMetric) {
    v.add(C.DRILL_STOP_CONDITION, 'healthyTargetsMetric', 'healthyTargetsMetric is only used to create the stop-condition alarm, but stopConditionAlarm is set too; give one of them');
  }
  const minHealthy = props.minHealthyTargets ?? 1;
  if (known(props.minHealthyTargets) && !(Number.isInteger(minHealthy) && minHealthy >= 1)) {
    v.add(C.ALARM_THRESHOLD, 'minHealthyTargets', `minHealthyTargets (${minHealthy}) must be a whole number, 1 or more: the drill stops when healthy targets fall below it; use 1`);
  }
  const pct = props.capacityErrorPercentage ?? 100;
  if (known(props.capacityErrorPercentage) && !(Number.isInteger(pct) && pct >= 1 && pct <= 100)) {
    v.add(C.DRILL_CAPACITY_ERROR, 'capacityErrorPercentage', `capacityErrorPercentage (${pct}) must be a whole percentage from 1 to 100 (FIS limit); use 100 to fail every launch`);
  }
  const dur = props.capacityErrorDuration ?? Duration.minutes(10);
  if (!dur.isUnresolved() && (dur.toSeconds() < 60 || dur.toSeconds() > 12 * 3600)) {
    v.add(C.DRILL_DURATION, 'capacityErrorDuration', `capacityErrorDuration (${dur.toSeconds()} s) must be from 1 minute to 12 hours; use e.g. Duration.minutes(10)`);
  }
  const zones = props.capacityErrorAvailabilityZones;
  if (zones && !Token.isUnresolved(zones)) {
    if (zones.length === 0) {
      v.add(C.DRILL_CAPACITY_ERROR, 'capacityErrorAvailabilityZones', 'capacityErrorAvailabilityZones is empty; list zones like ["us-east-1a"] or zone ids like ["use1-az1"], or leave it out for every zone of the region');
    }
    for (const z of zones) {
      if (!Token.isUnresolved(z) && !/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/.test(z) && !/^[a-z]{3,5}\d-az\d+$/.test(z)) {
        v.add(C.DRILL_CAPACITY_ERROR, 'capacityErrorAvailabilityZones', `capacityErrorAvailabilityZones has "${z}", which is neither a zone name (us-east-1a) nor a zone id (use1-az1)`);
      }
    }
  }
  const tag = props.capacityErrorTargetTagValue;
  if (tag !== undefined && !Token.isUnresolved(tag) && !/^[\w .:/=+\-@]{1,256}$/.test(tag)) {
    v.add(C.DRILL_TARGET, 'capacityErrorTargetTagValue', `capacityErrorTargetTagValue ("${tag}") must be 1-256 letters, digits, spaces or _ . : / = + - @ (an AWS tag value)`);
  }
  v.throwIfAny(scope);
  return {
    autoScalingGroup: asg!,
    selection,
    durationBeforeInterruptionIso: before.isUnresolved() ? before.toIsoString() : isoMinutes(before),
    minHealthyTargets: minHealthy,
    capacityErrorPercentage: pct,
    capacityErrorDurationIso: dur.isUnresolved() ? dur.toIsoString() : isoMinutes(dur),
  };
}

/** `PT2M`, `PT90S`, `PT1H`: the ISO 8601 duration FIS takes. */
function isoMinutes(d: Duration): string {
  const secs = d.toSeconds();
  if (secs % 3600 === 0) return `PT${secs / 3600}H`;
  if (secs % 60 === 0) return `PT${secs / 60}M`;
  return `PT${secs}S`;
}
