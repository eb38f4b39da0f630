// Not a README snippet: every entry point resolves (under node16 and node10 resolution) and exports the one error
// class. The consumer test compiles this in each project with only the entry points that project installs.
import * as root from 'spot-inference-constructs';
import * as core from 'spot-inference-constructs/core';

export function checkEntryPoints(others: Array<{ FleetSpecError: unknown }>): void {
  for (const m of [root, ...others]) {
    if (m.FleetSpecError !== core.FleetSpecError) throw new Error('FleetSpecError is not the same class from every entry point');
  }
  const e = new core.FleetSpecError([{ code: core.FleetSpecErrorCode.ZONES, prop: 'zones', message: 'zones is an empty list' }]);
  if (!(e instanceof Error) || e.code !== 'ZONES') throw new Error('FleetSpecError does not behave');
}
