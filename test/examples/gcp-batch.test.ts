// The Google Cloud batch example (examples/gcp/batch-stack.ts), as `npm run synth` renders it.
import 'cdktf/lib/testing/adapters/jest';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member';
import { Testing } from 'cdktf';
import { GcpBatchExampleStack } from '../../examples/gcp/batch-stack';

Testing.setupJest();

test('bucket, scoped identity, and the job definition output with SPOT and the preemption retry', () => {
  const stack = new GcpBatchExampleStack(Testing.app(), 'spot-batch-gcp', { project: 'p1', region: 'europe-west4' });
  const out = Testing.synth(stack);
  expect(out).toHaveResourceWithProperties(StorageBucketIamMember, { role: 'roles/storage.objectAdmin' });
  const json = JSON.parse(out);
  const outputs = json.output as Record<string, { value: string }>;
  const job = JSON.parse(Object.entries(outputs).find(([k]) => k.includes('JobDefinition'))![1].value);
  expect(job.allocationPolicy.instances[0].policy).toMatchObject({ machineType: 'g2-standard-8', provisioningModel: 'SPOT' });
  expect(job.allocationPolicy.location.allowedLocations).toEqual(['zones/europe-west4-a', 'zones/europe-west4-b', 'zones/europe-west4-c']);
  expect(job.taskGroups[0].taskSpec.lifecyclePolicies[0]).toEqual({ action: 'RETRY_TASK', actionCondition: { exitCodes: [50001] } });
  expect(job.taskGroups[0]).toMatchObject({ taskCount: 64, parallelism: 8 });
  const cmd = Object.entries(outputs).find(([k]) => k.includes('SubmitCommand'))![1].value;
  expect(cmd).toMatch(/^terraform output -raw embed_JobDefinition_\w+ \| gcloud batch jobs submit embed-\$\(date \+%Y%m%d-%H%M%S\) --project=p1 --location=europe-west4 --config=-$/);
});
