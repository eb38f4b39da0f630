import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MonitorActivityLogAlert } from '@cdktf/provider-azurerm/lib/monitor-activity-log-alert';
import { MonitorMetricAlert } from '@cdktf/provider-azurerm/lib/monitor-metric-alert';
import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider';
import { Testing, TerraformStack } from 'cdktf';
import { AzureFleetAlerts, AzureFleetAlertsProps, AzureOnDemandFallback, AzureSpotFleet, FALLBACK_METRIC_NAMESPACE as PUBLIC_FALLBACK_METRIC_NAMESPACE } from '../../../constructs/azure';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';
import { FALLBACK_METRIC_NAME, FALLBACK_METRIC_NAMESPACE, createAzureMonitorMetrics } from '../../../lib/handlers/azure/fallback';

Testing.setupJest();

const VMSS_1 = '/subscriptions/0000/resourceGroups/rg-spot/providers/Microsoft.Compute/virtualMachineScaleSets/llm-a-vmss';
const VMSS_2 = '/subscriptions/0000/resourceGroups/rg-spot/providers/Microsoft.Compute/virtualMachineScaleSets/llm-b-vmss';
const LB = '/subscriptions/0000/resourceGroups/rg-spot/providers/Microsoft.Network/loadBalancers/llm-lb';
const BASE: AzureFleetAlertsProps = { resourceGroupName: 'rg-spot', namePrefix: 'llm', scaleSetIds: [VMSS_1, VMSS_2], loadBalancerId: LB, fallbackMetricResourceId: VMSS_1 };

function synth(props: Partial<AzureFleetAlertsProps> = {}): { out: string; json: any } {
  const out = Testing.synthScope((scope) => new AzureFleetAlerts(scope, 'Alerts', { ...BASE, ...props }));
  return { out, json: JSON.parse(out) };
}
const resources = (json: any, type: string): any[] => Object.values(json.resource[type] ?? {});

describe('AzureFleetAlerts', () => {
  const { out, json } = synth({ actionGroupIds: ['/subscriptions/0000/resourceGroups/ops/providers/microsoft.insights/actionGroups/pager'], tags: { team: 'ml' } });

  test('backend health: DipAvailability of the load balancer below 50 % over 5 minutes', () => {
    expect(out).toHaveResourceWithProperties(MonitorMetricAlert, {
      name: 'llm-backend-health',
      resource_group_name: 'rg-spot',
      scopes: [LB],
      severity: 1,
      frequency: 'PT1M',
      window_size: 'PT5M',
      criteria: [{ metric_namespace: 'Microsoft.Network/loadBalancers', metric_name: 'DipAvailability', aggregation: 'Average', operator: 'LessThan', threshold: 50 }],
      action: [{ action_group_id: '/subscriptions/0000/resourceGroups/ops/providers/microsoft.insights/actionGroups/pager' }],
      tags: { team: 'ml' },
    });
  });

  test('evictions: activity-log alerts on the scale-set and the VM eviction operations', () => {
    expect(out).toHaveResourceWithProperties(MonitorActivityLogAlert, {
      name: 'llm-spot-eviction',
      location: 'global',
      scopes: [VMSS_1, VMSS_2],
      criteria: { category: 'Administrative', operation_name: 'Microsoft.Compute/virtualMachineScaleSets/evictSpotVM/action' },
    });
    const vm = resources(json, 'azurerm_monitor_activity_log_alert').find((a) => a.name === 'llm-spot-vm-eviction');
    expect(vm.criteria).toEqual({ category: 'Administrative', operation_name: 'Microsoft.Compute/virtualMachines/evictSpotVM/action' });
    expect(vm.scopes).toEqual([`\${regex("(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+", "${VMSS_1}")}`]);
    expect(vm.action).toEqual([{ action_group_id: expect.stringMatching(/actionGroups\/pager$/) }]);
  });

  test('fallback active: FallbackReplicas custom metric above 0 (Minimum) for 6 hours, one alert, on fallbackMetricResourceId', () => {
    const alerts = resources(json, 'azurerm_monitor_metric_alert').filter((a) => a.name.startsWith('llm-fallback-active'));
    // The controller writes the metric on the first scale set only: no alert on the second (it could never fire).
    // The alert keeps the construct id and name it always had, so a deployed one is not replaced.
    expect(alerts.map((a) => [a.name, a.scopes])).toEqual([['llm-fallback-active-0', [VMSS_1]]]);
    expect(Object.keys(json.resource.azurerm_monitor_metric_alert).filter((k) => k.includes('FallbackActive'))).toEqual([expect.stringMatching(/^Alerts_FallbackActiveAlert0_[0-9A-F]+$/)]);
    expect(alerts[0]).toMatchObject({
      frequency: 'PT1H',
      window_size: 'PT6H',
      criteria: [{ metric_namespace: 'SpotInferenceConstructs', metric_name: 'FallbackReplicas', aggregation: 'Minimum', operator: 'GreaterThan', threshold: 0, skip_metric_validation: true }],
    });
  });
});

describe('no fallback alert where no controller writes the metric', () => {
  test('without fallbackMetricResourceId: no fallback alert; health and eviction alerts stay', () => {
    let alerts!: AzureFleetAlerts;
    const json = JSON.parse(Testing.synthScope((scope) => {
      alerts = new AzureFleetAlerts(scope, 'Alerts', { ...BASE, fallbackMetricResourceId: undefined });
    }));
    expect(alerts.fallbackActiveAlert).toBeUndefined();
    expect(alerts.fallbackActiveAlerts).toEqual([]);
    expect(resources(json, 'azurerm_monitor_metric_alert').map((a) => a.name)).toEqual(['llm-backend-health']);
    expect(alerts.evictionAlerts).toHaveLength(2);
  });

  test('the scope is fallbackMetricResourceId, not a scale set of the fleet: one fleet, several scale sets', () => {
    const other = '/subscriptions/0000/resourceGroups/rg-home/providers/Microsoft.Compute/virtualMachineScaleSets/home-vmss';
    const alert = resources(synth({ fallbackMetricResourceId: other }).json, 'azurerm_monitor_metric_alert').find((a) => a.name === 'llm-fallback-active-0');
    expect(alert.scopes).toEqual([other]);
  });
});

describe('the fallback alert watches what the controller writes', () => {
  test('the alert\'s namespace and metric are the handler\'s constants, and the handler posts exactly those', async () => {
    const alert = resources(synth().json, 'azurerm_monitor_metric_alert').find((a) => a.name === 'llm-fallback-active-0');
    expect(alert.criteria[0].metric_namespace).toBe(FALLBACK_METRIC_NAMESPACE);
    expect(alert.criteria[0].metric_name).toBe(FALLBACK_METRIC_NAME);
    expect(AzureFleetAlerts.FALLBACK_METRIC_NAMESPACE).toBe(FALLBACK_METRIC_NAMESPACE);
    // the entry point's constant (AzureOnDemandFallback's) is the same one
    expect(PUBLIC_FALLBACK_METRIC_NAMESPACE).toBe(FALLBACK_METRIC_NAMESPACE);
    // What the controller's metrics client sends to Azure Monitor's ingestion endpoint.
    const posted: any[] = [];
    const fetch = (async (_url: string, init: { body: string }) => {
      posted.push(JSON.parse(init.body));
      return new Response('{}', { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    await createAzureMonitorMetrics({ getToken: async () => 't', fetch, region: 'eastus2', resourceId: VMSS_1, endpoint: 'http://127.0.0.1:1' }).writeFallback(2, 'llm', new Date(0));
    expect(posted[0].data.baseData).toMatchObject({ namespace: alert.criteria[0].metric_namespace, metric: alert.criteria[0].metric_name });
  });
});

describe('the fallback alert watches the resource the controller posts its metric to', () => {
  test('AzureOnDemandFallback and AzureFleetAlerts.forFleet on one fleet: the alert scope is METRICS_RESOURCE_ID, where the handler posts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'azure-alerts-'));
    const bundle = join(dir, 'agent.js');
    writeFileSync(bundle, 'console.log("agent")');
    let alerts!: AzureFleetAlerts;
    const json = JSON.parse(Testing.synthScope((scope) => {
      const fleet = new AzureSpotFleet(scope, 'Fleet', {
        resourceGroupName: 'rg-spot', location: 'eastus2', adminSshPublicKey: 'ssh-rsa AAAAB3NzaC1yc2E test',
        instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3', 'Standard_NC16as_T4_v3'], minCapacity: 2, maxCapacity: 9, onDemandBaseCapacity: 1,
        agentBundlePath: bundle,
      });
      const onDemandFallback = new AzureOnDemandFallback(scope, 'Fallback', { fleet, resourceGroupName: 'rg-spot', location: 'eastus2' });
      alerts = AzureFleetAlerts.forFleet(scope, 'Alerts', fleet, { onDemandFallback });
      expect(onDemandFallback.fallbackMetricResourceIdOf(fleet)).toBe(onDemandFallback.metricResourceId);
    }));
    const settings = resources(json, 'azurerm_linux_function_app')[0].app_settings;
    const fallback = resources(json, 'azurerm_monitor_metric_alert').filter((a) => /fallback-active/.test(a.name));
    expect(resources(json, 'azurerm_orchestrated_virtual_machine_scale_set').length).toBeGreaterThan(1);
    expect(fallback).toHaveLength(1);
    expect(fallback[0].scopes).toEqual([settings.METRICS_RESOURCE_ID]);
    expect(alerts.fallbackActiveAlerts).toEqual([alerts.fallbackActiveAlert]);
    // The handler posts to `<ingestion endpoint><METRICS_RESOURCE_ID>/metrics`: the alert's resource.
    const urls: string[] = [];
    const fetch = (async (url: string) => {
      urls.push(url);
      return new Response('{}', { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    await createAzureMonitorMetrics({ getToken: async () => 't', fetch, region: 'eastus2', resourceId: settings.METRICS_RESOURCE_ID, endpoint: 'http://127.0.0.1:1' }).writeFallback(1, 'fleet', new Date(0));
    expect(urls).toEqual([`http://127.0.0.1:1${fallback[0].scopes[0]}/metrics`]);
  });

  test('additionalFleets: the controller\'s fleet gets the alert, on METRICS_RESOURCE_ID; an additional fleet none (it writes nothing there), with a warning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'azure-alerts-'));
    const bundle = join(dir, 'agent.js');
    writeFileSync(bundle, 'console.log("agent")');
    const fleetProps = (location: string) => ({
      resourceGroupName: 'rg-spot', location, adminSshPublicKey: 'ssh-rsa AAAAB3NzaC1yc2E test',
      instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'], minCapacity: 2, maxCapacity: 6, onDemandBaseCapacity: 1, agentBundlePath: bundle,
    });
    let home!: AzureFleetAlerts;
    let other!: AzureFleetAlerts;
    const json = JSON.parse(Testing.synthScope((scope) => {
      const east = new AzureSpotFleet(scope, 'East', { ...fleetProps('eastus2'), namePrefix: 'east' });
      const west = new AzureSpotFleet(scope, 'West', { ...fleetProps('westeurope'), namePrefix: 'west' });
      const onDemandFallback = new AzureOnDemandFallback(scope, 'Fallback', { fleet: east, additionalFleets: [{ fleet: west }], resourceGroupName: 'rg-spot', location: 'eastus2' });
      expect(onDemandFallback.fallbackMetricResourceIdOf(west)).toBeUndefined();
      home = AzureFleetAlerts.forFleet(scope, 'EastAlerts', east, { onDemandFallback });
      other = AzureFleetAlerts.forFleet(scope, 'WestAlerts', west, { onDemandFallback });
    }));
    const settings = resources(json, 'azurerm_linux_function_app')[0].app_settings;
    const fallback = resources(json, 'azurerm_monitor_metric_alert').filter((a) => /fallback-active/.test(a.name));
    // every fallback alert rendered watches the one resource the handler posts to
    expect(fallback.map((a) => [a.name, a.scopes])).toEqual([['east-fallback-active-0', [settings.METRICS_RESOURCE_ID]]]);
    expect(home.fallbackActiveAlert).toBeDefined();
    expect(other.fallbackActiveAlert).toBeUndefined();
    expect(other.node.metadata.map((m) => [m.type, m.data])).toEqual([
      ['@cdktf/warn', 'no fallback alert for fleet west: it is one of the additionalFleets of stack/Fallback, which writes its FallbackReplicas metric (every fleet\'s fallback together) on the first scale set of its own fleet only; the fallback alert of that fleet covers this one'],
    ]);
    expect(home.node.metadata).toEqual([]);
  });

  test('customMetric false: no fallback alert, with a warning; a controller that does not drive the fleet is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'azure-alerts-'));
    const bundle = join(dir, 'agent.js');
    writeFileSync(bundle, 'console.log("agent")');
    const fleetProps = {
      resourceGroupName: 'rg-spot', location: 'eastus2', adminSshPublicKey: 'ssh-rsa AAAAB3NzaC1yc2E test',
      instanceTypes: ['Standard_D4as_v5', 'Standard_D4s_v5'], minCapacity: 2, maxCapacity: 6, onDemandBaseCapacity: 1, agentBundlePath: bundle,
    };
    Testing.synthScope((scope) => {
      const fleet = new AzureSpotFleet(scope, 'Gpu', { ...fleetProps, namePrefix: 'gpu' });
      const cpu = new AzureSpotFleet(scope, 'Cpu', { ...fleetProps, namePrefix: 'cpu', addressSpace: '10.43.0.0/16', subnetPrefix: '10.43.0.0/20' });
      const onDemandFallback = new AzureOnDemandFallback(scope, 'Fallback', { fleet, resourceGroupName: 'rg-spot', location: 'eastus2', customMetric: false });
      expect(onDemandFallback.metricResourceId).toBeUndefined();
      const alerts = AzureFleetAlerts.forFleet(scope, 'Alerts', fleet, { onDemandFallback });
      expect(alerts.fallbackActiveAlert).toBeUndefined();
      expect(alerts.node.metadata.map((m) => m.data)).toEqual(['no fallback alert for fleet gpu: its controller stack/Fallback has customMetric false, so it writes no FallbackReplicas metric']);
      let error: unknown;
      try {
        AzureFleetAlerts.forFleet(scope, 'CpuAlerts', cpu, { onDemandFallback });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(FleetSpecError);
      expect((error as FleetSpecError).problems[0]).toMatchObject({ code: FleetSpecErrorCode.ALERT_TARGETS, prop: 'onDemandFallback' });
      expect((error as Error).message).toMatch(/onDemandFallback \(stack\/Fallback\) does not drive fleet cpu, so it writes no fallback metric for it; give the controller whose fleet or additionalFleets holds this fleet, or leave onDemandFallback out \(no fallback alert\)/);
    });
  });
});

describe('AzureFleetAlerts options', () => {
  test('thresholds and severity; no load balancer, no action groups', () => {
    const { json } = synth({ loadBalancerId: undefined, minHealthProbePercent: 90, fallbackActiveAlertAfterHours: 24, severity: 0, scaleSetIds: [VMSS_1], fallbackMetricResourceId: VMSS_1 });
    const metricAlerts = resources(json, 'azurerm_monitor_metric_alert');
    expect(metricAlerts.map((a) => a.name)).toEqual(['llm-fallback-active']);
    expect(metricAlerts[0]).toMatchObject({ window_size: 'P1D', severity: 0 });
    expect(metricAlerts[0].action).toBeUndefined();
  });

  test('forFleet: scale sets and load balancer of a AzureSpotFleet', () => {
    const dir = mkdtempSync(join(tmpdir(), 'azure-alerts-'));
    const bundle = join(dir, 'agent.js');
    writeFileSync(bundle, 'console.log("agent")');
    const out = Testing.synthScope((scope) => {
      const fleet = new AzureSpotFleet(scope, 'InferenceFleet', {
        resourceGroupName: 'rg-spot', location: 'eastus2', adminSshPublicKey: 'ssh-rsa AAAAB3NzaC1yc2E test',
        instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'], minCapacity: 2, maxCapacity: 6, onDemandBaseCapacity: 1,
        agentBundlePath: bundle,
      });
      AzureFleetAlerts.forFleet(scope, 'Alerts', fleet);
    });
    const json = JSON.parse(out);
    const health = resources(json, 'azurerm_monitor_metric_alert').find((a) => a.name === 'inference-fleet-backend-health');
    expect(health.scopes).toEqual([expect.stringMatching(/^\$\{azurerm_lb\.\w+\.id\}$/)]);
    const fallback = resources(json, 'azurerm_monitor_metric_alert').filter((a) => a.name.startsWith('inference-fleet-fallback-active'));
    // no controller drives the fleet, so nothing writes the fallback metric: no fallback alert (it could never fire)
    expect(fallback).toEqual([]);
    expect(resources(json, 'azurerm_monitor_activity_log_alert')[0].resource_group_name).toMatch(/rg-spot|azurerm_orchestrated_virtual_machine_scale_set/);
  });
});

describe('AzureFleetAlerts validation', () => {
  test.each<[string, Partial<AzureFleetAlertsProps>, RegExp]>([
    ['probe percent 0', { minHealthProbePercent: 0 }, /minHealthProbePercent \(0\) must be above 0 and at most 100/],
    ['fallback 3 h', { fallbackActiveAlertAfterHours: 3 }, /fallbackActiveAlertAfterHours \(3\) must be 1, 6, 12 or 24: the Azure Monitor metric alert windows of an hour or more \(PT1H, PT6H, PT12H, P1D\)/],
    ['severity 5', { severity: 5 }, /severity \(5\) must be a whole number from 0 \(critical\) to 4 \(verbose\)/],
    ['no scale sets', { scaleSetIds: [] }, /scaleSetIds is empty/],
    ['bad prefix', { namePrefix: '-llm' }, /namePrefix \("-llm"\) must start with a letter or digit/],
  ])('%s', (_name, extra, message) => {
    let err: unknown;
    try {
      synth(extra);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FleetSpecError);
    expect((err as FleetSpecError).family).toBe(FleetSpecErrorCode.CLOUD_CONSTRAINT);
    expect((err as Error).message).toMatch(message);
  });
});

describe('The Azure example stack: alerts and drills for both fleets', () => {
  test('synthesizes with distinct names per fleet', () => {
    const { AzureSpotInferenceStack } = require('../../../examples/azure/stack');
    const dir = mkdtempSync(join(tmpdir(), 'azure-example-'));
    const bundle = join(dir, 'agent.js');
    writeFileSync(bundle, 'console.log("agent")');
    const stack = new AzureSpotInferenceStack(Testing.app(), 'spot-inference-azure', { agentBundlePath: bundle });
    const json = JSON.parse(Testing.synth(stack));
    const names = [...resources(json, 'azurerm_monitor_metric_alert'), ...resources(json, 'azurerm_monitor_activity_log_alert')].map((a) => a.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['gpu-fleet-backend-health', 'cpu-fleet-backend-health', 'gpu-fleet-spot-eviction', 'cpu-fleet-spot-vm-eviction']));
    expect(Object.keys(json.output).filter((k) => /SimulateEviction/.test(k))).toHaveLength(2);
  });
});

describe('AzureFleetAlerts on a fleet without a load balancer', () => {
  test('forFleet leaves out the health-probe alert and keeps the eviction alerts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'azure-alerts-'));
    const bundle = join(dir, 'agent.js');
    writeFileSync(bundle, 'console.log("agent")');
    const stack = new TerraformStack(Testing.app(), 'workers');
    new AzurermProvider(stack, 'azurerm', { features: [{}] });
    const fleet = new AzureSpotFleet(stack, 'Workers', {
      resourceGroupName: 'rg', location: 'eastus2', adminSshPublicKey: 'ssh-rsa AAAA test', agentBundlePath: bundle,
      namePrefix: 'workers', instanceTypes: ['Standard_D4as_v5', 'Standard_D4s_v5'], minCapacity: 0, maxCapacity: 4, onDemandBaseCapacity: 0,
      loadBalanced: false,
    });
    const alerts = AzureFleetAlerts.forFleet(stack, 'Alerts', fleet);
    expect(alerts.healthProbeAlert).toBeUndefined();
    const json = JSON.parse(Testing.synth(stack));
    expect(resources(json, 'azurerm_monitor_activity_log_alert').length).toBeGreaterThan(0);
    expect(resources(json, 'azurerm_monitor_metric_alert').map((a: any) => a.name)).not.toContain('workers-backend-health');
  });
});
