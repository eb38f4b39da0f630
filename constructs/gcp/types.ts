/**
 * How a regional managed instance group spreads its VMs over the zones it may use
 * (`distributionPolicyTargetShape`).
 */
export enum TargetShape {
  /**
   * Same number of VMs in every zone (never more than 1 apart). Not allowed with instance flexibility
   * (several machine types), so only for fleets of one machine type.
   */
  EVEN = 'EVEN',
  /**
   * Prefer zones that have capacity, keep the spread as even as that allows. The right shape for a
   * spot fleet that serves traffic, and the only non-EVEN shape a regional MIG can autoscale with.
   */
  BALANCED = 'BALANCED',
  /** Any zone that has capacity, no spread guarantee. Batch fleets; not with the autoscaler. */
  ANY = 'ANY',
  /** Every VM in one zone, the one with capacity. Tightly coupled batch; not with the autoscaler. */
  ANY_SINGLE_ZONE = 'ANY_SINGLE_ZONE',
}

/** What Compute Engine does with a spot VM it preempts (`scheduling.instanceTerminationAction`). */
export enum InstanceTerminationAction {
  /** Delete the VM; the managed instance group creates a replacement wherever capacity is. */
  DELETE = 'DELETE',
  /** Stop the VM and keep its disk; the group restarts it when capacity returns (boot disk is billed meanwhile). */
  STOP = 'STOP',
}

/** How the machine types of `instanceTypes` are ranked in the instance flexibility policy. */
export enum MachineTypeRanking {
  /** One instance selection per machine type, ranked in the order given: the first is preferred. */
  IN_ORDER = 'in-order',
  /** All machine types in one selection of equal preference: the group picks by availability alone. */
  EQUAL = 'equal',
}

/** GPUs attached to every VM through `guestAccelerator` (N1 machine types only). */
export interface GuestAcceleratorSpec {
  /** Accelerator type, e.g. `nvidia-tesla-t4`. */
  readonly type: string;
  /** GPUs per VM (1, 2, 4, or 8 for V100). */
  readonly count: number;
}
