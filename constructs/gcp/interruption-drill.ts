import { TerraformOutput, Token } from 'cdktf';
import { Construct } from 'constructs';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { IGcpSpotFleet } from './fleet-interface';

/** What a Google Cloud drill needs to find the fleet's spot VMs. */
export interface GcpDrillTarget {
  /** Project of the fleet. */
  readonly project: string;
  /** Name of the fleet: the value of the `spot-fleet` label on its VMs. */
  readonly fleetName: string;
}

/** Properties of {@link GcpInterruptionDrill}. */
export interface GcpInterruptionDrillProps extends GcpDrillTarget {
  /**
   * Add Terraform outputs with the commands.
   * @default true
   */
  readonly createOutputs?: boolean;
}

/**
 * The Google Cloud interruption drill of a spot fleet, as Terraform outputs: the command that lists the fleet's
 * running spot VMs, and the one that preempts one of them with `gcloud compute instances simulate-maintenance-event`.
 * Run it with `terraform output -raw <output name> | sh` (or `cdktf output`) while a client sends requests.
 */
export class GcpInterruptionDrill extends Construct {
  /**
   * The shell command that lists the fleet's running spot VMs (name and zone), by the `spot-fleet` label and the
   * SPOT provisioning model.
   */
  public static listSpotVmsCommandFor(target: GcpDrillTarget): string {
    return `gcloud compute instances list --project=${target.project} --filter="labels.spot-fleet=${target.fleetName} AND scheduling.provisioningModel=SPOT AND status=RUNNING" --format="value(name,zone.basename())"`;
  }

  /**
   * One shell command that picks one running spot VM of the fleet and simulates a host maintenance event on it.
   * Spot VMs cannot live-migrate, so Compute Engine preempts the VM: the guest gets the 30 s ACPI soft-off, the
   * metadata `instance/preempted` flips, the managed group recreates it.
   */
  public static simulatePreemptionCommandFor(target: GcpDrillTarget): string {
    return `set -- $(${GcpInterruptionDrill.listSpotVmsCommandFor(target)} --limit=1) && gcloud compute instances simulate-maintenance-event "$1" --zone="$2" --project=${target.project}`;
  }

  /** The drill of a fleet (a `GcpSpotFleet` or imported groups). */
  public static forFleet(scope: Construct, id: string, fleet: IGcpSpotFleet, createOutputs?: boolean): GcpInterruptionDrill {
    return new GcpInterruptionDrill(scope, id, { project: fleet.project, fleetName: fleet.fleetName, createOutputs });
  }

  /** Lists the fleet's running spot VMs. */
  public readonly listSpotVmsCommand: string;
  /** Preempts one running spot VM of the fleet. */
  public readonly simulatePreemptionCommand: string;

  constructor(scope: Construct, id: string, props: GcpInterruptionDrillProps) {
    super(scope, id);
    const v = new ProblemCollector();
    if (!Token.isUnresolved(props.project) && !/^[a-z][-a-z0-9.:]*$/.test(props.project)) {
      v.add(FleetSpecErrorCode.GCP_RESOURCE_NAME, 'project', `project ("${props.project}") must be a Google Cloud project id (lower-case letters, digits and "-"; "domain:" prefixed ids allowed)`);
    }
    if (!Token.isUnresolved(props.fleetName) && !/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(props.fleetName)) {
      v.add(FleetSpecErrorCode.GCP_RESOURCE_NAME, 'fleetName', `fleetName ("${props.fleetName}") must be a label value of lower-case letters, digits and "-", starting with a letter: the fleet's name`);
    }
    v.throwIfAny(this.node.path);
    this.listSpotVmsCommand = GcpInterruptionDrill.listSpotVmsCommandFor(props);
    this.simulatePreemptionCommand = GcpInterruptionDrill.simulatePreemptionCommandFor(props);
    if (props.createOutputs ?? true) {
      new TerraformOutput(this, 'ListSpotVms', { value: this.listSpotVmsCommand, description: 'Lists the running spot VMs of the fleet (name, zone)' });
      new TerraformOutput(this, 'SimulatePreemption', { value: this.simulatePreemptionCommand, description: 'Preempts one running spot VM of the fleet (interruption drill)' });
    }
  }
}
