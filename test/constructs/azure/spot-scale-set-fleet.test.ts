import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Lb } from '@cdktf/provider-azurerm/lib/lb';
import { LbBackendAddressPool } from '@cdktf/provider-azurerm/lib/lb-backend-address-pool';
import { LbProbe } from '@cdktf/provider-azurerm/lib/lb-probe';
import { LbRule } from '@cdktf/provider-azurerm/lib/lb-rule';
import { MonitorAutoscaleSetting } from '@cdktf/provider-azurerm/lib/monitor-autoscale-setting';
import { NatGateway } from '@cdktf/provider-azurerm/lib/nat-gateway';
import { NetworkSecurityRule } from '@cdktf/provider-azurerm/lib/network-security-rule';
import { OrchestratedVirtualMachineScaleSet } from '@cdktf/provider-azurerm/lib/orchestrated-virtual-machine-scale-set';
import { PublicIp } from '@cdktf/provider-azurerm/lib/public-ip';
import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment';
import { StorageAccount } from '@cdktf/provider-azurerm/lib/storage-account';
import { StorageBlob } from '@cdktf/provider-azurerm/lib/storage-blob';
import { StorageContainer } from '@cdktf/provider-azurerm/lib/storage-container';
import { Subnet } from '@cdktf/provider-azurerm/lib/subnet';
import { SubnetNetworkSecurityGroupAssociation } from '@cdktf/provider-azurerm/lib/subnet-network-security-group-association';
import { UserAssignedIdentity } from '@cdktf/provider-azurerm/lib/user-assigned-identity';
import { Fn, Testing, Token } from 'cdktf';
import { AgentDelivery, AzureAllocationStrategy, AzureEvictionPolicy, AzureSizeStrategy, AzureSpotFleet, AzureSpotFleetProps } from '../../../constructs/azure';
import { DrainMode } from '../../../lib/runtime/agent-config';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';

Testing.setupJest();

const dir = mkdtempSync(join(tmpdir(), 'azure-fleet-'));
const SMALL_BUNDLE = join(dir, 'small.js');
const LARGE_BUNDLE = join(dir, 'large.js');
writeFileSync(SMALL_BUNDLE, `"use strict";${'console.log("spot-agent watching Scheduled Events");'.repeat(400)}`);
writeFileSync(LARGE_BUNDLE, randomBytes(80_000).toString('base64')); // does not compress: too large inline

const GPU: AzureSpotFleetProps = {
  resourceGroupName: 'rg-spot',
  location: 'eastus2',
  adminSshPublicKey: 'ssh-rsa AAAAB3NzaC1yc2E test',
  instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'],
  minCapacity: 2,
  maxCapacity: 9,
  desiredCapacity: 3,
  onDemandBaseCapacity: 1,
  onDemandPercentageAboveBaseCapacity: 20,
  agentBundlePath: SMALL_BUNDLE,
};
const CPU: AzureSpotFleetProps = { ...GPU, instanceTypes: ['Standard_D4s_v5', 'Standard_D4as_v5', 'Standard_E4s_v5'] };

function synth(props: AzureSpotFleetProps): { out: string; json: any; fleet: AzureSpotFleet } {
  let fleet!: AzureSpotFleet;
  const out = Testing.synthScope((scope) => {
    fleet = new AzureSpotFleet(scope, 'InferenceFleet', props);
  });
  return { out, json: JSON.parse(out), fleet };
}
const resources = (json: any, type: string): any[] => Object.values(json.resource[type] ?? {});
function errorOf(props: AzureSpotFleetProps): FleetSpecError {
  try {
    synth(props);
  } catch (e) {
    if (e instanceof FleetSpecError) return e;
    throw e;
  }
  throw new Error('expected a FleetSpecError');
}

describe('GPU fleet: one scale set per size', () => {
  const { out, json, fleet } = synth(GPU);

  test('two Flexible scale sets at Spot priority with a priority mix from the spec', () => {
    const sets = resources(json, 'azurerm_orchestrated_virtual_machine_scale_set');
    expect(sets).toHaveLength(2);
    expect(sets.map((s) => s.sku_name)).toEqual(['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3']);
    expect(sets.map((s) => s.priority_mix)).toEqual([
      { base_regular_count: 1, regular_percentage_above_base: 20 },
      { base_regular_count: 0, regular_percentage_above_base: 20 },
    ]);
    expect(sets.map((s) => s.instances)).toEqual([2, 1]);
    for (const s of sets) {
      expect(s.sku_profile).toBeUndefined();
      expect(s.lifecycle).toEqual({ ignore_changes: ['instances'] });
      // Azure does not accept terminate notifications on Spot scale sets: the block is left out.
      expect(s.termination_notification).toBeUndefined();
    }
    expect(out).toHaveResourceWithProperties(OrchestratedVirtualMachineScaleSet, {
      priority: 'Spot',
      eviction_policy: 'Delete',
      max_bid_price: -1,
      zones: ['1', '2', '3'],
      platform_fault_domain_count: 1,
      single_placement_group: false,
      automatic_instance_repair: { enabled: true, grace_period: 'PT30M', action: 'Replace' },
      identity: expect.objectContaining({ type: 'UserAssigned' }),
      os_disk: { caching: 'ReadWrite', storage_account_type: 'StandardSSD_LRS' },
      source_image_reference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
    });
  });

  test('no public IP on the VMs, NICs in the backend pool and behind the security group, password login off', () => {
    for (const s of resources(json, 'azurerm_orchestrated_virtual_machine_scale_set')) {
      const nic = s.network_interface[0];
      expect(nic.network_security_group_id).toMatch(/azurerm_network_security_group\./);
      expect(nic.ip_configuration[0].public_ip_address).toBeUndefined();
      expect(nic.ip_configuration[0].load_balancer_backend_address_pool_ids).toEqual([expect.stringMatching(/azurerm_lb_backend_address_pool\..*\.id/)]);
      expect(nic.ip_configuration[0].subnet_id).toMatch(/azurerm_subnet\./);
      expect(s.os_profile.linux_configuration).toMatchObject({ disable_password_authentication: true, admin_username: 'azureuser', admin_ssh_key: [{ username: 'azureuser', public_key: GPU.adminSshPublicKey }] });
      expect(s.identity.identity_ids).toEqual([expect.stringMatching(/azurerm_user_assigned_identity\..*\.id/)]);
    }
    expect(out).toHaveResource(UserAssignedIdentity);
  });

  test('the Application Health extension probes the agent health endpoint with the spec timing', () => {
    const ext = resources(json, 'azurerm_orchestrated_virtual_machine_scale_set')[0].extension[0];
    expect(ext).toMatchObject({ name: 'HealthExtension', publisher: 'Microsoft.ManagedServices', type: 'ApplicationHealthLinux', type_handler_version: '2.0', auto_upgrade_minor_version_enabled: true });
    expect(JSON.parse(ext.settings)).toEqual({ protocol: 'http', port: 9901, requestPath: '/health', intervalInSeconds: 10, numberOfProbes: 2 });
  });

  test('autoscale keeps each scale set within its share of the fleet bounds', () => {
    const settings = resources(json, 'azurerm_monitor_autoscale_setting');
    expect(settings).toHaveLength(2);
    expect(settings.map((s) => s.profile[0].capacity)).toEqual([
      { minimum: 1, maximum: 5, default: 2 },
      { minimum: 1, maximum: 4, default: 1 },
    ]);
    expect(settings[0].target_resource_id).toMatch(/azurerm_orchestrated_virtual_machine_scale_set\..*\.id/);
    expect(out).toHaveResourceWithProperties(MonitorAutoscaleSetting, {
      profile: [
        expect.objectContaining({
          name: 'fleet-bounds',
          rule: [
            {
              metric_trigger: expect.objectContaining({ metric_name: 'Percentage CPU', metric_namespace: 'microsoft.compute/virtualmachinescalesets', operator: 'GreaterThan', threshold: 70, time_window: 'PT5M' }),
              scale_action: { direction: 'Increase', type: 'ChangeCount', value: 1, cooldown: 'PT5M' },
            },
            {
              metric_trigger: expect.objectContaining({ metric_name: 'Percentage CPU', operator: 'LessThan', threshold: 30 }),
              scale_action: { direction: 'Decrease', type: 'ChangeCount', value: 1, cooldown: 'PT10M' },
            },
          ],
        }),
      ],
    });
  });

  test('a Standard load balancer with a public zone-redundant IP, an HTTP probe on the agent and a TCP rule', () => {
    expect(out).toHaveResourceWithProperties(Lb, { sku: 'Standard', frontend_ip_configuration: [expect.objectContaining({ name: 'frontend', public_ip_address_id: expect.stringMatching(/azurerm_public_ip\./) })] });
    expect(out).toHaveResourceWithProperties(PublicIp, { name: 'inference-fleet-lb-ip', sku: 'Standard', allocation_method: 'Static', zones: ['1', '2', '3'] });
    expect(out).toHaveResource(LbBackendAddressPool);
    expect(out).toHaveResourceWithProperties(LbProbe, { protocol: 'Http', port: 9901, request_path: '/health', interval_in_seconds: 10, number_of_probes: 2, probe_threshold: 2 });
    expect(out).toHaveResourceWithProperties(LbRule, { protocol: 'Tcp', frontend_port: 80, backend_port: 8080, disable_outbound_snat: true, tcp_reset_enabled: true, frontend_ip_configuration_name: 'frontend' });
    expect(resources(json, 'azurerm_lb_rule')[0].probe_id).toMatch(/azurerm_lb_probe\./);
  });

  test('the security group admits the load balancer on serving and health ports, clients on the serving port, nothing else', () => {
    expect(out).toHaveResourceWithProperties(NetworkSecurityRule, { priority: 100, access: 'Allow', direction: 'Inbound', protocol: 'Tcp', source_address_prefix: 'AzureLoadBalancer', destination_port_ranges: ['8080', '9901'] });
    expect(out).toHaveResourceWithProperties(NetworkSecurityRule, { priority: 110, access: 'Allow', source_address_prefixes: ['VirtualNetwork'], destination_port_range: '8080' });
    expect(out).toHaveResourceWithProperties(NetworkSecurityRule, { priority: 4096, access: 'Deny', direction: 'Inbound', source_address_prefix: '*', destination_port_range: '*' });
    expect(resources(json, 'azurerm_network_security_rule')).toHaveLength(3);
    expect(out).toHaveResource(SubnetNetworkSecurityGroupAssociation);
  });

  test('a private subnet without default outbound access, outbound through a NAT gateway', () => {
    expect(out).toHaveResourceWithProperties(Subnet, { address_prefixes: ['10.42.0.0/20'], default_outbound_access_enabled: false });
    expect(out).toHaveResourceWithProperties(NatGateway, { sku_name: 'Standard' });
    expect(resources(json, 'azurerm_public_ip')).toHaveLength(2); // load balancer frontend + NAT gateway; none on VMs
  });

  test('the custom data installs the agent inline and starts it (DrainMode.HEALTH on port 9901)', () => {
    expect(fleet.agentDelivery).toBe(AgentDelivery.INLINE);
    expect(out).not.toHaveResource(StorageAccount);
    const data = resources(json, 'azurerm_orchestrated_virtual_machine_scale_set')[0].os_profile.custom_data;
    const script = Buffer.from(data, 'base64').toString('utf8');
    expect(script).toBe(fleet.customDataScript);
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(script).toContain('systemctl enable --now spot-agent.service');
    const config = JSON.parse(/<<'SPOT_AGENT_CONFIG'\n([\s\S]*?)\nSPOT_AGENT_CONFIG/.exec(script)![1]);
    expect(config).toEqual({ cloud: 'azure', servingPort: 8080, healthPath: '/health', healthPort: 9901, drainBudgetSeconds: 10, drainMode: 'health', loadBalancerDetectionSeconds: 20 });
    // The inline bundle unpacks to the very file on the synth machine.
    const b64 = /<<'SPOT_AGENT_BUNDLE'\n([\s\S]*?)\nSPOT_AGENT_BUNDLE/.exec(script)![1].replace(/\n/g, '');
    expect(gunzipSync(Buffer.from(b64, 'base64')).toString()).toContain('spot-agent watching Scheduled Events');
    expect(script).toMatch(/echo '[0-9a-f]{64}  \/opt\/spot-agent\/spot-agent.js' \| sha256sum -c -/);
  });

  test('exposes the plans, the identity and the health port', () => {
    expect(fleet.plans).toHaveLength(2);
    expect(fleet.healthPort).toBe(9901);
    expect(Token.isUnresolved(fleet.grantPrincipalId)).toBe(true);
    expect(Token.isUnresolved(fleet.loadBalancer.frontendIpAddress)).toBe(true);
  });
});

describe('CPU fleet: instance mix', () => {
  test('one scale set with skuName Mix, the sizes and the allocation strategy in skuProfile', () => {
    const { out, json } = synth({ ...CPU, allocationStrategy: AzureAllocationStrategy.LOWEST_PRICE });
    expect(resources(json, 'azurerm_orchestrated_virtual_machine_scale_set')).toHaveLength(1);
    expect(out).toHaveResourceWithProperties(OrchestratedVirtualMachineScaleSet, {
      sku_name: 'Mix',
      sku_profile: { allocation_strategy: 'LowestPrice', vm_sizes: ['Standard_D4s_v5', 'Standard_D4as_v5', 'Standard_E4s_v5'] },
      priority_mix: { base_regular_count: 1, regular_percentage_above_base: 20 },
      instances: 3,
    });
    expect(out).toHaveResourceWithProperties(MonitorAutoscaleSetting, { profile: [expect.objectContaining({ capacity: { minimum: 2, maximum: 9, default: 3 } })] });
  });

  test('CapacityOptimized is the default allocation strategy', () => {
    const { out } = synth(CPU);
    expect(out).toHaveResourceWithProperties(OrchestratedVirtualMachineScaleSet, { sku_profile: expect.objectContaining({ allocation_strategy: 'CapacityOptimized' }) });
  });

  test('SCALE_SET_PER_SIZE turns a mix-able list into one scale set per size', () => {
    const { json } = synth({ ...CPU, sizeStrategy: AzureSizeStrategy.SCALE_SET_PER_SIZE });
    expect(resources(json, 'azurerm_orchestrated_virtual_machine_scale_set').map((s) => s.sku_name)).toEqual(CPU.instanceTypes);
  });
});

describe('options', () => {
  test('eviction policy, bid price, zones, grace period, notification, disks, image, scaling and clients from props', () => {
    const { out } = synth({
      ...GPU,
      evictionPolicy: AzureEvictionPolicy.DEALLOCATE,
      maxBidPrice: 0.35,
      zones: ['1', '3'],
      repairGracePeriodMinutes: 45,
      osDiskSizeGb: 256,
      osDiskStorageAccountType: 'Premium_LRS',
      encryptionAtHostEnabled: true,
      image: { publisher: 'microsoft-dsvm', offer: 'ubuntu-hpc', sku: '2204' },
      scaleOutCpuPercent: 80,
      scaleInCpuPercent: 20,
      allowedClientCidrs: ['203.0.113.0/24', '198.51.100.7'],
      listenerPort: 443,
      adminUsername: 'ops',
      tags: { team: 'ml' },
    });
    expect(out).toHaveResourceWithProperties(OrchestratedVirtualMachineScaleSet, {
      eviction_policy: 'Deallocate',
      max_bid_price: 0.35,
      zones: ['1', '3'],
      automatic_instance_repair: expect.objectContaining({ grace_period: 'PT45M' }),
      os_disk: expect.objectContaining({ disk_size_gb: 256, storage_account_type: 'Premium_LRS' }),
      encryption_at_host_enabled: true,
      source_image_reference: { publisher: 'microsoft-dsvm', offer: 'ubuntu-hpc', sku: '2204', version: 'latest' },
      os_profile: expect.objectContaining({ linux_configuration: expect.objectContaining({ admin_username: 'ops' }) }),
      tags: { team: 'ml' },
    });
    expect(out).toHaveResourceWithProperties(PublicIp, { name: 'inference-fleet-lb-ip', zones: ['1', '3'] });
    expect(out).toHaveResourceWithProperties(MonitorAutoscaleSetting, {
      profile: [expect.objectContaining({ rule: [expect.objectContaining({ metric_trigger: expect.objectContaining({ threshold: 80 }) }), expect.objectContaining({ metric_trigger: expect.objectContaining({ threshold: 20 }) })] })],
    });
    expect(out).toHaveResourceWithProperties(NetworkSecurityRule, { priority: 110, source_address_prefixes: ['203.0.113.0/24', '198.51.100.7'] });
    expect(out).toHaveResourceWithProperties(LbRule, { frontend_port: 443 });
  });

  test('an existing subnet and an internal load balancer: no network created, private frontend', () => {
    const { out, json } = synth({ ...GPU, subnetId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/w', internalLoadBalancer: true });
    expect(out).not.toHaveResource(Subnet);
    expect(out).not.toHaveResource(NatGateway);
    expect(out).not.toHaveResource(PublicIp);
    expect(out).not.toHaveResource(SubnetNetworkSecurityGroupAssociation);
    expect(resources(json, 'azurerm_lb')[0].frontend_ip_configuration[0]).toMatchObject({ name: 'frontend', subnet_id: expect.stringContaining('/subnets/w'), private_ip_address_allocation: 'Dynamic' });
    expect(resources(json, 'azurerm_orchestrated_virtual_machine_scale_set')[0].network_interface[0].ip_configuration[0].subnet_id).toContain('/subnets/w');
  });

  test('one size (allowUndiversified): one scale set of that size, no instance mix', () => {
    const { json, fleet } = synth({ ...GPU, instanceTypes: ['Standard_NC4as_T4_v3'], allowUndiversified: true });
    const sets = resources(json, 'azurerm_orchestrated_virtual_machine_scale_set');
    expect(sets).toHaveLength(1);
    expect(sets[0]).toMatchObject({ name: 'inference-fleet-vmss', sku_name: 'Standard_NC4as_T4_v3', priority_mix: { base_regular_count: 1, regular_percentage_above_base: 20 } });
    expect(sets[0].sku_profile).toBeUndefined();
    expect(fleet.scaleSets[0].node.id).toBe('ScaleSet');
  });

  test('one size without allowUndiversified is refused by the neutral rule', () => {
    expect(() => synth({ ...GPU, instanceTypes: ['Standard_NC4as_T4_v3'] })).toThrow(/instanceTypes has 1 type \(Standard_NC4as_T4_v3\): a fleet needs at least 2 instance types/);
  });

  test('an Arm64 size boots the Arm64 Ubuntu image', () => {
    const { out } = synth({ ...GPU, instanceTypes: ['Standard_D4ps_v5', 'Standard_E4ps_v5'] });
    expect(out).toHaveResourceWithProperties(OrchestratedVirtualMachineScaleSet, { source_image_reference: expect.objectContaining({ sku: 'server-arm64' }) });
  });

  test('healthCheck.port set: the probe, the extension and the agent use it', () => {
    const { out, fleet } = synth({ ...GPU, healthCheck: { port: 9000, path: '/ready' } });
    expect(out).toHaveResourceWithProperties(LbProbe, { port: 9000, request_path: '/ready' });
    expect(out).toHaveResourceWithProperties(NetworkSecurityRule, { priority: 100, destination_port_ranges: ['8080', '9000'] });
    expect(fleet.customDataScript).toContain('"healthPort": 9000');
  });

  test('DrainMode.SIGNAL probes the server itself and tells the agent no load balancer detection is needed', () => {
    const { out, fleet } = synth({ ...GPU, agent: { drainMode: DrainMode.SIGNAL, pidFile: '/run/server.pid' } });
    expect(out).toHaveResourceWithProperties(LbProbe, { port: 8080 });
    expect(fleet.customDataScript).toContain('"loadBalancerDetectionSeconds": 0');
    expect(fleet.customDataScript).toContain('"drainMode": "signal"');
  });

  test('startup commands and the drain hook reach the VM', () => {
    const { fleet } = synth({ ...GPU, startupCommands: ['docker run -d -p 8080:8080 my/model'], agent: { hookCommand: '/opt/checkpoint.sh' } });
    expect(fleet.customDataScript).toMatch(/# --- end spot-agent ---\n# --- startup commands ---\ndocker run -d -p 8080:8080 my\/model\n$/);
    expect(fleet.customDataScript).toContain('"hookCommand": "/opt/checkpoint.sh"');
  });
});

describe('agent delivery as a storage blob', () => {
  test('AUTO falls back to a private blob when the agent does not fit in custom data', () => {
    const { out, json, fleet } = synth({ ...GPU, agentBundlePath: LARGE_BUNDLE });
    expect(fleet.agentDelivery).toBe(AgentDelivery.STORAGE_BLOB);
    expect(out).toHaveResourceWithProperties(StorageAccount, {
      account_tier: 'Standard',
      https_traffic_only_enabled: true,
      min_tls_version: 'TLS1_2',
      allow_nested_items_to_be_public: false,
      infrastructure_encryption_enabled: true,
    });
    expect(resources(json, 'azurerm_storage_account')[0].name).toMatch(/^spotagent[0-9a-f]{15}$/);
    expect(out).toHaveResourceWithProperties(StorageContainer, { name: 'spot-agent', container_access_type: 'private' });
    expect(out).toHaveResourceWithProperties(StorageBlob, { type: 'Block', name: expect.stringMatching(/^spot-agent-[0-9a-f]{12}\.js$/) } as any);
    expect(resources(json, 'azurerm_storage_blob')[0].source).toMatch(/^assets\//);
    // Least privilege: read-only, on the container only, for the VMs' identity.
    expect(out).toHaveResourceWithProperties(RoleAssignment, { role_definition_name: 'Storage Blob Data Reader', principal_type: 'ServicePrincipal' });
    const role = resources(json, 'azurerm_role_assignment')[0];
    expect(role.scope).toMatch(/^\$\{azurerm_storage_container\..*\.id\}$/);
    expect(role.principal_id).toMatch(/azurerm_user_assigned_identity\..*\.principal_id/);
    // The VMs download it with a managed-identity token, and wait for the blob and the role.
    const set = resources(json, 'azurerm_orchestrated_virtual_machine_scale_set')[0];
    expect(set.os_profile.custom_data).toMatch(/^\$\{base64encode\(join\("", \[/);
    expect(set.os_profile.custom_data).toContain('azurerm_user_assigned_identity.InferenceFleet_Identity');
    // Terraform wants plain references in depends_on (no ${...}): `terraform validate` refuses anything else.
    expect(set.depends_on).toEqual([expect.stringMatching(/^azurerm_storage_blob\.\w+$/), expect.stringMatching(/^azurerm_role_assignment\.\w+$/)]);
    expect(fleet.customDataScript).toContain('metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com%2F&client_id=');
    expect(fleet.customDataScript).not.toContain('SPOT_AGENT_BUNDLE');
  });

  test('deploy-time values in startupCommands: Terraform computes the base64, literals escaped for HCL', () => {
    const { json, fleet } = synth({ ...GPU, startupCommands: [`echo "model in ${Fn.upper('bucket')}" %{x} back\\slash`] });
    expect(fleet.agentDelivery).toBe(AgentDelivery.INLINE);
    const data: string = resources(json, 'azurerm_orchestrated_virtual_machine_scale_set')[0].os_profile.custom_data;
    expect(data).toMatch(/^\$\{base64encode\(join\("", \["#!\/bin\/bash\\n/);
    expect(data).toContain('upper("bucket")');
    expect(data).toContain('echo \\"model in ", upper("bucket"), "\\" %%{x} back\\\\slash');
  });

  test('STORAGE_BLOB can be chosen for a small agent, with a given account name', () => {
    const { out, fleet } = synth({ ...GPU, agentDelivery: AgentDelivery.STORAGE_BLOB, agentStorageAccountName: 'myspotagent01' });
    expect(fleet.agentDelivery).toBe(AgentDelivery.STORAGE_BLOB);
    expect(out).toHaveResourceWithProperties(StorageAccount, { name: 'myspotagent01' });
  });

  test('INLINE refuses an agent that does not fit', () => {
    expect(() => synth({ ...GPU, agentBundlePath: LARGE_BUNDLE, agentDelivery: AgentDelivery.INLINE })).toThrow(
      /agentDelivery is INLINE but the custom data would be \d+ characters \(base64; the gzip-compressed agent is \d+ bytes\) and Azure accepts at most 65535; use AgentDelivery.STORAGE_BLOB \(or AUTO\), or shorten bootCommands \[AZURE_CUSTOM_DATA\]/,
    );
  });

  test('a missing bundle tells the user to run npm run build:handlers', () => {
    expect(() => synth({ ...GPU, agentBundlePath: join(dir, 'nope.js') })).toThrow(/spot-agent bundle .*nope\.js does not exist; .*run `npm run build:handlers`/);
  });
});

describe('validation', () => {
  test('GPU sizes in an instance mix are refused with the Azure limit and the alternative', () => {
    expect(() => synth({ ...GPU, sizeStrategy: AzureSizeStrategy.INSTANCE_MIX })).toThrow(
      /sizeStrategy is INSTANCE_MIX but instanceTypes lists Standard_NC4as_T4_v3 \(family NC\), Standard_NC8as_T4_v3 \(family NC\): Azure accepts only the A, B, D, E and F families in an instance mix \(skuName "Mix"\), not GPU sizes \(NC, ND, NV\); use sizeStrategy SCALE_SET_PER_SIZE \(or AUTO\) to run one scale set per size behind the same load balancer backend pool \[AZURE_SIZE_STRATEGY\]/,
    );
  });

  test('other families outside A/B/D/E/F are refused in a mix too', () => {
    expect(() => synth({ ...GPU, instanceTypes: ['Standard_D4s_v5', 'Standard_L8s_v3'], sizeStrategy: AzureSizeStrategy.INSTANCE_MIX })).toThrow(
      /instanceTypes lists Standard_L8s_v3 \(family L\): Azure accepts only the A, B, D, E and F families in an instance mix \(skuName "Mix"\), use sizeStrategy SCALE_SET_PER_SIZE/,
    );
  });

  test('an instance mix holds at most 5 sizes', () => {
    const sizes = ['Standard_D2s_v5', 'Standard_D4s_v5', 'Standard_D2as_v5', 'Standard_D4as_v5', 'Standard_E2s_v5', 'Standard_E4s_v5'];
    expect(() => synth({ ...GPU, instanceTypes: sizes })).toThrow(/instanceTypes lists 6 VM sizes but an Azure instance mix holds at most 5; keep the 5 you prefer, or set sizeStrategy SCALE_SET_PER_SIZE/);
  });

  test('one scale set per size needs room for a VM in each', () => {
    expect(() => synth({ ...GPU, minCapacity: 0, desiredCapacity: 0, maxCapacity: 1, onDemandBaseCapacity: 0 })).toThrow(
      /maxCapacity \(1\) is below the number of scale sets \(2, one per VM size: Standard_NC4as_T4_v3, Standard_NC8as_T4_v3\); every scale set needs room for at least 1 VM: raise maxCapacity to at least 2 or list fewer sizes/,
    );
  });

  test('scale set size limits', () => {
    expect(() => synth({ ...CPU, maxCapacity: 1001 })).toThrow(/maxCapacity \(1001\) is above the 1000 VMs one Azure scale set holds; lower it or set sizeStrategy SCALE_SET_PER_SIZE/);
    expect(() => synth({ ...GPU, maxCapacity: 2002 })).toThrow(/maxCapacity \(2002\) puts 1001 VMs in one scale set, above the 1000 an Azure scale set holds; lower maxCapacity or list more sizes/);
  });

  test('several zones always (the cross-cloud TOO_FEW_ZONES rule)', () => {
    const e = errorOf({ ...GPU, zones: ['2'] });
    expect(e.code).toBe(FleetSpecErrorCode.TOO_FEW_ZONES);
    expect(e.message).toMatch(/zones has 1 zone \("2"\): an Azure spot fleet needs at least 2 zones .*or set allowUndiversified: true/);
    expect(() => synth({ ...GPU, zones: ['2'], allowUndiversified: true })).not.toThrow();
    expect(() => synth({ ...GPU, zones: ['eastus2-1', '2'] })).toThrow(/zones lists "eastus2-1": Azure availability zones are numbered "1", "2" and "3" within the region; use those/);
  });

  test('sizes must be Azure VM size names of documented families, with a suggestion', () => {
    const e = errorOf({ ...GPU, instanceTypes: ['g5.xlarge', 'Standard_NC4as_T4_v3'] });
    expect(e.code).toBe(FleetSpecErrorCode.UNKNOWN_INSTANCE_TYPE);
    expect(e.message).toMatch(/instanceTypes: "g5.xlarge" is not an Azure VM size \(it does not follow the Azure size naming convention Standard_<family><vCPUs>/);
    expect(() => synth({ ...CPU, instanceTypes: ['Standard_D4s_v9', 'Standard_D4as_v5'] })).toThrow(
      /instanceTypes: "Standard_D4s_v9" is not an Azure VM size \(Azure documents the D family \(general purpose\) in versions v1 \(no suffix\), v2, v3, v4, v5, v6, not v9; did you mean Standard_D4s_v6 or Standard_D4s_v5\?\)/,
    );
    expect(() => synth({ ...GPU, instanceTypes: ['NC4as_T4_v3', 'Standard_NC8as_T4_v3'] })).toThrow(/"NC4as_T4_v3" is not an Azure VM size \(a size name starts with its tier; did you mean Standard_NC4as_T4_v3\?\)/);
    expect(() => synth({ ...GPU, instanceTypes: ['Standard_NX24ads_A100_v4', 'Standard_NC24ads_A100_v4'] })).toThrow(/Azure documents no VM family "NX" .*did you mean Standard_FX24ads_A100_v4, Standard_HX24ads_A100_v4 or Standard_NC24ads_A100_v4\?/);
    expect(() => synth({ ...GPU, instanceTypes: ['Standard_NC24ads_A100_v4', 'Standard_NC48ads_A100_v4'] })).not.toThrow();
  });

  test('GPU and CPU sizes in one fleet are refused (one image, one driver)', () => {
    const e = errorOf({ ...GPU, instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_D4s_v5'] });
    expect(e.code).toBe(FleetSpecErrorCode.MIXED_ACCELERATORS);
    expect(e.message).toMatch(/instanceTypes mixes GPU \(accelerator\) and CPU-only types \(Standard_NC4as_T4_v3: NVIDIA GPU; Standard_D4s_v5: no accelerator \(CPU only\)\)/);
    expect(() => synth({ ...GPU, instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_ND96isr_MI300X_v5'] })).toThrow(/instanceTypes mixes types with different accelerators \(Standard_NC4as_T4_v3: NVIDIA GPU; Standard_ND96isr_MI300X_v5: AMD GPU\)/);
  });

  test('enum props cast from strings are checked', () => {
    expect(() => synth({ ...CPU, sizeStrategy: 'instance_mix' as AzureSizeStrategy })).toThrow(/sizeStrategy \("instance_mix"\) is not one of the AzureSizeStrategy values; use one of AzureSizeStrategy.AUTO \("auto"\), AzureSizeStrategy.INSTANCE_MIX \("instance-mix"\)/);
    expect(() => synth({ ...CPU, evictionPolicy: 'delete' as AzureEvictionPolicy })).toThrow(/evictionPolicy \("delete"\) is not one of the AzureEvictionPolicy values.*did you mean AzureEvictionPolicy.DELETE \("Delete"\)\?/);
    expect(() => synth({ ...CPU, allocationStrategy: 'Cheapest' as AzureAllocationStrategy })).toThrow(/allocationStrategy \("Cheapest"\) is not one of the AzureAllocationStrategy values/);
    expect(() => synth({ ...CPU, agentDelivery: 'blob' as AgentDelivery })).toThrow(/agentDelivery \("blob"\) is not one of the AgentDelivery values; use one of AgentDelivery.AUTO \("auto"\), AgentDelivery.INLINE \("inline"\), AgentDelivery.STORAGE_BLOB \("storage-blob"\)/);
  });

  test('terminationNotificationMinutes is refused: Azure takes no terminate notification on Spot scale sets', () => {
    expect(() => synth({ ...GPU, terminationNotificationMinutes: 10 })).toThrow(
      /terminationNotificationMinutes \(10\) cannot be honoured: every scale set of the fleet has Spot priority and Azure does not accept terminate notifications on Spot \("Terminate notifications cannot be enabled on Spot instances", Azure docs: virtual-machine-scale-sets-terminate-notification; MicrosoftDocs\/azure-docs#66962\)/,
    );
  });

  test('instanceRequirements is not supported on Azure', () => {
    const e = errorOf({ ...GPU, instanceTypes: undefined, instanceRequirements: { vCpuCount: { min: 4 }, memoryMiB: { min: 16384 } } });
    expect(e.problems).toContainEqual(expect.objectContaining({ code: FleetSpecErrorCode.INSTANCE_REQUIREMENTS_UNSUPPORTED, prop: 'instanceRequirements', message: expect.stringMatching(/instanceRequirements is not supported on Azure \(a scale set takes VM sizes by name\); list them in instanceTypes/) }));
  });

  test('maxBidPrice is -1 or a positive price', () => {
    expect(() => synth({ ...GPU, maxBidPrice: 0 })).toThrow(/maxBidPrice \(0\) must be -1 \(pay up to the on-demand price; never evicted for price\) or a price above 0 in US dollars per hour; use -1 unless you need a hard cap/);
    expect(() => synth({ ...GPU, maxBidPrice: -2 })).toThrow(/maxBidPrice \(-2\)/);
  });

  test('grace period and terminate notification within the Azure ranges', () => {
    expect(() => synth({ ...GPU, repairGracePeriodMinutes: 5 })).toThrow(/repairGracePeriodMinutes \(5\) must be a whole number of minutes between 10 and 90: Azure automatic instance repairs accept a grace period of 10 to 90 minutes/);
    expect(() => synth({ ...GPU, repairGracePeriodMinutes: 91 })).toThrow(/repairGracePeriodMinutes \(91\)/);
  });

  test('probe detection plus drain budget must fit the 30 s Azure notice', () => {
    const e = errorOf({ ...GPU, healthCheck: { intervalSeconds: 10, unhealthyThreshold: 3 } });
    expect(e.code).toBe(FleetSpecErrorCode.DRAIN_BUDGET_EXCEEDED);
    expect(e.message).toMatch(/drain budget exceeded: the Azure load balancer needs healthCheck.intervalSeconds \(10 s\) x healthCheck.unhealthyThreshold \(3\) = 30 s to take a draining VM out of rotation, plus drainBudgetSeconds \(10 s\) = 40 s, longer than the 30 s Azure Spot notice \(Scheduled Events Preempt\); lower the interval, the threshold or the drain budget so the sum is at most 30 s/);
    // Not a rule when the agent does not drain through the probe.
    expect(() => synth({ ...GPU, agent: { drainMode: DrainMode.SIGNAL, pidFile: '/run/server.pid' }, healthCheck: { intervalSeconds: 10, unhealthyThreshold: 3 } })).not.toThrow();
  });

  test('DrainMode.HEALTH cannot probe the serving port', () => {
    expect(() => synth({ ...GPU, healthCheck: { port: 8080 } })).toThrow(/healthCheck.port \(8080\) is the serving port, so the load balancer would probe the inference server directly and the agent could not take a VM out of rotation on a Preempt notice; leave healthCheck.port out .* or set agent.drainMode to DrainMode.HTTP or DrainMode.SIGNAL/);
    expect(() => synth({ ...GPU, healthCheck: { port: 8080 }, agent: { drainMode: DrainMode.HTTP } })).not.toThrow();
  });

  test('client sources: no open internet, valid CIDRs or service tags', () => {
    expect(() => synth({ ...GPU, allowedClientCidrs: ['0.0.0.0/0'] })).toThrow(/allowedClientCidrs contains "0.0.0.0\/0", which admits the whole internet to the serving port; list the CIDRs of your clients/);
    expect(() => synth({ ...GPU, allowedClientCidrs: ['Internet'] })).toThrow(/allowedClientCidrs contains "Internet", which admits the whole internet/);
    expect(() => synth({ ...GPU, allowedClientCidrs: ['10.0.0.0/33'] })).toThrow(/allowedClientCidrs contains "10.0.0.0\/33", which is neither an IPv4 CIDR \("10.1.0.0\/16"\) nor an Azure service tag \("VirtualNetwork"\); fix the entry/);
  });

  test('autoscale thresholds, listener port and the admin key', () => {
    expect(() => synth({ ...GPU, scaleOutCpuPercent: 100 })).toThrow(/scaleOutCpuPercent \(100\) must be a CPU percentage above 0 and below 100/);
    expect(() => synth({ ...GPU, scaleInCpuPercent: 70, scaleOutCpuPercent: 60 })).toThrow(/scaleInCpuPercent \(70\) must be below scaleOutCpuPercent \(60\), or autoscale adds and removes VMs in a loop; leave a gap of 20 points or more/);
    expect(() => synth({ ...GPU, listenerPort: 70000 })).toThrow(/listenerPort \(70000\) must be between 1 and 65535 \[PORT_RANGE\]/);
    expect(() => synth({ ...GPU, adminSshPublicKey: 'hunter2' })).toThrow(/adminSshPublicKey \("hunter2..."\) is not an OpenSSH public key; give the contents of a .pub file, e.g. "ssh-ed25519 AAAA... you@host"/);
    expect(() => synth({ ...GPU, adminSshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOb me@host' })).not.toThrow();
  });

  test('neutral and Azure problems are reported together, prefixed with the construct path', () => {
    const e = errorOf({ ...GPU, minCapacity: 5, maxCapacity: 3, desiredCapacity: undefined, maxBidPrice: 0, zones: ['1'] });
    expect(e.message).toMatch(/^stack\/InferenceFleet: 3 problems in the fleet spec:/);
    expect(e.problems.map((p) => p.prop)).toEqual(expect.arrayContaining(['minCapacity', 'maxBidPrice', 'zones']));
  });

  test('tokens are not validated', () => {
    let fleet!: AzureSpotFleet;
    Testing.synthScope((scope) => {
      fleet = new AzureSpotFleet(scope, 'F', { ...GPU, maxBidPrice: Token.asNumber({ Ref: 'bid' }), repairGracePeriodMinutes: Token.asNumber({ Ref: 'g' }) });
    });
    expect(fleet.scaleSets).toHaveLength(2);
  });
});

describe('without load balancer, agent options, autoscale profiles', () => {
  const agentConfig = (fleet: AzureSpotFleet) =>
    JSON.parse(fleet.customDataScript.split("<<'SPOT_AGENT_CONFIG'\n")[1].split('\nSPOT_AGENT_CONFIG')[0]);
  const WORKERS: AzureSpotFleetProps = { ...CPU, loadBalanced: false, agent: { drainMode: DrainMode.SIGNAL, pidFile: '/run/worker.pid', hookCommand: 'sync' } };

  test('loadBalanced: false: no load balancer, no public frontend, an NSG that admits nothing inbound', () => {
    const { json, fleet } = synth(WORKERS);
    expect(resources(json, 'azurerm_lb')).toHaveLength(0);
    expect(resources(json, 'azurerm_lb_probe')).toHaveLength(0);
    expect(resources(json, 'azurerm_public_ip').map((p) => p.name)).toEqual(['inference-fleet-nat-ip']);
    const rules = resources(json, 'azurerm_network_security_rule');
    expect(rules).toHaveLength(1);
    expect(rules[0]).toMatchObject({ direction: 'Inbound', access: 'Deny', source_address_prefix: '*', destination_port_range: '*', priority: 4096 });
    // The NSG guards the NICs and the created subnet.
    expect(resources(json, 'azurerm_subnet_network_security_group_association')).toHaveLength(1);
    const set = resources(json, 'azurerm_orchestrated_virtual_machine_scale_set')[0];
    expect(set.network_interface[0].network_security_group_id).toMatch(/SecurityGroup_Nsg/);
    expect(set.network_interface[0].ip_configuration[0].load_balancer_backend_address_pool_ids).toBeUndefined();
    expect(fleet.loadBalanced).toBe(false);
    expect(() => fleet.loadBalancer).toThrow(/InferenceFleet has no load balancer \(loadBalanced: false\)/);
  });

  test('loadBalanced: false: no health extension, repairs off, the agent signals the worker from loopback', () => {
    const { json, fleet } = synth(WORKERS);
    const set = resources(json, 'azurerm_orchestrated_virtual_machine_scale_set')[0];
    expect(set.extension).toBeUndefined();
    // No repair block at all: the provider refuses one, even disabled, without the health extension.
    expect(set.automatic_instance_repair).toBeUndefined();
    expect(agentConfig(fleet)).toMatchObject({ drainMode: 'signal', pidFile: '/run/worker.pid', hookCommand: 'sync', loadBalancerDetectionSeconds: 0, healthHost: '127.0.0.1' });
    expect(fleet.autohealing).toBe(false);
  });

  test('loadBalanced: false with autohealing keeps the extension (it probes inside the VM) and repairs', () => {
    const { json } = synth({ ...WORKERS, autohealing: true });
    const set = resources(json, 'azurerm_orchestrated_virtual_machine_scale_set')[0];
    expect(set.extension[0].type).toBe('ApplicationHealthLinux');
    expect(JSON.parse(set.extension[0].settings)).toMatchObject({ port: 8080, requestPath: '/health' });
    expect(set.automatic_instance_repair).toMatchObject({ enabled: true, action: 'Replace' });
    expect(resources(json, 'azurerm_network_security_rule').filter((r) => r.access === 'Allow')).toEqual([]);
  });

  test('agent options reach the config; the old drainMode and drainHookCommand props still work', () => {
    const { fleet } = synth({ ...CPU, agent: { drainMode: DrainMode.HTTP, drainUrl: 'http://127.0.0.1:8080/drain', healthPort: 9300 } });
    expect(agentConfig(fleet)).toMatchObject({ drainMode: 'http', drainUrl: 'http://127.0.0.1:8080/drain', healthPort: 9300 });
    expect(agentConfig(fleet).healthHost).toBeUndefined();
    const { fleet: hooked } = synth({ ...CPU, agent: { drainMode: DrainMode.HTTP, hookCommand: 'echo done' } });
    expect(agentConfig(hooked)).toMatchObject({ drainMode: 'http', hookCommand: 'echo done' });
  });

  test('the default fleet keeps its load balancer, extension and health-mode agent', () => {
    const { json, fleet } = synth(CPU);
    expect(resources(json, 'azurerm_lb')).toHaveLength(1);
    expect(fleet.loadBalancer.probe).toBeDefined();
    expect(agentConfig(fleet)).toMatchObject({ drainMode: 'health', healthPort: 9901, loadBalancerDetectionSeconds: 20 });
  });

  test('autoscaleProfileFactory supplies each scale set\'s profiles, told the plan and the number of sets', () => {
    const calls: [number, number][] = [];
    const { json } = synth({
      ...GPU,
      autoscaleProfileFactory: {
        profilesFor: (plan, count) => {
          calls.push([plan.maxCapacity, count]);
          return [{ name: 'custom', capacity: { minimum: plan.minCapacity, maximum: plan.maxCapacity, default: plan.desiredCapacity } }];
        },
      },
    });
    expect(calls).toHaveLength(2);
    expect(calls.every(([, n]) => n === 2)).toBe(true);
    const settings = resources(json, 'azurerm_monitor_autoscale_setting');
    expect(settings).toHaveLength(2);
    for (const s of settings) expect(s.profile.map((p: any) => p.name)).toEqual(['custom']);
    expect(JSON.stringify(settings)).not.toContain('Percentage CPU');
  });

  test('bad combinations fail together, naming prop, value and fix', () => {
    const e = errorOf({ ...CPU, loadBalanced: false, healthCheck: { port: 9000 }, allowedClientCidrs: ['10.0.0.0/8'], listenerPort: 443, internalLoadBalancer: true });
    expect(e.problems.map((p) => p.prop)).toEqual(['healthCheck.port', 'allowedClientCidrs', 'listenerPort', 'internalLoadBalancer']);
    expect(e.message).toMatch(/healthCheck.port \(9000\) has no effect: loadBalanced is false and autohealing is off, so nothing probes the VMs; leave healthCheck.port out, set autohealing: true/);
    expect(e.message).toMatch(/allowedClientCidrs \(\["10.0.0.0\/8"\]\) configures the load balancer, but loadBalanced is false/);
    expect(() => synth({ ...CPU, loadBalanced: false, autohealing: true, healthCheck: { port: 9000 } })).not.toThrow();
    expect(() => synth({ ...CPU, loadBalanced: false, agent: { drainMode: DrainMode.HEALTH } })).toThrow(/agent.drainMode is DrainMode.HEALTH but loadBalanced is false.*use DrainMode.SIGNAL/);
    expect(() => synth({ ...CPU, agent: { drainMode: DrainMode.SIGNAL } })).toThrow(/agent.drainMode is DrainMode.SIGNAL but agent.pidFile is not set/);
    // The removed second spellings, as a JavaScript caller would still pass them.
    expect(() => synth({ ...CPU, drainMode: DrainMode.HTTP } as AzureSpotFleetProps)).toThrow(/drainMode \("http"\) is no longer a prop of the Azure fleets; set agent.drainMode instead/);
    expect(() => synth({ ...CPU, drainHookCommand: 'b' } as AzureSpotFleetProps)).toThrow(/drainHookCommand \("b"\) is no longer a prop of the Azure fleets; set agent.hookCommand instead/);
    expect(() => synth({ ...CPU, agent: { pidFile: '/p' } })).toThrow(/agent.pidFile and agent.drainSignal are used only with DrainMode.SIGNAL/);
    expect(() => synth({ ...CPU, agent: { drainUrl: 'http://127.0.0.1:1/d' } })).toThrow(/agent.drainUrl \("http:\/\/127.0.0.1:1\/d"\) is used only with DrainMode.HTTP/);
    expect(() => synth({ ...CPU, agent: { healthPort: 8080 } })).toThrow(/agent.healthPort \(8080\) is the serving port/);
    expect(() => synth({ ...CPU, agent: { healthPort: 9300 }, healthCheck: { port: 9400 } })).toThrow(/healthCheck.port \(9400\) is not the agent's health port \(9300\)/);
    const factory = { profilesFor: () => [] };
    expect(() => synth({ ...CPU, autoscaleProfileFactory: factory, scaleOutCpuPercent: 80 })).toThrow(/scaleOutCpuPercent \(80\) has no effect: autoscaleProfileFactory supplies the autoscale rules/);
  });
});

describe('regularBaseScaleSet: the on-demand base in a Regular scale set, drained on Terminate', () => {
  test('Spot scale sets without the base; a fixed Regular scale set of the first size with a terminate notification', () => {
    const { json, fleet } = synth({ ...GPU, regularBaseScaleSet: true, terminationNotificationMinutes: 10 });
    const sets = resources(json, 'azurerm_orchestrated_virtual_machine_scale_set');
    expect(sets).toHaveLength(3);
    const regular = sets.find((s) => s.priority === 'Regular');
    expect(regular).toMatchObject({ name: 'inference-fleet-regular-vmss', sku_name: 'Standard_NC4as_T4_v3', instances: 1, termination_notification: { enabled: true, timeout: 'PT10M' } });
    expect(regular.eviction_policy).toBeUndefined();
    expect(regular.priority_mix).toBeUndefined();
    expect(regular.max_bid_price).toBeUndefined();
    const spot = sets.filter((s) => s.priority === 'Spot');
    // 2-9 VMs, 3 desired, base 1: the Spot sets share 1-8 VMs, 2 desired, no base, 20 % Regular above it.
    expect(spot.map((s) => s.priority_mix)).toEqual([{ base_regular_count: 0, regular_percentage_above_base: 20 }, { base_regular_count: 0, regular_percentage_above_base: 20 }]);
    expect(spot.every((s) => s.termination_notification === undefined)).toBe(true);
    expect(fleet.plans.map((p) => [p.minCapacity, p.maxCapacity, p.desiredCapacity])).toEqual([[1, 4, 1], [0, 4, 1]]);
    // Same backend pool and security group for all three.
    expect(new Set(sets.map((s) => JSON.stringify(s.network_interface[0].ip_configuration[0].load_balancer_backend_address_pool_ids))).size).toBe(1);
    const fixed = resources(json, 'azurerm_monitor_autoscale_setting').find((a) => a.profile[0].name === 'regular-base');
    expect(fixed.profile[0].capacity).toEqual({ minimum: 1, maximum: 1, default: 1 });
    expect(fleet.scaleSetIds).toHaveLength(3);
    expect(fleet.scaleSets).toHaveLength(2);
  });

  test('the terminate notification defaults to 5 minutes there, and stays 5-15', () => {
    const { json } = synth({ ...GPU, regularBaseScaleSet: true });
    expect(resources(json, 'azurerm_orchestrated_virtual_machine_scale_set').find((s) => s.priority === 'Regular').termination_notification).toEqual({ enabled: true, timeout: 'PT5M' });
    expect(() => synth({ ...GPU, regularBaseScaleSet: true, terminationNotificationMinutes: 20 })).toThrow(/terminationNotificationMinutes \(20\) must be a whole number of minutes between 5 and 15: Azure scale sets accept a terminate notification timeout of 5 to 15 minutes/);
  });

  test('refused without a base, and with deploy-time capacities', () => {
    expect(() => synth({ ...GPU, onDemandBaseCapacity: 0, regularBaseScaleSet: true })).toThrow(/regularBaseScaleSet is true but onDemandBaseCapacity is 0, so the Regular scale set would have no VM/);
    expect(() => synth({ ...GPU, maxCapacity: Token.asNumber(Fn.max([9])), regularBaseScaleSet: true })).toThrow(/maxCapacity is a deploy-time value .*regularBaseScaleSet takes the on-demand base out of the Spot scale sets \(maxCapacity minus onDemandBaseCapacity\), which needs numbers/);
    expect(() => synth({ ...GPU, terminationNotificationMinutes: 10 })).toThrow(/or set regularBaseScaleSet: true to run the on-demand base in a Regular scale set that takes one/);
  });
});
