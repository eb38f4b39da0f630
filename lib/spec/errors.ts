/**
 * Stable codes of {@link FleetSpecError}. A code never changes meaning once released, so callers
 * (and tests) can match on it instead of on the message text.
 */
export enum FleetSpecErrorCode {
  /** A capacity (min, max, desired, on-demand base) or a policy count below 0, or not a whole number. */
  CAPACITY_NEGATIVE = 'CAPACITY_NEGATIVE',
  /** Capacities out of order: minCapacity <= desiredCapacity <= maxCapacity does not hold. */
  CAPACITY_ORDER = 'CAPACITY_ORDER',
  /** An on-demand base above maxCapacity. */
  ON_DEMAND_BASE_ABOVE_MAX = 'ON_DEMAND_BASE_ABOVE_MAX',
  /** A percentage (on-demand above base, traffic dial) outside 0 to 100. */
  PERCENTAGE_RANGE = 'PERCENTAGE_RANGE',
  /** Fewer than 2 instance types without `allowUndiversified`: one spot pool running dry takes the whole fleet. */
  NOT_DIVERSIFIED = 'NOT_DIVERSIFIED',
  /** Instance types and instanceRequirements together, neither of them, or a type not in the catalogue. */
  INSTANCE_SELECTION = 'INSTANCE_SELECTION',
  /** instanceRequirements with a missing or impossible range (no min, min above max). */
  INSTANCE_REQUIREMENTS = 'INSTANCE_REQUIREMENTS',
  /** Instance types of different CPU architectures (x86_64 and arm64) in one fleet: one image cannot boot both. */
  MIXED_ARCHITECTURES = 'MIXED_ARCHITECTURES',
  /** Drain budget plus deregistration delay (and the detection time) longer than the cloud's spot notice. */
  DRAIN_BUDGET_EXCEEDED = 'DRAIN_BUDGET_EXCEEDED',
  /** A health check path that does not start with "/" or is not the server's health path. */
  HEALTH_CHECK_PATH = 'HEALTH_CHECK_PATH',
  /** Health check interval, timeout or thresholds out of range, or unknown at synth where the agent needs them. */
  HEALTH_CHECK_RANGE = 'HEALTH_CHECK_RANGE',
  /** A port outside 1 to 65535, or two pieces on one port (the agent and the server). */
  PORT_RANGE = 'PORT_RANGE',
  /** A zone list that is empty, repeats a zone, or names a zone of another region. */
  ZONES = 'ZONES',
  /** An instance type, machine type or VM size the cloud does not have (a misspelling, an unknown family or size). */
  UNKNOWN_INSTANCE_TYPE = 'UNKNOWN_INSTANCE_TYPE',
  /** Types with different accelerators (GPU and CPU-only, or two GPU makers) in one fleet: one image, one driver. */
  MIXED_ACCELERATORS = 'MIXED_ACCELERATORS',
  /** Fewer than 2 zones without `allowUndiversified`: one zone running dry takes the whole fleet. */
  TOO_FEW_ZONES = 'TOO_FEW_ZONES',
  /** A string cast to an enum prop that is none of the enum's values. */
  UNKNOWN_ENUM_VALUE = 'UNKNOWN_ENUM_VALUE',
  /**
   * Family of the rules of one cloud's renderer (AWS, Google Cloud or Azure) and of the agent and
   * region settings, rather than of the neutral spec. No problem carries it as its own code any more:
   * each carries the code of its rule (`AWS_TOO_MANY_OVERRIDES`, `AGENT_POLL_INTERVAL`, ...) whose family
   * it is. Match it with `FleetSpecError.hasCode(FleetSpecErrorCode.CLOUD_CONSTRAINT)` or `error.family`.
   */
  CLOUD_CONSTRAINT = 'CLOUD_CONSTRAINT',
  /**
   * Family of the rules of a workload pattern (queue worker, batch). Match it with
   * `FleetSpecError.hasCode(FleetSpecErrorCode.WORKLOAD)` or `error.family`.
   */
  WORKLOAD = 'WORKLOAD',

  // --- family CLOUD_CONSTRAINT: rules shared by several clouds, the agent and multi-region settings ---
  /** A cloud name that is none of aws, gcp, azure (the agent's `cloud`, `spot-plan --cloud`). */
  UNKNOWN_CLOUD = 'UNKNOWN_CLOUD',
  /** The agent's metadata poll interval is 0, negative or so slow that it spends the notice. */
  AGENT_POLL_INTERVAL = 'AGENT_POLL_INTERVAL',
  /** The agent's lifecycle hook settings: hook and group name go together, and only on AWS. */
  AGENT_LIFECYCLE_HOOK = 'AGENT_LIFECYCLE_HOOK',
  /** An agent option that the chosen drain mode does not use or the fleet cannot honour (HEALTH without a load balancer, drainUrl without HTTP, pidFile without SIGNAL). */
  AGENT_DRAIN_MODE_CONFLICT = 'AGENT_DRAIN_MODE_CONFLICT',
  /** The spot-agent bundle a fleet ships to its instances was not found (run `npm run build:handlers`). */
  AGENT_BUNDLE_MISSING = 'AGENT_BUNDLE_MISSING',
  /** A list of regions that is empty, repeats a region, has a malformed name, leaves allowedRegions, or lacks the home region. */
  REGION_LIST = 'REGION_LIST',
  /** A spot notice length outside what the cloud gives (1 s to the cloud's notice). */
  NOTICE_LENGTH = 'NOTICE_LENGTH',
  /** Client CIDR blocks of a load balancer: empty, malformed, or the whole internet where that is refused. */
  CLIENT_CIDRS = 'CLIENT_CIDRS',
  /** Bounds of the on-demand fallback: its most on-demand instances do not fit the fleet. */
  FALLBACK_CAPACITY = 'FALLBACK_CAPACITY',
  /** How often the fallback controller runs and how far back it looks (rate, cron, lookback window). */
  FALLBACK_SCHEDULE = 'FALLBACK_SCHEDULE',
  /** Spare spot groups that could never run anything (no spare replicas in the policy, no zones to spread them over). */
  FALLBACK_SPARES = 'FALLBACK_SPARES',
  /** An alarm's threshold or evaluation window outside what it can express (healthy targets, periods, the fallback alarm's hours). */
  ALARM_THRESHOLD = 'ALARM_THRESHOLD',
  /** Which instances an interruption drill takes (COUNT(n) / PERCENT(n) out of range). */
  DRILL_SELECTION = 'DRILL_SELECTION',
  /** Durations of an interruption drill outside the fault-injection service's limits. */
  DRILL_DURATION = 'DRILL_DURATION',
  /** The stop condition of an interruption drill: missing, or given twice. */
  DRILL_STOP_CONDITION = 'DRILL_STOP_CONDITION',
  /** Where and how hard the capacity-error drill fails launches (zones, percentage). */
  DRILL_CAPACITY_ERROR = 'DRILL_CAPACITY_ERROR',
  /** The fleet an interruption drill targets: none given, two that disagree, or a tag value AWS refuses. */
  DRILL_TARGET = 'DRILL_TARGET',
  /** A spec feature the cloud cannot honour (instanceRequirements on Google Cloud and Azure, which take named types). */
  INSTANCE_REQUIREMENTS_UNSUPPORTED = 'INSTANCE_REQUIREMENTS_UNSUPPORTED',
  /** A deploy-time value (token, Terraform variable) where the construct needs a number at synth to compute the output. */
  DEPLOY_TIME_VALUE = 'DEPLOY_TIME_VALUE',
  /** Options that contradict each other or have no effect together (a load balancer option with loadBalanced false, ...). */
  OPTION_CONFLICT = 'OPTION_CONFLICT',
  /** A prop that is no longer part of the API, with the prop that replaced it. */
  REMOVED_OPTION = 'REMOVED_OPTION',
  /** A piece of the fleet asked for that the fleet does not have (its health check, firewall or load balancer when loadBalanced is false). */
  FLEET_PIECE_MISSING = 'FLEET_PIECE_MISSING',
  /** What an alert watches: no group or scale set given. */
  ALERT_TARGETS = 'ALERT_TARGETS',
  /** A cloud function's prebuilt bundle was not found at synth (run `npm run build:handlers`). */
  HANDLER_BUNDLE_MISSING = 'HANDLER_BUNDLE_MISSING',

  // --- family CLOUD_CONSTRAINT: AWS ---
  /** More instance types than a mixed instances policy takes as launch template overrides. */
  AWS_TOO_MANY_OVERRIDES = 'AWS_TOO_MANY_OVERRIDES',
  /** An allocation strategy that AWS refuses with the given instance selection (prioritized without an ordered list). */
  AWS_ALLOCATION_STRATEGY = 'AWS_ALLOCATION_STRATEGY',
  /** A launch template the fleet cannot use: requests spot itself, or lacks a role, user data or a security group. */
  AWS_LAUNCH_TEMPLATE = 'AWS_LAUNCH_TEMPLATE',
  /** Root volume size outside gp3 limits or below the image's snapshot. */
  AWS_ROOT_VOLUME = 'AWS_ROOT_VOLUME',
  /** Instance metadata (IMDSv2) hop limit outside 1 to 64. */
  AWS_METADATA_HOP_LIMIT = 'AWS_METADATA_HOP_LIMIT',
  /** A lifecycle hook: heartbeat timeout outside 30 s to 7200 s, a malformed name, or a name the group does not have as a terminate hook. */
  AWS_LIFECYCLE_HOOK = 'AWS_LIFECYCLE_HOOK',
  /** Subnets of the instances: public (workers must not be reachable from the internet) or none selected. */
  AWS_SUBNETS = 'AWS_SUBNETS',
  /** A warm pool on a group with a mixed instances policy, which AWS refuses. */
  AWS_WARM_POOL = 'AWS_WARM_POOL',
  /** An imported fleet without security groups, so no load balancer can be admitted. */
  AWS_SECURITY_GROUPS = 'AWS_SECURITY_GROUPS',
  /** Load balancer settings AWS refuses: idle timeout out of range or on an NLB, access logs without a region. */
  AWS_LOAD_BALANCER_SETTINGS = 'AWS_LOAD_BALANCER_SETTINGS',
  /** An ALB listener rule: priority out of range, priority without conditions or the reverse, an imported listener's default action. */
  AWS_LISTENER_RULE = 'AWS_LISTENER_RULE',
  /** The group an interruption handler drains: none given, or a group that is not the fleet's. */
  AWS_DRAIN_TARGET = 'AWS_DRAIN_TARGET',
  /** Heartbeat and poll intervals of the drain handler outside the lifecycle hook's and the drain budget's bounds. */
  AWS_DRAIN_TIMING = 'AWS_DRAIN_TIMING',
  /** The interruption handler's event queue: retention or receive count outside SQS limits. */
  AWS_DRAIN_QUEUE = 'AWS_DRAIN_QUEUE',
  /** An Auto Scaling group name: too long, has ":", or is taken by another group of the fleet. */
  AWS_GROUP_NAME = 'AWS_GROUP_NAME',
  /** A stack environment the construct needs at synth: a region or account known at synth, a stack per region under the App. */
  AWS_STACK_ENVIRONMENT = 'AWS_STACK_ENVIRONMENT',
  /** Global Accelerator: its home region, its health check interval and threshold, client IP preservation. */
  AWS_GLOBAL_ACCELERATOR = 'AWS_GLOBAL_ACCELERATOR',
  /** ACM certificates of a multi-region service: all regions or none, each of its own region. */
  AWS_CERTIFICATE = 'AWS_CERTIFICATE',
  /** Inputs of the fleet dashboard that go together or exclude each other (instance split metrics, target groups, prices). */
  AWS_DASHBOARD_INPUTS = 'AWS_DASHBOARD_INPUTS',

  // --- family CLOUD_CONSTRAINT: Google Cloud ---
  /** A Google Cloud resource name, label value or project id the API refuses (length, characters, first letter). */
  GCP_RESOURCE_NAME = 'GCP_RESOURCE_NAME',
  /** Autohealing's initial delay outside 0 to 3600 s. */
  GCP_AUTOHEALING = 'GCP_AUTOHEALING',
  /** A managed instance group update policy the provider refuses (fixed surge / unavailable, action and type values). */
  GCP_UPDATE_POLICY = 'GCP_UPDATE_POLICY',
  /** Autoscaler settings: utilization targets, custom metrics (type, name, assignment), autoscaling off with metrics. */
  GCP_AUTOSCALER = 'GCP_AUTOSCALER',
  /** A firewall rule the provider refuses (sources, targets, priority, allow/deny), or one that could target nothing. */
  GCP_FIREWALL = 'GCP_FIREWALL',
  /** A backend service: timeout, draining, utilization, health checks, backends already there, load balancing scheme. */
  GCP_BACKEND_SERVICE = 'GCP_BACKEND_SERVICE',
  /** Routing an existing URL map to the fleet: hosts, paths, default service, host rules already there. */
  GCP_URL_MAP = 'GCP_URL_MAP',
  /** SSL certificates of the load balancer: an empty list. */
  GCP_SSL_CERTIFICATES = 'GCP_SSL_CERTIFICATES',
  /** A regional group's target shape that does not go with instance flexibility or the autoscaler. */
  GCP_TARGET_SHAPE = 'GCP_TARGET_SHAPE',
  /** Zones outside the region of a regional group or a Cloud Batch job. */
  GCP_ZONE_REGION = 'GCP_ZONE_REGION',
  /** GPUs that the machine types cannot take (built-in GPUs, N1-only attachment, counts Compute Engine attaches). */
  GCP_ACCELERATOR = 'GCP_ACCELERATOR',
  /** The preemption function: its instance limit, its code bucket. */
  GCP_FUNCTION = 'GCP_FUNCTION',

  // --- family CLOUD_CONSTRAINT: Azure ---
  /** A scale set, probe, public IP or security rule the azurerm provider refuses (quoting the provider's own rule). */
  AZURE_PROVIDER_RULE = 'AZURE_PROVIDER_RULE',
  /** Terminate notifications on a Spot scale set, which Azure does not accept. */
  AZURE_TERMINATE_NOTIFICATION = 'AZURE_TERMINATE_NOTIFICATION',
  /** Azure availability zones are "1", "2" and "3". */
  AZURE_ZONES = 'AZURE_ZONES',
  /** A Regular (on-demand) base scale set without an on-demand base. */
  AZURE_REGULAR_BASE = 'AZURE_REGULAR_BASE',
  /** An instance mix with sizes it cannot hold (GPU families, too many sizes). */
  AZURE_SIZE_STRATEGY = 'AZURE_SIZE_STRATEGY',
  /** More VMs than one scale set holds, or fewer than the scale sets of the fleet need. */
  AZURE_SCALE_SET_CAPACITY = 'AZURE_SCALE_SET_CAPACITY',
  /** A Spot max bid price that is neither -1 nor a price above 0. */
  AZURE_MAX_BID_PRICE = 'AZURE_MAX_BID_PRICE',
  /** The CPU autoscale rules: percentages, scale-in below scale-out. */
  AZURE_AUTOSCALE = 'AZURE_AUTOSCALE',
  /** A timeout in minutes outside what Azure accepts (terminate notification, repair grace period). */
  AZURE_TIMEOUT_MINUTES = 'AZURE_TIMEOUT_MINUTES',
  /** An admin SSH key that is not an OpenSSH public key. */
  AZURE_SSH_KEY = 'AZURE_SSH_KEY',
  /** A load balancer probe that would watch the inference server instead of the agent. */
  AZURE_HEALTH_PROBE = 'AZURE_HEALTH_PROBE',
  /** Custom data above Azure's limit (the inline agent). */
  AZURE_CUSTOM_DATA = 'AZURE_CUSTOM_DATA',
  /** An Azure resource name Azure refuses (resource group, scale set, storage account, alert prefix). */
  AZURE_RESOURCE_NAME = 'AZURE_RESOURCE_NAME',
  /** An existing load balancer backend pool: malformed ids, a pool of another load balancer, a port without a frontend. */
  AZURE_BACKEND_POOL = 'AZURE_BACKEND_POOL',
  /** Front Door of a multi-region service: probe and latency settings, regional pieces it cannot reach. */
  AZURE_FRONT_DOOR = 'AZURE_FRONT_DOOR',
  /** Scale sets of an imported fleet: none, or names that do not match the ids. */
  AZURE_IMPORTED_SCALE_SETS = 'AZURE_IMPORTED_SCALE_SETS',

  // --- family WORKLOAD ---
  /** A workload kind or fleet option that does not fit the pattern (an online fleet in a queue worker pattern). */
  WORKLOAD_KIND = 'WORKLOAD_KIND',
  /** The agent's drain options: unknown drain mode or signal, SIGNAL without pidFile, a URL that is not plain http, a hook timeout, a flag that is not a boolean. */
  AGENT_DRAIN_OPTIONS = 'AGENT_DRAIN_OPTIONS',
  /** The agent's inference server preset options: unknown preset, metrics URL, shutdown timeout. */
  AGENT_SERVER_PRESET = 'AGENT_SERVER_PRESET',
  /** Visibility timeout against processing time and heartbeats (a message must not reappear mid-work). */
  QUEUE_TIMING = 'QUEUE_TIMING',
  /** Queue settings outside the queue service's limits (receive count, retention, long poll, retry delay, concurrency). */
  QUEUE_LIMITS = 'QUEUE_LIMITS',
  /** The scaling target of a queue fleet (backlog per instance, messages in parallel, acceptable latency). */
  QUEUE_SCALING_TARGET = 'QUEUE_SCALING_TARGET',
  /** Retries of a batch job: attempts out of range, a retry policy that retries bugs or does not resume after a reclaim. */
  BATCH_RETRY_POLICY = 'BATCH_RETRY_POLICY',
  /** What one batch job reserves against what the compute environments offer (vCPUs, GPUs, GPU instance types). */
  BATCH_JOB_RESOURCES = 'BATCH_JOB_RESOURCES',
  /** Array size and time limit of a batch job outside the batch service's limits. */
  BATCH_JOB_LIMITS = 'BATCH_JOB_LIMITS',
  /** Checkpoint and output storage of a batch pattern (expiry, root volume, key with an own bucket). */
  BATCH_STORAGE = 'BATCH_STORAGE',
  /** An option of the fallback policy of the wrong type (home region, the spare-cover switches). */
  FALLBACK_POLICY_OPTIONS = 'FALLBACK_POLICY_OPTIONS',
  /** An option of the planner's simulation out of range (window, offsets, rates, deployment, controller period, regions). */
  PLAN_OPTIONS = 'PLAN_OPTIONS',
  /** A capacity trace the planner cannot read (not JSON, no gap_seconds, no data, no readable folder). */
  PLAN_TRACES = 'PLAN_TRACES',
  /** A `spot-plan` command-line argument that is missing or malformed. */
  PLAN_CLI_ARGUMENT = 'PLAN_CLI_ARGUMENT',
  /** The command a batch task runs: empty. */
  BATCH_TASK = 'BATCH_TASK',
  /** The accounts and vault of a batch pattern: malformed ids, URLs or names. */
  BATCH_ACCOUNT = 'BATCH_ACCOUNT',
}

/**
 * The family of every code: the neutral codes are their own family; each rule-specific code names the
 * broad code it replaced (`CLOUD_CONSTRAINT` or `WORKLOAD`), so a caller that matched the broad code
 * keeps matching through {@link FleetSpecError.hasCode}. A `Record` over the enum: a new code without a
 * family does not compile.
 */
const FAMILY: Record<FleetSpecErrorCode, FleetSpecErrorCode> = (() => {
  const C = FleetSpecErrorCode;
  const own = (codes: FleetSpecErrorCode[]): Array<[FleetSpecErrorCode, FleetSpecErrorCode]> => codes.map((c) => [c, c]);
  const of = (family: FleetSpecErrorCode, codes: FleetSpecErrorCode[]): Array<[FleetSpecErrorCode, FleetSpecErrorCode]> => codes.map((c) => [c, family]);
  return Object.fromEntries([
    ...own([
      C.CAPACITY_NEGATIVE, C.CAPACITY_ORDER, C.ON_DEMAND_BASE_ABOVE_MAX, C.PERCENTAGE_RANGE, C.NOT_DIVERSIFIED,
      C.INSTANCE_SELECTION, C.INSTANCE_REQUIREMENTS, C.MIXED_ARCHITECTURES, C.DRAIN_BUDGET_EXCEEDED, C.HEALTH_CHECK_PATH,
      C.HEALTH_CHECK_RANGE, C.PORT_RANGE, C.ZONES, C.UNKNOWN_INSTANCE_TYPE, C.MIXED_ACCELERATORS, C.TOO_FEW_ZONES,
      C.UNKNOWN_ENUM_VALUE, C.CLOUD_CONSTRAINT, C.WORKLOAD,
    ]),
    ...of(C.CLOUD_CONSTRAINT, [
      C.UNKNOWN_CLOUD, C.AGENT_POLL_INTERVAL, C.AGENT_LIFECYCLE_HOOK, C.AGENT_DRAIN_MODE_CONFLICT, C.AGENT_BUNDLE_MISSING,
      C.REGION_LIST, C.NOTICE_LENGTH, C.CLIENT_CIDRS, C.FALLBACK_CAPACITY, C.FALLBACK_SCHEDULE, C.FALLBACK_SPARES,
      C.ALARM_THRESHOLD, C.DRILL_SELECTION, C.DRILL_DURATION, C.DRILL_STOP_CONDITION, C.DRILL_CAPACITY_ERROR, C.DRILL_TARGET,
      C.AWS_TOO_MANY_OVERRIDES, C.AWS_ALLOCATION_STRATEGY, C.AWS_LAUNCH_TEMPLATE, C.AWS_ROOT_VOLUME, C.AWS_METADATA_HOP_LIMIT,
      C.AWS_LIFECYCLE_HOOK, C.AWS_SUBNETS, C.AWS_WARM_POOL, C.AWS_SECURITY_GROUPS, C.AWS_LOAD_BALANCER_SETTINGS,
      C.AWS_LISTENER_RULE, C.AWS_DRAIN_TARGET, C.AWS_DRAIN_TIMING, C.AWS_DRAIN_QUEUE, C.AWS_GROUP_NAME,
      C.AWS_STACK_ENVIRONMENT, C.AWS_GLOBAL_ACCELERATOR, C.AWS_CERTIFICATE, C.AWS_DASHBOARD_INPUTS,
      C.INSTANCE_REQUIREMENTS_UNSUPPORTED, C.DEPLOY_TIME_VALUE, C.OPTION_CONFLICT, C.REMOVED_OPTION, C.FLEET_PIECE_MISSING,
      C.ALERT_TARGETS, C.HANDLER_BUNDLE_MISSING,
      C.GCP_RESOURCE_NAME, C.GCP_AUTOHEALING, C.GCP_UPDATE_POLICY, C.GCP_AUTOSCALER, C.GCP_FIREWALL, C.GCP_BACKEND_SERVICE,
      C.GCP_URL_MAP, C.GCP_SSL_CERTIFICATES, C.GCP_TARGET_SHAPE, C.GCP_ZONE_REGION, C.GCP_ACCELERATOR, C.GCP_FUNCTION,
      C.AZURE_PROVIDER_RULE, C.AZURE_TERMINATE_NOTIFICATION, C.AZURE_ZONES, C.AZURE_REGULAR_BASE, C.AZURE_SIZE_STRATEGY,
      C.AZURE_SCALE_SET_CAPACITY, C.AZURE_MAX_BID_PRICE, C.AZURE_AUTOSCALE, C.AZURE_TIMEOUT_MINUTES, C.AZURE_SSH_KEY,
      C.AZURE_HEALTH_PROBE, C.AZURE_CUSTOM_DATA, C.AZURE_RESOURCE_NAME, C.AZURE_BACKEND_POOL, C.AZURE_FRONT_DOOR,
      C.AZURE_IMPORTED_SCALE_SETS,
    ]),
    ...of(C.WORKLOAD, [
      C.WORKLOAD_KIND, C.AGENT_DRAIN_OPTIONS, C.AGENT_SERVER_PRESET, C.QUEUE_TIMING, C.QUEUE_LIMITS, C.QUEUE_SCALING_TARGET,
      C.BATCH_RETRY_POLICY, C.BATCH_JOB_RESOURCES, C.BATCH_JOB_LIMITS, C.BATCH_STORAGE, C.FALLBACK_POLICY_OPTIONS,
      C.PLAN_OPTIONS, C.PLAN_TRACES, C.PLAN_CLI_ARGUMENT, C.BATCH_TASK, C.BATCH_ACCOUNT,
    ]),
  ]) as Record<FleetSpecErrorCode, FleetSpecErrorCode>;
})();

/** One problem found in a props object. */
export interface FleetSpecProblem {
  /** Stable code of the rule that failed; its family is `FleetSpecError.familyOf(code)`. */
  readonly code: FleetSpecErrorCode;
  /** The prop at fault, as the user spelled it (`onDemandBaseCapacity`, `healthCheck.path`). */
  readonly prop: string;
  /** What is wrong, with the value, the limit and the fix. */
  readonly message: string;
}

/**
 * The one error class the library throws for bad input. It carries every problem found in one props
 * object (validation collects them instead of stopping at the first) and the code of the first one.
 */
export class FleetSpecError extends Error {
  /**
   * The family of `code`: the broad code it belongs to (`CLOUD_CONSTRAINT`, `WORKLOAD`), or `code` itself
   * for the codes of the neutral spec (`DRAIN_BUDGET_EXCEEDED`, `PORT_RANGE`, ...).
   */
  public static familyOf(code: FleetSpecErrorCode): FleetSpecErrorCode {
    const family = FAMILY[code];
    if (family === undefined) {
      throw new Error(`familyOf: ${JSON.stringify(code)} is not a FleetSpecErrorCode; use a FleetSpecErrorCode member, e.g. FleetSpecErrorCode.CLOUD_CONSTRAINT`);
    }
    return family;
  }

  /** True when `code` is `wanted` or belongs to the family `wanted` (`matches(AWS_TOO_MANY_OVERRIDES, CLOUD_CONSTRAINT)`). */
  public static matches(code: FleetSpecErrorCode, wanted: FleetSpecErrorCode): boolean {
    // A code from a newer or older release than this module: it is only its own family.
    return code === wanted || (FAMILY[code] ?? code) === wanted;
  }

  /** Code of the first problem: the rule that failed; see `problems` for all of them. */
  public readonly code: FleetSpecErrorCode;
  /** Family of `code` (`CLOUD_CONSTRAINT`, `WORKLOAD`, or `code` itself for the neutral spec's codes). */
  public readonly family: FleetSpecErrorCode;
  /** Every problem found, in the order the rules ran. */
  public readonly problems: FleetSpecProblem[];

  constructor(problems: FleetSpecProblem[], scope?: string) {
    if (problems.length === 0) {
      throw new Error('FleetSpecError needs at least one problem');
    }
    const where = scope ? `${scope}: ` : '';
    const message =
      problems.length === 1
        ? `${where}${problems[0].message} [${problems[0].code}]`
        : `${where}${problems.length} problems in the fleet spec:\n` +
          problems.map((p) => `  - ${p.message} [${p.code}]`).join('\n');
    super(message);
    this.name = 'FleetSpecError';
    this.code = problems[0].code;
    this.family = FAMILY[problems[0].code] ?? problems[0].code;
    this.problems = problems;
    Object.setPrototypeOf(this, FleetSpecError.prototype);
  }

  /**
   * True when any problem has `code` as its code or its family: `hasCode(FleetSpecErrorCode.CLOUD_CONSTRAINT)`
   * matches every cloud rule, as `code === CLOUD_CONSTRAINT` did before the codes named their rules.
   */
  public hasCode(code: FleetSpecErrorCode): boolean {
    return this.problems.some((p) => FleetSpecError.matches(p.code, code));
  }

  /** The problems whose code or family is `code`. */
  public problemsWithCode(code: FleetSpecErrorCode): FleetSpecProblem[] {
    return this.problems.filter((p) => FleetSpecError.matches(p.code, code));
  }
}

/**
 * Collects problems of one props object, then throws them together.
 *
 * @example
 * const v = new ProblemCollector();
 * if (min > max) v.add(FleetSpecErrorCode.CAPACITY_ORDER, 'minCapacity', `...`);
 * v.throwIfAny('MyFleet');
 */
export class ProblemCollector {
  private readonly list: FleetSpecProblem[] = [];

  /** Record a problem. */
  public add(code: FleetSpecErrorCode, prop: string, message: string): void {
    this.list.push({ code, prop, message });
  }

  /** Record the problems of another validation. */
  public addAll(problems: readonly FleetSpecProblem[]): void {
    this.list.push(...problems);
  }

  /** Problems so far. */
  public get problems(): FleetSpecProblem[] {
    return [...this.list];
  }

  /** Throw a {@link FleetSpecError} carrying every problem, if there is any. */
  public throwIfAny(scope?: string): void {
    if (this.list.length > 0) {
      throw new FleetSpecError(this.list, scope);
    }
  }
}
