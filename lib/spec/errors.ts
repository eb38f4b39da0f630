/**
 * Stable codes of {@link FleetSpecError}. A code never changes meaning once released, so callers
 * (and tests) can match on it instead of on the message text.
 */
export enum FleetSpecErrorCode {
  CAPACITY_NEGATIVE = 'CAPACITY_NEGATIVE',
  CAPACITY_ORDER = 'CAPACITY_ORDER',
  ON_DEMAND_BASE_ABOVE_MAX = 'ON_DEMAND_BASE_ABOVE_MAX',
  PERCENTAGE_RANGE = 'PERCENTAGE_RANGE',
  NOT_DIVERSIFIED = 'NOT_DIVERSIFIED',
  INSTANCE_SELECTION = 'INSTANCE_SELECTION',
  INSTANCE_REQUIREMENTS = 'INSTANCE_REQUIREMENTS',
  MIXED_ARCHITECTURES = 'MIXED_ARCHITECTURES',
  DRAIN_BUDGET_EXCEEDED = 'DRAIN_BUDGET_EXCEEDED',
  HEALTH_CHECK_PATH = 'HEALTH_CHECK_PATH',
  HEALTH_CHECK_RANGE = 'HEALTH_CHECK_RANGE',
  PORT_RANGE = 'PORT_RANGE',
  ZONES = 'ZONES',
  /** An instance type, machine type or VM size the cloud does not have (a misspelling, an unknown family or size). */
  UNKNOWN_INSTANCE_TYPE = 'UNKNOWN_INSTANCE_TYPE',
  /** Types with different accelerators (GPU and CPU-only, or two GPU makers) in one fleet: one image, one driver. */
  MIXED_ACCELERATORS = 'MIXED_ACCELERATORS',
  /** Fewer than 2 zones without `allowUndiversified`: one zone running dry takes the whole fleet. */
  TOO_FEW_ZONES = 'TOO_FEW_ZONES',
  /** A string cast to an enum prop that is none of the enum's values. */
  UNKNOWN_ENUM_VALUE = 'UNKNOWN_ENUM_VALUE',
  /** A rule of one cloud's renderer (AWS, Google Cloud or Azure) rather than of the neutral spec. */
  CLOUD_CONSTRAINT = 'CLOUD_CONSTRAINT',
  /** A rule of a workload pattern (queue worker, batch). */
  WORKLOAD = 'WORKLOAD',
}

/** One problem found in a props object. */
export interface FleetSpecProblem {
  /** Stable code of the rule that failed. */
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
  /** Code of the first problem; see `problems` for all of them. */
  public readonly code: FleetSpecErrorCode;
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
    this.problems = problems;
    Object.setPrototypeOf(this, FleetSpecError.prototype);
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
