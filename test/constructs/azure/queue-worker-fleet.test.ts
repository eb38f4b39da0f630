import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment';
import { ServicebusNamespace } from '@cdktf/provider-azurerm/lib/servicebus-namespace';
import { ServicebusQueue } from '@cdktf/provider-azurerm/lib/servicebus-queue';
import { StorageAccount } from '@cdktf/provider-azurerm/lib/storage-account';
import { StorageContainer } from '@cdktf/provider-azurerm/lib/storage-container';
import { Testing } from 'cdktf';
import { AzureQueueWorkerFleet, AzureQueueWorkerFleetProps } from '../../../constructs/azure';
import { DrainMode } from '../../../lib/runtime/agent-config';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';

Testing.setupJest();

const dir = mkdtempSync(join(tmpdir(), 'azure-queue-'));
const BUNDLE = join(dir, 'agent.js');
writeFileSync(BUNDLE, `"use strict";${'console.log("spot-agent");'.repeat(200)}`);

const BASE: AzureQueueWorkerFleetProps = {
  resourceGroupName: 'rg-workers',
  location: 'eastus2',
  adminSshPublicKey: 'ssh-rsa AAAAB3NzaC1yc2E test',
  instanceTypes: ['Standard_D4s_v5', 'Standard_D4as_v5', 'Standard_E4s_v5'],
  minCapacity: 0,
  maxCapacity: 8,
  onDemandBaseCapacity: 0,
  agentBundlePath: BUNDLE,
  messageProcessingSeconds: 60,
  acceptableLatencySeconds: 300,
};

function synth(overrides: Partial<AzureQueueWorkerFleetProps> = {}) {
  let fleet!: AzureQueueWorkerFleet;
  const out = Testing.synthScope((scope) => {
    fleet = new AzureQueueWorkerFleet(scope, 'Workers', { ...BASE, ...overrides });
  });
  return { out, json: JSON.parse(out), fleet };
}
const resources = (json: any, type: string): any[] => Object.values(json.resource[type] ?? {});

describe('AzureQueueWorkerFleet Service Bus', () => {
  const { out, json } = synth();

  test('Standard namespace with local (SAS) auth off and TLS 1.2', () => {
    expect(out).toHaveResourceWithProperties(ServicebusNamespace, { sku: 'Standard', local_auth_enabled: false, minimum_tls_version: '1.2', location: 'eastus2' });
  });

  test('queue: lock 1.5x the job (ISO 8601), dead letters after 5 deliveries and on expiry', () => {
    expect(out).toHaveResourceWithProperties(ServicebusQueue, {
      name: 'work',
      lock_duration: 'PT90S',
      max_delivery_count: 5,
      dead_lettering_on_message_expiration: true,
      default_message_ttl: 'P14D',
    });
    expect(resources(json, 'azurerm_servicebus_queue')[0].namespace_id).toMatch(/azurerm_servicebus_namespace\.Workers_Namespace_[0-9A-F]+\.id/);
  });
});

describe('AzureQueueWorkerFleet checkpoints and identity', () => {
  const { out, json } = synth();

  test('storage: HTTPS only, TLS 1.2, no shared keys, nothing public; a private container; checkpoints expire', () => {
    expect(out).toHaveResourceWithProperties(StorageAccount, {
      https_traffic_only_enabled: true,
      min_tls_version: 'TLS1_2',
      shared_access_key_enabled: false,
      allow_nested_items_to_be_public: false,
      default_to_oauth_authentication: true,
    });
    expect(out).toHaveResourceWithProperties(StorageContainer, { name: 'checkpoints', container_access_type: 'private' });
    const policy = resources(json, 'azurerm_storage_management_policy')[0];
    expect(policy.rule[0]).toMatchObject({ filters: { prefix_match: ['checkpoints/'] }, actions: { base_blob: { delete_after_days_since_modification_greater_than: 30 } } });
  });

  test('the workers receive from this queue only and write this container only', () => {
    const roles = resources(json, 'azurerm_role_assignment').filter((r) => /Workers_Fleet_Identity/.test(r.principal_id));
    const byRole = Object.fromEntries(roles.map((r) => [r.role_definition_name, r.scope]));
    expect(byRole['Azure Service Bus Data Receiver']).toMatch(/azurerm_servicebus_queue\.Workers_Queue_[0-9A-F]+\.id/);
    expect(byRole['Storage Blob Data Contributor']).toMatch(/azurerm_storage_container\.Workers_CheckpointContainer_[0-9A-F]+\.id/);
    expect(roles.map((r) => r.role_definition_name)).not.toContain('Azure Service Bus Data Owner');
    expect(out).toHaveResourceWithProperties(RoleAssignment, { role_definition_name: 'Azure Service Bus Data Receiver', principal_type: 'ServicePrincipal' });
  });
});

describe('AzureQueueWorkerFleet workers', () => {
  const { json, fleet } = synth();

  test('spot scale set with no public IP, no health extension, no automatic repairs', () => {
    const set = resources(json, 'azurerm_orchestrated_virtual_machine_scale_set')[0];
    expect(set.priority).toBe('Spot');
    expect(set.extension).toBeUndefined();
    // No repair block at all (the provider refuses one, even disabled, without the health extension).
    expect(set.automatic_instance_repair).toBeUndefined();
    expect(set.termination_notification).toBeUndefined();
    expect(set.network_interface[0].ip_configuration[0].public_ip_address).toBeUndefined();
  });

  test('nothing public: no load balancer, no public IP, NSG admits nothing inbound', () => {
    // The only public IP is the NAT gateway's (outbound); there is no load balancer at all.
    expect(resources(json, 'azurerm_public_ip').map((p) => p.name)).toEqual(['workers-nat-ip']);
    expect(resources(json, 'azurerm_lb')).toHaveLength(0);
    expect(resources(json, 'azurerm_lb_probe')).toHaveLength(0);
    expect(fleet.fleet.loadBalanced).toBe(false);
    expect(() => fleet.fleet.loadBalancer).toThrow(/has no load balancer \(loadBalanced: false\); check fleet.loadBalanced/);
    const set = resources(json, 'azurerm_orchestrated_virtual_machine_scale_set')[0];
    expect(set.network_interface[0].ip_configuration[0].load_balancer_backend_address_pool_ids).toBeUndefined();
    const rules = resources(json, 'azurerm_network_security_rule').filter((r) => r.access === 'Allow' && r.direction === 'Inbound');
    expect(rules).toEqual([]);
    const deny = resources(json, 'azurerm_network_security_rule').filter((r) => r.access === 'Deny' && r.direction === 'Inbound');
    expect(deny).toHaveLength(1);
    expect(deny[0]).toMatchObject({ source_address_prefix: '*', destination_port_range: '*', protocol: '*', priority: 4096 });
  });

  test('the worker environment, and the agent set up to SIGTERM the worker (no config rewrite at boot)', () => {
    const script = fleet.fleet.customDataScript;
    expect(script).toContain("cat > /etc/queue-worker.env <<'QUEUE_WORKER_ENV'");
    expect(script).toContain('SPOT_SERVICE_BUS_QUEUE=work');
    expect(script).toMatch(/SPOT_SERVICE_BUS_NAMESPACE=workers-sb-[0-9a-f]{10}\.servicebus\.windows\.net/);
    expect(script).toContain('SPOT_QUEUE_VISIBILITY_TIMEOUT_SECONDS=90');
    expect(script).toContain('SPOT_CHECKPOINT_CONTAINER=');
    const config = JSON.parse(script.split("<<'SPOT_AGENT_CONFIG'\n")[1].split('\nSPOT_AGENT_CONFIG')[0]);
    expect(config).toMatchObject({ drainMode: 'signal', pidFile: '/run/queue-worker.pid', drainSignal: 'SIGTERM', loadBalancerDetectionSeconds: 0, healthHost: '127.0.0.1' });
    expect(script).not.toContain('systemctl restart spot-agent.service');
    expect(fleet.fleet.drainMode).toBe('signal');
  });

  test('autohealing: true keeps the Application Health extension and repairs, still without load balancer', () => {
    const { json: j } = synth({ autohealing: true });
    const set = resources(j, 'azurerm_orchestrated_virtual_machine_scale_set')[0];
    expect(set.extension[0].type).toBe('ApplicationHealthLinux');
    expect(set.automatic_instance_repair.enabled).toBe(true);
    expect(resources(j, 'azurerm_lb')).toHaveLength(0);
  });
});

describe('AzureQueueWorkerFleet autoscale on ActiveMessages per VM', () => {
  const { json, fleet } = synth({ messagesInParallel: 2 });
  const settings = resources(json, 'azurerm_monitor_autoscale_setting');
  const profile = settings[0].profile[0];
  const rules = profile.rule as any[];

  test('the CPU rules are replaced: every rule reads ActiveMessages of this queue (EntityName dimension)', () => {
    expect(settings).toHaveLength(1);
    expect(profile.capacity).toEqual({ minimum: 0, maximum: 8, default: 0 });
    expect(rules).toHaveLength(3);
    for (const r of rules) {
      expect(r.metric_trigger).toMatchObject({
        metric_name: 'ActiveMessages',
        metric_namespace: 'microsoft.servicebus/namespaces',
        dimensions: [{ name: 'EntityName', operator: 'Equals', values: ['work'] }],
      });
      expect(r.metric_trigger.metric_resource_id).toMatch(/azurerm_servicebus_namespace\.Workers_Namespace_[0-9A-F]+\.id/);
    }
    expect(JSON.stringify(rules)).not.toContain('Percentage CPU');
  });

  test('scaling math: target 300 s x 2 / 60 s = 10 per VM; out above 10 per VM, in below 5, first VM from 0', () => {
    expect(fleet.targetBacklogPerInstance).toBe(10);
    const [out, fromZero, scaleIn] = rules;
    expect(out.metric_trigger).toMatchObject({ divide_by_instance_count: true, operator: 'GreaterThan', threshold: 10 });
    expect(out.scale_action).toMatchObject({ direction: 'Increase', type: 'ChangeCount', value: 2 });
    expect(fromZero.metric_trigger).toMatchObject({ operator: 'GreaterThan', threshold: 0 });
    expect(fromZero.metric_trigger.divide_by_instance_count).toBeUndefined();
    expect(fromZero.scale_action).toMatchObject({ direction: 'Increase', type: 'ExactCount', value: 1 });
    expect(scaleIn.metric_trigger).toMatchObject({ divide_by_instance_count: true, operator: 'LessThan', threshold: 5 });
    expect(scaleIn.scale_action).toMatchObject({ direction: 'Decrease', type: 'ChangeCount', value: 1, cooldown: 'PT10M' });
    // What the rules decide, evaluated as Azure does (divide by the instance count when asked; never by 0).
    const fires = (rule: any, active: number, vms: number) => {
      const t = rule.metric_trigger;
      if (t.divide_by_instance_count && vms === 0) return false;
      const value = t.divide_by_instance_count ? active / vms : active;
      return t.operator === 'GreaterThan' ? value > t.threshold : value < t.threshold;
    };
    expect([fires(out, 100, 4), fires(fromZero, 100, 4), fires(scaleIn, 100, 4)]).toEqual([true, true, false]);
    expect([fires(out, 3, 0), fires(fromZero, 3, 0)]).toEqual([false, true]);
    expect(fires(scaleIn, 8, 4)).toBe(true);
    expect(fires(scaleIn, 30, 4)).toBe(false);
  });

  test('GPU sizes: one scale set per size, each with the target times the number of sets', () => {
    const { json: g } = synth({ instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'], targetBacklogPerInstance: 4 });
    const s = resources(g, 'azurerm_monitor_autoscale_setting');
    expect(s).toHaveLength(2);
    for (const setting of s) expect(setting.profile[0].rule[0].metric_trigger.threshold).toBe(8);
  });
});

describe('AzureQueueWorkerFleet validation', () => {
  const errorOf = (overrides: Partial<AzureQueueWorkerFleetProps>): FleetSpecError => {
    try {
      synth(overrides);
    } catch (e) {
      if (e instanceof FleetSpecError) return e;
      throw e;
    }
    throw new Error('expected a FleetSpecError');
  };

  test('a lock shorter than the job', () => {
    expect(() => synth({ lockDurationSeconds: 30 })).toThrow(
      /lockDurationSeconds \(30 s\) is shorter than the job's expected duration messageProcessingSeconds \(60 s\).*raise lockDurationSeconds to at least 90 s/,
    );
    expect(() => synth({ lockDurationSeconds: 30, renewsLock: true })).not.toThrow();
  });

  test('a job too long for a Service Bus lock without renewals', () => {
    expect(() => synth({ messageProcessingSeconds: 600, acceptableLatencySeconds: 1200 })).toThrow(
      /messageProcessingSeconds \(600 s\) is too long for a Service Bus lock \(at most 300 s.*set renewsLock: true/,
    );
    expect(() => synth({ lockDurationSeconds: 600 })).toThrow(/lockDurationSeconds \(600 s\) must be a whole number from 5 to 300 s/);
  });

  test('redelivered forever: maxDeliveryCount out of range', () => {
    expect(() => synth({ maxDeliveryCount: 1 })).toThrow(/maxDeliveryCount \(1\) must be a whole number from 2 to 2000: a message must not be redelivered forever/);
    expect(() => synth({ maxDeliveryCount: 5000 })).toThrow(/maxDeliveryCount \(5000\)/);
  });

  test('load-balancer, CPU-autoscale and drain-mode props are the queue fleet\'s own: refused with the reason', () => {
    const e = errorOf({ internalLoadBalancer: true, allowedClientCidrs: ['10.0.0.0/8'], scaleOutCpuPercent: 80, agent: { drainMode: DrainMode.HEALTH } });
    expect(e.family).toBe(FleetSpecErrorCode.WORKLOAD);
    expect(e.problems.map((p) => p.prop)).toEqual(['internalLoadBalancer', 'allowedClientCidrs', 'scaleOutCpuPercent', 'agent.drainMode']);
    expect(e.message).toMatch(/internalLoadBalancer cannot be set on an AzureQueueWorkerFleet: the workers have no load balancer/);
    expect(e.message).toMatch(/drainMode cannot be set on an AzureQueueWorkerFleet: the agent sends SIGTERM to the worker whose PID is in \/run\/queue-worker.pid/);
    expect(() => synth({ loadBalanced: true })).toThrow(/loadBalanced cannot be set on an AzureQueueWorkerFleet/);
  });

  test('every problem together, code WORKLOAD', () => {
    const e = errorOf({ acceptableLatencySeconds: 30, messageTimeToLive: '14 days', checkpointRetentionDays: 0 });
    expect(e.family).toBe(FleetSpecErrorCode.WORKLOAD);
    expect(e.problems.map((p) => p.prop)).toEqual(['acceptableLatencySeconds', 'messageTimeToLive', 'checkpointRetentionDays']);
    expect(e.message).toMatch(/Workers: 3 problems/);
    expect(e.message).toMatch(/messageTimeToLive \("14 days"\) must be an ISO 8601 duration/);
    expect(e.message).toMatch(/acceptable backlog per instance is 0.5/);
  });
});
