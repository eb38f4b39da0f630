import { architectureOf } from './architecture';
import { CLOUD_LIMITS, Cloud, CloudLimits } from './clouds';
import { applyFleetSpecDefaults, ResolvedFleetSpec } from './defaults';
import { FleetSpecErrorCode as C, FleetSpecProblem, ProblemCollector } from './errors';
import { FleetSpec, Range } from './fleet-spec';
import { IInstanceTypeCatalog, checkInstanceTypeNames, checkOneAccelerator, checkZoneCount } from './rules';

/** How validation treats values it cannot know yet. */
export interface ValidationOptions {
  /**
   * Tells a deploy-time token (CDK or CDKTF) from a real value. Tokens are not validated.
   * Constructs pass their framework's `Token.isUnresolved`.
   * @default - every value is taken as known
   */
  readonly isUnresolved?: (value: unknown) => boolean;
  /** Name used as the prefix of the error message (the construct path). @default - none */
  readonly scope?: string;
  /**
   * The cloud's offline catalogue of type names. When given, every entry of `instanceTypes` is checked against it
   * (`UNKNOWN_INSTANCE_TYPE`, with a suggestion) and the types must share one accelerator kind (`MIXED_ACCELERATORS`).
   * @default - names are not checked
   */
  readonly catalog?: IInstanceTypeCatalog;
  /**
   * The notice and drain defaults the spec is checked against (what `planFleet` passes from its cloud profile).
   * @default - the cloud's entry of `CLOUD_PROFILES`
   */
  readonly limits?: CloudLimits;
}

/**
 * Check a spec against the rules every cloud shares and return every problem found (empty when valid).
 * Messages name the prop, the value, the limit and the fix.
 */
export function validateFleetSpec(spec: FleetSpec, cloud: Cloud, options: ValidationOptions = {}): FleetSpecProblem[] {
  const unresolved = options.isUnresolved ?? (() => false);
  const known = (v: unknown): boolean => v !== undefined && !unresolved(v);
  const v = new ProblemCollector();
  const limits = options.limits ?? CLOUD_LIMITS[cloud];
  const r = applyFleetSpecDefaults(spec, cloud, limits);

  // Capacity
  for (const prop of ['minCapacity', 'maxCapacity', 'desiredCapacity', 'onDemandBaseCapacity'] as const) {
    const value = spec[prop];
    if (known(value) && (!Number.isInteger(value) || (value as number) < 0)) {
      v.add(C.CAPACITY_NEGATIVE, prop, `${prop} (${value}) must be a whole number of instances, 0 or more; use e.g. ${Math.max(0, Math.round(Number(value) || 0))}`);
    }
  }
  if (known(spec.minCapacity) && known(spec.maxCapacity) && spec.minCapacity > spec.maxCapacity) {
    v.add(C.CAPACITY_ORDER, 'minCapacity', `minCapacity (${spec.minCapacity}) is above maxCapacity (${spec.maxCapacity}); raise maxCapacity or lower minCapacity so that minCapacity <= maxCapacity`);
  }
  const ordered = !(known(spec.minCapacity) && known(spec.maxCapacity) && spec.minCapacity > spec.maxCapacity);
  if (ordered && known(spec.desiredCapacity) && known(spec.minCapacity) && spec.desiredCapacity! < spec.minCapacity) {
    v.add(C.CAPACITY_ORDER, 'desiredCapacity', `desiredCapacity (${spec.desiredCapacity}) is below minCapacity (${spec.minCapacity}); set desiredCapacity between minCapacity and maxCapacity or leave it out`);
  }
  if (ordered && known(spec.desiredCapacity) && known(spec.maxCapacity) && spec.desiredCapacity! > spec.maxCapacity) {
    v.add(C.CAPACITY_ORDER, 'desiredCapacity', `desiredCapacity (${spec.desiredCapacity}) is above maxCapacity (${spec.maxCapacity}); set desiredCapacity between minCapacity and maxCapacity or raise maxCapacity`);
  }
  if (known(spec.onDemandBaseCapacity) && known(spec.maxCapacity) && spec.onDemandBaseCapacity > spec.maxCapacity) {
    v.add(C.ON_DEMAND_BASE_ABOVE_MAX, 'onDemandBaseCapacity', `onDemandBaseCapacity (${spec.onDemandBaseCapacity}) is above maxCapacity (${spec.maxCapacity}); the on-demand base must fit in the fleet: lower it to at most ${spec.maxCapacity} or raise maxCapacity`);
  }
  const pct = spec.onDemandPercentageAboveBaseCapacity;
  if (known(pct) && !(pct! >= 0 && pct! <= 100)) {
    v.add(C.PERCENTAGE_RANGE, 'onDemandPercentageAboveBaseCapacity', `onDemandPercentageAboveBaseCapacity (${pct}) must be between 0 and 100 (a percentage); 0 puts everything above the base on spot`);
  }

  // Instance selection
  const types = spec.instanceTypes;
  const hasTypes = types !== undefined;
  if (hasTypes && spec.instanceRequirements) {
    v.add(C.INSTANCE_SELECTION, 'instanceTypes', 'instanceTypes and instanceRequirements are both set; give one of them: a list of types, or the attributes the cloud selects types by');
  } else if (!hasTypes && !spec.instanceRequirements) {
    v.add(C.INSTANCE_SELECTION, 'instanceTypes', 'neither instanceTypes nor instanceRequirements is set; list at least two instance types (e.g. ["g5.xlarge", "g6.xlarge"]) or give instanceRequirements');
  }
  const knownTypes = (types ?? []).filter((t) => !unresolved(t));
  if (hasTypes && !unresolved(types)) {
    const dupes = knownTypes.filter((t, i) => knownTypes.indexOf(t) !== i);
    if (dupes.length > 0) {
      v.add(C.INSTANCE_SELECTION, 'instanceTypes', `instanceTypes lists ${dupes.map((d) => `"${d}"`).join(', ')} more than once; list each type once`);
    }
    const distinct = new Set(knownTypes).size + (types!.length - knownTypes.length);
    if (!spec.allowUndiversified) {
      if (distinct < 2) {
        v.add(C.NOT_DIVERSIFIED, 'instanceTypes', `instanceTypes has ${distinct} type${distinct === 1 ? '' : 's'} (${knownTypes.join(', ') || 'none'}): a fleet needs at least 2 instance types so that one type running out of spot capacity does not take the whole fleet; add similar types (same GPU, neighbouring sizes or generations) or set allowUndiversified: true`);
      }
    }
    if (options.catalog) {
      if (!spec.allowUnknownInstanceTypes) {
        v.addAll(checkInstanceTypeNames('instanceTypes', types, options.catalog, { isUnresolved: unresolved }));
      }
      v.addAll(checkOneAccelerator('instanceTypes', types, options.catalog, { isUnresolved: unresolved }));
    }
  }
  // At least two zones, on every cloud (zones left out means every zone of the region or network).
  v.addAll(checkZoneCount('zones', spec.zones, spec.allowUndiversified, limits.displayName, { isUnresolved: unresolved }));
  if (spec.instanceRequirements) {
    const req = spec.instanceRequirements;
    checkRange(v, 'instanceRequirements.vCpuCount', req.vCpuCount, known, true);
    checkRange(v, 'instanceRequirements.memoryMiB', req.memoryMiB, known, true);
    checkRange(v, 'instanceRequirements.gpuCount', req.gpuCount, known, false);
    checkRange(v, 'instanceRequirements.gpuTotalMemoryMiB', req.gpuTotalMemoryMiB, known, false);
  }

  // One image, one architecture
  if (knownTypes.length > 0) {
    const mismatched = knownTypes.filter((t) => architectureOf(cloud, t) !== r.architecture);
    if (mismatched.length > 0) {
      const arches = knownTypes.map((t) => `${t} (${architectureOf(cloud, t)})`).join(', ');
      v.add(C.MIXED_ARCHITECTURES, 'instanceTypes', `instanceTypes mixes CPU architectures (${arches}) but the fleet boots one ${r.architecture} image; use types of one architecture, or split them into one fleet per architecture`);
    }
  }

  // Drain budget within the notice
  for (const prop of ['drainBudgetSeconds', 'deregistrationDelaySeconds'] as const) {
    const value = spec[prop];
    if (known(value) && !(value! >= 0)) {
      v.add(C.DRAIN_BUDGET_EXCEEDED, prop, `${prop} (${value}) must be 0 or more seconds`);
    }
  }
  if (!unresolved(r.drainBudgetSeconds) && !unresolved(r.deregistrationDelaySeconds)) {
    const total = r.drainBudgetSeconds + r.deregistrationDelaySeconds;
    if (total > limits.noticeSeconds) {
      v.add(
        C.DRAIN_BUDGET_EXCEEDED,
        'drainBudgetSeconds',
        `drain budget exceeded: deregistrationDelaySeconds (${r.deregistrationDelaySeconds} s) + drainBudgetSeconds (${r.drainBudgetSeconds} s) = ${total} s is longer than the ${limits.noticeSeconds} s ${limits.displayName} spot notice; lower one or both so the sum is at most ${limits.noticeSeconds} s`,
      );
    }
  }

  // Health check and ports
  const hc = spec.healthCheck ?? {};
  if (known(hc.path) && !hc.path!.startsWith('/')) {
    v.add(C.HEALTH_CHECK_PATH, 'healthCheck.path', `healthCheck.path ("${hc.path}") must start with "/"; use "/${hc.path}"`);
  }
  checkBetween(v, C.HEALTH_CHECK_RANGE, 'healthCheck.intervalSeconds', hc.intervalSeconds, 5, 300, known);
  checkBetween(v, C.HEALTH_CHECK_RANGE, 'healthCheck.timeoutSeconds', hc.timeoutSeconds, 2, 120, known);
  checkBetween(v, C.HEALTH_CHECK_RANGE, 'healthCheck.healthyThreshold', hc.healthyThreshold, 2, 10, known);
  checkBetween(v, C.HEALTH_CHECK_RANGE, 'healthCheck.unhealthyThreshold', hc.unhealthyThreshold, 2, 10, known);
  const { timeoutSeconds, intervalSeconds } = r.healthCheck;
  if (!unresolved(timeoutSeconds) && !unresolved(intervalSeconds) && intervalSeconds >= 5 && timeoutSeconds >= intervalSeconds) {
    v.add(C.HEALTH_CHECK_RANGE, 'healthCheck.timeoutSeconds', `healthCheck.timeoutSeconds (${timeoutSeconds}) must be shorter than healthCheck.intervalSeconds (${intervalSeconds}); lower the timeout or raise the interval`);
  }
  checkBetween(v, C.PORT_RANGE, 'servingPort', spec.servingPort, 1, 65535, known);
  checkBetween(v, C.PORT_RANGE, 'healthCheck.port', hc.port, 1, 65535, known);

  // Zones
  if (spec.zones && !unresolved(spec.zones)) {
    if (spec.zones.length === 0) {
      v.add(C.ZONES, 'zones', 'zones is an empty list; leave it out to use every zone, or list at least one');
    }
    const dz = spec.zones.filter((z, i) => spec.zones!.indexOf(z) !== i);
    if (dz.length > 0) {
      v.add(C.ZONES, 'zones', `zones lists ${dz.join(', ')} more than once; list each zone once`);
    }
  }
  return v.problems;
}

/**
 * Validate a spec for one cloud and fill in its defaults. Throws one `FleetSpecError` carrying every
 * problem found.
 */
export function resolveFleetSpec(spec: FleetSpec, cloud: Cloud, options: ValidationOptions = {}): ResolvedFleetSpec {
  const v = new ProblemCollector();
  v.addAll(validateFleetSpec(spec, cloud, options));
  v.throwIfAny(options.scope);
  return applyFleetSpecDefaults(spec, cloud, options.limits);
}

function checkBetween(v: ProblemCollector, code: C, prop: string, value: number | undefined, min: number, max: number, known: (x: unknown) => boolean): void {
  if (known(value) && !(value! >= min && value! <= max)) {
    v.add(code, prop, `${prop} (${value}) must be between ${min} and ${max}`);
  }
}

function checkRange(v: ProblemCollector, prop: string, range: Range | undefined, known: (x: unknown) => boolean, minRequired: boolean): void {
  if (!range) {
    if (minRequired) v.add(C.INSTANCE_REQUIREMENTS, prop, `${prop} is required; give at least its min, e.g. { min: 4 }`);
    return;
  }
  if (minRequired && range.min === undefined) {
    v.add(C.INSTANCE_REQUIREMENTS, `${prop}.min`, `${prop}.min is required; give the smallest acceptable value, e.g. { min: 4 }`);
  }
  for (const [bound, value] of [['min', range.min], ['max', range.max]] as const) {
    if (known(value) && !(value! >= 0)) {
      v.add(C.INSTANCE_REQUIREMENTS, `${prop}.${bound}`, `${prop}.${bound} (${value}) must be 0 or more`);
    }
  }
  if (known(range.min) && known(range.max) && range.min! > range.max!) {
    v.add(C.INSTANCE_REQUIREMENTS, prop, `${prop}.min (${range.min}) is above ${prop}.max (${range.max}); swap them or widen the range`);
  }
}
