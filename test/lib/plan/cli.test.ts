import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { spotPlanMain as main } from '../../../lib/plan';

function run(...argv: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'spot-plan-'));
  // three synthetic zones, 60 s samples: one always up, one down a tenth of the time, one flapping
  const zones: Record<string, number[]> = {
    'zone-a': new Array(600).fill(1),
    'zone-b': Array.from({ length: 600 }, (_, i) => (i % 50 < 45 ? 1 : 0)),
    'zone-c': Array.from({ length: 600 }, (_, i) => (i % 7 < 4 ? 1 : 0)),
  };
  for (const [name, data] of Object.entries(zones)) writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ metadata: { gap_seconds: 60 }, data }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('spot-plan simulate', () => {
  test('--format json prints one row per policy with the documented fields', () => {
    const r = run('simulate', '--traces', dir, '--window', '7200', '--repeats', '3', '--format', 'json');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out);
    expect(rows.map((x: { policy: string }) => x.policy)).toEqual(['on-demand', 'spot-only', 'static-base', 'spothedge', 'ours']);
    for (const row of rows) expect(Object.keys(row)).toEqual(['policy', 'relativeCost', 'availability', 'preemptions', 'meanRecoverySeconds']);
    expect(rows[0]).toMatchObject({ relativeCost: 1, availability: 1 });
  });

  test('the table is the default and names the setup; --svg writes the chart; --cap switches the reading', () => {
    const svg = path.join(dir, 'chart.svg');
    const r = run('simulate', '--traces', dir, '--window', '7200', '--repeats', '2', '--target', '2', '--cold-start', '60', '--ratio', '4', '--cap', '--policies', 'ours,spothedge', '--svg', svg);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/3 pools, 2 x 7200 s windows \(seed 0\), 30 s ticks, target 2, cold start 60 s, on-demand = 4x spot, reading: value = cap per pool/);
    expect(r.out).toMatch(/policy\s+relative cost\s+availability\s+preemptions\/window\s+mean recovery s/);
    expect(r.out).toMatch(/\nspothedge\s+\d\.\d{3}\s+\d\.\d{4}/);
    expect(r.out).toMatch(/\nours\s+\d\.\d{3}\s+\d\.\d{4}/);
    expect(r.out).toContain(`chart written to ${svg}`);
    expect(readFileSync(svg, 'utf8')).toMatch(/<svg[\s\S]*ours: \d\.\d{3} \/ \d\.\d{4}/);
  });

  test('errors name the option and exit 2', () => {
    expect(run('simulate')).toMatchObject({ code: 2, err: expect.stringMatching(/--traces DIR is required/) });
    expect(run('simulate', '--traces', dir, '--policies', 'ours,magic')).toMatchObject({ code: 2, err: expect.stringMatching(/--policies names magic; choose from on-demand, spot-only, static-base, spothedge, ours/) });
    expect(run('simulate', '--traces', dir, '--format', 'xml')).toMatchObject({ code: 2, err: expect.stringMatching(/--format \(xml\) must be "table" or "json"/) });
    expect(run('simulate', '--traces', dir, '--tick', 'fast')).toMatchObject({ code: 2, err: expect.stringMatching(/--tick \("fast"\) must be a number/) });
    expect(run('simulate', '--traces', dir, '--window', '999999')).toMatchObject({ code: 2, err: expect.stringMatching(/windowSeconds \(999999\) is longer than the traces/) });
    expect(run('simulate', '--traces', path.join(dir, 'missing'))).toMatchObject({ code: 2, err: expect.stringMatching(/is not a readable directory/) });
    expect(run('simulate', '--traces', dir, '--bogus')).toMatchObject({ code: 2, err: expect.stringMatching(/bogus/) });
  });
});

describe('spot-plan cost', () => {
  test('prints $/hour against all on-demand with the sources', () => {
    const r = run('cost', '--cloud', 'aws', '--types', 'g5.xlarge,g6.xlarge', '--replicas', '4', '--base', '1');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/fleet: 1 on-demand \+ 3 spot of g5.xlarge, g6.xlarge \(aws\)/);
    expect(r.out).toMatch(/fleet\s+\$2\.12\/h/);
    expect(r.out).toMatch(/relative cost 0\.585 \(saves 41 %/);
    expect(r.out).toMatch(/source: g5.xlarge us-east-1: skypilot-catalog v7\/aws\/vms.csv/);
  });

  test('--format json gives the numbers', () => {
    const r = run('cost', '--cloud', 'gcp', '--types', 'nvidia-l4', '--replicas', '2', '--format', 'json');
    expect(JSON.parse(r.out)).toMatchObject({ spotReplicas: 2, onDemandReplicas: 0 });
  });

  test('errors name the option', () => {
    expect(run('cost', '--cloud', 'oracle', '--types', 'x')).toMatchObject({ code: 2, err: expect.stringMatching(/--cloud \(oracle\) must be one of aws, gcp, azure/) });
    expect(run('cost', '--types', 'p9.huge')).toMatchObject({ code: 2, err: expect.stringMatching(/instanceType "p9.huge" is not in the aws price catalogue/) });
  });
});

describe('spot-plan', () => {
  test('help and unknown commands', () => {
    expect(run('--help')).toMatchObject({ code: 0, out: expect.stringMatching(/^spot-plan: what will a spot fleet cost/) });
    expect(run()).toMatchObject({ code: 1 });
    expect(run('deploy')).toMatchObject({ code: 1, err: expect.stringMatching(/unknown command "deploy"; use "cost" or "simulate"/) });
  });
});
