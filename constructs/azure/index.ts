// Public entry point `spot-inference-constructs/azure`: CDK for Terraform constructs on @cdktf/provider-azurerm.
// The enums and limits of the Azure rules; the rule functions themselves (validateAzureFleet, planScaleSets, ...)
// are internal and stay out of the public surface.
export {
  AzureAllocationStrategy,
  AzureEvictionPolicy,
  AzureSizeStrategy,
  INSTANCE_MIX_FAMILIES,
  MAX_INSTANCE_MIX_SIZES,
  MAX_SCALE_SET_INSTANCES,
  REPAIR_GRACE_PERIOD_MINUTES,
  ScaleSetPlan,
} from './rules';
// The size catalogue as data and as the object the cross-cloud name rules take (no free functions: jsii).
export { AZURE_VM_FAMILIES, AZURE_VM_SIZE_CATALOG, AzureVmFamily, ParsedVmSize } from './vm-sizes';
export { AZURE_CUSTOM_DATA_MAX_CHARS, AGENT_BUNDLE_RELATIVE_PATH, defaultAgentBundlePath } from './agent-custom-data';
export * from './network';
export * from './fleet-interface';
export * from './load-balancer';
export * from './scale-set';
export * from './spot-scale-set-fleet';
export * from './agent-blob';
export * from './queue-worker-fleet';
export * from './batch-inference';
export * from './spot-inference-service';
export * from './fleet-alerts';
export * from './interruption-drill';
export * from './on-demand-fallback';
// The agent's drain modes and options are part of the fleet's props.
export { AgentDrainOptions, DrainMode, ServerPreset } from '../../lib/runtime/agent-config';
export { QueueWorkloadSpec } from '../../lib/spec/queue-workload';
export * from './multi-region-service';
export { FleetSpecError, FleetSpecErrorCode, FleetSpecProblem } from '../../lib/spec/errors'; // thrown for bad input at synth, on every cloud
