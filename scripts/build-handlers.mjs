#!/usr/bin/env node
// Bundles every `lib/**/<name>.entry.ts` with esbuild into `dist/<dir>/<name>/index.js` (minified, one
// file, its dependencies inside), so constructs point at a finished bundle and users need neither
// esbuild nor Docker to synth. A sibling `<name>.package.json` is copied next to the bundle as
// `package.json` (Cloud Functions read it). A line `// esbuild-external: <module> ...` in an entry keeps
// those modules out of its bundle.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');

function findEntries(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findEntries(p));
    else if (name.endsWith('.entry.ts')) out.push(p);
  }
  return out;
}

const entries = findEntries(join(root, 'lib'));
const started = Date.now();
await Promise.all(
  entries.map(async (entry) => {
    const rel = relative(join(root, 'lib'), dirname(entry));
    const name = basename(entry, '.entry.ts');
    const outdir = join(root, 'dist', rel, name);
    mkdirSync(outdir, { recursive: true });
    const external = [...readFileSync(entry, 'utf8').matchAll(/^\/\/ esbuild-external: (.+)$/gm)].flatMap((m) => m[1].trim().split(/\s+/));
    await build({
      external,
      entryPoints: [entry],
      outfile: join(outdir, 'index.js'),
      bundle: true,
      minify: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      legalComments: 'none',
      logLevel: 'warning',
    });
    const pkg = join(dirname(entry), `${name}.package.json`);
    if (existsSync(pkg)) copyFileSync(pkg, join(outdir, 'package.json'));
  }),
);
if (!quiet) console.log(`bundled ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} into dist/ in ${Date.now() - started} ms`);
