// Composition onto an existing load balancer: a team's own Standard load balancer (created here as it would exist
// already, with its public frontend and backend pool), and an AzureSpotInferenceService whose fleet joins that pool.
// The fleet adds its probe (the agent's health endpoint) and the rule to the team's load balancer, and admits the
// probes and the clients in its own network security group.
import { Lb } from '@cdktf/provider-azurerm/lib/lb';
import { LbBackendAddressPool } from '@cdktf/provider-azurerm/lib/lb-backend-address-pool';
import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider';
import { PublicIp } from '@cdktf/provider-azurerm/lib/public-ip';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { TerraformOutput, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { AzureSpotInferenceService } from 'spot-inference-constructs/azure';
import { EXAMPLE_SSH_PUBLIC_KEY } from './stack';

/** Settings of the example. */
export interface AzureSharedLbExampleSettings {
  /** Azure region. @default 'eastus2' */
  readonly location?: string;
  /** OpenSSH public key of the admin account. @default - a key nobody holds the private half of */
  readonly sshPublicKey?: string;
  /** Agent bundle. @default - the package's portable agent bundle */
  readonly agentBundlePath?: string;
}

export class AzureSharedLbExampleStack extends TerraformStack {
  public readonly service: AzureSpotInferenceService;

  constructor(scope: Construct, id: string, settings: AzureSharedLbExampleSettings = {}) {
    super(scope, id);
    new AzurermProvider(this, 'azurerm', { features: [{}] });
    const rg = new ResourceGroup(this, 'ResourceGroup', { name: 'spot-shared-lb-example', location: settings.location ?? 'eastus2' });

    // The team's load balancer (in a real setup: a data source or another stack's outputs).
    const ip = new PublicIp(this, 'TeamLbIp', { name: 'team-lb-ip', resourceGroupName: rg.name, location: rg.location, allocationMethod: 'Static', sku: 'Standard', zones: ['1', '2', '3'] });
    const lb = new Lb(this, 'TeamLb', {
      name: 'team-lb',
      resourceGroupName: rg.name,
      location: rg.location,
      sku: 'Standard',
      frontendIpConfiguration: [{ name: 'public', publicIpAddressId: ip.id }],
    });
    const pool = new LbBackendAddressPool(this, 'InferencePool', { name: 'inference', loadbalancerId: lb.id });

    this.service = new AzureSpotInferenceService(this, 'Chat', {
      resourceGroupName: rg.name,
      location: rg.location,
      adminSshPublicKey: settings.sshPublicKey ?? EXAMPLE_SSH_PUBLIC_KEY,
      agent: { bundlePath: settings.agentBundlePath },
      instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'],
      minCapacity: 2,
      maxCapacity: 6,
      onDemandBaseCapacity: 1,
      servingPort: 8080,
      healthCheck: { path: '/health', intervalSeconds: 5, timeoutSeconds: 3, unhealthyThreshold: 2 },
      drainBudgetSeconds: 15,
      allowedClientCidrs: ['VirtualNetwork'],
      existingBackendPool: { loadBalancerId: lb.id, backendAddressPoolId: pool.id, frontendIpConfigurationName: 'public', frontendPort: 80 },
      bootCommands: ['# start the inference server here, e.g. docker run --gpus all -p 8080:8080 <image>'],
      tags: { app: 'spot-shared-lb-example' },
    });
    new TerraformOutput(this, 'Endpoint', { value: ip.ipAddress });
  }
}
