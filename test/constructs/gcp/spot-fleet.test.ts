import 'cdktf/lib/testing/adapters/jest';
import { execFileSync } from 'node:child_process';
import { Testing, TerraformVariable } from 'cdktf';
import { ComputeFirewall } from '@cdktf/provider-google/lib/compute-firewall';
import { ComputeHealthCheck } from '@cdktf/provider-google/lib/compute-health-check';
import { ComputeRegionAutoscaler } from '@cdktf/provider-google/lib/compute-region-autoscaler';
import { ComputeRegionInstanceGroupManager } from '@cdktf/provider-google/lib/compute-region-instance-group-manager';
import { ComputeRegionInstanceTemplate } from '@cdktf/provider-google/lib/compute-region-instance-template';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member';
import { StorageBucketObject } from '@cdktf/provider-google/lib/storage-bucket-object';
import {
  GcpSpotFleet,
  GOOGLE_LOAD_BALANCER_RANGES,
  InstanceTerminationAction,
  MachineTypeRanking,
  TargetShape,
} from '../../../constructs/gcp';
import { DEFAULT_AGENT_HEALTH_PORT, DrainMode } from '../../../lib/runtime/agent-config';
import { FleetSpecError } from '../../../lib/spec';
import { ensureBundles, fleetProps, one, synth } from './helpers';

Testing.setupJest();
beforeAll(ensureBundles);

describe('GcpSpotFleet: instance templates', () => {
  const { json, resources } = synth((scope) => new GcpSpotFleet(scope, 'Fleet', fleetProps()));

  test('spot scheduling block, field by field', () => {
    const spot = one(resources, 'google_compute_region_instance_template', 'SpotTemplate');
    expect(spot.scheduling.provisioning_model).toBe('SPOT');
    expect(spot.scheduling.preemptible).toBe(true);
    expect(spot.scheduling.automatic_restart).toBe(false);
    expect(spot.scheduling.on_host_maintenance).toBe('TERMINATE');
    expect(spot.scheduling.instance_termination_action).toBe('DELETE');
    expect(Object.keys(spot.scheduling).sort()).toEqual(
      ['automatic_restart', 'instance_termination_action', 'on_host_maintenance', 'preemptible', 'provisioning_model'],
    );
    expect(json).toHaveResourceWithProperties(ComputeRegionInstanceTemplate, {
      name_prefix: 'llm-spot-',
      machine_type: 'g2-standard-8',
      region: 'us-central1',
      scheduling: {
        provisioning_model: 'SPOT',
        preemptible: true,
        automatic_restart: false,
        on_host_maintenance: 'TERMINATE',
        instance_termination_action: 'DELETE',
      },
    });
  });

  test('on-demand template uses standard provisioning and TERMINATE on maintenance (GPU)', () => {
    expect(json).toHaveResourceWithProperties(ComputeRegionInstanceTemplate, {
      name_prefix: 'llm-od-',
      scheduling: { provisioning_model: 'STANDARD', preemptible: false, automatic_restart: true, on_host_maintenance: 'TERMINATE' },
    });
  });

  test('Shielded VM, no external IP, dedicated service account, boot disk, replace-before-destroy', () => {
    const spot = one(resources, 'google_compute_region_instance_template', 'SpotTemplate');
    expect(spot.shielded_instance_config).toEqual({ enable_secure_boot: true, enable_vtpm: true, enable_integrity_monitoring: true });
    expect(spot.network_interface).toEqual([{ network: 'default' }]);
    expect(spot.network_interface[0].access_config).toBeUndefined();
    expect(spot.service_account.email).toMatch(/^\$\{google_service_account\.Fleet_ServiceAccount_\w+\.email\}$/);
    expect(spot.service_account.scopes).toEqual(['https://www.googleapis.com/auth/cloud-platform']);
    expect(spot.disk).toEqual([
      { boot: true, auto_delete: true, disk_size_gb: 100, disk_type: 'pd-balanced', source_image: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2204-lts' },
    ]);
    expect(spot.guest_accelerator).toBeUndefined(); // G2: the L4 is built in
    expect(spot.lifecycle).toEqual({ create_before_destroy: true });
    expect(spot.metadata['enable-oslogin']).toBe('TRUE');
    expect(spot.metadata['block-project-ssh-keys']).toBe('TRUE');
    expect(spot.labels).toEqual({ 'spot-fleet': 'llm' });
  });

  test('startup script installs the agent in health mode and fetches it with the VM identity', () => {
    const script: string = one(resources, 'google_compute_region_instance_template', 'SpotTemplate').metadata['startup-script'];
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(script).toContain('"drainMode": "health"');
    expect(script).toContain(`"healthPort": ${DEFAULT_AGENT_HEALTH_PORT}`);
    expect(script).toContain('"servingPort": 8080');
    expect(script).toContain('"cloud": "gcp"');
    expect(script).toContain('"drainBudgetSeconds": 10');
    expect(script).toContain('"loadBalancerDetectionSeconds": 20');
    expect(script).toMatch(/if ! \{ command -v gcloud >\/dev\/null 2>&1 && gcloud storage cp 'gs:\/\/\$\{google_storage_bucket\.Fleet_Artifacts_\w+\.name\}\/\$\{google_storage_bucket_object\.Fleet_AgentObject_\w+\.name\}' \/opt\/spot-agent\/spot-agent\.js/);
    // Shell variables are escaped for Terraform; resource references are not.
    expect(script).toContain('Bearer $${TOKEN}');
    expect(script).toMatch(/-o \/opt\/spot-agent\/spot-agent\.js 'https:\/\/storage\.googleapis\.com\/storage\/v1\/b\/\$\{google_storage_bucket\.Fleet_Artifacts_\w+\.name\}\/o\/\$\{google_storage_bucket_object\.Fleet_AgentObject_\w+\.name\}\?alt=media'/);
    expect(script).not.toMatch(/[^$]\$\{TOKEN\}/);
    expect(script).toContain('systemctl enable --now spot-agent.service');
  });

  test('shutdown script hands the ACPI soft-off to the agent and waits up to the notice', () => {
    const script: string = one(resources, 'google_compute_region_instance_template', 'SpotTemplate').metadata['shutdown-script'];
    expect(script).toContain('systemctl show --property MainPID --value spot-agent.service');
    expect(script).toContain('kill -TERM "$${PID}"');
    expect(script).toContain('for _ in $(seq 1 30); do');
    expect(script).not.toContain('systemctl stop');
  });

  test('both scripts are valid bash once Terraform has rendered them', () => {
    const meta = one(resources, 'google_compute_region_instance_template', 'SpotTemplate').metadata;
    for (const key of ['startup-script', 'shutdown-script']) {
      // What Terraform hands the VM: `$${` becomes `${`, references become values.
      const rendered = (meta[key] as string).replace(/\$\{google_[^}]+\}/g, 'x').replace(/\$\$\{/g, '${');
      expect(() => execFileSync('bash', ['-n'], { input: rendered, stdio: ['pipe', 'pipe', 'pipe'] })).not.toThrow();
    }
  });

  test('user startup script runs before the agent and is escaped for Terraform', () => {
    const { resources: r } = synth((scope) => new GcpSpotFleet(scope, 'Fleet', fleetProps({ startupScript: 'docker run -d -e MODEL=${MODEL} my/server' })));
    const script: string = one(r, 'google_compute_region_instance_template', 'SpotTemplate').metadata['startup-script'];
    expect(script).toContain('docker run -d -e MODEL=$${MODEL} my/server');
    expect(script.indexOf('my/server')).toBeLessThan(script.indexOf('spot-agent: watches'));
  });

  test('STOP termination action, N1 with T4 through guestAccelerator, CMEK disk, Secure Boot off', () => {
    const { json: j } = synth(
      (scope) =>
        new GcpSpotFleet(scope, 'Fleet', fleetProps({
          instanceTypes: ['n1-standard-8', 'n1-standard-16'],
          gpu: { type: 'nvidia-tesla-t4', count: 1 },
          terminationAction: InstanceTerminationAction.STOP,
          diskKmsKeySelfLink: 'projects/p/locations/us-central1/keyRings/r/cryptoKeys/k',
          secureBoot: false,
        })),
    );
    expect(j).toHaveResourceWithProperties(ComputeRegionInstanceTemplate, {
      name_prefix: 'llm-spot-',
      machine_type: 'n1-standard-8',
      guest_accelerator: [{ type: 'nvidia-tesla-t4', count: 1 }],
      scheduling: expect.objectContaining({ instance_termination_action: 'STOP', provisioning_model: 'SPOT' }),
      shielded_instance_config: { enable_secure_boot: false, enable_vtpm: true, enable_integrity_monitoring: true },
      disk: [expect.objectContaining({ disk_encryption_key: { kms_key_self_link: 'projects/p/locations/us-central1/keyRings/r/cryptoKeys/k' } })],
    });
  });

  test('CPU-only fleet keeps live migration for the on-demand group', () => {
    const { json: j } = synth((scope) => new GcpSpotFleet(scope, 'Fleet', fleetProps({ instanceTypes: ['n2-standard-8', 'c3-standard-8'] })));
    expect(j).toHaveResourceWithProperties(ComputeRegionInstanceTemplate, { name_prefix: 'llm-od-', scheduling: expect.objectContaining({ on_host_maintenance: 'MIGRATE' }) });
  });
});

describe('GcpSpotFleet: managed instance groups and autoscaler', () => {
  const { json, resources } = synth((scope) => new GcpSpotFleet(scope, 'Fleet', fleetProps()));

  test('spot group: regional, zones, BALANCED, ranked instance flexibility, autohealing, named port', () => {
    expect(json).toHaveResourceWithProperties(ComputeRegionInstanceGroupManager, {
      name: 'llm-spot',
      base_instance_name: 'llm-spot',
      region: 'us-central1',
      distribution_policy_zones: ['us-central1-a', 'us-central1-b', 'us-central1-c'],
      distribution_policy_target_shape: 'BALANCED',
      instance_flexibility_policy: {
        instance_selections: [
          { name: 'rank-0', rank: 0, machine_types: ['g2-standard-8'] },
          { name: 'rank-1', rank: 1, machine_types: ['g2-standard-12'] },
        ],
      },
      named_port: [{ name: 'http', port: 8080 }],
      auto_healing_policies: expect.objectContaining({ initial_delay_sec: 300 }),
      target_size: 2,
      lifecycle: { ignore_changes: ['target_size'] },
      wait_for_instances: false,
    });
    const spot = one(resources, 'google_compute_region_instance_group_manager', 'SpotGroup');
    expect(spot.auto_healing_policies.health_check).toMatch(/^\$\{google_compute_health_check\.Fleet_HealthCheck_\w+\.id\}$/);
    expect(spot.version).toEqual([{ name: 'spot', instance_template: expect.stringMatching(/SpotTemplate_\w+\.self_link\}$/) }]);
  });

  test('update policy never takes serving VMs down and never redistributes spot VMs', () => {
    expect(json).toHaveResourceWithProperties(ComputeRegionInstanceGroupManager, {
      name: 'llm-spot',
      update_policy: {
        type: 'PROACTIVE',
        minimal_action: 'REPLACE',
        most_disruptive_allowed_action: 'REPLACE',
        replacement_method: 'SUBSTITUTE',
        max_surge_fixed: 3,
        max_unavailable_fixed: 0,
        instance_redistribution_type: 'NONE',
      },
    });
  });

  test('on-demand group: standard template, fixed size = base, same zones and flexibility', () => {
    const od = one(resources, 'google_compute_region_instance_group_manager', 'OnDemandGroup');
    expect(od.target_size).toBe(1);
    expect(od.lifecycle).toBeUndefined();
    expect(od.version[0].instance_template).toMatch(/OnDemandTemplate_\w+\.self_link\}$/);
    expect(od.distribution_policy_zones).toEqual(['us-central1-a', 'us-central1-b', 'us-central1-c']);
    expect(od.instance_flexibility_policy.instance_selections).toHaveLength(2);
  });

  test('autoscaler on the spot group within the FleetSpec bounds minus the on-demand VMs', () => {
    expect(json).toHaveResourceWithProperties(ComputeRegionAutoscaler, {
      name: 'llm-spot',
      region: 'us-central1',
      autoscaling_policy: {
        min_replicas: 1,
        max_replicas: 7,
        cooldown_period: 300,
        mode: 'ON',
        load_balancing_utilization: { target: 0.8 },
      },
    });
    expect(one(resources, 'google_compute_region_autoscaler', 'SpotAutoscaler').target).toMatch(/SpotGroup_\w+\.id\}$/);
  });

  test('equal ranking, fixed size without autoscaler, ANY shape, custom initialization period and utilization', () => {
    const { json: j, resources: r } = synth(
      (scope) =>
        new GcpSpotFleet(scope, 'Fleet', fleetProps({
          machineTypeRanking: MachineTypeRanking.EQUAL,
          autoscaling: false,
          targetShape: TargetShape.ANY,
          initializationPeriodSeconds: 600,
          targetUtilization: 0.6,
        })),
    );
    expect(j).toHaveResourceWithProperties(ComputeRegionInstanceGroupManager, {
      name: 'llm-spot',
      distribution_policy_target_shape: 'ANY',
      instance_flexibility_policy: { instance_selections: [{ name: 'any-of', rank: 0, machine_types: ['g2-standard-8', 'g2-standard-12'] }] },
      auto_healing_policies: expect.objectContaining({ initial_delay_sec: 600 }),
      target_size: 2,
    });
    expect(r.google_compute_region_autoscaler).toBeUndefined();
    expect(one(r, 'google_compute_region_instance_group_manager', 'SpotGroup').lifecycle).toBeUndefined();
  });

  test('EVEN with one machine type has no flexibility policy', () => {
    const { resources: r } = synth(
      (scope) => new GcpSpotFleet(scope, 'Fleet', fleetProps({ instanceTypes: ['g2-standard-8'], allowUndiversified: true, targetShape: TargetShape.EVEN })),
    );
    const spot = one(r, 'google_compute_region_instance_group_manager', 'SpotGroup');
    expect(spot.distribution_policy_target_shape).toBe('EVEN');
    expect(spot.instance_flexibility_policy).toBeUndefined();
  });
});

describe('GcpSpotFleet: capacity split', () => {
  test.each([
    // base, pct, min, desired, max -> on-demand, spot min, spot desired, spot max
    [1, 0, 2, 3, 8, 1, 1, 2, 7],
    [2, 50, 2, 6, 10, 4, 0, 2, 6],
    [0, 0, 0, 0, 4, 0, 0, 0, 4],
    [1, 100, 1, 5, 5, 5, 0, 0, 0],
  ])('base %i + %i %% above, capacity %i/%i/%i -> %i on-demand, spot %i..%i..%i', (base, pct, min, desired, max, od, smin, sdes, smax) => {
    let fleet: GcpSpotFleet | undefined;
    synth((scope) => {
      fleet = new GcpSpotFleet(scope, 'Fleet', fleetProps({ onDemandBaseCapacity: base, onDemandPercentageAboveBaseCapacity: pct, minCapacity: min, desiredCapacity: desired, maxCapacity: max }));
    });
    expect([fleet!.onDemandCount, fleet!.spotMinSize, fleet!.spotDesiredSize, fleet!.spotMaxSize]).toEqual([od, smin, sdes, smax]);
  });

  test('an all-on-demand fleet gets no autoscaler', () => {
    const { resources: r } = synth((scope) => new GcpSpotFleet(scope, 'Fleet', fleetProps({ onDemandBaseCapacity: 5, minCapacity: 5, desiredCapacity: 5, maxCapacity: 5 })));
    expect(r.google_compute_region_autoscaler).toBeUndefined();
    expect(one(r, 'google_compute_region_instance_group_manager', 'OnDemandGroup').target_size).toBe(5);
    expect(one(r, 'google_compute_region_instance_group_manager', 'SpotGroup').target_size).toBe(0);
  });
});

describe('GcpSpotFleet: health check, firewall, identity, artifacts', () => {
  const { json, resources } = synth((scope) => new GcpSpotFleet(scope, 'Fleet', fleetProps({ servingPort: 8000, healthCheck: { path: '/ready', intervalSeconds: 5, timeoutSeconds: 3 } })));

  test('health check probes the agent port with the spec path and thresholds', () => {
    expect(json).toHaveResourceWithProperties(ComputeHealthCheck, {
      name: 'llm-hc',
      check_interval_sec: 5,
      timeout_sec: 3,
      healthy_threshold: 2,
      unhealthy_threshold: 2,
      http_health_check: { port: DEFAULT_AGENT_HEALTH_PORT, request_path: '/ready' },
    });
  });

  test('healthCheck.port moves the agent health endpoint and the probe', () => {
    const { json: j, resources: r } = synth((scope) => new GcpSpotFleet(scope, 'Fleet', fleetProps({ healthCheck: { port: 9000 } })));
    expect(j).toHaveResourceWithProperties(ComputeHealthCheck, { http_health_check: { port: 9000, request_path: '/health' } });
    expect(one(r, 'google_compute_region_instance_template', 'SpotTemplate').metadata['startup-script']).toContain('"healthPort": 9000');
    expect(one(r, 'google_compute_firewall', 'AllowLoadBalancer').allow).toEqual([{ protocol: 'tcp', ports: ['8080', '9000'] }]);
  });

  test('firewall admits only the Google load-balancer and health-check ranges, on serving and health ports, to the fleet identity', () => {
    expect(json).toHaveResourceWithProperties(ComputeFirewall, {
      name: 'llm-allow-lb',
      network: 'default',
      direction: 'INGRESS',
      source_ranges: ['35.191.0.0/16', '130.211.0.0/22'],
      allow: [{ protocol: 'tcp', ports: ['8000', String(DEFAULT_AGENT_HEALTH_PORT)] }],
    });
    expect(GOOGLE_LOAD_BALANCER_RANGES).toEqual(['35.191.0.0/16', '130.211.0.0/22']);
    const fw = one(resources, 'google_compute_firewall', 'AllowLoadBalancer');
    expect(fw.target_service_accounts).toEqual([expect.stringMatching(/Fleet_ServiceAccount_\w+\.email\}$/)]);
    expect(fw.source_tags).toBeUndefined();
  });

  test('dedicated service account with logs and metrics only', () => {
    expect(json).toHaveResourceWithProperties(ServiceAccount, { account_id: 'llm-vm', project: 'test-project' });
    const roles = Object.values(resources.google_project_iam_member).map((m: any) => m.role).sort();
    expect(roles).toEqual(['roles/logging.logWriter', 'roles/monitoring.metricWriter']);
    expect(json).toHaveResourceWithProperties(ProjectIamMember, { role: 'roles/logging.logWriter', project: 'test-project' });
  });

  test('private artifact bucket; the agent bundle object; read on that object only', () => {
    expect(json).toHaveResourceWithProperties(StorageBucket, {
      location: 'US-CENTRAL1',
      uniform_bucket_level_access: true,
      public_access_prevention: 'enforced',
      versioning: { enabled: true },
    });
    expect(one(resources, 'google_storage_bucket', 'Artifacts').name).toMatch(/^llm-artifacts-[0-9a-f]{8}$/);
    expect(json).toHaveResourceWithProperties(StorageBucketObject, { content_type: 'application/javascript' });
    const obj = one(resources, 'google_storage_bucket_object', 'AgentObject');
    expect(obj.name).toMatch(/^spot-agent-[0-9a-f]{16}\.js$/i);
    expect(obj.source).toMatch(/^assets\/Fleet_AgentBundle_\w+\/[0-9A-F]+\/index\.js$/);
    expect(json).toHaveResourceWithProperties(StorageBucketIamMember, { role: 'roles/storage.objectViewer' });
    const read = one(resources, 'google_storage_bucket_iam_member', 'AgentRead');
    expect(read.condition.expression).toMatch(/^resource\.name == "projects\/_\/buckets\/\$\{google_storage_bucket\.Fleet_Artifacts_\w+\.name\}\/objects\/\$\{google_storage_bucket_object\.Fleet_AgentObject_\w+\.name\}"$/);
    expect(read.member).toMatch(/Fleet_ServiceAccount_\w+\.member\}$/);
  });

  test('tokens are not validated: a project variable still synthesizes', () => {
    const { resources: r } = synth((scope) => {
      const project = new TerraformVariable(scope, 'project', { type: 'string' });
      new GcpSpotFleet(scope, 'Fleet', fleetProps({ project: project.stringValue }));
    });
    expect(one(r, 'google_service_account', 'ServiceAccount').project).toBe('${var.project}');
  });

  test('a region variable flows into every regional resource unchanged', () => {
    const { resources: r } = synth((scope) => {
      const region = new TerraformVariable(scope, 'region', { type: 'string' });
      new GcpSpotFleet(scope, 'Fleet', fleetProps({ region: region.stringValue, zones: undefined }));
    });
    expect(one(r, 'google_storage_bucket', 'Artifacts').location).toBe('${var.region}');
    expect(one(r, 'google_compute_region_instance_group_manager', 'SpotGroup').region).toBe('${var.region}');
    expect(one(r, 'google_compute_region_instance_group_manager', 'SpotGroup').distribution_policy_zones).toBeUndefined();
    expect(one(r, 'google_compute_region_autoscaler', 'SpotAutoscaler').region).toBe('${var.region}');
  });
});

describe('GcpSpotFleet: without load balancer, agent options, autoscaling metrics', () => {
  const startup = (r: Record<string, Record<string, any>>) => one(r, 'google_compute_region_instance_template', 'SpotTemplate').metadata['startup-script'] as string;
  const agentConfig = (r: Record<string, Record<string, any>>) =>
    JSON.parse(startup(r).split("<<'SPOT_AGENT_CONFIG'\n")[1].split('\nSPOT_AGENT_CONFIG')[0]);

  test('loadBalanced: false: no firewall, no health check, no autohealing, CPU autoscaling, agent on loopback', () => {
    let fleet!: GcpSpotFleet;
    const { resources: r } = synth((scope) => {
      fleet = new GcpSpotFleet(scope, 'Fleet', fleetProps({ loadBalanced: false, agent: { drainMode: DrainMode.SIGNAL, pidFile: '/run/worker.pid', hookCommand: 'sync' } }));
    });
    expect(r.google_compute_firewall).toBeUndefined();
    expect(r.google_compute_health_check).toBeUndefined();
    for (const g of ['SpotGroup', 'OnDemandGroup']) {
      expect(one(r, 'google_compute_region_instance_group_manager', g).auto_healing_policies).toBeUndefined();
    }
    const policy = one(r, 'google_compute_region_autoscaler', 'SpotAutoscaler').autoscaling_policy;
    expect(policy.cpu_utilization).toEqual({ target: 0.8 });
    expect(policy.load_balancing_utilization).toBeUndefined();
    expect(agentConfig(r)).toMatchObject({
      drainMode: 'signal',
      pidFile: '/run/worker.pid',
      hookCommand: 'sync',
      loadBalancerDetectionSeconds: 0,
      healthHost: '127.0.0.1',
    });
    expect(fleet.loadBalanced).toBe(false);
    expect(fleet.autohealing).toBe(false);
    expect(fleet.hasHealthCheck).toBe(false);
    expect(() => fleet.healthCheck).toThrow(/has no health check: loadBalanced and autohealing are false.*set loadBalanced: true/);
    expect(() => fleet.firewall).toThrow(/has no firewall rule: loadBalanced and autohealing are false/);
  });

  test('loadBalanced: false with autohealing: health checkers reach the health port only, the agent listens on all addresses', () => {
    const { resources: r } = synth((scope) => new GcpSpotFleet(scope, 'Fleet', fleetProps({ loadBalanced: false, autohealing: true })));
    const fw = one(r, 'google_compute_firewall', 'AllowHealthCheckers');
    expect(fw).toMatchObject({ name: 'llm-allow-hc', source_ranges: GOOGLE_LOAD_BALANCER_RANGES, allow: [{ protocol: 'tcp', ports: ['9901'] }] });
    expect(one(r, 'google_compute_region_instance_group_manager', 'SpotGroup').auto_healing_policies).toMatchObject({ initial_delay_sec: 300 });
    expect(agentConfig(r).healthHost).toBeUndefined();
    expect(agentConfig(r).loadBalancerDetectionSeconds).toBe(0);
  });

  test('the default fleet is unchanged: load-balanced, DrainMode.HEALTH, detection = interval x threshold', () => {
    const { resources: r } = synth((scope) => new GcpSpotFleet(scope, 'Fleet', fleetProps()));
    expect(agentConfig(r)).toMatchObject({ drainMode: 'health', healthPort: 9901, loadBalancerDetectionSeconds: 20 });
    expect(agentConfig(r).healthHost).toBeUndefined();
  });

  test('agent: DrainMode.HTTP probes the serving port; agent.healthPort moves the agent endpoint', () => {
    const { resources: r } = synth((scope) =>
      new GcpSpotFleet(scope, 'Fleet', fleetProps({ agent: { drainMode: DrainMode.HTTP, drainUrl: 'http://127.0.0.1:8080/admin/drain', healthPort: 9300 } })));
    expect(one(r, 'google_compute_health_check', 'HealthCheck').http_health_check.port).toBe(8080);
    expect(agentConfig(r)).toMatchObject({ drainMode: 'http', drainUrl: 'http://127.0.0.1:8080/admin/drain', healthPort: 9300, loadBalancerDetectionSeconds: 0 });
  });

  test('autoscalingMetrics replace utilization: a Pub/Sub backlog with one assignment per VM', () => {
    const { resources: r } = synth((scope) =>
      new GcpSpotFleet(scope, 'Fleet', fleetProps({
        loadBalanced: false,
        autoscalingMetrics: [{ name: 'pubsub.googleapis.com/subscription/num_undelivered_messages', filter: 'resource.labels.subscription_id = "w"', singleInstanceAssignment: 4 }],
      })));
    const scaler = one(r, 'google_compute_region_autoscaler', 'SpotAutoscaler');
    expect(scaler.autoscaling_policy.metric).toEqual([
      { name: 'pubsub.googleapis.com/subscription/num_undelivered_messages', filter: 'resource.labels.subscription_id = "w"', single_instance_assignment: 4 },
    ]);
    expect(scaler.autoscaling_policy.cpu_utilization).toBeUndefined();
    expect(one(r, 'google_compute_region_instance_group_manager', 'SpotGroup').lifecycle.ignore_changes).toEqual(['target_size']);
  });

  test('a per-VM metric target defaults to GAUGE', () => {
    const { resources: r } = synth((scope) =>
      new GcpSpotFleet(scope, 'Fleet', fleetProps({ autoscalingMetrics: [{ name: 'custom.googleapis.com/inflight', target: 3 }] })));
    expect(one(r, 'google_compute_region_autoscaler', 'SpotAutoscaler').autoscaling_policy.metric).toEqual([
      { name: 'custom.googleapis.com/inflight', target: 3, type: 'GAUGE' },
    ]);
  });

  test('bad combinations fail together, naming prop, value and fix', () => {
    const fails = (o: Parameters<typeof fleetProps>[0]) => () => synth((scope) => new GcpSpotFleet(scope, 'Fleet', fleetProps(o)));
    expect(fails({ loadBalanced: false, healthCheck: { port: 9000 } })).toThrow(
      /healthCheck.port \(9000\) has no effect: loadBalanced is false and autohealing is off, so nothing probes the VMs; leave healthCheck.port out, set autohealing: true/,
    );
    expect(fails({ loadBalanced: false, autohealing: true, healthCheck: { port: 9000 } })).not.toThrow();
    expect(fails({ loadBalanced: false, agent: { drainMode: DrainMode.HEALTH } })).toThrow(/agent.drainMode is DrainMode.HEALTH but loadBalanced is false.*use DrainMode.SIGNAL/);
    expect(fails({ agent: { drainMode: DrainMode.SIGNAL } })).toThrow(/agent.drainMode is DrainMode.SIGNAL but agent.pidFile is not set/);
    expect(fails({ agent: { pidFile: '/run/x.pid' } })).toThrow(/agent.pidFile and agent.drainSignal are used only with DrainMode.SIGNAL, but agent.drainMode is health/);
    expect(fails({ agent: { drainUrl: 'http://127.0.0.1:1/d' } })).toThrow(/agent.drainUrl \("http:\/\/127.0.0.1:1\/d"\) is used only with DrainMode.HTTP/);
    expect(fails({ agent: { healthPort: 8080 } })).toThrow(/agent.healthPort \(8080\) is the serving port/);
    expect(fails({ agent: { healthPort: 70000 } })).toThrow(/agent.healthPort \(70000\) must be between 1 and 65535/);
    expect(fails({ agent: { healthPort: 9300 }, healthCheck: { port: 9400 } })).toThrow(/healthCheck.port \(9400\) is not the agent's health port \(9300\)/);
    expect(fails({ autoscaling: false, autoscalingMetrics: [{ name: 'm', target: 1 }] })).toThrow(/autoscalingMetrics is set but autoscaling is false/);
    expect(fails({ autoscalingMetrics: [{ name: 'm' }] })).toThrow(/autoscalingMetrics\[0\] \(m\) needs exactly one of singleInstanceAssignment .* it has neither/);
    expect(fails({ autoscalingMetrics: [{ name: 'm', target: 0 }] })).toThrow(/autoscalingMetrics\[0\].target \(0\) must be above 0/);
    let error: FleetSpecError | undefined;
    try {
      synth((scope) => new GcpSpotFleet(scope, 'Fleet', fleetProps({ minCapacity: 9, loadBalanced: false, healthCheck: { port: 9000 } })));
    } catch (e) {
      error = e as FleetSpecError;
    }
    expect(error).toBeInstanceOf(FleetSpecError);
    expect(error!.problems.map((p) => p.prop)).toContain('healthCheck.port');
    expect(error!.problems.length).toBeGreaterThanOrEqual(2);
  });
});
