#!/usr/bin/env node
// spot-plan: cost planner and spot-trace simulator. Runs the compiled CLI (dist/, built by `npm run build`
// and by `prepack` for the published package). In a checkout without a build (right after `npm ci && npm run
// synth`), it runs the TypeScript source through tsx (a devDependency, transpile-only), so no build step is needed.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

function load() {
  const compiled = join(__dirname, '..', 'dist', 'lib', 'plan', 'cli.js');
  if (existsSync(compiled)) return require(compiled);
  const source = join(__dirname, '..', 'lib', 'plan', 'cli.ts');
  if (!existsSync(source)) {
    process.stderr.write(`spot-plan: ${compiled} not found; reinstall the package (its dist/ is missing)\n`);
    process.exit(1);
  }
  let api;
  try {
    api = require('tsx/cjs/api');
  } catch (e) {
    process.stderr.write(`spot-plan: no build (dist/lib/plan/cli.js) and tsx is not installed to run the source (${e && e.message}); run "npm ci" for the devDependencies, or "npm run build"\n`);
    process.exit(1);
  }
  api.register();
  return require(source);
}

process.exitCode = load().main(process.argv.slice(2));
