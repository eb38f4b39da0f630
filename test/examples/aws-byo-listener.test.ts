import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ByoListenerExampleStack } from '../../examples/aws/byo-listener-stack';

function byoStack(): { app: App; stack: ByoListenerExampleStack } {
  const built = join(__dirname, '..', '..', 'dist', 'runtime', 'spot-agent', 'index.js');
  let agentBundlePath: string | undefined;
  if (!existsSync(built)) {
    agentBundlePath = join(mkdtempSync(join(tmpdir(), 'spot-agent-')), 'index.js');
    writeFileSync(agentBundlePath, 'console.log("spot-agent placeholder");\n');
  }
  const app = new App();
  return { app, stack: new ByoListenerExampleStack(app, 'SpotByoListenerExample', { agentBundlePath }) };
}

test('the bring-your-own-listener example: a path rule on the shared listener, the fleet admitting only the ALB', () => {
  const { stack } = byoStack();
  const t = Template.fromStack(stack);
  t.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 0);
  t.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
    Priority: 100,
    Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/v1/*'] } }],
  });
  t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { HealthCheckPort: '9901', HealthCheckPath: '/health' });
  const ingress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')).map((r: any) => r.Properties);
  expect(ingress.map((p: any) => [p.SourceSecurityGroupId, p.FromPort]).sort()).toEqual([['sg-0123456789abcdef0', 8080], ['sg-0123456789abcdef0', 9901]]);
  // The drain wait is derived from the fleet: 30 s deregistration delay + 45 s drain budget.
  t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ SPOT_DRAIN_BUDGET_SECONDS: '75', SPOT_TERMINATE_HOOK_NAME: 'spot-inference-drain' }) } });
  // `cdk synth --strict` refuses warnings.
  expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
});

test('cdk-nag AwsSolutions: nothing unacknowledged in the bring-your-own-listener example', () => {
  const { app, stack } = byoStack();
  app.synth();
  const report = new AwsSolutionsChecks(app).validateScope(stack);
  const findings = report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r: any) => r.constructPath ?? r.resourceLogicalId).join(', ')}`);
  expect(findings).toEqual([]);
  expect(report.success).toBe(true);
});
