import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Testing } from 'cdktf';
import { AzureMultiRegionSpotInferenceService, AzureMultiRegionSpotInferenceServiceProps } from '../../../constructs/azure';
import { FleetSpecError } from '../../../lib/spec';

Testing.setupJest();

const root = join(__dirname, '..', '..', '..');
const AGENT = join(mkdtempSync(join(tmpdir(), 'azure-mr-home-')), 'agent.js');
writeFileSync(AGENT, '"use strict";console.log("agent");');
beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'handlers', 'azure', 'fallback', 'index.js'))) {
    execFileSync(process.execPath, [join(root, 'scripts', 'build-handlers.mjs'), '--quiet'], { cwd: root });
  }
});

function build(overrides: Partial<AzureMultiRegionSpotInferenceServiceProps> = {}) {
  const json = JSON.parse(Testing.synthScope((scope) => {
    new AzureMultiRegionSpotInferenceService(scope, 'Svc', {
      resourceGroupName: 'rg-spot',
      location: 'eastus2',
      namePrefix: 'llm',
      adminSshPublicKey: 'ssh-rsa AAAAB3NzaC1yc2E test',
      instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'],
      minCapacity: 2,
      maxCapacity: 6,
      onDemandBaseCapacity: 1,
      agentBundlePath: AGENT,
      regions: [{ region: 'eastus2' }, { region: 'westeurope' }],
      ...overrides,
    });
  }));
  const apps = Object.values(json.resource.azurerm_linux_function_app ?? {}) as any[];
  return { apps, settings: apps[0]?.app_settings };
}

describe('AzureMultiRegionSpotInferenceService controller options and homeRegion', () => {
  test('onDemandFallbackOptions reach the one controller; homeRegion hosts it and becomes its policy\'s homeRegion', () => {
    const { apps, settings } = build({ homeRegion: 'westeurope', onDemandFallbackOptions: { policy: { spareSpotReplicas: 2 } } });
    expect(apps).toHaveLength(1);
    expect(apps[0].location).toBe('westeurope');
    expect(JSON.parse(settings.POLICY_OPTIONS)).toEqual({ spareSpotReplicas: 2, homeRegion: 'westeurope' });
  });

  test('without a home region the controller prefers no region', () => {
    expect(JSON.parse(build().settings.POLICY_OPTIONS)).toEqual({});
  });

  test('a policy homeRegion that differs from homeRegion is refused naming both; one outside the regions too', () => {
    const differs = () => build({ homeRegion: 'eastus2', onDemandFallbackOptions: { policy: { homeRegion: 'westeurope' } } });
    expect(differs).toThrow(FleetSpecError);
    expect(differs).toThrow('onDemandFallbackOptions.policy.homeRegion ("westeurope") differs from homeRegion ("eastus2")');
    expect(() => build({ onDemandFallbackOptions: { policy: { homeRegion: 'eastus' } } })).toThrow('onDemandFallbackOptions.policy.homeRegion ("eastus") is not one of regions (eastus2, westeurope)');
  });
});
