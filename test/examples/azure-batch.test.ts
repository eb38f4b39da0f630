// The Azure batch example (examples/azure/batch-stack.ts), as `npm run synth` renders it.
import 'cdktf/lib/testing/adapters/jest';
import { BatchAccount } from '@cdktf/provider-azurerm/lib/batch-account';
import { BatchJob } from '@cdktf/provider-azurerm/lib/batch-job';
import { KeyVault } from '@cdktf/provider-azurerm/lib/key-vault';
import { Testing } from 'cdktf';
import { AzureBatchExampleStack } from '../../examples/azure/batch-stack';

Testing.setupJest();

test('a user-subscription Batch account with its Key Vault, a Spot-first T4 pool, the job and the submit command', () => {
  const stack = new AzureBatchExampleStack(Testing.app(), 'spot-batch-azure');
  const out = Testing.synth(stack);
  const json = JSON.parse(out);
  expect(out).toHaveResourceWithProperties(KeyVault, { rbac_authorization_enabled: true, purge_protection_enabled: true });
  expect(out).toHaveResourceWithProperties(BatchAccount, { pool_allocation_mode: 'UserSubscription', key_vault_reference: { id: expect.stringMatching(/azurerm_key_vault\./), url: expect.stringMatching(/vault_uri/) } });
  expect(out).toHaveResourceWithProperties(BatchJob, { task_retry_maximum: 3, common_environment_properties: expect.objectContaining({ SPOT_SHARD_COUNT: '32' }) });
  const pool: any = Object.values(json.resource.azurerm_batch_pool)[0];
  expect(pool.vm_size).toBe('Standard_NC4as_T4_v3');
  expect(pool.auto_scale.formula).toContain('$maxSpot = 16;\n$maxDedicated = 2;');
  expect(Object.values(json.resource.azurerm_role_assignment)).toHaveLength(1);
  const outputs = Object.keys(json.output);
  expect(outputs).toContain('prerequisites');
  expect(json.output.prerequisites.value).toContain('az ad sp show --id ddbf3205-c6bd-46ae-8127-60eb93363864');
  expect(outputs.some((k) => /SubmitCommand/.test(k))).toBe(true);
});
