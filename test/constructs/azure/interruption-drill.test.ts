import { execFileSync } from 'node:child_process';
import { Testing } from 'cdktf';
import { AzureInterruptionDrill, AzureScaleSetOrchestration, AzureSpotFleet } from '../../../constructs/azure';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';

const FLEX = { resourceGroupName: 'rg-spot', scaleSetName: 'llm-vmss' };
const UNIFORM = { ...FLEX, orchestration: AzureScaleSetOrchestration.UNIFORM };

describe('Azure interruption drill commands', () => {
  test('Flexible orchestration: list Spot VMs by name, evict one with az vm simulate-eviction', () => {
    expect(AzureInterruptionDrill.listSpotVmsCommandFor(FLEX)).toBe(`az vmss list-instances --resource-group rg-spot --name llm-vmss --query "[?priority=='Spot'].name" --output tsv`);
    expect(AzureInterruptionDrill.simulateEvictionCommandFor(FLEX)).toBe(
      `VM=$(az vmss list-instances --resource-group rg-spot --name llm-vmss --query "[?priority=='Spot'] | [0].name" --output tsv) && az vm simulate-eviction --resource-group rg-spot --name "$VM"`,
    );
  });

  test('Uniform orchestration: az vmss simulate-eviction with the instance id', () => {
    expect(AzureInterruptionDrill.listSpotVmsCommandFor(UNIFORM)).toContain(`[?priority=='Spot'].instanceId`);
    expect(AzureInterruptionDrill.simulateEvictionCommandFor(UNIFORM)).toBe(
      `ID=$(az vmss list-instances --resource-group rg-spot --name llm-vmss --query "[?priority=='Spot'] | [0].instanceId" --output tsv) && az vmss simulate-eviction --resource-group rg-spot --name llm-vmss --instance-id "$ID"`,
    );
  });

  test('the command runs in sh and passes the picked VM on', () => {
    const stub = 'az() { if [ "$2" = "list-instances" ]; then echo "llm-vmss_1a2b3c"; else echo "$@"; fi; }; ';
    expect(execFileSync('sh', ['-c', stub + AzureInterruptionDrill.simulateEvictionCommandFor(FLEX)], { encoding: 'utf8' }).trim()).toBe('vm simulate-eviction --resource-group rg-spot --name llm-vmss_1a2b3c');
    const stubU = 'az() { if [ "$2" = "list-instances" ]; then echo "3"; else echo "$@"; fi; }; ';
    expect(execFileSync('sh', ['-c', stubU + AzureInterruptionDrill.simulateEvictionCommandFor(UNIFORM)], { encoding: 'utf8' }).trim()).toBe('vmss simulate-eviction --resource-group rg-spot --name llm-vmss --instance-id 3');
  });
});

describe('AzureInterruptionDrill', () => {
  test('Terraform outputs with the list and the Simulate Eviction commands', () => {
    const out = JSON.parse(Testing.synthScope((scope) => new AzureInterruptionDrill(scope, 'Drill', FLEX))).output;
    expect(Object.values(out).map((o: any) => o.value)).toEqual([AzureInterruptionDrill.listSpotVmsCommandFor(FLEX), AzureInterruptionDrill.simulateEvictionCommandFor(FLEX)]);
    expect(JSON.stringify(out)).not.toContain('${');
  });

  test('forFleet: the first scale set of a AzureSpotFleet, Flexible orchestration', () => {
    const { mkdtempSync, writeFileSync } = require('node:fs');
    const { join } = require('node:path');
    const bundle = join(mkdtempSync(join(require('node:os').tmpdir(), 'azure-drill-')), 'agent.js');
    writeFileSync(bundle, 'console.log("agent")');
    const out = JSON.parse(Testing.synthScope((scope) => {
      const fleet = new AzureSpotFleet(scope, 'GpuFleet', {
        resourceGroupName: 'rg-spot', location: 'eastus2', adminSshPublicKey: 'ssh-rsa AAAAB3NzaC1yc2E test',
        instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'], minCapacity: 2, maxCapacity: 6, onDemandBaseCapacity: 1, agentBundlePath: bundle,
      });
      AzureInterruptionDrill.forFleet(scope, 'Drill', fleet);
    })).output;
    const evict = Object.entries(out).find(([k]) => k.includes('SimulateEviction'))![1] as any;
    expect(evict.value).toMatch(/^VM=\$\(az vmss list-instances --resource-group \$\{azurerm_orchestrated_virtual_machine_scale_set\.\w+\.resource_group_name\} --name \$\{azurerm_orchestrated_virtual_machine_scale_set\.\w+\.name\} /);
    expect(evict.value).toContain('&& az vm simulate-eviction');
  });

  test('outputs can be left out', () => {
    expect(JSON.parse(Testing.synthScope((scope) => new AzureInterruptionDrill(scope, 'Drill', { ...FLEX, createOutputs: false }))).output).toBeUndefined();
  });

  test.each([
    ['resourceGroupName', { ...FLEX, resourceGroupName: 'rg spot' }, /resourceGroupName \("rg spot"\) must be an Azure resource group name/],
    ['scaleSetName', { ...FLEX, scaleSetName: '_vmss' }, /scaleSetName \("_vmss"\) must be a scale set name/],
  ])('rejects a bad %s', (_p, props, message) => {
    let err: unknown;
    try {
      Testing.synthScope((scope) => new AzureInterruptionDrill(scope, 'Drill', props));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FleetSpecError);
    expect((err as FleetSpecError).code).toBe(FleetSpecErrorCode.AZURE_RESOURCE_NAME);
    expect((err as Error).message).toMatch(message);
  });

  test('an orchestration cast from a string is checked', () => {
    expect(() => Testing.synthScope((scope) => new AzureInterruptionDrill(scope, 'Drill', { ...FLEX, orchestration: 'flexible' as AzureScaleSetOrchestration }))).toThrow(
      /orchestration \("flexible"\) is not one of the AzureScaleSetOrchestration values; use one of AzureScaleSetOrchestration.FLEXIBLE \("Flexible"\), AzureScaleSetOrchestration.UNIFORM \("Uniform"\); did you mean AzureScaleSetOrchestration.FLEXIBLE \("Flexible"\)\?/,
    );
  });
});
