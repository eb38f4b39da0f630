import { MonitorAutoscaleSetting, MonitorAutoscaleSettingProfile } from '@cdktf/provider-azurerm/lib/monitor-autoscale-setting';
import { OrchestratedVirtualMachineScaleSet, OrchestratedVirtualMachineScaleSetConfig } from '@cdktf/provider-azurerm/lib/orchestrated-virtual-machine-scale-set';
import { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import { FleetSpecError } from '../../lib/spec/errors';
import { AzureProbeOptions } from './load-balancer';
import { AzureResourceOptions, azureName } from './network';
import { scaleSetProviderProblems } from './provider-rules';
import { numberText } from './tokens';
import { AzureAllocationStrategy, AzureEvictionPolicy, ScaleSetPlan } from './rules';

/** A marketplace image the VMs boot. */
export interface AzureVmImage {
  /** Image publisher, e.g. `Canonical`. */
  readonly publisher: string;
  /** Image offer, e.g. `ubuntu-24_04-lts`. */
  readonly offer: string;
  /** Image SKU, e.g. `server`. */
  readonly sku: string;
  /** Image version. @default 'latest' */
  readonly version?: string;
}

/** Ubuntu 24.04 LTS (Gen2), x86_64: its `nodejs` package runs the agent. */
export const UBUNTU_2404_X86_64: AzureVmImage = { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' };
/** Ubuntu 24.04 LTS (Gen2), Arm64. */
export const UBUNTU_2404_ARM64: AzureVmImage = { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server-arm64', version: 'latest' };

/** Options every scale set of a fleet shares. */
export interface AzureSpotScaleSetOptions {
  /** What Azure does with an evicted Spot VM. @default AzureEvictionPolicy.DELETE */
  readonly evictionPolicy?: AzureEvictionPolicy;
  /**
   * Highest price per VM and hour, in US dollars, you pay for Spot capacity; -1 pays up to the
   * on-demand price, so VMs are evicted for capacity only, never for price.
   * @default -1
   */
  readonly maxBidPrice?: number;
  /** How an instance mix picks among its sizes. @default AzureAllocationStrategy.CAPACITY_OPTIMIZED */
  readonly allocationStrategy?: AzureAllocationStrategy;
  /**
   * Minutes a new VM gets (boot, drivers, model load) before automatic instance repairs replace it for
   * failing its health (10-90).
   * @default 30
   */
  readonly repairGracePeriodMinutes?: number;
  /**
   * Minutes Azure waits after a `Terminate` scheduled event (scale-in, deletion) before it deletes a VM of a
   * **Regular**-priority scale set, unless the agent approves the event earlier (5-15): only with
   * `regularBaseScaleSet` on a fleet. Azure does not accept terminate notifications on Spot scale sets ("Terminate
   * notifications cannot be enabled on Spot instances", Azure's terminate-notification documentation;
   * MicrosoftDocs/azure-docs#66962), so it is refused otherwise; Spot VMs get the Scheduled Events `Preempt` notice.
   * @default 5 - on a Regular-priority scale set; none on Spot scale sets
   */
  readonly terminationNotificationMinutes?: number;
  /** Name of the admin account; password login is disabled. @default 'azureuser' */
  readonly adminUsername?: string;
  /**
   * OpenSSH public key of the admin account (password login is disabled, and workers have no public
   * IP: reach them through Azure Bastion or `az vm run-command`).
   */
  readonly adminSshPublicKey: string;
  /** Image the VMs boot. @default - Ubuntu 24.04 LTS of the fleet's architecture */
  readonly image?: AzureVmImage;
  /** Size of the OS disk in GiB. @default - the image's size (30 GiB for Ubuntu) */
  readonly osDiskSizeGb?: number;
  /**
   * Storage type of the OS disk (`Standard_LRS`, `StandardSSD_LRS`, `Premium_LRS`). Managed disks are
   * always encrypted at rest with platform-managed keys.
   * @default 'StandardSSD_LRS'
   */
  readonly osDiskStorageAccountType?: string;
  /** Disk encryption set (customer-managed keys) of the OS disk. @default - platform-managed keys */
  readonly diskEncryptionSetId?: string;
  /**
   * Encrypt temp disks and caches on the host too. Needs the `EncryptionAtHost` feature registered on
   * the subscription.
   * @default false
   */
  readonly encryptionAtHostEnabled?: boolean;
  /** Average CPU (percent) above which autoscale adds a VM. @default 70 */
  readonly scaleOutCpuPercent?: number;
  /** Average CPU (percent) below which autoscale removes a VM. @default 30 */
  readonly scaleInCpuPercent?: number;
}

/**
 * Supplies the autoscale profiles of each scale set of a fleet, instead of the CPU rules (e.g. a queue
 * fleet scaling on its backlog). The fleet calls it once per scale set and keeps owning the autoscale setting.
 */
export interface IScaleSetAutoscaleProfiles {
  /**
   * The autoscale profiles of the scale set planned as `plan`, one of `scaleSetCount` scale sets of the
   * fleet (GPU sizes get one scale set each, so a per-VM target is per set).
   */
  profilesFor(plan: ScaleSetPlan, scaleSetCount: number): MonitorAutoscaleSettingProfile[];
}

/** Props of {@link AzureSpotScaleSet}. */
export interface AzureSpotScaleSetProps extends AzureResourceOptions, AzureSpotScaleSetOptions {
  /** Size(s), capacity and priority mix of this scale set (see `planScaleSets`). */
  readonly plan: ScaleSetPlan;
  /** Availability zones to spread over. */
  readonly zones: string[];
  /** Subnet of the VMs' NICs. */
  readonly subnetId: string;
  /** Load balancer backend pools the VMs join; empty for a fleet without load balancer. */
  readonly backendAddressPoolIds: string[];
  /** Network security group of the VMs' NICs. */
  readonly networkSecurityGroupId: string;
  /** User-assigned managed identity of the VMs. */
  readonly identityId: string;
  /** Cloud-init custom data, base64-encoded. */
  readonly customDataBase64: string;
  /** Health endpoint the Application Health extension probes. */
  readonly health: AzureProbeOptions;
  /**
   * Install the Application Health extension (it probes `health` from inside each VM) and turn on automatic
   * instance repairs. `false`: neither (no `automatic_instance_repair` block at all: the provider refuses one,
   * even disabled, without the health extension).
   * @default true
   */
  readonly autohealing?: boolean;
  /**
   * Profiles of the autoscale setting, in place of the CPU rules.
   * @default - one profile `fleet-bounds` between the plan's bounds: +1 VM above `scaleOutCpuPercent`, -1 below `scaleInCpuPercent`
   */
  readonly autoscaleProfiles?: MonitorAutoscaleSettingProfile[];
  /**
   * Regular (on-demand) priority instead of Spot: no eviction policy, bid price or priority mix, and a terminate
   * notification (`terminationNotificationMinutes`), so the agent drains a VM on `Terminate` before scale-in
   * removes it. What a fleet's `regularBaseScaleSet` uses for its on-demand base.
   * @default false
   */
  readonly regularPriority?: boolean;
  /** Resources the scale set waits for (e.g. the agent blob and the VMs' read access to it). @default - none */
  readonly dependsOn?: ITerraformDependable[];
}

/**
 * One Flexible-orchestration scale set of Spot VMs (or Regular ones, `regularPriority`) with a Spot Priority Mix (Regular VMs for the base
 * and a share above it), its autoscale setting (CPU rules, or the given profiles), the Application Health
 * extension and automatic instance repairs (unless `autohealing` is false). No terminate notification: Azure does
 * not accept one on Spot scale sets; Spot VMs get the Scheduled Events `Preempt` notice.
 * VMs have a managed identity and no public IP.
 */
export class AzureSpotScaleSet extends Construct {
  /** The scale set. */
  public readonly scaleSet: OrchestratedVirtualMachineScaleSet;
  /** Its autoscale setting. */
  public readonly autoscaleSetting: MonitorAutoscaleSetting;
  /** Id of the scale set. */
  public readonly scaleSetId: string;

  constructor(scope: Construct, id: string, props: AzureSpotScaleSetProps) {
    super(scope, id);
    const prefix = props.namePrefix ?? azureName(id);
    const config = this.scaleSetConfig(props, prefix);
    const refused = scaleSetProviderProblems(config);
    if (refused.length > 0) throw new FleetSpecError(refused, this.node.path);
    this.scaleSet = new OrchestratedVirtualMachineScaleSet(this, 'Vmss', config);
    this.scaleSetId = this.scaleSet.id;
    this.autoscaleSetting = this.createAutoscale(props, prefix);
  }

  /** The scale set's configuration, checked against the provider's rules before the resource is created. */
  private scaleSetConfig(props: AzureSpotScaleSetProps, prefix: string): OrchestratedVirtualMachineScaleSetConfig {
    const plan = props.plan;
    const image = props.image ?? UBUNTU_2404_X86_64;
    const isMix = plan.mixVmSizes.length > 0;
    const autohealing = props.autohealing ?? true;
    const regular = props.regularPriority ?? false;
    return {
      name: `${prefix}-vmss`,
      resourceGroupName: props.resourceGroupName,
      location: props.location,
      skuName: plan.skuName,
      skuProfile: isMix ? { allocationStrategy: props.allocationStrategy ?? AzureAllocationStrategy.CAPACITY_OPTIMIZED, vmSizes: plan.mixVmSizes } : undefined,
      instances: plan.desiredCapacity,
      platformFaultDomainCount: 1,
      singlePlacementGroup: false,
      zones: props.zones,
      priority: regular ? 'Regular' : 'Spot',
      evictionPolicy: regular ? undefined : props.evictionPolicy ?? AzureEvictionPolicy.DELETE,
      maxBidPrice: regular ? undefined : props.maxBidPrice ?? -1,
      priorityMix: regular ? undefined : { baseRegularCount: plan.baseRegularCount, regularPercentageAboveBase: plan.regularPercentageAboveBase },
      // termination_notification on Regular scale sets only: Azure does not accept it on Spot scale sets (Azure's
      // terminate-notification docs: "Terminate notifications cannot be enabled on Spot instances";
      // MicrosoftDocs/azure-docs#66962). Spot VMs get the Scheduled Events Preempt notice (at least 30 s) instead.
      terminationNotification: regular ? { enabled: true, timeout: `PT${numberText(props.terminationNotificationMinutes ?? 5)}M` } : undefined,
      // automatic_instance_repair only with the health extension: the provider refuses the block whenever it is
      // present without one, even `enabled = false` (orchestrated_virtual_machine_scale_set create, v4.55.0).
      automaticInstanceRepair: autohealing ? { enabled: true, gracePeriod: `PT${numberText(props.repairGracePeriodMinutes ?? 30)}M`, action: 'Replace' } : undefined,
      extension: autohealing
        ? [
            {
              name: 'HealthExtension',
              publisher: 'Microsoft.ManagedServices',
              type: 'ApplicationHealthLinux',
              typeHandlerVersion: '2.0',
              autoUpgradeMinorVersionEnabled: true,
              settings: JSON.stringify({
                protocol: 'http',
                port: props.health.port,
                requestPath: props.health.path,
                intervalInSeconds: props.health.intervalSeconds,
                numberOfProbes: props.health.threshold,
              }),
            },
          ]
        : undefined,
      identity: { type: 'UserAssigned', identityIds: [props.identityId] },
      osProfile: {
        customData: props.customDataBase64,
        linuxConfiguration: {
          adminUsername: props.adminUsername ?? 'azureuser',
          disablePasswordAuthentication: true,
          adminSshKey: [{ username: props.adminUsername ?? 'azureuser', publicKey: props.adminSshPublicKey }],
          computerNamePrefix: prefix.slice(0, 50),
          provisionVmAgent: true,
        },
      },
      sourceImageReference: { publisher: image.publisher, offer: image.offer, sku: image.sku, version: image.version ?? 'latest' },
      osDisk: {
        caching: 'ReadWrite',
        storageAccountType: props.osDiskStorageAccountType ?? 'StandardSSD_LRS',
        diskSizeGb: props.osDiskSizeGb,
        diskEncryptionSetId: props.diskEncryptionSetId,
      },
      encryptionAtHostEnabled: props.encryptionAtHostEnabled,
      networkInterface: [
        {
          name: 'nic',
          primary: true,
          networkSecurityGroupId: props.networkSecurityGroupId,
          ipConfiguration: [
            {
              name: 'ipconfig',
              primary: true,
              subnetId: props.subnetId,
              loadBalancerBackendAddressPoolIds: props.backendAddressPoolIds.length > 0 ? props.backendAddressPoolIds : undefined,
            },
          ],
        },
      ],
      tags: props.tags,
      // Autoscale owns the instance count after creation; Terraform must not undo it.
      lifecycle: { ignoreChanges: ['instances'] },
      dependsOn: props.dependsOn,
    };
  }

  /** The autoscale setting: the given profiles, or +1 / -1 VM on average CPU between the plan's bounds. */
  private createAutoscale(props: AzureSpotScaleSetProps, prefix: string): MonitorAutoscaleSetting {
    const plan = props.plan;
    const metric = {
      metricName: 'Percentage CPU',
      metricNamespace: 'microsoft.compute/virtualmachinescalesets',
      metricResourceId: this.scaleSet.id,
      timeGrain: 'PT1M',
      statistic: 'Average',
      timeWindow: 'PT5M',
      timeAggregation: 'Average',
    };
    return new MonitorAutoscaleSetting(this, 'Autoscale', {
      name: `${prefix}-autoscale`,
      resourceGroupName: props.resourceGroupName,
      location: props.location,
      targetResourceId: this.scaleSet.id,
      profile: props.autoscaleProfiles ?? [
        {
          name: 'fleet-bounds',
          capacity: { minimum: plan.minCapacity, maximum: plan.maxCapacity, default: plan.desiredCapacity },
          rule: [
            {
              metricTrigger: { ...metric, operator: 'GreaterThan', threshold: props.scaleOutCpuPercent ?? 70 },
              scaleAction: { direction: 'Increase', type: 'ChangeCount', value: 1, cooldown: 'PT5M' },
            },
            {
              metricTrigger: { ...metric, operator: 'LessThan', threshold: props.scaleInCpuPercent ?? 30 },
              scaleAction: { direction: 'Decrease', type: 'ChangeCount', value: 1, cooldown: 'PT10M' },
            },
          ],
        },
      ],
      tags: props.tags,
    });
  }
}

/** @deprecated use {@link AzureSpotScaleSet} (the same class: one naming scheme across the clouds, see docs/names.md). */
export const SpotScaleSet = AzureSpotScaleSet;
/** @deprecated use {@link AzureSpotScaleSet}. */
export type SpotScaleSet = AzureSpotScaleSet;

/** @deprecated use {@link AzureSpotScaleSetProps} (one naming scheme across the clouds, see docs/names.md). */
export type SpotScaleSetProps = AzureSpotScaleSetProps;

/** @deprecated use {@link AzureSpotScaleSetOptions} (one naming scheme across the clouds, see docs/names.md). */
export type SpotScaleSetOptions = AzureSpotScaleSetOptions;
