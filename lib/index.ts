// Public entry point `spot-inference-constructs/core`: the cloud-neutral pieces. No IaC library is loaded
// from here, and no cloud SDK either (adapters load theirs on first use).
export * from './spec';
export * from './catalog';
export * from './policy';
export * from './plan';
export * from './runtime';
export * from './runtime/worker';
// The structural AWS SDK client the runtime's options take (so the declarations need no @aws-sdk package).
export * from './runtime/aws-sdk-client';
// Types the public API names (a watcher's responses, the planner CLI's streams), so the reference documents them.
export type { HttpResponse } from './runtime/http';
export type { CliIo } from './plan/cli';
