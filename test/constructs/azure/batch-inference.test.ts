import { BatchAccount } from '@cdktf/provider-azurerm/lib/batch-account';
import { BatchJob } from '@cdktf/provider-azurerm/lib/batch-job';
import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment';
import { StorageAccount } from '@cdktf/provider-azurerm/lib/storage-account';
import { StorageManagementPolicy } from '@cdktf/provider-azurerm/lib/storage-management-policy';
import { TerraformStack, TerraformVariable, Testing } from 'cdktf';
import {
  AZURE_BATCH_CHECKPOINT_PREFIX,
  AZURE_BATCH_OUTPUT_PREFIX,
  AzureBatchInference,
  AzureBatchInferenceProps,
  RUN_ID_PLACEHOLDER,
  SHARD_INDEX_PLACEHOLDER,
} from '../../../constructs/azure';
import { BATCH_CHECKPOINT_PREFIX, BATCH_OUTPUT_PREFIX } from '../../../constructs/aws/batch-inference';
import { CHECKPOINT_PREFIX, InMemoryCheckpointStore, checkpointKey, runShard, shardFromEnvironment } from '../../../lib/runtime/worker';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';

Testing.setupJest();

const PROPS: AzureBatchInferenceProps = {
  resourceGroupName: 'rg-batch',
  location: 'eastus2',
  vmSize: 'Standard_NC4as_T4_v3',
  keyVault: { id: '/subscriptions/0000/resourceGroups/rg-batch/providers/Microsoft.KeyVault/vaults/batch-kv', url: 'https://batch-kv.vault.azure.net/' },
  taskCommandLine: "node /opt/app/shard.js --model 'llama'",
  shardCount: 8,
};

function synth(props: Partial<AzureBatchInferenceProps> = {}): { out: string; json: any; batch: AzureBatchInference } {
  let batch!: AzureBatchInference;
  const out = Testing.synthScope((scope) => {
    batch = new AzureBatchInference(scope, 'Embeddings', { ...PROPS, ...props });
  });
  return { out, json: JSON.parse(out), batch };
}
const one = (json: any, type: string): any => {
  const list = Object.values(json.resource[type] ?? {});
  expect(list).toHaveLength(1);
  return list[0];
};
function errorOf(props: Partial<AzureBatchInferenceProps>): FleetSpecError {
  try {
    synth(props);
  } catch (e) {
    return e as FleetSpecError;
  }
  throw new Error('expected a FleetSpecError');
}

describe('AzureBatchInference resources', () => {
  const { out, json, batch } = synth();

  test('a user-subscription Batch account (the only mode with Spot nodes), Entra ID only, with the Key Vault reference', () => {
    expect(out).toHaveResourceWithProperties(BatchAccount, {
      pool_allocation_mode: 'UserSubscription',
      key_vault_reference: { id: PROPS.keyVault.id, url: PROPS.keyVault.url },
      allowed_authentication_modes: ['AAD'],
    });
  });

  test('a private pool of one size: no public IPs, simplified node communication, the nodes\' identity, the GPU driver', () => {
    const pool = one(json, 'azurerm_batch_pool');
    expect(pool).toMatchObject({
      vm_size: 'Standard_NC4as_T4_v3',
      node_agent_sku_id: 'batch.node.ubuntu 24.04',
      storage_image_reference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
      max_tasks_per_node: 1,
      target_node_communication_mode: 'Simplified',
      network_configuration: { public_address_provisioning_type: 'NoPublicIPAddresses' },
      identity: { type: 'UserAssigned' },
      extensions: [{ type: 'NvidiaGpuDriverLinux', publisher: 'Microsoft.HpcCompute' }],
    });
    expect(pool.network_configuration.subnet_id).toMatch(/azurerm_subnet\./);
    expect(pool.fixed_scale).toBeUndefined();
    expect(Object.keys(json.resource.azurerm_nat_gateway)).toHaveLength(1);
  });

  test('the start task installs the worker runtime, elevated, pool-wide, and must succeed before tasks run', () => {
    const start = one(json, 'azurerm_batch_pool').start_task;
    expect(start).toMatchObject({ wait_for_success: true, task_retry_maximum: 3, user_identity: { auto_user: { scope: 'Pool', elevation_level: 'Admin' } } });
    expect(start.command_line).toMatch(/^\/bin\/bash -c '.*apt-get install -y -q nodejs npm .*npm install --omit=peer --no-audit --no-fund --prefix \/opt\/spot-worker spot-inference-constructs @azure\/storage-blob @azure\/identity'$/);
  });

  test('shell ${VAR} in the commands is escaped for Terraform (every synthesized string is a Terraform template)', () => {
    const { json, batch } = synth({ taskCommandLine: 'node /opt/app/shard.js --out ${OUT_DIR}', startTaskCommands: ['echo ${HOME}'] });
    expect(one(json, 'azurerm_batch_pool').start_task.command_line).toBe("/bin/bash -c 'echo $${HOME}'");
    expect(batch.taskDefinition(0).commandLine).toBe("/bin/bash -c 'node /opt/app/shard.js --out $${OUT_DIR}'");
  });

  test('nodes spread over the zones by default (Spot diversity), region-wide on request', () => {
    expect(one(synth().json, 'azurerm_batch_pool').node_placement).toEqual([{ policy: 'Zonal' }]);
    expect(one(synth({ zonal: false }).json, 'azurerm_batch_pool').node_placement).toEqual([{ policy: 'Regional' }]);
  });

  test('a CPU size gets no GPU driver', () => {
    expect(one(synth({ vmSize: 'Standard_D4s_v5' }).json, 'azurerm_batch_pool').extensions).toBeUndefined();
  });

  test('identity scope: one role assignment, Storage Blob Data Contributor on the checkpoint container only', () => {
    const assignments = Object.values(json.resource.azurerm_role_assignment) as any[];
    expect(assignments).toHaveLength(1);
    expect(assignments[0]).toMatchObject({ role_definition_name: 'Storage Blob Data Contributor', principal_type: 'ServicePrincipal' });
    expect(assignments[0].scope).toMatch(/^\$\{azurerm_storage_container\.[^.]+\.id\}$/);
    expect(assignments[0].principal_id).toMatch(/azurerm_user_assigned_identity\.[^.]+\.principal_id/);
    expect(out).toHaveResourceWithProperties(RoleAssignment, { role_definition_name: 'Storage Blob Data Contributor' });
  });

  test('checkpoints: private, HTTPS, TLS 1.2, no shared keys, expired after 30 days under batch/checkpoints/', () => {
    expect(out).toHaveResourceWithProperties(StorageAccount, { https_traffic_only_enabled: true, min_tls_version: 'TLS1_2', shared_access_key_enabled: false, allow_nested_items_to_be_public: false });
    expect(one(json, 'azurerm_storage_container')).toMatchObject({ name: 'batch', container_access_type: 'private' });
    expect(out).toHaveResourceWithProperties(StorageManagementPolicy, {
      rule: [expect.objectContaining({ filters: { blob_types: ['blockBlob'], prefix_match: ['batch/checkpoints/'] }, actions: { base_blob: { delete_after_days_since_modification_greater_than: 30 } } })],
    });
  });

  test('the job retries failed tasks 3 times and gives every task the checkpoint contract', () => {
    expect(out).toHaveResourceWithProperties(BatchJob, { task_retry_maximum: 3 });
    const env = one(json, 'azurerm_batch_job').common_environment_properties;
    expect(env).toMatchObject({ SPOT_CHECKPOINT_PREFIX: 'checkpoints/', SPOT_OUTPUT_PREFIX: 'outputs/', SPOT_SHARD_COUNT: '8', SPOT_CHECKPOINT_CONTAINER: expect.stringMatching(/azurerm_storage_container/) });
    expect(env.AZURE_CLIENT_ID).toMatch(/azurerm_user_assigned_identity\.[^.]+\.client_id/);
    expect(env.SPOT_CHECKPOINT_ACCOUNT_URL).toMatch(/primary_blob_endpoint/);
  });

  test('the task definition and the submit command (tasks are submitted, not declared)', () => {
    const task = batch.taskDefinition(3, '20261203t140000');
    expect(task).toMatchObject({
      id: '20261203t140000-shard-3',
      commandLine: "/bin/bash -c 'node /opt/app/shard.js --model '\\''llama'\\'''",
      constraints: { maxTaskRetryCount: 3 },
      userIdentity: { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } },
    });
    expect(task.environmentSettings).toEqual([{ name: 'SHARD_INDEX', value: '3' }, { name: 'SHARD_JOB_ID', value: expect.stringMatching(/-20261203t140000$/) }]);
    expect(batch.taskDefinitionTemplate).toContain(SHARD_INDEX_PLACEHOLDER);
    // One run per submission: task ids unique in the (reused) job, checkpoints of one run never answer for another.
    expect(JSON.parse(batch.taskDefinitionTemplate).id).toBe(`${RUN_ID_PLACEHOLDER}-shard-${SHARD_INDEX_PLACEHOLDER}`);
    const outputs = Object.values(json.output) as any[];
    const submit = outputs.find((o) => o.description.startsWith('Submits one task per shard')).value as string;
    expect(submit).toMatch(/^az batch account login --resource-group \$\{azurerm_batch_account\.[^.]+\.resource_group_name\} --name \$\{azurerm_batch_account\.[^.]+\.name\} && RUN="\$\$\{RUN_ID:-\$\(date -u \+%Y%m%dt%H%M%S\)\}" && echo "run \$RUN" && for i in \$\(seq 0 \$\(\(8 - 1\)\)\); do printf '%s' '/);
    expect(submit).toMatch(/sed -e "s\/__SHARD_INDEX__\/\$i\/g" -e "s\/__RUN_ID__\/\$RUN\/g" > \/tmp\/shard-task\.json && az batch task create --job-id \$\{azurerm_batch_job\.[^.]+\.name\} --json-file \/tmp\/shard-task\.json \|\| exit 1; done$/);
  });
});

describe('autoscale formula: Spot first, dedicated replaces preempted Spot nodes', () => {
  test('the pool carries the formula, evaluated every 5 minutes', () => {
    const { json, batch } = synth({ maxSpotNodes: 20, maxDedicatedNodes: 3, tasksPerNode: 2 });
    const auto = one(json, 'azurerm_batch_pool').auto_scale;
    expect(auto.evaluation_interval).toBe('PT5M');
    expect(auto.formula).toBe(batch.autoscaleFormula);
    expect(auto.formula).toContain('$maxSpot = 20;\n$maxDedicated = 3;\n$slots = 2;');
  });

  test('the statements, in Azure Batch formula syntax', () => {
    const f = AzureBatchInference.spotFirstAutoscaleFormula({ maxSpotNodes: 10, maxDedicatedNodes: 2, tasksPerNode: 1 }).split('\n');
    expect(f).toEqual([
      '// spot-inference-constructs: Spot nodes first, dedicated nodes replace preempted ones',
      '$maxSpot = 10;',
      '$maxDedicated = 2;',
      '$slots = 1;',
      '$queued = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 5) < 70 ? max(0, $PendingTasks.GetSample(1)) : max($PendingTasks.GetSample(1), avg($PendingTasks.GetSample(TimeInterval_Minute * 5)));',
      '$wanted = ceil($queued / $slots);',
      '$preempted = $PreemptedNodeCount.GetSamplePercent(TimeInterval_Minute * 5) < 70 ? 0 : max($PreemptedNodeCount.GetSample(TimeInterval_Minute * 5));',
      '$TargetDedicatedNodes = min($maxDedicated, min($wanted, $preempted));',
      '$TargetLowPriorityNodes = min($maxSpot, max(0, $wanted - $TargetDedicatedNodes));',
      '$NodeDeallocationOption = taskcompletion;',
    ]);
  });

  // The formula's arithmetic, evaluated the way Batch does on known samples: what the statements decide.
  const evaluate = (o: { maxSpot: number; maxDedicated: number; slots: number; queued: number; preempted: number }): { spot: number; dedicated: number } => {
    const wanted = Math.ceil(o.queued / o.slots);
    const dedicated = Math.min(o.maxDedicated, Math.min(wanted, o.preempted));
    return { dedicated, spot: Math.min(o.maxSpot, Math.max(0, wanted - dedicated)) };
  };
  test.each([
    ['no work: no nodes', { queued: 0, preempted: 0 }, { spot: 0, dedicated: 0 }],
    ['6 tasks, nothing preempted: 6 Spot nodes', { queued: 6, preempted: 0 }, { spot: 6, dedicated: 0 }],
    ['6 tasks, 4 preempted: 2 dedicated (the cap) replace them, 4 Spot', { queued: 6, preempted: 4 }, { spot: 4, dedicated: 2 }],
    ['40 tasks: capped at 10 Spot nodes', { queued: 40, preempted: 0 }, { spot: 10, dedicated: 0 }],
  ])('%s', (_name, input, expected) => {
    expect(evaluate({ maxSpot: 10, maxDedicated: 2, slots: 1, ...input })).toEqual(expected);
  });

  test('deploy-time node limits go into the formula as Terraform references, untouched', () => {
    const out = Testing.synthScope((scope) => {
      const stack = scope as TerraformStack;
      const max = new TerraformVariable(stack, 'max_spot', { type: 'number' }).numberValue;
      new AzureBatchInference(scope, 'Batch', { ...PROPS, maxSpotNodes: max });
    });
    const pool: any = Object.values(JSON.parse(out).resource.azurerm_batch_pool)[0];
    expect(pool.auto_scale.formula).toContain('$maxSpot = ${var.max_spot};');
    expect(pool.auto_scale.formula).not.toMatch(/e\+\d{3}/);
  });
});

describe('the checkpoint contract shared with AWS BatchInference', () => {
  test('same prefixes as the AWS construct and the runtime', () => {
    expect(AZURE_BATCH_CHECKPOINT_PREFIX).toBe(BATCH_CHECKPOINT_PREFIX);
    expect(AZURE_BATCH_CHECKPOINT_PREFIX).toBe(CHECKPOINT_PREFIX);
    expect(AZURE_BATCH_OUTPUT_PREFIX).toBe(BATCH_OUTPUT_PREFIX);
  });

  test('a task reads its position from the environment Azure Batch gives it, and a requeued task resumes from its checkpoint', async () => {
    const { batch } = synth();
    const env: Record<string, string> = { SPOT_SHARD_COUNT: '8' };
    for (const s of batch.taskDefinition(5, 'r1').environmentSettings as { name: string; value: string }[]) env[s.name] = s.value;
    expect(env.SHARD_JOB_ID).toMatch(/-r1$/);
    env.SHARD_JOB_ID = 'embeddings-job-r1'; // what Terraform resolves the job name to
    const position = shardFromEnvironment(env);
    expect(position).toEqual({ index: 5, count: 8, jobId: 'embeddings-job-r1' });
    const shardId = `${position!.jobId}/${position!.index}`;
    expect(checkpointKey(shardId)).toBe('checkpoints/embeddings-job-r1/5.json');

    // First run: the node is preempted after 3 items (the agent aborts); Batch requeues the task on another node.
    const store = new InMemoryCheckpointStore();
    const items = Array.from({ length: 7 }, (_, i) => i);
    const seen: number[] = [];
    const preempt = new AbortController();
    const first = await runShard(items, { store, shardId, signal: preempt.signal, process: async (i) => { seen.push(i); if (seen.length === 3) preempt.abort(); } });
    expect(first).toMatchObject({ resumedFrom: 0, processed: 3, done: false });
    const second = await runShard(items, { store, shardId, process: async (i) => { seen.push(i); } });
    expect(second).toMatchObject({ resumedFrom: 3, processed: 4, skipped: 3, done: true });
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});

describe('validation', () => {
  test('every problem together, with the prop, the value and the fix', () => {
    const e = errorOf({ vmSize: 'Standard_NC4as_T4_v9', maxSpotNodes: 0, maxDedicatedNodes: -1, tasksPerNode: 300, maxTaskRetryCount: 101, autoscaleEvaluationMinutes: 1, checkpointRetentionDays: 0, shardCount: 0, taskCommandLine: ' ' });
    expect(e.problems.map((p) => p.prop)).toEqual(['vmSize', 'maxSpotNodes', 'maxDedicatedNodes', 'tasksPerNode', 'maxTaskRetryCount', 'autoscaleEvaluationMinutes', 'checkpointRetentionDays', 'shardCount', 'taskCommandLine']);
    expect(e.problems[0].code).toBe(FleetSpecErrorCode.UNKNOWN_INSTANCE_TYPE);
    expect(e.message).toMatch(/vmSize: "Standard_NC4as_T4_v9" is not an Azure VM size \(Azure documents the NC family .* not v9; did you mean Standard_NC4as_T4_v5 or Standard_NC4as_T4_v4\?\)/);
    expect(e.message).toMatch(/maxSpotNodes \(0\) must be a whole number, 1 or more/);
    expect(e.message).toMatch(/maxDedicatedNodes \(-1\) must be a whole number, 0 \(no fallback\) or more/);
    expect(e.message).toMatch(/tasksPerNode \(300\) must be a whole number from 1 to 256/);
    expect(e.message).toMatch(/maxTaskRetryCount \(101\) must be a whole number from 0 to 100/);
    expect(e.message).toMatch(/autoscaleEvaluationMinutes \(1\) must be a whole number of minutes from 5 to 10080/);
    expect(e.message).toMatch(/checkpointRetentionDays \(0\) must be a whole number of days, 1 or more/);
    expect(e.message).toMatch(/shardCount \(0\) must be a whole number, 1 or more/);
    expect(e.message).toMatch(/taskCommandLine is empty/);
  });

  test('unlimited retries are refused: preempted tasks are requeued without a retry', () => {
    expect(() => synth({ maxTaskRetryCount: -1 })).toThrow(/maxTaskRetryCount \(-1\) retries a failed task without limit, so a task that can never succeed runs forever; .*preempted tasks are requeued by Batch without using a retry/);
  });

  test('the Key Vault reference and account names', () => {
    expect(() => synth({ keyVault: { id: 'batch-kv', url: 'batch-kv.vault.azure.net' } })).toThrow(/keyVault.id \("batch-kv"\) must be a Key Vault resource id[\s\S]*keyVault.url \("batch-kv.vault.azure.net"\) must be the vault URI, https:\/\/<name>.vault.azure.net\//);
    expect(() => synth({ batchAccountName: 'Batch_Account' })).toThrow(/batchAccountName \("Batch_Account"\) must be 3 to 24 lower-case letters and digits \(an Azure Batch account name\)/);
    expect(() => synth({ checkpointStorageAccountName: 'ck' })).toThrow(/checkpointStorageAccountName \("ck"\) must be 3 to 24 lower-case letters and digits \(an Azure storage account name\)/);
  });
});
