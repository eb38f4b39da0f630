#!/usr/bin/env node
// Runs npm scripts side by side and fails if any of them fails: `node scripts/parallel.mjs typecheck lint`.
// tsc and the type-aware lint each spend most of their time on their own type-check, so on two cores they
// finish together in about the time of the slower one.
import { spawn } from 'node:child_process';

const scripts = process.argv.slice(2);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const results = await Promise.all(
  scripts.map(
    (name) =>
      new Promise((resolve) => {
        const child = spawn(npm, ['run', '--silent', name], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('close', (code) => resolve({ name, code, out }));
      }),
  ),
);
for (const r of results) {
  process.stdout.write(`${r.code === 0 ? 'ok  ' : 'FAIL'} npm run ${r.name}\n${r.out}`);
}
process.exit(results.some((r) => r.code !== 0) ? 1 : 0);
