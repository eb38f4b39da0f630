import { Testing } from 'cdktf';
import { AzureSpotScaleSet, AzureSpotScaleSetProps } from '../../../constructs/azure';
import { ScaleSetRuleInput, checkedPublicIp, probeProviderProblems, publicIpProviderProblems, scaleSetProviderProblems, securityRuleProviderProblems } from '../../../constructs/azure/provider-rules';
import { FleetSpecErrorCode } from '../../../lib/spec';

// What terraform-provider-azurerm v4.55.0 (and, for terminate notifications, Azure) refuses, checked at synth.
const HEALTH = { name: 'HealthExtension', publisher: 'Microsoft.ManagedServices', type: 'ApplicationHealthLinux', typeHandlerVersion: '2.0' };
const OK: ScaleSetRuleInput = {
  skuName: 'Standard_D4s_v5',
  instances: 2,
  priority: 'Spot',
  evictionPolicy: 'Delete',
  maxBidPrice: -1,
  priorityMix: { baseRegularCount: 1, regularPercentageAboveBase: 0 },
  platformFaultDomainCount: 1,
  zones: ['1', '2'],
  automaticInstanceRepair: { enabled: true, gracePeriod: 'PT30M' },
  extension: [HEALTH],
  osProfile: { linuxConfiguration: { adminUsername: 'azureuser', provisionVmAgent: true } },
};
const messages = (s: Partial<ScaleSetRuleInput>): string[] => scaleSetProviderProblems({ ...OK, ...s }).map((p) => p.message);

describe('scale set rules of the azurerm provider', () => {
  test('what the fleet renders passes', () => {
    expect(scaleSetProviderProblems(OK)).toEqual([]);
    expect(scaleSetProviderProblems({ ...OK, automaticInstanceRepair: undefined, extension: undefined })).toEqual([]);
  });

  test('automatic_instance_repair without an Application Health extension, even disabled (create path)', () => {
    const problems = scaleSetProviderProblems({ ...OK, automaticInstanceRepair: { enabled: false }, extension: undefined });
    expect(problems).toEqual([expect.objectContaining({ code: FleetSpecErrorCode.AZURE_PROVIDER_RULE, prop: 'automatic_instance_repair' })]);
    expect(problems[0].message).toMatch(/automatic_instance_repair: the azurerm provider refuses this scale set: "`automatic_instance_repair` can only be enabled when an application health extension is configured" \(terraform-provider-azurerm v4.55.0, orchestrated_virtual_machine_scale_set\); the block is present \(enabled = false\) and no extension is of type ApplicationHealthLinux or ApplicationHealthWindows: leave the automatic_instance_repair block out entirely/);
    expect(messages({ extension: [{ ...HEALTH, type: 'CustomScript' }] })[0]).toMatch(/can only be enabled when an application health extension is configured/);
  });

  test('terminate notification on a Spot scale set (Azure, not the provider)', () => {
    expect(messages({ terminationNotification: { enabled: true, timeout: 'PT5M' } })).toEqual([
      expect.stringMatching(/termination_notification: Azure does not accept terminate notifications on a Spot scale set \("Terminate notifications cannot be enabled on Spot instances", Azure docs: virtual-machine-scale-sets-terminate-notification; MicrosoftDocs\/azure-docs#66962\); leave the block out/),
    ]);
    expect(messages({ priority: 'Regular', evictionPolicy: undefined, maxBidPrice: undefined, priorityMix: undefined, terminationNotification: { enabled: true, timeout: 'PT5M' } })).toEqual([]);
  });

  test('sku_profile and sku_name "Mix" go together (CustomizeDiff); a mix needs one fault domain', () => {
    expect(messages({ skuProfile: { allocationStrategy: 'CapacityOptimized', vmSizes: ['Standard_D4s_v5'] } })).toEqual([expect.stringMatching(/"`sku_profile` can only be set when `sku_name` is set to `Mix`" .*; sku_name is "Standard_D4s_v5"/)]);
    expect(messages({ skuName: 'Mix' })).toEqual([expect.stringMatching(/"`sku_profile` must be set when `sku_name` is set to `Mix`"/)]);
    expect(messages({ skuName: 'Mix', skuProfile: { allocationStrategy: 'LowestPrice', vmSizes: ['Standard_D4s_v5'] }, platformFaultDomainCount: 5 })).toEqual([
      expect.stringMatching(/"`sku_profile` can only be configured when `platform_fault_domain_count` is set to `1`, got `5`"/),
    ]);
  });

  test('sku_name must be formatted properly; instances within 0-1000', () => {
    expect(messages({ skuName: 'D4s' })).toEqual([expect.stringMatching(/"`sku_name`\(`D4s`\) is not formatted properly"/)]);
    expect(messages({ skuName: 'Standard__D4s' })).toEqual([expect.stringMatching(/is not formatted properly/)]);
    expect(messages({ instances: 1001 })).toEqual([expect.stringMatching(/"expected instances to be in the range \(0 - 1000\), got 1001"/)]);
  });

  test('Spot-only arguments and the Spot eviction policy', () => {
    expect(messages({ evictionPolicy: undefined })).toEqual([expect.stringMatching(/"`eviction_policy` is required when `priority` is set to `Spot`"/)]);
    const regular = messages({ priority: 'Regular', maxBidPrice: 0.5 });
    expect(regular).toEqual([
      expect.stringMatching(/"`eviction_policy` can only be specified when `priority` is set to `Spot`"/),
      expect.stringMatching(/"`max_bid_price` can only be configured when `priority` is set to `Spot`"/),
      expect.stringMatching(/"`priority_mix` can only be specified when `priority` is set to `Spot`"/),
    ]);
  });

  test('upgrade mode, zone balance, VM agent, capacity reservation', () => {
    expect(messages({ upgradeMode: 'Rolling', extension: undefined, automaticInstanceRepair: undefined })).toEqual([
      expect.stringMatching(/"a health extension must be specified when `upgrade_mode` is set to `Rolling`"/),
      expect.stringMatching(/"a `rolling_upgrade_policy` block must be specified when `upgrade_mode` is set to `Rolling`"/),
    ]);
    expect(messages({ rollingUpgradePolicy: { maxBatchInstancePercent: 20, maxUnhealthyInstancePercent: 20, maxUnhealthyUpgradedInstancePercent: 20, pauseTimeBetweenBatches: 'PT0S' } })).toEqual([
      expect.stringMatching(/"a `rolling_upgrade_policy` block cannot be specified when `upgrade_mode` is set to `Manual`"/),
    ]);
    expect(messages({ zoneBalance: true, zones: [] })).toEqual([expect.stringMatching(/"`zone_balance` can only be set to `true` when availability zones are specified"/)]);
    expect(messages({ osProfile: { linuxConfiguration: { adminUsername: 'a', provisionVmAgent: false } } })).toEqual([expect.stringMatching(/"`extension_operations_enabled` cannot be set to `true` when `provision_vm_agent` is set to `false`"/)]);
    expect(messages({ capacityReservationGroupId: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/capacityReservationGroups/c', singlePlacementGroup: true })).toEqual([
      expect.stringMatching(/"`single_placement_group` must be set to `false` when `capacity_reservation_group_id` is specified"/),
    ]);
  });
});

describe('load balancer probe rules of the azurerm provider', () => {
  test('port, interval, threshold, request path', () => {
    expect(probeProviderProblems({ port: 9901, intervalInSeconds: 5, probeThreshold: 2, protocol: 'Http', requestPath: '/health' })).toEqual([]);
    const m = probeProviderProblems({ port: 70000, intervalInSeconds: 3, probeThreshold: 0, protocol: 'Http' }).map((p) => p.message);
    expect(m).toEqual([
      expect.stringMatching(/port: the azurerm provider refuses this load balancer probe: "expected port to be a valid port number, got 70000"/),
      expect.stringMatching(/interval_in_seconds: .*"expected interval_in_seconds to be at least \(5\), got 3"/),
      expect.stringMatching(/probe_threshold: .*"expected probe_threshold to be in the range \(1 - 100\), got 0"/),
      expect.stringMatching(/request_path: Azure refuses an Http or Https load balancer probe without a request path/),
    ]);
  });
});

describe('network rules of the azurerm provider', () => {
  test('a Standard public IP must be Static (create path)', () => {
    expect(publicIpProviderProblems({ sku: 'Standard', allocationMethod: 'Static' })).toEqual([]);
    expect(publicIpProviderProblems({ sku: 'Standard', allocationMethod: 'Dynamic' })[0].message).toMatch(
      /allocation_method: the azurerm provider refuses this public IP: "Static IP allocation must be used when creating Standard SKU public IP addresses." \(terraform-provider-azurerm v4.55.0, public_ip\); the allocation method is "Dynamic": use Static/,
    );
    expect(() => Testing.synthScope((scope) => checkedPublicIp(scope, 'Ip', { name: 'ip', resourceGroupName: 'rg', location: 'eastus2', sku: 'Standard', allocationMethod: 'Dynamic' }))).toThrow(/Static IP allocation must be used/);
  });

  test('security rule priority 100-4096; single and plural prefixes conflict (schema)', () => {
    const base = { name: 'allow', priority: 100, sourceAddressPrefix: 'AzureLoadBalancer', destinationPortRange: '80' };
    expect(securityRuleProviderProblems(base)).toEqual([]);
    expect(securityRuleProviderProblems({ ...base, priority: 4097, sourceAddressPrefixes: ['10.0.0.0/8'], destinationPortRanges: ['81'] }).map((p) => p.message)).toEqual([
      expect.stringMatching(/priority: the azurerm provider refuses network security rule "allow": "expected priority to be in the range \(100 - 4096\), got 4097"/),
      expect.stringMatching(/source_address_prefix: .*conflicts with source_address_prefixes/),
      expect.stringMatching(/destination_port_range: .*conflicts with destination_port_ranges/),
    ]);
  });
});

describe('AzureSpotScaleSet applies the rules to what it renders', () => {
  const props: AzureSpotScaleSetProps = {
    resourceGroupName: 'rg',
    location: 'eastus2',
    adminSshPublicKey: 'ssh-ed25519 AAAA test',
    plan: { skuName: 'Standard_D4s_v5', mixVmSizes: [], minCapacity: 0, maxCapacity: 2, desiredCapacity: 0, baseRegularCount: 0, regularPercentageAboveBase: 0 },
    zones: ['1', '2'],
    subnetId: '/subnet',
    backendAddressPoolIds: [],
    networkSecurityGroupId: '/nsg',
    identityId: '/identity',
    customDataBase64: 'IyE=',
    health: { port: 9901, path: '/health', intervalSeconds: 5, threshold: 2 },
  };

  test('autohealing off renders neither the extension nor a repair block: the queue example no longer trips the provider', () => {
    const json = JSON.parse(Testing.synthScope((scope) => new AzureSpotScaleSet(scope, 'Set', { ...props, autohealing: false })));
    const set: any = Object.values(json.resource.azurerm_orchestrated_virtual_machine_scale_set)[0];
    expect(set.automatic_instance_repair).toBeUndefined();
    expect(set.extension).toBeUndefined();
    expect(set.termination_notification).toBeUndefined();
    expect(set).toMatchObject({ priority: 'Spot', eviction_policy: 'Delete' });
  });

  test('a plan the provider refuses throws at synth with the provider\'s reason', () => {
    expect(() => Testing.synthScope((scope) => new AzureSpotScaleSet(scope, 'Set', { ...props, plan: { ...props.plan, skuName: 'Mix' } }))).toThrow(/sku_profile: the azurerm provider refuses this scale set: "`sku_profile` must be set when `sku_name` is set to `Mix`"/);
    expect(() => Testing.synthScope((scope) => new AzureSpotScaleSet(scope, 'Set', { ...props, plan: { ...props.plan, desiredCapacity: 1200 } }))).toThrow(/expected instances to be in the range \(0 - 1000\), got 1200/);
  });
});
