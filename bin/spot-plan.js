#!/usr/bin/env node
// spot-plan: cost planner and spot-trace simulator. Runs the compiled CLI (npm run build); in a checkout
// without a build, run `npx tsx lib/plan/cli.ts` instead.
'use strict';
let cli;
try {
  cli = require('../dist/lib/plan/cli.js');
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND') {
    process.stderr.write('spot-plan: dist/lib/plan/cli.js not found; run "npm run build" first, or use "npx tsx lib/plan/cli.ts" in a checkout\n');
    process.exit(1);
  }
  throw e;
}
process.exitCode = cli.main(process.argv.slice(2));
