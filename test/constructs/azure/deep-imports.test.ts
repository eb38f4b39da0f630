import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// The provider package root loads ~1,500 modules (seconds, hundreds of MB): constructs import each
// resource by its own path, e.g. '@cdktf/provider-azurerm/lib/lb'.
const ROOTS = [join(__dirname, '../../../constructs/azure'), join(__dirname, '../../../examples/azure')];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

test('Azure constructs and the example import provider resources by deep path only', () => {
  const files = ROOTS.flatMap(sources);
  expect(files.length).toBeGreaterThan(5);
  const offenders = files.filter((f) => /from\s+['"]@cdktf\/provider-azurerm['"]|require\(\s*['"]@cdktf\/provider-azurerm['"]\s*\)/.test(readFileSync(f, 'utf8')));
  expect(offenders).toEqual([]);
  // And every provider import that exists is a deep one.
  const deep = files.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/from\s+['"](@cdktf\/provider-azurerm[^'"]*)['"]/g)].map((m) => m[1]));
  expect(deep.length).toBeGreaterThan(10);
  expect(deep.every((p) => /^@cdktf\/provider-azurerm\/lib\/[a-z0-9-]+$/.test(p))).toBe(true);
});

test('constructs/azure never imports another cloud or aws-cdk-lib', () => {
  for (const f of sources(ROOTS[0])) {
    const text = readFileSync(f, 'utf8');
    expect(text).not.toMatch(/from\s+['"](aws-cdk-lib|@cdktf\/provider-google)/);
    expect(text).not.toMatch(/from\s+['"]\.\.\/(aws|gcp)\//);
  }
});
