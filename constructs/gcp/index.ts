// Public entry point `spot-inference-constructs/gcp`: CDK for Terraform constructs on @cdktf/provider-google.
export * from './types';
export * from './machine-families';
export * from './fleet-interface';
export * from './spot-fleet';
export { GcpFleetBackends, GcpFleetBackendsProps } from './fleet-backends';
export * from './load-balancer';
export * from './preemption-hook';
export * from './spot-inference-service';
export * from './queue-worker-fleet';
export * from './fleet-alerts';
export * from './interruption-drill';
export * from './on-demand-fallback';
export * from './batch-inference';
export { GCP_MACHINE_TYPES, GCP_MACHINE_TYPE_CATALOG, explainUnknownMachineType } from './machine-catalog';
// The agent's drain modes and options are part of the fleet's props.
export { AgentDrainOptions, DrainMode, ServerPreset } from '../../lib/runtime/agent-config';
export { QueueWorkloadSpec } from '../../lib/spec/queue-workload';
export * from './multi-region-service';
export { FleetSpecError, FleetSpecErrorCode, FleetSpecProblem } from '../../lib/spec/errors'; // thrown for bad input at synth, on every cloud
