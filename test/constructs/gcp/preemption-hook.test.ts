import 'cdktf/lib/testing/adapters/jest';
import { App, Testing, TerraformStack } from 'cdktf';
import { CloudRunV2ServiceIamMember } from '@cdktf/provider-google/lib/cloud-run-v2-service-iam-member';
import { Cloudfunctions2Function } from '@cdktf/provider-google/lib/cloudfunctions2-function';
import { LoggingProjectSink } from '@cdktf/provider-google/lib/logging-project-sink';
import { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic';
import { PubsubTopicIamMember } from '@cdktf/provider-google/lib/pubsub-topic-iam-member';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { StorageBucketObject } from '@cdktf/provider-google/lib/storage-bucket-object';
import { GcpPreemptionHook, GcpSpotFleet, InstanceTerminationAction, PREEMPTION_METRIC_TYPE } from '../../../constructs/gcp';
import { ensureBundles, fleetProps, one, synth } from './helpers';

Testing.setupJest();
beforeAll(ensureBundles);

describe('GcpPreemptionHook', () => {
  const { json, resources } = synth((scope) => {
    const fleet = new GcpSpotFleet(scope, 'Fleet', fleetProps({ terminationAction: InstanceTerminationAction.STOP }));
    new GcpPreemptionHook(scope, 'Hook', { fleet, topicKmsKeyName: 'projects/p/locations/us-central1/keyRings/r/cryptoKeys/k' });
  });

  test('Pub/Sub topic, encrypted with the given key', () => {
    expect(json).toHaveResourceWithProperties(PubsubTopic, {
      name: 'llm-preemptions',
      project: 'test-project',
      message_retention_duration: '86400s',
      kms_key_name: 'projects/p/locations/us-central1/keyRings/r/cryptoKeys/k',
    });
  });

  test('logging sink: preemptions of this fleet\'s spot VMs (and its fallback\'s spare VMs) only, into the topic, own writer identity', () => {
    expect(json).toHaveResourceWithProperties(LoggingProjectSink, {
      name: 'llm-preempted',
      unique_writer_identity: true,
      filter:
        'logName="projects/test-project/logs/cloudaudit.googleapis.com%2Fsystem_event" AND resource.type="gce_instance" AND protoPayload.methodName="compute.instances.preempted" AND protoPayload.resourceName:("/instances/llm-spot-" OR "/instances/llm-spare-")',
    });
    expect(one(resources, 'google_logging_project_sink', 'Sink').destination).toMatch(/^pubsub\.googleapis\.com\/\$\{google_pubsub_topic\.Hook_Topic_\w+\.id\}$/);
  });

  test('the sink may publish to this topic only', () => {
    expect(json).toHaveResourceWithProperties(PubsubTopicIamMember, { role: 'roles/pubsub.publisher' });
    const m = one(resources, 'google_pubsub_topic_iam_member', 'SinkPublish');
    expect(m.topic).toMatch(/Hook_Topic_\w+\.name\}$/);
    expect(m.member).toMatch(/google_logging_project_sink\.Hook_Sink_\w+\.writer_identity\}$/);
  });

  test('Cloud Function 2nd gen: Node.js 22, bundled code from the bucket, Pub/Sub trigger, own identities', () => {
    expect(json).toHaveResourceWithProperties(Cloudfunctions2Function, {
      name: 'llm-preemption',
      location: 'us-central1',
      build_config: expect.objectContaining({ runtime: 'nodejs22', entry_point: 'handlePreemption' }),
      event_trigger: expect.objectContaining({
        trigger_region: 'us-central1',
        event_type: 'google.cloud.pubsub.topic.v1.messagePublished',
        retry_policy: 'RETRY_POLICY_RETRY',
      }),
      service_config: expect.objectContaining({
        available_memory: '256M',
        timeout_seconds: 60,
        max_instance_count: 5,
        ingress_settings: 'ALLOW_INTERNAL_ONLY',
        environment_variables: expect.objectContaining({
          FLEET_NAME: 'llm',
          GCP_PROJECT: 'test-project',
          INSTANCE_NAME_PREFIX: 'llm-spot-',
          TERMINATION_ACTION: 'STOP',
          METRIC_TYPE: PREEMPTION_METRIC_TYPE,
        }),
      }),
    });
    const fn = one(resources, 'google_cloudfunctions2_function', 'Function');
    expect(fn.build_config.source.storage_source.bucket).toMatch(/Fleet_Artifacts_\w+\.name\}$/);
    expect(fn.build_config.source.storage_source.object).toMatch(/Hook_FunctionSource_\w+\.name\}$/);
    expect(fn.event_trigger.pubsub_topic).toMatch(/Hook_Topic_\w+\.id\}$/);
    expect(fn.event_trigger.service_account_email).toMatch(/Hook_TriggerServiceAccount_\w+\.email\}$/);
    expect(fn.service_config.service_account_email).toMatch(/Hook_FunctionServiceAccount_\w+\.email\}$/);
  });

  test('function code ships as a Terraform asset archive in the artifact bucket', () => {
    expect(json).toHaveResourceWithProperties(StorageBucketObject, { content_type: 'application/zip' });
    const src = one(resources, 'google_storage_bucket_object', 'FunctionSource');
    expect(src.name).toMatch(/^preemption-function-[0-9a-f]{16}\.zip$/i);
    expect(src.source).toMatch(/^assets\/Hook_FunctionCode_\w+\/[0-9A-F]+\/[0-9a-f]{32}\.zip$/);
  });

  test('least privilege: metric writer for the function, run.invoker on this function for the trigger', () => {
    expect(json).toHaveResourceWithProperties(ServiceAccount, { account_id: 'llm-fn' });
    expect(json).toHaveResourceWithProperties(ServiceAccount, { account_id: 'llm-trigger' });
    const hookRoles = Object.entries(resources.google_project_iam_member)
      .filter(([k]) => k.startsWith('Hook_'))
      .map(([, v]: [string, any]) => v.role);
    expect(hookRoles).toEqual(['roles/monitoring.metricWriter']);
    expect(json).toHaveResourceWithProperties(CloudRunV2ServiceIamMember, { role: 'roles/run.invoker', location: 'us-central1' });
    const inv = one(resources, 'google_cloud_run_v2_service_iam_member', 'TriggerInvoke');
    expect(inv.name).toMatch(/google_cloudfunctions2_function\.Hook_Function_\w+\.service_config\[0\]\.service\}$/);
    expect(inv.member).toMatch(/Hook_TriggerServiceAccount_\w+\.member\}$/);
  });

  test('bad options and a missing bundle fail at construction', () => {
    const stack = new TerraformStack(new App(), 'stack');
    const fleet = new GcpSpotFleet(stack, 'Fleet', fleetProps());
    expect(() => new GcpPreemptionHook(stack, 'Hook', { fleet, functionMaxInstances: 0 })).toThrow(
      /^stack\/Hook: functionMaxInstances \(0\) must be a whole number from 1 to 1000; use e.g. 5 \[GCP_FUNCTION\]$/,
    );
    expect(() => new GcpPreemptionHook(stack, 'Hook2', { fleet, functionBundleDir: '/nonexistent/preemption' })).toThrow(
      /bundle "\/nonexistent\/preemption\/index.js" not found .*run `npm run build:handlers` first so that synth can ship it, or fix functionBundleDir/,
    );
  });
});
