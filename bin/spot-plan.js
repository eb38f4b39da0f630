#!/usr/bin/env node
// spot-plan: cost planner and spot-trace simulator. Runs the compiled CLI (dist/, built by `npm run build`
// and by `prepack` for the published package). In a checkout without a build (right after `npm ci && npm run
// synth`), it runs the TypeScript source through tsx (a devDependency, transpile-only), so no build step is needed.
'use strict';
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

/** Newest modification time of the planner's sources (a checkout), 0 when there are none (the installed package). */
function newestSource() {
  let newest = 0;
  for (const dir of ['plan', 'policy', 'spec', 'catalog']) {
    const d = join(__dirname, '..', 'lib', dir);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) if (f.endsWith('.ts')) newest = Math.max(newest, statSync(join(d, f)).mtimeMs);
  }
  return newest;
}

function load() {
  const compiled = join(__dirname, '..', 'dist', 'lib', 'plan', 'cli.js');
  // The build, unless a checkout's sources changed since it was made (then the sources, not a stale build).
  if (existsSync(compiled) && statSync(compiled).mtimeMs >= newestSource()) return require(compiled);
  const source = join(__dirname, '..', 'lib', 'plan', 'cli.ts');
  if (!existsSync(source)) {
    if (existsSync(compiled)) return require(compiled);
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
