import { Token } from 'cdktf';
import { Construct, IConstruct } from 'constructs';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { azureName } from './network';

/** Orchestration mode of a scale set: it decides which command simulates an eviction. */
export enum AzureScaleSetOrchestration {
  /** Flexible: the VMs are VM resources; `az vm simulate-eviction --name <vm>`. What {@link AzureSpotFleet} creates. */
  FLEXIBLE = 'Flexible',
  /** Uniform: the VMs are scale-set instances; `az vmss simulate-eviction --instance-id <id>`. */
  UNIFORM = 'Uniform',
}

/**
 * What the Azure pieces (alerts, interruption drill, service pattern) need of a spot fleet: implemented by
 * {@link AzureSpotFleet}, and by {@link AzureSpotFleet.fromScaleSetAttributes} for scale sets created elsewhere
 * (another stack, the portal, a Terraform module).
 */
export interface IAzureSpotFleet extends IConstruct {
  /** Resource group of the scale sets. */
  readonly resourceGroupName: string;
  /** Ids of the fleet's scale sets (at least one). */
  readonly scaleSetIds: string[];
  /** Names of the fleet's scale sets, in the order of `scaleSetIds`. */
  readonly scaleSetNames: string[];
  /** Orchestration mode of the scale sets. */
  readonly orchestration: AzureScaleSetOrchestration;
  /** Id of the Standard load balancer in front of the fleet, or undefined for a fleet without one (queue workers). */
  readonly loadBalancerId?: string;
  /** Short name of the fleet in the names of the pieces (alerts): letters, digits and dashes. */
  readonly fleetName: string;
}

/** How to find an existing fleet's scale sets, for {@link AzureSpotFleet.fromScaleSetAttributes}. */
export interface AzureSpotFleetAttributes {
  /** Resource group of the scale sets. */
  readonly resourceGroupName: string;
  /** Ids of the scale sets (`/subscriptions/.../providers/Microsoft.Compute/virtualMachineScaleSets/<name>`). */
  readonly scaleSetIds: string[];
  /** Names of the scale sets. @default - the last segment of each id */
  readonly scaleSetNames?: string[];
  /** Orchestration mode. @default AzureScaleSetOrchestration.FLEXIBLE */
  readonly orchestration?: AzureScaleSetOrchestration;
  /** Id of the load balancer in front of the scale sets. @default - none: no health-probe alert */
  readonly loadBalancerId?: string;
  /** Short name of the fleet in the pieces' names. @default - the construct id, lower case */
  readonly fleetName?: string;
}

const SCALE_SET_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Compute\/virtualMachineScaleSets\/([^/]+)$/i;

/** An existing fleet, imported by its attributes. */
export class ImportedAzureSpotFleet extends Construct implements IAzureSpotFleet {
  public readonly resourceGroupName: string;
  public readonly scaleSetIds: string[];
  public readonly scaleSetNames: string[];
  public readonly orchestration: AzureScaleSetOrchestration;
  public readonly loadBalancerId?: string;
  public readonly fleetName: string;

  constructor(scope: Construct, id: string, attrs: AzureSpotFleetAttributes) {
    super(scope, id);
    const v = new ProblemCollector();
    const C = FleetSpecErrorCode;
    const ids = attrs.scaleSetIds;
    if (!Token.isUnresolved(ids) && ids.length === 0) {
      v.add(C.AZURE_IMPORTED_SCALE_SETS, 'scaleSetIds', 'scaleSetIds is empty; give the id of at least one scale set (azurerm_orchestrated_virtual_machine_scale_set.id)');
    }
    const names: string[] = [];
    for (const [i, sid] of (Token.isUnresolved(ids) ? [] : ids).entries()) {
      const given = attrs.scaleSetNames?.[i];
      if (given !== undefined) {
        names.push(given);
        continue;
      }
      const m = Token.isUnresolved(sid) ? undefined : SCALE_SET_ID.exec(sid);
      if (!m) {
        v.add(C.AZURE_IMPORTED_SCALE_SETS, 'scaleSetNames', Token.isUnresolved(sid)
          ? `scaleSetIds[${i}] is a deploy-time value, so its name cannot be read from it; give scaleSetNames as well`
          : `scaleSetIds[${i}] ("${sid}") is not a scale set id (/subscriptions/<sub>/resourceGroups/<group>/providers/Microsoft.Compute/virtualMachineScaleSets/<name>); fix the id or give scaleSetNames`);
        continue;
      }
      names.push(m[1]);
    }
    if (attrs.scaleSetNames !== undefined && !Token.isUnresolved(attrs.scaleSetNames) && !Token.isUnresolved(ids) && attrs.scaleSetNames.length !== ids.length) {
      v.add(C.AZURE_IMPORTED_SCALE_SETS, 'scaleSetNames', `scaleSetNames has ${attrs.scaleSetNames.length} names for ${ids.length} scale set ids; give one name per id, in the same order`);
    }
    const orchestration = attrs.orchestration ?? AzureScaleSetOrchestration.FLEXIBLE;
    if (!Object.values(AzureScaleSetOrchestration).includes(orchestration)) {
      v.add(FleetSpecErrorCode.UNKNOWN_ENUM_VALUE, 'orchestration', `orchestration (${JSON.stringify(orchestration)}) is not one of the AzureScaleSetOrchestration values; use AzureScaleSetOrchestration.FLEXIBLE ("Flexible") or AzureScaleSetOrchestration.UNIFORM ("Uniform")`);
    }
    v.throwIfAny(this.node.path);
    this.resourceGroupName = attrs.resourceGroupName;
    this.scaleSetIds = ids;
    this.scaleSetNames = attrs.scaleSetNames ?? names;
    this.orchestration = orchestration;
    this.loadBalancerId = attrs.loadBalancerId;
    this.fleetName = attrs.fleetName ?? azureName(id);
  }
}

/** @deprecated use {@link IAzureSpotFleet} (one naming scheme across the clouds, see docs/names.md). */
export type ISpotScaleSetFleet = IAzureSpotFleet;

/** @deprecated use {@link AzureSpotFleetAttributes} (one naming scheme across the clouds, see docs/names.md). */
export type SpotScaleSetFleetAttributes = AzureSpotFleetAttributes;

/** @deprecated use {@link ImportedAzureSpotFleet} (the same class: one naming scheme across the clouds, see docs/names.md). */
export const ImportedSpotScaleSetFleet = ImportedAzureSpotFleet;
/** @deprecated use {@link ImportedAzureSpotFleet}. */
export type ImportedSpotScaleSetFleet = ImportedAzureSpotFleet;
