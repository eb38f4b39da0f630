import { FleetCapacity, OnDemandSpotSplit, splitOnDemandSpot, splitOverGroups, withoutOnDemandBase } from '../policy/capacity-split';
import { AgentDrainOptions } from '../runtime/agent-config';
import { FleetAgentPlan, planFleetAgent } from '../runtime/fleet-agent';
import { CLOUD_LIMITS, Cloud, CloudProfile } from './clouds';
import { ResolvedFleetSpec, applyFleetSpecDefaults } from './defaults';
import { FleetSpecErrorCode as C, FleetSpecProblem } from './errors';
import { FleetSpec } from './fleet-spec';
import { ValidationOptions, validateFleetSpec } from './validate';

/**
 * Each cloud's profile: its notice and drain defaults (`CLOUD_LIMITS`) and the spec features it cannot honour, with
 * the reason. AWS honours every feature of the spec (attribute-based selection is a launch template override of the
 * mixed instances policy); Google Cloud's managed instance groups and Azure's scale sets take named types only.
 */
export const CLOUD_PROFILES: Record<Cloud, CloudProfile> = {
  [Cloud.AWS]: { ...CLOUD_LIMITS[Cloud.AWS], cloud: Cloud.AWS, unsupported: [] },
  [Cloud.GCP]: {
    ...CLOUD_LIMITS[Cloud.GCP],
    cloud: Cloud.GCP,
    unsupported: [
      {
        feature: 'instanceRequirements',
        reason: 'managed instance groups pick from named machine types',
        fix: 'list them in instanceTypes instead, e.g. ["g2-standard-8", "g2-standard-12"]',
      },
    ],
  },
  [Cloud.AZURE]: {
    ...CLOUD_LIMITS[Cloud.AZURE],
    cloud: Cloud.AZURE,
    unsupported: [
      {
        feature: 'instanceRequirements',
        reason: 'a scale set takes VM sizes by name',
        fix: 'list them in instanceTypes instead, e.g. ["Standard_NC4as_T4_v3", "Standard_NC8as_T4_v3"]',
      },
    ],
  },
};

/** The agent options every cloud's fleet takes (`agent`), as `planFleet` reads them. */
export interface FleetPlanAgentOptions extends AgentDrainOptions {
  /** Install the agent (AWS: `agent.enabled`). Without it the agent's options are not checked. @default true */
  readonly enabled?: boolean;
}

/** What `planFleet` resolves: the cloud-neutral spec and the fleet's `agent` options. */
export interface FleetPlanProps extends FleetSpec {
  /** The on-instance agent. @default - installed, DrainMode.HEALTH */
  readonly agent?: FleetPlanAgentOptions;
}

/** What the renderer knows that the spec does not say, and how to treat values unknown until deploy. */
export interface PlanFleetOptions extends ValidationOptions {
  /** Whether a load balancer routes to the fleet. @default - cannot tell (AWS: attached afterwards) */
  readonly loadBalanced?: boolean;
  /** Whether anything probes the agent's health endpoint from outside the instance (load balancer, autohealing). @default - cannot tell */
  readonly probedFromOutside?: boolean;
  /** AWS: the terminate lifecycle hook the agent completes. @default - none */
  readonly lifecycleHookName?: string;
  /**
   * How many groups share the mixed (on-demand and spot) capacity, each with the same share (Azure: one scale set
   * per VM size).
   * @default 1
   */
  readonly groups?: number;
  /**
   * The on-demand base runs in a group of its own (Azure's `regularBaseScaleSet`): the mixed groups get every
   * capacity less the base.
   * @default false
   */
  readonly separateOnDemandBase?: boolean;
  /**
   * The spot part `max(0, value - onDemandCount)` of a deploy-time capacity, rendered for the deploy tool
   * (see `splitOnDemandSpot`).
   * @default - the deploy-time value itself
   */
  readonly spotOf?: (value: number, onDemandCount: number) => number;
}

/** How the fleet's capacity is split, decided by lib/policy. */
export interface FleetCapacityPlan {
  /** On-demand and spot as separate groups (a standard group beside a spot group). */
  readonly onDemandSpot: OnDemandSpotSplit;
  /** The share of each group that mixes on-demand and spot (`groups` of them). */
  readonly groups: FleetCapacity[];
}

/** A fleet resolved once, for a renderer to render: plain data, no IaC object. */
export interface FleetPlan {
  /** The cloud the plan was made for. */
  readonly profile: CloudProfile;
  /** The spec with every default filled in. */
  readonly spec: ResolvedFleetSpec;
  /** The on-demand / spot split, and the split over groups. */
  readonly capacity: FleetCapacityPlan;
  /** Whether the agent is installed (`agent.enabled`). */
  readonly agentEnabled: boolean;
  /** The agent's config, drain mode and ports, validated (its problems are in `problems` when enabled). */
  readonly agent: FleetAgentPlan;
  /** Port the load balancer probes: the agent's probe port when installed, else `healthCheck.port`. */
  readonly healthCheckPort: number;
  /** Problems of the spec and of the cloud profile (unsupported features), in that order. */
  readonly specProblems: FleetSpecProblem[];
  /** Every problem: `specProblems`, then the agent's when it is installed. Empty when the fleet is valid. */
  readonly problems: FleetSpecProblem[];
}

/**
 * The one resolution step every fleet renderer goes through: validate the spec once (the rules every cloud
 * shares, against the profile's notice), refuse the features the cloud cannot honour (the profile's `unsupported`,
 * with the reason), fill the defaults once, take the on-demand / spot split from lib/policy and resolve the agent
 * (`planFleetAgent`: config, drain mode, health port). Returns the problems instead of throwing, so the renderer
 * reports them together with its cloud's own. Values that are tokens are not validated; the split passes them
 * through where it only hands them on, and where it must compute with them the renderer refuses them at synth
 * (see lib/policy/capacity-split).
 */
export function planFleet(props: FleetPlanProps, profile: CloudProfile, options: PlanFleetOptions = {}): FleetPlan {
  const isUnresolved = options.isUnresolved ?? (() => false);
  const specProblems = [...validateFleetSpec(props, profile.cloud, { ...options, limits: profile }), ...unsupportedFeatureProblems(props, profile)];
  const spec = applyFleetSpecDefaults(props, profile.cloud, profile);
  const agentOptions = props.agent ?? {};
  const agentEnabled = agentOptions.enabled ?? true;
  const agent = planFleetAgent(agentOptions, {
    cloud: profile.cloud,
    servingPort: spec.servingPort,
    healthCheckPath: spec.healthCheck.path,
    healthCheckPort: props.healthCheck?.port,
    healthCheckIntervalSeconds: spec.healthCheck.intervalSeconds,
    healthCheckUnhealthyThreshold: spec.healthCheck.unhealthyThreshold,
    drainBudgetSeconds: spec.drainBudgetSeconds,
    loadBalanced: options.loadBalanced,
    probedFromOutside: options.probedFromOutside,
    isUnresolved,
    lifecycleHookName: options.lifecycleHookName,
  });
  return {
    profile,
    spec,
    capacity: planCapacity(spec, options, isUnresolved),
    agentEnabled,
    agent,
    healthCheckPort: agentEnabled ? agent.probePort : spec.healthCheck.port,
    specProblems,
    problems: agentEnabled ? [...specProblems, ...agent.problems] : specProblems,
  };
}

/** The features of `props` that `profile` cannot honour, one problem each, naming the feature and the reason. */
export function unsupportedFeatureProblems(props: FleetSpec, profile: CloudProfile): FleetSpecProblem[] {
  const given = props as unknown as { readonly [prop: string]: unknown };
  return profile.unsupported
    .filter((u) => given[u.feature] !== undefined)
    .map((u) => ({
      code: C.INSTANCE_REQUIREMENTS_UNSUPPORTED,
      prop: u.feature,
      message: `${u.feature} is not supported on ${profile.displayName} (${u.reason}); ${u.fix}`,
    }));
}

const CAPACITY_PROPS = ['minCapacity', 'maxCapacity', 'desiredCapacity', 'onDemandBaseCapacity'] as const;

function planCapacity(spec: ResolvedFleetSpec, options: PlanFleetOptions, isUnresolved: (v: unknown) => boolean): FleetCapacityPlan {
  // Taking the base out needs numbers; with a deploy-time capacity the renderer refuses the mode (the groups are
  // then split as they are, never computed from a token).
  const numbers = CAPACITY_PROPS.every((p) => !isUnresolved(spec[p]));
  const mixed = options.separateOnDemandBase && numbers ? withoutOnDemandBase(spec) : spec;
  return {
    onDemandSpot: splitOnDemandSpot(spec, { isUnresolved, spotOf: options.spotOf }),
    groups: splitOverGroups(mixed, options.groups ?? 1),
  };
}
