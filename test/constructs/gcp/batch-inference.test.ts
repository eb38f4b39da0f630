import 'cdktf/lib/testing/adapters/jest';
import { App, TerraformStack, TerraformVariable, Testing } from 'cdktf';
import { ComputeInstanceTemplate } from '@cdktf/provider-google/lib/compute-instance-template';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member';
import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member';
import { BATCH_PREEMPTION_EXIT_CODE, GcpBatchInference, GcpBatchInferenceProps } from '../../../constructs/gcp';
import { CHECKPOINT_PREFIX, InMemoryCheckpointStore, runShard, shardFromEnvironment } from '../../../lib/runtime/worker';
import { ofType, one, synth } from './helpers';

Testing.setupJest();

const base: GcpBatchInferenceProps = {
  project: 'test-project',
  region: 'us-central1',
  name: 'embed',
  machineType: 'g2-standard-8',
  image: 'us-docker.pkg.dev/test-project/batch/embed:1',
  command: ['node', 'worker.js'],
  taskCount: 16,
  parallelism: 4,
  zones: ['us-central1-a', 'us-central1-b'],
};

function build(overrides: Partial<GcpBatchInferenceProps> = {}) {
  let batch!: GcpBatchInference;
  const out = synth((scope) => {
    batch = new GcpBatchInference(scope, 'Batch', { ...base, ...overrides });
  });
  const outputs = JSON.parse(out.json).output ?? {};
  return { ...out, batch, outputs };
}
const fails = (overrides: Partial<GcpBatchInferenceProps>) => () => new GcpBatchInference(new TerraformStack(new App(), 's'), 'Batch', { ...base, ...overrides });

describe('GcpBatchInference: resources', () => {
  const { json, resources } = build();

  test('private, versioned bucket with checkpoint and noncurrent-version expiry', () => {
    expect(json).toHaveResourceWithProperties(StorageBucket, {
      uniform_bucket_level_access: true,
      public_access_prevention: 'enforced',
      force_destroy: false,
      versioning: { enabled: true },
      location: 'US-CENTRAL1',
    });
    const bucket = one(resources, 'google_storage_bucket', 'Bucket');
    expect(bucket.lifecycle_rule).toEqual([
      { action: { type: 'Delete' }, condition: { age: 30, matches_prefix: ['checkpoints/'] } },
      { action: { type: 'Delete' }, condition: { days_since_noncurrent_time: 1, with_state: 'ARCHIVED' } },
    ]);
    expect(bucket.name).toMatch(/^embed-batch-[0-9a-f]{8}$/);
  });

  test('identity scope: objectAdmin on the bucket only, log writer and Batch agent reporter on the project, nothing else', () => {
    const bucketRoles = ofType(resources, 'google_storage_bucket_iam_member');
    expect(bucketRoles).toHaveLength(1);
    expect(bucketRoles[0].role).toBe('roles/storage.objectAdmin');
    expect(bucketRoles[0].bucket).toMatch(/^\$\{google_storage_bucket\.Batch_Bucket_\w+\.name\}$/);
    expect(ofType(resources, 'google_project_iam_member').map((m) => m.role).sort()).toEqual(['roles/batch.agentReporter', 'roles/logging.logWriter']);
    expect(json).toHaveResourceWithProperties(StorageBucketIamMember, { role: 'roles/storage.objectAdmin' });
    expect(json).not.toHaveResourceWithProperties(ProjectIamMember, { role: 'roles/storage.objectAdmin' });
    expect(json).not.toMatch(/roles\/(editor|owner|storage\.admin)/);
    expect(resources.google_compute_instance_template).toBeUndefined();
  });
});

describe('GcpBatchInference: the job definition', () => {
  const { batch, outputs } = build();
  const job = batch.jobDefinition;
  const spec = job.taskGroups[0].taskSpec;

  test('retry policy: RETRY_TASK on preemption (50001), FAIL_TASK on real failures, maxRetryCount', () => {
    expect(BATCH_PREEMPTION_EXIT_CODE).toBe(50001);
    expect(spec.maxRetryCount).toBe(5);
    expect(spec.lifecyclePolicies).toEqual([
      { action: 'RETRY_TASK', actionCondition: { exitCodes: [50001] } },
      { action: 'FAIL_TASK', actionCondition: { exitCodes: [1] } },
    ]);
    expect(spec.maxRunDuration).toBe('86400s');
  });

  test('taskGroups, container runnable, SPOT allocation, network without external IP, logs', () => {
    expect(job.taskGroups[0]).toMatchObject({ taskCount: 16, parallelism: 4 });
    expect(spec.runnables).toEqual([{ container: { imageUri: 'us-docker.pkg.dev/test-project/batch/embed:1', commands: ['node', 'worker.js'] } }]);
    expect(job.allocationPolicy.instances).toEqual([{ policy: { machineType: 'g2-standard-8', provisioningModel: 'SPOT', bootDisk: { sizeGb: 100 } }, installGpuDrivers: true }]);
    expect(job.allocationPolicy.location).toEqual({ allowedLocations: ['zones/us-central1-a', 'zones/us-central1-b'] });
    expect(job.allocationPolicy.network).toEqual({ networkInterfaces: [{ network: 'projects/test-project/global/networks/default', noExternalIpAddress: true }] });
    expect(job.logsPolicy).toEqual({ destination: 'CLOUD_LOGGING' });
    expect(job.labels).toEqual({ 'spot-batch': 'embed' });
  });

  test('the checkpoint contract shared with AWS BatchInference', () => {
    const vars = spec.environment.variables;
    expect(vars.SPOT_CHECKPOINT_PREFIX).toBe(CHECKPOINT_PREFIX);
    expect(vars.SPOT_CHECKPOINT_PREFIX).toBe('checkpoints/');
    expect(vars.SPOT_OUTPUT_PREFIX).toBe('outputs/');
    expect(vars.SPOT_SHARD_COUNT).toBe('16');
    expect(vars.SPOT_CHECKPOINT_BUCKET).toMatch(/^\$\{TfToken\[TOKEN\.\d+\]\}$/);
  });

  test('a preempted task resumes from its checkpoint: the runtime reads Cloud Batch\'s task index and the construct\'s count', async () => {
    const env = { ...spec.environment.variables, BATCH_TASK_INDEX: '3', BATCH_TASK_COUNT: '16', BATCH_JOB_UID: 'embed-1' };
    const shard = shardFromEnvironment(env)!;
    expect(shard).toMatchObject({ index: 3, count: 16, jobId: 'embed-1' });
    const store = new InMemoryCheckpointStore();
    const items = Array.from({ length: 10 }, (_, i) => i);
    const seen: number[] = [];
    // First attempt: preempted after 4 items (the VM goes away: the process dies mid-shard).
    await expect(runShard(items, { store, shardId: `${shard.jobId}/${shard.index}`, checkpointEvery: 1, process: async (x: number) => { if (x === 4) throw new Error('preempted'); seen.push(x); } })).rejects.toThrow('preempted');
    // Retry (RETRY_TASK on 50001): resumes at item 4, never repeats 0-3.
    await runShard(items, { store, shardId: `${shard.jobId}/${shard.index}`, checkpointEvery: 1, process: async (x: number) => { seen.push(x); } });
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...store.objects.keys()]).toEqual([`${CHECKPOINT_PREFIX}embed-1/3.json`]);
  });

  test('outputs: the exact JSON with Terraform references, and the gcloud command', () => {
    const jsonOut = Object.entries(outputs).find(([k]) => k.includes('JobDefinition'))![1] as any;
    const parsed = JSON.parse(jsonOut.value);
    expect(parsed.allocationPolicy.instances[0].policy.provisioningModel).toBe('SPOT');
    expect(parsed.taskGroups[0].taskSpec.environment.variables.SPOT_CHECKPOINT_BUCKET).toMatch(/^\$\{google_storage_bucket\.Batch_Bucket_\w+\.name\}$/);
    expect(parsed.allocationPolicy.serviceAccount.email).toMatch(/^\$\{google_service_account\.Batch_ServiceAccount_\w+\.email\}$/);
    const cmd = Object.entries(outputs).find(([k]) => k.includes('SubmitCommand'))![1] as any;
    const outputName = Object.keys(outputs).find((k) => k.includes('JobDefinition'))!;
    expect(cmd.value).toBe(`terraform output -raw ${outputName} | gcloud batch jobs submit embed-$(date +%Y%m%d-%H%M%S) --project=test-project --location=us-central1 --config=-`);
    expect(batch.submitJobCommand('run-1', 'j.json')).toBe('gcloud batch jobs submit run-1 --project=test-project --location=us-central1 --config=j.json');
  });
});

describe('GcpBatchInference: instance template mode and GPUs', () => {
  test('useInstanceTemplate: a SPOT template the job references; the network comes from the template', () => {
    const { json, batch } = build({ useInstanceTemplate: true, machineType: 'n1-standard-8', gpu: { type: 'nvidia-tesla-t4', count: 1 }, zones: undefined });
    expect(json).toHaveResourceWithProperties(ComputeInstanceTemplate, {
      name_prefix: 'embed-batch-',
      machine_type: 'n1-standard-8',
      scheduling: { provisioning_model: 'SPOT', preemptible: true, automatic_restart: false, on_host_maintenance: 'TERMINATE', instance_termination_action: 'DELETE' },
      guest_accelerator: [{ type: 'nvidia-tesla-t4', count: 1 }],
      shielded_instance_config: { enable_secure_boot: true, enable_vtpm: true, enable_integrity_monitoring: true },
    });
    const tmpl = JSON.parse(json).resource.google_compute_instance_template;
    expect(Object.values(tmpl as Record<string, any>)[0].network_interface[0].access_config).toBeUndefined();
    const a = batch.jobDefinition.allocationPolicy;
    expect(a.instances[0].policy).toBeUndefined();
    expect(a.instances[0].installGpuDrivers).toBe(true);
    expect(a.network).toBeUndefined();
    expect(a.location).toEqual({ allowedLocations: ['regions/us-central1'] });
  });

  test('N1 with an attached GPU in policy mode renders accelerators; a CPU type installs no drivers', () => {
    expect(build({ machineType: 'n1-standard-8', gpu: { type: 'nvidia-tesla-t4', count: 2 } }).batch.jobDefinition.allocationPolicy.instances[0].policy.accelerators).toEqual([{ type: 'nvidia-tesla-t4', count: 2 }]);
    expect(build({ machineType: 'n2-standard-8' }).batch.jobDefinition.allocationPolicy.instances[0].installGpuDrivers).toBe(false);
  });

  test('a TerraformVariable task count passes through untouched', () => {
    let batch!: GcpBatchInference;
    synth((scope) => {
      const n = new TerraformVariable(scope, 'tasks', { type: 'number' });
      batch = new GcpBatchInference(scope, 'Batch', { ...base, taskCount: n.numberValue });
    });
    expect(Testing.synthScope((s) => { new GcpBatchInference(s, 'B', { ...base, taskCount: new TerraformVariable(s, 't', { type: 'number' }).numberValue }); })).toMatch(/"taskCount\\":\$\{var\.t\}/);
    expect(batch.jobDefinition.taskGroups[0].taskCount).toBeDefined();
  });
});

describe('GcpBatchInference: refusals name the prop, the value and the fix', () => {
  test.each<[Partial<GcpBatchInferenceProps>, RegExp]>([
    [{ maxRetryCount: 0 }, /maxRetryCount \(0\) must be 1 to 10: Cloud Batch allows 0 to 10 retries per task, and with 0 a preempted task \(exit code 50001\) fails instead of resuming from its checkpoint; use e.g. 5 \[BATCH_RETRY_POLICY\]/],
    [{ maxRetryCount: 11 }, /maxRetryCount \(11\) must be 1 to 10/],
    [{ failExitCodes: [1, 50001] }, /exit code\(s\) 50001 are both retried and failed; 50001 is Cloud Batch's VM preemption code and is always retried: remove it from failExitCodes/],
    [{ retryExitCodes: [75], failExitCodes: [75] }, /exit code\(s\) 75 are both retried and failed; list each code in one of retryExitCodes and failExitCodes/],
    [{ failExitCodes: [] }, /failExitCodes is empty: give the exit code\(s\) your worker uses for a real failure/],
    [{ retryExitCodes: [0] }, /exit code 0 is not a failure exit code/],
    [{ taskCount: 0 }, /taskCount \(0\) must be a whole number of tasks, 1 or more/],
    [{ parallelism: 1.5 }, /parallelism \(1.5\) must be a whole number, 1 or more/],
    [{ checkpointExpirationDays: 0 }, /checkpointExpirationDays \(0\) must be a whole number of days, 1 or more/],
    [{ maxRunDurationSeconds: 0 }, /maxRunDurationSeconds \(0\) must be a whole number of seconds, 1 or more/],
    [{ machineType: 'g2-standrd-8' }, /machineType: "g2-standrd-8" is not a Google Cloud machine type \(.*did you mean g2-standard-8\?\) \[UNKNOWN_INSTANCE_TYPE\]/],
    [{ gpu: { type: 'nvidia-tesla-t4', count: 1 } }, /gpu is set but g2-standard-8 has its GPUs built in: guestAccelerator GPUs attach only to N1 machine types; leave gpu out/],
    [{ machineType: 'n1-standard-8', gpu: { type: 'nvidia-l4', count: 1 } }, /gpu.type "nvidia-l4" cannot be attached to N1 machine types/],
    [{ zones: ['us-central1-a', 'europe-west4-a'] }, /zones "europe-west4-a" are not in region us-central1/],
    [{ name: 'Embed_Jobs' }, /name \("Embed_Jobs"\) must be 3-20 characters/],
  ])('%o', (overrides, message) => {
    expect(fails(overrides)).toThrow(message);
  });
});
