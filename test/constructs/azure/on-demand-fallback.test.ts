import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LinuxFunctionApp } from '@cdktf/provider-azurerm/lib/linux-function-app';
import { RoleDefinition } from '@cdktf/provider-azurerm/lib/role-definition';
import { ServicePlan } from '@cdktf/provider-azurerm/lib/service-plan';
import { StorageAccount } from '@cdktf/provider-azurerm/lib/storage-account';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { Fn, TerraformAsset, TerraformVariable, Testing, Token } from 'cdktf';
import { AzureOnDemandFallback, AzureOnDemandFallbackProps, IAzureSpotFleet, AzureSpotFleet, AzureSpotFleetProps } from '../../../constructs/azure';
import { AzureFallbackClients, azureFallbackSettingsFromEnv, AzureStoredState, AzureVm, runAzureFallbackController } from '../../../lib/handlers/azure/fallback';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';
import { lazy } from '../../support/lazy';

Testing.setupJest();

const root = join(__dirname, '..', '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'azure-fallback-'));
const AGENT = join(tmp, 'agent.js');
writeFileSync(AGENT, '"use strict";console.log("agent");');
beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'handlers', 'azure', 'fallback', 'index.js'))) {
    execFileSync(process.execPath, [join(root, 'scripts', 'build-handlers.mjs'), '--quiet'], { cwd: root });
  }
});

const GPU: AzureSpotFleetProps = {
  resourceGroupName: 'rg-spot',
  location: 'eastus2',
  adminSshPublicKey: 'ssh-rsa AAAAB3NzaC1yc2E test',
  instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'],
  minCapacity: 2,
  maxCapacity: 9,
  desiredCapacity: 3,
  onDemandBaseCapacity: 1,
  agentBundlePath: AGENT,
};

function synth(fleetProps: AzureSpotFleetProps = GPU, props: Partial<AzureOnDemandFallbackProps> = {}): { out: string; json: any; fallback: AzureOnDemandFallback; fleet: AzureSpotFleet } {
  let fallback!: AzureOnDemandFallback;
  let fleet!: AzureSpotFleet;
  const out = Testing.synthScope((scope) => {
    fleet = new AzureSpotFleet(scope, 'Fleet', fleetProps);
    fallback = new AzureOnDemandFallback(scope, 'Fallback', { fleet, resourceGroupName: 'rg-spot', location: 'eastus2', ...props });
  });
  return { out, json: JSON.parse(out), fallback, fleet };
}
const resources = (json: any, type: string): any[] => Object.values(json.resource[type] ?? {});
/** The fallback with spareGroups: true, synthesized once for the tests that only read it. */
const withSpareGroups = lazy(() => synth(GPU, { spareGroups: true }));

describe('AzureOnDemandFallback', () => {
  const { out, json, fallback, fleet } = synth(GPU, { policy: { scaleInCooldownSeconds: 300 } });

  test('Linux consumption plan, Node.js 22 Function App, HTTPS only, FTPS off, user-assigned identity', () => {
    expect(out).toHaveResourceWithProperties(ServicePlan, { os_type: 'Linux', sku_name: 'Y1', name: 'fallback-fallback-plan' });
    expect(out).toHaveResourceWithProperties(LinuxFunctionApp, {
      functions_extension_version: '~4',
      https_only: true,
      site_config: expect.objectContaining({ application_stack: { node_version: '22' }, ftps_state: 'Disabled', minimum_tls_version: '1.2' }),
    });
    const app = resources(json, 'azurerm_linux_function_app')[0];
    expect(app.identity.type).toBe('UserAssigned');
    expect(app.identity.identity_ids[0]).toMatch(/azurerm_user_assigned_identity\.Fallback_Identity_\w+\.id/);
    expect(app.zip_deploy_file).toMatch(/^assets\/Fallback_FunctionCode_\w+\/[0-9A-F]+\/archive\.zip$/);
  });

  test('app settings: the scale sets with their base, bounds and desired capacity, the state blob, the metric', () => {
    const s = resources(json, 'azurerm_linux_function_app')[0].app_settings;
    expect(s).toMatchObject({
      WEBSITE_RUN_FROM_PACKAGE: '1',
      FLEET_NAME: 'fallback',
      RESOURCE_GROUP: 'rg-spot',
      MAX_CAPACITY: '9',
      STATE_BLOB: 'fallback.json',
      POLICY_OPTIONS: '{"scaleInCooldownSeconds":300}',
      METRICS_REGION: 'eastus2',
    });
    expect(s.AZURE_CLIENT_ID).toMatch(/Fallback_Identity_\w+\.client_id/);
    expect(s.SUBSCRIPTION_ID).toMatch(/data\.azurerm_client_config\.Fallback_Client_\w+\.subscription_id/);
    const sets = JSON.parse(s.SCALE_SETS.replace(/\$\{[^}]+\}/g, 'REF'));
    expect(sets).toEqual(fleet.plans.map((p) => ({ name: 'REF', baseRegularCount: p.baseRegularCount, maxCapacity: p.maxCapacity, desiredCapacity: p.desiredCapacity })));
    expect(sets).toHaveLength(2);
    expect(s.SCALE_SETS).toMatch(/Fleet_ScaleSet1_Vmss_\w+\.name.*Fleet_ScaleSet2_Vmss_\w+\.name/);
  });

  test('the zip holds the bundle, host.json and a timer function.json pointing at it', () => {
    const asset = fallback.node.findChild('FunctionCode') as TerraformAsset;
    const staged = (asset as unknown as { sourcePath: string }).sourcePath;
    expect(JSON.parse(readFileSync(join(staged, 'fallback', 'function.json'), 'utf8'))).toEqual({
      bindings: [{ name: 'timer', type: 'timerTrigger', direction: 'in', schedule: '0 * * * * *', runOnStartup: false, useMonitor: true }],
      scriptFile: '../index.js',
      entryPoint: 'fallbackTimer',
    });
    expect(JSON.parse(readFileSync(join(staged, 'host.json'), 'utf8'))).toMatchObject({ version: '2.0' });
    expect(readFileSync(join(staged, 'index.js'), 'utf8')).toContain('fallbackTimer');
  });

  test('eviction trigger: a queue in its storage account, Message Sender for the fleet\'s identity on that queue only, a queue function beside the timer', () => {
    const [queue] = resources(json, 'azurerm_storage_queue');
    expect(queue).toEqual(expect.objectContaining({ name: 'spot-evictions', storage_account_id: expect.stringMatching(/azurerm_storage_account\.Fallback_Storage_\w+\.id/) }));
    const account = resources(json, 'azurerm_storage_account').find((a) => a.name.startsWith('spotfb')).name;
    expect(fallback.evictionQueueUrl).toBe(`https://${account}.queue.core.windows.net/spot-evictions`);
    const senders = Object.entries(json.resource.azurerm_role_assignment as Record<string, any>).filter(([, a]) => a.role_definition_name === 'Storage Queue Data Message Sender').map(([, a]) => a);
    expect(senders).toEqual([expect.objectContaining({ scope: expect.stringMatching(/azurerm_storage_queue\.Fallback_Evictions_\w+\.id/), principal_id: expect.stringMatching(/azurerm_user_assigned_identity\.Fleet_Identity_\w+\.principal_id/) })]);
    const staged = (fallback.node.findChild('FunctionCode') as unknown as { sourcePath: string }).sourcePath;
    expect(JSON.parse(readFileSync(join(staged, 'eviction', 'function.json'), 'utf8'))).toEqual({
      bindings: [{ name: 'message', type: 'queueTrigger', direction: 'in', queueName: 'spot-evictions', connection: 'AzureWebJobsStorage' }],
      scriptFile: '../index.js',
      entryPoint: 'fallbackOnEviction',
    });
    const host = JSON.parse(readFileSync(join(staged, 'host.json'), 'utf8'));
    expect(host.extensions.queues).toEqual({ maxPollingInterval: '00:00:02', batchSize: 1, newBatchThreshold: 0, maxDequeueCount: 2 });
    // a Node.js app loads the queue trigger's Storage extension from the extension bundle
    expect(host.extensionBundle).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' });
    expect(readFileSync(join(staged, 'index.js'), 'utf8')).toContain('fallbackOnEviction');
    const off = synth(GPU, { evictionTrigger: false });
    expect(resources(off.json, 'azurerm_storage_queue')).toEqual([]);
    expect(off.fallback.evictionQueueUrl).toBeUndefined();
    const offStaged = (off.fallback.node.findChild('FunctionCode') as unknown as { sourcePath: string }).sourcePath;
    expect(existsSync(join(offStaged, 'eviction', 'function.json'))).toBe(false);
    expect(JSON.parse(readFileSync(join(offStaged, 'host.json'), 'utf8')).extensionBundle).toBeUndefined();
  });

  test('control role: scale-set actions only, assignable to and assigned at each scale set', () => {
    expect(out).toHaveResourceWithProperties(RoleDefinition, {
      permissions: [{ actions: ['Microsoft.Compute/virtualMachineScaleSets/read', 'Microsoft.Compute/virtualMachineScaleSets/write', 'Microsoft.Compute/virtualMachineScaleSets/delete/action'] }],
    });
    const control = resources(json, 'azurerm_role_definition').find((r) => r.name.includes('control'));
    // The fleet's two scale sets, then the three spare scale sets rendered by default.
    expect(control.assignable_scopes).toHaveLength(5);
    expect(control.assignable_scopes.join(' ')).toMatch(/Fleet_ScaleSet1_Vmss_\w+\.id.*Fleet_ScaleSet2_Vmss_\w+\.id.*Fallback_SpareScaleSet1_\w+\.id/);
    const assignments = json.resource.azurerm_role_assignment;
    const controls = Object.entries(assignments).filter(([k]) => k.includes('Fallback_ControlScaleSet')).map(([, v]) => v as any);
    expect(controls).toHaveLength(2);
    for (const a of controls) {
      expect(a.scope).toMatch(/^\$\{azurerm_orchestrated_virtual_machine_scale_set\.Fleet_ScaleSet\d_Vmss_\w+\.id\}$/);
      expect(a.role_definition_id).toMatch(/Fallback_ControlRole_\w+\.role_definition_resource_id/);
      expect(a.principal_id).toMatch(/Fallback_Identity_\w+\.principal_id/);
    }
  });

  test('observe role: read VMs and their instance view in the resource group, nothing else', () => {
    const observe = resources(json, 'azurerm_role_definition').find((r) => r.name.includes('observe'));
    expect(observe.permissions).toEqual([{ actions: ['Microsoft.Compute/virtualMachines/read', 'Microsoft.Compute/virtualMachines/instanceView/read'] }]);
    const a = Object.entries(json.resource.azurerm_role_assignment).find(([k]) => k.includes('Fallback_ObserveVms'))![1] as any;
    expect(a.scope).toMatch(/^\/subscriptions\/\$\{data\.azurerm_client_config\.Fallback_Client_\w+\.subscription_id\}\/resourceGroups\/rg-spot$/);
  });

  test('state: Storage Blob Data Contributor on the state container only; metrics publisher on the first scale set', () => {
    const byKey = (part: string) => Object.entries(json.resource.azurerm_role_assignment).find(([k]) => k.includes(part))![1] as any;
    expect(byKey('Fallback_StateBlobs')).toMatchObject({ role_definition_name: 'Storage Blob Data Contributor' });
    expect(byKey('Fallback_StateBlobs').scope).toMatch(/^\$\{azurerm_storage_container\.Fallback_State_\w+\.id\}$/);
    expect(byKey('Fallback_PublishMetric')).toMatchObject({ role_definition_name: 'Monitoring Metrics Publisher' });
    expect(byKey('Fallback_PublishMetric').scope).toMatch(/Fleet_ScaleSet1_Vmss_\w+\.id/);
    expect(out).toHaveResourceWithProperties(StorageAccount, { min_tls_version: 'TLS1_2', https_traffic_only_enabled: true, allow_nested_items_to_be_public: false });
  });

  test('Terraform leaves the priority mix to the controller', () => {
    for (const s of resources(json, 'azurerm_orchestrated_virtual_machine_scale_set').filter((x) => !String(x.name).includes('-spare-'))) {
      expect(s.lifecycle.ignore_changes).toEqual(['instances', 'priority_mix']);
    }
  });

  test('spareGroups: one spare Spot scale set per zone, a Spot-only copy of the first scale set with capacity 0 and no autoscale, known to the controller', () => {
    const { json, fallback } = withSpareGroups();
    const all = resources(json, 'azurerm_orchestrated_virtual_machine_scale_set');
    const main = all.find((x) => !String(x.name).includes('-spare-'))!;
    const spares = all.filter((x) => String(x.name).includes('-spare-'));
    expect(spares.map((x) => [x.name, x.zones, x.instances])).toEqual([
      ['fallback-spare-1-vmss', ['1'], 0],
      ['fallback-spare-2-vmss', ['2'], 0],
      ['fallback-spare-3-vmss', ['3'], 0],
    ]);
    for (const x of spares) {
      expect(x).toMatchObject({ priority: 'Spot', sku_name: main.sku_name, eviction_policy: main.eviction_policy, lifecycle: { ignore_changes: ['instances'] } });
      expect(x.priority_mix).toBeUndefined();
      expect(x.network_interface).toEqual(main.network_interface);
      expect(x.os_profile).toEqual(main.os_profile);
      expect(x.identity).toEqual(main.identity);
      expect(x.extension).toEqual(main.extension);
    }
    // no autoscale setting targets a spare set
    const autoscale = resources(json, 'azurerm_monitor_autoscale_setting');
    expect(autoscale.some((a) => String(a.target_resource_id).includes('SpareScaleSet'))).toBe(false);
    const settings = JSON.parse(resources(json, 'azurerm_linux_function_app')[0].app_settings.SPARE_SCALE_SETS);
    expect(settings.map((x: { name: string; zone: string; maxCapacity: number }) => [x.name, x.zone, x.maxCapacity])).toEqual([
      ['fallback-spare-1-vmss', '1', 1],
      ['fallback-spare-2-vmss', '2', 1],
      ['fallback-spare-3-vmss', '3', 1],
    ]);
    expect(fallback.spareScaleSets).toHaveLength(3);
    const control = resources(json, 'azurerm_role_definition').find((r) => r.name.includes('control'));
    expect(control.assignable_scopes.join(' ')).toMatch(/Fleet_ScaleSet1_Vmss_\w+\.id.*Fleet_ScaleSet2_Vmss_\w+\.id.*Fallback_SpareScaleSet1_\w+\.id.*Fallback_SpareScaleSet2_\w+\.id.*Fallback_SpareScaleSet3_\w+\.id/);
    expect(() => synth(GPU, { spareGroups: true, policy: { spareSpotReplicas: 0 } })).toThrow(/spareGroups is true but policy\.spareSpotReplicas is 0/);
  });

  test('customMetric false: no metrics publisher grant and no metric settings', () => {
    const { json: j } = synth(GPU, { customMetric: false, schedule: '0 */2 * * * *' });
    expect(Object.keys(j.resource.azurerm_role_assignment).some((k) => k.includes('PublishMetric'))).toBe(false);
    expect(resources(j, 'azurerm_linux_function_app')[0].app_settings.METRICS_REGION).toBeUndefined();
  });
});

describe('AzureOnDemandFallback validation', () => {
  function errorOf(fleetProps: AzureSpotFleetProps, props: Partial<AzureOnDemandFallbackProps>): FleetSpecError {
    try {
      synth(fleetProps, props);
    } catch (e) {
      return e as FleetSpecError;
    }
    throw new Error('expected a FleetSpecError');
  }

  test('schedule, storage account name and policy problems are reported together', () => {
    const err = errorOf(GPU, { schedule: '* * * * *', storageAccountName: 'Bad_Name', policy: { flapWindowSeconds: -5 } });
    expect(err).toBeInstanceOf(FleetSpecError);
    expect(err.problems.map((p) => p.prop)).toEqual(['schedule', 'storageAccountName', 'policy.flapWindowSeconds']);
    expect(err.message).toMatch(/schedule \("\* \* \* \* \*"\) must be an NCRONTAB expression of six fields \(second minute hour day month weekday\), as Azure Functions timers take it; use e\.g\. '0 \* \* \* \* \*'/);
    expect(err.message).toMatch(/storageAccountName \("Bad_Name"\) must be 3-24 lower-case letters and digits; use e\.g\. "badname"/);
    expect(err.message).toMatch(/policy\.flapWindowSeconds \(-5\) must be a finite number, 0 or more/);
  });

  test('a fleet without a Spot share has nothing to fall back from', () => {
    const err = errorOf({ ...GPU, instanceTypes: ['Standard_NC4as_T4_v3'], allowUndiversified: true, minCapacity: 2, desiredCapacity: 2, maxCapacity: 2, onDemandBaseCapacity: 2 }, {});
    expect(err.code).toBe(FleetSpecErrorCode.FALLBACK_CAPACITY);
    expect(err.message).toMatch(/the fleet has no Spot share \(maxCapacity 2, on-demand base 2\), so there is nothing to fall back from; raise maxCapacity above the base or leave the fallback out/);
  });

  test('a missing bundle names the path and the fix', () => {
    const err = errorOf(GPU, { functionBundleDir: join(tmp, 'nope') });
    expect(err.message).toMatch(/bundle ".*nope" not found .*run `npm run build:handlers` first so that synth can ship it, or fix functionBundleDir/);
  });
});

describe('AzureOnDemandFallback: spare Spot scale sets', () => {
  const SUB_ID = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-spot/providers/Microsoft.Compute/virtualMachineScaleSets';
  const spares = ['1', '2'].map((zone) => ({ name: `llm-spare-${zone}`, id: `${SUB_ID}/llm-spare-${zone}`, zone, vmSize: 'Standard_NC4as_T4_v3', maxCapacity: 1 }));

  test('the controller gets them (and the region) in its settings; the control role is assignable and assigned at each of them', () => {
    const { json } = synth(GPU, { spareScaleSets: spares });
    const app = resources(json, 'azurerm_linux_function_app')[0];
    expect(app.app_settings.FLEET_REGION).toBe('eastus2');
    expect(JSON.parse(app.app_settings.SPARE_SCALE_SETS)).toEqual(spares.map(({ name, zone, vmSize, maxCapacity }) => ({ name, zone, vmSize, maxCapacity })));
    const role = resources(json, 'azurerm_role_definition').find((r) => /spot fallback control/.test(r.name));
    expect(role.assignable_scopes).toEqual(expect.arrayContaining(spares.map((s) => s.id)));
    const scopes = resources(json, 'azurerm_role_assignment').map((a) => a.scope);
    for (const s of spares) expect(scopes).toContain(s.id);
  });

  test('on by default: one spare set per zone of the fleet, like spareGroups: true', () => {
    const byDefault = synth(GPU).json;
    const explicit = withSpareGroups().json;
    const names = (j: any) => resources(j, 'azurerm_orchestrated_virtual_machine_scale_set').map((x) => x.name).filter((n: string) => n.includes('-spare-'));
    expect(names(byDefault)).toEqual(['fallback-spare-1-vmss', 'fallback-spare-2-vmss', 'fallback-spare-3-vmss']);
    expect(names(byDefault)).toEqual(names(explicit));
    expect(resources(byDefault, 'azurerm_linux_function_app')[0].app_settings.SPARE_SCALE_SETS).toBe(resources(explicit, 'azurerm_linux_function_app')[0].app_settings.SPARE_SCALE_SETS);
    // Only the zones the fleet uses.
    expect(names(synth({ ...GPU, zones: ['1', '3'] }).json)).toEqual(['fallback-spare-1-vmss', 'fallback-spare-3-vmss']);
  });

  test('spareGroups false, or no spares in the policy: no spare set, no setting, no extra assignment', () => {
    const { json } = synth(GPU, { spareGroups: false });
    const app = resources(json, 'azurerm_linux_function_app')[0];
    expect(app.app_settings.SPARE_SCALE_SETS).toBeUndefined();
    expect(resources(json, 'azurerm_role_assignment').some((a) => String(a.scope).includes('llm-spare'))).toBe(false);
    expect(resources(json, 'azurerm_orchestrated_virtual_machine_scale_set').some((x) => String(x.name).includes('-spare-'))).toBe(false);
    const { json: noSpares } = synth(GPU, { policy: { spareSpotReplicas: 0 } });
    expect(resources(noSpares, 'azurerm_orchestrated_virtual_machine_scale_set').some((x) => String(x.name).includes('-spare-'))).toBe(false);
  });

  test('a bad zone or capacity is refused with the value and the fix', () => {
    let err: FleetSpecError | undefined;
    try {
      synth(GPU, { spareScaleSets: [{ ...spares[0], zone: 'eastus2-1', maxCapacity: 0 }] });
    } catch (e) {
      err = e as FleetSpecError;
    }
    expect(err).toBeInstanceOf(FleetSpecError);
    if (!err) return;
    expect(err.message).toMatch(/spareScaleSets\[0\]\.zone \("eastus2-1"\) must be one Azure availability zone number, e\.g\. "1"/);
    expect(err.message).toMatch(/spareScaleSets\[0\]\.maxCapacity \(0\) must be a whole number, 1 or more/);
  });
});

describe('AzureOnDemandFallback: an imported fleet (fromScaleSetAttributes)', () => {
  const SETS = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-shared/providers/Microsoft.Compute/virtualMachineScaleSets';
  const CAPS = [
    { baseRegularCount: 1, maxCapacity: 6, desiredCapacity: 2 },
    { baseRegularCount: 0, maxCapacity: 4, desiredCapacity: 1 },
  ];
  const build = (props: Partial<AzureOnDemandFallbackProps> = {}, ids = [`${SETS}/chat-1`, `${SETS}/chat-2`]): any => JSON.parse(Testing.synthScope((scope) => {
    const fleet = AzureSpotFleet.fromScaleSetAttributes(scope, 'Imported', { resourceGroupName: 'rg-shared', scaleSetIds: ids, fleetName: 'chat' });
    new AzureOnDemandFallback(scope, 'Fallback', { fleet, resourceGroupName: 'rg-spot', location: 'eastus2', scaleSetCapacities: CAPS, ...props });
  }));
  const errorOf = (props: Partial<AzureOnDemandFallbackProps>, ids?: string[]): FleetSpecError => {
    try {
      build(props, ids);
    } catch (e) {
      return e as FleetSpecError;
    }
    throw new Error('expected a FleetSpecError');
  };

  test('the controller drives the imported scale sets: their names and capacities, their resource group, roles at their ids', () => {
    const json = build();
    const s = resources(json, 'azurerm_linux_function_app')[0].app_settings;
    expect(JSON.parse(s.SCALE_SETS)).toEqual([{ name: 'chat-1', ...CAPS[0] }, { name: 'chat-2', ...CAPS[1] }]);
    expect(s.RESOURCE_GROUP).toBe('rg-shared');
    expect(s.MAX_CAPACITY).toBe('10');
    expect(s.METRICS_RESOURCE_ID).toBe(`${SETS}/chat-1`);
    const controls = Object.entries(json.resource.azurerm_role_assignment).filter(([k]) => k.includes('Fallback_ControlScaleSet')).map(([, a]) => (a as any).scope);
    expect(controls).toEqual([`${SETS}/chat-1`, `${SETS}/chat-2`]);
    const control = resources(json, 'azurerm_role_definition').find((r) => r.name.includes('control'));
    expect(control.assignable_scopes).toEqual([`${SETS}/chat-1`, `${SETS}/chat-2`]);
    const observe = Object.entries(json.resource.azurerm_role_assignment).find(([k]) => k.includes('Fallback_ObserveVms'))![1] as any;
    expect(observe.scope).toMatch(/\/resourceGroups\/rg-shared$/);
    // Nothing to copy: no spare scale set is rendered for an imported fleet.
    expect(json.resource.azurerm_orchestrated_virtual_machine_scale_set).toBeUndefined();
    expect(s.SPARE_SCALE_SETS).toBeUndefined();
  });

  test('its own spare sets can be given', () => {
    const spares = [{ name: 'chat-spare-1', id: `${SETS}/chat-spare-1`, zone: '1', vmSize: 'Standard_NC4as_T4_v3', maxCapacity: 1 }];
    const json = build({ spareScaleSets: spares });
    expect(JSON.parse(resources(json, 'azurerm_linux_function_app')[0].app_settings.SPARE_SCALE_SETS)).toEqual([{ name: 'chat-spare-1', zone: '1', vmSize: 'Standard_NC4as_T4_v3', maxCapacity: 1 }]);
  });

  test('capacities missing, miscounted or bad, spareGroups without a scale set to copy: refused with the prop and the fix', () => {
    expect(errorOf({ scaleSetCapacities: undefined }).message).toMatch(/scaleSetCapacities is not set, but fleet chat is imported \(fromScaleSetAttributes\), so the controller does not know its capacities; give one \{baseRegularCount, maxCapacity, desiredCapacity\} per scale set/);
    expect(errorOf({ scaleSetCapacities: [CAPS[0]] }).message).toMatch(/scaleSetCapacities has 1 entries for the 2 scale sets of fleet chat; give one per scale set/);
    const bad = errorOf({ scaleSetCapacities: [{ baseRegularCount: -1, maxCapacity: 2.5, desiredCapacity: 1 }, { baseRegularCount: 5, maxCapacity: 4, desiredCapacity: 1 }] });
    expect(bad.message).toMatch(/scaleSetCapacities\[0\]\.baseRegularCount \(-1\) must be a whole number, 0 or more/);
    expect(bad.message).toMatch(/scaleSetCapacities\[0\]\.maxCapacity \(2\.5\) must be a whole number, 0 or more/);
    expect(bad.message).toMatch(/scaleSetCapacities\[1\] has baseRegularCount 5 and desiredCapacity 1 above its maxCapacity 4/);
    expect(bad.problems.every((p) => p.code === FleetSpecErrorCode.FALLBACK_CAPACITY)).toBe(true);
    const tokens = errorOf({ scaleSetCapacities: [{ ...CAPS[0], maxCapacity: Token.asNumber('${var.max}') }, CAPS[1]] });
    expect(tokens.message).toMatch(/scaleSetCapacities\[0\]\.maxCapacity is a deploy-time value; the controller computes with it, so give the number itself/);
    expect(errorOf({ spareGroups: true }).message).toMatch(/spareGroups is true but fleet chat is imported: the spare scale sets are copies of a AzureSpotFleet's first scale set.*give spareScaleSets/);
    expect(errorOf({ scaleSetCapacities: [{ baseRegularCount: 6, maxCapacity: 6, desiredCapacity: 6 }, { baseRegularCount: 4, maxCapacity: 4, desiredCapacity: 4 }] }).message).toMatch(/the fleet has no Spot share \(maxCapacity 10, on-demand base 10\)/);
  });

  test('a built fleet with scaleSetCapacities is refused (it knows its own)', () => {
    expect(() => synth(GPU, { scaleSetCapacities: [{ baseRegularCount: 1, maxCapacity: 2, desiredCapacity: 1 }] })).toThrow(/scaleSetCapacities is set for fleet fleet, which this package built and which knows its own capacities; leave scaleSetCapacities out/);
  });
});

describe('AzureOnDemandFallback: one controller over several regions (additionalFleets)', () => {
  const WEST: AzureSpotFleetProps = { ...GPU, location: 'westeurope', namePrefix: 'west', instanceTypes: ['Standard_NC8as_T4_v3', 'Standard_NC16as_T4_v3'], maxCapacity: 6 };
  const SETS = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-asia/providers/Microsoft.Compute/virtualMachineScaleSets';
  const build = (props: (west: AzureSpotFleet, asia: IAzureSpotFleet) => Partial<AzureOnDemandFallbackProps>): { json: any; fallback: AzureOnDemandFallback } => {
    let fallback!: AzureOnDemandFallback;
    const json = JSON.parse(Testing.synthScope((scope) => {
      const fleet = new AzureSpotFleet(scope, 'Fleet', GPU);
      const west = new AzureSpotFleet(scope, 'West', WEST);
      const asia = AzureSpotFleet.fromScaleSetAttributes(scope, 'Asia', { resourceGroupName: 'rg-asia', scaleSetIds: [`${SETS}/asia-1`], fleetName: 'asia' });
      fallback = new AzureOnDemandFallback(scope, 'Fallback', { fleet, resourceGroupName: 'rg-spot', location: 'eastus2', ...props(west, asia) });
    }));
    return { json, fallback };
  };
  const ASIA_CAPS = [{ baseRegularCount: 0, maxCapacity: 3, desiredCapacity: 1 }];
  /** West built here and Asia imported, beside the home fleet: synthesized once for the tests that only read it. */
  const threeRegions = lazy(() => build((west, asia) => ({ additionalFleets: [{ fleet: west }, { fleet: asia, location: 'japaneast', scaleSetCapacities: ASIA_CAPS }] })));

  test('every region\'s scale sets in the settings, with their region and resource group; the fleet-wide maximum', () => {
    const { json, fallback } = threeRegions();
    expect(fallback.regions).toEqual(['eastus2', 'westeurope', 'japaneast']);
    const s = resources(json, 'azurerm_linux_function_app')[0].app_settings;
    const sets = JSON.parse(s.SCALE_SETS.replace(/\$\{[^}]+\}/g, 'REF'));
    expect(sets.map((x: any) => [x.region, x.resourceGroup])).toEqual([[undefined, undefined], [undefined, undefined], ['westeurope', 'rg-spot'], ['westeurope', 'rg-spot'], ['japaneast', 'rg-asia']]);
    expect(sets[4]).toEqual({ name: 'asia-1', ...ASIA_CAPS[0], region: 'japaneast', resourceGroup: 'rg-asia' });
    expect(s.MAX_CAPACITY).toBe(String(9 + 6 + 3));
    expect(s.FLEET_REGION).toBe('eastus2');
    // Spares: one per zone of each built fleet, in its own region; none for the imported one.
    const spares = JSON.parse(s.SPARE_SCALE_SETS);
    expect(spares.map((x: any) => `${x.region ?? 'home'}:${x.name}`)).toEqual([
      'home:fallback-spare-1-vmss', 'home:fallback-spare-2-vmss', 'home:fallback-spare-3-vmss',
      'westeurope:fallback-westeurope-spare-1-vmss', 'westeurope:fallback-westeurope-spare-2-vmss', 'westeurope:fallback-westeurope-spare-3-vmss',
    ]);
    const rendered = resources(json, 'azurerm_orchestrated_virtual_machine_scale_set').filter((x) => String(x.name).includes('-spare-'));
    expect(rendered.filter((x) => x.location === 'westeurope').map((x) => x.sku_name)).toEqual(['Standard_NC8as_T4_v3', 'Standard_NC8as_T4_v3', 'Standard_NC8as_T4_v3']);
  });

  test('the control role is assigned at every region\'s scale sets (and spares) only; observe in each resource group once', () => {
    const { json } = threeRegions();
    const assignments = Object.entries(json.resource.azurerm_role_assignment as Record<string, any>);
    const control = assignments.filter(([, a]) => /ControlRole/.test(a.role_definition_id)).map(([, a]) => a.scope as string);
    expect(control).toHaveLength(2 + 2 + 1 + 6);
    expect(control.filter((x) => /Fleet_ScaleSet\d_Vmss/.test(x))).toHaveLength(2);
    expect(control.filter((x) => /West_ScaleSet\d_Vmss/.test(x))).toHaveLength(2);
    expect(control).toContain(`${SETS}/asia-1`);
    expect(control.filter((x) => !/^\$\{azurerm_orchestrated_virtual_machine_scale_set\.[\w-]+\.id\}$/.test(x))).toEqual([`${SETS}/asia-1`]);
    const observe = assignments.filter(([, a]) => /ObserveRole/.test(a.role_definition_id)).map(([, a]) => a.scope as string);
    // eastus2 and westeurope share rg-spot: one assignment there (Azure refuses a duplicate), one in rg-asia.
    expect(observe.map((x) => x.replace(/^.*\/resourceGroups\//, '')).sort()).toEqual(['rg-asia', 'rg-spot']);
    const role = resources(json, 'azurerm_role_definition').find((r) => r.name.includes('observe'));
    expect(role.assignable_scopes.map((x: string) => x.replace(/^.*\/resourceGroups\//, ''))).toEqual(['rg-spot', 'rg-asia']);
  });

  test('a repeated region, or an imported fleet without its region, is refused', () => {
    expect(() => build((west) => ({ additionalFleets: [{ fleet: west, location: 'eastus2' }] }))).toThrow(/additionalFleets\[0\] \(fleet west\) is in region eastus2, which this controller already drives; list one fleet per other region/);
    expect(() => build((_west, asia) => ({ additionalFleets: [{ fleet: asia, scaleSetCapacities: ASIA_CAPS }] }))).toThrow(/additionalFleets\[0\]\.location is not set \(or is a deploy-time value\) and fleet asia is imported, so its region is unknown; give the Azure region of its scale sets/);
    expect(() => build((_west, asia) => ({ additionalFleets: [{ fleet: asia, location: 'japaneast' }] }))).toThrow(/additionalFleets\[0\]\.fleet\.scaleSetCapacities|additionalFleets\[0\]\.scaleSetCapacities is not set, but fleet asia is imported/);
  });
});

describe('AzureOnDemandFallback settings drive the handler: two regions, one losing all its Spot VMs', () => {
  test('the app settings the construct writes are read by the function, which takes the fallback where spot was lost and puts the spare elsewhere', async () => {
    const WEST_FLEET: AzureSpotFleetProps = { ...GPU, location: 'westeurope', namePrefix: 'west', maxCapacity: 6 };
    const json = JSON.parse(Testing.synthScope((scope) => {
      const fleet = new AzureSpotFleet(scope, 'Fleet', GPU);
      const west = new AzureSpotFleet(scope, 'West', WEST_FLEET);
      new AzureOnDemandFallback(scope, 'Fallback', { fleet, additionalFleets: [{ fleet: west }], resourceGroupName: 'rg-spot', location: 'eastus2', policy: { coverSparesWhenScarce: false } });
    }));
    // Resolve the scale sets' name references as Terraform would.
    const sets = json.resource.azurerm_orchestrated_virtual_machine_scale_set as Record<string, any>;
    const resolve = (text: string) => text.replace(/\$\{azurerm_orchestrated_virtual_machine_scale_set\.([\w-]+)\.name\}/g, (_m, key) => sets[key].name);
    const app = resources(json, 'azurerm_linux_function_app')[0].app_settings;
    const env = Object.fromEntries(Object.entries(app as Record<string, string>).map(([k, val]) => [k, resolve(val)]));
    const settings = azureFallbackSettingsFromEnv(env);
    expect(settings.scaleSets.map((s) => `${s.region ?? settings.region}:${s.name}`)).toEqual(['eastus2:fleet-1-vmss', 'eastus2:fleet-2-vmss', 'westeurope:west-1-vmss', 'westeurope:west-2-vmss']);

    // A fake ARM: every scale set the settings name, by name and resource group.
    const vm = (name: string, zone: string, spot = true): AzureVm => ({
      name, zones: [zone],
      properties: { ...(spot ? { priority: 'Spot' } : {}), provisioningState: 'Succeeded', hardwareProfile: { vmSize: 'Standard_NC4as_T4_v3' }, instanceView: { statuses: [{ code: 'ProvisioningState/succeeded' }, { code: 'PowerState/running' }] } },
    });
    const arm = new Map<string, { capacity: number; base: number; vms: AzureVm[] }>();
    settings.scaleSets.forEach((s, i) => arm.set(s.name, { capacity: s.desiredCapacity, base: s.baseRegularCount, vms: [
      ...Array.from({ length: s.baseRegularCount }, (_, k) => vm(`${s.name}-r${k}`, '1', false)),
      ...Array.from({ length: s.desiredCapacity - s.baseRegularCount }, (_, k) => vm(`${s.name}-s${k}`, String((k + i) % 3 + 1))),
    ] }));
    for (const s of settings.spareScaleSets ?? []) arm.set(s.name, { capacity: 0, base: 0, vms: [] });
    let blob: { state?: AzureStoredState; etag?: string } = {};
    const clients: AzureFallbackClients = {
      compute: {
        getScaleSet: async (name) => ({ id: name, capacity: arm.get(name)!.capacity, baseRegularPriorityCount: arm.get(name)!.base, regularPriorityPercentageAboveBase: 0 }),
        listVms: async (id) => arm.get(id)!.vms,
        updateScaleSet: async (name, u) => {
          const s = arm.get(name)!;
          if (u.capacity !== undefined) s.capacity = u.capacity;
          if (u.baseRegularPriorityCount !== undefined) s.base = u.baseRegularPriorityCount;
        },
        deleteVms: async () => undefined,
      },
      state: { read: async () => ({ ...blob }), write: async (state, etag) => ((blob = { state: JSON.parse(JSON.stringify(state)), etag: `${etag ?? 'e'}1` }), true) },
      log: () => undefined,
      now: () => new Date(1_800_000_000_000),
    };
    await runAzureFallbackController(settings, clients);
    // westeurope loses every Spot VM at once (Delete eviction: gone, capacities kept).
    for (const s of settings.scaleSets.filter((x) => x.region === 'westeurope')) arm.get(s.name)!.vms = arm.get(s.name)!.vms.filter((v) => v.properties?.priority !== 'Spot');
    const out = await runAzureFallbackController(settings, { ...clients, now: () => new Date(1_800_000_060_000) });
    const lost = out.stepInput.observed.pools.filter((p) => p.pool.startsWith('westeurope/') && (p.preempted ?? 0) > 0);
    expect(lost.length).toBeGreaterThan(0);
    const regular = (region: string) => settings.scaleSets.filter((s) => (s.region ?? settings.region) === region).reduce((n, s) => n + arm.get(s.name)!.base - s.baseRegularCount, 0);
    expect(regular('westeurope')).toBeGreaterThan(0); // the fallback went to the region that lost its spot
    const spareIn = (region: string) => (settings.spareScaleSets ?? []).filter((s) => (s.region ?? settings.region) === region).reduce((n, s) => n + arm.get(s.name)!.capacity, 0);
    expect(spareIn('westeurope')).toBe(0); // no spare where spot was just lost
    expect(spareIn('eastus2')).toBe(out.spareCapacity);
    expect(out.spareCapacity).toBeGreaterThan(0);
  });
});

describe('AzureOnDemandFallback: spare scale set names', () => {
  test('a name prefix that makes a spare set\'s name longer than 64 characters is refused with the limit', () => {
    expect(() => synth(GPU, { namePrefix: 'a'.repeat(52) })).toThrow(/the spare scale set name "a{52}-spare-1-vmss" \(65 characters\) is longer than the 64 Azure allows; use a namePrefix of at most 51 characters \(now "a{52}", 52\)/);
  });
});

describe('AzureOnDemandFallback: names that do not move when the app grows', () => {
  // The examples pass a resource group's attributes (tokens) as resourceGroupName and location. A token's text
  // (`${TfToken[TOKEN.n]}`) counts the tokens created before it in the process, so it must never reach a name.
  const ASIA_SETS = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-asia/providers/Microsoft.Compute/virtualMachineScaleSets';
  const names = (extras: boolean): { names: string[]; assignments: string[] } => {
    const json = JSON.parse(Testing.synthScope((scope) => {
      if (extras) {
        // Constructs created earlier in the app: each makes tokens.
        new TerraformVariable(scope, 'Extra', { type: 'string', default: 'x' });
        const other = new ResourceGroup(scope, 'OtherRg', { name: 'rg-other', location: 'westus3' });
        Fn.lower(other.name);
        Fn.upper(other.location);
      }
      const rg = new ResourceGroup(scope, 'Rg', { name: 'rg-spot', location: 'eastus2' });
      const asiaRg = new TerraformVariable(scope, 'AsiaRg', { type: 'string', default: 'rg-asia' });
      const fleet = new AzureSpotFleet(scope, 'Fleet', { ...GPU, resourceGroupName: rg.name, location: rg.location });
      const asia = AzureSpotFleet.fromScaleSetAttributes(scope, 'Asia', { resourceGroupName: asiaRg.stringValue, scaleSetIds: [`${ASIA_SETS}/asia-1`], fleetName: 'asia' });
      new AzureOnDemandFallback(scope, 'Fallback', {
        fleet,
        resourceGroupName: rg.name,
        location: rg.location,
        additionalFleets: [{ fleet: asia, location: 'japaneast', scaleSetCapacities: [{ baseRegularCount: 0, maxCapacity: 3, desiredCapacity: 1 }] }],
      });
    }));
    return {
      names: [
        ...resources(json, 'azurerm_storage_account').map((r) => r.name),
        ...resources(json, 'azurerm_linux_function_app').map((r) => r.name),
        ...resources(json, 'azurerm_role_definition').map((r) => r.name),
      ],
      assignments: Object.keys(json.resource.azurerm_role_assignment),
    };
  };

  test('storage account, function app and roles: the same names with and without constructs created before', () => {
    const plain = names(false);
    const grown = names(true);
    expect(grown.names).toEqual(plain.names);
    expect(plain.names).toHaveLength(4);
    for (const n of plain.names) expect(n).not.toMatch(/TfToken|TOKEN/);
    // the role assignments' addresses too (the second resource group's name is a token here)
    expect(grown.assignments).toEqual(plain.assignments);
    for (const a of plain.assignments) expect(a).not.toMatch(/TfToken|TOKEN/);
    expect(plain.assignments.filter((a) => a.includes('ObserveVms')).map((a) => a.replace(/_[0-9A-F]+$/, '')).sort()).toEqual(['Fallback_ObserveVms', 'Fallback_ObserveVmsGroup1']);
  });

  test('the names follow the construct path (and a resource group or region given as a plain string)', () => {
    const at = (path: string, rg: string, location: string) => {
      const json = JSON.parse(Testing.synthScope((scope) => {
        const fleet = new AzureSpotFleet(scope, 'Fleet', GPU);
        new AzureOnDemandFallback(scope, path, { fleet, resourceGroupName: rg, location, namePrefix: 'llm' });
      }));
      return resources(json, 'azurerm_storage_account')[0].name as string;
    };
    const base = at('Fallback', 'rg-spot', 'eastus2');
    expect(base).toMatch(/^spotfb[0-9a-f]{18}$/);
    expect(at('Fallback', 'rg-spot', 'eastus2')).toBe(base);
    expect(at('Other', 'rg-spot', 'eastus2')).not.toBe(base);
    expect(at('Fallback', 'rg-two', 'eastus2')).not.toBe(base);
    expect(at('Fallback', 'rg-spot', 'westeurope')).not.toBe(base);
  });
});
