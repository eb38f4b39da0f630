import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { TerraformOutput, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import {
  AzureFleetAlerts,
  AzureInterruptionDrill,
  AzureOnDemandFallback,
  AzureSizeStrategy,
  AzureSpotFleet,
} from 'spot-inference-constructs/azure';

/**
 * An OpenSSH public key whose private half was discarded when it was generated: nobody can log in with
 * it. Pass your own with `-c sshPublicKey=...` / the `SPOT_SSH_PUBLIC_KEY` environment variable.
 */
export const EXAMPLE_SSH_PUBLIC_KEY =
  'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQDEVqpntjAmLlnEaLJaWW8uprvnoXn5+eNJvHCEmXsV2epr2X8F/7A6DWGAIDa9ZuS6jGBRtFJYEvB1uVAI6wIOjYtBBtt/De2SmYhOlSdsRFI9y3qzVbhAmxguYRvVtl0Yaicd0Z4skji+WlWlVQDv5o/Qd7Ae1ACyoaAido8iKd3mFAqCHuNyIpaQDFmvESVsLsZwvHyaCh2k4bvzyEWClpP049fgeuNoG1v6ErH8ezSL7KvAA2J+TpyTnShPcEbCKgOYg8FwC09MlVarSsmhAqp617Wxm72Xc4wnZYQGhJIvT1/oY2FNJ1ix80pEm89tQePwsaadmpSQZoC9dhbMlnL9kQduD5STP9MFS/RgEznMPtgi7UVPPXdjsjDcVhoaScy7WNt6bLbY0/vgkdNfMglhmuHIl4ikzX30E1Zxoc4VVii4XasOOnP1n0Qt5H13Ds5I9oqodBqusuPROD8jotJ3enVkJVb684ymUK0U9TXq2ycdo1+WUv0TGCAoGV0= discarded-private-key';

/** Settings of the example, from cdktf context (`cdktf.json` "context") or defaults. */
export interface AzureExampleSettings {
  /** Azure region. @default 'eastus2' */
  readonly location?: string;
  /** Resource group the example creates. @default 'spot-inference-example' */
  readonly resourceGroupName?: string;
  /** OpenSSH public key of the admin account. @default - a key nobody holds the private half of */
  readonly sshPublicKey?: string;
  /** CIDR of the API's clients. @default 'VirtualNetwork' */
  readonly clientCidr?: string;
  /** Agent bundle to inline. @default - the package's dist/runtime/spot-agent/index.js */
  readonly agentBundlePath?: string;
}

/**
 * The Azure example: a GPU inference fleet on Spot (two T4 sizes, one scale set each, behind one
 * Standard load balancer) and a CPU fleet that uses an instance mix of three D/E sizes. Synth needs no
 * Azure subscription or credentials.
 */
export class AzureSpotInferenceStack extends TerraformStack {
  public readonly gpuFleet: AzureSpotFleet;
  public readonly cpuFleet: AzureSpotFleet;
  public readonly gpuFallback: AzureOnDemandFallback;

  constructor(scope: Construct, id: string, settings: AzureExampleSettings = {}) {
    super(scope, id);
    new AzurermProvider(this, 'azurerm', { features: [{}] });
    const rg = new ResourceGroup(this, 'ResourceGroup', {
      name: settings.resourceGroupName ?? 'spot-inference-example',
      location: settings.location ?? 'eastus2',
    });
    const common = {
      resourceGroupName: rg.name,
      location: rg.location,
      adminSshPublicKey: settings.sshPublicKey ?? EXAMPLE_SSH_PUBLIC_KEY,
      allowedClientCidrs: [settings.clientCidr ?? 'VirtualNetwork'],
      agent: { bundlePath: settings.agentBundlePath },
      tags: { app: 'spot-inference-example' },
    };

    // GPU sizes cannot share an instance mix: one scale set per size, same backend pool.
    this.gpuFleet = new AzureSpotFleet(this, 'GpuFleet', {
      ...common,
      namePrefix: 'gpu-infer',
      instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'],
      minCapacity: 2,
      maxCapacity: 8,
      onDemandBaseCapacity: 1,
      onDemandPercentageAboveBaseCapacity: 0,
      servingPort: 8080,
      healthCheck: { path: '/health', intervalSeconds: 5, timeoutSeconds: 3, unhealthyThreshold: 2 },
      drainBudgetSeconds: 15,
      osDiskSizeGb: 128,
      bootCommands: ['# start the inference server here, e.g. docker run --gpus all -p 8080:8080 <image>'],
    });

    // CPU sizes of the D and E families: one scale set with an instance mix.
    this.cpuFleet = new AzureSpotFleet(this, 'CpuFleet', {
      ...common,
      namePrefix: 'cpu-infer',
      addressSpace: '10.43.0.0/16',
      subnetPrefix: '10.43.0.0/20',
      instanceTypes: ['Standard_D4as_v5', 'Standard_D4s_v5', 'Standard_E4as_v5'],
      sizeStrategy: AzureSizeStrategy.INSTANCE_MIX,
      minCapacity: 2,
      maxCapacity: 12,
      onDemandBaseCapacity: 1,
      onDemandPercentageAboveBaseCapacity: 25,
    });

    // The GPU fleet gets a fallback controller that raises the regular (on-demand) count when Spot runs out;
    // both fleets get alerts (backend health, evictions; a long fallback for the GPU fleet, whose controller writes
    // the metric it watches) and the Simulate Eviction drill command.
    this.gpuFallback = new AzureOnDemandFallback(this, 'GpuFallback', {
      fleet: this.gpuFleet,
      resourceGroupName: rg.name,
      location: rg.location,
      namePrefix: 'gpu-infer',
      tags: common.tags,
    });
    for (const [name, fleet] of [['Gpu', this.gpuFleet], ['Cpu', this.cpuFleet]] as const) {
      // The long-fallback alert only where a controller writes its metric: the GPU fleet.
      AzureFleetAlerts.forFleet(this, `${name}Alerts`, fleet, { onDemandFallback: name === 'Gpu' ? this.gpuFallback : undefined });
      AzureInterruptionDrill.forFleet(this, `${name}Drill`, fleet);
    }

    new TerraformOutput(this, 'GpuEndpoint', { value: this.gpuFleet.loadBalancer.frontendIpAddress });
    new TerraformOutput(this, 'CpuEndpoint', { value: this.cpuFleet.loadBalancer.frontendIpAddress });
  }
}
