#!/usr/bin/env node
// `npm run synth`: bundles the runtime, then synthesizes every example app of every cloud, offline.
// AWS keeps aws-cdk-lib's built-in CloudFormation schema validation on, so every example template is
// checked once per run. Apps run through tsx (transpile-only), never a type-checking ts-node.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assemblyWarnings } from './strict-check.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');
const offline = {
  ...process.env,
  CDK_DISABLE_VERSION_CHECK: '1',
  CDK_DISABLE_CLI_TELEMETRY: 'true',
  CHECKPOINT_DISABLE: '1',
  DISABLE_VERSION_CHECK: '1',
  AWS_EC2_METADATA_DISABLED: 'true',
};

execFileSync(process.execPath, [join(root, 'scripts', 'build-handlers.mjs')], { stdio: 'inherit' });

const written = [];
for (const dir of readdirSync(join(root, 'examples')).sort()) {
  const base = join(root, 'examples', dir);
  for (const file of readdirSync(base).filter((f) => f.endsWith('app.ts')).sort()) {
    const app = join(base, file);
    const isTerraform = existsSync(join(base, 'cdktf.json'));
    const name = file === 'app.ts' ? dir : `${dir}-${file.replace(/[-.]?app\.ts$/, '')}`;
    const out = isTerraform ? join(root, 'cdktf.out', name) : join(root, 'cdk.out', name);
    const started = Date.now();
    execFileSync(tsx, [app], {
      cwd: root,
      stdio: 'inherit',
      env: { ...offline, CDK_OUTDIR: out, CDKTF_OUTDIR: out },
    });
    written.push(`${name.padEnd(14)} -> ${out.replace(root + '/', '')}  (${Date.now() - started} ms)`);
    // What `cdk synth --strict` refuses: any warning annotation in an AWS example's assembly.
    const warnings = isTerraform ? [] : assemblyWarnings(out);
    if (warnings.length > 0) throw new Error(`${name}: cdk synth --strict would fail on ${warnings.length} warning(s):\n  ${warnings.join('\n  ')}`);
  }
}
console.log('\nsynthesized:');
for (const line of written) console.log(`  ${line}`);
