// Batch inference on Azure Batch Spot nodes: a user-subscription Batch account (the only kind with Spot nodes) and
// its Key Vault, a T4 pool autoscaled Spot-first with dedicated nodes replacing preempted ones, a private checkpoint
// container the nodes' identity alone may write, and the job the shards are submitted to.
import { DataAzurermClientConfig } from '@cdktf/provider-azurerm/lib/data-azurerm-client-config';
import { KeyVault } from '@cdktf/provider-azurerm/lib/key-vault';
import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { TerraformOutput, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { AZURE_BATCH_SERVICE_APP_ID, AzureBatchInference } from 'spot-inference-constructs/azure';

/** Settings of the example. */
export interface AzureBatchExampleSettings {
  /** Azure region. @default 'eastus2' */
  readonly location?: string;
  /** Resource group the example creates. @default 'spot-batch-example' */
  readonly resourceGroupName?: string;
  /** Name of the Key Vault (globally unique, 3-24 letters, digits and dashes). @default 'spot-batch-kv' */
  readonly keyVaultName?: string;
}

export class AzureBatchExampleStack extends TerraformStack {
  public readonly batch: AzureBatchInference;

  constructor(scope: Construct, id: string, settings: AzureBatchExampleSettings = {}) {
    super(scope, id);
    new AzurermProvider(this, 'azurerm', { features: [{}] });
    const client = new DataAzurermClientConfig(this, 'Client', {});
    const rg = new ResourceGroup(this, 'ResourceGroup', {
      name: settings.resourceGroupName ?? 'spot-batch-example',
      location: settings.location ?? 'eastus2',
    });
    // The user-subscription Batch account keeps its secrets here; the Batch service gets access through RBAC
    // (see the prerequisites output).
    const vault = new KeyVault(this, 'BatchKeyVault', {
      name: settings.keyVaultName ?? 'spot-batch-kv',
      resourceGroupName: rg.name,
      location: rg.location,
      tenantId: client.tenantId,
      skuName: 'standard',
      rbacAuthorizationEnabled: true,
      purgeProtectionEnabled: true,
      softDeleteRetentionDays: 7,
    });

    this.batch = new AzureBatchInference(this, 'Embeddings', {
      resourceGroupName: rg.name,
      location: rg.location,
      namePrefix: 'embeddings',
      vmSize: 'Standard_NC4as_T4_v3',
      keyVault: { id: vault.id, url: vault.vaultUri },
      maxSpotNodes: 16,
      maxDedicatedNodes: 2,
      maxTaskRetryCount: 3,
      shardCount: 32,
      // The shard script: shardFromEnvironment() + runShard() with an AzureBlobCheckpointStore (docs/batch.md).
      taskCommandLine: 'node /opt/app/embed-shard.js',
      tags: { app: 'spot-batch-example' },
    });

    new TerraformOutput(this, 'prerequisites', {
      description: 'Run once per subscription before apply: the Batch service principal manages the pool VMs and the vault secrets',
      value: [
        `BATCH_SP=$(az ad sp show --id ${AZURE_BATCH_SERVICE_APP_ID} --query id --output tsv)`,
        `az role assignment create --assignee-object-id "$BATCH_SP" --assignee-principal-type ServicePrincipal --role Contributor --scope /subscriptions/${client.subscriptionId}`,
        `az role assignment create --assignee-object-id "$BATCH_SP" --assignee-principal-type ServicePrincipal --role "Key Vault Secrets Officer" --scope ${vault.id}`,
      ].join(' && '),
    });
  }
}
