/**
 * Names of the spare spot VMs of a fleet's `GcpOnDemandFallback` start with this (its zonal spare groups are
 * `<fleet>-spare-<zone>`, and a group's VMs are named after it). The preemption hook watches the same prefix.
 * Internal: not exported from the package's entry point.
 */
export function spareInstanceNamePrefix(fleetName: string): string {
  return `${fleetName}-spare-`;
}
