// Shared fixtures of the test files (not a test file itself).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

/** The newest modification time of a file under `path` (or of `path` itself). */
function newestChange(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestChange(join(path, name))), stat.mtimeMs);
}

/**
 * Bundles the handlers and agents into dist/ (scripts/build-handlers.mjs, as `npm test` does before jest) unless
 * every one of `bundles` (paths under dist/) is newer than lib/, the build script and the lockfile: the build would
 * only write the same files again, while other test files may be reading them.
 */
export function buildHandlersUnlessFresh(bundles: string[]): void {
  const paths = bundles.map((b) => join(root, 'dist', b));
  const sources = Math.max(newestChange(join(root, 'lib')), newestChange(join(root, 'scripts', 'build-handlers.mjs')), newestChange(join(root, 'package-lock.json')));
  if (paths.every((p) => existsSync(p) && statSync(p).mtimeMs > sources)) return;
  execFileSync(process.execPath, [join(root, 'scripts', 'build-handlers.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
}
