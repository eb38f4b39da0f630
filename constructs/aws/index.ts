// Public entry point `spot-inference-constructs/aws`: AWS CDK v2 constructs.
export * from './machine-image';
export * from './spot-fleet';
// What every piece accepts of a fleet (SpotFleet, or SpotFleet.fromAutoScalingGroup for an existing group).
export type { ISpotFleet, SpotFleetAttributes } from './fleet-interface';
export * from './inference-load-balancer';
export * from './spot-inference-service';
// The agent's drain modes are part of the fleet's props.
export { AgentDrainOptions, DrainMode, ServerPreset } from '../../lib/runtime/agent-config';
export * from './interruption-handler';
export * from './batch-inference';
export * from './interruption-drill';
export * from './queue-worker-fleet';
export * from './fleet-dashboard';
export * from './on-demand-fallback';
export * from './multi-region-global-endpoint';
export * from './multi-region-service';
export { FleetSpecError, FleetSpecErrorCode, FleetSpecProblem } from '../../lib/spec/errors'; // thrown for bad input at synth, on every cloud
