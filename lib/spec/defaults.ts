import { CpuArchitecture, architectureOf } from './architecture';
import { CLOUD_LIMITS, Cloud, CloudLimits } from './clouds';
import { FleetSpec, HealthCheckSpec, InstanceRequirements, WorkloadKind } from './fleet-spec';

/** Defaults every cloud shares. */
export const DEFAULT_SERVING_PORT = 8080;
/** A health check with every default filled in (see {@link HealthCheckSpec} for the meaning of each field). */
export interface ResolvedHealthCheck {
  readonly path: string;
  readonly port: number;
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
}

export const DEFAULT_HEALTH_CHECK: ResolvedHealthCheck = {
  path: '/health',
  port: DEFAULT_SERVING_PORT,
  intervalSeconds: 10,
  timeoutSeconds: 5,
  healthyThreshold: 2,
  unhealthyThreshold: 2,
};

/**
 * A {@link FleetSpec} with every default filled in for one cloud (see `FleetSpec` for the meaning of each
 * field). Constructs expose it as `spec`.
 */
export interface ResolvedFleetSpec {
  /** The cloud the defaults were taken for. */
  readonly cloud: Cloud;
  readonly minCapacity: number;
  readonly maxCapacity: number;
  readonly desiredCapacity: number;
  readonly onDemandBaseCapacity: number;
  readonly onDemandPercentageAboveBaseCapacity: number;
  /** Empty when the fleet selects types by `instanceRequirements`. */
  readonly instanceTypes: string[];
  /** @default - none; the fleet lists `instanceTypes` */
  readonly instanceRequirements?: InstanceRequirements;
  /** @default - every zone the network or region offers */
  readonly zones?: string[];
  readonly servingPort: number;
  readonly healthCheck: ResolvedHealthCheck;
  readonly drainBudgetSeconds: number;
  readonly deregistrationDelaySeconds: number;
  /** Seconds of the cloud's interruption notice. */
  readonly noticeSeconds: number;
  readonly workload: WorkloadKind;
  readonly architecture: CpuArchitecture;
}

/**
 * Fill in the defaults of a spec for one cloud. Does not validate; call `validateFleetSpec` first
 * (or use `planFleet` or `resolveFleetSpec`, which do both). `limits` (the drain defaults and the notice) default
 * to the cloud's entry of `CLOUD_PROFILES`.
 */
export function applyFleetSpecDefaults(spec: FleetSpec, cloud: Cloud, limits: CloudLimits = CLOUD_LIMITS[cloud]): ResolvedFleetSpec {
  const servingPort = spec.servingPort ?? DEFAULT_SERVING_PORT;
  const instanceTypes = spec.instanceTypes ?? [];
  const architecture =
    spec.architecture ??
    spec.instanceRequirements?.architecture ??
    (instanceTypes.length > 0 ? architectureOf(cloud, instanceTypes[0]) : CpuArchitecture.X86_64);
  return {
    cloud,
    minCapacity: spec.minCapacity,
    maxCapacity: spec.maxCapacity,
    desiredCapacity: spec.desiredCapacity ?? spec.minCapacity,
    onDemandBaseCapacity: spec.onDemandBaseCapacity,
    onDemandPercentageAboveBaseCapacity: spec.onDemandPercentageAboveBaseCapacity ?? 0,
    instanceTypes,
    instanceRequirements: spec.instanceRequirements,
    zones: spec.zones,
    servingPort,
    healthCheck: { ...DEFAULT_HEALTH_CHECK, port: servingPort, ...stripUndefined(spec.healthCheck ?? {}) },
    drainBudgetSeconds: spec.drainBudgetSeconds ?? limits.defaultDrainBudgetSeconds,
    deregistrationDelaySeconds: spec.deregistrationDelaySeconds ?? limits.defaultDeregistrationDelaySeconds,
    noticeSeconds: limits.noticeSeconds,
    workload: spec.workload ?? WorkloadKind.ONLINE,
    architecture,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
