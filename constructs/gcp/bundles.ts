import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { prebuiltBundlePath } from '../../lib/runtime/bundles';
import { FleetSpecError, FleetSpecErrorCode } from '../../lib/spec';

/**
 * Where a bundle built by `npm run build:handlers` lives (the package root's `dist/`, see
 * `prebuiltBundlePath`), or the user's override; throws a FleetSpecError naming the prop and the fix.
 * @param rel path under `dist/`, e.g. `runtime/spot-agent/index.js`
 * @param prop prop that overrides the path, named in the error
 * @param override a path the user gave
 */
export function locateBundle(rel: string, prop: string, override?: string): string {
  const candidates = [override ? resolve(override) : prebuiltBundlePath(rel)];
  const found = candidates.find((c) => existsSync(c));
  if (!found) {
    throw new FleetSpecError([
      {
        code: FleetSpecErrorCode.HANDLER_BUNDLE_MISSING,
        prop,
        message: `bundle ${override ? `"${override}"` : `dist/${rel}`} not found (looked in ${candidates.join(', ')}); run \`npm run build:handlers\` first so that synth can ship it${override ? `, or fix ${prop}` : ''}`,
      },
    ]);
  }
  return found;
}
