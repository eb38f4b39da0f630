import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Testing } from 'cdktf';
import { AzureMultiRegionSpotInferenceService, AzureMultiRegionSpotInferenceServiceProps } from '../../../constructs/azure';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';
import { lazy } from '../../support/lazy';

Testing.setupJest();

const root = join(__dirname, '..', '..', '..');
const AGENT = join(mkdtempSync(join(tmpdir(), 'azure-mr-')), 'agent.js');
writeFileSync(AGENT, '"use strict";console.log("agent");');
beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'handlers', 'azure', 'fallback', 'index.js'))) {
    execFileSync(process.execPath, [join(root, 'scripts', 'build-handlers.mjs'), '--quiet'], { cwd: root });
  }
});

function props(overrides: Partial<AzureMultiRegionSpotInferenceServiceProps> = {}): AzureMultiRegionSpotInferenceServiceProps {
  return {
    resourceGroupName: 'rg-spot',
    location: 'eastus2',
    namePrefix: 'llm',
    adminSshPublicKey: 'ssh-rsa AAAAB3NzaC1yc2E test',
    instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'],
    minCapacity: 2,
    maxCapacity: 6,
    onDemandBaseCapacity: 1,
    agentBundlePath: AGENT,
    regions: [{ region: 'eastus2' }, { region: 'westeurope', instanceTypes: ['Standard_NC8as_T4_v3', 'Standard_NC16as_T4_v3'] }],
    ...overrides,
  };
}

function synth(p: AzureMultiRegionSpotInferenceServiceProps) {
  let svc!: AzureMultiRegionSpotInferenceService;
  const out = Testing.synthScope((scope) => {
    svc = new AzureMultiRegionSpotInferenceService(scope, 'Svc', p);
  });
  const json = JSON.parse(out);
  return { svc, json, all: (type: string): any[] => Object.values(json.resource[type] ?? {}) };
}

// Synthesized once each for the tests that only read them.
const defaultService = lazy(() => synth(props()));
const homeInWesteurope = lazy(() => synth(props({ homeRegion: 'westeurope' })));
const withoutController = lazy(() => synth(props({ onDemandFallback: false })));

describe('AzureMultiRegionSpotInferenceService', () => {
  test('the global layer: one Front Door profile, endpoint, origin group with a fast health probe, one origin per region, one route', () => {
    const { svc, all } = defaultService();
    expect(all('azurerm_cdn_frontdoor_profile')).toEqual([expect.objectContaining({ sku_name: 'Standard_AzureFrontDoor', response_timeout_seconds: 120 })]);
    expect(all('azurerm_cdn_frontdoor_endpoint')).toHaveLength(1);
    const [group] = all('azurerm_cdn_frontdoor_origin_group');
    expect(group.session_affinity_enabled).toBe(false);
    expect(group.health_probe).toEqual({ interval_in_seconds: 5, path: '/health', protocol: 'Http', request_type: 'GET' });
    expect(group.load_balancing).toEqual({ sample_size: 4, successful_samples_required: 3, additional_latency_in_milliseconds: 50 });
    const origins = all('azurerm_cdn_frontdoor_origin');
    expect(origins.map((o) => o.name)).toEqual(['eastus2', 'westeurope']);
    for (const o of origins) {
      // Each origin is its own region's load balancer.
      expect(o.host_name).toMatch(new RegExp(`^\\$\\{azurerm_public_ip\\.Svc_Fleet-${o.name}_LoadBalancer_PublicIp_\\w+\\.ip_address\\}$`));
      expect(o.priority).toBe(1);
      expect(o.weight).toBe(1000);
      expect(o.certificate_name_check_enabled).toBe(false);
    }
    const [route] = all('azurerm_cdn_frontdoor_route');
    expect(route).toEqual(expect.objectContaining({ patterns_to_match: ['/*'], supported_protocols: ['Http', 'Https'], https_redirect_enabled: true, forwarding_protocol: 'HttpOnly' }));
    expect(route.cdn_frontdoor_origin_ids).toHaveLength(2);
    // Outputs: the host name clients call and the Front Door id the server checks (X-Azure-FDID).
    const out = defaultService().json.output;
    expect(Object.values(out).map((o: any) => o.value).sort()).toEqual([
      expect.stringMatching(/^\$\{azurerm_cdn_frontdoor_endpoint\.\w+\.host_name\}$/),
      expect.stringMatching(/^\$\{azurerm_cdn_frontdoor_profile\.\w+\.resource_guid\}$/),
    ]);
    // Regional probe 5 s x 2 + Front Door 5 s x 2 failed samples.
    expect(svc.failoverSeconds).toBe(20);
  });

  test('one regional fleet per region: scale sets, a load balancer probing the agent every 5 s, admitting only Front Door', () => {
    const { svc, all } = defaultService();
    expect(svc.regionNames).toEqual(['eastus2', 'westeurope']);
    const { json } = defaultService();
    // The fleets' own scale sets (the fallback controller may add spare Spot scale sets of its own next to them).
    const sets = Object.entries(json.resource.azurerm_orchestrated_virtual_machine_scale_set as Record<string, any>).filter(([k]) => /^Svc_Fleet-/.test(k)).map(([, v]) => v);
    expect(sets.map((s) => `${s.location}:${s.sku_name}`).sort()).toEqual([
      'eastus2:Standard_NC4as_T4_v3', 'eastus2:Standard_NC8as_T4_v3', 'westeurope:Standard_NC16as_T4_v3', 'westeurope:Standard_NC8as_T4_v3',
    ]);
    expect(all('azurerm_lb').map((l) => l.location).sort()).toEqual(['eastus2', 'westeurope']);
    for (const probe of all('azurerm_lb_probe')) {
      expect(probe).toEqual(expect.objectContaining({ protocol: 'Http', port: 9901, request_path: '/health', interval_in_seconds: 5, probe_threshold: 2 }));
    }
    const rules = all('azurerm_network_security_rule');
    expect(rules.filter((r) => r.source_address_prefix === 'AzureFrontDoor.Backend' || (r.source_address_prefixes ?? []).includes('AzureFrontDoor.Backend')).length).toBeGreaterThanOrEqual(2);
    expect(rules.some((r) => r.access === 'Allow' && r.direction === 'Inbound' && (r.source_address_prefix === '*' || r.source_address_prefix === 'Internet'))).toBe(false);
    expect(all('azurerm_virtual_network').map((n) => n.address_space).sort()).toEqual([['10.40.0.0/16'], ['10.41.0.0/16']]);
  });

  test('per-region desiredCapacity: a region can start at 0 (spares, stand-ins and fallback only), as spot-plan --region-replicas models', () => {
    const { svc, json } = synth(props({ minCapacity: 0, onDemandBaseCapacity: 0, regions: [{ region: 'eastus2', desiredCapacity: 3 }, { region: 'westeurope', desiredCapacity: 0 }] }));
    const sets = Object.entries(json.resource.azurerm_orchestrated_virtual_machine_scale_set as Record<string, any>).filter(([k]) => /^Svc_Fleet-/.test(k)).map(([, v]) => v);
    const instances = (region: string): number => sets.filter((s) => s.location === region).reduce((n, s) => n + s.instances, 0);
    expect(instances('eastus2')).toBe(3);
    expect(instances('westeurope')).toBe(0);
    expect(svc.regionNames).toEqual(['eastus2', 'westeurope']);
  });

  test('every region\'s agents post Preempt notices to the one controller\'s queue, each fleet identity a sender there', () => {
    const { svc, json } = defaultService();
    const queueUrl = svc.onDemandFallbacks.eastus2.evictionQueueUrl!;
    expect(queueUrl).toMatch(/^https:\/\/spotfb[0-9a-f]{18}\.queue\.core\.windows\.net\/spot-evictions$/);
    for (const region of ['eastus2', 'westeurope']) {
      const config = JSON.parse(/<<'SPOT_AGENT_CONFIG'\n([\s\S]*?)\nSPOT_AGENT_CONFIG/.exec(svc.fleets[region].customDataScript)![1].replace(/\$\{TfToken\[[^\]]+\]\}/g, 'TOKEN'));
      expect(config.controllerQueue).toEqual({ url: queueUrl, identityClientId: 'TOKEN' });
    }
    const senders = Object.values(json.resource.azurerm_role_assignment as Record<string, any>).filter((a) => a.role_definition_name === 'Storage Queue Data Message Sender');
    expect(senders.map((a) => /azurerm_user_assigned_identity\.Svc_Fleet-(\w+)_Identity_\w+\.principal_id/.exec(a.principal_id)?.[1]).sort()).toEqual(['eastus2', 'westeurope']);
    for (const a of senders) expect(a.scope).toMatch(/^\$\{azurerm_storage_queue\.Svc_OnDemandFallback_Evictions_\w+\.id\}$/);
  });

  test('one controller over every region: control role on the regions\' scale sets (and its spares) only, every region in its settings', () => {
    const { svc, json } = defaultService();
    expect(Object.keys(svc.onDemandFallbacks)).toEqual(['eastus2', 'westeurope']);
    const controller = svc.onDemandFallbacks.eastus2;
    expect(svc.onDemandFallbacks.westeurope).toBe(controller);
    expect(controller.regions).toEqual(['eastus2', 'westeurope']);
    expect(Object.keys(json.resource.azurerm_linux_function_app)).toHaveLength(1);
    const control = Object.entries(json.resource.azurerm_role_assignment as Record<string, any>).filter(([, a]) => /ControlRole/.test(a.role_definition_id));
    for (const region of ['eastus2', 'westeurope']) {
      const own = control.filter(([, a]) => new RegExp(`^\\$\\{azurerm_orchestrated_virtual_machine_scale_set\\.Svc_Fleet-${region}_ScaleSet\\d_Vmss_\\w+\\.id\\}$`).test(a.scope));
      expect(own).toHaveLength(2);
    }
    for (const [key, a] of control) {
      expect(key).toMatch(/^Svc_OnDemandFallback_/);
      expect(a.scope).toMatch(/^\$\{azurerm_orchestrated_virtual_machine_scale_set\.Svc_(Fleet-(eastus2|westeurope)_ScaleSet\d_Vmss|OnDemandFallback_SpareScaleSet(-westeurope-)?\d)_\w+\.id\}$/);
    }
    const settings = (Object.values(json.resource.azurerm_linux_function_app)[0] as any).app_settings;
    const sets = JSON.parse(settings.SCALE_SETS.replace(/\$\{[^}]+\}/g, 'REF'));
    expect(sets.map((x: any) => x.region ?? settings.FLEET_REGION)).toEqual(['eastus2', 'eastus2', 'westeurope', 'westeurope']);
    // The controller sits in the home region when there is one.
    const home = homeInWesteurope();
    expect(home.svc.onDemandFallbacks.eastus2.regions).toEqual(['westeurope', 'eastus2']);
    expect((Object.values(home.json.resource.azurerm_linux_function_app)[0] as any).location).toBe('westeurope');
  });

  test('spare Spot scale sets per region: one per zone, in that region, behind its load balancer, capacity 0, sized by the one controller (control role at each)', () => {
    const { svc, json } = defaultService();
    const sets = Object.entries(json.resource.azurerm_orchestrated_virtual_machine_scale_set as Record<string, any>).filter(([k]) => /_OnDemandFallback_SpareScaleSet/.test(k)).map(([, v]) => v);
    expect(sets.map((x) => [x.name, x.location, x.zones]).sort()).toEqual([
      ['llm-spare-1-vmss', 'eastus2', ['1']],
      ['llm-spare-2-vmss', 'eastus2', ['2']],
      ['llm-spare-3-vmss', 'eastus2', ['3']],
      ['llm-westeurope-spare-1-vmss', 'westeurope', ['1']],
      ['llm-westeurope-spare-2-vmss', 'westeurope', ['2']],
      ['llm-westeurope-spare-3-vmss', 'westeurope', ['3']],
    ]);
    for (const x of sets) {
      expect(x).toMatchObject({ priority: 'Spot', instances: 0, lifecycle: { ignore_changes: ['instances'] } });
      expect(x.priority_mix).toBeUndefined();
      // behind its own region's load balancer, in its own region's subnet
      const ip = x.network_interface[0].ip_configuration[0];
      expect(ip.load_balancer_backend_address_pool_ids).toEqual([expect.stringMatching(new RegExp(`^\\$\\{azurerm_lb_backend_address_pool\\.Svc_Fleet-${x.location}_LoadBalancer_Backend_\\w+\\.id\\}$`))]);
      expect(ip.subnet_id).toMatch(new RegExp(`^\\$\\{azurerm_subnet\\.Svc_Fleet-${x.location}_Network_Subnet_\\w+\\.id\\}$`));
    }
    expect(svc.onDemandFallbacks.eastus2.spareScaleSets).toHaveLength(6);
    // the controller knows them, with their region
    const settings = (Object.values(json.resource.azurerm_linux_function_app)[0] as any).app_settings;
    expect(JSON.parse(settings.SPARE_SCALE_SETS).map((x: any) => `${x.name}@${x.region ?? settings.FLEET_REGION}/${x.zone}`)).toEqual([
      'llm-spare-1-vmss@eastus2/1', 'llm-spare-2-vmss@eastus2/2', 'llm-spare-3-vmss@eastus2/3',
      'llm-westeurope-spare-1-vmss@westeurope/1', 'llm-westeurope-spare-2-vmss@westeurope/2', 'llm-westeurope-spare-3-vmss@westeurope/3',
    ]);
    // the control role sits at each spare set (and at the regions' scale sets), nowhere else
    const control = Object.values(json.resource.azurerm_role_assignment as Record<string, any>).filter((a) => /ControlRole/.test(a.role_definition_id)).map((a) => a.scope as string);
    expect(control.filter((scope) => /SpareScaleSet/.test(scope))).toHaveLength(6);
    expect(control).toHaveLength(10);
    // without the controller, no spare set
    const off = withoutController();
    expect(Object.keys(off.json.resource.azurerm_orchestrated_virtual_machine_scale_set).filter((k) => /SpareScaleSet/.test(k))).toHaveLength(0);
  });

  test('alerts: one set over every region (each eviction once, fallback on the controller\'s first scale set first), a health-probe alert per region\'s load balancer', () => {
    const { svc, all } = synth(props({ homeRegion: 'westeurope', alertOptions: { actionGroupIds: ['/subscriptions/s/resourceGroups/rg/providers/microsoft.insights/actionGroups/oncall'], minHealthProbePercent: 75, severity: 2 } }));
    expect(svc.alerts).toBeDefined();
    const activity = all('azurerm_monitor_activity_log_alert');
    expect(activity.map((a) => a.name).sort()).toEqual(['llm-spot-eviction', 'llm-spot-vm-eviction']);
    const scaleSetEviction = activity.find((a) => a.name === 'llm-spot-eviction');
    expect(scaleSetEviction.scopes.map((x: string) => x.replace(/^\$\{azurerm_orchestrated_virtual_machine_scale_set\.Svc_Fleet-([a-z0-9]+)_(ScaleSet\d)_Vmss_\w+\.id\}$/, '$1/$2'))).toEqual([
      'westeurope/ScaleSet1', 'westeurope/ScaleSet2', 'eastus2/ScaleSet1', 'eastus2/ScaleSet2',
    ]);
    const metric = all('azurerm_monitor_metric_alert');
    const health = metric.filter((a) => /backend-health/.test(a.name));
    expect(health.map((a) => a.name)).toEqual(['llm-eastus2-backend-health', 'llm-westeurope-backend-health']);
    for (const a of health) {
      const region = a.name.split('-')[1];
      expect(a.scopes).toEqual([expect.stringMatching(new RegExp(`^\\$\\{azurerm_lb\\.Svc_Fleet-${region}_LoadBalancer_Lb_\\w+\\.id\\}$`))]);
      expect(a).toMatchObject({ severity: 2, window_size: 'PT5M', criteria: [expect.objectContaining({ metric_name: 'DipAvailability', operator: 'LessThan', threshold: 75 })] });
      expect(a.action).toEqual([{ action_group_id: '/subscriptions/s/resourceGroups/rg/providers/microsoft.insights/actionGroups/oncall' }]);
    }
    expect(Object.keys(svc.healthProbeAlerts)).toEqual(['eastus2', 'westeurope']);
    // the controller writes its metric on the first scale set of its own region: the first fallback alert watches it
    const fallback = metric.filter((a) => /fallback-active/.test(a.name));
    expect(fallback).toHaveLength(1);
    expect(fallback.find((a) => a.name === 'llm-fallback-active-0').scopes).toEqual([expect.stringMatching(/^\$\{azurerm_orchestrated_virtual_machine_scale_set\.Svc_Fleet-westeurope_ScaleSet1_Vmss_\w+\.id\}$/)]);
    // ... exactly the resource the controller posts to (its METRICS_RESOURCE_ID)
    const { json: withController } = homeInWesteurope();
    const settings = (Object.values(withController.resource.azurerm_linux_function_app)[0] as any).app_settings;
    const alerts = Object.values(withController.resource.azurerm_monitor_metric_alert as Record<string, any>).filter((a) => /fallback-active/.test(a.name));
    expect(alerts.map((a) => a.scopes)).toEqual([[settings.METRICS_RESOURCE_ID]]);
    expect(settings.METRICS_REGION).toBe('westeurope');
  });

  test('without the controller, no fallback alert (nothing writes its metric); the other alerts stay', () => {
    const { svc, json } = withoutController();
    expect(svc.alerts!.fallbackActiveAlert).toBeUndefined();
    expect(svc.alerts!.fallbackActiveAlerts).toEqual([]);
    const names = Object.values(json.resource.azurerm_monitor_metric_alert as Record<string, any>).map((a) => a.name);
    expect(names).toEqual(['llm-eastus2-backend-health', 'llm-westeurope-backend-health']);
    expect(Object.values(json.resource.azurerm_monitor_activity_log_alert as Record<string, any>).map((a) => a.name)).toEqual(['llm-spot-eviction', 'llm-spot-vm-eviction']);
  });

  test('the alerts can be left out; alertOptions without alerts, and bad alert options, are refused', () => {
    const { svc, json } = synth(props({ alerts: false }));
    expect(svc.alerts).toBeUndefined();
    expect(svc.healthProbeAlerts).toEqual({});
    expect(json.resource.azurerm_monitor_metric_alert).toBeUndefined();
    expect(json.resource.azurerm_monitor_activity_log_alert).toBeUndefined();
    let err: FleetSpecError | undefined;
    try {
      synth(props({ alerts: false, alertOptions: { severity: 0 } }));
    } catch (e) {
      err = e as FleetSpecError;
    }
    expect(err).toBeInstanceOf(FleetSpecError);
    expect(err!.problems.map((p) => [p.code, p.prop])).toEqual([[FleetSpecErrorCode.OPTION_CONFLICT, 'alertOptions']]);
    expect(err!.message).toMatch(/alertOptions is set but alerts is false; remove alertOptions or turn the alerts on/);
    expect(() => synth(props({ alertOptions: { minHealthProbePercent: 0 } }))).toThrow(/minHealthProbePercent \(0\) must be above 0 and at most 100/);
  });

  test('a home region gets priority 1, the others are failover origins; dials become weights', () => {
    const { all } = synth(props({ homeRegion: 'westeurope', regions: [{ region: 'eastus2', trafficDialPercentage: 30 }, { region: 'westeurope' }] }));
    const origins = Object.fromEntries(all('azurerm_cdn_frontdoor_origin').map((o) => [o.name, o]));
    expect(origins.westeurope).toEqual(expect.objectContaining({ priority: 1, weight: 1000 }));
    expect(origins.eastus2).toEqual(expect.objectContaining({ priority: 2, weight: 300 }));
  });

  test('refuses settings whose failover does not fit the 30 s notice, with the numbers', () => {
    expect(() => synth(props({ healthCheck: { intervalSeconds: 10, timeoutSeconds: 5 } }))).toThrow(
      /healthCheck\.intervalSeconds \(10 s\) x healthCheck\.unhealthyThreshold \(2\) = 20 s at the regional load balancer \+ frontDoorProbeIntervalSeconds \(5 s\) x failed samples \(frontDoorSampleSize - frontDoorSuccessfulSamplesRequired \+ 1\) \(2\) = 10 s at Front Door = 30 s .* \+ drainBudgetSeconds \(10 s\) for the last of them = 40 s, longer than the 30 s Azure spot notice \(10 s over\)/,
    );
    expect(() => synth(props({ frontDoorProbeIntervalSeconds: 10 }))).toThrow(/= 40 s, longer than the 30 s Azure spot notice/);
    expect(() => synth(props({ frontDoorSampleSize: 2, frontDoorSuccessfulSamplesRequired: 2, drainBudgetSeconds: 15, deregistrationDelaySeconds: 10 }))).not.toThrow();
  });

  test('refuses what Front Door or the regions cannot take', () => {
    expect(() => synth(props({ frontDoorProbeIntervalSeconds: 2 }))).toThrow(/frontDoorProbeIntervalSeconds \(2\) must be a whole number of seconds, 5 or more/);
    expect(() => synth(props({ frontDoorSuccessfulSamplesRequired: 5 }))).toThrow(/frontDoorSuccessfulSamplesRequired \(5\) must be from 1 to frontDoorSampleSize \(4\)/);
    expect(() => synth(props({ frontDoorAdditionalLatencyMs: -1 }))).toThrow(/frontDoorAdditionalLatencyMs \(-1\) must be a whole number of milliseconds from 0 to 1000/);
    expect(() => synth(props({ frontDoorResponseTimeoutSeconds: 300 }))).toThrow(/frontDoorResponseTimeoutSeconds \(300\) must be from 16 to 240 seconds/);
    expect(() => synth(props({ internalLoadBalancer: true }))).toThrow(/internalLoadBalancer: true hides the regional load balancers from Front Door Standard/);
    expect(() => synth(props({ subnetId: '/subscriptions/x/subnet' }))).toThrow(/subnetId names one subnet, but each region needs its own/);
    expect(() => synth(props({ loadBalanced: false }))).toThrow(/loadBalanced: false leaves Front Door no regional load balancer/);
    expect(() => synth(props({ zones: ['1'] }))).toThrow(/zones \(1\) is set for the whole service/);
    expect(() => synth(props({ homeRegion: 'northeurope' }))).toThrow(/homeRegion \("northeurope"\) is not one of regions \(eastus2, westeurope\)/);
    expect(() => synth(props({ allowedRegions: ['eastus2'] }))).toThrow(/regions has westeurope, outside allowedRegions \(eastus2\)/);
    expect(() => synth(props({ regions: [{ region: 'East US 2' }] }))).toThrow(/regions has "East US 2", which is not a region name; write it like "eastus2"/);
    expect(() => synth(props({ regions: [{ region: 'eastus2', trafficDialPercentage: 0.01 }] }))).toThrow(/trafficDialPercentage of eastus2 \(0\.01\) gives an origin weight below 1/);
  });
});

describe('AzureMultiRegionSpotInferenceService controller options and homeRegion', () => {
  const controllerSettings = (p: AzureMultiRegionSpotInferenceServiceProps) => synth(p).all('azurerm_linux_function_app');

  test('onDemandFallbackOptions reach the one controller; homeRegion hosts it and becomes its policy\'s homeRegion', () => {
    const apps = controllerSettings(props({ homeRegion: 'westeurope', onDemandFallbackOptions: { policy: { spareSpotReplicas: 2 } } }));
    expect(apps).toHaveLength(1);
    expect(apps[0].location).toBe('westeurope');
    expect(JSON.parse(apps[0].app_settings.POLICY_OPTIONS)).toEqual({ spareSpotReplicas: 2, homeRegion: 'westeurope' });
  });

  test('without a home region the controller prefers no region', () => {
    expect(JSON.parse(defaultService().all('azurerm_linux_function_app')[0].app_settings.POLICY_OPTIONS)).toEqual({});
  });

  test('a policy homeRegion that differs from homeRegion is refused naming both; one outside the regions too', () => {
    const differs = () => synth(props({ homeRegion: 'eastus2', onDemandFallbackOptions: { policy: { homeRegion: 'westeurope' } } }));
    expect(differs).toThrow(FleetSpecError);
    expect(differs).toThrow('onDemandFallbackOptions.policy.homeRegion ("westeurope") differs from homeRegion ("eastus2")');
    expect(() => synth(props({ onDemandFallbackOptions: { policy: { homeRegion: 'eastus' } } }))).toThrow('onDemandFallbackOptions.policy.homeRegion ("eastus") is not one of regions (eastus2, westeurope)');
  });
});
