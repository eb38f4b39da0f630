// AWS examples: `npx cdk synth` / `npx cdk deploy <stack>` from the repository root (cdk.json runs this file).
// Stacks: SpotInferenceExample (online API), SpotQueueWorkersExample (queue workers), SpotBatchExample (batch).
// Environment-agnostic, so synth needs no credentials. Context: -c modelBucket=... -c modelPrefix=... -c spotInstances=N
import { App } from 'aws-cdk-lib';
import { BatchExampleStack } from './batch-stack';
import { ByoListenerExampleStack } from './byo-listener-stack';
import { SpotInferenceExampleStack } from './inference-stack';
import { QueueWorkersExampleStack } from './queue-stack';

const app = new App();
const context = (key: string): string | undefined => app.node.tryGetContext(key);
new SpotInferenceExampleStack(app, 'SpotInferenceExample', {
  description: 'Model inference on 1 on-demand + N spot GPU instances behind an ALB (spot-inference-constructs example)',
  modelBucketName: context('modelBucket'),
  modelPrefix: context('modelPrefix'),
  spotInstances: context('spotInstances') !== undefined ? Number(context('spotInstances')) : undefined,
  servingImage: context('servingImage'),
});
new QueueWorkersExampleStack(app, 'SpotQueueWorkersExample', {
  description: 'Queue workers on spot GPU instances, scaled on SQS backlog per instance (spot-inference-constructs example)',
  workerImage: context('workerImage'),
  maxWorkers: context('maxWorkers') !== undefined ? Number(context('maxWorkers')) : undefined,
});
new BatchExampleStack(app, 'SpotBatchExample', {
  description: 'Sharded batch inference on spot with checkpoints (spot-inference-constructs example)',
  image: context('batchImage'),
});
new ByoListenerExampleStack(app, 'SpotByoListenerExample', { description: 'A spot fleet behind an existing ALB listener (spot-inference-constructs example)', listenerArn: context('listenerArn'), loadBalancerSecurityGroupId: context('albSecurityGroupId'), vpcId: context('vpcId'), privateSubnetIds: context('privateSubnetIds')?.split(','), privateSubnetRouteTableIds: context('privateSubnetRouteTableIds')?.split(',') });
app.synth();
