// Provider resources are imported by deep path only: the package root loads ~1,500 modules (2.7 s, ~470 MB).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(__dirname, '..', '..', '..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? tsFiles(p) : name.endsWith('.ts') ? [p] : [];
  });
}

const ROOT_IMPORT = /(?:from\s+|require\(\s*|import\(\s*)['"]@cdktf\/provider-google['"]/;

describe('deep-path imports of @cdktf/provider-google', () => {
  const files = [...tsFiles(join(root, 'constructs', 'gcp')), ...tsFiles(join(root, 'examples', 'gcp'))];

  test('there are files to check', () => {
    expect(files.length).toBeGreaterThan(3);
  });

  test('no file imports the package root', () => {
    const offenders = files.filter((f) => ROOT_IMPORT.test(readFileSync(f, 'utf8'))).map((f) => relative(root, f));
    expect(offenders).toEqual([]);
  });

  test('every provider import names a resource module', () => {
    const bad = files.flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/['"](@cdktf\/provider-google[^'"]*)['"]/g)]
        .map((m) => m[1])
        .filter((spec) => !/^@cdktf\/provider-google\/lib\/[a-z0-9-]+$/.test(spec))
        .map((spec) => `${relative(root, f)}: ${spec}`),
    );
    expect(bad).toEqual([]);
  });

  test('the check catches a root import', () => {
    expect(ROOT_IMPORT.test("import { ComputeFirewall } from '@cdktf/provider-google';")).toBe(true);
    expect(ROOT_IMPORT.test("const g = require('@cdktf/provider-google');")).toBe(true);
    expect(ROOT_IMPORT.test("import { ComputeFirewall } from '@cdktf/provider-google/lib/compute-firewall';")).toBe(false);
  });
});
