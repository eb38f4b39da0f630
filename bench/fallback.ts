/**
 * Size and cold load time of the AWS fallback controller's Lambda bundle (dist/handlers/aws/fallback), next to
 * the drain bundle, and what the bundle would weigh with @aws-sdk/client-ec2 and @aws-sdk/client-ssm (the way it
 * was built before its one EC2 call and two SSM calls were signed by hand in lib/handlers/aws/fallback-ec2.ts).
 *
 *   npm run build:handlers && npx tsx bench/fallback.ts
 *
 * Load time: `require` of the bundle in a fresh node process (module init is part of every cold start),
 * median of 7, on this machine. Never part of pass/fail.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { DRAIN_ENV } from '../lib/handlers/aws/drain-settings';
import { FALLBACK_ENV } from '../lib/handlers/aws/fallback-settings';

const root = path.join(__dirname, '..');
const RUNS = 7;
const env = {
  ...process.env,
  NODE_NO_WARNINGS: '1',
  AWS_REGION: 'us-east-1',
  [FALLBACK_ENV.SPOT_GROUP_NAME]: 'fleet',
  [FALLBACK_ENV.FALLBACK_GROUP_NAME]: 'fleet-od-fallback',
  [FALLBACK_ENV.STATE_PARAMETER_NAME]: '/p',
  [FALLBACK_ENV.ON_DEMAND_BASE]: '1',
  [FALLBACK_ENV.MAX_CAPACITY]: '6',
  [DRAIN_ENV.TARGET_GROUP_ARNS]: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/0123456789abcdef',
};

function loadMs(file: string): number {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const out = execFileSync(process.execPath, ['-e', `const t=process.hrtime.bigint();require(${JSON.stringify(file)});console.log(Number(process.hrtime.bigint()-t)/1e6)`], { env, encoding: 'utf8' });
    times.push(Number(out.trim()));
  }
  return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)];
}

function row(name: string, file: string): void {
  const code = readFileSync(file);
  console.log(`${name.padEnd(44)} ${(code.length / 1024).toFixed(0).padStart(6)} KiB  ${(gzipSync(code).length / 1024).toFixed(0).padStart(5)} KiB gz  ${loadMs(file).toFixed(0).padStart(5)} ms`);
}

async function main(): Promise<void> {
  console.log(`load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')} on ${(await import('node:os')).cpus().length} CPUs (require times scale with it)`);
  const fallback = path.join(root, 'dist/handlers/aws/fallback/index.js');
  const drain = path.join(root, 'dist/handlers/aws/drain/index.js');
  if (!existsSync(fallback) || !existsSync(drain)) throw new Error('run npm run build:handlers first');
  console.log(`${'bundle'.padEnd(44)} ${'size'.padStart(10)}  ${'gzip'.padStart(8)}  ${'require'.padStart(8)} (median of ${RUNS}, fresh process)`);
  row('fallback (hand-signed EC2 and SSM calls)', fallback);
  row('drain', drain);
  // The former shape: the same entry plus the EC2 and SSM clients and the three commands it sent.
  const dir = mkdtempSync(path.join(tmpdir(), 'fallback-bench-'));
  try {
    const entry = path.join(root, 'lib/handlers/aws/.bench-fallback-with-ec2.entry-tmp.ts');
    writeFileSync(entry, `export * from './fallback.entry';\nimport { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';\nimport { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';\nexport const sdk = [EC2Client, DescribeInstancesCommand, SSMClient, GetParameterCommand, PutParameterCommand];\n`);
    try {
      await build({ entryPoints: [entry], outfile: path.join(dir, 'index.js'), bundle: true, minify: true, platform: 'node', target: 'node20', format: 'cjs', legalComments: 'none', logLevel: 'error' });
    } finally {
      rmSync(entry, { force: true });
    }
    row('fallback with the EC2 and SSM clients (before)', path.join(dir, 'index.js'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
