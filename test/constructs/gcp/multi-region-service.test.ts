import 'cdktf/lib/testing/adapters/jest';
import { Testing } from 'cdktf';
import { ComputeGlobalForwardingRule } from '@cdktf/provider-google/lib/compute-global-forwarding-rule';
import { ComputeHealthCheck } from '@cdktf/provider-google/lib/compute-health-check';
import { GcpMultiRegionSpotInferenceService, GcpMultiRegionSpotInferenceServiceProps, regionSuffix, regionSuffixes } from '../../../constructs/gcp';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';
import { ensureBundles, synth } from './helpers';
import { lazy } from '../../support/lazy';

Testing.setupJest();
beforeAll(ensureBundles);

const REGIONS = [
  { region: 'us-central1', zones: ['us-central1-a', 'us-central1-b', 'us-central1-c'] },
  { region: 'europe-west4', zones: ['europe-west4-a', 'europe-west4-b'], instanceTypes: ['g2-standard-8', 'g2-standard-16'], trafficDialPercentage: 50 },
];

function props(overrides: Partial<GcpMultiRegionSpotInferenceServiceProps> = {}): GcpMultiRegionSpotInferenceServiceProps {
  return {
    project: 'test-project',
    name: 'llm',
    regions: REGIONS,
    instanceTypes: ['g2-standard-8', 'g2-standard-12'],
    minCapacity: 2,
    maxCapacity: 6,
    onDemandBaseCapacity: 1,
    ...overrides,
  };
}

/** The service with the defaults, synthesized once for the tests that only read it. */
const defaultService = lazy(() => {
  let svc!: GcpMultiRegionSpotInferenceService;
  const { json, resources } = synth((scope) => {
    svc = new GcpMultiRegionSpotInferenceService(scope, 'llm', props());
  });
  return { svc, json, resources };
});

describe('GcpMultiRegionSpotInferenceService', () => {
  test('per-region desiredCapacity: a region can start at 0 (spares, stand-ins and fallback only), as spot-plan --region-replicas models', () => {
    const { resources } = synth((scope) => {
      new GcpMultiRegionSpotInferenceService(scope, 'llm', props({ minCapacity: 0, onDemandBaseCapacity: 0, regions: [{ ...REGIONS[0], desiredCapacity: 3 }, { ...REGIONS[1], desiredCapacity: 0 }] }));
    });
    const migs = Object.values(resources.google_compute_region_instance_group_manager) as any[];
    const size = (region: string): number => migs.filter((m) => m.region === region).reduce((n, m) => n + (m.target_size ?? 0), 0);
    expect(size('us-central1')).toBe(3);
    expect(size('europe-west4')).toBe(0);
  });

  test('one global backend service over both MIGs and the spare groups of every region, at the region\'s dial, on the fleets\' health check', () => {
    const { svc, json, resources } = defaultService();
    expect(svc.regionNames).toEqual(['us-central1', 'europe-west4']);
    const backends = Object.values(resources.google_compute_backend_service);
    expect(backends).toHaveLength(1);
    const backend = backends[0] as any;
    expect(backend.name).toBe('llm-backend');
    expect(backend.load_balancing_scheme).toBe('EXTERNAL_MANAGED');
    expect(backend.backend).toHaveLength(9);
    expect(backend.backend.slice(0, 4).map((b: any) => b.group)).toEqual(['us-central1_SpotGroup', 'us-central1_OnDemandGroup', 'europe-west4_SpotGroup', 'europe-west4_OnDemandGroup'].map(
      (g) => expect.stringMatching(new RegExp(`^\\$\\{google_compute_region_instance_group_manager\\.llm_Fleet-${g}_\\w+\\.instance_group\\}$`)),
    ));
    // then the controller's spare groups: three zones of us-central1, two of europe-west4
    expect(backend.backend.slice(4).map((b: any) => b.group)).toEqual(['SpareGroupA', 'SpareGroupB', 'SpareGroupC', 'SpareGroup-europe-west4-A', 'SpareGroup-europe-west4-B'].map(
      (g) => expect.stringMatching(new RegExp(`^\\$\\{google_compute_instance_group_manager\\.llm_OnDemandFallback_${g}_\\w+\\.instance_group\\}$`)),
    ));
    // a region's traffic dial holds for its spare VMs too
    expect(backend.backend.map((b: any) => b.capacity_scaler)).toEqual([1, 1, 0.5, 0.5, 1, 1, 1, 0.5, 0.5]);
    for (const b of backend.backend) expect(b).toMatchObject({ balancing_mode: 'UTILIZATION', max_utilization: 0.8 });
    expect(backend.health_checks).toEqual([expect.stringMatching(/^\$\{google_compute_health_check\.llm_Fleet-us-central1_HealthCheck_\w+\.id\}$/)]);
    expect(json).toHaveResourceWithProperties(ComputeHealthCheck, { name: 'llm-usce1-hc', http_health_check: expect.objectContaining({ port: 9901, request_path: '/health' }) });
    expect(json).toHaveResourceWithProperties(ComputeGlobalForwardingRule, { name: 'llm-http', port_range: '80', load_balancing_scheme: 'EXTERNAL_MANAGED' });
    expect(Object.keys(resources.google_compute_url_map)).toHaveLength(1);
    expect(Object.keys(resources.google_compute_global_address)).toHaveLength(1);
    expect(svc.failoverSeconds).toBe(20);
  });

  test('a regional spot MIG and standard MIG per region, over that region\'s zones and types', () => {
    const { resources } = defaultService();
    const migs = Object.values(resources.google_compute_region_instance_group_manager) as any[];
    expect(migs.map((m) => `${m.name}@${m.region}`).sort()).toEqual(['llm-euwe4-od@europe-west4', 'llm-euwe4-spot@europe-west4', 'llm-usce1-od@us-central1', 'llm-usce1-spot@us-central1']);
    const euSpot = migs.find((m) => m.name === 'llm-euwe4-spot');
    expect(euSpot.distribution_policy_zones).toEqual(['europe-west4-a', 'europe-west4-b']);
    expect(JSON.stringify(euSpot.instance_flexibility_policy)).toContain('g2-standard-16');
    const usSpot = migs.find((m) => m.name === 'llm-usce1-spot');
    expect(JSON.stringify(usSpot.instance_flexibility_policy)).toContain('g2-standard-12');
  });

  test('one controller over every region: it reads and resizes only the regions\' own groups (IAM conditions on their names), and every region\'s preemptions run it', () => {
    const { svc, resources } = defaultService();
    expect(svc.controllerRegion).toBe('us-central1');
    expect(svc.onDemandFallback).toBeDefined();
    // One controller function (plus one preemption hook function per region).
    expect(Object.keys(resources.google_cloudfunctions2_function).filter((k) => /OnDemandFallback/.test(k))).toHaveLength(1);
    const members = Object.entries(resources.google_project_iam_member) as [string, any][];
    const resize = members.filter(([k]) => /ResizeOnDemandGroup/.test(k)).map(([, m]) => m.condition.expression as string);
    expect(resize).toHaveLength(1);
    const regional = (region: string, group: string) => expect.stringMatching(new RegExp(`^resource\\.name == "projects/test-project/regions/${region}/instanceGroupManagers/\\$\\{google_compute_region_instance_group_manager\\.llm_Fleet-${region}_${group}_\\w+\\.name\\}"$`));
    const spare = (zone: string, id: string) => expect.stringMatching(new RegExp(`^resource\\.name == "projects/test-project/zones/${zone}/instanceGroupManagers/\\$\\{google_compute_instance_group_manager\\.llm_OnDemandFallback_${id}_\\w+\\.name\\}"$`));
    const spares = [
      spare('us-central1-a', 'SpareGroupA'), spare('us-central1-b', 'SpareGroupB'), spare('us-central1-c', 'SpareGroupC'),
      spare('europe-west4-a', 'SpareGroup-europe-west4-A'), spare('europe-west4-b', 'SpareGroup-europe-west4-B'),
    ];
    // resize: every region's standard group and every region's spare groups; never a spot group
    expect(resize[0].split(' || ')).toEqual([regional('us-central1', 'OnDemandGroup'), ...spares, regional('europe-west4', 'OnDemandGroup')]);
    // read: the same plus every region's spot group
    const read = members.filter(([k]) => /ReadGroups/.test(k)).map(([, m]) => m.condition.expression as string);
    expect(read).toHaveLength(1);
    expect(read[0].split(' || ')).toEqual([
      regional('us-central1', 'SpotGroup'), regional('us-central1', 'OnDemandGroup'), ...spares, regional('europe-west4', 'SpotGroup'), regional('europe-west4', 'OnDemandGroup'),
    ]);
    // No project-wide compute role for anyone.
    for (const [, m] of members) expect(m.role).not.toMatch(/^roles\/compute\./);
    // The other region's preemption topic triggers the controller too.
    const triggers = Object.entries(resources.google_eventarc_trigger) as [string, any][];
    const east = triggers.find(([k]) => /PreemptionTrigger-europe-west4/.test(k))![1];
    expect(east.location).toBe('us-central1');
    expect(east.transport.pubsub.topic).toMatch(/^\$\{google_pubsub_topic\.llm_PreemptionHook-europe-west4_\w+\.id\}$/);
    expect(east.destination.cloud_run_service.region).toBe('us-central1');
    expect(svc.preemptionTriggers).toHaveLength(1);
  });

  test('spare groups per region: one zonal MIG per listed zone on that region\'s spot template, size 0, sized by the one controller', () => {
    const { svc, resources } = defaultService();
    const spares = Object.entries(resources.google_compute_instance_group_manager) as [string, any][];
    expect(spares.map(([, g]) => [g.name, g.zone, g.target_size]).sort()).toEqual([
      ['llm-euwe4-spare-a', 'europe-west4-a', 0],
      ['llm-euwe4-spare-b', 'europe-west4-b', 0],
      ['llm-usce1-spare-a', 'us-central1-a', 0],
      ['llm-usce1-spare-b', 'us-central1-b', 0],
      ['llm-usce1-spare-c', 'us-central1-c', 0],
    ]);
    for (const [, g] of spares) {
      const region = g.zone.replace(/-[a-z]$/, '');
      expect(g.version[0].instance_template).toMatch(new RegExp(`^\\$\\{google_compute_region_instance_template\\.llm_Fleet-${region}_SpotTemplate_\\w+\\.self_link\\}$`));
      expect(g.named_port).toEqual([{ name: 'http', port: 8080 }]);
      expect(g.lifecycle).toEqual({ ignore_changes: ['target_size'] });
    }
    expect(svc.onDemandFallback!.spareGroups).toHaveLength(5);
    // the one controller knows every region's spare groups (REGIONS) and its own region's (SPARE_GROUPS)
    const fn = Object.entries(resources.google_cloudfunctions2_function).find(([k]) => /OnDemandFallback/.test(k))![1] as any;
    const env = fn.service_config.environment_variables;
    const regions = JSON.parse(env.REGIONS.replace(/\$\{[^}]+\}/g, 'REF'));
    expect(regions.map((r: any) => [r.region, r.spareGroups.map((g: any) => `${g.name}@${g.zone}/${g.maxSize}`)])).toEqual([
      ['us-central1', ['llm-usce1-spare-a@us-central1-a/1', 'llm-usce1-spare-b@us-central1-b/1', 'llm-usce1-spare-c@us-central1-c/1']],
      ['europe-west4', ['llm-euwe4-spare-a@europe-west4-a/1', 'llm-euwe4-spare-b@europe-west4-b/1']],
    ]);
    expect(JSON.parse(env.SPARE_GROUPS).map((g: any) => g.name)).toEqual(['llm-usce1-spare-a', 'llm-usce1-spare-b', 'llm-usce1-spare-c']);
    // each region's preemption hook watches its own spare VMs
    const sinks = Object.entries(resources.google_logging_project_sink) as [string, any][];
    for (const [region, fleet] of [['us-central1', 'llm-usce1'], ['europe-west4', 'llm-euwe4']]) {
      const sink = sinks.find(([k]) => k.startsWith(`llm_PreemptionHook-${region}_`))![1];
      expect(sink.filter).toContain(`"/instances/${fleet}-spare-"`);
    }
  });

  test('spare groups: none in a region that does not list its zones, none with spareGroups false or without spares in the policy', () => {
    const count = (p: GcpMultiRegionSpotInferenceServiceProps) => Object.keys(synth((scope) => new GcpMultiRegionSpotInferenceService(scope, 'llm', p)).resources.google_compute_instance_group_manager ?? {}).length;
    expect(count(props({ regions: [REGIONS[0], { region: 'europe-west4' }] }))).toBe(3);
    expect(count(props({ regions: [{ region: 'us-central1' }, REGIONS[1]] }))).toBe(2);
    expect(count(props({ onDemandFallbackOptions: { spareGroups: false } }))).toBe(0);
    expect(count(props({ onDemandFallbackOptions: { policy: { spareSpotReplicas: 0 } } }))).toBe(0);
    expect(count(props({ onDemandFallbackOptions: { policy: { spareSpotReplicas: 2 } } }))).toBe(5);
  });

  test('refuses spareGroups: true where a region does not list its zones, naming the region\'s fleet', () => {
    expect(() => synth((scope) => new GcpMultiRegionSpotInferenceService(scope, 'llm', props({ regions: [REGIONS[0], { region: 'europe-west4' }], onDemandFallbackOptions: { spareGroups: true } })))).toThrow(
      /spareGroups is true but fleet llm-euwe4 \(additionalFleets\[0\]\) does not list its zones \(or they are tokens\): one spare group is made per zone, so list the fleet's zones \(e\.g\. zones: \['europe-west4-a', 'europe-west4-b'\]\) or leave spareGroups out/,
    );
    expect(() => synth((scope) => new GcpMultiRegionSpotInferenceService(scope, 'llm', props({ regions: [{ region: 'us-central1' }, REGIONS[1]], onDemandFallbackOptions: { spareGroups: true } })))).toThrow(
      /spareGroups is true but fleet llm-usce1 does not list its zones/,
    );
  });

  test('one alert set over every region: no healthy backend on the one backend service, serving VMs of all regions\' groups, preemptions and fallback of every region\'s fleet', () => {
    let svc: GcpMultiRegionSpotInferenceService | undefined;
    const { resources } = synth((scope) => {
      svc = new GcpMultiRegionSpotInferenceService(scope, 'llm', props({ alertOptions: { notificationChannels: ['projects/test-project/notificationChannels/7'], maxPreemptionsPerHour: 5 } }));
    });
    expect(svc!.alerts).toBeDefined();
    const policies = Object.values(resources.google_monitoring_alert_policy) as any[];
    expect(policies.map((p) => p.display_name).sort()).toEqual(['llm: fallback active for 6 h', 'llm: fewer than 1 serving VM(s)', 'llm: more than 5 preemptions per hour', 'llm: no healthy backend']);
    for (const p of policies) expect(p.notification_channels).toEqual(['projects/test-project/notificationChannels/7']);
    const filter = (name: string) => policies.find((p) => p.display_name === name).conditions[0].condition_threshold.filter as string;
    const fleets = 'metric.label.fleet=one_of("llm-usce1", "llm-euwe4")';
    expect(filter('llm: more than 5 preemptions per hour')).toBe(`metric.type="custom.googleapis.com/spot_inference/preemptions" AND resource.type="global" AND ${fleets}`);
    expect(filter('llm: fallback active for 6 h')).toBe(`metric.type="custom.googleapis.com/spot_inference/fallback_replicas" AND resource.type="global" AND ${fleets}`);
    const groups = filter('llm: fewer than 1 serving VM(s)').match(/google_compute_region_instance_group_manager\.llm_Fleet-[a-z0-9-]+_(Spot|OnDemand)Group/g);
    expect(groups).toEqual(['us-central1_SpotGroup', 'us-central1_OnDemandGroup', 'europe-west4_SpotGroup', 'europe-west4_OnDemandGroup'].map((g) => `google_compute_region_instance_group_manager.llm_Fleet-${g}`));
    const metric = Object.values(resources.google_logging_metric) as any[];
    expect(metric).toHaveLength(1);
    expect(metric[0].filter).toMatch(/resource\.labels\.backend_service_name="\$\{google_compute_backend_service\.llm_Backend_\w+\.name\}"/);
    // the custom metrics are declared once for the project
    expect(Object.keys(resources.google_monitoring_metric_descriptor)).toHaveLength(2);
  });

  test('the alerts can be left out; alertOptions without alerts is refused', () => {
    let svc: GcpMultiRegionSpotInferenceService | undefined;
    const { resources } = synth((scope) => {
      svc = new GcpMultiRegionSpotInferenceService(scope, 'llm', props({ alerts: false }));
    });
    expect(svc!.alerts).toBeUndefined();
    expect(resources.google_monitoring_alert_policy).toBeUndefined();
    let err: FleetSpecError | undefined;
    try {
      synth((scope) => new GcpMultiRegionSpotInferenceService(scope, 'llm', props({ alerts: false, alertOptions: { maxPreemptionsPerHour: 1 } })));
    } catch (e) {
      err = e as FleetSpecError;
    }
    expect(err).toBeInstanceOf(FleetSpecError);
    expect(err!.problems.map((p) => [p.code, p.prop])).toEqual([[FleetSpecErrorCode.OPTION_CONFLICT, 'alertOptions']]);
    expect(err!.message).toMatch(/alertOptions is set but alerts is false; remove alertOptions or turn the alerts on/);
  });

  test('the controller can be left out', () => {
    let svc: GcpMultiRegionSpotInferenceService | undefined;
    const { resources } = synth((scope) => {
      svc = new GcpMultiRegionSpotInferenceService(scope, 'llm', props({ onDemandFallback: false }));
    });
    expect(svc!.onDemandFallback).toBeUndefined();
    expect(Object.keys(resources.google_cloudfunctions2_function).filter((k) => /OnDemandFallback/.test(k))).toHaveLength(0);
  });

  test('refuses a health check whose failover does not fit the 30 s notice, with the numbers', () => {
    expect(() => synth((scope) => new GcpMultiRegionSpotInferenceService(scope, 'llm', props({ healthCheck: { intervalSeconds: 10, unhealthyThreshold: 3 } })))).toThrow(
      /healthCheck\.intervalSeconds \(10 s\) x healthCheck\.unhealthyThreshold \(3\) = 30 s at the regional load balancer \+ 0 s at the global backend service \(it routes on the regional health check\) = 30 s .* \+ drainBudgetSeconds \(10 s\) for the last of them = 40 s, longer than the 30 s Google Cloud spot notice \(10 s over\)/,
    );
  });

  test('refuses bad regions, dials and names', () => {
    expect(() => synth((scope) => new GcpMultiRegionSpotInferenceService(scope, 'llm', props({ regions: [{ region: 'us-central1', trafficDialPercentage: 5 }] })))).toThrow(
      /trafficDialPercentage of us-central1 \(5\) must be 0 or from 10 to 100: it becomes the backends' capacityScaler/,
    );
    expect(() => synth((scope) => new GcpMultiRegionSpotInferenceService(scope, 'llm', props({ regions: [{ region: 'us-central1', zones: ['us-east1-b'] }] })))).toThrow(/regions\[us-central1\]\.zones lists us-east1-b, not in us-central1/);
    expect(() => synth((scope) => new GcpMultiRegionSpotInferenceService(scope, 'llm', props({ allowedRegions: ['us-central1'] })))).toThrow(/regions has europe-west4, outside allowedRegions \(us-central1\)/);
    expect(() => synth((scope) => new GcpMultiRegionSpotInferenceService(scope, 'llm', props({ zones: ['us-central1-a'] })))).toThrow(/zones \(us-central1-a\) is set for the whole service, but zones belong to one region/);
    expect(() => synth((scope) => new GcpMultiRegionSpotInferenceService(scope, 'llm', props({ name: 'a-very-long-name' })))).toThrow(/name \("a-very-long-name"\) must be 1-13 lower-case letters/);
    expect(() => synth((scope) => new GcpMultiRegionSpotInferenceService(scope, 'llm', props({ regions: [{ region: 'US-Central1' }] })))).toThrow(/regions has "US-Central1", which is not a region name; write it like "us-central1"/);
  });

  test('region suffixes are short, and hashed where two would collide', () => {
    expect(regionSuffix('us-central1')).toBe('usce1');
    expect(regionSuffix('northamerica-northeast2')).toBe('nono2');
    const s = regionSuffixes(['asia-south1', 'asia-southeast1', 'us-east4']);
    expect(s['us-east4']).toBe('usea4');
    expect(s['asia-south1']).toMatch(/^[0-9a-f]{6}$/);
    expect(s['asia-south1']).not.toBe(s['asia-southeast1']);
  });
});

describe('GcpMultiRegionSpotInferenceService homeRegion', () => {
  function build(overrides: Partial<GcpMultiRegionSpotInferenceServiceProps> = {}) {
    let svc!: GcpMultiRegionSpotInferenceService;
    const { resources } = synth((scope) => {
      svc = new GcpMultiRegionSpotInferenceService(scope, 'llm', props(overrides));
    });
    const controller = Object.entries(resources.google_cloudfunctions2_function).find(([k]) => /OnDemandFallback/.test(k))![1] as any;
    return { svc, resources, controller, policy: JSON.parse(controller.service_config.environment_variables.POLICY_OPTIONS) };
  }

  test('hosts the one controller in the home region, runs it on the other region\'s preemptions, and makes it the policy\'s homeRegion', () => {
    const { svc, resources, controller, policy } = build({ homeRegion: 'europe-west4', onDemandFallbackOptions: { policy: { spareSpotReplicas: 2 } } });
    expect(svc.controllerRegion).toBe('europe-west4');
    expect(controller.location).toBe('europe-west4');
    expect(policy).toEqual({ spareSpotReplicas: 2, homeRegion: 'europe-west4' });
    // Its own region's preemption hook runs it (the controller's trigger), and so does the other region's.
    const triggers = Object.fromEntries((Object.entries(resources.google_eventarc_trigger) as [string, any][]).map(([k, t]) => [k.replace(/_[A-F0-9]{8}$/, ''), t]));
    expect(Object.keys(triggers).sort()).toEqual(['llm_OnDemandFallback_PreemptionTrigger', 'llm_PreemptionTrigger-us-central1']);
    expect(triggers['llm_OnDemandFallback_PreemptionTrigger'].transport.pubsub.topic).toMatch(/^\$\{google_pubsub_topic\.llm_PreemptionHook-europe-west4_\w+\.id\}$/);
    const other = triggers['llm_PreemptionTrigger-us-central1'];
    expect(other.transport.pubsub.topic).toMatch(/^\$\{google_pubsub_topic\.llm_PreemptionHook-us-central1_\w+\.id\}$/);
    expect(other.location).toBe('europe-west4');
    expect(other.destination.cloud_run_service.region).toBe('europe-west4');
  });

  test('without one, the first region hosts the controller and no region is preferred', () => {
    const { svc, controller, policy } = build();
    expect(svc.controllerRegion).toBe('us-central1');
    expect(controller.location).toBe('us-central1');
    expect(policy).toEqual({});
  });

  test('a home region outside the regions, or a policy homeRegion that differs, is refused naming both', () => {
    const outside = () => build({ homeRegion: 'asia-east1' });
    expect(outside).toThrow(FleetSpecError);
    expect(outside).toThrow('homeRegion ("asia-east1") is not one of regions (us-central1, europe-west4); name one of them or add it to regions');
    expect(() => build({ homeRegion: 'us-central1', onDemandFallbackOptions: { policy: { homeRegion: 'europe-west4' } } })).toThrow(
      'onDemandFallbackOptions.policy.homeRegion ("europe-west4") differs from homeRegion ("us-central1")',
    );
  });
});
