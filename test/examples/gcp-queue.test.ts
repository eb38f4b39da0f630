// The Google Cloud queue-worker example (examples/gcp/queue-stack.ts), as `npm run synth` renders it.
import 'cdktf/lib/testing/adapters/jest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ComputeRegionAutoscaler } from '@cdktf/provider-google/lib/compute-region-autoscaler';
import { PubsubSubscription } from '@cdktf/provider-google/lib/pubsub-subscription';
import { Testing } from 'cdktf';
import { GcpQueueExampleStack } from '../../examples/gcp/queue-stack';

Testing.setupJest();
const root = join(__dirname, '..', '..');
beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'runtime', 'spot-agent', 'index.js'))) {
    execFileSync(process.execPath, [join(root, 'scripts', 'build-handlers.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
  }
});

test('Pub/Sub with dead letters, spot workers autoscaled on undelivered messages (5 per VM), checkpoint bucket', () => {
  const stack = new GcpQueueExampleStack(Testing.app(), 'spot-queue-gcp', { project: 'p1', region: 'europe-west4' });
  const out = Testing.synth(stack);
  expect(out).toHaveResourceWithProperties(PubsubSubscription, { name: 'embed-workers', ack_deadline_seconds: 180, dead_letter_policy: expect.objectContaining({ max_delivery_attempts: 5 }) });
  expect(out).toHaveResourceWithProperties(ComputeRegionAutoscaler, {
    autoscaling_policy: expect.objectContaining({
      min_replicas: 0,
      max_replicas: 6,
      metric: [expect.objectContaining({ name: 'pubsub.googleapis.com/subscription/num_undelivered_messages', single_instance_assignment: 5 })],
    }),
  });
  const json = JSON.parse(out);
  const template = Object.values(json.resource.google_compute_region_instance_template as Record<string, any>).find((x) => x.scheduling.provisioning_model === 'SPOT');
  expect(template.metadata['startup-script']).toContain('systemctl enable --now queue-worker.service');
  expect(Object.keys(json.output).sort()).toEqual(['checkpoint_bucket', 'subscription', 'topic']);
});
