#!/usr/bin/env node
// `spot-agent`: the on-instance interruption agent. The code is the esbuild bundle built by
// `npm run build:handlers` (dist/runtime/spot-agent/index.js), the same file the constructs install.
const path = require('node:path');
const bundle = path.join(__dirname, '..', 'dist', 'runtime', 'spot-agent', 'index.js');
try {
  require.resolve(bundle);
} catch {
  process.stderr.write(
    `spot-agent: the agent bundle is missing (${bundle}).\n` +
      'Build it with `npm run build:handlers` (in a clone of the repository), or reinstall the package.\n',
  );
  process.exit(1);
}
require(bundle);
