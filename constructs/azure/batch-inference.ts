import { BatchAccount } from '@cdktf/provider-azurerm/lib/batch-account';
import { BatchJob } from '@cdktf/provider-azurerm/lib/batch-job';
import { BatchPool } from '@cdktf/provider-azurerm/lib/batch-pool';
import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment';
import { StorageAccount } from '@cdktf/provider-azurerm/lib/storage-account';
import { createCheckpointStorageAccount } from './checkpoint-storage';
import { StorageContainer } from '@cdktf/provider-azurerm/lib/storage-container';
import { StorageManagementPolicy } from '@cdktf/provider-azurerm/lib/storage-management-policy';
import { UserAssignedIdentity } from '@cdktf/provider-azurerm/lib/user-assigned-identity';
import { TerraformOutput, Token } from 'cdktf';
import { Construct } from 'constructs';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { AzureResourceOptions, AzureFleetNetwork, azureName } from './network';
import { numberText, stableNameHash, terraformLiteral } from './tokens';
import { explainUnknownVmSize, vmSizeAccelerator } from './vm-sizes';

/** Prefix of checkpoint blobs in the container (expired by the management policy). Same as the runtime's `CHECKPOINT_PREFIX` and AWS `BATCH_CHECKPOINT_PREFIX`. */
export const AZURE_BATCH_CHECKPOINT_PREFIX = 'checkpoints/';
/** Prefix of output blobs in the container. Same as AWS `BATCH_OUTPUT_PREFIX`. */
export const AZURE_BATCH_OUTPUT_PREFIX = 'outputs/';
/** Where the default start task installs the worker runtime on every node. */
export const AZURE_BATCH_WORKER_PREFIX = '/opt/spot-worker';
/** Placeholder of the shard index in {@link AzureBatchInference.taskDefinitionTemplate}. */
export const SHARD_INDEX_PLACEHOLDER = '__SHARD_INDEX__';
/**
 * Placeholder of the run id in {@link AzureBatchInference.taskDefinitionTemplate}. The job is declared once and
 * reused, so each submission is a run: its tasks are `<run>-shard-<i>` and its checkpoints
 * `checkpoints/<job>-<run>/<i>.json`. A new run starts from scratch; submitting the same run id again resumes it.
 */
export const RUN_ID_PLACEHOLDER = '__RUN_ID__';
/**
 * The Azure Batch service principal ("Microsoft Azure Batch", application id `ddbf3205-c6bd-46ae-8127-60eb93363864`):
 * a user-subscription Batch account needs it to hold a role on the subscription and secret access to the Key Vault.
 */
export const AZURE_BATCH_SERVICE_APP_ID = 'ddbf3205-c6bd-46ae-8127-60eb93363864';

/** The Key Vault a user-subscription Batch account keeps its secrets in. */
export interface AzureBatchKeyVault {
  /** Resource id of the vault (`/subscriptions/.../providers/Microsoft.KeyVault/vaults/<name>`). */
  readonly id: string;
  /** URI of the vault (`https://<name>.vault.azure.net/`). */
  readonly url: string;
}

/** A marketplace image of Batch nodes and the node agent that matches it. */
export interface AzureBatchImage {
  /** Image publisher, e.g. `Canonical`. */
  readonly publisher: string;
  /** Image offer, e.g. `ubuntu-24_04-lts`. */
  readonly offer: string;
  /** Image SKU, e.g. `server`. */
  readonly sku: string;
  /** Image version. @default 'latest' */
  readonly version?: string;
  /** Node agent of the image, e.g. `batch.node.ubuntu 24.04` (`az batch pool supported-images list`). */
  readonly nodeAgentSkuId: string;
}

/** Properties of {@link AzureBatchInference}. */
export interface AzureBatchInferenceProps extends AzureResourceOptions {
  /**
   * VM size of the pool's nodes (a Batch pool has one size), e.g. `Standard_NC4as_T4_v3`. Checked against Azure's
   * size naming rules and documented families.
   */
  readonly vmSize: string;
  /**
   * The Key Vault of the Batch account. Spot nodes exist only in Batch accounts with the user-subscription pool
   * allocation mode (Batch-managed accounts had low-priority nodes, retired on 30 September 2025), and the azurerm
   * provider refuses such an account without a Key Vault reference ("When setting pool allocation mode to
   * UserSubscription, a Key Vault reference needs to be set"). Before deploying, give the Batch service principal
   * (`AZURE_BATCH_SERVICE_APP_ID`) secret Get/List/Set/Delete on the vault and Contributor (or the documented custom
   * role) on the subscription.
   */
  readonly keyVault: AzureBatchKeyVault;
  /** Most Spot nodes the pool runs at once. @default 10 */
  readonly maxSpotNodes?: number;
  /**
   * Most dedicated (on-demand) nodes that replace preempted Spot nodes. 0 turns the fallback off: tasks then wait
   * for Spot capacity to come back.
   * @default 2
   */
  readonly maxDedicatedNodes?: number;
  /** Tasks (shards) one node runs at once (`task_slots_per_node`, 1-256). @default 1 */
  readonly tasksPerNode?: number;
  /**
   * Times Batch retries a task that failed (non-zero exit code), `maxTaskRetryCount` of the job, 0-100. A task on
   * a preempted Spot node is not failed: Batch requeues it and runs it again on another node, where it resumes
   * from its checkpoint. Unlimited (-1) is refused: a task that can never succeed would run forever.
   * @default 3
   */
  readonly maxTaskRetryCount?: number;
  /** Minutes between evaluations of the autoscale formula (Batch accepts 5 minutes to 168 hours). @default 5 */
  readonly autoscaleEvaluationMinutes?: number;
  /**
   * Shell commands of the start task (run as an elevated pool-wide user on every node before it takes tasks; the
   * node is unusable until they succeed).
   * @default - install Node.js and npm from the image's packages, then the worker runtime
   *   (`spot-inference-constructs` with `@azure/storage-blob` and `@azure/identity`) into `/opt/spot-worker`
   */
  readonly startTaskCommands?: string[];
  /**
   * The task's command line, run once per shard with `SHARD_INDEX`, `SHARD_JOB_ID` and the checkpoint environment;
   * it should call the runtime's `runShard()` with an `AzureBlobCheckpointStore` (see docs/batch.md).
   */
  readonly taskCommandLine: string;
  /** Number of shards the job is split into: `SPOT_SHARD_COUNT` of every task and the size of the submit loop. */
  readonly shardCount: number;
  /** Extra environment variables of every task. @default - none */
  readonly environment?: { [key: string]: string };
  /**
   * Subnet of the nodes (outbound access needed: a NAT gateway). Nodes get no public IP.
   * @default - a new virtual network with a private subnet and a NAT gateway
   */
  readonly subnetId?: string;
  /** Image of the nodes. @default - Ubuntu 24.04 LTS (`Canonical` / `ubuntu-24_04-lts` / `server`) with node agent `batch.node.ubuntu 24.04` */
  readonly image?: AzureBatchImage;
  /**
   * Spread the nodes over the region's availability zones (`node_placement { policy = "Zonal" }`, best-effort
   * balancing), so one zone running out of Spot capacity does not stall the pool. `false`: one region-wide pool.
   * @default true
   */
  readonly zonal?: boolean;
  /** Days after which checkpoint blobs are deleted (at least 1). @default 30 */
  readonly checkpointRetentionDays?: number;
  /** Name of the Batch account (3-24 lower-case letters and digits, unique in the region). @default - `batch` and a hash */
  readonly batchAccountName?: string;
  /** Name of the checkpoint storage account (3-24 lower-case letters and digits, globally unique). @default - `ckpt` and a hash */
  readonly checkpointStorageAccountName?: string;
  /** Add Terraform outputs (the task template and the submit command). @default true */
  readonly createOutputs?: boolean;
}

/**
 * Batch inference on Azure Batch with Spot nodes first and dedicated nodes as fallback, with the same
 * checkpoint-and-resume contract as the AWS `BatchInference`:
 *
 * - a Batch account in user-subscription mode (the only mode with Spot nodes), Entra ID authentication only;
 * - a pool of one VM size whose autoscale formula asks for Spot nodes (`$TargetLowPriorityNodes`) for the queued and
 *   running tasks, and replaces preempted Spot nodes with dedicated ones (`$TargetDedicatedNodes`, after Azure's
 *   "preempted nodes" example formula), nodes released only after their tasks complete;
 * - a start task that installs the worker runtime; nodes in a private subnet without public IPs;
 * - a user-assigned identity on the pool whose only role is Storage Blob Data Contributor on the checkpoint
 *   container (scope: the container, not the account);
 * - a private container (`checkpoints/`, `outputs/`; HTTPS, TLS 1.2, no shared keys, checkpoints expired);
 * - a job with `maxTaskRetryCount`, and the task definition (Batch REST `Add Task` body) plus the `az batch` command
 *   that submits one task per shard, since tasks are submitted, not declared.
 *
 * Each task reads `SHARD_INDEX` / `SPOT_SHARD_COUNT` / `SHARD_JOB_ID` (the runtime's `shardFromEnvironment()`), resumes
 * from `checkpoints/<job>-<run>/<index>.json` with `runShard()` and writes outputs under `outputs/`. When Spot takes a node
 * back, Batch requeues its running task and runs it again on another node; the task skips what its checkpoint
 * says is done.
 */
export class AzureBatchInference extends Construct {
  /** The Spot-first autoscale formula the pool gets (see {@link spotFirstAutoscaleFormula}), for a pool of your own. */
  public static spotFirstAutoscaleFormula(options: SpotFirstAutoscaleOptions): string {
    return spotFirstAutoscaleFormula(options);
  }

  /** The Batch account. */
  public readonly account: BatchAccount;
  /** The pool. */
  public readonly pool: BatchPool;
  /** The job tasks are submitted to. */
  public readonly job: BatchJob;
  /** Identity of the pool's nodes (and so of the tasks). */
  public readonly identity: UserAssignedIdentity;
  /** Storage account of the checkpoints and outputs. */
  public readonly storageAccount: StorageAccount;
  /** Private container of the checkpoints and outputs. */
  public readonly container: StorageContainer;
  /** The nodes' only role assignment: Storage Blob Data Contributor on the container. */
  public readonly containerRoleAssignment: RoleAssignment;
  /** The network, when the construct created one. */
  public readonly network?: AzureFleetNetwork;
  /** The pool's autoscale formula. */
  public readonly autoscaleFormula: string;
  /** Retries of a failed task. */
  public readonly maxTaskRetryCount: number;
  /** Environment every task gets (checkpoint location, shard count, identity). */
  public readonly taskEnvironment: { [key: string]: string };
  /** The Batch REST `Add Task` body of one shard, with {@link SHARD_INDEX_PLACEHOLDER} and {@link RUN_ID_PLACEHOLDER}. */
  public readonly taskDefinitionTemplate: string;

  private readonly props: AzureBatchInferenceProps;

  constructor(scope: Construct, id: string, props: AzureBatchInferenceProps) {
    super(scope, id);
    this.props = props;
    const r = this.validate(props);
    this.maxTaskRetryCount = r.retries;
    const prefix = props.namePrefix ?? azureName(id);
    const common = { resourceGroupName: props.resourceGroupName, location: props.location, tags: props.tags };
    const hash = stableNameHash(this, [props.resourceGroupName, props.location]).slice(0, 10);

    this.storageAccount = this.createStorage(props, common, hash);
    this.container = new StorageContainer(this, 'Container', { name: 'batch', storageAccountId: this.storageAccount.id, containerAccessType: 'private' });
    new StorageManagementPolicy(this, 'CheckpointExpiry', {
      storageAccountId: this.storageAccount.id,
      rule: [{
        name: 'expire-checkpoints',
        enabled: true,
        filters: { blobTypes: ['blockBlob'], prefixMatch: [`batch/${AZURE_BATCH_CHECKPOINT_PREFIX}`] },
        actions: { baseBlob: { deleteAfterDaysSinceModificationGreaterThan: r.retentionDays } },
      }],
    });

    // Least privilege: the nodes' identity may read and write blobs of this container, nothing else.
    this.identity = new UserAssignedIdentity(this, 'Identity', { ...common, name: `${prefix}-nodes` });
    this.containerRoleAssignment = new RoleAssignment(this, 'NodesContainerAccess', {
      scope: this.container.id,
      roleDefinitionName: 'Storage Blob Data Contributor',
      principalId: this.identity.principalId,
      principalType: 'ServicePrincipal',
    });

    if (!props.subnetId) {
      this.network = new AzureFleetNetwork(this, 'Network', { ...common, namePrefix: prefix });
    }
    this.account = new BatchAccount(this, 'Account', {
      ...common,
      name: props.batchAccountName ?? `batch${hash}`,
      // Spot nodes exist only in user-subscription accounts, which the provider creates only with a Key Vault reference.
      poolAllocationMode: 'UserSubscription',
      keyVaultReference: { id: props.keyVault.id, url: props.keyVault.url },
      allowedAuthenticationModes: ['AAD'],
      publicNetworkAccessEnabled: true,
    });

    this.autoscaleFormula = spotFirstAutoscaleFormula({ maxSpotNodes: r.maxSpot, maxDedicatedNodes: r.maxDedicated, tasksPerNode: r.slots });
    this.pool = this.createPool(props, prefix, r);

    this.taskEnvironment = {
      ...props.environment,
      SPOT_CHECKPOINT_ACCOUNT_URL: this.storageAccount.primaryBlobEndpoint,
      SPOT_CHECKPOINT_CONTAINER: this.container.name,
      SPOT_CHECKPOINT_PREFIX: AZURE_BATCH_CHECKPOINT_PREFIX,
      SPOT_OUTPUT_PREFIX: AZURE_BATCH_OUTPUT_PREFIX,
      SPOT_SHARD_COUNT: numberText(props.shardCount),
      // DefaultAzureCredential picks the pool's user-assigned identity by its client id.
      AZURE_CLIENT_ID: this.identity.clientId,
    };
    this.job = new BatchJob(this, 'Job', {
      name: `${prefix}-job`,
      batchPoolId: this.pool.id,
      taskRetryMaximum: r.retries,
      commonEnvironmentProperties: this.taskEnvironment,
    });
    this.taskDefinitionTemplate = JSON.stringify(this.taskDefinition(SHARD_INDEX_PLACEHOLDER), null, 2);

    if (props.createOutputs ?? true) {
      new TerraformOutput(this, 'TaskDefinition', { value: this.taskDefinitionTemplate, description: `Batch Add Task body of one shard (${SHARD_INDEX_PLACEHOLDER} = the shard index, ${RUN_ID_PLACEHOLDER} = the run id)` });
      new TerraformOutput(this, 'SubmitCommand', { value: this.submitTasksCommand(), description: 'Submits one task per shard to the job (needs az login)' });
    }
  }

  /**
   * The Batch REST `Add Task` body of shard `index` (`az batch task create --json-file`): the command line, the
   * shard's position (`SHARD_INDEX`, and `SHARD_JOB_ID` = `<job>-<run>`, so the checkpoints of one run never
   * answer for another; the job's common environment adds the rest) and the retry limit. The task runs as the
   * pool's non-admin auto-user. Task ids (`<run>-shard-<i>`) must be unique in the job: one run id per submission.
   */
  public taskDefinition(index: number | string, runId: string = RUN_ID_PLACEHOLDER): { [key: string]: unknown } {
    return {
      id: `${runId}-shard-${index}`,
      commandLine: `/bin/bash -c '${terraformLiteral(this.props.taskCommandLine).replace(/'/g, "'\\''")}'`,
      environmentSettings: [
        { name: 'SHARD_INDEX', value: String(index) },
        { name: 'SHARD_JOB_ID', value: `${this.job.name}-${runId}` },
      ],
      constraints: { maxTaskRetryCount: this.maxTaskRetryCount },
      userIdentity: { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } },
    };
  }

  /**
   * One shell command that signs in to the Batch account with the caller's Entra ID login (`az login` first) and
   * submits one run: one task per shard (`shardCount` of them). The run id is `$RUN_ID` when set (set it to an
   * earlier run's id to resume that run), otherwise the current UTC time; the command prints it.
   */
  public submitTasksCommand(): string {
    const template = this.taskDefinitionTemplate.replace(/'/g, "'\\''");
    return [
      `az batch account login --resource-group ${this.account.resourceGroupName} --name ${this.account.name}`,
      'RUN="$${RUN_ID:-$(date -u +%Y%m%dt%H%M%S)}"',
      'echo "run $RUN"',
      `for i in $(seq 0 $((${numberText(this.props.shardCount)} - 1))); do printf '%s' '${template}' | sed -e "s/${SHARD_INDEX_PLACEHOLDER}/$i/g" -e "s/${RUN_ID_PLACEHOLDER}/$RUN/g" > /tmp/shard-task.json && az batch task create --job-id ${this.job.name} --json-file /tmp/shard-task.json || exit 1; done`,
    ].join(' && ');
  }

  private createStorage(props: AzureBatchInferenceProps, common: { resourceGroupName: string; location: string; tags?: { [key: string]: string } }, hash: string): StorageAccount {
    return createCheckpointStorageAccount(this, 'Storage', { ...common, name: props.checkpointStorageAccountName ?? `ckpt${hash}` });
  }

  private createPool(props: AzureBatchInferenceProps, prefix: string, r: ValidatedBatch): BatchPool {
    const image = props.image ?? { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest', nodeAgentSkuId: 'batch.node.ubuntu 24.04' };
    const startCommands = props.startTaskCommands ?? [
      'export DEBIAN_FRONTEND=noninteractive',
      'apt-get update -q',
      'apt-get install -y -q nodejs npm',
      `mkdir -p ${AZURE_BATCH_WORKER_PREFIX}`,
      `npm install --omit=peer --no-audit --no-fund --prefix ${AZURE_BATCH_WORKER_PREFIX} spot-inference-constructs @azure/storage-blob @azure/identity`,
    ];
    return new BatchPool(this, 'Pool', {
      name: `${prefix}-pool`,
      resourceGroupName: props.resourceGroupName,
      accountName: this.account.name,
      vmSize: props.vmSize,
      nodeAgentSkuId: image.nodeAgentSkuId,
      storageImageReference: { publisher: image.publisher, offer: image.offer, sku: image.sku, version: image.version ?? 'latest' },
      maxTasksPerNode: r.slots,
      nodePlacement: [{ policy: (props.zonal ?? true) ? 'Zonal' : 'Regional' }],
      autoScale: { evaluationInterval: `PT${numberText(r.evaluationMinutes)}M`, formula: this.autoscaleFormula },
      identity: { type: 'UserAssigned', identityIds: [this.identity.id] },
      // NVIDIA sizes get the NVIDIA GPU driver extension (the default Ubuntu image has no GPU driver).
      extensions: !Token.isUnresolved(props.vmSize) && vmSizeAccelerator(props.vmSize) === 'NVIDIA GPU'
        ? [{ name: 'NvidiaGpuDriverLinux', publisher: 'Microsoft.HpcCompute', type: 'NvidiaGpuDriverLinux', typeHandlerVersion: '1.6', autoUpgradeMinorVersion: true }]
        : undefined,
      // Private nodes: no public IP, simplified node communication (outbound only, through the subnet's NAT gateway).
      targetNodeCommunicationMode: 'Simplified',
      networkConfiguration: { subnetId: props.subnetId ?? this.network!.subnetId, publicAddressProvisioningType: 'NoPublicIPAddresses' },
      startTask: {
        commandLine: `/bin/bash -c '${terraformLiteral(startCommands.join(' && ')).replace(/'/g, "'\\''")}'`,
        waitForSuccess: true,
        taskRetryMaximum: 3,
        userIdentity: { autoUser: { scope: 'Pool', elevationLevel: 'Admin' } },
      },
    });
  }

  private validate(props: AzureBatchInferenceProps): ValidatedBatch {
    const v = new ProblemCollector();
    const C = FleetSpecErrorCode;
    const known = (x: unknown): x is number => typeof x === 'number' && !Token.isUnresolved(x);
    const maxSpot = props.maxSpotNodes ?? 10;
    const maxDedicated = props.maxDedicatedNodes ?? 2;
    const slots = props.tasksPerNode ?? 1;
    const retries = props.maxTaskRetryCount ?? 3;
    const evaluationMinutes = props.autoscaleEvaluationMinutes ?? 5;
    const retentionDays = props.checkpointRetentionDays ?? 30;

    if (!Token.isUnresolved(props.vmSize)) {
      const why = explainUnknownVmSize(props.vmSize);
      if (why !== undefined) v.add(FleetSpecErrorCode.UNKNOWN_INSTANCE_TYPE, 'vmSize', `vmSize: "${props.vmSize}" is not an Azure VM size (${why})`);
    }
    if (known(maxSpot) && !(Number.isInteger(maxSpot) && maxSpot >= 1)) {
      v.add(C.BATCH_JOB_RESOURCES, 'maxSpotNodes', `maxSpotNodes (${maxSpot}) must be a whole number, 1 or more: Spot nodes run the tasks first; to run on dedicated nodes only, Azure Batch needs no spot construct`);
    }
    if (known(maxDedicated) && !(Number.isInteger(maxDedicated) && maxDedicated >= 0)) {
      v.add(C.BATCH_JOB_RESOURCES, 'maxDedicatedNodes', `maxDedicatedNodes (${maxDedicated}) must be a whole number, 0 (no fallback) or more`);
    }
    if (known(slots) && !(Number.isInteger(slots) && slots >= 1 && slots <= 256)) {
      v.add(C.BATCH_JOB_RESOURCES, 'tasksPerNode', `tasksPerNode (${slots}) must be a whole number from 1 to 256 (Batch task slots per node); use 1 for one GPU task per node`);
    }
    if (known(retries) && retries === -1) {
      v.add(C.BATCH_RETRY_POLICY, 'maxTaskRetryCount', 'maxTaskRetryCount (-1) retries a failed task without limit, so a task that can never succeed runs forever; give a number of retries (3 is a good start): preempted tasks are requeued by Batch without using a retry');
    } else if (known(retries) && !(Number.isInteger(retries) && retries >= 0 && retries <= 100)) {
      v.add(C.BATCH_RETRY_POLICY, 'maxTaskRetryCount', `maxTaskRetryCount (${retries}) must be a whole number from 0 to 100`);
    }
    if (known(evaluationMinutes) && !(Number.isInteger(evaluationMinutes) && evaluationMinutes >= 5 && evaluationMinutes <= 10080)) {
      v.add(C.BATCH_JOB_LIMITS, 'autoscaleEvaluationMinutes', `autoscaleEvaluationMinutes (${evaluationMinutes}) must be a whole number of minutes from 5 to 10080: Azure Batch evaluates an autoscale formula every 5 minutes to 168 hours`);
    }
    if (known(retentionDays) && !(Number.isInteger(retentionDays) && retentionDays >= 1)) {
      v.add(C.BATCH_STORAGE, 'checkpointRetentionDays', `checkpointRetentionDays (${retentionDays}) must be a whole number of days, 1 or more (storage management policies count whole days); a shorter one would delete checkpoints of running tasks`);
    }
    if (known(props.shardCount) && !(Number.isInteger(props.shardCount) && props.shardCount >= 1)) {
      v.add(C.BATCH_JOB_LIMITS, 'shardCount', `shardCount (${props.shardCount}) must be a whole number, 1 or more`);
    }
    if (!Token.isUnresolved(props.taskCommandLine) && props.taskCommandLine.trim() === '') {
      v.add(C.BATCH_TASK, 'taskCommandLine', 'taskCommandLine is empty; give the command that runs one shard, e.g. "node /opt/app/shard.js"');
    }
    if (!Token.isUnresolved(props.keyVault.id) && !/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.KeyVault\/vaults\/[A-Za-z0-9-]{3,24}$/i.test(props.keyVault.id)) {
      v.add(C.BATCH_ACCOUNT, 'keyVault.id', `keyVault.id ("${props.keyVault.id}") must be a Key Vault resource id: /subscriptions/<subscription>/resourceGroups/<group>/providers/Microsoft.KeyVault/vaults/<name> (e.g. azurerm_key_vault.id)`);
    }
    if (!Token.isUnresolved(props.keyVault.url) && !/^https:\/\/[A-Za-z0-9-]{3,24}\.vault\.azure\.(net|cn|us)\/?$/.test(props.keyVault.url)) {
      v.add(C.BATCH_ACCOUNT, 'keyVault.url', `keyVault.url ("${props.keyVault.url}") must be the vault URI, https://<name>.vault.azure.net/ (azurerm_key_vault.vault_uri)`);
    }
    for (const [prop, name] of [['batchAccountName', props.batchAccountName], ['checkpointStorageAccountName', props.checkpointStorageAccountName]] as const) {
      if (name !== undefined && !Token.isUnresolved(name) && !/^[a-z0-9]{3,24}$/.test(name)) {
        v.add(C.BATCH_ACCOUNT, prop, `${prop} ("${name}") must be 3 to 24 lower-case letters and digits (an Azure ${prop === 'batchAccountName' ? 'Batch' : 'storage'} account name)`);
      }
    }
    v.throwIfAny(this.node.path);
    return { maxSpot, maxDedicated, slots, retries, evaluationMinutes, retentionDays };
  }
}

interface ValidatedBatch {
  readonly maxSpot: number;
  readonly maxDedicated: number;
  readonly slots: number;
  readonly retries: number;
  readonly evaluationMinutes: number;
  readonly retentionDays: number;
}

/** Inputs of {@link spotFirstAutoscaleFormula}. */
export interface SpotFirstAutoscaleOptions {
  /** Most Spot nodes. */
  readonly maxSpotNodes: number;
  /** Most dedicated nodes that replace preempted Spot nodes (0: none). */
  readonly maxDedicatedNodes: number;
  /** Tasks one node runs at once. */
  readonly tasksPerNode: number;
}

/**
 * The autoscale formula of a Spot-first pool: enough nodes for the queued and running tasks (`$PendingTasks`, the
 * last sample, or the 5-minute average when that is higher and enough samples exist), as Spot nodes
 * (`$TargetLowPriorityNodes`); every Spot node Azure has preempted is replaced by a dedicated one
 * (`$TargetDedicatedNodes`, up to `maxDedicatedNodes`), after the "preempted nodes" example of Azure Batch's
 * autoscale documentation; nodes leave only once their tasks complete (`$NodeDeallocationOption = taskcompletion`).
 * Values that are tokens go into the formula as Terraform references, never into arithmetic here.
 */
function spotFirstAutoscaleFormula(o: SpotFirstAutoscaleOptions): string {
  const n = numberText;
  return [
    '// spot-inference-constructs: Spot nodes first, dedicated nodes replace preempted ones',
    `$maxSpot = ${n(o.maxSpotNodes)};`,
    `$maxDedicated = ${n(o.maxDedicatedNodes)};`,
    `$slots = ${n(o.tasksPerNode)};`,
    '$queued = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 5) < 70 ? max(0, $PendingTasks.GetSample(1)) : max($PendingTasks.GetSample(1), avg($PendingTasks.GetSample(TimeInterval_Minute * 5)));',
    '$wanted = ceil($queued / $slots);',
    '$preempted = $PreemptedNodeCount.GetSamplePercent(TimeInterval_Minute * 5) < 70 ? 0 : max($PreemptedNodeCount.GetSample(TimeInterval_Minute * 5));',
    '$TargetDedicatedNodes = min($maxDedicated, min($wanted, $preempted));',
    '$TargetLowPriorityNodes = min($maxSpot, max(0, $wanted - $TargetDedicatedNodes));',
    '$NodeDeallocationOption = taskcompletion;',
  ].join('\n');
}
