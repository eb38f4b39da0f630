// AWS multi-region example: `npx cdk synth --app "npx tsx examples/aws/multi-region-app.ts"` (or `npm run synth`).
// Stacks: SpotMultiRegion-us-east-1, -us-east-2, -us-west-2 (one fleet each) and SpotMultiRegion-global (the
// accelerator, in us-west-2). Every stack has an explicit environment (cross-region references need one); the
// account is CDK_DEFAULT_ACCOUNT or the placeholder 111111111111, so synth needs no credentials.
// Context: -c modelBucket=... -c modelPrefix=... -c homeRegion=us-east-2
import { App } from 'aws-cdk-lib';
import { multiRegionExample } from './multi-region-stacks';

// Cross-stack references stay "strong" (what the CDK does today), said explicitly so synth has no warning and
// `cdk synth --strict` passes (npm run synth checks it).
const app = new App({ context: { '@aws-cdk/core:defaultCrossStackReferences': 'strong' } });
const context = (key: string): string | undefined => app.node.tryGetContext(key);
multiRegionExample(app, 'SpotMultiRegion', {
  modelBucketName: context('modelBucket'),
  modelPrefix: context('modelPrefix'),
  homeRegion: context('homeRegion'),
});
app.synth();
