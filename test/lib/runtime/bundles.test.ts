import { join } from 'node:path';
import { packageDistDirectory, prebuiltBundlePath } from '../../../lib/runtime/bundles';

test('bundles live in the package root dist/, found from the sources', () => {
  const root = join(__dirname, '..', '..', '..');
  expect(packageDistDirectory()).toBe(join(root, 'dist'));
  expect(prebuiltBundlePath('runtime/spot-agent/index.js')).toBe(join(root, 'dist', 'runtime', 'spot-agent', 'index.js'));
});
