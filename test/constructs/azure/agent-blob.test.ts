/**
 * AzureAgentBlob's default storage account name: a hash of what is the same on every synth. The examples pass a
 * resource group's attributes (tokens) as resourceGroupName and location; a token's text (`${TfToken[TOKEN.n]}`)
 * counts the tokens created before it in the process, so it must never reach the name (adding a construct earlier in
 * the app would rename, so replace, the account the VMs download their agent from).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { Fn, TerraformVariable, Testing } from 'cdktf';
import { Construct } from 'constructs';
import { AgentDelivery, AzureAgentBlob, AzureSpotFleet } from '../../../constructs/azure';

const tmp = mkdtempSync(join(tmpdir(), 'azure-agent-blob-'));
const AGENT = join(tmp, 'agent.js');
writeFileSync(AGENT, '"use strict";console.log("agent");');

const resources = (json: any, type: string): any[] => Object.values(json.resource[type] ?? {});

/** Constructs created earlier in the app: each makes tokens. */
function extras(scope: Construct): void {
  new TerraformVariable(scope, 'Extra', { type: 'string', default: 'x' });
  const other = new ResourceGroup(scope, 'OtherRg', { name: 'rg-other', location: 'westus3' });
  Fn.lower(other.name);
  Fn.upper(other.location);
}

function accountNames(build: (scope: Construct) => void, grown: boolean): string[] {
  const json = JSON.parse(
    Testing.synthScope((scope) => {
      if (grown) extras(scope);
      build(scope);
    }),
  );
  return resources(json, 'azurerm_storage_account').map((r) => r.name as string);
}

describe('AzureAgentBlob: a storage account name that does not move when the app grows', () => {
  test('resource group and region given as tokens: the same name with and without constructs created before', () => {
    const build = (scope: Construct) => {
      const rg = new ResourceGroup(scope, 'Rg', { name: 'rg-spot', location: 'eastus2' });
      new AzureAgentBlob(scope, 'Agent', { resourceGroupName: rg.name, location: rg.location, agentBundlePath: AGENT, readerPrincipalId: 'principal' });
    };
    const plain = accountNames(build, false);
    expect(plain).toHaveLength(1);
    expect(plain[0]).toMatch(/^spotagent[0-9a-f]{15}$/);
    expect(accountNames(build, true)).toEqual(plain);
  });

  test('through a fleet that ships its agent as a blob (AgentDelivery.STORAGE_BLOB), resource group a TerraformVariable', () => {
    const build = (scope: Construct) => {
      const rg = new TerraformVariable(scope, 'ResourceGroup', { type: 'string', default: 'rg-spot' });
      new AzureSpotFleet(scope, 'Fleet', {
        resourceGroupName: rg.stringValue,
        location: 'eastus2',
        adminSshPublicKey: 'ssh-rsa AAAAB3NzaC1yc2E test',
        instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'],
        minCapacity: 1,
        maxCapacity: 3,
        desiredCapacity: 2,
        onDemandBaseCapacity: 0,
        agentBundlePath: AGENT,
        agentDelivery: AgentDelivery.STORAGE_BLOB,
      });
    };
    const plain = accountNames(build, false);
    expect(plain).toEqual([expect.stringMatching(/^spotagent[0-9a-f]{15}$/)]);
    expect(accountNames(build, true)).toEqual(plain);
  });

  test('the name follows the construct path, and a resource group or region given as a plain string', () => {
    const at = (id: string, resourceGroupName: string, location: string) =>
      accountNames((scope) => new AzureAgentBlob(scope, id, { resourceGroupName, location, agentBundlePath: AGENT, readerPrincipalId: 'principal' }), false)[0];
    const base = at('Agent', 'rg-spot', 'eastus2');
    expect(base).toMatch(/^spotagent[0-9a-f]{15}$/);
    expect(at('Agent', 'rg-spot', 'eastus2')).toBe(base);
    expect(at('Other', 'rg-spot', 'eastus2')).not.toBe(base);
    expect(at('Agent', 'rg-two', 'eastus2')).not.toBe(base);
    expect(at('Agent', 'rg-spot', 'westeurope')).not.toBe(base);
  });

  test('a given storageAccountName is used as it is', () => {
    expect(accountNames((scope) => new AzureAgentBlob(scope, 'Agent', { resourceGroupName: 'rg', location: 'eastus2', agentBundlePath: AGENT, readerPrincipalId: 'p', storageAccountName: 'myspotagent01' }), true)).toEqual(['myspotagent01']);
  });
});
