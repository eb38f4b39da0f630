// `npm run bench:synth`: median wall time and peak RSS of synthesizing each example app next to an
// equivalent hand-written app, each run in a fresh `node` process on an esbuild bundle of the app
// (node_modules stay external, so aws-cdk-lib / cdktf load exactly as in a user's app).
//
// Add an app: one line in APPS. Apps of the same `group` are compared with the group's `baseline`.
// Options: --runs N (default 5); --only <group>; --validation keeps aws-cdk-lib's built-in CloudFormation
// schema validation on (as a plain `cdk synth` does). Without it the apps run with CDK_VALIDATION=false,
// so the figures show the cost of the constructs rather than of AWS's schema check.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildSync } from 'esbuild';

interface BenchApp {
  /** Short name, also the folder of its bundle under .bench/. */
  readonly name: string;
  /** Entry file, relative to the repository root. */
  readonly entry: string;
  /** Apps compared with each other. */
  readonly group: string;
  /** The hand-written reference the group's other apps are divided by. */
  readonly baseline?: boolean;
}

const APPS: BenchApp[] = [
  // The whole AWS example app (3 stacks: inference with its interruption pipeline, fallback, dashboard and drill;
  // queue workers; batch), then its inference fleet alone against the same resources written by hand.
  { name: 'aws-example', entry: 'examples/aws/app.ts', group: 'aws-example' },
  { name: 'aws-fleet-library', entry: 'bench/apps/aws-fleet-library.ts', group: 'aws' },
  { name: 'aws-handwritten', entry: 'bench/apps/aws-handwritten.ts', group: 'aws', baseline: true },
  { name: 'gcp-library', entry: 'examples/gcp/app.ts', group: 'gcp' },
  { name: 'azure-library', entry: 'examples/azure/app.ts', group: 'azure' },
];

const root = join(__dirname, '..');
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const onlyArg = process.argv.indexOf('--only');
const only = onlyArg > 0 ? process.argv[onlyArg + 1] : undefined;
const validation = process.argv.includes('--validation');
const apps = APPS.filter((a) => !only || a.group === only);

// The agent bundle the AWS constructs upload as an asset.
spawnSync(process.execPath, [join(root, 'scripts', 'build-handlers.mjs'), '--quiet'], { stdio: 'inherit' });

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const external = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies, ...pkg.peerDependencies }).flatMap((d) => [d, `${d}/*`]);
const benchDir = join(root, '.bench');
const probe = join(benchDir, 'rss-probe.cjs');
mkdirSync(benchDir, { recursive: true });
// Peak RSS and CPU time (user + system) of the child, printed on exit. CPU time is what to compare
// when the machine is shared: wall time also counts waiting for a core.
writeFileSync(probe, "process.on('exit', () => { const u = process.resourceUsage(); require('fs').writeSync(2, '\\n__BENCH_MAXRSS_KB=' + u.maxRSS + ' __BENCH_CPU_US=' + (u.userCPUTime + u.systemCPUTime) + '\\n'); });\n");

// Bundles sit two levels under the root (.bench/<name>/app.js) so paths relative to the sources
// (`../../dist/runtime/...`) resolve as they do from `constructs/aws/`.
const bundles = new Map<string, string>();
for (const app of apps) {
  const outfile = join(benchDir, app.name, 'app.js');
  buildSync({
    entryPoints: [join(root, app.entry)],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external,
    tsconfig: join(root, 'tsconfig.json'),
    logLevel: 'warning',
  });
  bundles.set(app.name, outfile);
}

interface Sample { ms: number; cpuMs: number; rssMiB: number }
const samples = new Map<string, Sample[]>(apps.map((a) => [a.name, []]));
const env = { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', CHECKPOINT_DISABLE: '1', DISABLE_VERSION_CHECK: '1', AWS_EC2_METADATA_DISABLED: 'true', CDK_VALIDATION: validation ? 'true' : 'false' };
// Interleave the apps run by run, so load on the machine hits all of them alike.
for (let i = 0; i < runs; i++) {
  for (const app of apps) {
    const out = mkdtempSync(join(tmpdir(), `bench-${app.name}-`));
    const started = performance.now();
    const r = spawnSync(process.execPath, ['-r', probe, bundles.get(app.name)!], {
      cwd: root,
      env: { ...env, CDK_OUTDIR: out, CDKTF_OUTDIR: out },
      encoding: 'utf8',
    });
    const ms = performance.now() - started;
    rmSync(out, { recursive: true, force: true });
    if (r.status !== 0) {
      console.error(`${app.name} failed:\n${r.stderr}`);
      process.exit(1);
    }
    const rss = /__BENCH_MAXRSS_KB=(\d+)/.exec(r.stderr);
    const cpu = /__BENCH_CPU_US=(\d+)/.exec(r.stderr);
    samples.get(app.name)!.push({ ms, cpuMs: cpu ? Number(cpu[1]) / 1000 : NaN, rssMiB: rss ? Number(rss[1]) / 1024 : NaN });
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(`synth benchmark: ${runs} runs per app, fresh node process each, CloudFormation validation ${validation ? 'on' : 'off (--validation to turn it on)'}`);
console.log(`${'app'.padEnd(18)} ${'median ms'.padStart(10)} ${'min ms'.padStart(8)} ${'max ms'.padStart(8)} ${'CPU ms'.padStart(8)} ${'peak RSS MiB'.padStart(13)} ${'ratio'.padStart(6)}`);
for (const app of apps) {
  const s = samples.get(app.name)!;
  const med = median(s.map((x) => x.ms));
  const baseline = apps.find((a) => a.group === app.group && a.baseline);
  const ratio = baseline && baseline !== app ? med / median(samples.get(baseline.name)!.map((x) => x.ms)) : undefined;
  console.log(
    `${app.name.padEnd(18)} ${med.toFixed(0).padStart(10)} ${Math.min(...s.map((x) => x.ms)).toFixed(0).padStart(8)} ${Math.max(...s.map((x) => x.ms)).toFixed(0).padStart(8)} ${median(s.map((x) => x.cpuMs)).toFixed(0).padStart(8)} ` +
    `${median(s.map((x) => x.rssMiB)).toFixed(0).padStart(13)} ${(ratio !== undefined ? ratio.toFixed(2) : '-').padStart(6)}`,
  );
}
for (const group of new Set(apps.map((a) => a.group))) {
  const base = apps.find((a) => a.group === group && a.baseline);
  for (const app of apps.filter((a) => a.group === group && !a.baseline)) {
    if (!base) continue;
    const ratio = median(samples.get(app.name)!.map((x) => x.ms)) / median(samples.get(base.name)!.map((x) => x.ms));
    const cpuRatio = median(samples.get(app.name)!.map((x) => x.cpuMs)) / median(samples.get(base.name)!.map((x) => x.cpuMs));
    console.log(`${group}: ${app.name} / ${base.name} = ${ratio.toFixed(2)} wall, ${cpuRatio.toFixed(2)} CPU (target <= 1.2) ${ratio <= 1.2 ? 'OK' : 'ABOVE TARGET'}`);
  }
}
