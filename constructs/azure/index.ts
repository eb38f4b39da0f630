// Public entry point `spot-inference-constructs/azure`: CDK for Terraform constructs on @cdktf/provider-azurerm.
export * from './rules';
export { AZURE_CUSTOM_DATA_MAX_CHARS, AGENT_BUNDLE_RELATIVE_PATH, defaultAgentBundlePath } from './agent-custom-data';
export * from './network';
export * from './load-balancer';
export * from './scale-set';
export * from './spot-scale-set-fleet';
export * from './agent-blob';
export * from './queue-worker-fleet';
export * from './fleet-alerts';
export * from './interruption-drill';
export * from './on-demand-fallback';
// The agent's drain modes and options are part of the fleet's props.
export { AgentDrainOptions, DrainMode } from '../../lib/runtime/agent-config';
export { QueueWorkloadSpec } from '../../lib/spec/queue-workload';
