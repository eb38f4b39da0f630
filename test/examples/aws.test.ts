import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Token } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { exampleStack } from './aws-fixture';

const { stack } = exampleStack();
const t = Template.fromStack(stack);

test('environment-agnostic: synth needs no account or region', () => {
  expect(Token.isUnresolved(stack.account)).toBe(true);
  expect(Token.isUnresolved(stack.region)).toBe(true);
});

test('1 on-demand + 2 spot instances of at least 4 GPU types (g5, g6, g6e, g4dn)', () => {
  const overrides = new Capture();
  t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
    MinSize: '3',
    MaxSize: '5',
    MixedInstancesPolicy: {
      InstancesDistribution: Match.objectLike({ OnDemandBaseCapacity: 1, OnDemandPercentageAboveBaseCapacity: 0, SpotAllocationStrategy: 'price-capacity-optimized' }),
      LaunchTemplate: { LaunchTemplateSpecification: Match.anyValue(), Overrides: overrides },
    },
    CapacityRebalance: true,
    HealthCheckType: 'ELB',
  });
  const types = (overrides.asArray() as { InstanceType: string }[]).map((o) => o.InstanceType);
  expect(types.length).toBeGreaterThanOrEqual(4);
  const families = new Set(types.map((x) => x.split('.')[0]));
  for (const f of ['g5', 'g6', 'g6e', 'g4dn']) expect(families).toContain(f);
});

test('workers span every zone of the new VPC, in private subnets behind NAT', () => {
  const subnets = new Capture();
  t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { VPCZoneIdentifier: subnets });
  const ids = JSON.stringify(subnets.asArray());
  const privateSubnets = Object.keys(t.findResources('AWS::EC2::Subnet', { Properties: { MapPublicIpOnLaunch: false } }));
  expect(privateSubnets.length).toBe(stack.availabilityZones.length);
  for (const s of privateSubnets) expect(ids).toContain(s);
  expect(ids).not.toMatch(/public/i);
  t.resourceCountIs('AWS::EC2::NatGateway', stack.availabilityZones.length);
  t.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT' });
});

test('the model is synced from S3 at boot and the role may read that prefix only', () => {
  const ud = JSON.stringify(t.findResources('AWS::EC2::LaunchTemplate'));
  expect(ud).toContain('aws s3 sync s3://my-model-bucket/models/llama-3.2-3b-instruct/ /opt/models/model --region ');
  expect(ud).toContain('docker run -d --restart unless-stopped --gpus all --name inference -p 8080:8000');
  expect(ud.indexOf('aws s3 sync')).toBeGreaterThan(ud.indexOf('end spot-agent'));
  const statements = Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
  const list = statements.find((s: any) => s.Action === 's3:ListBucket');
  expect(list.Condition).toEqual({ StringLike: { 's3:prefix': ['models/llama-3.2-3b-instruct/*'] } });
  const get = statements.filter((s: any) => s.Action === 's3:GetObject').map((s: any) => JSON.stringify(s.Resource));
  expect(get.some((r) => r.includes(':s3:::my-model-bucket/models/llama-3.2-3b-instruct/*'))).toBe(true);
});

test('outputs: URL, group name, hook name, target group, model location', () => {
  const outputs = t.toJSON().Outputs as Record<string, { Value: unknown }>;
  expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['Url', 'AutoScalingGroupName', 'TerminationHookName', 'TargetGroupArn', 'ModelLocation']));
  expect(JSON.stringify(outputs.Url.Value)).toContain('http://');
  expect(outputs.TerminationHookName.Value).toBe('spot-inference-drain');
  expect(outputs.ModelLocation.Value).toBe('s3://my-model-bucket/models/llama-3.2-3b-instruct/');
});

test('the example imports only the public entry points of the package', () => {
  for (const file of ['app.ts', 'inference-stack.ts', 'byo-listener-stack.ts']) {
    const src = readFileSync(join(__dirname, '..', '..', 'examples', 'aws', file), 'utf8');
    const imports = [...src.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    for (const i of imports) expect(i).toMatch(/^(aws-cdk-lib(\/.*)?|constructs|spot-inference-constructs\/(aws|core)|\.\/(inference|queue|batch|byo-listener)-stack)$/);
  }
});
