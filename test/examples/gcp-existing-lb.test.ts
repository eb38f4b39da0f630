// The bring-your-own load balancer example (examples/gcp/existing-lb-stack.ts), as `npm run synth` renders it.
import 'cdktf/lib/testing/adapters/jest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Testing } from 'cdktf';
import { GcpExistingLoadBalancerStack } from '../../examples/gcp/existing-lb-stack';

Testing.setupJest();
const root = join(__dirname, '..', '..');
beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'runtime', 'spot-agent', 'index.js'))) {
    execFileSync(process.execPath, [join(root, 'scripts', 'build-handlers.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
  }
});

test('the team\'s URL map keeps its web routes and gains api.example.com/v1/* on the spot fleet', () => {
  const json = JSON.parse(Testing.synth(new GcpExistingLoadBalancerStack(Testing.app(), 'spot-existing-lb-gcp', { project: 'p1' })));
  const map = Object.values(json.resource.google_compute_url_map as Record<string, any>)[0];
  expect(map.host_rule.map((r: any) => r.hosts[0])).toEqual(['www.example.com', 'api.example.com']);
  expect(map.path_matcher[1].path_rule[0].paths).toEqual(['/v1/*']);
  const backends = json.resource.google_compute_backend_service as Record<string, any>;
  const api = Object.entries(backends).find(([k]) => k.includes('api-on-team-lb'))![1];
  expect(api.backend).toHaveLength(2);
  expect(api.health_checks[0]).toMatch(/google_compute_health_check\.api_HealthCheck/);
  // The fleet's own firewall (loadBalanced) and the attachment's: both only Google's ranges.
  for (const fw of Object.values(json.resource.google_compute_firewall as Record<string, any>)) {
    expect(fw.source_ranges).toEqual(['35.191.0.0/16', '130.211.0.0/22']);
  }
});
