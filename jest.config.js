/** Tests run through a transpile-only transformer (@swc/jest); `npm test` type-checks once with tsc. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  moduleNameMapper: {
    '^spot-inference-constructs(/core)?$': '<rootDir>/lib/index.ts',
    '^spot-inference-constructs/(aws|gcp|azure)$': '<rootDir>/constructs/$1/index.ts',
  },
  setupFiles: ['<rootDir>/test/setup/env.ts'],
  testTimeout: 30000,
  // Most suites wait on timers and loopback servers rather than compute: two workers on two cores halve the run.
  maxWorkers: '100%',
};
