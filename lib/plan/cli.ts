import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Cloud } from '../spec/clouds';
import { FleetSpecError, FleetSpecErrorCode as C } from '../spec/errors';
import { renderCostAvailabilityChart } from './chart';
import { estimateCost } from './cost';
import { noticeServingSeconds } from '../spec/notice';
import { Deployment } from './deployment';
import { locatePool, regionsOf } from './pools';
import { ALL_SIMULATED_POLICIES, selectRegions, simulate, SimulatedPolicy, SimulationOptions, SimulationReport } from './simulate';
import { loadTraceDir, SpotTrace, TraceReading } from './traces';

const USAGE = `spot-plan: what will a spot fleet cost, and how available will it be?

Usage:
  spot-plan cost --cloud aws --types g5.xlarge,g6.xlarge --replicas 3 --base 1 [--spot-share 100] [--region us-east-1] [--format table|json]
  spot-plan simulate --traces DIR [--deployment aws|gcp|azure] [--region R[,R]] [--per-region] [--home-region R]
                     [--region-replicas R=N,R=N]
                     [--tick 30] [--cold-start 120] [--target 3] [--ratio 3] [--window 86400] [--repeats 10] [--seed 0]
                     [--offsets 0,2880] [--cap] [--base 1] [--policies ours,spothedge] [--spothedge-spares 1]
                     [--spothedge-safety-hold] [--drain-budget 45] [--svg chart.svg] [--format table|json]

cost       expected $/hour of the fleet against all on-demand, from the built-in price catalogue
simulate   replay spot-availability traces (one <zone>_<type>.json per pool) under each policy:
           on-demand, spot-only, even-spread, static-base (--base on-demand), spothedge, ours
  --deployment  replay the fleet as the library deploys it on that cloud (the cloud's own spot placement,
                notice and replacement, the controller at its real period); without it: the idealised model
  --region      replay only these regions' pools (the region comes from the zone in each file name)
  --per-region  one block per region, on the same windows, to choose where to deploy
  --region-replicas  (with --deployment, several regions) replicas of each region's main group, as the
                multi-region constructs' per-region desiredCapacity sets them, e.g. us-west-2=2,us-east-2=1,us-east-1=0
                (they sum to --target; 0 = the region hosts only spares, stand-ins and the fallback); default: even
  --cap         read a trace value as the most replicas the pool holds (1 = one replica per zone);
                default: any value above 0 means available without a cap (SpotHedge's reading)
  --window      seconds per replayed window (0 = the whole trace once)
  --offsets     window start ticks (after expansion to --tick), instead of random offsets drawn from --seed
  --drain-budget  (with --deployment) the fleet's drainBudgetSeconds: a notified replica serves until its
                agent starts the drain, notice - budget - 5 s (AWS 120 - 45 - 5 = 70 s; Azure 15 s; Google Cloud none)
  --spothedge-spares       spare spot replicas of the spothedge baseline (published: 1)
  --spothedge-safety-hold  give spothedge the artifact's SpotFailover hold (on-demand kept one cold start);
                           the published SpotHedge (SpotFailoverNoSafety) has none
`;

/** Writes of the CLI, so tests can capture them. */
export interface CliIo {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

const defaultIo: CliIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/** Run `spot-plan` with the given arguments (without `node` and the script). Returns the exit code. */
export function main(argv: string[], io: CliIo = defaultIo): number {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'cost':
        return costCommand(rest, io);
      case 'simulate':
        return simulateCommand(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return command === undefined ? 1 : 0;
      default:
        io.err(`spot-plan: unknown command "${command}"; use "cost" or "simulate"\n\n${USAGE}`);
        return 1;
    }
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (e instanceof FleetSpecError) {
      io.err(`spot-plan: ${(e as Error).message}\n`);
      return 2;
    }
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      const flagHint = code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' ? ' (--cap, --per-region and --spothedge-safety-hold are flags and take no value: write --cap, not --cap 1)' : '';
      io.err(`spot-plan: ${(e as Error).message}${flagHint}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
}

function num(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) {
    throw new FleetSpecError([{ code: C.PLAN_CLI_ARGUMENT, prop: name, message: `--${name} (${JSON.stringify(value)}) must be a number` }]);
  }
  return n;
}

function whole(name: string, value: string | undefined, fallback: number): number {
  const n = num(name, value, fallback);
  if (!Number.isInteger(n) || n < 0) {
    throw new FleetSpecError([{ code: C.PLAN_CLI_ARGUMENT, prop: name, message: `--${name} (${JSON.stringify(value)}) must be a whole number, 0 or more` }]);
  }
  return n;
}

function wholeList(name: string, value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(',').map((x) => x.trim());
  const bad = parts.filter((x) => !/^\d+$/.test(x));
  if (parts.length === 0 || bad.length > 0) {
    throw new FleetSpecError([{ code: C.PLAN_CLI_ARGUMENT, prop: name, message: `--${name} (${JSON.stringify(value)}) must be whole tick numbers separated by commas, e.g. 0,2880,5760 (${bad.map((b) => JSON.stringify(b)).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not)` }]);
  }
  return parts.map(Number);
}

function format(value: string | undefined): 'table' | 'json' {
  if (value === undefined || value === 'table') return 'table';
  if (value === 'json') return 'json';
  throw new FleetSpecError([{ code: C.PLAN_CLI_ARGUMENT, prop: 'format', message: `--format (${value}) must be "table" or "json"` }]);
}

function costCommand(args: string[], io: CliIo): number {
  const { values } = parseArgs({
    args,
    options: {
      'cloud': { type: 'string', default: 'aws' },
      'types': { type: 'string' },
      'replicas': { type: 'string', default: '3' },
      'base': { type: 'string', default: '0' },
      'spot-share': { type: 'string', default: '100' },
      'region': { type: 'string' },
      'format': { type: 'string' },
    },
    strict: true,
  });
  const cloud = values.cloud as Cloud;
  if (!Object.values(Cloud).includes(cloud)) {
    throw new FleetSpecError([{ code: C.UNKNOWN_CLOUD, prop: 'cloud', message: `--cloud (${values.cloud}) must be one of ${Object.values(Cloud).join(', ')}` }]);
  }
  const types = (values.types ?? '').split(',').map((t) => t.trim()).filter((t) => t);
  const est = estimateCost({
    cloud,
    instanceTypes: types,
    replicas: num('replicas', values.replicas, 3),
    onDemandBase: num('base', values.base, 0),
    spotPercentageAboveBase: num('spot-share', values['spot-share'], 100),
    region: values.region,
  });
  if (format(values.format) === 'json') {
    io.out(JSON.stringify(est, null, 2) + '\n');
    return 0;
  }
  const lines = [
    `fleet: ${est.onDemandReplicas} on-demand + ${est.spotReplicas} spot of ${types.join(', ')} (${cloud}${values.region ? `, ${values.region}` : ''})`,
    `  on-demand  $${est.onDemandUsdPerReplicaHour.toFixed(4)}/h per replica`,
    `  spot       $${est.spotUsdPerReplicaHour.toFixed(4)}/h per replica (typical)`,
    `  fleet      $${est.fleetUsdPerHour.toFixed(2)}/h   ($${(est.fleetUsdPerHour * 730).toFixed(0)}/month)`,
    `  on-demand  $${est.allOnDemandUsdPerHour.toFixed(2)}/h   ($${(est.allOnDemandUsdPerHour * 730).toFixed(0)}/month) if all replicas ran on-demand`,
    `  relative cost ${est.relativeCost.toFixed(3)} (saves ${((1 - est.relativeCost) * 100).toFixed(0)} % while spot is obtainable; run "spot-plan simulate" to price in fallback)`,
    ...est.prices.map((p) => `  source: ${p.instanceType} ${p.region}: ${p.source}${p.note ? ` (${p.note})` : ''}`),
  ];
  io.out(lines.join('\n') + '\n');
  return 0;
}

function simulateCommand(args: string[], io: CliIo): number {
  const { values } = parseArgs({
    args,
    options: {
      'traces': { type: 'string' },
      'deployment': { type: 'string' },
      'region': { type: 'string' },
      'per-region': { type: 'boolean', default: false },
      'home-region': { type: 'string' },
      'region-replicas': { type: 'string' },
      'tick': { type: 'string' },
      'cold-start': { type: 'string' },
      'target': { type: 'string' },
      'ratio': { type: 'string' },
      'window': { type: 'string' },
      'repeats': { type: 'string' },
      'seed': { type: 'string' },
      'offsets': { type: 'string' },
      'cap': { type: 'boolean', default: false },
      'base': { type: 'string' },
      'policies': { type: 'string' },
      'spothedge-spares': { type: 'string' },
      'spothedge-safety-hold': { type: 'boolean', default: false },
      'drain-budget': { type: 'string' },
      'svg': { type: 'string' },
      'format': { type: 'string' },
    },
    strict: true,
  });
  if (!values.traces) {
    throw new FleetSpecError([{ code: C.PLAN_CLI_ARGUMENT, prop: 'traces', message: '--traces DIR is required: a folder of <zone>_<type>.json spot-availability traces' }]);
  }
  const fmt = format(values.format);
  const policies = values.policies ? values.policies.split(',').map((p) => p.trim()) : [...ALL_SIMULATED_POLICIES];
  const unknown = policies.filter((p) => !ALL_SIMULATED_POLICIES.includes(p as SimulatedPolicy));
  if (unknown.length > 0) {
    throw new FleetSpecError([{ code: C.PLAN_CLI_ARGUMENT, prop: 'policies', message: `--policies names ${unknown.join(', ')}; choose from ${ALL_SIMULATED_POLICIES.join(', ')}` }]);
  }
  const deployment = (values.deployment ?? Deployment.IDEALISED) as Deployment;
  if (!Object.values(Deployment).includes(deployment)) {
    throw new FleetSpecError([{ code: C.PLAN_CLI_ARGUMENT, prop: 'deployment', message: `--deployment (${values.deployment}) must be aws, gcp or azure (or idealised, the default): the cloud whose rendered fleet to replay` }]);
  }
  let traces = loadTraceDir(values.traces);
  if (values.region) traces = selectRegions(traces, values.region.split(',').map((r) => r.trim()).filter((r) => r));
  const reading = values.cap ? TraceReading.CAPPED : TraceReading.UNCAPPED;
  const options: SimulationOptions = {
    tickSeconds: num('tick', values.tick, 30),
    coldStartSeconds: num('cold-start', values['cold-start'], 120),
    targetReplicas: whole('target', values.target, 3),
    onDemandPriceRatio: num('ratio', values.ratio, 3),
    windowSeconds: num('window', values.window, 86400),
    repeats: whole('repeats', values.repeats, 10),
    seed: whole('seed', values.seed, 0),
    staticOnDemandBase: whole('base', values.base, 1),
    reading,
    policies: policies as SimulatedPolicy[],
    deployment,
    spothedgeSpares: whole('spothedge-spares', values['spothedge-spares'], 1),
    spothedgeSafetyHold: values['spothedge-safety-hold'],
    ...(values['home-region'] ? { homeRegion: values['home-region'] } : {}),
    ...(values['drain-budget'] !== undefined ? { drainBudgetSeconds: num('drain-budget', values['drain-budget'], 0) } : {}),
    ...(values.offsets !== undefined ? { offsets: wholeList('offsets', values.offsets) } : {}),
  };
  const blocks: { label: string; report: SimulationReport }[] = [];
  const regions = regionsOf(traces.map((t) => t.name));
  // The split over regions applies where there are several; a one-region block serves the whole target there.
  const split = values['region-replicas'] !== undefined ? { regionReplicas: regionReplicaList(values['region-replicas']) } : {};
  if (values['per-region']) {
    for (const region of regions) blocks.push({ label: region, report: simulate(traces.filter((t: SpotTrace) => locatePool(t.name).region === region), options) });
    if (regions.length > 1) blocks.push({ label: `all regions (${regions.join(', ')})`, report: simulate(traces, { ...options, ...split }) });
  } else {
    blocks.push({ label: regions.join(', '), report: simulate(traces, { ...options, ...split }) });
  }
  const main = blocks[blocks.length - 1].report;
  if (values.svg) {
    writeFileSync(values.svg, renderCostAvailabilityChart(main.results, `Cost vs availability: ${main.pools.length} pools (${main.regions.join(', ')}), target ${main.options.targetReplicas}, ${reading} reading, ${deployment} model`));
  }
  if (fmt === 'json') {
    const json = blocks.map((b) => reportJson(b.report));
    io.out(JSON.stringify(values['per-region'] ? json : json[0], null, 2) + '\n');
    return 0;
  }
  for (const w of main.warnings) io.err(`spot-plan: warning: ${w}\n`);
  io.out(blocks.map((b) => (values['per-region'] ? `== ${b.label} ==\n` : '') + formatResultsTable(b.report)).join('\n\n') + '\n');
  if (values.svg) io.out(`chart written to ${values.svg}\n`);
  return 0;
}

/** `--region-replicas us-west-2=2,us-east-2=1`: region -> replicas, each a whole number. */
function regionReplicaList(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of text.split(',').map((x) => x.trim()).filter((x) => x)) {
    const m = /^([^=\s]+)=(\d+)$/.exec(item);
    if (!m) throw new FleetSpecError([{ code: C.PLAN_CLI_ARGUMENT, prop: 'region-replicas', message: `--region-replicas item "${item}" must be REGION=N with N a whole number, e.g. us-west-2=2,us-east-2=1` }]);
    if (out[m[1]] !== undefined) throw new FleetSpecError([{ code: C.PLAN_CLI_ARGUMENT, prop: 'region-replicas', message: `--region-replicas names ${m[1]} twice; give each region once` }]);
    out[m[1]] = Number(m[2]);
  }
  if (Object.keys(out).length === 0) throw new FleetSpecError([{ code: C.PLAN_CLI_ARGUMENT, prop: 'region-replicas', message: '--region-replicas is empty; give REGION=N for every region, e.g. us-west-2=2,us-east-2=1' }]);
  return out;
}

/** `{setup, results}`: everything needed to reproduce a replay, and what it gave. */
export function reportJson(report: SimulationReport): { setup: Record<string, unknown>; results: unknown[] } {
  const o = report.options;
  return {
    setup: {
      model: o.deployment,
      ...(report.profile ? { profile: report.profile } : {}),
      pools: report.pools,
      regions: report.regions,
      reading: o.reading,
      seed: o.seed,
      offsets: report.offsets,
      windowTicks: report.windowTicks,
      tickSeconds: o.tickSeconds,
      coldStartSeconds: o.coldStartSeconds,
      targetReplicas: o.targetReplicas,
      onDemandPriceRatio: o.onDemandPriceRatio,
      windowSeconds: o.windowSeconds,
      staticOnDemandBase: o.staticOnDemandBase,
      onDemandBase: o.onDemandBase,
      maxCapacity: o.maxCapacity,
      spothedgeSpares: o.spothedgeSpares,
      spothedgeSafetyHold: o.spothedgeSafetyHold,
      ...(o.homeRegion !== undefined ? { homeRegion: o.homeRegion } : {}),
      ...(o.regionReplicas !== undefined ? { regionReplicas: o.regionReplicas } : {}),
      ...(o.drainBudgetSeconds !== undefined ? { drainBudgetSeconds: o.drainBudgetSeconds } : {}),
      ...(report.profile ? { servingThroughNoticeSeconds: servingThroughNotice(report) } : {}),
      warnings: report.warnings,
    },
    results: report.results.map((r) => ({ policy: r.policy, model: r.model, relativeCost: r.relativeCost, availability: r.availability, preemptions: r.preemptions, meanRecoverySeconds: r.meanRecoverySeconds })),
  };
}

/** Seconds a notified replica keeps serving in the as-deployed model (lib/spec/notice.ts). */
function servingThroughNotice(report: SimulationReport): number {
  const p = report.profile!;
  return noticeServingSeconds({ cloud: p.cloud, noticeSeconds: p.noticeSeconds, drainBudgetSeconds: report.options.drainBudgetSeconds });
}

/** The results as a fixed-width text table, with the setup above it. */
export function formatResultsTable(report: SimulationReport): string {
  const o = report.options;
  const model = o.deployment === Deployment.IDEALISED
    ? 'model: idealised (the policy places every spot replica itself, every tick)'
    : `model: as deployed on ${report.profile?.description ?? o.deployment}; a notified replica serves ${servingThroughNotice(report)} s of its notice (agent serveThroughNotice, drain budget ${o.drainBudgetSeconds ?? 'default'})`;
  const split = o.regionReplicas ? ` (replicas per region ${Object.entries(o.regionReplicas).map(([r, n]) => `${r}=${n}`).join(', ')})` : '';
  const head = `${report.pools.length} pools in ${report.regions.length} region${report.regions.length === 1 ? '' : 's'} (${report.regions.join(', ')})${split}, ${o.windowSeconds === 0 ? 'whole trace' : `${report.offsets.length} x ${o.windowSeconds} s windows (seed ${o.seed})`}, ${o.tickSeconds} s ticks, target ${o.targetReplicas}, cold start ${o.coldStartSeconds} s, on-demand = ${o.onDemandPriceRatio}x spot, reading: ${o.reading === TraceReading.UNCAPPED ? 'available = no cap' : 'value = cap per pool'}\n${model}; spothedge = published (${o.spothedgeSpares} spare${o.spothedgeSpares === 1 ? '' : 's'}, ${o.spothedgeSafetyHold ? 'with the safety hold' : 'no safety hold'})`;
  const rows = [['policy', 'model', 'relative cost', 'availability', 'preemptions/window', 'mean recovery s']];
  for (const r of report.results) {
    rows.push([r.policy, r.model, r.relativeCost.toFixed(3), r.availability.toFixed(4), r.preemptions.toFixed(1), r.meanRecoverySeconds.toFixed(0)]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: string[]): string => row.map((c, i) => (i <= 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [head, '', line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
