// One naming scheme across the clouds (docs/names.md) on Azure: the classes' Azure names with the old names as aliases,
// and bootCommands / agent.bundlePath on the fleet, the services and the queue workers; the old spellings
// (startupCommands, agentBundlePath) still work, both together are refused.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Testing } from 'cdktf';
import * as azure from '../../../constructs/azure';
import {
  AzureMultiRegionSpotInferenceService,
  AzureQueueWorkerFleet,
  AzureSpotFleet,
  AzureSpotFleetProps,
  AzureSpotInferenceService,
} from '../../../constructs/azure';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';

const dir = mkdtempSync(join(tmpdir(), 'azure-names-'));
const BUNDLE = join(dir, 'agent.js');
writeFileSync(BUNDLE, '"use strict";console.log("agent");');
const BASE: AzureSpotFleetProps = {
  resourceGroupName: 'rg',
  location: 'eastus2',
  adminSshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITEST test',
  instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'],
  minCapacity: 2,
  maxCapacity: 6,
  onDemandBaseCapacity: 1,
};

function fleet(p: Partial<AzureSpotFleetProps>): { json: string; fleet: AzureSpotFleet } {
  let f!: AzureSpotFleet;
  const json = Testing.synthScope((scope) => {
    f = new AzureSpotFleet(scope, 'Fleet', { ...BASE, ...p });
  });
  return { json, fleet: f };
}

function errorOf(fn: () => unknown): FleetSpecError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FleetSpecError) return e;
    throw e;
  }
  throw new Error('expected a FleetSpecError');
}

describe('class names: Azure<Name>, the old names are the same classes', () => {
  test.each([
    ['SpotScaleSetFleet', 'AzureSpotFleet'],
    ['ImportedSpotScaleSetFleet', 'ImportedAzureSpotFleet'],
    ['SpotLoadBalancer', 'AzureInferenceLoadBalancer'],
    ['SpotBackendPoolAttachment', 'AzureBackendPoolAttachment'],
    ['SpotFleetNetwork', 'AzureFleetNetwork'],
    ['SpotFleetSecurityGroup', 'AzureFleetSecurityGroup'],
    ['SpotAgentBlob', 'AzureAgentBlob'],
    ['AzureMultiRegionSpotService', 'AzureMultiRegionSpotInferenceService'],
    ['SpotScaleSet', 'AzureSpotScaleSet'],
  ])('%s is %s', (old, current) => {
    const exported = azure as unknown as Record<string, unknown>;
    expect(typeof exported[current]).toBe('function');
    expect(exported[old]).toBe(exported[current]);
  });

  test('an old-name class still builds and imports', () => {
    const imported = azure.SpotScaleSetFleet.fromScaleSetAttributes(Testing.app(), 'Imported', {
      resourceGroupName: 'rg',
      scaleSetIds: ['/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/llm'],
    });
    expect(imported.scaleSetNames).toEqual(['llm']);
  });
});

describe('AzureSpotFleet', () => {
  test('bootCommands run from cloud-init after the agent; the deprecated startupCommands renders the same', () => {
    const current = fleet({ agent: { bundlePath: BUNDLE }, bootCommands: ['docker run -d my/model'] });
    expect(current.fleet.customDataScript).toContain('docker run -d my/model');
    expect(current.fleet.customDataScript.indexOf('docker run -d my/model')).toBeGreaterThan(current.fleet.customDataScript.indexOf('spot-agent'));
    expect(fleet({ agentBundlePath: BUNDLE, startupCommands: ['docker run -d my/model'] }).json).toBe(current.json);
  });

  test('a missing bundle names agent.bundlePath', () => {
    expect(() => fleet({ agent: { bundlePath: join(dir, 'nope.js') } })).toThrow(/spot-agent bundle .*nope\.js does not exist; .*or set agent\.bundlePath/);
  });

  test('both spellings of an option are refused, together with the other problems', () => {
    const e = errorOf(() => fleet({ agent: { bundlePath: BUNDLE }, agentBundlePath: BUNDLE, bootCommands: ['a'], startupCommands: ['b'], minCapacity: 9 }));
    expect(e.problems).toContainEqual({
      code: FleetSpecErrorCode.OPTION_CONFLICT,
      prop: 'startupCommands',
      message: 'bootCommands and startupCommands are both set; startupCommands is the deprecated spelling of bootCommands (docs/names.md): set bootCommands only',
    });
    expect(e.problems).toContainEqual(expect.objectContaining({ code: FleetSpecErrorCode.OPTION_CONFLICT, prop: 'agentBundlePath', message: expect.stringMatching(/set agent\.bundlePath only$/) }));
    // minCapacity 9 > maxCapacity 6 is reported in the same error.
    expect(e.problems.some((p) => p.prop === 'minCapacity')).toBe(true);
  });
});

describe('the pieces that compose a fleet', () => {
  test('AzureSpotInferenceService: the deprecated spellings render the same; both refused', () => {
    const svc = (p: Partial<AzureSpotFleetProps>) => Testing.synthScope((scope) => { new AzureSpotInferenceService(scope, 'Svc', { ...BASE, ...p }); });
    expect(svc({ agentBundlePath: BUNDLE, startupCommands: ['echo hi'] })).toBe(svc({ agent: { bundlePath: BUNDLE }, bootCommands: ['echo hi'] }));
    expect(() => svc({ agent: { bundlePath: BUNDLE }, bootCommands: ['a'], startupCommands: ['b'] })).toThrow(/bootCommands and startupCommands are both set; .*set bootCommands only/);
  });

  test('AzureQueueWorkerFleet: its environment first, then bootCommands; both spellings refused', () => {
    let workers!: AzureQueueWorkerFleet;
    const q = (p: Partial<AzureSpotFleetProps>) => Testing.synthScope((scope) => {
      workers = new AzureQueueWorkerFleet(scope, 'Workers', {
        ...BASE, instanceTypes: ['Standard_D4s_v5', 'Standard_D4as_v5'], minCapacity: 0, onDemandBaseCapacity: 0,
        messageProcessingSeconds: 60, acceptableLatencySeconds: 300, ...p,
      });
    });
    const current = q({ agent: { bundlePath: BUNDLE }, bootCommands: ['systemctl start worker'] });
    const script = workers.fleet.customDataScript;
    expect(script.indexOf('systemctl start worker')).toBeGreaterThan(script.indexOf("QUEUE_WORKER_ENV'"));
    expect(q({ agentBundlePath: BUNDLE, startupCommands: ['systemctl start worker'] })).toBe(current);
    expect(() => q({ agentBundlePath: BUNDLE, agent: { bundlePath: BUNDLE } })).toThrow(/agent\.bundlePath and agentBundlePath are both set; .*set agent\.bundlePath only/);
  });

  test('AzureMultiRegionSpotInferenceService: the regional fleets refuse both spellings', () => {
    expect(() => Testing.synthScope((scope) => {
      new AzureMultiRegionSpotInferenceService(scope, 'Svc', {
        ...BASE,
        regions: [{ region: 'eastus2' }, { region: 'westeurope' }],
        agent: { bundlePath: BUNDLE }, bootCommands: ['a'], startupCommands: ['b'],
      });
    })).toThrow(/bootCommands and startupCommands are both set; .*set bootCommands only/);
  });
});
