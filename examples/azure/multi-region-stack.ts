// One model API over two Azure regions (eastus2 and westeurope) behind Azure Front Door: per region Spot scale sets
// (two T4 sizes) and three spare Spot scale sets (capacity 0) behind a regional Standard load balancer that admits
// only Front Door, one origin per region; one fallback controller over both regions, and the alerts.
// No Azure credentials are needed to synth.
import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { AzureMultiRegionSpotInferenceService } from 'spot-inference-constructs/azure';
import { EXAMPLE_SSH_PUBLIC_KEY } from './stack';

/** Settings of the multi-region example. */
export interface AzureMultiRegionExampleSettings {
  /** Resource group of every region's resources and of Front Door. @default 'spot-multi-region-example' */
  readonly resourceGroupName?: string;
  /** OpenSSH public key of the admin account. @default - a key nobody holds the private half of */
  readonly sshPublicKey?: string;
  /** Region that takes the traffic while healthy; the other is the failover. @default - none: the closest region */
  readonly homeRegion?: string;
  /** Agent bundle to inline. @default - the package's portable agent bundle */
  readonly agentBundlePath?: string;
}

export class AzureMultiRegionExampleStack extends TerraformStack {
  public readonly service: AzureMultiRegionSpotInferenceService;

  constructor(scope: Construct, id: string, settings: AzureMultiRegionExampleSettings = {}) {
    super(scope, id);
    new AzurermProvider(this, 'azurerm', { features: [{}] });
    const rg = new ResourceGroup(this, 'ResourceGroup', { name: settings.resourceGroupName ?? 'spot-multi-region-example', location: 'eastus2' });
    this.service = new AzureMultiRegionSpotInferenceService(this, 'Api', {
      resourceGroupName: rg.name,
      location: rg.location,
      namePrefix: 'llm-mr',
      homeRegion: settings.homeRegion,
      allowedRegions: ['eastus2', 'westeurope'],
      regions: [{ region: 'eastus2' }, { region: 'westeurope' }],
      adminSshPublicKey: settings.sshPublicKey ?? EXAMPLE_SSH_PUBLIC_KEY,
      agent: { bundlePath: settings.agentBundlePath },
      instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'],
      minCapacity: 2,
      maxCapacity: 6,
      // One regular VM per region keeps each region serving while its Spot capacity is gone.
      onDemandBaseCapacity: 1,
      servingPort: 8080,
      // Probed every 5 s, out after 2 failures: with Front Door's 10 s, a region fails over in 20 s, leaving
      // the 10 s drain inside the 30 s notice.
      healthCheck: { path: '/health', intervalSeconds: 5, timeoutSeconds: 3, unhealthyThreshold: 2 },
      drainBudgetSeconds: 10,
      osDiskSizeGb: 128,
      bootCommands: ['# start the inference server here, e.g. docker run --gpus all -p 8080:8080 <image>'],
      tags: { app: 'spot-multi-region-example' },
    });
  }
}
