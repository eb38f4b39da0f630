// The Google Cloud example: what `npm run synth` and `npx cdktf synth` (from examples/gcp) produce.
import 'cdktf/lib/testing/adapters/jest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Testing } from 'cdktf';
import { ComputeRegionInstanceGroupManager } from '@cdktf/provider-google/lib/compute-region-instance-group-manager';
import { ComputeRegionInstanceTemplate } from '@cdktf/provider-google/lib/compute-region-instance-template';
import { GcpSpotInferenceStack } from '../../examples/gcp/stack';

Testing.setupJest();
const root = join(__dirname, '..', '..');
const exampleDir = join(root, 'examples', 'gcp');

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'runtime', 'spot-agent', 'index.js')) || !existsSync(join(root, 'dist', 'handlers', 'gcp', 'preemption', 'index.js'))) {
    execFileSync(process.execPath, [join(root, 'scripts', 'build-handlers.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
  }
});

describe('examples/gcp', () => {
  test('cdktf.json runs the app offline with prebuilt providers', () => {
    const cfg = JSON.parse(readFileSync(join(exampleDir, 'cdktf.json'), 'utf8'));
    expect(cfg).toMatchObject({ language: 'typescript', app: 'npx tsx app.ts', sendCrashReports: 'false', terraformProviders: [] });
    expect(cfg.context).toEqual({ project: 'my-gcp-project', region: 'us-central1' });
  });

  test('the stack: a spot fleet of two L4 machine types and a 1-VM on-demand base', () => {
    const stack = new GcpSpotInferenceStack(Testing.app(), 'spot-inference-gcp', { project: 'p1', region: 'europe-west4' });
    const json = Testing.synth(stack);
    expect(json).toHaveResourceWithProperties(ComputeRegionInstanceGroupManager, {
      name: 'llm-spot',
      region: 'europe-west4',
      distribution_policy_zones: ['europe-west4-a', 'europe-west4-b', 'europe-west4-c'],
      distribution_policy_target_shape: 'BALANCED',
      instance_flexibility_policy: {
        instance_selections: [
          { name: 'rank-0', rank: 0, machine_types: ['g2-standard-8'] },
          { name: 'rank-1', rank: 1, machine_types: ['g2-standard-12'] },
        ],
      },
    });
    expect(json).toHaveResourceWithProperties(ComputeRegionInstanceGroupManager, { name: 'llm-od', target_size: 1 });
    expect(json).toHaveResourceWithProperties(ComputeRegionInstanceTemplate, {
      name_prefix: 'llm-spot-',
      scheduling: expect.objectContaining({ provisioning_model: 'SPOT' }),
    });
    expect(JSON.parse(json).provider.google).toEqual([{ project: 'p1', region: 'europe-west4' }]);
    expect(stack.service.fleet.spotMaxSize).toBe(7);
  });

  test('the app writes cdk.tf.json and its assets when run from its folder, as `cdktf synth` runs it', () => {
    const out = mkdtempSync(join(tmpdir(), 'gcp-example-'));
    try {
      execFileSync(join(root, 'node_modules', '.bin', 'tsx'), ['app.ts'], {
        cwd: exampleDir,
        env: { ...process.env, CDKTF_OUTDIR: out, CHECKPOINT_DISABLE: '1', DISABLE_VERSION_CHECK: '1' },
        stdio: 'pipe',
      });
      const tf = JSON.parse(readFileSync(join(out, 'stacks', 'spot-inference-gcp', 'cdk.tf.json'), 'utf8'));
      expect(Object.keys(tf.resource)).toEqual(
        expect.arrayContaining([
          'google_compute_region_instance_template',
          'google_compute_region_instance_group_manager',
          'google_compute_region_autoscaler',
          'google_compute_backend_service',
          'google_logging_project_sink',
          'google_cloudfunctions2_function',
        ]),
      );
      const objects = Object.values(tf.resource.google_storage_bucket_object) as Array<{ source: string }>;
      for (const o of objects) expect(existsSync(join(out, 'stacks', 'spot-inference-gcp', o.source))).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60000);

  test('context overrides project and region', () => {
    const app = new App({ context: { project: 'ctx-project' } });
    const stack = new GcpSpotInferenceStack(app, 's', { project: app.node.tryGetContext('project') });
    expect(stack.service.fleet.project).toBe('ctx-project');
  });
});
