// The Azure queue-worker example (examples/azure/queue-stack.ts), as `npm run synth` renders it.
import 'cdktf/lib/testing/adapters/jest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServicebusQueue } from '@cdktf/provider-azurerm/lib/servicebus-queue';
import { Testing } from 'cdktf';
import { AzureQueueExampleStack } from '../../examples/azure/queue-stack';

Testing.setupJest();
const bundle = join(mkdtempSync(join(tmpdir(), 'queue-example-')), 'agent.js');
writeFileSync(bundle, 'console.log("spot-agent");\n');

test('Service Bus queue with a renewed 60 s lock, CPU spot workers autoscaled on ActiveMessages (5 per VM)', () => {
  const stack = new AzureQueueExampleStack(Testing.app(), 'spot-queue-azure', { agentBundlePath: bundle });
  const out = Testing.synth(stack);
  expect(out).toHaveResourceWithProperties(ServicebusQueue, { lock_duration: 'PT60S', max_delivery_count: 5 });
  const json = JSON.parse(out);
  const settings = Object.values(json.resource.azurerm_monitor_autoscale_setting as Record<string, any>);
  expect(settings).toHaveLength(1);
  expect(settings[0].profile[0].rule[0].metric_trigger).toMatchObject({ metric_name: 'ActiveMessages', divide_by_instance_count: true, threshold: 5 });
  expect(settings[0].profile[0].capacity).toMatchObject({ minimum: 0, maximum: 10 });
  expect(Object.keys(json.output).sort()).toEqual(['checkpoint_container', 'queue', 'service_bus_namespace']);
  // Issue 17: the provider refuses automatic_instance_repair without a health extension, even disabled; Azure
  // refuses a terminate notification on Spot. The queue workers have neither block.
  const sets = Object.values(json.resource.azurerm_orchestrated_virtual_machine_scale_set as Record<string, any>);
  expect(sets).toHaveLength(1);
  expect(sets[0].extension).toBeUndefined();
  expect(sets[0].automatic_instance_repair).toBeUndefined();
  expect(sets[0].termination_notification).toBeUndefined();
});
