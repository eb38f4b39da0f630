import { CpuArchitecture } from './architecture';

/** What a fleet serves; constructs pick health checks, scaling and draining to match. */
export enum WorkloadKind {
  /** A request/response API behind a load balancer. */
  ONLINE = 'online',
  /** Workers that pull messages from a queue. */
  QUEUE_WORKER = 'queue-worker',
  /** Sharded batch jobs that checkpoint. */
  BATCH = 'batch',
}

/** GPU makers, as instance requirements name them. */
export enum AcceleratorManufacturer {
  NVIDIA = 'nvidia',
  AMD = 'amd',
  AWS = 'amazon-web-services',
  XILINX = 'xilinx',
}

/** An inclusive range; either bound may be left open. */
export interface Range {
  /** Lower bound, inclusive. @default - no lower bound */
  readonly min?: number;
  /** Upper bound, inclusive. @default - no upper bound */
  readonly max?: number;
}

/**
 * Attribute-based instance selection: the cloud picks every instance type that matches, which is the
 * widest diversification available (on AWS it maps to `InstanceRequirements`).
 */
export interface InstanceRequirements {
  /** vCPUs per instance. The lower bound is required by AWS. */
  readonly vCpuCount: Range;
  /** Memory per instance, in MiB. The lower bound is required by AWS. */
  readonly memoryMiB: Range;
  /** GPUs (accelerators) per instance. @default - any number, including none */
  readonly gpuCount?: Range;
  /** Total GPU memory per instance, in MiB. @default - any */
  readonly gpuTotalMemoryMiB?: Range;
  /** GPU makers to accept. @default - any maker */
  readonly gpuManufacturers?: AcceleratorManufacturer[];
  /** GPU models to accept, lower case as AWS names them (`a10g`, `l4`, `t4`). @default - any model */
  readonly gpuNames?: string[];
  /** CPU architecture. @default CpuArchitecture.X86_64 */
  readonly architecture?: CpuArchitecture;
}

/** How the load balancer (and the group's autohealing) probes each instance. */
export interface HealthCheckSpec {
  /** HTTP path; must start with `/`. @default '/health' */
  readonly path?: string;
  /** Port probed. @default - the serving port */
  readonly port?: number;
  /** Seconds between probes. @default 10 */
  readonly intervalSeconds?: number;
  /** Seconds a probe may take. @default 5 */
  readonly timeoutSeconds?: number;
  /** Consecutive successes before an instance is healthy. @default 2 */
  readonly healthyThreshold?: number;
  /** Consecutive failures before an instance is unhealthy. @default 2 */
  readonly unhealthyThreshold?: number;
}

/**
 * The cloud-neutral description of a spot inference fleet. Every cloud's constructs take it (their
 * props extend it) and render it with that cloud's own primitives.
 *
 * Values that are tokens (unknown until deploy) are not validated.
 */
export interface FleetSpec {
  /** Fewest instances the fleet runs. */
  readonly minCapacity: number;
  /** Most instances the fleet runs, spot and on-demand together. */
  readonly maxCapacity: number;
  /** Instances to start with. @default - minCapacity */
  readonly desiredCapacity?: number;
  /**
   * Instances that always run on-demand, whatever spot does. Required on purpose: a silent default
   * would either put everything on-demand (no savings) or nothing (no floor when spot vanishes).
   */
  readonly onDemandBaseCapacity: number;
  /** Share of the capacity above the base that runs on-demand, 0-100. @default 0 */
  readonly onDemandPercentageAboveBaseCapacity?: number;
  /**
   * Instance types (AWS), machine types (Google Cloud) or VM sizes (Azure), in order of preference.
   * Give at least two unless `allowUndiversified` is set. Mutually exclusive with
   * `instanceRequirements`.
   * @default - none; `instanceRequirements` must be set
   */
  readonly instanceTypes?: string[];
  /**
   * Pick instance types by attributes instead of by name. Only clouds that support it accept it
   * (AWS); the others refuse it at synth.
   * @default - none; `instanceTypes` must be set
   */
  readonly instanceRequirements?: InstanceRequirements;
  /**
   * Accept a fleet that is not diversified: fewer than two instance types, or fewer than two zones (the same
   * rule on every cloud). One type can run dry in every zone at once, and one zone can run dry of every type,
   * and take the whole fleet with it.
   * @default false
   */
  readonly allowUndiversified?: boolean;
  /**
   * Accept instance type names the package's offline catalogue does not know: a type the cloud launched after this
   * version of the package (on AWS the list of `@aws-sdk/client-ec2` it was built with). Such names go to the cloud
   * as written, so a misspelling fails at deploy instead of at synth.
   * @default false
   */
  readonly allowUnknownInstanceTypes?: boolean;
  /** Zones to spread over. @default - every zone the network or region offers */
  readonly zones?: string[];
  /** Port the inference server listens on. @default 8080 */
  readonly servingPort?: number;
  /** Health check the load balancer and autohealing use. @default - `GET /health` on the serving port every 10 s */
  readonly healthCheck?: HealthCheckSpec;
  /**
   * Seconds the inference server needs to finish in-flight requests once it stops taking new ones.
   * This plus `deregistrationDelaySeconds` must fit inside the cloud's notice.
   * @default - 45 on AWS (120 s notice), 10 on Google Cloud and Azure (30 s notice)
   */
  readonly drainBudgetSeconds?: number;
  /**
   * Seconds the load balancer keeps a deregistered instance draining before it cuts connections.
   * @default - 30 on AWS, 10 on Google Cloud and Azure
   */
  readonly deregistrationDelaySeconds?: number;
  /** What the fleet runs. @default WorkloadKind.ONLINE */
  readonly workload?: WorkloadKind;
  /**
   * Architecture of the one machine image the fleet boots. Every instance type must match it.
   * @default - the architecture of the first instance type (x86_64 with instance requirements)
   */
  readonly architecture?: CpuArchitecture;
}
