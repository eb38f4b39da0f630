import { TerraformOutput, Token } from 'cdktf';
import { Construct } from 'constructs';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { checkEnumValue } from '../../lib/spec/rules';
import { AzureScaleSetOrchestration, IAzureSpotFleet } from './fleet-interface';

/** What an Azure drill needs to find a scale set's Spot VMs. */
export interface AzureDrillTarget {
  /** Resource group of the scale set. */
  readonly resourceGroupName: string;
  /** Name of the scale set. */
  readonly scaleSetName: string;
  /** Orchestration mode of the scale set. @default AzureScaleSetOrchestration.FLEXIBLE */
  readonly orchestration?: AzureScaleSetOrchestration;
}

/** Properties of {@link AzureInterruptionDrill}. */
export interface AzureInterruptionDrillProps extends AzureDrillTarget {
  /**
   * Add Terraform outputs with the commands.
   * @default true
   */
  readonly createOutputs?: boolean;
}

/**
 * The Azure interruption drill of a spot scale set, as Terraform outputs: the command that lists its Spot VMs
 * and the Simulate Eviction call for one of them (`az vm simulate-eviction` for Flexible orchestration,
 * `az vmss simulate-eviction --instance-id` for Uniform). Run it with `terraform output -raw <name> | sh`.
 */
export class AzureInterruptionDrill extends Construct {
  /** The shell command that lists the scale set's Spot VMs (names; instance ids with Uniform orchestration). */
  public static listSpotVmsCommandFor(target: AzureDrillTarget): string {
    const field = (target.orchestration ?? AzureScaleSetOrchestration.FLEXIBLE) === AzureScaleSetOrchestration.FLEXIBLE ? 'name' : 'instanceId';
    return `az vmss list-instances --resource-group ${target.resourceGroupName} --name ${target.scaleSetName} --query "[?priority=='Spot'].${field}" --output tsv`;
  }

  /**
   * One shell command that picks one Spot VM of the scale set and asks Azure to evict it (Simulate Eviction):
   * the VM gets the Scheduled Events `Preempt` notice (at least 30 s), then is evicted; the scale set replaces it.
   */
  public static simulateEvictionCommandFor(target: AzureDrillTarget): string {
    const rg = target.resourceGroupName;
    const vmss = target.scaleSetName;
    if ((target.orchestration ?? AzureScaleSetOrchestration.FLEXIBLE) === AzureScaleSetOrchestration.FLEXIBLE) {
      return `VM=$(az vmss list-instances --resource-group ${rg} --name ${vmss} --query "[?priority=='Spot'] | [0].name" --output tsv) && az vm simulate-eviction --resource-group ${rg} --name "$VM"`;
    }
    return `ID=$(az vmss list-instances --resource-group ${rg} --name ${vmss} --query "[?priority=='Spot'] | [0].instanceId" --output tsv) && az vmss simulate-eviction --resource-group ${rg} --name ${vmss} --instance-id "$ID"`;
  }

  /** The drill of the first scale set of a fleet: an `AzureSpotFleet`, or one imported with `fromScaleSetAttributes`. */
  public static forFleet(scope: Construct, id: string, fleet: IAzureSpotFleet, createOutputs?: boolean): AzureInterruptionDrill {
    return new AzureInterruptionDrill(scope, id, {
      resourceGroupName: fleet.resourceGroupName,
      scaleSetName: fleet.scaleSetNames[0],
      orchestration: fleet.orchestration,
      createOutputs,
    });
  }

  /** Lists the scale set's Spot VMs. */
  public readonly listSpotVmsCommand: string;
  /** Evicts one Spot VM of the scale set. */
  public readonly simulateEvictionCommand: string;

  constructor(scope: Construct, id: string, props: AzureInterruptionDrillProps) {
    super(scope, id);
    const v = new ProblemCollector();
    if (!Token.isUnresolved(props.resourceGroupName) && !/^[-\w.()]{1,89}[-\w()]$/.test(props.resourceGroupName)) {
      v.add(FleetSpecErrorCode.AZURE_RESOURCE_NAME, 'resourceGroupName', `resourceGroupName ("${props.resourceGroupName}") must be an Azure resource group name: 1-90 letters, digits, "-", "_", ".", "(" or ")", not ending in "."`);
    }
    if (!Token.isUnresolved(props.scaleSetName) && !/^[A-Za-z0-9][-A-Za-z0-9_.]{0,63}$/.test(props.scaleSetName)) {
      v.add(FleetSpecErrorCode.AZURE_RESOURCE_NAME, 'scaleSetName', `scaleSetName ("${props.scaleSetName}") must be a scale set name: letters, digits, "-", "_" and ".", starting with a letter or digit`);
    }
    v.addAll(checkEnumValue('orchestration', props.orchestration, 'AzureScaleSetOrchestration', AzureScaleSetOrchestration, { isUnresolved: Token.isUnresolved }));
    v.throwIfAny(this.node.path);
    this.listSpotVmsCommand = AzureInterruptionDrill.listSpotVmsCommandFor(props);
    this.simulateEvictionCommand = AzureInterruptionDrill.simulateEvictionCommandFor(props);
    if (props.createOutputs ?? true) {
      new TerraformOutput(this, 'ListSpotVms', { value: this.listSpotVmsCommand, description: 'Lists the Spot VMs of the scale set' });
      new TerraformOutput(this, 'SimulateEviction', { value: this.simulateEvictionCommand, description: 'Evicts one Spot VM of the scale set (interruption drill)' });
    }
  }
}
