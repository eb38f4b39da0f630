import 'cdktf/lib/testing/adapters/jest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, TerraformStack, Testing, Token } from 'cdktf';
import { ComputeBackendService } from '@cdktf/provider-google/lib/compute-backend-service';
import { ComputeHealthCheck } from '@cdktf/provider-google/lib/compute-health-check';
import { ComputeUrlMap } from '@cdktf/provider-google/lib/compute-url-map';
import {
  GcpFleetAlerts,
  GcpFleetBackends,
  GcpInferenceLoadBalancer,
  GcpInterruptionDrill,
  GcpPreemptionHook,
  GcpSpotFleet,
  GcpSpotFleetAttributes,
  IGcpSpotFleet,
} from '../../../constructs/gcp';
import { ensureBundles, fleetProps, ofType, one, synth } from './helpers';

Testing.setupJest();
beforeAll(ensureBundles);

const attrs: GcpSpotFleetAttributes = {
  project: 'team-project',
  region: 'us-east1',
  fleetName: 'legacy',
  spotGroupName: 'legacy-spot',
  otherGroupNames: ['legacy-std'],
  serviceAccountEmails: ['vm@team-project.iam.gserviceaccount.com'],
  network: 'team-vpc',
  artifactBucketName: 'team-artifacts',
};
const GROUP = (g: string) => `https://www.googleapis.com/compute/v1/projects/team-project/regions/us-east1/instanceGroups/${g}`;

describe('IGcpSpotFleet: an imported fleet works with every piece', () => {
  test('fromInstanceGroupManagers: load balancer creates the health check and the firewall for Google\'s ranges itself', () => {
    const { resources } = synth((scope) => {
      const fleet = GcpSpotFleet.fromInstanceGroupManagers(scope, 'Imported', attrs);
      new GcpInferenceLoadBalancer(scope, 'Lb', { fleet });
    });
    const backend = one(resources, 'google_compute_backend_service', 'Lb_Backend');
    expect(backend.backend.map((b: any) => b.group)).toEqual([GROUP('legacy-spot'), GROUP('legacy-std')]);
    expect(backend.port_name).toBe('http');
    expect(backend.connection_draining_timeout_sec).toBe(10);
    expect(backend.health_checks[0]).toMatch(/^\$\{google_compute_health_check\.Lb_HealthCheck_\w+\.id\}$/);
    const hc = one(resources, 'google_compute_health_check', 'Lb_HealthCheck');
    expect(hc.http_health_check).toEqual({ port: 9901, request_path: '/health' });
    expect(hc.check_interval_sec * hc.unhealthy_threshold).toBeLessThanOrEqual(30);
    const fw = one(resources, 'google_compute_firewall', 'Lb_AllowGoogleLb');
    expect(fw).toMatchObject({
      network: 'team-vpc',
      direction: 'INGRESS',
      source_ranges: ['35.191.0.0/16', '130.211.0.0/22'],
      target_service_accounts: ['vm@team-project.iam.gserviceaccount.com'],
      allow: [{ protocol: 'tcp', ports: ['8080', '9901'] }],
    });
  });

  test('alerts, drill and preemption hook accept the interface', () => {
    const { resources } = synth((scope) => {
      const fleet: IGcpSpotFleet = GcpSpotFleet.fromInstanceGroupManagers(scope, 'Imported', attrs);
      GcpFleetAlerts.forFleet(scope, 'Alerts', fleet, { backendServiceName: 'team-backend' });
      GcpInterruptionDrill.forFleet(scope, 'Drill', fleet);
      new GcpPreemptionHook(scope, 'Hook', { fleet });
    });
    const serving = one(resources, 'google_monitoring_alert_policy', 'ServingInstancesPolicy');
    expect(serving.conditions[0].condition_threshold.filter).toContain('one_of("legacy-spot", "legacy-std")');
    expect(one(resources, 'google_logging_metric', 'NoHealthyBackendMetric').filter).toContain('backend_service_name="team-backend"');
    const fn = one(resources, 'google_cloudfunctions2_function', 'Hook_Function');
    expect(fn.service_config.environment_variables).toMatchObject({ SPOT_GROUP: 'legacy-spot', INSTANCE_NAME_PREFIX: 'legacy-spot-' });
    expect(fn.build_config.source.storage_source.bucket).toBe('team-artifacts');
  });

  test('import attributes are checked: a firewall target, not both kinds, the drain window', () => {
    const stack = new TerraformStack(new App(), 's');
    expect(() => GcpSpotFleet.fromInstanceGroupManagers(stack, 'A', { ...attrs, serviceAccountEmails: undefined })).toThrow(
      /serviceAccountEmails and networkTags are both empty: the firewall rule that admits Google's load balancer and health checkers \(35.191.0.0\/16, 130.211.0.0\/22\) needs a target/,
    );
    expect(() => GcpSpotFleet.fromInstanceGroupManagers(stack, 'B', { ...attrs, networkTags: ['llm'] })).toThrow(/serviceAccountEmails and networkTags are both set: a firewall rule targets service accounts or tags, not both/);
    expect(() => GcpSpotFleet.fromInstanceGroupManagers(stack, 'C', { ...attrs, deregistrationDelaySeconds: 30 })).toThrow(/deregistrationDelaySeconds \(30\) must be 0 or more and shorter than the 30 s Google Cloud preemption notice/);
    expect(() => GcpSpotFleet.fromInstanceGroupManagers(stack, 'D', { ...attrs, fleetName: 'Legacy' })).toThrow(/fleetName \("Legacy"\) must be 1-20 lower-case letters/);
    expect(() => GcpSpotFleet.fromInstanceGroupManagers(stack, 'D2', { ...attrs, servingPort: 70000, healthPort: 0 })).toThrow(/servingPort \(70000\) must be between 1 and 65535 .*\n.*healthPort \(0\) must be between 1 and 65535/);
    expect(() => GcpSpotFleet.fromInstanceGroupManagers(stack, 'D3', { ...attrs, targetUtilization: 1.5 })).toThrow(/targetUtilization \(1.5\) must be above 0 and at most 1/);
    const noBucket = GcpSpotFleet.fromInstanceGroupManagers(stack, 'E', { ...attrs, artifactBucketName: undefined });
    expect(() => new GcpPreemptionHook(stack, 'Hook', { fleet: noBucket })).toThrow(/fleet legacy has no artifact bucket for the preemption function's code; import it with artifactBucketName/);
  });
});

describe('GcpFleetBackends: bring your own backend service or URL map', () => {
  test('an existing backend service gets the fleet\'s groups, health check, draining; its own backends stay', () => {
    let fleet!: GcpSpotFleet;
    const { json, resources } = synth((scope) => {
      fleet = new GcpSpotFleet(scope, 'Fleet', fleetProps());
      const theirs = new ComputeBackendService(scope, 'TeamBackend', {
        name: 'team-backend',
        loadBalancingScheme: 'EXTERNAL_MANAGED',
        backend: [{ group: 'https://www.googleapis.com/compute/v1/projects/p/zones/us-central1-a/instanceGroups/old', balancingMode: 'UTILIZATION' }],
      });
      new GcpFleetBackends(scope, 'Attach', { fleet, backendService: theirs });
    });
    const b = one(resources, 'google_compute_backend_service', 'TeamBackend');
    expect(b.backend).toHaveLength(3);
    expect(b.backend[0].group).toMatch(/instanceGroups\/old$/);
    expect(b.backend[1]).toMatchObject({ balancing_mode: 'UTILIZATION', max_utilization: 0.8, capacity_scaler: 1 });
    expect(b.backend[1].group).toMatch(/^\$\{google_compute_region_instance_group_manager\.Fleet_SpotGroup_\w+\.instance_group\}$/);
    expect(b.health_checks[0]).toMatch(/^\$\{google_compute_health_check\.Fleet_HealthCheck_\w+\.id\}$/);
    expect(b.port_name).toBe('http');
    expect(b.connection_draining_timeout_sec).toBe(10);
    // The fleet brought its health check and its firewall rule for Google's ranges: neither is created twice.
    expect(ofType(resources, 'google_compute_health_check')).toHaveLength(1);
    expect(ofType(resources, 'google_compute_firewall')).toHaveLength(1);
    expect(one(resources, 'google_compute_firewall', 'Fleet_AllowLoadBalancer').source_ranges).toEqual(['35.191.0.0/16', '130.211.0.0/22']);
    expect(json).toHaveResourceWithProperties(ComputeHealthCheck, { http_health_check: { port: 9901, request_path: '/health' } });
  });

  test('a backend service with another health check is refused unless kept on purpose', () => {
    const stack = new TerraformStack(new App(), 's');
    const fleet = GcpSpotFleet.fromInstanceGroupManagers(stack, 'F', attrs);
    const theirs = new ComputeBackendService(stack, 'TeamBackend', { name: 'team-backend', healthChecks: ['projects/p/global/healthChecks/theirs'] });
    expect(() => new GcpFleetBackends(stack, 'Attach', { fleet, backendService: theirs })).toThrow(
      /the backend service already has a health check \(projects\/p\/global\/healthChecks\/theirs\) and a backend service takes one \(terraform-provider-google: "Currently at most one health check can be specified"\); set keepExistingHealthCheck: true/,
    );
    const ok = new GcpFleetBackends(stack, 'Attach2', { fleet, backendService: theirs, keepExistingHealthCheck: true });
    expect(ok.healthCheck).toBeUndefined();
  });

  test('a URL map: a backend service for the fleet, routed by host and path, the rest of the map untouched', () => {
    const { resources } = synth((scope) => {
      const fleet = GcpSpotFleet.fromInstanceGroupManagers(scope, 'F', attrs);
      const map = new ComputeUrlMap(scope, 'TeamMap', {
        name: 'team-map',
        defaultService: 'projects/p/global/backendServices/web',
        hostRule: [{ hosts: ['www.example.com'], pathMatcher: 'web' }],
        pathMatcher: [{ name: 'web', defaultService: 'projects/p/global/backendServices/web' }],
      });
      new GcpFleetBackends(scope, 'Attach', { fleet, urlMap: map, hosts: ['api.example.com'], paths: ['/v1/completions', '/v1/chat/*'] });
    });
    const map = one(resources, 'google_compute_url_map', 'TeamMap');
    expect(map.default_service).toBe('projects/p/global/backendServices/web');
    expect(map.host_rule).toEqual([
      { hosts: ['www.example.com'], path_matcher: 'web' },
      { hosts: ['api.example.com'], path_matcher: 'legacy-paths' },
    ]);
    expect(map.path_matcher[1].name).toBe('legacy-paths');
    expect(map.path_matcher[1].default_service).toBe('projects/p/global/backendServices/web');
    expect(map.path_matcher[1].path_rule[0].paths).toEqual(['/v1/completions', '/v1/chat/*']);
    expect(map.path_matcher[1].path_rule[0].service).toMatch(/^\$\{google_compute_backend_service\.Attach_Backend_\w+\.id\}$/);
    expect(one(resources, 'google_compute_backend_service', 'Attach_Backend').load_balancing_scheme).toBe('EXTERNAL_MANAGED');
    // Imported groups: the attachment opens the firewall for Google's ranges and creates the health check.
    expect(one(resources, 'google_compute_firewall', 'Attach_AllowGoogleLb')).toMatchObject({ source_ranges: ['35.191.0.0/16', '130.211.0.0/22'], target_service_accounts: ['vm@team-project.iam.gserviceaccount.com'] });
    expect(one(resources, 'google_compute_health_check', 'Attach_HealthCheck').http_health_check).toEqual({ port: 9901, request_path: '/health' });
  });

  test('as the default service of a URL map', () => {
    const { resources } = synth((scope) => {
      const fleet = GcpSpotFleet.fromInstanceGroupManagers(scope, 'F', attrs);
      const map = new ComputeUrlMap(scope, 'TeamMap', { name: 'team-map', defaultService: 'projects/p/global/backendServices/web' });
      new GcpFleetBackends(scope, 'Attach', { fleet, urlMap: map, asDefaultService: true });
    });
    expect(one(resources, 'google_compute_url_map', 'TeamMap').default_service).toMatch(/^\$\{google_compute_backend_service\.Attach_Backend_\w+\.id\}$/);
  });

  test('refusals name the prop and the fix', () => {
    const stack = new TerraformStack(new App(), 's');
    const fleet = GcpSpotFleet.fromInstanceGroupManagers(stack, 'F', attrs);
    const map = new ComputeUrlMap(stack, 'M', { name: 'm', defaultService: 'x', hostRule: [{ hosts: ['api.example.com'], pathMatcher: 'a' }], pathMatcher: [{ name: 'a', defaultService: 'x' }] });
    expect(() => new GcpFleetBackends(stack, 'A1', { fleet })).toThrow(/give exactly one of backendService .* and urlMap/);
    expect(() => new GcpFleetBackends(stack, 'A2', { fleet, urlMap: map })).toThrow(/urlMap is given without hosts or asDefaultService: nothing would route to the fleet/);
    expect(() => new GcpFleetBackends(stack, 'A3', { fleet, urlMap: map, hosts: ['api.example.com'] })).toThrow(/host\(s\) api.example.com already have a host rule in the URL map/);
    expect(() => new GcpFleetBackends(stack, 'A4', { fleet, urlMap: map, asDefaultService: true, paths: ['/x'] })).toThrow(/paths needs hosts/);
    expect(() => new GcpFleetBackends(stack, 'A5', { fleet, urlMap: map, asDefaultService: true, firewallPriority: 70000 })).toThrow(/firewallPriority \(70000\) must be a whole number from 0 to 65535/);
    const b = new ComputeBackendService(stack, 'B', { name: 'b' });
    const dup = new ComputeBackendService(stack, 'Dup', { name: 'dup', backend: [{ group: GROUP('legacy-spot') }] });
    expect(() => new GcpFleetBackends(stack, 'A7', { fleet, backendService: dup })).toThrow(/the backend service already has the fleet's group\(s\) https:\/\/www.googleapis.com\/compute\/v1\/projects\/team-project\/regions\/us-east1\/instanceGroups\/legacy-spot; a backend service lists each group once/);
    const internal = new ComputeBackendService(stack, 'Int', { name: 'int', loadBalancingScheme: 'INTERNAL' });
    expect(() => new GcpFleetBackends(stack, 'A8', { fleet, backendService: internal })).toThrow(/the backend service's load_balancing_scheme is INTERNAL: instance-group backends with UTILIZATION balancing need an Application Load Balancer scheme/);
    const tokenBackends = new ComputeBackendService(stack, 'Tok', { name: 'tok' });
    tokenBackends.putBackend(Token.asAny('${var.backends}') as any);
    expect(() => new GcpFleetBackends(stack, 'A9', { fleet, backendService: tokenBackends })).toThrow(/the backend service's backends are a deploy-time value \(a token\): the fleet's groups cannot be added to them at synth/);
    const tokenMap = new ComputeUrlMap(stack, 'TokMap', { name: 'tm', defaultService: 'x' });
    tokenMap.putHostRule(Token.asAny('${var.rules}') as any);
    expect(() => new GcpFleetBackends(stack, 'A10', { fleet, urlMap: tokenMap, hosts: ['a.example.com'] })).toThrow(/the URL map's host rules or path matchers are a deploy-time value \(a token\)/);
    expect(() => new GcpFleetBackends(stack, 'A6', { fleet, backendService: b, hosts: ['x'] })).toThrow(/hosts, paths and asDefaultService route a URL map; they have no effect with backendService/);
  });
});

test('no import circle between the alerts and the service (issue 14)', () => {
  const src = (f: string) => readFileSync(join(__dirname, '..', '..', '..', 'constructs', 'gcp', f), 'utf8');
  expect(src('fleet-alerts.ts')).not.toMatch(/from '\.\/spot-inference-service'/);
  expect(src('spot-inference-service.ts')).toMatch(/from '\.\/fleet-alerts'/);
});
