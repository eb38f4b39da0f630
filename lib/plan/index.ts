export * from './chart';
export * from './cost';
export * from './deployment';
export * from './pools';
export * from './rng';
export * from './simulate';
export * from './synthetic';
export * from './traces';
export { main as spotPlanMain, formatResultsTable, reportJson } from './cli';
