export * from './chart';
export * from './cost';
export * from './rng';
export * from './simulate';
export * from './traces';
export { main as spotPlanMain, formatResultsTable } from './cli';
