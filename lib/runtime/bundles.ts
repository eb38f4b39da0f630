import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The npm name of this package, whose root holds `dist/`. */
export const PACKAGE_NAME = 'spot-inference-constructs';

/**
 * Where `npm run build:handlers` writes the runtime bundles (handlers, the agent): `<package root>/dist`.
 * Found by walking up from this file to the package's own package.json, so it is the same from the sources
 * (`lib/runtime/`) and from the compiled package (`dist/lib/runtime/`). Every cloud's constructs locate
 * their bundles through it.
 */
export function packageDistDirectory(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && packageName(pkg) === PACKAGE_NAME) return join(dir, 'dist');
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package root above ${__dirname}`);
    dir = parent;
  }
}

/** Path of a prebuilt bundle under the package's `dist/`, e.g. `prebuiltBundlePath('runtime/spot-agent/index.js')`. */
export function prebuiltBundlePath(relativeToDist: string): string {
  return join(packageDistDirectory(), relativeToDist);
}

function packageName(pkg: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name;
  } catch {
    return undefined;
  }
}
