import 'cdktf/lib/testing/adapters/jest';
import { ComputeRegionAutoscaler } from '@cdktf/provider-google/lib/compute-region-autoscaler';
import { PubsubSubscription } from '@cdktf/provider-google/lib/pubsub-subscription';
import { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic';
import { PubsubTopicIamMember } from '@cdktf/provider-google/lib/pubsub-topic-iam-member';
import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member';
import { Testing } from 'cdktf';
import { GcpQueueWorkerFleet, GcpQueueWorkerFleetProps, PUBSUB_UNDELIVERED_METRIC } from '../../../constructs/gcp';
import { DrainMode } from '../../../lib/runtime/agent-config';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';
import { ensureBundles, fleetProps, ofType, one, synth } from './helpers';

Testing.setupJest();
beforeAll(ensureBundles);

function props(overrides: Partial<GcpQueueWorkerFleetProps> = {}): GcpQueueWorkerFleetProps {
  return {
    ...fleetProps({ name: 'embed', minCapacity: 0, desiredCapacity: 0, maxCapacity: 10, onDemandBaseCapacity: 0 }),
    messageProcessingSeconds: 60,
    acceptableLatencySeconds: 300,
    ...overrides,
  };
}

function workers(overrides: Partial<GcpQueueWorkerFleetProps> = {}) {
  let fleet: GcpQueueWorkerFleet | undefined;
  const out = synth((scope) => {
    fleet = new GcpQueueWorkerFleet(scope, 'Workers', props(overrides));
  });
  return { ...out, fleet: fleet! };
}

describe('GcpQueueWorkerFleet Pub/Sub', () => {
  const { json, resources } = workers();

  test('work topic and pull subscription: ack deadline 1.5x the job, backoff, dead letters after 5 deliveries, never expires', () => {
    expect(json).toHaveResourceWithProperties(PubsubTopic, { name: 'embed-work', project: 'test-project' });
    const sub = one(resources, 'google_pubsub_subscription', 'Workers_Subscription_');
    expect(sub).toMatchObject({
      name: 'embed-workers',
      ack_deadline_seconds: 90,
      message_retention_duration: '604800s',
      retry_policy: { minimum_backoff: '10s', maximum_backoff: '600s' },
      dead_letter_policy: { max_delivery_attempts: 5 },
      expiration_policy: { ttl: '' },
    });
    expect(sub.topic).toMatch(/google_pubsub_topic\.Workers_Topic_[0-9A-F]+\.id/);
    expect(sub.dead_letter_policy.dead_letter_topic).toMatch(/google_pubsub_topic\.Workers_DeadLetterTopic_[0-9A-F]+\.id/);
    expect(sub.push_config).toBeUndefined();
  });

  test('dead letters are kept in their own subscription for inspection', () => {
    expect(json).toHaveResourceWithProperties(PubsubTopic, { name: 'embed-dead-letter' });
    expect(json).toHaveResourceWithProperties(PubsubSubscription, { name: 'embed-dead-letter', message_retention_duration: '604800s', expiration_policy: { ttl: '' } });
  });

  test('the Pub/Sub service agent may publish dead letters and acknowledge them on the source', () => {
    const pub = ofType(resources, 'google_pubsub_topic_iam_member');
    expect(pub).toHaveLength(1);
    expect(pub[0]).toMatchObject({ role: 'roles/pubsub.publisher' });
    expect(pub[0].member).toMatch(/^serviceAccount:service-\$\{data\.google_project\.Workers_Project_[0-9A-F]+\.number\}@gcp-sa-pubsub\.iam\.gserviceaccount\.com$/);
    expect(pub[0].topic).toMatch(/Workers_DeadLetterTopic_[0-9A-F]+\.name/);
    const subs = ofType(resources, 'google_pubsub_subscription_iam_member');
    const agentSub = subs.find((s) => s.member.includes('gcp-sa-pubsub'));
    expect(agentSub).toMatchObject({ role: 'roles/pubsub.subscriber' });
    expect(agentSub.subscription).toMatch(/Workers_Subscription_[0-9A-F]+\.name/);
  });

  test('a given project number skips the data source', () => {
    const { json: j } = workers({ projectNumber: '123456789' });
    expect(JSON.parse(j).data).toBeUndefined();
    expect(j).toHaveResourceWithProperties(PubsubTopicIamMember, { member: 'serviceAccount:service-123456789@gcp-sa-pubsub.iam.gserviceaccount.com' });
  });
});

describe('GcpQueueWorkerFleet workers', () => {
  const { json, resources, fleet } = workers();

  test('the worker service account subscribes to this subscription only and uses this bucket only', () => {
    const sa = fleet.fleet.serviceAccount.member;
    expect(sa).toBeDefined();
    const workerSubs = ofType(resources, 'google_pubsub_subscription_iam_member').filter((s) => !s.member.includes('gcp-sa-pubsub'));
    expect(workerSubs).toHaveLength(1);
    expect(workerSubs[0].role).toBe('roles/pubsub.subscriber');
    expect(workerSubs[0].subscription).toMatch(/Workers_Subscription_[0-9A-F]+\.name/);
    expect(workerSubs[0].member).toMatch(/google_service_account\.Workers_Fleet_ServiceAccount_[0-9A-F]+\.member/);
    expect(json).toHaveResourceWithProperties(StorageBucketIamMember, { role: 'roles/storage.objectAdmin' });
    const objectAdmin = ofType(resources, 'google_storage_bucket_iam_member').filter((m) => m.role === 'roles/storage.objectAdmin');
    expect(objectAdmin).toHaveLength(1);
    expect(objectAdmin[0].bucket).toMatch(/Workers_Checkpoints_[0-9A-F]+\.name/);
    // No project-wide Pub/Sub or Storage role.
    const projectRoles = ofType(resources, 'google_project_iam_member').map((m) => m.role);
    expect(projectRoles.filter((r: string) => /pubsub|storage/.test(r))).toEqual([]);
  });

  test('no firewall opening and no autohealing probe on workers', () => {
    const fw = ofType(resources, 'google_compute_firewall');
    expect(fw.every((f) => f.count === 0)).toBe(true);
    // The fleet is built with loadBalanced: false: no rule at all, no health check, agent endpoint on loopback.
    expect(fw).toHaveLength(0);
    expect(ofType(resources, 'google_compute_health_check')).toHaveLength(0);
    expect(fleet.fleet.loadBalanced).toBe(false);
    expect(fleet.fleet.hasFirewall).toBe(false);
    const script = one(resources, 'google_compute_region_instance_template', 'SpotTemplate').metadata['startup-script'];
    expect(script).toContain('"healthHost": "127.0.0.1"');
    expect(script).toContain('"loadBalancerDetectionSeconds": 0');
    for (const g of ofType(resources, 'google_compute_region_instance_group_manager')) {
      expect(g.auto_healing_policies).toBeUndefined();
    }
  });

  test('autohealing: true keeps the probe and the health-checker firewall rule', () => {
    const { resources: r } = workers({ autohealing: true });
    expect(ofType(r, 'google_compute_firewall')[0].count).toBeUndefined();
    expect(one(r, 'google_compute_region_instance_group_manager', 'SpotGroup').auto_healing_policies).toBeDefined();
    // Health checkers only, on the agent's health port only: no load balancer sends traffic to the workers.
    expect(ofType(r, 'google_compute_firewall')).toHaveLength(1);
    expect(ofType(r, 'google_compute_firewall')[0].allow).toEqual([{ protocol: 'tcp', ports: ['9901'] }]);
  });

  test('spot VMs, no external IP, shielded VM, the environment file in the startup script', () => {
    const tmpl = one(resources, 'google_compute_region_instance_template', 'SpotTemplate');
    expect(tmpl.scheduling.provisioning_model).toBe('SPOT');
    expect(tmpl.network_interface[0].access_config).toBeUndefined();
    expect(tmpl.shielded_instance_config).toMatchObject({ enable_vtpm: true, enable_integrity_monitoring: true, enable_secure_boot: true });
    const script: string = tmpl.metadata['startup-script'];
    expect(script).toContain("cat > /etc/queue-worker.env <<'QUEUE_WORKER_ENV'");
    expect(script).toContain('SPOT_PUBSUB_SUBSCRIPTION=projects/test-project/subscriptions/embed-workers');
    expect(script).toContain('SPOT_QUEUE_VISIBILITY_TIMEOUT_SECONDS=90');
    expect(script).toMatch(/SPOT_CHECKPOINT_BUCKET=\$\{google_storage_bucket\.Workers_Checkpoints_[0-9A-F]+\.name\}/);
  });

  test('checkpoint bucket: uniform access, public access prevented, old checkpoints deleted', () => {
    expect(json).toHaveResourceWithProperties(StorageBucket, {
      location: 'US-CENTRAL1',
      uniform_bucket_level_access: true,
      public_access_prevention: 'enforced',
      versioning: { enabled: false },
      lifecycle_rule: [{ action: { type: 'Delete' }, condition: { age: 30 } }],
    });
    const { json: j } = workers({ checkpointVersioning: true, kmsKeyName: 'projects/p/locations/us-central1/keyRings/r/cryptoKeys/k', checkpointRetentionDays: 7 });
    expect(j).toHaveResourceWithProperties(StorageBucket, {
      versioning: { enabled: true },
      encryption: { default_kms_key_name: 'projects/p/locations/us-central1/keyRings/r/cryptoKeys/k' },
      lifecycle_rule: [{ action: { type: 'Delete' }, condition: { age: 7 } }],
    });
    expect(j).toHaveResourceWithProperties(PubsubTopic, { name: 'embed-work', kms_key_name: 'projects/p/locations/us-central1/keyRings/r/cryptoKeys/k' });
  });
});

describe('GcpQueueWorkerFleet autoscaling on undelivered messages per VM', () => {
  const { json, resources, fleet } = workers({ messagesInParallel: 2 });

  test('one autoscaler on the spot group: num_undelivered_messages of this subscription, single-instance assignment', () => {
    const scalers = ofType(resources, 'google_compute_region_autoscaler');
    expect(scalers).toHaveLength(1);
    const policy = scalers[0].autoscaling_policy;
    expect(scalers[0].target).toMatch(/Workers_Fleet_SpotGroup_[0-9A-F]+\.id/);
    expect(policy).toMatchObject({ min_replicas: 0, max_replicas: 10, mode: 'ON', cooldown_period: 300 });
    expect(policy.load_balancing_utilization).toBeUndefined();
    expect(policy.metric).toEqual([
      {
        name: PUBSUB_UNDELIVERED_METRIC,
        filter: 'resource.type = pubsub_subscription AND resource.labels.subscription_id = "embed-workers"',
        single_instance_assignment: 10,
      },
    ]);
    expect(policy.metric[0].target).toBeUndefined();
    // The fleet's own (single) autoscaler, following the Pub/Sub metric given as autoscalingMetrics.
    expect(json).toHaveResourceWithProperties(ComputeRegionAutoscaler, { name: 'embed-spot' });
    expect(fleet.autoscaler).toBe(fleet.fleet.autoscaler);
  });

  test('scaling math: VMs = ceil(undelivered / assignment), assignment = 300 s x 2 / 60 s = 10', () => {
    expect(fleet.targetBacklogPerInstance).toBe(10);
    const vms = (undelivered: number) => Math.min(10, Math.ceil(undelivered / fleet.targetBacklogPerInstance));
    expect(vms(0)).toBe(0);
    expect(vms(1)).toBe(1);
    expect(vms(95)).toBe(10);
    expect(vms(5000)).toBe(10);
  });

  test('the autoscaler owns the spot group size', () => {
    const group = one(resources, 'google_compute_region_instance_group_manager', 'SpotGroup');
    expect(group.lifecycle.ignore_changes).toEqual(['target_size']);
  });

  test('targetBacklogPerInstance overrides the derived assignment', () => {
    const { resources: r } = workers({ targetBacklogPerInstance: 3 });
    expect(ofType(r, 'google_compute_region_autoscaler')[0].autoscaling_policy.metric[0].single_instance_assignment).toBe(3);
  });

  test('no autoscaler when the fleet is all on-demand', () => {
    const { resources: r } = workers({ minCapacity: 2, desiredCapacity: 2, maxCapacity: 2, onDemandBaseCapacity: 2 });
    expect(ofType(r, 'google_compute_region_autoscaler')).toHaveLength(0);
  });
});

describe('GcpQueueWorkerFleet validation', () => {
  const fails = (overrides: Partial<GcpQueueWorkerFleetProps>) => () => workers(overrides);

  test('an ack deadline shorter than the job', () => {
    expect(fails({ ackDeadlineSeconds: 30 })).toThrow(
      /ackDeadlineSeconds \(30 s\) is shorter than the job's expected duration messageProcessingSeconds \(60 s\).*raise ackDeadlineSeconds to at least 90 s/,
    );
    expect(() => workers({ ackDeadlineSeconds: 30, extendsAckDeadline: true })).not.toThrow();
  });

  test('a job too long for any ack deadline without extensions', () => {
    expect(fails({ messageProcessingSeconds: 900, acceptableLatencySeconds: 3600 })).toThrow(
      /messageProcessingSeconds \(900 s\) is too long for a Pub\/Sub ack deadline \(at most 600 s.*set extendsAckDeadline: true/,
    );
    expect(fails({ ackDeadlineSeconds: 900 })).toThrow(/ackDeadlineSeconds \(900 s\) must be between 10 and 600 s/);
  });

  test('retrying forever: maxDeliveryAttempts out of range', () => {
    expect(fails({ maxDeliveryAttempts: 0 })).toThrow(/maxDeliveryAttempts \(0\) must be a whole number from 5 to 100 .*must not be redelivered forever/);
    expect(fails({ maxDeliveryAttempts: 101 })).toThrow(/maxDeliveryAttempts \(101\)/);
  });

  test('load balancing and the fleet autoscaler are the queue fleet\'s own: refused with the reason', () => {
    expect(fails({ loadBalanced: true })).toThrow(/loadBalanced \(true\) cannot be set on a GcpQueueWorkerFleet: the workers have no load balancer/);
    expect(fails({ autoscalingMetrics: [] })).toThrow(/autoscalingMetrics \(\[\]\) cannot be set on a GcpQueueWorkerFleet.*targetBacklogPerInstance/);
    expect(fails({ targetUtilization: 0.5 })).toThrow(/targetUtilization \(0.5\) cannot be set on a GcpQueueWorkerFleet/);
  });

  test('the agent options pass through: SIGTERM to the worker', () => {
    const { resources: r } = workers({ agent: { drainMode: DrainMode.SIGNAL, pidFile: '/run/queue-worker.pid' } });
    const script = one(r, 'google_compute_region_instance_template', 'SpotTemplate').metadata['startup-script'];
    expect(script).toContain('"drainMode": "signal"');
    expect(script).toContain('"pidFile": "/run/queue-worker.pid"');
  });

  test('a latency shorter than one message', () => {
    expect(fails({ acceptableLatencySeconds: 30 })).toThrow(/acceptable backlog per instance is 0.5 .*raise acceptableLatencySeconds to at least 60 s/);
  });

  test('every problem together, code WORKLOAD', () => {
    let error: FleetSpecError | undefined;
    try {
      workers({ messageRetentionSeconds: 60, maxDeliveryAttempts: 3, checkpointRetentionDays: 0, targetBacklogPerInstance: 0 });
    } catch (e) {
      error = e as FleetSpecError;
    }
    expect(error).toBeInstanceOf(FleetSpecError);
    expect(error!.family).toBe(FleetSpecErrorCode.WORKLOAD);
    expect(error!.problems.map((p) => p.prop)).toEqual(['targetBacklogPerInstance', 'maxDeliveryAttempts', 'messageRetentionSeconds', 'checkpointRetentionDays']);
    expect(error!.message).toMatch(/messageRetentionSeconds \(60 s\) must be from 600 s to 604800 s/);
  });
});
