// `cdktf synth` (from this folder) or `npm run synth` (from the package root): no Azure credentials needed.
import { mkdirSync } from 'node:fs';
import { App } from 'cdktf';
import { AzureBatchExampleStack } from './batch-stack';
import { AzureMultiRegionExampleStack } from './multi-region-stack';
import { AzureQueueExampleStack } from './queue-stack';
import { AzureSharedLbExampleStack } from './shared-lb-stack';
import { AzureSpotInferenceStack } from './stack';

if (process.env.CDKTF_OUTDIR) mkdirSync(process.env.CDKTF_OUTDIR, { recursive: true });
const app = new App();
const ctx = (key: string): string | undefined => app.node.tryGetContext(key) ?? undefined;
new AzureSpotInferenceStack(app, 'spot-inference-azure', {
  location: ctx('location'),
  resourceGroupName: ctx('resourceGroupName'),
  sshPublicKey: ctx('sshPublicKey') ?? process.env.SPOT_SSH_PUBLIC_KEY,
  clientCidr: ctx('clientCidr'),
});
new AzureQueueExampleStack(app, 'spot-queue-azure', {
  location: ctx('location'),
  sshPublicKey: ctx('sshPublicKey') ?? process.env.SPOT_SSH_PUBLIC_KEY,
});
new AzureBatchExampleStack(app, 'spot-batch-azure', { location: ctx('location') });
new AzureMultiRegionExampleStack(app, 'spot-multi-region-azure', { sshPublicKey: ctx('sshPublicKey') ?? process.env.SPOT_SSH_PUBLIC_KEY, homeRegion: ctx('homeRegion') });
new AzureSharedLbExampleStack(app, 'spot-shared-lb-azure', { location: ctx('location'), sshPublicKey: ctx('sshPublicKey') ?? process.env.SPOT_SSH_PUBLIC_KEY });
app.synth();
