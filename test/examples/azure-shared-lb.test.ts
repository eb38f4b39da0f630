// The Azure shared-load-balancer example (examples/azure/shared-lb-stack.ts): a fleet joins an existing load
// balancer's backend pool.
import 'cdktf/lib/testing/adapters/jest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LbProbe } from '@cdktf/provider-azurerm/lib/lb-probe';
import { LbRule } from '@cdktf/provider-azurerm/lib/lb-rule';
import { Testing } from 'cdktf';
import { AzureSharedLbExampleStack } from '../../examples/azure/shared-lb-stack';

Testing.setupJest();
const bundle = join(mkdtempSync(join(tmpdir(), 'shared-lb-example-')), 'agent.js');
writeFileSync(bundle, 'console.log("spot-agent");\n');

test('the fleet joins the team\'s pool and adds its probe (agent health) and rule to the team\'s load balancer', () => {
  const stack = new AzureSharedLbExampleStack(Testing.app(), 'spot-shared-lb-azure', { agentBundlePath: bundle });
  const out = Testing.synth(stack);
  const json = JSON.parse(out);
  expect(Object.keys(json.resource.azurerm_lb)).toEqual(['TeamLb']); // no load balancer of the fleet's own
  expect(out).toHaveResourceWithProperties(LbProbe, { loadbalancer_id: '${azurerm_lb.TeamLb.id}', port: 9901, request_path: '/health' });
  expect(out).toHaveResourceWithProperties(LbRule, { loadbalancer_id: '${azurerm_lb.TeamLb.id}', frontend_ip_configuration_name: 'public', backend_address_pool_ids: ['${azurerm_lb_backend_address_pool.InferencePool.id}'] });
  for (const set of Object.values(json.resource.azurerm_orchestrated_virtual_machine_scale_set) as any[]) {
    expect(set.network_interface[0].ip_configuration[0].load_balancer_backend_address_pool_ids).toEqual(['${azurerm_lb_backend_address_pool.InferencePool.id}']);
    expect(set.termination_notification).toBeUndefined();
  }
  const nsg = (Object.values(json.resource.azurerm_network_security_rule) as any[]).find((r) => r.source_address_prefix === 'AzureLoadBalancer');
  expect(nsg).toMatchObject({ access: 'Allow', destination_port_ranges: ['8080', '9901'] });
  // The service's other pieces: alerts on the team's load balancer, the drill, the fallback controller.
  const probeAlert = (Object.values(json.resource.azurerm_monitor_metric_alert) as any[]).find((a) => a.name.endsWith('backend-health'));
  expect(probeAlert.scopes).toEqual(['${azurerm_lb.TeamLb.id}']);
  expect(json.resource.azurerm_linux_function_app).toBeDefined();
});
