import { NetworkSecurityRule, NetworkSecurityRuleConfig } from '@cdktf/provider-azurerm/lib/network-security-rule';
import { OrchestratedVirtualMachineScaleSetConfig } from '@cdktf/provider-azurerm/lib/orchestrated-virtual-machine-scale-set';
import { PublicIp, PublicIpConfig } from '@cdktf/provider-azurerm/lib/public-ip';
import { Token } from 'cdktf';
import { Construct } from 'constructs';
import { FleetSpecError, FleetSpecErrorCode, FleetSpecProblem } from '../../lib/spec/errors';

/**
 * What `terraform apply` (or `plan`) would refuse for the resources this package renders, checked at synth.
 *
 * Each rule carries the provider's own reason, quoted from hashicorp/terraform-provider-azurerm v4.55.0 (the version
 * `@cdktf/provider-azurerm` 14.23.1 wraps): the create path and the CustomizeDiff of
 * `internal/services/compute/orchestrated_virtual_machine_scale_set_resource.go`, and the schema validation of
 * `internal/services/loadbalancer/lb_probe_resource.go`. One rule comes from Azure itself, not the provider (which
 * passes it through unchecked): terminate notifications on Spot.
 *
 * The renderers never produce these on their own (the tests prove that for every example); the rules guard the
 * renderers and the `AzureSpotScaleSet` escape hatches (`extension`, `autohealing`) against regressions, and turn a
 * deploy-time failure 20 minutes into an apply into a synth-time one.
 */

/** The extension types the provider counts as an Application Health extension (`hasHealthExtension`). */
export const APPLICATION_HEALTH_EXTENSION_TYPES = ['ApplicationHealthLinux', 'ApplicationHealthWindows'];

/** The part of a scale set's configuration the provider rules look at. */
export type ScaleSetRuleInput = Pick<
  OrchestratedVirtualMachineScaleSetConfig,
  | 'skuName'
  | 'skuProfile'
  | 'instances'
  | 'priority'
  | 'evictionPolicy'
  | 'maxBidPrice'
  | 'priorityMix'
  | 'automaticInstanceRepair'
  | 'extension'
  | 'terminationNotification'
  | 'platformFaultDomainCount'
  | 'upgradeMode'
  | 'rollingUpgradePolicy'
  | 'zoneBalance'
  | 'zones'
  | 'extensionOperationsEnabled'
  | 'osProfile'
  | 'capacityReservationGroupId'
  | 'singlePlacementGroup'
>;

const C = FleetSpecErrorCode;
const SOURCE = 'terraform-provider-azurerm v4.55.0, orchestrated_virtual_machine_scale_set';
const known = (x: unknown): boolean => x !== undefined && !Token.isUnresolved(x);

/**
 * Every problem the azurerm provider (or Azure, for terminate notifications on Spot) would report creating this
 * Flexible-orchestration scale set. `prop` names the resource argument.
 */
export function scaleSetProviderProblems(s: ScaleSetRuleInput): FleetSpecProblem[] {
  const out: FleetSpecProblem[] = [];
  const add = (prop: string, reason: string, fix: string, source = SOURCE): void => {
    out.push({ code: C.AZURE_PROVIDER_RULE, prop, message: `${prop}: the azurerm provider refuses this scale set: "${reason}" (${source}); ${fix}` });
  };
  const extensions = Array.isArray(s.extension) ? s.extension : [];
  const hasHealthExtension = extensions.some((e) => APPLICATION_HEALTH_EXTENSION_TYPES.includes(e.type));
  const spot = s.priority === 'Spot';

  // Create: `if v, ok := d.GetOk("automatic_instance_repair"); ok { if !hasHealthExtension { ... } }`. GetOk is true
  // for a one-item block even with `enabled = false`, so the block itself must be left out.
  if (s.automaticInstanceRepair !== undefined && !Token.isUnresolved(s.extension) && !hasHealthExtension) {
    add('automatic_instance_repair', '`automatic_instance_repair` can only be enabled when an application health extension is configured',
      `the block is present (enabled = ${String((s.automaticInstanceRepair as { enabled?: unknown }).enabled)}) and no extension is of type ${APPLICATION_HEALTH_EXTENSION_TYPES.join(' or ')}: leave the automatic_instance_repair block out entirely, or add the Application Health extension (AzureSpotScaleSet does both when autohealing is true)`);
  }
  // Create: a Rolling upgrade needs the health extension; CustomizeDiff: rolling_upgrade_policy iff Rolling.
  if (s.upgradeMode === 'Rolling' && !Token.isUnresolved(s.extension) && !hasHealthExtension) {
    add('upgrade_mode', 'a health extension must be specified when `upgrade_mode` is set to `Rolling`', 'add the Application Health extension or use upgrade_mode Manual');
  }
  if ((s.upgradeMode ?? 'Manual') === 'Manual' && s.rollingUpgradePolicy !== undefined) {
    add('rolling_upgrade_policy', 'a `rolling_upgrade_policy` block cannot be specified when `upgrade_mode` is set to `Manual`', 'leave rolling_upgrade_policy out or set upgrade_mode Rolling');
  }
  if (s.upgradeMode === 'Rolling' && s.rollingUpgradePolicy === undefined) {
    add('rolling_upgrade_policy', 'a `rolling_upgrade_policy` block must be specified when `upgrade_mode` is set to `Rolling`', 'add a rolling_upgrade_policy block');
  }
  // CustomizeDiff: sku_profile iff sku_name = "Mix"; and (newer CustomizeDiff) a mix needs platform_fault_domain_count 1.
  if (known(s.skuName)) {
    if (s.skuProfile !== undefined && s.skuName !== 'Mix') {
      add('sku_profile', '`sku_profile` can only be set when `sku_name` is set to `Mix`', `sku_name is "${s.skuName}": leave sku_profile out, or set sku_name "Mix" to run an instance mix`);
    }
    if (s.skuProfile === undefined && s.skuName === 'Mix') {
      add('sku_profile', '`sku_profile` must be set when `sku_name` is set to `Mix`', 'list the mix sizes in sku_profile.vm_sizes');
    }
    // Create (expandOrchestratedVirtualMachineScaleSetSku): a name without "_", or with "__" or a space.
    const name = s.skuName as string;
    if ((name !== 'Mix' && name.split('_').length < 2) || name.includes('__') || name.includes(' ')) {
      add('sku_name', `\`sku_name\`(\`${name}\`) is not formatted properly`, 'give a size such as "Standard_D4s_v5", or "Mix" with a sku_profile');
    }
  }
  if (s.skuProfile !== undefined && known(s.platformFaultDomainCount) && s.platformFaultDomainCount !== 1) {
    add('platform_fault_domain_count', `\`sku_profile\` can only be configured when \`platform_fault_domain_count\` is set to \`1\`, got \`${s.platformFaultDomainCount}\``, 'set platform_fault_domain_count to 1 (an instance mix spreads over zones instead of fault domains)');
  }
  // Schema: instances IntBetween(0, 1000).
  if (known(s.instances) && !(Number.isInteger(s.instances) && (s.instances as number) >= 0 && (s.instances as number) <= 1000)) {
    add('instances', `expected instances to be in the range (0 - 1000), got ${s.instances}`, 'keep a scale set between 0 and 1000 VMs (the fleet splits larger capacities over several scale sets)');
  }
  // Create: eviction_policy with Spot only, and required with Spot; max_bid_price > 0 and priority_mix with Spot only.
  if (known(s.priority)) {
    if (s.evictionPolicy !== undefined && !spot) {
      add('eviction_policy', '`eviction_policy` can only be specified when `priority` is set to `Spot`', 'leave eviction_policy out on a Regular scale set');
    }
    if (s.evictionPolicy === undefined && spot) {
      add('eviction_policy', '`eviction_policy` is required when `priority` is set to `Spot`', 'set eviction_policy to Delete (or Deallocate)');
    }
    if (known(s.maxBidPrice) && (s.maxBidPrice as number) > 0 && !spot) {
      add('max_bid_price', '`max_bid_price` can only be configured when `priority` is set to `Spot`', 'leave max_bid_price out on a Regular scale set');
    }
    if (s.priorityMix !== undefined && !spot) {
      add('priority_mix', '`priority_mix` can only be specified when `priority` is set to `Spot`', 'leave priority_mix out on a Regular scale set');
    }
  }
  // Not a provider rule: Azure's terminate-notification documentation ("Terminate notifications cannot be enabled on
  // Spot instances", learn.microsoft.com/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-terminate-notification;
  // MicrosoftDocs/azure-docs issue 66962 reports the same in practice). The provider passes the block through unchecked.
  const tn = s.terminationNotification as { enabled?: unknown } | undefined;
  if (spot && tn !== undefined && tn.enabled !== false) {
    out.push({
      code: C.AZURE_TERMINATE_NOTIFICATION,
      prop: 'termination_notification',
      message: 'termination_notification: Azure does not accept terminate notifications on a Spot scale set ("Terminate notifications cannot be enabled on Spot instances", Azure docs: virtual-machine-scale-sets-terminate-notification; MicrosoftDocs/azure-docs#66962); leave the block out: Spot VMs get the Scheduled Events Preempt notice (at least 30 s) instead',
    });
  }
  // Create: zone_balance needs zones.
  if (s.zoneBalance === true && known(s.zones) && (s.zones ?? []).length === 0) {
    add('zone_balance', '`zone_balance` can only be set to `true` when availability zones are specified', 'list zones or leave zone_balance out');
  }
  // Create: extension_operations_enabled (default true) needs provision_vm_agent.
  const linux = s.osProfile?.linuxConfiguration as { provisionVmAgent?: unknown } | undefined;
  if ((s.extensionOperationsEnabled ?? true) === true && linux && linux.provisionVmAgent === false) {
    add('extension_operations_enabled', '`extension_operations_enabled` cannot be set to `true` when `provision_vm_agent` is set to `false`', 'keep provision_vm_agent true (the Application Health extension needs the VM agent) or set extension_operations_enabled false');
  }
  // Create: a capacity reservation needs single_placement_group false.
  if (s.capacityReservationGroupId !== undefined && s.singlePlacementGroup === true) {
    add('single_placement_group', '`single_placement_group` must be set to `false` when `capacity_reservation_group_id` is specified', 'set single_placement_group false');
  }
  return out;
}

/** The part of a load balancer probe the provider's schema validates. */
export interface ProbeRuleInput {
  readonly port: number;
  readonly intervalInSeconds?: number;
  readonly probeThreshold?: number;
  readonly protocol?: string;
  readonly requestPath?: string;
}

/**
 * Problems the azurerm provider's schema reports for an `azurerm_lb_probe` (lb_probe_resource.go: `port`
 * IsPortNumber, `interval_in_seconds` IntAtLeast(5), `probe_threshold` IntBetween(1, 100)); Azure itself needs a
 * request path for an HTTP(S) probe.
 */
export function probeProviderProblems(p: ProbeRuleInput): FleetSpecProblem[] {
  const out: FleetSpecProblem[] = [];
  const add = (prop: string, reason: string, fix: string): void => {
    out.push({ code: C.AZURE_PROVIDER_RULE, prop, message: `${prop}: the azurerm provider refuses this load balancer probe: "${reason}" (terraform-provider-azurerm v4.55.0, lb_probe); ${fix}` });
  };
  if (known(p.port) && !(Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535)) {
    add('port', `expected port to be a valid port number, got ${p.port}`, 'use a port from 1 to 65535');
  }
  if (known(p.intervalInSeconds) && (p.intervalInSeconds as number) < 5) {
    add('interval_in_seconds', `expected interval_in_seconds to be at least (5), got ${p.intervalInSeconds}`, 'probe every 5 seconds or more (healthCheck.intervalSeconds)');
  }
  if (known(p.probeThreshold) && !((p.probeThreshold as number) >= 1 && (p.probeThreshold as number) <= 100)) {
    add('probe_threshold', `expected probe_threshold to be in the range (1 - 100), got ${p.probeThreshold}`, 'use 1 to 100 consecutive probes (healthCheck.unhealthyThreshold)');
  }
  if ((p.protocol === 'Http' || p.protocol === 'Https') && known(p.requestPath) === false && p.requestPath === undefined) {
    out.push({ code: C.AZURE_PROVIDER_RULE, prop: 'request_path', message: 'request_path: Azure refuses an Http or Https load balancer probe without a request path; set the probe path (healthCheck.path)' });
  }
  return out;
}

/** The part of a public IP the provider's create path checks. */
export interface PublicIpRuleInput {
  readonly sku?: string;
  readonly allocationMethod: string;
}

/**
 * Problems of an `azurerm_public_ip` (network `public_ip_resource.go`, create): "Static IP allocation must be used
 * when creating Standard SKU public IP addresses." The load balancer's frontend and the NAT gateway both use one.
 */
export function publicIpProviderProblems(p: PublicIpRuleInput): FleetSpecProblem[] {
  if (!known(p.sku) || !known(p.allocationMethod)) return [];
  if ((p.sku ?? 'Standard').toLowerCase() === 'standard' && p.allocationMethod.toLowerCase() !== 'static') {
    return [{ code: C.AZURE_PROVIDER_RULE, prop: 'allocation_method', message: `allocation_method: the azurerm provider refuses this public IP: "Static IP allocation must be used when creating Standard SKU public IP addresses." (terraform-provider-azurerm v4.55.0, public_ip); the allocation method is "${p.allocationMethod}": use Static` }];
  }
  return [];
}

/** The part of a network security rule the provider's schema validates. */
export interface SecurityRuleInput {
  readonly name: string;
  readonly priority: number;
  readonly sourceAddressPrefix?: string;
  readonly sourceAddressPrefixes?: string[];
  readonly destinationPortRange?: string;
  readonly destinationPortRanges?: string[];
}

/**
 * Problems of an `azurerm_network_security_rule` (network `network_security_rule_resource.go` schema): `priority`
 * IntBetween(100, 4096), and `source_address_prefix` / `source_address_prefixes` (likewise the destination port
 * range and ranges) conflict with each other.
 */
export function securityRuleProviderProblems(r: SecurityRuleInput): FleetSpecProblem[] {
  const out: FleetSpecProblem[] = [];
  const add = (prop: string, reason: string, fix: string): void => {
    out.push({ code: C.AZURE_PROVIDER_RULE, prop, message: `${prop}: the azurerm provider refuses network security rule "${r.name}": "${reason}" (terraform-provider-azurerm v4.55.0, network_security_rule); ${fix}` });
  };
  if (known(r.priority) && !(Number.isInteger(r.priority) && r.priority >= 100 && r.priority <= 4096)) {
    add('priority', `expected priority to be in the range (100 - 4096), got ${r.priority}`, 'use a priority from 100 to 4096');
  }
  if (r.sourceAddressPrefix !== undefined && r.sourceAddressPrefixes !== undefined) {
    add('source_address_prefix', '"source_address_prefix": conflicts with source_address_prefixes', 'give one of them');
  }
  if (r.destinationPortRange !== undefined && r.destinationPortRanges !== undefined) {
    add('destination_port_range', '"destination_port_range": conflicts with destination_port_ranges', 'give one of them');
  }
  return out;
}

/** A public IP, created after the provider's create-time rule passed. */
export function checkedPublicIp(scope: Construct, id: string, config: PublicIpConfig): PublicIp {
  const refused = publicIpProviderProblems(config);
  if (refused.length > 0) throw new FleetSpecError(refused, `${scope.node.path}/${id}`);
  return new PublicIp(scope, id, config);
}

/** A network security rule, created after the provider's schema rules passed. */
export function checkedSecurityRule(scope: Construct, id: string, config: NetworkSecurityRuleConfig): NetworkSecurityRule {
  const refused = securityRuleProviderProblems(config);
  if (refused.length > 0) throw new FleetSpecError(refused, `${scope.node.path}/${id}`);
  return new NetworkSecurityRule(scope, id, config);
}
