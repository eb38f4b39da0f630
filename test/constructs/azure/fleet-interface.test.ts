import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LbProbe } from '@cdktf/provider-azurerm/lib/lb-probe';
import { LbRule } from '@cdktf/provider-azurerm/lib/lb-rule';
import { TerraformStack, TerraformVariable, Testing, Token } from 'cdktf';
import {
  AzureFleetAlerts,
  AzureInterruptionDrill,
  AzureScaleSetOrchestration,
  AzureSpotInferenceService,
  AzureSpotInferenceServiceProps,
  IAzureSpotFleet,
  AzureSpotFleet,
  AzureSpotFleetProps,
} from '../../../constructs/azure';
import { FleetSpecError } from '../../../lib/spec';

Testing.setupJest();
const dir = mkdtempSync(join(tmpdir(), 'azure-iface-'));
const BUNDLE = join(dir, 'agent.js');
writeFileSync(BUNDLE, '"use strict";console.log("agent");');
const PROPS: AzureSpotFleetProps = {
  resourceGroupName: 'rg',
  location: 'eastus2',
  adminSshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITEST test',
  agentBundlePath: BUNDLE,
  instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'],
  minCapacity: 2,
  maxCapacity: 6,
  onDemandBaseCapacity: 1,
};
const LB = '/subscriptions/0000/resourceGroups/net/providers/Microsoft.Network/loadBalancers/shared-lb';
const POOL = `${LB}/backendAddressPools/inference`;
const VMSS = '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets';

describe('IAzureSpotFleet', () => {
  test('AzureSpotFleet implements it: the pieces take the interface', () => {
    let fleet!: IAzureSpotFleet;
    const json = JSON.parse(Testing.synthScope((scope) => {
      fleet = new AzureSpotFleet(scope, 'GpuFleet', PROPS);
      AzureFleetAlerts.forFleet(scope, 'Alerts', fleet);
      AzureInterruptionDrill.forFleet(scope, 'Drill', fleet);
    }));
    expect(fleet.scaleSetIds).toHaveLength(2);
    expect(fleet.orchestration).toBe(AzureScaleSetOrchestration.FLEXIBLE);
    expect(fleet.fleetName).toBe('gpu-fleet');
    expect(Token.isUnresolved(fleet.loadBalancerId)).toBe(true);
    expect(Object.values(json.resource.azurerm_monitor_metric_alert).map((a: any) => a.name)).toContain('gpu-fleet-backend-health');
  });

  test('fromScaleSetAttributes imports existing scale sets: names from the ids, alerts and drill work on them', () => {
    let imported!: IAzureSpotFleet;
    let drill!: AzureInterruptionDrill;
    const json = JSON.parse(Testing.synthScope((scope) => {
      imported = AzureSpotFleet.fromScaleSetAttributes(scope, 'LegacyFleet', { resourceGroupName: 'rg', scaleSetIds: [`${VMSS}/legacy-a`, `${VMSS}/legacy-b`], loadBalancerId: LB });
      AzureFleetAlerts.forFleet(scope, 'Alerts', imported);
      drill = AzureInterruptionDrill.forFleet(scope, 'Drill', imported);
    }));
    expect(imported.scaleSetNames).toEqual(['legacy-a', 'legacy-b']);
    expect(drill.simulateEvictionCommand).toMatch(/az vmss list-instances --resource-group rg --name legacy-a .*az vm simulate-eviction/);
    const probe = Object.values(json.resource.azurerm_monitor_metric_alert).find((a: any) => a.name === 'legacy-fleet-backend-health') as any;
    expect(probe.scopes).toEqual([LB]);
    const uniform = AzureSpotFleet.fromScaleSetAttributes(Testing.app(), 'U', { resourceGroupName: 'rg', scaleSetIds: [`${VMSS}/u`], orchestration: AzureScaleSetOrchestration.UNIFORM });
    expect(AzureInterruptionDrill.simulateEvictionCommandFor({ resourceGroupName: 'rg', scaleSetName: uniform.scaleSetNames[0], orchestration: uniform.orchestration })).toMatch(/az vmss simulate-eviction .*--instance-id/);
  });

  test('import errors name the attribute and the fix', () => {
    const app = Testing.app();
    expect(() => AzureSpotFleet.fromScaleSetAttributes(app, 'A', { resourceGroupName: 'rg', scaleSetIds: [] })).toThrow(/scaleSetIds is empty; give the id of at least one scale set/);
    expect(() => AzureSpotFleet.fromScaleSetAttributes(app, 'B', { resourceGroupName: 'rg', scaleSetIds: ['legacy-a'] })).toThrow(/scaleSetIds\[0\] \("legacy-a"\) is not a scale set id .*; fix the id or give scaleSetNames/);
    const stack = new TerraformStack(app, 'tokens');
    const id = new TerraformVariable(stack, 'vmss_id', { type: 'string' }).stringValue;
    expect(() => AzureSpotFleet.fromScaleSetAttributes(stack, 'T', { resourceGroupName: 'rg', scaleSetIds: [id] })).toThrow(/scaleSetIds\[0\] is a deploy-time value, so its name cannot be read from it; give scaleSetNames as well/);
    expect(AzureSpotFleet.fromScaleSetAttributes(stack, 'T2', { resourceGroupName: 'rg', scaleSetIds: [id], scaleSetNames: ['legacy'] }).scaleSetNames).toEqual(['legacy']);
    expect(() => AzureSpotFleet.fromScaleSetAttributes(app, 'C', { resourceGroupName: 'rg', scaleSetIds: [`${VMSS}/a`], scaleSetNames: ['a', 'b'] })).toThrow(/scaleSetNames has 2 names for 1 scale set ids/);
    expect(() => AzureSpotFleet.fromScaleSetAttributes(app, 'D', { resourceGroupName: 'rg', scaleSetIds: [`${VMSS}/a`], orchestration: 'flex' as AzureScaleSetOrchestration })).toThrow(/orchestration \("flex"\) is not one of the AzureScaleSetOrchestration values/);
  });
});

describe('a fleet on an existing load balancer backend pool', () => {
  const synth = (props: Partial<AzureSpotFleetProps>): { out: string; json: any; fleet: AzureSpotFleet } => {
    let fleet!: AzureSpotFleet;
    const out = Testing.synthScope((scope) => {
      fleet = new AzureSpotFleet(scope, 'GpuFleet', { ...PROPS, ...props });
    });
    return { out, json: JSON.parse(out), fleet };
  };

  test('no load balancer of its own; the VMs join the pool; the probe (agent health) and the rule on the existing load balancer', () => {
    const { out, json, fleet } = synth({ existingBackendPool: { loadBalancerId: LB, backendAddressPoolId: POOL, frontendIpConfigurationName: 'public', frontendPort: 443 } });
    expect(json.resource.azurerm_lb).toBeUndefined();
    expect(json.resource.azurerm_public_ip ? Object.keys(json.resource.azurerm_public_ip) : []).toHaveLength(1); // the NAT gateway's only
    for (const set of Object.values(json.resource.azurerm_orchestrated_virtual_machine_scale_set) as any[]) {
      expect(set.network_interface[0].ip_configuration[0].load_balancer_backend_address_pool_ids).toEqual([POOL]);
    }
    expect(out).toHaveResourceWithProperties(LbProbe, { loadbalancer_id: LB, protocol: 'Http', port: 9901, request_path: '/health' });
    expect(out).toHaveResourceWithProperties(LbRule, { loadbalancer_id: LB, frontend_ip_configuration_name: 'public', frontend_port: 443, backend_port: 8080, backend_address_pool_ids: [POOL] });
    // The NSG rule that admits the load balancer's probes, set by the fleet itself.
    const rules = Object.values(json.resource.azurerm_network_security_rule) as any[];
    expect(rules.find((r) => r.source_address_prefix === 'AzureLoadBalancer')).toMatchObject({ access: 'Allow', destination_port_ranges: ['8080', '9901'] });
    expect(fleet.loadBalancerId).toBe(LB);
    expect(Token.isUnresolved(fleet.backendPoolAttachment!.probeId)).toBe(true);
    expect(() => fleet.loadBalancer).toThrow(/joined an existing load balancer \(existingBackendPool\) and created none; use fleet.loadBalancerId/);
  });

  test('without a frontend: the probe only (the load balancer keeps its own rule)', () => {
    const { json } = synth({ existingBackendPool: { loadBalancerId: LB, backendAddressPoolId: POOL } });
    expect(Object.keys(json.resource.azurerm_lb_probe)).toHaveLength(1);
    expect(json.resource.azurerm_lb_rule).toBeUndefined();
  });

  test('errors name the prop and the fix', () => {
    expect(() => synth({ existingBackendPool: { loadBalancerId: 'shared-lb', backendAddressPoolId: POOL } })).toThrow(/existingBackendPool.loadBalancerId \("shared-lb"\) is not a load balancer id/);
    expect(() => synth({ existingBackendPool: { loadBalancerId: LB, backendAddressPoolId: '/subscriptions/0000/resourceGroups/net/providers/Microsoft.Network/loadBalancers/other/backendAddressPools/p' } })).toThrow(/is not a pool of existingBackendPool.loadBalancerId/);
    expect(() => synth({ existingBackendPool: { loadBalancerId: LB, backendAddressPoolId: 'inference' } })).toThrow(/existingBackendPool.backendAddressPoolId \("inference"\) is not a backend pool id \(.*\/backendAddressPools\/<pool>\); give azurerm_lb_backend_address_pool.id/);
    expect(() => synth({ existingBackendPool: { loadBalancerId: LB, backendAddressPoolId: POOL, frontendPort: 443 } })).toThrow(/existingBackendPool.frontendPort \(443\) needs existingBackendPool.frontendIpConfigurationName/);
    expect(() => synth({ existingBackendPool: { loadBalancerId: LB, backendAddressPoolId: POOL }, listenerPort: 8443 })).toThrow(/listenerPort \(8443\) configures a load balancer the fleet creates, but existingBackendPool joins an existing one/);
    expect(() => synth({ existingBackendPool: { loadBalancerId: LB, backendAddressPoolId: POOL }, loadBalanced: false, agent: { drainMode: undefined } })).toThrow(/existingBackendPool puts the fleet behind a load balancer, but loadBalanced is false/);
  });
});

describe('AzureSpotInferenceService', () => {
  const build = (props: Partial<AzureSpotInferenceServiceProps> = {}): { json: any; service: AzureSpotInferenceService } => {
    let service!: AzureSpotInferenceService;
    const json = JSON.parse(Testing.synthScope((scope) => {
      service = new AzureSpotInferenceService(scope, 'Chat', { ...PROPS, ...props });
    }));
    return { json, service };
  };

  test('fleet + load balancer + alerts + drill + the fallback controller by default', () => {
    const { json, service } = build();
    expect(service.fleet.loadBalanced).toBe(true);
    expect(service.alerts!.evictionAlerts).toHaveLength(2);
    expect(service.interruptionDrill.simulateEvictionCommand).toMatch(/az vm simulate-eviction/);
    expect(service.onDemandFallback).toBeDefined();
    // The pieces share the service's name: the fleet's resources and the controller's.
    const fn: any = Object.values(json.resource.azurerm_linux_function_app)[0];
    expect(fn.app_settings.FLEET_NAME).toBe('chat');
    // The fleet's two scale sets, then the controller's spare Spot scale sets (on by default, one per zone).
    expect(Object.values(json.resource.azurerm_orchestrated_virtual_machine_scale_set).map((s: any) => s.name)).toEqual(['chat-1-vmss', 'chat-2-vmss', 'chat-spare-1-vmss', 'chat-spare-2-vmss', 'chat-spare-3-vmss']);
    expect(json.resource.azurerm_lb).toBeDefined();
    expect(Object.keys(json.output).some((k) => /Endpoint/.test(k))).toBe(true);
  });

  test('pieces can be turned off; an existing backend pool works too', () => {
    const { json, service } = build({ onDemandFallback: false, alerts: false, existingBackendPool: { loadBalancerId: LB, backendAddressPoolId: POOL } });
    expect(service.onDemandFallback).toBeUndefined();
    expect(service.alerts).toBeUndefined();
    expect(json.resource.azurerm_monitor_metric_alert).toBeUndefined();
    expect(json.resource.azurerm_lb).toBeUndefined();
  });

  test('refused: a service without a load balancer, alert options without alerts', () => {
    let error: FleetSpecError | undefined;
    try {
      build({ loadBalanced: false, alerts: false, alertOptions: { severity: 2 } });
    } catch (e) {
      error = e as FleetSpecError;
    }
    expect(error!.problems.map((p) => p.prop)).toEqual(['loadBalanced', 'alertOptions']);
    expect(error!.message).toMatch(/loadBalanced is false, but AzureSpotInferenceService is an online service behind a load balancer; use AzureQueueWorkerFleet/);
  });
});
