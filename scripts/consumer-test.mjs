#!/usr/bin/env node
// `npm run test:consumer` (run by .ci/run after npm test): the package as a user gets it.
//
// 1. `npm pack --dry-run` lists LICENSE and dist/ (it runs `prepack`, which cleans and builds dist/), and nothing
//    of the sources or the tests; then the tarball is packed.
// 2. A fresh AWS project installs the tarball with the README's command (`npm install spot-inference-constructs
//    aws-cdk-lib constructs`, peers at the versions this repository pins), and nothing else but TypeScript and
//    @types/node (what `cdk init` sets up). A fresh cdktf project runs the README's Google Cloud and Azure lines.
//    The AWS project runs `npx spot-plan cost` from the install.
// 3. Each project type-checks the README's apps (test/consumer/*-app.ts) with `skipLibCheck: false` under
//    `moduleResolution` node16 AND node10 (the CommonJS resolution `cdktf init` writes), then synthesizes them
//    with node: a CloudFormation template on AWS, Terraform JSON on Google Cloud and Azure.
//
// Options: --keep (leave the temporary projects), --skip-build (pack the dist/ that is there, without prepack:
// for a shared working tree where others' tests read dist/ while this runs).
// Works offline once the npm cache holds the pinned packages (`npm ci` of this repository fills it).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assemblyWarnings } from './strict-check.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const skipBuild = process.argv.includes('--skip-build');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pin = (name) => {
  const v = pkg.devDependencies[name];
  if (!v) throw new Error(`package.json pins no ${name} in devDependencies`);
  return `${name}@${v}`;
};
let work;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const env = {
  ...process.env,
  CDK_DISABLE_VERSION_CHECK: '1',
  CDK_DISABLE_CLI_TELEMETRY: 'true',
  CHECKPOINT_DISABLE: '1',
  DISABLE_VERSION_CHECK: '1',
  AWS_EC2_METADATA_DISABLED: 'true',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
  npm_config_prefer_offline: 'true',
};
const started = Date.now();
const step = (what) => console.log(`\n[consumer ${((Date.now() - started) / 1000).toFixed(0)} s] ${what}`);
const run = (cmd, args, cwd, extraEnv = {}) =>
  execFileSync(cmd, args, { cwd, env: { ...env, ...extraEnv }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
const fail = (message) => {
  throw new Error(`consumer test: ${message}`);
};

function packedFiles() {
  step(`npm pack --dry-run${skipBuild ? ' --ignore-scripts' : ' (prepack builds dist/)'}`);
  const out = run(npm, ['pack', '--dry-run', '--json', ...(skipBuild ? ['--ignore-scripts'] : [])], root);
  const files = JSON.parse(out.slice(out.indexOf('[')))[0].files.map((f) => f.path);
  const must = [
    'LICENSE',
    'package.json',
    'dist/lib/index.js',
    'dist/lib/index.d.ts',
    ...['aws', 'gcp', 'azure'].flatMap((c) => [`dist/constructs/${c}/index.js`, `dist/constructs/${c}/index.d.ts`]),
    'dist/runtime/spot-agent/index.js',
    'dist/runtime/spot-agent-portable/index.js',
  ];
  const missing = must.filter((f) => !files.includes(f));
  if (missing.length > 0) fail(`npm pack --dry-run does not list ${missing.join(', ')}`);
  if (!files.some((f) => f.startsWith('dist/handlers/'))) fail('npm pack --dry-run lists no dist/handlers/ bundle');
  const leaked = files.filter((f) => /^(test|examples|bench|scripts)\//.test(f) || (/\.ts$/.test(f) && !/\.d\.ts$/.test(f)));
  if (leaked.length > 0) fail(`the package would ship sources or tests: ${leaked.slice(0, 5).join(', ')}`);
  console.log(`  ${files.length} files, LICENSE and dist/ included`);
}

function pack() {
  const out = run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', work], root);
  const tarball = join(work, JSON.parse(out.slice(out.indexOf('[')))[0].filename);
  console.log(`  packed ${tarball}`);
  return tarball;
}

/** A fresh project: the README's install lines (the tarball in place of the package name), then the TypeScript tools. */
function project(name, installs) {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, version: '0.0.0', private: true }, null, 2));
  for (const packages of installs) {
    step(`${name}: npm install ${packages.map((p) => (p.endsWith('.tgz') ? 'spot-inference-constructs (tarball)' : p)).join(' ')}`);
    run(npm, ['install', ...packages], dir);
  }
  run(npm, ['install', '--save-dev', pin('typescript'), pin('@types/node')], dir);
  return dir;
}

/** Copies `copied` from test/consumer, then type-checks them and the project's own `extra` files both ways. */
function typeCheckAndBuild(dir, copied, extra) {
  for (const f of copied) copyFileSync(join(root, 'test', 'consumer', f), join(dir, f));
  const files = [...copied, ...extra];
  const base = { target: 'ES2022', lib: ['ES2022'], strict: true, skipLibCheck: false, types: ['node'], esModuleInterop: true };
  const configs = {
    'tsconfig.node16.json': { ...base, module: 'node16', moduleResolution: 'node16', outDir: 'out' },
    // What `cdktf init` writes: "module": "CommonJS", whose resolution (node10) ignores package.json exports.
    'tsconfig.node10.json': { ...base, module: 'commonjs', moduleResolution: 'node10', noEmit: true },
  };
  const tsc = join(dir, 'node_modules', '.bin', 'tsc');
  for (const [file, compilerOptions] of Object.entries(configs)) {
    writeFileSync(join(dir, file), JSON.stringify({ compilerOptions, files }, null, 2));
    step(`${dir.split('/').pop()}: tsc -p ${file} (skipLibCheck: false, moduleResolution ${compilerOptions.moduleResolution})`);
    try {
      run(tsc, ['-p', file], dir);
    } catch (e) {
      fail(`${file} does not type-check:\n${e.stdout}${e.stderr}`);
    }
  }
}

function synth(dir, app, outEnv) {
  const out = join(dir, `${app}.out`);
  step(`${dir.split('/').pop()}: node out/${app}.js`);
  try {
    const log = run(process.execPath, [join(dir, 'out', `${app}.js`)], dir, { [outEnv]: out });
    if (log.trim()) console.log(log.trim().split('\n').map((l) => `  | ${l}`).join('\n'));
  } catch (e) {
    fail(`${app} does not synthesize:\n${e.stdout}${e.stderr}`);
  }
  return out;
}

function findFiles(dir, test) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? findFiles(join(dir, d.name), test) : test(d.name) ? [join(dir, d.name)] : [],
  );
}

function expectResource(outDir, fileTest, resourceType, what) {
  const files = findFiles(outDir, fileTest);
  if (!files.some((f) => readFileSync(f, 'utf8').includes(resourceType))) fail(`${what}: no ${resourceType} in ${outDir}`);
  console.log(`  ${what}: ${resourceType} synthesized (${files.length} file${files.length === 1 ? '' : 's'})`);
}

/**
 * The README's install lines (`npm install spot-inference-constructs aws-cdk-lib constructs`, ...), as package
 * lists with the tarball for this package and the repository's pinned version for every other.
 */
export function readmeInstalls(readme, tarball = 'spot-inference-constructs') {
  const lines = [...readme.matchAll(/`npm install (spot-inference-constructs(?: [@a-z0-9/._-]+)+)`/g)].map((m) => m[1].split(' '));
  const resolve = (names) => names.map((n) => (n === 'spot-inference-constructs' ? tarball : pin(n)));
  const aws = lines.filter((l) => l.includes('aws-cdk-lib'));
  const tf = lines.filter((l) => l.includes('cdktf'));
  if (aws.length !== 1 || tf.length !== 2) fail(`the README should have one AWS and two cdktf install lines, found ${lines.map((l) => l.join(' ')).join(' | ')}`);
  return { aws: resolve(aws[0]), cdktf: tf.map(resolve) };
}

function main() {
  work = mkdtempSync(join(tmpdir(), 'spot-consumer-'));
  packedFiles();
  const tarball = pack();
  const installs = readmeInstalls(readFileSync(join(root, 'README.md'), 'utf8'), tarball);

  // AWS: exactly the README's line; no cdktf, no cdk-monitoring-constructs (an optional peer).
  const aws = project('aws', [installs.aws]);
  for (const absent of ['cdktf', 'cdk-monitoring-constructs', '@cdktf/provider-google']) {
    if (existsSync(join(aws, 'node_modules', absent))) fail(`the AWS install pulled in ${absent}; it must stay an optional peer`);
  }
  writeFileSync(join(aws, 'entry-check.ts'), "import * as aws from 'spot-inference-constructs/aws';\nimport { checkEntryPoints } from './entry-points';\ncheckEntryPoints([aws]);\n");
  typeCheckAndBuild(aws, ['aws-app.ts', 'entry-points.ts'], ['entry-check.ts']);
  run(process.execPath, [join(aws, 'out', 'entry-check.js')], aws);
  const cdkOut = synth(aws, 'aws-app', 'CDK_OUTDIR');
  expectResource(cdkOut, (n) => n.endsWith('.template.json'), 'AWS::AutoScaling::AutoScalingGroup', 'AWS');
  // Without the optional monitoring library the dashboard is skipped, with a warning naming the install command.
  const warnings = assemblyWarnings(cdkOut);
  const expected = warnings.filter((w) => w.includes('npm install cdk-monitoring-constructs'));
  if (expected.length !== 1 || warnings.length !== 1) fail(`AWS: expected only the dashboard-skipped warning, got:\n  ${warnings.join('\n  ') || 'none'}`);
  console.log('  AWS: the dashboard is skipped with a warning naming npm install cdk-monitoring-constructs');
  // The package's commands work from the install (bin/ and the compiled dist/), without tsx or a build.
  step('aws: npx spot-plan cost ...; spot-agent bundle present');
  const plan = run(npm, ['exec', '--no', '--', 'spot-plan', 'cost', '--cloud', 'aws', '--types', 'g5.xlarge,g6.xlarge', '--replicas', '4', '--base', '1'], aws);
  if (!/relative cost \d/.test(plan)) fail(`npx spot-plan cost printed no relative cost:\n${plan}`);
  if (!existsSync(join(aws, 'node_modules', '.bin', 'spot-agent'))) fail('the spot-agent command is not installed');
  console.log(`  ${plan.split('\n').find((l) => l.includes('relative cost')).trim()}`);

  // Google Cloud and Azure: the README's two cdktf lines in one project; no aws-cdk-lib.
  const tf = project('cdktf', installs.cdktf);
  if (existsSync(join(tf, 'node_modules', 'aws-cdk-lib'))) fail('the cdktf install pulled in aws-cdk-lib; it must stay an optional peer');
  writeFileSync(join(tf, 'entry-check.ts'), "import * as azure from 'spot-inference-constructs/azure';\nimport * as gcp from 'spot-inference-constructs/gcp';\nimport { checkEntryPoints } from './entry-points';\ncheckEntryPoints([gcp, azure]);\n");
  typeCheckAndBuild(tf, ['gcp-app.ts', 'azure-app.ts', 'entry-points.ts'], ['entry-check.ts']);
  run(process.execPath, [join(tf, 'out', 'entry-check.js')], tf);
  const gcpOut = synth(tf, 'gcp-app', 'CDKTF_OUTDIR');
  expectResource(gcpOut, (n) => n === 'cdk.tf.json', '"google_compute_region_instance_group_manager"', 'Google Cloud');
  const azureOut = synth(tf, 'azure-app', 'CDKTF_OUTDIR');
  expectResource(azureOut, (n) => n === 'cdk.tf.json', '"azurerm_orchestrated_virtual_machine_scale_set"', 'Azure');

  step(`passed${keep ? ` (projects kept in ${work})` : ''}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    main();
  } finally {
    if (!keep && work) rmSync(work, { recursive: true, force: true });
  }
}
