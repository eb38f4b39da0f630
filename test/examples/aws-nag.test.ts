import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { exampleStack } from './aws-fixture';
import { lazy } from '../support/lazy';

/** The example stack, synthesized once for both tests (they only read it). */
const synthesized = lazy(() => {
  const built = exampleStack();
  built.app.synth();
  return built;
});

test('cdk-nag AwsSolutions: no unacknowledged error or warning in the AWS example', () => {
  const { app, stack } = synthesized();
  const report = new AwsSolutionsChecks(app).validateScope(stack);
  const findings = report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r: any) => r.constructPath ?? r.resourceLogicalId).join(', ')}`);
  expect(findings).toEqual([]);
  expect(report.success).toBe(true);
});

test('every acknowledgement carries a specific reason', () => {
  const { stack } = synthesized();
  const acks = stack.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
    .flatMap((m) => Object.entries(m.data as Record<string, unknown>))
    .filter(([id]) => id.includes('AwsSolutions-'));
  expect(acks.length).toBeGreaterThanOrEqual(5);
  for (const [id, reason] of acks) {
    expect(id).toMatch(/AwsSolutions-/);
    expect(JSON.stringify(reason).length).toBeGreaterThan(60);
  }
});
