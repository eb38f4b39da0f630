// Queue workers on Azure Spot: a Service Bus queue (dead-lettering, lock sized to the job), a spot scale set
// of CPU workers (instance mix of D/E sizes) autoscaled on the queue's active messages per VM, and a private
// Blob container for checkpoints.
import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { TerraformOutput, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { AzureQueueWorkerFleet, AzureSizeStrategy } from 'spot-inference-constructs/azure';

/** An OpenSSH public key whose private half was discarded when it was generated: nobody can log in with it. */
export const QUEUE_EXAMPLE_SSH_PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILh2rAb7EXIUaEjmFxDMxrdxCE69hCJYELv+Z1ap52nV discarded-private-key';

/** Settings of the example. */
export interface AzureQueueExampleSettings {
  /** Azure region. @default 'eastus2' */
  readonly location?: string;
  /** Resource group the example creates. @default 'spot-queue-example' */
  readonly resourceGroupName?: string;
  /** OpenSSH public key of the admin account. @default - a key nobody holds the private half of */
  readonly sshPublicKey?: string;
  /** Agent bundle. @default - the package's dist/runtime/spot-agent/index.js */
  readonly agentBundlePath?: string;
}

export class AzureQueueExampleStack extends TerraformStack {
  public readonly workers: AzureQueueWorkerFleet;

  constructor(scope: Construct, id: string, settings: AzureQueueExampleSettings = {}) {
    super(scope, id);
    new AzurermProvider(this, 'azurerm', { features: [{}] });
    const rg = new ResourceGroup(this, 'ResourceGroup', {
      name: settings.resourceGroupName ?? 'spot-queue-example',
      location: settings.location ?? 'eastus2',
    });

    this.workers = new AzureQueueWorkerFleet(this, 'Workers', {
      resourceGroupName: rg.name,
      location: rg.location,
      namePrefix: 'queue-workers',
      adminSshPublicKey: settings.sshPublicKey ?? QUEUE_EXAMPLE_SSH_PUBLIC_KEY,
      agent: { bundlePath: settings.agentBundlePath },
      instanceTypes: ['Standard_D4as_v5', 'Standard_D4s_v5', 'Standard_E4as_v5'],
      sizeStrategy: AzureSizeStrategy.INSTANCE_MIX,
      minCapacity: 0,
      maxCapacity: 10,
      onDemandBaseCapacity: 0,
      // Up to 2 minutes per message (lock renewed by the worker), up to 10 minutes of waiting: 5 per VM.
      messageProcessingSeconds: 120,
      acceptableLatencySeconds: 600,
      lockDurationSeconds: 60,
      renewsLock: true,
      maxDeliveryCount: 5,
      bootCommands: [
        '# start the worker here; it reads /etc/queue-worker.env and writes its PID to /run/queue-worker.pid,',
        '# e.g. docker run -d --env-file /etc/queue-worker.env --name queue-worker <image> &&',
        "#      docker inspect -f '{{.State.Pid}}' queue-worker > /run/queue-worker.pid",
      ],
      tags: { app: 'spot-queue-example' },
    });

    new TerraformOutput(this, 'service_bus_namespace', { value: this.workers.namespace.name });
    new TerraformOutput(this, 'queue', { value: this.workers.queue.name });
    new TerraformOutput(this, 'checkpoint_container', { value: this.workers.checkpointContainer.id });
  }
}
