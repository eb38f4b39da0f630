export * from './fallback-policy';
export * from './placement';
