import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Testing } from 'cdktf';
import { AzureSpotInferenceService, AzureSpotInferenceServiceProps } from '../../../constructs/azure';

Testing.setupJest();
const dir = mkdtempSync(join(tmpdir(), 'azure-service-'));
const BUNDLE = join(dir, 'agent.js');
writeFileSync(BUNDLE, '"use strict";console.log("agent");');
const PROPS: AzureSpotInferenceServiceProps = {
  resourceGroupName: 'rg',
  location: 'eastus2',
  adminSshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITEST test',
  agentBundlePath: BUNDLE,
  instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'],
  minCapacity: 2,
  maxCapacity: 6,
  onDemandBaseCapacity: 1,
  namePrefix: 'llm',
};

function build(overrides: Partial<AzureSpotInferenceServiceProps> = {}): { service: AzureSpotInferenceService; json: any } {
  let service!: AzureSpotInferenceService;
  const json = JSON.parse(Testing.synthScope((scope) => {
    service = new AzureSpotInferenceService(scope, 'Svc', { ...PROPS, ...overrides });
  }));
  return { service, json };
}
const resources = (json: any, type: string): any[] => Object.values(json.resource[type] ?? {});

describe('AzureSpotInferenceService alerts', () => {
  test('with the fallback controller (the default): the fallback alert watches the resource the controller posts to', () => {
    const { service, json } = build({ alertOptions: { severity: 2 } });
    const settings = resources(json, 'azurerm_linux_function_app')[0].app_settings;
    const fallback = resources(json, 'azurerm_monitor_metric_alert').filter((a) => /fallback-active/.test(a.name));
    expect(fallback.map((a) => [a.name, a.scopes, a.severity])).toEqual([['fleet-fallback-active-0', [settings.METRICS_RESOURCE_ID], 2]]);
    expect(service.alerts!.fallbackActiveAlert).toBeDefined();
  });

  test('onDemandFallback: false: no fallback alert (nothing writes its metric), the health and eviction alerts stay', () => {
    const { service, json } = build({ onDemandFallback: false });
    expect(service.onDemandFallback).toBeUndefined();
    expect(service.alerts!.fallbackActiveAlert).toBeUndefined();
    expect(resources(json, 'azurerm_linux_function_app')).toEqual([]);
    expect(resources(json, 'azurerm_monitor_metric_alert').map((a) => a.name)).toEqual(['fleet-backend-health']);
    expect(resources(json, 'azurerm_monitor_activity_log_alert').map((a) => a.name)).toEqual(['fleet-spot-eviction', 'fleet-spot-vm-eviction']);
  });
});

describe('AzureSpotInferenceService onDemandFallbackOptions', () => {
  test('reach the controller: its policy, its custom metric, its schedule', () => {
    const { service, json } = build({ onDemandFallbackOptions: { policy: { scaleInCooldownSeconds: 300 }, customMetric: false, schedule: '0 */2 * * * *' } });
    const settings = resources(json, 'azurerm_linux_function_app')[0].app_settings;
    expect(settings.POLICY_OPTIONS).toBe('{"scaleInCooldownSeconds":300}');
    expect(settings.METRICS_RESOURCE_ID).toBeUndefined();
    expect(service.onDemandFallback!.schedule).toBe('0 */2 * * * *');
  });

  test('are checked by the controller: a bad schedule is refused with its value', () => {
    expect(() => build({ onDemandFallbackOptions: { schedule: '* * * * *' } })).toThrow('schedule ("* * * * *") must be an NCRONTAB expression of six fields');
  });
});

describe('AzureSpotInferenceService eviction trigger', () => {
  /** The agent config the custom data writes, with deploy-time values as placeholders. */
  const agentConfigOf = (script: string): any => JSON.parse(/<<'SPOT_AGENT_CONFIG'\n([\s\S]*?)\nSPOT_AGENT_CONFIG/.exec(script)![1].replace(/\$\{TfToken\[[^\]]+\]\}/g, 'TOKEN'));

  test('the agents post Preempt notices to the controller\'s queue, with the fleet identity, which may send there', () => {
    const { service } = build();
    const config = agentConfigOf(service.fleet.customDataScript);
    expect(config.controllerQueue).toEqual({ url: service.onDemandFallback!.evictionQueueUrl, identityClientId: 'TOKEN' });
    expect(service.onDemandFallback!.evictionQueueUrl).toMatch(/^https:\/\/spotfb[0-9a-f]{18}\.queue\.core\.windows\.net\/spot-evictions$/);
    // a storage account named by the user is the one the agents post to
    const named = build({ onDemandFallbackOptions: { storageAccountName: 'llmfallback01' } });
    expect(agentConfigOf(named.service.fleet.customDataScript).controllerQueue.url).toBe('https://llmfallback01.queue.core.windows.net/spot-evictions');
  });

  test('without the trigger or the controller the agents post nothing; a bad queue URL of their own is refused at synth', () => {
    expect(agentConfigOf(build({ onDemandFallbackOptions: { evictionTrigger: false } }).service.fleet.customDataScript).controllerQueue).toBeUndefined();
    expect(agentConfigOf(build({ onDemandFallback: false }).service.fleet.customDataScript).controllerQueue).toBeUndefined();
    expect(() => build({ agent: { controllerQueueUrl: 'http://example.com/q' } })).toThrow(/agent.controllerQueueUrl \("http:\/\/example.com\/q"\) must be the queue's https URL/);
  });
});
