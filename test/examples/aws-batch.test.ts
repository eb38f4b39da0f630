import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { BatchExampleStack } from '../../examples/aws/batch-stack';

describe('AWS batch example', () => {
  const app = new App();
  const stack = new BatchExampleStack(app, 'SpotBatchExample');
  const t = Template.fromStack(stack);

  test('spot first, on-demand second, retries only on spot reclaim, with the submit command as an output', () => {
    t.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      ComputeResources: Match.objectLike({ Type: 'SPOT', AllocationStrategy: 'SPOT_PRICE_CAPACITY_OPTIMIZED' }),
    });
    t.hasResourceProperties('AWS::Batch::JobDefinition', {
      RetryStrategy: Match.objectLike({
        EvaluateOnExit: [
          Match.objectLike({ Action: 'RETRY', OnStatusReason: 'Host EC2*' }),
          Match.objectLike({ Action: 'EXIT', OnReason: '*' }),
        ],
      }),
    });
    const outputs = t.findOutputs('SubmitJob');
    expect(JSON.stringify(outputs)).toMatch(/--array-properties size=16/);
  });

  test('cdk-nag AwsSolutions finds nothing unacknowledged', () => {
    app.synth();
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    const findings = report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r: any) => r.constructPath).join(', ')}`);
    expect(findings).toEqual([]);
  });
});
