import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, TerraformStack, TerraformVariable, Testing, Token } from 'cdktf';
import { AzureQueueWorkerFleet, AzureSizeStrategy, AzureSpotFleet, AzureSpotFleetProps } from '../../../constructs/azure';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';

// Issue 14: a deploy-time capacity is passed through untouched where it only flows into the output, and refused at
// synth, naming the prop and why, where the fleet needs a number.
const dir = mkdtempSync(join(tmpdir(), 'azure-tokens-'));
const BUNDLE = join(dir, 'agent.js');
writeFileSync(BUNDLE, '"use strict";console.log("agent");');
const BASE = {
  resourceGroupName: 'rg',
  location: 'eastus2',
  adminSshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITEST test',
  agentBundlePath: BUNDLE,
  onDemandPercentageAboveBaseCapacity: 0,
};

interface Vars { min: number; max: number; desired: number; base: number }
function build(props: (v: Vars) => Partial<AzureSpotFleetProps>): any {
  const app = Testing.app();
  const stack = new TerraformStack(app, 'stack');
  const num = (name: string): number => new TerraformVariable(stack, name, { type: 'number' }).numberValue;
  const v = { min: num('min'), max: num('max'), desired: num('desired'), base: num('base') };
  new AzureSpotFleet(stack, 'Fleet', { ...BASE, minCapacity: 1, maxCapacity: 4, onDemandBaseCapacity: 0, instanceTypes: ['Standard_D4s_v5', 'Standard_E4s_v5'], ...props(v) } as AzureSpotFleetProps);
  return JSON.parse(Testing.synth(stack));
}

describe('deploy-time capacities (TerraformVariable)', () => {
  test('the values are real tokens: the failure mode is garbage arithmetic', () => {
    const app = new App();
    const stack = new TerraformStack(app, 's');
    const max = new TerraformVariable(stack, 'max', { type: 'number' }).numberValue;
    expect(Token.isUnresolved(max)).toBe(true);
    expect(max / 2).toBeLessThan(-1e290); // what the old split produced (-4.05e+298 in the autoscale maximum)
  });

  test('one scale set (an instance mix): every capacity flows into the output untouched', () => {
    const json = build((v) => ({ minCapacity: v.min, maxCapacity: v.max, desiredCapacity: v.desired, onDemandBaseCapacity: v.base, sizeStrategy: AzureSizeStrategy.INSTANCE_MIX }));
    const set: any = Object.values(json.resource.azurerm_orchestrated_virtual_machine_scale_set)[0];
    const autoscale: any = Object.values(json.resource.azurerm_monitor_autoscale_setting)[0];
    expect(set.instances).toBe('${var.desired}');
    expect(set.priority_mix).toEqual({ base_regular_count: '${var.base}', regular_percentage_above_base: 0 });
    expect(autoscale.profile[0].capacity).toEqual({ minimum: '${var.min}', maximum: '${var.max}', default: '${var.desired}' });
    expect(JSON.stringify(json)).not.toMatch(/e\+\d{3}/);
  });

  test('one size: untouched too (desiredCapacity defaults to the minCapacity variable)', () => {
    const json = build((v) => ({ minCapacity: v.min, maxCapacity: v.max, instanceTypes: ['Standard_NC4as_T4_v3'], allowUndiversified: true }));
    const autoscale: any = Object.values(json.resource.azurerm_monitor_autoscale_setting)[0];
    expect(autoscale.profile[0].capacity).toEqual({ minimum: '${var.min}', maximum: '${var.max}', default: '${var.min}' });
  });

  test('several scale sets (one per GPU size) need numbers: refused, naming each prop and why', () => {
    let error: FleetSpecError | undefined;
    try {
      build((v) => ({ minCapacity: v.min, maxCapacity: v.max, instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'] }));
    } catch (e) {
      error = e as FleetSpecError;
    }
    expect(error).toBeInstanceOf(FleetSpecError);
    expect(error!.problems.filter((p) => p.code === FleetSpecErrorCode.DEPLOY_TIME_VALUE).map((p) => p.prop)).toEqual(['minCapacity', 'maxCapacity', 'desiredCapacity']);
    expect(error!.message).toMatch(/maxCapacity is a deploy-time value \(a Terraform variable or another token\), but the fleet splits it over 2 scale sets \(one per VM size: Standard_NC4as_T4_v3, Standard_NC8as_T4_v3\) and cannot divide a value it does not know; give maxCapacity as a number/);
  });

  test('the queue fleet computes its scale-out step from maxCapacity: refused with the reason', () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, 'stack');
    const max = new TerraformVariable(stack, 'max', { type: 'number' }).numberValue;
    expect(() => new AzureQueueWorkerFleet(stack, 'Workers', {
      ...BASE,
      instanceTypes: ['Standard_D4s_v5', 'Standard_E4s_v5'],
      minCapacity: 0,
      maxCapacity: max,
      onDemandBaseCapacity: 0,
      messageProcessingSeconds: 60,
      acceptableLatencySeconds: 600,
    })).toThrow(/maxCapacity is a deploy-time value \(a Terraform variable or another token\), but an AzureQueueWorkerFleet computes with it \(its scale-out step is ceil\(maxCapacity \/ 4\) VMs\); give maxCapacity as a number/);
    const min = new TerraformVariable(stack, 'min', { type: 'number' }).numberValue;
    expect(() => new AzureQueueWorkerFleet(stack, 'Workers2', {
      ...BASE,
      instanceTypes: ['Standard_D4s_v5', 'Standard_E4s_v5'],
      minCapacity: min,
      maxCapacity: 4,
      onDemandBaseCapacity: 0,
      messageProcessingSeconds: 60,
      acceptableLatencySeconds: 600,
    })).toThrow(/minCapacity is a deploy-time value .*its first-VM rule starts max\(1, minCapacity\) VMs\); give minCapacity as a number/);
  });

  test('deploy-time durations and ports inside rendered strings stay Terraform references', () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, 'stack');
    const num = (name: string): number => new TerraformVariable(stack, name, { type: 'number' }).numberValue;
    new AzureSpotFleet(stack, 'Fleet', { ...BASE, minCapacity: 1, maxCapacity: 4, onDemandBaseCapacity: 0, instanceTypes: ['Standard_D4s_v5', 'Standard_E4s_v5'], repairGracePeriodMinutes: num('grace') });
    new AzureQueueWorkerFleet(stack, 'Workers', {
      ...BASE,
      instanceTypes: ['Standard_D4s_v5', 'Standard_E4s_v5'],
      minCapacity: 0,
      maxCapacity: 4,
      onDemandBaseCapacity: 0,
      messageProcessingSeconds: 60,
      acceptableLatencySeconds: 600,
      lockDurationSeconds: num('lock'),
      scaleOutCooldownMinutes: num('cooldown'),
    });
    const json = JSON.parse(Testing.synth(stack));
    const sets = Object.values(json.resource.azurerm_orchestrated_virtual_machine_scale_set) as any[];
    expect(sets.find((s) => s.automatic_instance_repair)?.automatic_instance_repair.grace_period).toBe('PT${var.grace}M');
    const queue: any = Object.values(json.resource.azurerm_servicebus_queue)[0];
    expect(queue.lock_duration).toBe('PT${var.lock}S');
    const autoscale = (Object.values(json.resource.azurerm_monitor_autoscale_setting) as any[]).find((a) => a.profile[0].name === 'queue-backlog');
    expect(autoscale.profile[0].rule[0].scale_action.cooldown).toBe('PT${var.cooldown}M');
  });
});
