// `npx cdktf synth` (from this folder) or `npm run synth` (from the package root): no Google credentials needed.
import { mkdirSync } from 'node:fs';
import { App } from 'cdktf';
import { GcpBatchExampleStack } from './batch-stack';
import { GcpExistingLoadBalancerStack } from './existing-lb-stack';
import { GcpMultiRegionExampleStack } from './multi-region-stack';
import { GcpQueueExampleStack } from './queue-stack';
import { GcpSpotInferenceStack } from './stack';

if (process.env.CDKTF_OUTDIR) mkdirSync(process.env.CDKTF_OUTDIR, { recursive: true });
const app = new App();
const ctx = (key: string): string | undefined => app.node.tryGetContext(key) ?? undefined;
new GcpSpotInferenceStack(app, 'spot-inference-gcp', {
  project: ctx('project') ?? process.env.GOOGLE_CLOUD_PROJECT,
  region: ctx('region'),
});
new GcpQueueExampleStack(app, 'spot-queue-gcp', {
  project: ctx('project') ?? process.env.GOOGLE_CLOUD_PROJECT,
  region: ctx('region'),
});
new GcpBatchExampleStack(app, 'spot-batch-gcp', {
  project: ctx('project') ?? process.env.GOOGLE_CLOUD_PROJECT,
  region: ctx('region'),
});
new GcpMultiRegionExampleStack(app, 'spot-multi-region-gcp', { project: ctx('project') ?? process.env.GOOGLE_CLOUD_PROJECT });
new GcpExistingLoadBalancerStack(app, 'spot-existing-lb-gcp', {
  project: ctx('project') ?? process.env.GOOGLE_CLOUD_PROJECT,
  region: ctx('region'),
});
app.synth();
