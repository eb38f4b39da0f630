import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Cloud } from '../spec/clouds';
import { FleetSpecError, FleetSpecErrorCode as C } from '../spec/errors';
import { renderCostAvailabilityChart } from './chart';
import { estimateCost } from './cost';
import { ALL_SIMULATED_POLICIES, simulate, SimulatedPolicy, SimulationReport } from './simulate';
import { loadTraceDir, TraceReading } from './traces';

const USAGE = `spot-plan: what will a spot fleet cost, and how available will it be?

Usage:
  spot-plan cost --cloud aws --types g5.xlarge,g6.xlarge --replicas 3 --base 1 [--spot-share 100] [--region us-east-1] [--format table|json]
  spot-plan simulate --traces DIR [--tick 30] [--cold-start 120] [--target 3] [--ratio 3] [--window 86400]
                     [--repeats 10] [--seed 0] [--cap] [--base 1] [--policies ours,spothedge] [--svg chart.svg] [--format table|json]

cost       expected $/hour of the fleet against all on-demand, from the built-in price catalogue
simulate   replay spot-availability traces (one <pool>.json per pool) under each policy:
           on-demand, spot-only, static-base (--base on-demand), spothedge, ours
  --cap    read a trace value as the most replicas the pool holds (1 = one replica per zone);
           default: any value above 0 means available without a cap (SpotHedge's reading)
  --window seconds per replayed window (0 = the whole trace once); windows start at random offsets (--seed)
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
    if (e instanceof FleetSpecError || (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || (e as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      io.err(`spot-plan: ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }
}

function num(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) {
    throw new FleetSpecError([{ code: C.WORKLOAD, prop: name, message: `--${name} (${JSON.stringify(value)}) must be a number` }]);
  }
  return n;
}

function format(value: string | undefined): 'table' | 'json' {
  if (value === undefined || value === 'table') return 'table';
  if (value === 'json') return 'json';
  throw new FleetSpecError([{ code: C.WORKLOAD, prop: 'format', message: `--format (${value}) must be "table" or "json"` }]);
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
    throw new FleetSpecError([{ code: C.CLOUD_CONSTRAINT, prop: 'cloud', message: `--cloud (${values.cloud}) must be one of ${Object.values(Cloud).join(', ')}` }]);
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
      'tick': { type: 'string' },
      'cold-start': { type: 'string' },
      'target': { type: 'string' },
      'ratio': { type: 'string' },
      'window': { type: 'string' },
      'repeats': { type: 'string' },
      'seed': { type: 'string' },
      'cap': { type: 'boolean', default: false },
      'base': { type: 'string' },
      'policies': { type: 'string' },
      'svg': { type: 'string' },
      'format': { type: 'string' },
    },
    strict: true,
  });
  if (!values.traces) {
    throw new FleetSpecError([{ code: C.WORKLOAD, prop: 'traces', message: '--traces DIR is required: a folder of <pool>.json spot-availability traces' }]);
  }
  const fmt = format(values.format);
  const policies = values.policies ? values.policies.split(',').map((p) => p.trim()) : [...ALL_SIMULATED_POLICIES];
  const unknown = policies.filter((p) => !ALL_SIMULATED_POLICIES.includes(p as SimulatedPolicy));
  if (unknown.length > 0) {
    throw new FleetSpecError([{ code: C.WORKLOAD, prop: 'policies', message: `--policies names ${unknown.join(', ')}; choose from ${ALL_SIMULATED_POLICIES.join(', ')}` }]);
  }
  const traces = loadTraceDir(values.traces);
  const reading = values.cap ? TraceReading.CAPPED : TraceReading.UNCAPPED;
  const report = simulate(traces, {
    tickSeconds: num('tick', values.tick, 30),
    coldStartSeconds: num('cold-start', values['cold-start'], 120),
    targetReplicas: num('target', values.target, 3),
    onDemandPriceRatio: num('ratio', values.ratio, 3),
    windowSeconds: num('window', values.window, 86400),
    repeats: num('repeats', values.repeats, 10),
    seed: num('seed', values.seed, 0),
    staticOnDemandBase: num('base', values.base, 1),
    reading,
    policies: policies as SimulatedPolicy[],
  });
  if (values.svg) {
    writeFileSync(values.svg, renderCostAvailabilityChart(report.results, `Cost vs availability: ${traces.length} pools, target ${report.options.targetReplicas}, ${reading} reading`));
  }
  if (fmt === 'json') {
    io.out(JSON.stringify(report.results.map((r) => ({ policy: r.policy, relativeCost: r.relativeCost, availability: r.availability, preemptions: r.preemptions, meanRecoverySeconds: r.meanRecoverySeconds })), null, 2) + '\n');
    return 0;
  }
  io.out(formatResultsTable(report) + '\n');
  if (values.svg) io.out(`chart written to ${values.svg}\n`);
  return 0;
}

/** The results as a fixed-width text table, with the setup above it. */
export function formatResultsTable(report: SimulationReport): string {
  const o = report.options;
  const head = `${report.pools.length} pools, ${o.windowSeconds === 0 ? 'whole trace' : `${report.offsets.length} x ${o.windowSeconds} s windows (seed ${o.seed})`}, ${o.tickSeconds} s ticks, target ${o.targetReplicas}, cold start ${o.coldStartSeconds} s, on-demand = ${o.onDemandPriceRatio}x spot, reading: ${o.reading === TraceReading.UNCAPPED ? 'available = no cap' : 'value = cap per pool'}`;
  const rows = [['policy', 'relative cost', 'availability', 'preemptions/window', 'mean recovery s']];
  for (const r of report.results) {
    rows.push([r.policy, r.relativeCost.toFixed(3), r.availability.toFixed(4), r.preemptions.toFixed(1), r.meanRecoverySeconds.toFixed(0)]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: string[]): string => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [head, '', line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
