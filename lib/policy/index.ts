export * from './fallback-policy';
export * from './placement';
export * from './controller';
export * from './capacity-split';
