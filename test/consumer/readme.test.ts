import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

describe('README: the user manual', () => {
  test('is under 400 lines', () => {
    expect(readme.split('\n').length).toBeLessThan(400);
  });

  test('its apps are the files the consumer test compiles and synthesizes, each under 40 lines', () => {
    const snippets = [...readme.matchAll(/<!-- snippet: (\S+) -->\n```ts\n([\s\S]*?)\n```/g)];
    expect(snippets.map((m) => m[1])).toEqual(['test/consumer/aws-app.ts', 'test/consumer/gcp-app.ts', 'test/consumer/azure-app.ts']);
    for (const [, file, code] of snippets) {
      // On a mismatch, copy the file into the README (or the README's code into the file).
      expect(code).toBe(readFileSync(join(root, file), 'utf8').trimEnd());
      expect(code.split('\n').length).toBeLessThan(40);
    }
  });

  test('the install lines are the ones the consumer test runs: one for AWS, one per cdktf cloud', () => {
    // scripts/consumer-test.mjs is an ES module: ask node for what it reads from the README.
    const script = "import { readFileSync } from 'node:fs'; const m = await import('./scripts/consumer-test.mjs'); console.log(JSON.stringify(m.readmeInstalls(readFileSync('README.md', 'utf8'))));";
    const installs = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' }));
    expect(installs.aws).toEqual(['spot-inference-constructs', expect.stringMatching(/^aws-cdk-lib@\d/), expect.stringMatching(/^constructs@\d/)]);
    expect(installs.cdktf.map((l: string[]) => l[l.length - 1])).toEqual([expect.stringMatching(/^@cdktf\/provider-google@\d/), expect.stringMatching(/^@cdktf\/provider-azurerm@\d/)]);
  });

  test('every relative link points at a file of the repository', () => {
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));
    expect(links.length).toBeGreaterThan(10);
    expect(links.filter((l) => !existsSync(join(root, l)))).toEqual([]);
  });

  test('.ci/run runs the test command the README shows, then the consumer test', () => {
    const ci = readFileSync(join(root, '.ci', 'run'), 'utf8');
    expect(readme).toContain('npm ci && npm run synth');
    expect(readme).toMatch(/^npm test\b/m);
    const steps = ['npm ci', 'npm run synth', 'npm test', 'npm run test:consumer'].map((c) => ci.split('\n').indexOf(c));
    expect(steps.every((i) => i >= 0)).toBe(true);
    expect([...steps].sort((x, y) => x - y)).toEqual(steps);
  });
});
