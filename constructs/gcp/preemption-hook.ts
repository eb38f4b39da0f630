import { AssetType, TerraformAsset, Token } from 'cdktf';
import { Construct } from 'constructs';
import { Cloudfunctions2Function } from '@cdktf/provider-google/lib/cloudfunctions2-function';
import { CloudRunV2ServiceIamMember } from '@cdktf/provider-google/lib/cloud-run-v2-service-iam-member';
import { LoggingProjectSink } from '@cdktf/provider-google/lib/logging-project-sink';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member';
import { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic';
import { PubsubTopicIamMember } from '@cdktf/provider-google/lib/pubsub-topic-iam-member';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { StorageBucketObject } from '@cdktf/provider-google/lib/storage-bucket-object';
import { dirname } from 'node:path';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec';
import { locateBundle } from './bundles';
import { zipDirectoryToFile } from './zip';
import { IGcpSpotFleet } from './fleet-interface';
import { spareInstanceNamePrefix } from './spare-names';

/** Metric the preemption function writes one point to per preempted VM. */
export const PREEMPTION_METRIC_TYPE = 'custom.googleapis.com/spot_inference/preemptions';

/** Options of {@link GcpPreemptionHook} that the pattern construct passes through. */
export interface GcpPreemptionHookOptions {
  /** Cloud KMS key that encrypts the Pub/Sub topic (CMEK). @default - Google-managed encryption */
  readonly topicKmsKeyName?: string;
  /** Most function instances running at once. @default 5 */
  readonly functionMaxInstances?: number;
  /** Path of the bundled function directory. @default - dist/handlers/gcp/preemption from `npm run build:handlers` */
  readonly functionBundleDir?: string;
}

/** Props of {@link GcpPreemptionHook}. */
export interface GcpPreemptionHookProps extends GcpPreemptionHookOptions {
  /**
   * The fleet whose spot VMs are watched: a `GcpSpotFleet`, or groups created elsewhere
   * (`GcpSpotFleet.fromInstanceGroupManagers`, with `artifactBucketName` for the function's code).
   */
  readonly fleet: IGcpSpotFleet;
}

/**
 * What the cloud side does when Google preempts one of the fleet's spot VMs: a logging sink picks the audit
 * log entry `compute.instances.preempted` of this fleet's VMs into a Pub/Sub topic, and a Cloud Function
 * (2nd gen, Node.js 22, code bundled at build time and shipped as a Terraform asset) records the event as a
 * structured log line and a Cloud Monitoring metric point, labelled with the fleet and zone. The spare spot VMs of the
 * fleet's `GcpOnDemandFallback` (`<fleet>-spare-...`) are watched too.
 */
export class GcpPreemptionHook extends Construct {
  /** Topic the sink publishes preemption log entries to. */
  public readonly topic: PubsubTopic;
  /** Sink that routes this fleet's preemption audit logs. */
  public readonly sink: LoggingProjectSink;
  /** The Cloud Function that handles them. */
  public readonly function: Cloudfunctions2Function;
  /** Identity of the function. */
  public readonly functionServiceAccount: ServiceAccount;
  /** Identity Eventarc invokes the function with. */
  public readonly triggerServiceAccount: ServiceAccount;
  /** The filter of the sink: the preemptions of the fleet's spot VMs and of its fallback controller's spare VMs. */
  public readonly logFilter: string;

  constructor(scope: Construct, id: string, props: GcpPreemptionHookProps) {
    super(scope, id);
    const { fleet } = props;
    const name = fleet.fleetName;
    const maxInstances = props.functionMaxInstances ?? 5;
    const v = new ProblemCollector();
    if (!Token.isUnresolved(maxInstances) && !(Number.isInteger(maxInstances) && maxInstances >= 1 && maxInstances <= 1000)) {
      v.add(FleetSpecErrorCode.GCP_FUNCTION, 'functionMaxInstances', `functionMaxInstances (${maxInstances}) must be a whole number from 1 to 1000; use e.g. 5`);
    }
    if (fleet.artifactBucketName === undefined) {
      v.add(FleetSpecErrorCode.GCP_FUNCTION, 'fleet', `fleet ${fleet.fleetName} has no artifact bucket for the preemption function's code; import it with artifactBucketName (a private bucket in ${fleet.project})`);
    }
    v.throwIfAny(this.node.path);

    this.topic = new PubsubTopic(this, 'Topic', {
      project: fleet.project,
      name: `${name}-preemptions`,
      messageRetentionDuration: '86400s',
      kmsKeyName: props.topicKmsKeyName,
      labels: { 'spot-fleet': name },
    });
    this.logFilter = [
      `logName="projects/${fleet.project}/logs/cloudaudit.googleapis.com%2Fsystem_event"`,
      'resource.type="gce_instance"',
      'protoPayload.methodName="compute.instances.preempted"',
      // The fleet's spot VMs and the fallback controller's spare spot VMs (`<fleet>-spare-<zone>-...`, GcpOnDemandFallback's
      // zonal spare groups): a preempted spare is a preemption of its pool like any other. Parenthesized, as the
      // Logging query language's `field:("a" OR "b")` form (cloud.google.com/logging/docs/view/logging-query-language).
      `protoPayload.resourceName:("/instances/${fleet.spotInstanceNamePrefix}-" OR "/instances/${spareInstanceNamePrefix(fleet.fleetName)}")`,
    ].join(' AND ');
    this.sink = new LoggingProjectSink(this, 'Sink', {
      project: fleet.project,
      name: `${name}-preempted`,
      destination: `pubsub.googleapis.com/${this.topic.id}`,
      filter: this.logFilter,
      uniqueWriterIdentity: true,
      description: `spot fleet ${name}: preemptions of its spot VMs`,
    });
    new PubsubTopicIamMember(this, 'SinkPublish', {
      project: fleet.project,
      topic: this.topic.name,
      role: 'roles/pubsub.publisher',
      member: this.sink.writerIdentity,
    });

    this.functionServiceAccount = new ServiceAccount(this, 'FunctionServiceAccount', {
      project: fleet.project,
      accountId: `${name}-fn`,
      displayName: `spot fleet ${name}: preemption function`,
      description: 'Runs the preemption function: writes its logs and the preemption metric.',
    });
    new ProjectIamMember(this, 'FunctionMetricWriter', {
      project: fleet.project,
      role: 'roles/monitoring.metricWriter',
      member: this.functionServiceAccount.member,
    });
    this.triggerServiceAccount = new ServiceAccount(this, 'TriggerServiceAccount', {
      project: fleet.project,
      accountId: `${name}-trigger`,
      displayName: `spot fleet ${name}: preemption trigger`,
      description: 'Eventarc delivers preemption messages to the function as this account (run.invoker on it only).',
    });

    const bundleDir = dirname(
      locateBundle('handlers/gcp/preemption/index.js', 'functionBundleDir', props.functionBundleDir ? `${props.functionBundleDir}/index.js` : undefined),
    );
    // Zipped in-process (deterministic); cdktf's AssetType.ARCHIVE would spawn a node process per synth.
    const archive = new TerraformAsset(this, 'FunctionCode', { path: zipDirectoryToFile(bundleDir), type: AssetType.FILE });
    const source = new StorageBucketObject(this, 'FunctionSource', {
      bucket: fleet.artifactBucketName!,
      name: `preemption-function-${archive.assetHash.slice(0, 16)}.zip`,
      source: archive.path,
      contentType: 'application/zip',
    });

    this.function = new Cloudfunctions2Function(this, 'Function', {
      project: fleet.project,
      location: fleet.region,
      name: `${name}-preemption`,
      description: `spot fleet ${name}: records spot preemptions`,
      labels: { 'spot-fleet': name },
      buildConfig: {
        runtime: 'nodejs22',
        entryPoint: 'handlePreemption',
        source: { storageSource: { bucket: fleet.artifactBucketName!, object: source.name } },
      },
      serviceConfig: {
        serviceAccountEmail: this.functionServiceAccount.email,
        availableMemory: '256M',
        timeoutSeconds: 60,
        maxInstanceCount: maxInstances,
        ingressSettings: 'ALLOW_INTERNAL_ONLY',
        allTrafficOnLatestRevision: true,
        environmentVariables: {
          FLEET_NAME: name,
          GCP_PROJECT: fleet.project,
          FLEET_REGION: fleet.region,
          INSTANCE_NAME_PREFIX: `${fleet.spotInstanceNamePrefix}-`,
          SPARE_INSTANCE_NAME_PREFIX: spareInstanceNamePrefix(fleet.fleetName),
          SPOT_GROUP: fleet.spotGroupName,
          TERMINATION_ACTION: fleet.terminationAction,
          METRIC_TYPE: PREEMPTION_METRIC_TYPE,
        },
      },
      eventTrigger: {
        triggerRegion: fleet.region,
        eventType: 'google.cloud.pubsub.topic.v1.messagePublished',
        pubsubTopic: this.topic.id,
        retryPolicy: 'RETRY_POLICY_RETRY',
        serviceAccountEmail: this.triggerServiceAccount.email,
      },
    });
    new CloudRunV2ServiceIamMember(this, 'TriggerInvoke', {
      project: fleet.project,
      location: fleet.region,
      name: this.function.serviceConfig.service,
      role: 'roles/run.invoker',
      member: this.triggerServiceAccount.member,
    });
  }
}
