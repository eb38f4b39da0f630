import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { multiRegionExample } from '../../examples/aws/multi-region-stacks';
import { lazy } from '../support/lazy';

function example(homeRegion?: string) {
  const built = join(__dirname, '..', '..', 'dist', 'runtime', 'spot-agent', 'index.js');
  let agentBundlePath: string | undefined;
  if (!existsSync(built)) {
    agentBundlePath = join(mkdtempSync(join(tmpdir(), 'spot-agent-')), 'index.js');
    writeFileSync(agentBundlePath, 'console.log("spot-agent placeholder");\n');
  }
  const app = new App();
  const service = multiRegionExample(app, 'SpotMultiRegion', { account: '111111111111', agentBundlePath, homeRegion });
  return { app, service };
}

/** The example as `cdk synth` builds it (no home region), synthesized once for the tests that only read it. */
const defaultExample = lazy(() => {
  const built = example();
  built.app.synth();
  return built;
});

test('cdk-nag AwsSolutions: no unacknowledged error or warning in any stack of the multi-region example', () => {
  const { app, service } = defaultExample();
  const stacks: Stack[] = [...Object.values(service.regionalStacks), service.globalStack];
  expect(stacks).toHaveLength(4);
  const findings = stacks.flatMap((stack) => {
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    return report.violations.map((v) => `${stack.stackName}: ${v.severity} ${v.ruleName}: ${v.violatingResources.map((r: any) => r.constructPath ?? r.resourceLogicalId).join(', ')}`);
  });
  expect(findings).toEqual([]);
});

test('every acknowledgement carries a specific reason', () => {
  const { service } = defaultExample();
  const acks = service.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
    .flatMap((m) => Object.entries(m.data as Record<string, unknown>))
    .filter(([id]) => id.includes('AwsSolutions-'));
  expect(acks.length).toBeGreaterThanOrEqual(10);
  for (const [, reason] of acks) expect(JSON.stringify(reason).length).toBeGreaterThan(60);
});

test('three regional stacks with their own environment and one global stack in us-west-2', () => {
  const { service } = defaultExample();
  expect(service.regionNames).toEqual(['us-east-1', 'us-east-2', 'us-west-2']);
  for (const region of service.regionNames) {
    const stack = service.regionalStacks[region];
    expect(stack.region).toBe(region);
    expect(stack.account).toBe('111111111111');
    expect(stack.stackName).toBe(`SpotMultiRegion-${region}`);
    Template.fromStack(stack).resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 3); // spot group + on-demand fallback group + spare spot group
  }
  expect(service.globalStack.region).toBe('us-west-2');
  const global = Template.fromStack(service.globalStack);
  global.resourceCountIs('AWS::GlobalAccelerator::Accelerator', 1);
  global.resourceCountIs('AWS::GlobalAccelerator::EndpointGroup', 3);
});

test('a home region takes the traffic; the others are failover targets', () => {
  const { service } = example('us-east-2');
  expect(service.trafficDials).toEqual({ 'us-east-1': 0, 'us-east-2': 100, 'us-west-2': 0 });
  Template.fromStack(service.globalStack).hasResourceProperties('AWS::GlobalAccelerator::EndpointGroup', { EndpointGroupRegion: 'us-east-2', TrafficDialPercentage: 100 });
  Template.fromStack(service.globalStack).hasResourceProperties('AWS::GlobalAccelerator::EndpointGroup', { EndpointGroupRegion: 'us-west-2', TrafficDialPercentage: 0 });
});
