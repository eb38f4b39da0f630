import { Annotations, Token } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct, IConstruct } from 'constructs';
import { CLOUD_LIMITS, Cloud } from '../../lib/spec/clouds';
import { DEFAULT_HEALTH_CHECK, DEFAULT_SERVING_PORT, ResolvedHealthCheck } from '../../lib/spec/defaults';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { HealthCheckSpec } from '../../lib/spec/fleet-spec';

const AWS_LIMITS = CLOUD_LIMITS[Cloud.AWS];

/**
 * What the pieces around an AWS spot fleet need from it: the load balancer (ports, health check,
 * deregistration delay, the group to register), the interruption handler (the group, its hooks, the
 * drain budget and notice), the on-demand fallback and the dashboard (the group and its capacities).
 *
 * `SpotFleet` implements it; `SpotFleet.fromAutoScalingGroup(...)` returns one for a group built
 * elsewhere, so every piece works on an existing group as well as on a fleet built here.
 */
export interface ISpotFleet extends IConstruct, ec2.IConnectable {
  /** The Auto Scaling group. */
  readonly autoScalingGroup: autoscaling.IAutoScalingGroup;
  /** Name of the Auto Scaling group. */
  readonly autoScalingGroupName: string;
  /** The VPC the instances run in. */
  readonly vpc: ec2.IVpc;
  /** Port the inference server listens on. */
  readonly servingPort: number;
  /** Port the load balancer probes (the agent's health port in DrainMode.HEALTH). */
  readonly healthCheckPort: number;
  /** Path the load balancer probes. */
  readonly healthCheckPath: string;
  /** The whole health check a load balancer should run: path, port (= `healthCheckPort`), interval, timeout, thresholds. */
  readonly loadBalancerHealthCheck: ResolvedHealthCheck;
  /** Seconds the inference server needs to finish in-flight requests once it stops taking new ones. */
  readonly drainBudgetSeconds: number;
  /** Seconds a load balancer keeps a deregistered instance draining. */
  readonly deregistrationDelaySeconds: number;
  /** Seconds between the interruption notice and the instance going away (120 on AWS). */
  readonly noticeSeconds: number;
  /** Name of the terminate lifecycle hook that holds an instance while it drains, if the group has one. */
  readonly terminationHookName?: string;
  /** Names of every lifecycle hook of the group, when known (undefined: not known, nothing is checked against it). */
  readonly lifecycleHookNames?: string[];
  /** Least instances of the group, when known. */
  readonly minCapacity?: number;
  /** Most instances of the group, when known. */
  readonly maxCapacity?: number;
  /** On-demand instances the group keeps before any spot, when known. */
  readonly onDemandBaseCapacity?: number;
  /**
   * Make the group replace instances the load balancer finds unhealthy (ELB health checks). Called by the
   * load balancer pieces when they attach; on a group defined outside this app it only warns (set the
   * group's health check type to ELB there).
   */
  useLoadBalancerHealthChecks(): void;
}

/** What {@link SpotFleet.fromAutoScalingGroup} needs to know of a group built elsewhere. */
export interface SpotFleetAttributes {
  /** The group: `autoscaling.AutoScalingGroup.fromAutoScalingGroupName(...)` or one defined in this app. */
  readonly autoScalingGroup: autoscaling.IAutoScalingGroup;
  /** The VPC the instances run in. */
  readonly vpc: ec2.IVpc;
  /** Security groups of the instances; a load balancer is admitted to them on the serving and health ports. */
  readonly securityGroups: ec2.ISecurityGroup[];
  /** Port the inference server listens on. @default 8080 */
  readonly servingPort?: number;
  /**
   * Health check a load balancer runs. Its `port` is where the agent (or the server) answers.
   * @default - `/health` on the serving port, every 10 s, timeout 5 s, 2 healthy / 2 unhealthy
   */
  readonly healthCheck?: HealthCheckSpec;
  /**
   * Seconds the inference server needs to finish in-flight requests.
   * @default - 45, the AWS default of a fleet spec
   */
  readonly drainBudgetSeconds?: number;
  /**
   * Seconds a load balancer keeps a deregistered instance draining. It plus `drainBudgetSeconds` must fit the 120 s notice.
   * @default - 30, the AWS default of a fleet spec
   */
  readonly deregistrationDelaySeconds?: number;
  /**
   * Name of the group's terminate lifecycle hook.
   * @default - none: interruption handling deregisters on the warning but does not hold instances while they drain
   */
  readonly terminationHookName?: string;
  /**
   * Names of every lifecycle hook of the group. When given, a hook name that is not among them is refused.
   * @default - `[terminationHookName]` when that is given, else unknown
   */
  readonly lifecycleHookNames?: string[];
  /** Least instances of the group. @default - unknown */
  readonly minCapacity?: number;
  /** Most instances of the group. @default - unknown */
  readonly maxCapacity?: number;
  /** On-demand base of the group. @default - unknown */
  readonly onDemandBaseCapacity?: number;
}

/**
 * An {@link ISpotFleet} for a group built elsewhere (used by `SpotFleet.fromAutoScalingGroup`). Checks
 * what it can at synth, with the same rules and messages as a fleet built here.
 * @internal
 */
export function importSpotFleet(scope: Construct, id: string, attrs: SpotFleetAttributes): ISpotFleet {
  return new ImportedSpotFleet(scope, id, attrs);
}

class ImportedSpotFleet extends Construct implements ISpotFleet {
  public readonly autoScalingGroup: autoscaling.IAutoScalingGroup;
  public readonly autoScalingGroupName: string;
  public readonly vpc: ec2.IVpc;
  public readonly connections: ec2.Connections;
  public readonly servingPort: number;
  public readonly healthCheckPort: number;
  public readonly healthCheckPath: string;
  public readonly loadBalancerHealthCheck: ResolvedHealthCheck;
  public readonly drainBudgetSeconds: number;
  public readonly deregistrationDelaySeconds: number;
  public readonly noticeSeconds: number = AWS_LIMITS.noticeSeconds;
  public readonly terminationHookName?: string;
  public readonly lifecycleHookNames?: string[];
  public readonly minCapacity?: number;
  public readonly maxCapacity?: number;
  public readonly onDemandBaseCapacity?: number;

  constructor(scope: Construct, id: string, attrs: SpotFleetAttributes) {
    super(scope, id);
    const servingPort = attrs.servingPort ?? DEFAULT_SERVING_PORT;
    const hc: ResolvedHealthCheck = { ...DEFAULT_HEALTH_CHECK, port: servingPort, ...definedOnly(attrs.healthCheck ?? {}) };
    const drain = attrs.drainBudgetSeconds ?? AWS_LIMITS.defaultDrainBudgetSeconds;
    const dereg = attrs.deregistrationDelaySeconds ?? AWS_LIMITS.defaultDeregistrationDelaySeconds;
    const hookNames = attrs.lifecycleHookNames ?? (attrs.terminationHookName !== undefined ? [attrs.terminationHookName] : undefined);
    validateAttributes(attrs, servingPort, hc, drain, dereg, hookNames, this.node.path);

    this.autoScalingGroup = attrs.autoScalingGroup;
    this.autoScalingGroupName = attrs.autoScalingGroup.autoScalingGroupName;
    this.vpc = attrs.vpc;
    this.connections = new ec2.Connections({ securityGroups: attrs.securityGroups });
    this.servingPort = servingPort;
    this.healthCheckPort = hc.port;
    this.healthCheckPath = hc.path;
    this.loadBalancerHealthCheck = hc;
    this.drainBudgetSeconds = drain;
    this.deregistrationDelaySeconds = dereg;
    this.terminationHookName = attrs.terminationHookName;
    this.lifecycleHookNames = hookNames;
    this.minCapacity = attrs.minCapacity;
    this.maxCapacity = attrs.maxCapacity;
    this.onDemandBaseCapacity = attrs.onDemandBaseCapacity;
  }

  public useLoadBalancerHealthChecks(): void {
    const cfn = this.autoScalingGroup.node.defaultChild;
    if (cfn instanceof autoscaling.CfnAutoScalingGroup) {
      cfn.healthCheckType = 'ELB';
      return;
    }
    Annotations.of(this).addWarningV2(
      'spot-inference:elb-health-checks',
      `The group ${this.autoScalingGroupName} is defined outside this app, so its health check type cannot be set here: set it to ELB on the group (aws autoscaling update-auto-scaling-group --health-check-type ELB), or instances the load balancer finds unhealthy are never replaced`,
    );
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function validateAttributes(
  attrs: SpotFleetAttributes,
  servingPort: number,
  hc: ResolvedHealthCheck,
  drain: number,
  dereg: number,
  hookNames: string[] | undefined,
  scope: string,
): void {
  const v = new ProblemCollector();
  const C = FleetSpecErrorCode;
  const known = (x: unknown): x is number => typeof x === 'number' && !Token.isUnresolved(x);
  for (const [prop, port] of [['servingPort', servingPort], ['healthCheck.port', hc.port]] as const) {
    if (known(port) && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      v.add(C.PORT_RANGE, prop, `${prop} (${port}) must be a whole number between 1 and 65535`);
    }
  }
  if (!Token.isUnresolved(hc.path) && !hc.path.startsWith('/')) {
    v.add(C.HEALTH_CHECK_PATH, 'healthCheck.path', `healthCheck.path ("${hc.path}") must start with "/", e.g. "/health"`);
  }
  for (const [prop, x] of [['drainBudgetSeconds', drain], ['deregistrationDelaySeconds', dereg]] as const) {
    if (known(x) && !(Number.isInteger(x) && x >= 0)) v.add(C.DRAIN_BUDGET_EXCEEDED, prop, `${prop} (${x}) must be a whole number of seconds, 0 or more`);
  }
  if (known(drain) && known(dereg) && drain + dereg > AWS_LIMITS.noticeSeconds) {
    v.add(
      C.DRAIN_BUDGET_EXCEEDED,
      'drainBudgetSeconds',
      `drain budget exceeded: deregistrationDelaySeconds (${dereg} s) + drainBudgetSeconds (${drain} s) = ${drain + dereg} s is longer than the ${AWS_LIMITS.noticeSeconds} s AWS spot notice; lower one or both so the sum is at most ${AWS_LIMITS.noticeSeconds} s`,
    );
  }
  if (attrs.securityGroups.length === 0) {
    v.add(C.AWS_SECURITY_GROUPS, 'securityGroups', 'securityGroups is empty, so no load balancer could be admitted to the instances; pass the security groups of the launch template (ec2.SecurityGroup.fromSecurityGroupId(...))');
  }
  const hook = attrs.terminationHookName;
  if (hook !== undefined && hookNames !== undefined && !Token.isUnresolved(hook) && !hookNames.some((n) => Token.isUnresolved(n)) && !hookNames.includes(hook)) {
    v.add(
      C.AWS_LIFECYCLE_HOOK,
      'terminationHookName',
      `terminationHookName ("${hook}") is not among lifecycleHookNames (${hookNames.map((n) => `"${n}"`).join(', ') || 'none'}); name a hook the group has, or add it to lifecycleHookNames`,
    );
  }
  v.throwIfAny(scope);
}
