// npm run bench:simulate: replays the AWS p3.2xlarge 9-zone spot trace with SkyServe's setup (30 s ticks,
// target 3, 120 s cold start, on-demand = 3x spot, 10 windows of 24 h at random offsets, seed 0) under
// every policy, prints the table (both trace readings) and the simulator's own speed.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { formatResultsTable } from '../lib/plan/cli';
import { ALL_SIMULATED_POLICIES, simulate } from '../lib/plan/simulate';
import { loadTraceDir, TraceReading } from '../lib/plan/traces';

const dir = path.join(__dirname, '../../shared/data/traces/aws-p3.2xlarge-9zones-2023-02');
if (!existsSync(dir)) {
  console.log(`bench:simulate skipped: ${dir} not found (the traces live outside the repository, in ../shared/data)`);
  process.exit(0);
}
const traces = loadTraceDir(dir);
const setup = { tickSeconds: 30, targetReplicas: 3, coldStartSeconds: 120, onDemandPriceRatio: 3, windowSeconds: 86400, repeats: 10, seed: 0 };

for (const reading of [TraceReading.UNCAPPED, TraceReading.CAPPED]) {
  const report = simulate(traces, { ...setup, reading });
  console.log(formatResultsTable(report));
  console.log(`(${report.elapsedMs} ms for ${report.offsets.length} windows x ${ALL_SIMULATED_POLICIES.length} policies)\n`);
}
console.log("Reference (SpotHedge's artifact, seed 0, available = no cap): SpotHedge 0.452 / 0.9958; without spare 0.340 / 0.9885; even spread without fallback 0.207 / 0.268; hindsight optimum 0.334 / 1.0");
console.log('Goal for ours: availability >= 0.999 at relative cost <= 0.40\n');

// Speed: the whole 45-day trace, once, per policy.
for (const policy of ALL_SIMULATED_POLICIES) {
  const times: number[] = [];
  let ticks = 0;
  for (let i = 0; i < 3; i++) {
    const r = simulate(traces, { ...setup, windowSeconds: 0, policies: [policy] });
    times.push(r.elapsedMs);
    ticks = r.windowTicks;
  }
  times.sort((a, b) => a - b);
  console.log(`speed: whole trace (${ticks} ticks x ${traces.length} pools, ${((ticks * setup.tickSeconds) / 86400).toFixed(1)} days) under ${policy.padEnd(11)} median ${times[1]} ms`);
}
