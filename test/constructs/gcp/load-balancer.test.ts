import 'cdktf/lib/testing/adapters/jest';
import { App, Testing, TerraformStack } from 'cdktf';
import { ComputeBackendService } from '@cdktf/provider-google/lib/compute-backend-service';
import { ComputeGlobalAddress } from '@cdktf/provider-google/lib/compute-global-address';
import { ComputeGlobalForwardingRule } from '@cdktf/provider-google/lib/compute-global-forwarding-rule';
import { ComputeTargetHttpProxy } from '@cdktf/provider-google/lib/compute-target-http-proxy';
import { ComputeTargetHttpsProxy } from '@cdktf/provider-google/lib/compute-target-https-proxy';
import { ComputeUrlMap } from '@cdktf/provider-google/lib/compute-url-map';
import { GcpInferenceLoadBalancer, GcpSpotFleet } from '../../../constructs/gcp';
import { ensureBundles, fleetProps, one, synth } from './helpers';

Testing.setupJest();
beforeAll(ensureBundles);

describe('GcpInferenceLoadBalancer', () => {
  const { json, resources } = synth((scope) => {
    const fleet = new GcpSpotFleet(scope, 'Fleet', fleetProps({ deregistrationDelaySeconds: 15, drainBudgetSeconds: 12 }));
    new GcpInferenceLoadBalancer(scope, 'Lb', { fleet });
  });

  test('backend service: both groups, the fleet health check, draining inside the notice', () => {
    expect(json).toHaveResourceWithProperties(ComputeBackendService, {
      name: 'llm-backend',
      protocol: 'HTTP',
      port_name: 'http',
      load_balancing_scheme: 'EXTERNAL_MANAGED',
      connection_draining_timeout_sec: 15,
      timeout_sec: 120,
      log_config: { enable: true, sample_rate: 1 },
    });
    const be = one(resources, 'google_compute_backend_service', 'Backend');
    expect(be.health_checks).toEqual([expect.stringMatching(/^\$\{google_compute_health_check\.Fleet_HealthCheck_\w+\.id\}$/)]);
    expect(be.backend).toEqual([
      { group: expect.stringMatching(/SpotGroup_\w+\.instance_group\}$/), balancing_mode: 'UTILIZATION', max_utilization: 0.8, capacity_scaler: 1 },
      { group: expect.stringMatching(/OnDemandGroup_\w+\.instance_group\}$/), balancing_mode: 'UTILIZATION', max_utilization: 0.8, capacity_scaler: 1 },
    ]);
  });

  test('URL map, HTTP proxy, reserved address, global forwarding rule on port 80', () => {
    expect(json).toHaveResourceWithProperties(ComputeUrlMap, { name: 'llm-urlmap' });
    expect(one(resources, 'google_compute_url_map', 'UrlMap').default_service).toMatch(/Lb_Backend_\w+\.id\}$/);
    expect(json).toHaveResourceWithProperties(ComputeTargetHttpProxy, { name: 'llm-http' });
    expect(one(resources, 'google_compute_target_http_proxy', 'HttpProxy').url_map).toMatch(/Lb_UrlMap_\w+\.id\}$/);
    expect(json).toHaveResourceWithProperties(ComputeGlobalAddress, { name: 'llm-ip' });
    expect(json).toHaveResourceWithProperties(ComputeGlobalForwardingRule, {
      name: 'llm-http',
      ip_protocol: 'TCP',
      port_range: '80',
      load_balancing_scheme: 'EXTERNAL_MANAGED',
    });
    const fr = one(resources, 'google_compute_global_forwarding_rule', 'ForwardingRule');
    expect(fr.target).toMatch(/google_compute_target_http_proxy\.Lb_HttpProxy_\w+\.id\}$/);
    expect(fr.ip_address).toMatch(/google_compute_global_address\.Lb_Address_\w+\.address\}$/);
    expect(resources.google_compute_target_https_proxy).toBeUndefined();
  });

  test('HTTPS with certificates, request timeout and Cloud Armor policy', () => {
    const { json: j, resources: r } = synth((scope) => {
      const fleet = new GcpSpotFleet(scope, 'Fleet', fleetProps({ targetUtilization: 0.7 }));
      new GcpInferenceLoadBalancer(scope, 'Lb', { fleet, sslCertificates: ['projects/p/global/sslCertificates/c'], requestTimeoutSeconds: 300, securityPolicy: 'projects/p/global/securityPolicies/s' });
    });
    expect(j).toHaveResourceWithProperties(ComputeTargetHttpsProxy, { name: 'llm-https', ssl_certificates: ['projects/p/global/sslCertificates/c'] });
    expect(j).toHaveResourceWithProperties(ComputeGlobalForwardingRule, { name: 'llm-https', port_range: '443' });
    expect(j).toHaveResourceWithProperties(ComputeBackendService, { timeout_sec: 300, security_policy: 'projects/p/global/securityPolicies/s' });
    expect(one(r, 'google_compute_backend_service', 'Backend').backend[0].max_utilization).toBe(0.7);
    expect(r.google_compute_target_http_proxy).toBeUndefined();
  });

  test('bad options fail at construction with every problem', () => {
    const stack = new TerraformStack(new App(), 'stack');
    const fleet = new GcpSpotFleet(stack, 'Fleet', fleetProps());
    expect(() => new GcpInferenceLoadBalancer(stack, 'Lb', { fleet, requestTimeoutSeconds: 0, sslCertificates: [] })).toThrow(
      /^stack\/Lb: 2 problems in the fleet spec:\n  - requestTimeoutSeconds \(0\) must be a whole number of seconds from 1 to 86400 \(the backend service's timeout_sec for a global external Application Load Balancer\); use e.g. 120 \[GCP_BACKEND_SERVICE\]\n  - sslCertificates is an empty list; give at least one certificate for HTTPS, or leave it out to serve HTTP \[GCP_SSL_CERTIFICATES\]$/,
    );
  });
});
