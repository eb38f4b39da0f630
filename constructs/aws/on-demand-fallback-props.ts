// The props of OnDemandFallback, apart from the construct so that its planning step (on-demand-fallback-plan.ts) can
// read them without importing the construct.
import { Duration } from 'aws-cdk-lib';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { FallbackPolicyOptions } from '../../lib/policy/fallback-policy';
import type { InterruptionHandler } from './interruption-handler';
import type { SpotFleet } from './spot-fleet';

/**
 * Options of {@link OnDemandFallback} that do not name the fleet's resources (what
 * `SpotInferenceService` passes through).
 */
export interface OnDemandFallbackOptions {
  /**
   * How often the controller runs on its own (it also runs on every launch failure and spot warning).
   * Whole minutes, 1 to 60 (an EventBridge rate).
   * @default Duration.minutes(1)
   */
  readonly controlInterval?: Duration;

  /**
   * How far back each run scans the fleet group's scaling activities for failed spot launches, so a
   * launch failure whose event was lost still counts. At least `controlInterval`, at most 1 day.
   * @default Duration.minutes(10)
   */
  readonly launchFailureLookback?: Duration;

  /**
   * Most on-demand instances the fallback group may run.
   * @default - the fleet's maxCapacity minus its onDemandBaseCapacity
   */
  readonly maxFallbackCapacity?: number;

  /**
   * Tuning of the fallback policy (stabilization before returning to spot, cool-down, how long a pool
   * that failed or was preempted is avoided, spare replicas while preemption risk is high).
   * @default - the policy's defaults: 60 s stabilization, 120 s cool-down, 180 s pool avoidance, 1 spare
   */
  readonly policy?: FallbackPolicyOptions;

  /**
   * Name of the on-demand fallback Auto Scaling group.
   * @default - the fleet group's name followed by `-od-fallback`
   */
  readonly fallbackGroupName?: string;

  /**
   * Retention of the controller's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Render the spare spot group: a spot-only Auto Scaling group (min 0) on the fleet's launch template,
   * overrides, subnets and target groups, whose size and subnets only the controller sets. It runs the
   * policy's spare spot replicas while preemption risk is high, so a preempted replica is covered at once;
   * the fleet group's desired capacity stays its scaling policies'.
   * @default - true when the policy keeps spares (`policy.spareSpotReplicas`, default 1, above 0)
   */
  readonly spareGroup?: boolean;

  /**
   * Name of the spare spot group.
   * @default - the fleet group's name followed by `-spare`
   */
  readonly spareGroupName?: string;

  /**
   * Let the controller also change the spare group's instance types (its launch template overrides), not only
   * its zones, so a type the policy avoids everywhere leaves the spare group. Auto Scaling checks that whoever
   * updates a group's launch template overrides may launch from it, so this grants the controller
   * `ec2:RunInstances` with the fleet's launch template only (condition `ec2:LaunchTemplate`) and
   * `iam:PassRole` of the fleet's instance role. Without it, the spare group's allocation strategy
   * (price-capacity-optimized) picks among the types: the cloud's behaviour.
   * @default false
   */
  readonly steerInstanceTypes?: boolean;

  /**
   * Whether this construct runs the controller. `false` renders the fallback and spare groups only, for a
   * fleet in another region whose groups one controller observes: pass this construct's `regionGroups` to
   * that controller's `regions`.
   * @default true
   */
  readonly controller?: boolean;

  /**
   * Groups of the same fleet in other regions that this controller observes and drives too (one controller
   * over several regional stacks). Each region's `OnDemandFallback` (with `controller: false`) gives its
   * `regionGroups`. The controller's role may resize those regions' fallback and spare groups and steer the
   * spare groups' subnets, nothing else.
   * @default - this fleet's region only
   */
  readonly regions?: OnDemandFallbackRegionGroups[];
}

/**
 * The groups of one region of a fleet that a controller in another region observes and drives (what
 * {@link OnDemandFallback.regionGroups} gives). Group names must be known at synth or passed across stacks
 * (`crossRegionReferences`, SSM parameters).
 */
export interface OnDemandFallbackRegionGroups {
  /** Region of the groups, e.g. `us-west-2`. */
  readonly region: string;
  /** The region's fleet (spot) group: observed, never resized. */
  readonly spotGroupName: string;
  /** The region's on-demand fallback group. */
  readonly fallbackGroupName: string;
  /** The region's spare spot group. @default - no spares in that region */
  readonly spareGroupName?: string;
  /** Subnet of each zone the spare group may launch in (zone steering). @default - its zones are not steered */
  readonly subnets?: OnDemandFallbackSubnet[];
  /** On-demand base of the region's fleet group. */
  readonly onDemandBase: number;
  /** Most instances of the region's fleet group. */
  readonly maxCapacity: number;
  /** Instance types of the region's fleet. @default - none (instance requirements) */
  readonly instanceTypes?: string[];
}

/** One subnet of a spare group, with its zone. */
export interface OnDemandFallbackSubnet {
  readonly zone: string;
  readonly subnetId: string;
}

/** Properties of {@link OnDemandFallback}. */
export interface OnDemandFallbackProps extends OnDemandFallbackOptions {
  /** The spot fleet to back with on-demand capacity. Its group keeps its own on-demand base. */
  readonly fleet: SpotFleet;

  /**
   * The fleet's interruption handler. When given, its `EC2 Instance Launch Unsuccessful` and spot
   * interruption warning rules also invoke the controller (no second pair of rules).
   * @default - the controller gets its own two rules with the same patterns
   */
  readonly interruptionHandler?: InterruptionHandler;

  /**
   * Target groups the fallback instances register in.
   * @default - the same target groups as the fleet's group (read when the template is written, so a load balancer attached later is included)
   */
  readonly targetGroups?: elbv2.ITargetGroup[];
}
