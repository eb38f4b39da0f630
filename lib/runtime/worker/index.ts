// Queue workers and batch shards on spot: the worker loop, queue adapters, checkpoints.
export * from './queue';
export * from './sqs-queue';
export * from './worker';
export * from './checkpoint';
export * from './checkpoint-stores';
export * from './timing';
export * from './pubsub-queue';
export * from './service-bus-queue';
