import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrchestratedVirtualMachineScaleSet } from '@cdktf/provider-azurerm/lib/orchestrated-virtual-machine-scale-set';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { StorageBlob } from '@cdktf/provider-azurerm/lib/storage-blob';
import { Testing } from 'cdktf';
import { AgentDelivery } from '../../constructs/azure';
import { AzureSpotInferenceStack } from '../../examples/azure/stack';
import { buildHandlersUnlessFresh } from '../support/bundles';

Testing.setupJest();

const root = join(__dirname, '../..');
const example = join(root, 'examples/azure');

beforeAll(() => {
  // The constructs inline or upload dist/runtime/spot-agent-portable/index.js: build it as `npm test` does (where it is
  // older than its sources).
  buildHandlersUnlessFresh(['runtime/spot-agent-portable/index.js', 'handlers/azure/fallback/index.js']);
}, 120_000);

describe('examples/azure', () => {
  test('synthesizes a GPU fleet (one scale set per T4 size) and a CPU instance mix without credentials', () => {
    const app = Testing.app();
    const stack = new AzureSpotInferenceStack(app, 'example');
    const out = Testing.synth(stack);
    const json = JSON.parse(out);
    expect(json.provider.azurerm).toEqual([{ features: [{}] }]);
    expect(out).toHaveResourceWithProperties(ResourceGroup, { name: 'spot-inference-example', location: 'eastus2' });
    // The fleet's own scale sets; beside them, the fallback controller's three spare Spot scale sets (one per zone, empty until it sizes them).
    const all = Object.entries<any>(json.resource.azurerm_orchestrated_virtual_machine_scale_set);
    const sets: any[] = all.filter(([id]) => !id.includes('SpareScaleSet')).map(([, s]) => s);
    const spares: any[] = all.filter(([id]) => id.includes('SpareScaleSet')).map(([, s]) => s);
    expect(sets.map((s) => s.sku_name).sort()).toEqual(['Mix', 'Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3']);
    expect(spares.map((s) => s.instances)).toEqual([0, 0, 0]);
    expect(out).toHaveResourceWithProperties(OrchestratedVirtualMachineScaleSet, {
      sku_name: 'Mix',
      sku_profile: { allocation_strategy: 'CapacityOptimized', vm_sizes: ['Standard_D4as_v5', 'Standard_D4s_v5', 'Standard_E4as_v5'] },
      priority_mix: { base_regular_count: 1, regular_percentage_above_base: 25 },
    });
    expect(sets.filter((s) => s.sku_name.startsWith('Standard_NC')).map((s) => s.priority_mix.base_regular_count)).toEqual([1, 0]);
    // Spot everywhere, and no terminate notification (Azure does not accept one on Spot scale sets).
    expect(sets.every((s) => s.priority === 'Spot' && s.termination_notification === undefined)).toBe(true);
    // automatic_instance_repair only beside the Application Health extension (the provider's create-time rule).
    for (const s of sets) {
      if (s.automatic_instance_repair !== undefined) expect(s.extension.map((e: any) => e.type)).toContain('ApplicationHealthLinux');
    }
    expect(Object.keys(json.output)).toEqual(expect.arrayContaining(['GpuEndpoint', 'CpuEndpoint']));
    // The real agent bundle: measured and delivered the way it fits.
    for (const fleet of [stack.gpuFleet, stack.cpuFleet]) {
      expect(fleet.agentBundleGzipBytes).toBeGreaterThan(1000);
      const expected = fleet.agentBundleGzipBytes * (4 / 3) * (4 / 3) > 60_000 ? AgentDelivery.STORAGE_BLOB : AgentDelivery.INLINE;
      expect(fleet.agentDelivery).toBe(expected);
    }
    // The default bundle is the agent without the AWS SDK (~35 KB): it fits in custom data, so no blob and no
    // storage account are needed for it.
    expect(stack.gpuFleet.agentDelivery).toBe(AgentDelivery.INLINE);
    expect(out).not.toHaveResource(StorageBlob);
  });

  test('cdktf.json runs the app from its folder, offline', () => {
    const config = JSON.parse(readFileSync(join(example, 'cdktf.json'), 'utf8'));
    expect(config).toMatchObject({ language: 'typescript', app: 'npx tsx app.ts', sendCrashReports: 'false' });
  });

  test('the app writes cdk.tf.json into CDKTF_OUTDIR (what npm run synth and cdktf synth do)', () => {
    // In-process (tsx would add seconds of compile time); `npm run synth` runs the same file with tsx.
    const outdir = join(mkdtempSync(join(tmpdir(), 'azure-example-')), 'cdktf.out', 'azure');
    const saved = process.env.CDKTF_OUTDIR;
    process.env.CDKTF_OUTDIR = outdir;
    try {
      jest.isolateModules(() => require('../../examples/azure/app'));
    } finally {
      if (saved === undefined) delete process.env.CDKTF_OUTDIR;
      else process.env.CDKTF_OUTDIR = saved;
    }
    const file = join(outdir, 'stacks', 'spot-inference-azure', 'cdk.tf.json');
    expect(existsSync(file)).toBe(true);
    const json = JSON.parse(readFileSync(file, 'utf8'));
    // 3 fleet scale sets + 3 spare Spot scale sets of the fallback controller.
    expect(Object.keys(json.resource.azurerm_orchestrated_virtual_machine_scale_set)).toHaveLength(6);
    expect(json.terraform.required_providers.azurerm).toEqual({ source: 'azurerm', version: '4.55.0' });
    // depends_on holds plain references, as Terraform requires.
    for (const set of Object.values<any>(json.resource.azurerm_orchestrated_virtual_machine_scale_set)) {
      for (const dep of set.depends_on ?? []) expect(dep).toMatch(/^azurerm_[a-z_]+\.\w+$/);
    }
  }, 60_000);

  test('every fallback alert watches the resource a controller posts its metric to: the GPU fleet\'s, none for the CPU fleet (no controller)', () => {
    const json = JSON.parse(Testing.synth(new AzureSpotInferenceStack(Testing.app(), 'example')));
    const posted = Object.values<any>(json.resource.azurerm_linux_function_app).map((f) => f.app_settings.METRICS_RESOURCE_ID);
    const fallback = Object.values<any>(json.resource.azurerm_monitor_metric_alert).filter((a) => /fallback-active/.test(a.name));
    expect(fallback.map((a) => a.name)).toEqual(['gpu-fleet-fallback-active-0']);
    for (const a of fallback) expect(posted).toContain(a.scopes[0]);
  });
});
