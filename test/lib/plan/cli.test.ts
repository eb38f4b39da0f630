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
  test('--format json prints {setup, results}: everything needed to reproduce the replay', () => {
    const r = run('simulate', '--traces', dir, '--window', '7200', '--repeats', '3', '--seed', '4', '--format', 'json');
    expect(r.code).toBe(0);
    const { setup, results } = JSON.parse(r.out);
    expect(results.map((x: { policy: string }) => x.policy)).toEqual(['on-demand', 'spot-only', 'even-spread', 'static-base', 'spothedge', 'ours']);
    for (const row of results) expect(Object.keys(row)).toEqual(['policy', 'model', 'relativeCost', 'availability', 'preemptions', 'meanRecoverySeconds']);
    expect(results[0]).toMatchObject({ relativeCost: 1, availability: 1 });
    expect(setup).toMatchObject({ model: 'idealised', pools: ['zone-a', 'zone-b', 'zone-c'], regions: ['unknown'], reading: 'uncapped', seed: 4, tickSeconds: 30, coldStartSeconds: 120, targetReplicas: 3, onDemandPriceRatio: 3, windowSeconds: 7200, spothedgeSpares: 1, spothedgeSafetyHold: false });
    expect(setup.offsets).toHaveLength(3);
    // the same setup replays the same windows and gives the same figures
    const again = JSON.parse(run('simulate', '--traces', dir, '--window', '7200', '--offsets', setup.offsets.join(','), '--seed', '4', '--format', 'json').out);
    expect(again.setup.offsets).toEqual(setup.offsets);
    expect(again.results).toEqual(results);
  });

  test('the table is the default and names the setup and the model; --svg writes the chart; --cap switches the reading', () => {
    const svg = path.join(dir, 'chart.svg');
    const r = run('simulate', '--traces', dir, '--window', '7200', '--repeats', '2', '--target', '2', '--cold-start', '60', '--ratio', '4', '--cap', '--policies', 'ours,spothedge', '--svg', svg);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/3 pools in 1 region \(unknown\), 2 x 7200 s windows \(seed 0\), 30 s ticks, target 2, cold start 60 s, on-demand = 4x spot, reading: value = cap per pool/);
    expect(r.out).toMatch(/model: idealised \(the policy places every spot replica itself, every tick\); spothedge = published \(1 spare, no safety hold\)/);
    expect(r.out).toMatch(/policy\s+model\s+relative cost\s+availability\s+preemptions\/window\s+mean recovery s/);
    expect(r.out).toMatch(/\nspothedge\s+artifact\s+\d\.\d{3}\s+\d\.\d{4}/);
    expect(r.out).toMatch(/\nours\s+idealised\s+\d\.\d{3}\s+\d\.\d{4}/);
    expect(r.out).toContain(`chart written to ${svg}`);
    expect(readFileSync(svg, 'utf8')).toMatch(/<svg[\s\S]*ours: \d\.\d{3} \/ \d\.\d{4}/);
  });

  test('--cap is a flag: --cap 1 is refused with a message, not a stack', () => {
    const r = run('simulate', '--traces', dir, '--cap', '1');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Unexpected argument '1'.*--cap, --per-region and --spothedge-safety-hold are flags and take no value: write --cap, not --cap 1/);
  });

  test('warns when a count trace is read without --cap, and when pools differ in length', () => {
    const d = mkdtempSync(path.join(tmpdir(), 'spot-plan-counts-'));
    try {
      writeFileSync(path.join(d, 'us-east-1a_g5.json'), JSON.stringify({ metadata: { gap_seconds: 60 }, data: new Array(300).fill(4) }));
      writeFileSync(path.join(d, 'us-east-1b_g5.json'), JSON.stringify({ metadata: { gap_seconds: 60 }, data: new Array(240).fill(1) }));
      const r = run('simulate', '--traces', d, '--window', '3600', '--repeats', '1', '--policies', 'ours');
      expect(r.code).toBe(0);
      expect(r.err).toMatch(/warning: us-east-1a_g5 holds counts above 1 \(instances obtained\), read here as "available, no cap"; pass --cap/);
      expect(r.err).toMatch(/warning: pools differ in length \(us-east-1b_g5: 14400 s, us-east-1a_g5: 18000 s\); every pool is cut to the shortest, 14400 s/);
      const capped = run('simulate', '--traces', d, '--window', '3600', '--repeats', '1', '--policies', 'ours', '--cap', '--format', 'json');
      expect(JSON.parse(capped.out).setup.warnings).toEqual([expect.stringMatching(/^pools differ in length/)]);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('regions: --region replays one region, --per-region one block per region plus all, the table names them', () => {
    const d = mkdtempSync(path.join(tmpdir(), 'spot-plan-regions-'));
    try {
      const pools: Record<string, number[]> = {
        'us-east-1a_v100_1': Array.from({ length: 400 }, (_, i) => (i % 40 < 30 ? 1 : 0)),
        'us-east-1b_v100_1': Array.from({ length: 400 }, (_, i) => (i % 30 < 25 ? 1 : 0)),
        'us-central1-a_c3-88': new Array(400).fill(1),
        'eastus-1_nc6': new Array(400).fill(1),
      };
      for (const [n, data] of Object.entries(pools)) writeFileSync(path.join(d, `${n}.json`), JSON.stringify({ metadata: { gap_seconds: 60 }, data }));
      const one = run('simulate', '--traces', d, '--window', '7200', '--repeats', '2', '--region', 'us-east-1', '--format', 'json');
      expect(JSON.parse(one.out).setup).toMatchObject({ pools: ['us-east-1a_v100_1', 'us-east-1b_v100_1'], regions: ['us-east-1'] });
      const per = run('simulate', '--traces', d, '--window', '7200', '--repeats', '2', '--per-region', '--policies', 'ours');
      expect(per.code).toBe(0);
      expect(per.out).toMatch(/== eastus ==\n1 pools in 1 region \(eastus\)/);
      expect(per.out).toMatch(/== us-central1 ==/);
      expect(per.out).toMatch(/== us-east-1 ==\n2 pools in 1 region \(us-east-1\)/);
      expect(per.out).toMatch(/== all regions \(eastus, us-central1, us-east-1\) ==\n4 pools in 3 regions/);
      const perJson = JSON.parse(run('simulate', '--traces', d, '--window', '7200', '--repeats', '2', '--per-region', '--policies', 'ours', '--format', 'json').out);
      expect(perJson).toHaveLength(4);
      // same windows in every block
      expect(new Set(perJson.map((b: { setup: { offsets: number[] } }) => b.setup.offsets.join(','))).size).toBe(1);
      expect(run('simulate', '--traces', d, '--region', 'mars-1')).toMatchObject({ code: 2, err: expect.stringMatching(/--region mars-1 matches no pool; the traces hold eastus, us-central1, us-east-1/) });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('--region-replicas splits the target over the regions\' main groups (the all-regions block only), named in the table and the JSON', () => {
    const d = mkdtempSync(path.join(tmpdir(), 'spot-plan-split-'));
    try {
      for (const n of ['us-east-1a_v100_1', 'us-east-1b_v100_1', 'us-west-2a_v100_1', 'us-west-2b_v100_1']) writeFileSync(path.join(d, `${n}.json`), JSON.stringify({ metadata: { gap_seconds: 60 }, data: new Array(400).fill(1) }));
      const base = ['simulate', '--traces', d, '--window', '7200', '--repeats', '2', '--deployment', 'aws', '--policies', 'ours'];
      const table = run(...base, '--region-replicas', 'us-west-2=2,us-east-1=1');
      expect(table.code).toBe(0);
      expect(table.out).toMatch(/4 pools in 2 regions \(us-east-1, us-west-2\) \(replicas per region us-west-2=2, us-east-1=1\), 2 x 7200 s windows/);
      const per = JSON.parse(run(...base, '--per-region', '--region-replicas', 'us-west-2=3,us-east-1=0', '--format', 'json').out);
      expect(per.map((b: { setup: { regionReplicas?: unknown } }) => b.setup.regionReplicas)).toEqual([undefined, undefined, { 'us-west-2': 3, 'us-east-1': 0 }]);
      expect(run(...base, '--region-replicas', 'us-west-2=two')).toMatchObject({ code: 2, err: expect.stringMatching(/--region-replicas item "us-west-2=two" must be REGION=N with N a whole number/) });
      expect(run(...base, '--region-replicas', 'us-west-2=1,us-west-2=2')).toMatchObject({ code: 2, err: expect.stringMatching(/--region-replicas names us-west-2 twice/) });
      expect(run(...base, '--region-replicas', ',')).toMatchObject({ code: 2, err: expect.stringMatching(/--region-replicas is empty/) });
      expect(run(...base, '--region-replicas', 'us-west-2=1,us-east-1=1')).toMatchObject({ code: 2, err: expect.stringMatching(/sum to 2, not targetReplicas \(3\)/) });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('--deployment replays the fleet as deployed and says so', () => {
    const r = run('simulate', '--traces', dir, '--window', '7200', '--repeats', '2', '--deployment', 'gcp', '--policies', 'spot-only,spothedge,ours');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/model: as deployed on Google Cloud: regional MIG/);
    expect(r.out).toMatch(/\nspot-only\s+gcp\s/);
    expect(r.out).toMatch(/\nspothedge\s+artifact\s/);
    expect(r.out).toMatch(/\nours\s+gcp\s/);
    expect(run('simulate', '--traces', dir, '--deployment', 'oracle')).toMatchObject({ code: 2, err: expect.stringMatching(/--deployment \(oracle\) must be aws, gcp or azure \(or idealised, the default\)/) });
  });

  test('--drain-budget sets how long a notified replica serves in the as-deployed model, and the output says it', () => {
    const table = run('simulate', '--traces', dir, '--window', '7200', '--repeats', '2', '--deployment', 'aws', '--policies', 'ours');
    expect(table.out).toMatch(/a notified replica serves 70 s of its notice \(agent serveThroughNotice, drain budget default\)/);
    const json = (budget: string) => JSON.parse(run('simulate', '--traces', dir, '--window', '7200', '--repeats', '2', '--deployment', 'aws', '--drain-budget', budget, '--policies', 'spot-only', '--format', 'json').out);
    expect(json('100').setup.servingThroughNoticeSeconds).toBe(15);
    expect(json('25').setup.servingThroughNoticeSeconds).toBe(90);
    // zone-c flaps: a longer serve through the notice can only add available ticks
    expect(json('25').results[0].availability).toBeGreaterThanOrEqual(json('100').results[0].availability);
    const gcp = JSON.parse(run('simulate', '--traces', dir, '--window', '7200', '--repeats', '2', '--deployment', 'gcp', '--policies', 'spot-only', '--format', 'json').out);
    expect(gcp.setup.servingThroughNoticeSeconds).toBe(0);
    expect(run('simulate', '--traces', dir, '--deployment', 'aws', '--drain-budget', 'long')).toMatchObject({ code: 2, err: expect.stringMatching(/--drain-budget \("long"\) must be a number/) });
    expect(run('simulate', '--traces', dir, '--deployment', 'aws', '--drain-budget', '0')).toMatchObject({ code: 2, err: expect.stringMatching(/drainBudgetSeconds \(0\) must be a number above 0/) });
  });

  test('errors name the option and exit 2', () => {
    expect(run('simulate')).toMatchObject({ code: 2, err: expect.stringMatching(/--traces DIR is required/) });
    expect(run('simulate', '--traces', dir, '--policies', 'ours,magic')).toMatchObject({ code: 2, err: expect.stringMatching(/--policies names magic; choose from on-demand, spot-only, even-spread, static-base, spothedge, ours/) });
    expect(run('simulate', '--traces', dir, '--format', 'xml')).toMatchObject({ code: 2, err: expect.stringMatching(/--format \(xml\) must be "table" or "json"/) });
    expect(run('simulate', '--traces', dir, '--tick', 'fast')).toMatchObject({ code: 2, err: expect.stringMatching(/--tick \("fast"\) must be a number/) });
    expect(run('simulate', '--traces', dir, '--seed', '1.5')).toMatchObject({ code: 2, err: expect.stringMatching(/--seed \("1.5"\) must be a whole number, 0 or more/) });
    expect(run('simulate', '--traces', dir, '--spothedge-spares=-1')).toMatchObject({ code: 2, err: expect.stringMatching(/--spothedge-spares \("-1"\) must be a whole number, 0 or more/) });
    expect(run('simulate', '--traces', dir, '--offsets', '0,x')).toMatchObject({ code: 2, err: expect.stringMatching(/--offsets \("0,x"\) must be whole tick numbers separated by commas, e.g. 0,2880,5760 \("x" is not\)/) });
    expect(run('simulate', '--traces', dir, '--window', '7200', '--offsets', '99999')).toMatchObject({ code: 2, err: expect.stringMatching(/offset 99999 must be a whole tick from 0 to 960/) });
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
