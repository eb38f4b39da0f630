// Public entry point `spot-inference-constructs/core`: the cloud-neutral fleet description and its rules.
export * from './spec';
