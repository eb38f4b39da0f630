import { _InstanceType } from '@aws-sdk/client-ec2';
import { AWS_INSTANCE_TYPE_CATALOG as aws, AWS_INSTANCE_TYPE_SIZES, AWS_INSTANCE_TYPES_SDK_VERSION, isAwsInstanceType } from '../../../lib/catalog';

describe('the generated AWS instance type list', () => {
  test('matches the _InstanceType values of the installed @aws-sdk/client-ec2, type for type', () => {
    const generated = Object.entries(AWS_INSTANCE_TYPE_SIZES).flatMap(([f, sizes]) => sizes.map((s) => `${f}.${s}`)).sort();
    const sdk = Object.values(_InstanceType).map(String).sort();
    // On a mismatch (an SDK upgrade): node scripts/gen-aws-instance-types.mjs
    expect(generated).toEqual(sdk);
    expect(AWS_INSTANCE_TYPES_SDK_VERSION).toBe(require('@aws-sdk/client-ec2/package.json').version);
    expect(generated.length).toBeGreaterThan(1000);
  });

  test('the committed file is what the generator writes', async () => {
    const { execFileSync } = await import('node:child_process');
    expect(() => execFileSync(process.execPath, ['scripts/gen-aws-instance-types.mjs', '--check'], { stdio: 'pipe' })).not.toThrow();
  });
});

describe('AWS_INSTANCE_TYPE_CATALOG', () => {
  test('knows real types, refuses lookalikes', () => {
    for (const t of ['g5.xlarge', 'g6e.12xlarge', 'p5.48xlarge', 'inf2.xlarge', 'm7i-flex.large', 'p6-b200.48xlarge']) {
      expect(isAwsInstanceType(t)).toBe(true);
      expect(aws.explainUnknown(t)).toBeUndefined();
    }
    expect(isAwsInstanceType('g5')).toBe(false);
    expect(isAwsInstanceType('G5.xlarge')).toBe(false);
  });

  test('a misspelled size suggests the size of the same family', () => {
    expect(aws.explainUnknown('g5.xlarg')).toBe('family g5 has no size xlarg; did you mean g5.xlarge?');
    expect(aws.explainUnknown('g5.xxlarge')).toBe('family g5 has no size xxlarge; did you mean g5.2xlarge, g5.4xlarge or g5.8xlarge?');
    expect(aws.explainUnknown('g5.huge')).toBe('family g5 has no size huge; its sizes are 12xlarge, 16xlarge, 24xlarge, 2xlarge, 48xlarge, 4xlarge, 8xlarge, xlarge');
  });

  test('an unknown family fails, with the closest types when there are any', () => {
    expect(aws.explainUnknown('g9.xlarge')).toMatch(/^no family g9 in @aws-sdk\/client-ec2; did you mean g[0-9a-z]*\.xlarge(, g[0-9a-z]*\.xlarge)*( or g[0-9a-z]*\.xlarge)?\? For a family AWS launched after @aws-sdk\/client-ec2 \d+\.\d+\.\d+: set allowUnknownInstanceTypes: true$/);
    expect(aws.explainUnknown('zzzz.qqqqqq')).toBe(`no family zzzz in @aws-sdk/client-ec2; see \`aws ec2 describe-instance-types\` for the types of your region; for a family AWS launched after @aws-sdk/client-ec2 ${AWS_INSTANCE_TYPES_SDK_VERSION}: set allowUnknownInstanceTypes: true`);
  });

  test('upper case and a missing size are explained', () => {
    expect(aws.explainUnknown('G5.xlarge')).toBe('AWS writes instance types in lower case; did you mean g5.xlarge?');
    expect(aws.explainUnknown('g5xlarge')).toBe('an instance type is <family>.<size>, e.g. g5.xlarge; did you mean g5.xlarge?');
  });

  test('accelerators by family', () => {
    expect(aws.acceleratorOf('g5.xlarge')).toBe('NVIDIA GPU');
    expect(aws.acceleratorOf('p6-b200.48xlarge')).toBe('NVIDIA GPU');
    expect(aws.acceleratorOf('g4ad.xlarge')).toBe('AMD GPU');
    expect(aws.acceleratorOf('inf2.xlarge')).toMatch(/Neuron/);
    expect(aws.acceleratorOf('m5.xlarge')).toBeUndefined();
    expect(aws.acceleratorOf('c7g.large')).toBeUndefined();
  });

  test('every accelerated family of the SDK list is classified (P, G, inf, trn, dl, f, vt)', () => {
    const accelerated = Object.keys(AWS_INSTANCE_TYPE_SIZES).filter((f) => /^(p\d|g\d|gr\d|cg\d|inf\d|trn\d|dl\d|f\d|vt\d)/.test(f));
    expect(accelerated.length).toBeGreaterThan(20);
    expect(accelerated.filter((f) => aws.acceleratorOf(`${f}.xlarge`) === undefined)).toEqual([]);
  });
});
