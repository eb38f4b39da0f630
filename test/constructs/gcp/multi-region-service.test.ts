import 'cdktf/lib/testing/adapters/jest';
import { Testing } from 'cdktf';
import { ComputeGlobalForwardingRule } from '@cdktf/provider-google/lib/compute-global-forwarding-rule';
import { ComputeHealthCheck } from '@cdktf/provider-google/lib/compute-health-check';
import { GcpMultiRegionSpotInferenceService, GcpMultiRegionSpotInferenceServiceProps, regionSuffix, regionSuffixes } from '../../../constructs/gcp';
import { ensureBundles, synth } from './helpers';

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

describe('GcpMultiRegionSpotInferenceService', () => {
  test('one global backend service over both MIGs of every region, on the fleets\' health check', () => {
    let svc: GcpMultiRegionSpotInferenceService | undefined;
    const { json, resources } = synth((scope) => {
      svc = new GcpMultiRegionSpotInferenceService(scope, 'llm', props());
    });
    expect(svc!.regionNames).toEqual(['us-central1', 'europe-west4']);
    const backends = Object.values(resources.google_compute_backend_service);
    expect(backends).toHaveLength(1);
    const backend = backends[0] as any;
    expect(backend.name).toBe('llm-backend');
    expect(backend.load_balancing_scheme).toBe('EXTERNAL_MANAGED');
    expect(backend.backend).toHaveLength(4);
    expect(backend.backend.map((b: any) => b.group)).toEqual(['us-central1_SpotGroup', 'us-central1_OnDemandGroup', 'europe-west4_SpotGroup', 'europe-west4_OnDemandGroup'].map(
      (g) => expect.stringMatching(new RegExp(`^\\$\\{google_compute_region_instance_group_manager\\.llm_Fleet-${g}_\\w+\\.instance_group\\}$`)),
    ));
    expect(backend.backend.map((b: any) => b.capacity_scaler)).toEqual([1, 1, 0.5, 0.5]);
    expect(backend.health_checks).toEqual([expect.stringMatching(/^\$\{google_compute_health_check\.llm_Fleet-us-central1_HealthCheck_\w+\.id\}$/)]);
    expect(json).toHaveResourceWithProperties(ComputeHealthCheck, { name: 'llm-usce1-hc', http_health_check: expect.objectContaining({ port: 9901, request_path: '/health' }) });
    expect(json).toHaveResourceWithProperties(ComputeGlobalForwardingRule, { name: 'llm-http', port_range: '80', load_balancing_scheme: 'EXTERNAL_MANAGED' });
    expect(Object.keys(resources.google_compute_url_map)).toHaveLength(1);
    expect(Object.keys(resources.google_compute_global_address)).toHaveLength(1);
    expect(svc!.failoverSeconds).toBe(20);
  });

  test('a regional spot MIG and standard MIG per region, over that region\'s zones and types', () => {
    const { resources } = synth((scope) => new GcpMultiRegionSpotInferenceService(scope, 'llm', props()));
    const migs = Object.values(resources.google_compute_region_instance_group_manager) as any[];
    expect(migs.map((m) => `${m.name}@${m.region}`).sort()).toEqual(['llm-euwe4-od@europe-west4', 'llm-euwe4-spot@europe-west4', 'llm-usce1-od@us-central1', 'llm-usce1-spot@us-central1']);
    const euSpot = migs.find((m) => m.name === 'llm-euwe4-spot');
    expect(euSpot.distribution_policy_zones).toEqual(['europe-west4-a', 'europe-west4-b']);
    expect(JSON.stringify(euSpot.instance_flexibility_policy)).toContain('g2-standard-16');
    const usSpot = migs.find((m) => m.name === 'llm-usce1-spot');
    expect(JSON.stringify(usSpot.instance_flexibility_policy)).toContain('g2-standard-12');
  });

  test('one controller over every region: it resizes only the regions\' standard groups (IAM conditions on their names), and every region\'s preemptions run it', () => {
    let svc: GcpMultiRegionSpotInferenceService | undefined;
    const { resources } = synth((scope) => {
      svc = new GcpMultiRegionSpotInferenceService(scope, 'llm', props());
    });
    expect(svc!.controllerRegion).toBe('us-central1');
    expect(svc!.onDemandFallback).toBeDefined();
    // One controller function (plus one preemption hook function per region).
    expect(Object.keys(resources.google_cloudfunctions2_function).filter((k) => /OnDemandFallback/.test(k))).toHaveLength(1);
    const members = Object.entries(resources.google_project_iam_member) as [string, any][];
    const resize = members.filter(([k]) => /ResizeOnDemandGroup/.test(k)).map(([, m]) => m.condition.expression as string);
    expect(resize).toHaveLength(1);
    const clauses = resize[0].split(' || ');
    expect(clauses).toEqual([
      expect.stringMatching(/^resource\.name == "projects\/test-project\/regions\/us-central1\/instanceGroupManagers\/\$\{google_compute_region_instance_group_manager\.llm_Fleet-us-central1_OnDemandGroup_\w+\.name\}"$/),
      expect.stringMatching(/^resource\.name == "projects\/test-project\/regions\/europe-west4\/instanceGroupManagers\/\$\{google_compute_region_instance_group_manager\.llm_Fleet-europe-west4_OnDemandGroup_\w+\.name\}"$/),
    ]);
    // No project-wide compute role for anyone.
    for (const [, m] of members) expect(m.role).not.toMatch(/^roles\/compute\./);
    // The other region's preemption topic triggers the controller too.
    const triggers = Object.entries(resources.google_eventarc_trigger) as [string, any][];
    const east = triggers.find(([k]) => /PreemptionTrigger-europe-west4/.test(k))![1];
    expect(east.location).toBe('us-central1');
    expect(east.transport.pubsub.topic).toMatch(/^\$\{google_pubsub_topic\.llm_PreemptionHook-europe-west4_\w+\.id\}$/);
    expect(east.destination.cloud_run_service.region).toBe('us-central1');
    expect(svc!.preemptionTriggers).toHaveLength(1);
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
