export * from './architecture';
export * from './clouds';
export * from './defaults';
export * from './errors';
export * from './fleet-spec';
export * from './queue-workload';
export * from './rules';
export * from './validate';
