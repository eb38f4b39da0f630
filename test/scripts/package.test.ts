import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const typedoc = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8'));

/** `./dist/constructs/aws/index.d.ts` -> `constructs/aws/index.ts`. */
const sourceOf = (types: string): string => types.replace(/^\.\/dist\//, '').replace(/\.d\.ts$/, '.ts');

describe('package.json: what a consumer resolves', () => {
  const subpaths = Object.keys(pkg.exports).filter((k) => k !== './package.json');

  test('a "." entry, the four entry points, main and types', () => {
    expect(subpaths.sort()).toEqual(['.', './aws', './azure', './core', './gcp']);
    expect(pkg.exports['.']).toEqual(pkg.exports['./core']);
    expect(pkg.types).toBe(pkg.exports['.'].types);
    expect(pkg.main).toBe(pkg.exports['.'].default);
  });

  test('every entry point has types first, then JS, built from a source file that exists', () => {
    for (const k of subpaths) {
      expect(Object.keys(pkg.exports[k])).toEqual(['types', 'default']);
      expect(existsSync(join(root, sourceOf(pkg.exports[k].types)))).toBe(true);
      expect(pkg.exports[k].default.replace(/\.js$/, '.d.ts')).toBe(pkg.exports[k].types);
    }
  });

  test('typesVersions maps the same subpaths to the same declarations (node10 / CommonJS resolution)', () => {
    const mapped = pkg.typesVersions['*'];
    expect(Object.keys(mapped).sort()).toEqual(subpaths.filter((k) => k !== '.').map((k) => k.slice(2)).sort());
    for (const [name, [types]] of Object.entries(mapped) as [string, string[]][]) {
      expect(types).toBe(pkg.exports[`./${name}`].types);
    }
  });

  test('the API reference documents exactly the entry points', () => {
    const documented = [...new Set(subpaths.map((k) => sourceOf(pkg.exports[k].types)))].sort();
    expect([...typedoc.entryPoints].sort()).toEqual(documented);
  });

  test('ships LICENSE (Apache-2.0, full text) and dist/; prepack builds', () => {
    expect(pkg.license).toBe('Apache-2.0');
    const license = readFileSync(join(root, 'LICENSE'), 'utf8');
    expect(license).toMatch(/Apache License\s+Version 2\.0, January 2004/);
    expect(license).toMatch(/END OF TERMS AND CONDITIONS/);
    expect(pkg.files).toEqual(expect.arrayContaining(['dist/', 'LICENSE']));
    expect(pkg.scripts.prepack).toMatch(/npm run build$/);
    expect(pkg.scripts.build).toMatch(/build:handlers && tsc -p tsconfig\.build\.json/);
  });

  test('IaC libraries and the monitoring library are optional peers; every peer is pinned as a devDependency', () => {
    for (const optional of ['aws-cdk-lib', 'cdktf', '@cdktf/provider-google', '@cdktf/provider-azurerm', 'cdk-monitoring-constructs']) {
      expect(pkg.peerDependenciesMeta[optional]).toEqual({ optional: true });
    }
    expect(pkg.peerDependenciesMeta.constructs).toBeUndefined();
    for (const peer of Object.keys(pkg.peerDependencies)) {
      expect(pkg.devDependencies[peer]).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });
});
