import { createHash } from 'node:crypto';
import { ComputeRegionAutoscaler } from '@cdktf/provider-google/lib/compute-region-autoscaler';
import { DataGoogleProject } from '@cdktf/provider-google/lib/data-google-project';
import { PubsubSubscription } from '@cdktf/provider-google/lib/pubsub-subscription';
import { PubsubSubscriptionIamMember } from '@cdktf/provider-google/lib/pubsub-subscription-iam-member';
import { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic';
import { PubsubTopicIamMember } from '@cdktf/provider-google/lib/pubsub-topic-iam-member';
import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member';
import { Token } from 'cdktf';
import { Construct } from 'constructs';
import { queueTimingProblems } from '../../lib/runtime/worker/timing';
import { backlogPerInstanceTarget, QueueWorkloadSpec } from '../../lib/spec/queue-workload';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { WorkloadKind } from '../../lib/spec/fleet-spec';
import { withCurrentOptionNames } from '../../lib/spec/option-aliases';
import { GcpSpotFleet, GcpSpotFleetProps } from './spot-fleet';

/** Pub/Sub limits used by the validation. */
const ACK_DEADLINE_MIN = 10;
const ACK_DEADLINE_MAX = 600;
const DELIVERY_ATTEMPTS_MIN = 5;
const DELIVERY_ATTEMPTS_MAX = 100;
const RETENTION_MIN = 600;
const RETENTION_MAX = 604_800;
/** The Pub/Sub metric the autoscaler scales on. */
export const PUBSUB_UNDELIVERED_METRIC = 'pubsub.googleapis.com/subscription/num_undelivered_messages';
/** Where the fleet writes the worker's environment on each VM. */
export const GCP_QUEUE_WORKER_ENV_FILE = '/etc/queue-worker.env';

/**
 * Props of {@link GcpQueueWorkerFleet}: the {@link GcpSpotFleet} props (capacity, machine types, zones, image)
 * plus the subscription, the checkpoint bucket and the scaling target. Workers need no load balancer: the
 * fleet is built with `loadBalanced: false` and its autoscaler follows the Pub/Sub backlog
 * (`autoscalingMetrics`), so `loadBalanced`, `autoscaling`, `autoscalingMetrics` and `targetUtilization` are
 * refused here. `agent` passes through (e.g. `DrainMode.SIGNAL` with the worker's `pidFile`).
 */
export interface GcpQueueWorkerFleetProps extends GcpSpotFleetProps, QueueWorkloadSpec {
  /**
   * Ack deadline of the subscription, 10-600 s. Must cover `messageProcessingSeconds` unless
   * `extendsAckDeadline` is set.
   * @default - 1.5 x messageProcessingSeconds, within 10-600 s (600 s when it is a token)
   */
  readonly ackDeadlineSeconds?: number;
  /**
   * Whether the worker extends the ack deadline while it works (`QueueWorker` with `PubSubWorkQueue` does;
   * so do the Pub/Sub client libraries' lease management). Needed for jobs longer than 400 s.
   * @default false
   */
  readonly extendsAckDeadline?: boolean;
  /**
   * Deliveries of a message before Pub/Sub forwards it to the dead-letter topic, 5-100. A preempted worker's
   * message is delivered again, so leave room for a few preemptions besides real failures.
   * @default 5
   */
  readonly maxDeliveryAttempts?: number;
  /** How long the subscription keeps unacknowledged messages, 600-604800 s. @default 604800 (7 days) */
  readonly messageRetentionSeconds?: number;
  /**
   * Cloud KMS key of the topics and the checkpoint bucket (`projects/.../cryptoKeys/...`).
   * @default - Google-managed encryption
   */
  readonly kmsKeyName?: string;
  /**
   * Project number, for the Pub/Sub service agent (`service-<number>@gcp-sa-pubsub...`) that forwards
   * dead letters.
   * @default - read with a `google_project` data source
   */
  readonly projectNumber?: string;
  /** Keep old versions of checkpoint objects. @default false */
  readonly checkpointVersioning?: boolean;
  /** Days after which checkpoint objects are deleted. @default 30 */
  readonly checkpointRetentionDays?: number;
  /**
   * Keep autohealing on (the VMs must answer the fleet's health check through the agent, on
   * `healthCheck.path` of `servingPort`). Workers usually serve no HTTP, so it is off and the firewall rule
   * for Google's health checkers is not created: nothing reaches the workers.
   * @default false
   */
  readonly autohealing?: boolean;
}

/**
 * Queue-driven inference on spot on Google Cloud: a Pub/Sub topic and pull subscription (ack deadline sized
 * to the job, retry backoff, dead-letter topic after `maxDeliveryAttempts`, never expires), a
 * {@link GcpSpotFleet} of workers with no firewall opening, an autoscaler on
 * `pubsub.googleapis.com/subscription/num_undelivered_messages` with a per-VM assignment
 * (`singleInstanceAssignment`), and a private GCS bucket for checkpoints. The workers' service account may
 * consume this subscription and use this bucket, nothing else.
 */
export class GcpQueueWorkerFleet extends Construct {
  /** Topic producers publish to. */
  public readonly topic: PubsubTopic;
  /** The workers' pull subscription. */
  public readonly subscription: PubsubSubscription;
  /** Topic of messages that failed `maxDeliveryAttempts` times. */
  public readonly deadLetterTopic: PubsubTopic;
  /** Subscription that keeps dead letters for inspection. */
  public readonly deadLetterSubscription: PubsubSubscription;
  /** Bucket of checkpoints. */
  public readonly checkpointBucket: StorageBucket;
  /** The spot fleet of workers. */
  public readonly fleet: GcpSpotFleet;
  /** Autoscaler of the spot group on undelivered messages, when the spot group may grow. */
  public readonly autoscaler?: ComputeRegionAutoscaler;
  /** Undelivered messages one VM is assigned. */
  public readonly targetBacklogPerInstance: number;
  /** Ack deadline of the subscription. */
  public readonly ackDeadlineSeconds: number;
  /** Deliveries before a message is dead-lettered. */
  public readonly maxDeliveryAttempts: number;
  /** Full name of the subscription (`projects/<p>/subscriptions/<name>`), as the worker runtime takes it. */
  public readonly subscriptionPath: string;

  constructor(scope: Construct, id: string, given: GcpQueueWorkerFleetProps) {
    super(scope, id);
    // One spelling per option (namePrefix, bootCommands, agent.bundlePath); both spellings of one are refused.
    const current = withCurrentOptionNames(given);
    const aliasProblems = new ProblemCollector();
    aliasProblems.addAll(current.problems);
    aliasProblems.throwIfAny(this.node.path);
    const props = current.props;
    const { ack, attempts, retention, target, days } = resolveQueueSettings(props, this.node.path);

    this.ackDeadlineSeconds = ack;
    this.maxDeliveryAttempts = attempts;
    this.targetBacklogPerInstance = target;
    const name = props.namePrefix ?? id.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 20).replace(/-+$/, '');
    const project = props.project;
    const labels = { ...(props.labels ?? {}), 'spot-fleet': name };

    // --- Pub/Sub: topic, dead-letter topic, subscriptions ---
    this.topic = new PubsubTopic(this, 'Topic', { project, name: `${name}-work`, kmsKeyName: props.kmsKeyName, labels });
    this.deadLetterTopic = new PubsubTopic(this, 'DeadLetterTopic', { project, name: `${name}-dead-letter`, kmsKeyName: props.kmsKeyName, labels });
    this.deadLetterSubscription = new PubsubSubscription(this, 'DeadLetterSubscription', {
      project,
      name: `${name}-dead-letter`,
      topic: this.deadLetterTopic.id,
      messageRetentionDuration: `${RETENTION_MAX}s`,
      ackDeadlineSeconds: ACK_DEADLINE_MAX,
      expirationPolicy: { ttl: '' },
      labels,
    });
    const subscriptionName = `${name}-workers`;
    this.subscription = new PubsubSubscription(this, 'Subscription', {
      project,
      name: subscriptionName,
      topic: this.topic.id,
      ackDeadlineSeconds: ack,
      messageRetentionDuration: `${retention}s`,
      retryPolicy: { minimumBackoff: '10s', maximumBackoff: '600s' },
      deadLetterPolicy: { deadLetterTopic: this.deadLetterTopic.id, maxDeliveryAttempts: attempts },
      // A subscription without activity expires after 31 days by default; a work queue must not.
      expirationPolicy: { ttl: '' },
      labels,
    });
    this.subscriptionPath = `projects/${project}/subscriptions/${subscriptionName}`;

    // The Pub/Sub service agent forwards dead letters: publisher on the dead-letter topic, subscriber on the source.
    const projectNumber = props.projectNumber ?? new DataGoogleProject(this, 'Project', { projectId: project }).number;
    const pubsubAgent = `serviceAccount:service-${projectNumber}@gcp-sa-pubsub.iam.gserviceaccount.com`;
    new PubsubTopicIamMember(this, 'DeadLetterPublisher', { project, topic: this.deadLetterTopic.name, role: 'roles/pubsub.publisher', member: pubsubAgent });
    new PubsubSubscriptionIamMember(this, 'DeadLetterSourceSubscriber', { project, subscription: this.subscription.name, role: 'roles/pubsub.subscriber', member: pubsubAgent });

    // --- checkpoints: private bucket, uniform access, public access prevented, old checkpoints deleted ---
    const hash = createHash('sha256').update(`${Token.isUnresolved(project) ? this.node.path : project}/${name}`).digest('hex').slice(0, 8);
    this.checkpointBucket = new StorageBucket(this, 'Checkpoints', {
      project,
      name: `${name}-checkpoints-${hash}`,
      location: Token.isUnresolved(props.region) ? props.region : props.region.toUpperCase(),
      uniformBucketLevelAccess: true,
      publicAccessPrevention: 'enforced',
      versioning: { enabled: props.checkpointVersioning ?? false },
      encryption: props.kmsKeyName ? { defaultKmsKeyName: props.kmsKeyName } : undefined,
      lifecycleRule: [{ action: { type: 'Delete' }, condition: { age: days } }],
      forceDestroy: false,
      labels,
    });

    // --- workers ---
    const env = [
      `SPOT_PUBSUB_SUBSCRIPTION=${this.subscriptionPath}`,
      `SPOT_QUEUE_VISIBILITY_TIMEOUT_SECONDS=${ack}`,
      `SPOT_CHECKPOINT_BUCKET=${this.checkpointBucket.name}`,
      'SPOT_CHECKPOINT_PREFIX=checkpoints/',
    ];
    const bootCommands = [
      `cat > ${GCP_QUEUE_WORKER_ENV_FILE} <<'QUEUE_WORKER_ENV'`,
      ...env,
      'QUEUE_WORKER_ENV',
      ...(props.bootCommands ?? []),
    ];
    this.fleet = new GcpSpotFleet(this, 'Fleet', {
      ...props,
      namePrefix: name,
      workload: WorkloadKind.QUEUE_WORKER,
      deregistrationDelaySeconds: props.deregistrationDelaySeconds ?? 0,
      bootCommands,
      // No load balancer: no firewall opening; autohealing only when asked (the VMs must then answer the check).
      loadBalanced: false,
      autohealing: props.autohealing ?? false,
      // The fleet's autoscaler follows the subscription's undelivered messages, one assignment per VM.
      autoscaling: true,
      autoscalingMetrics: [
        {
          name: PUBSUB_UNDELIVERED_METRIC,
          filter: `resource.type = pubsub_subscription AND resource.labels.subscription_id = "${subscriptionName}"`,
          singleInstanceAssignment: this.targetBacklogPerInstance,
        },
      ],
    });
    this.autoscaler = this.fleet.autoscaler;

    // Least privilege: consume this subscription, read/write this bucket.
    const member = this.fleet.serviceAccount.member;
    new PubsubSubscriptionIamMember(this, 'WorkersSubscribe', { project, subscription: this.subscription.name, role: 'roles/pubsub.subscriber', member });
    new StorageBucketIamMember(this, 'WorkersCheckpoints', { bucket: this.checkpointBucket.name, role: 'roles/storage.objectAdmin', member });
  }

  /** Email of the workers' service account (grant it what the model needs, e.g. read on the weights). */
  public get serviceAccountEmail(): string {
    return this.fleet.serviceAccount.email;
  }
}

/** The queue's settings with defaults filled in, after the queue rules (Pub/Sub limits, timing, backlog target). */
interface QueueSettings {
  readonly ack: number;
  readonly attempts: number;
  readonly retention: number;
  readonly target: number;
  readonly days: number;
}

/** Validate the queue props (every problem at once) and fill the defaults. */
function resolveQueueSettings(props: GcpQueueWorkerFleetProps, scope: string): QueueSettings {
    const known = (x: unknown): x is number => typeof x === 'number' && !Token.isUnresolved(x);
    const C = FleetSpecErrorCode;
    const v = new ProblemCollector();
    const processing = props.messageProcessingSeconds;
    const latency = props.acceptableLatencySeconds;
    const parallel = props.messagesInParallel ?? 1;
    const attempts = props.maxDeliveryAttempts ?? 5;
    const retention = props.messageRetentionSeconds ?? RETENTION_MAX;
    const explicitAck = props.ackDeadlineSeconds !== undefined;
    const ack = explicitAck
      ? props.ackDeadlineSeconds!
      : known(processing)
        ? Math.min(ACK_DEADLINE_MAX, Math.max(ACK_DEADLINE_MIN, Math.ceil(processing * 1.5)))
        : ACK_DEADLINE_MAX;

    if (props.workload !== undefined && props.workload !== WorkloadKind.QUEUE_WORKER) {
      v.add(C.WORKLOAD_KIND, 'workload', `workload (${props.workload}) must be WorkloadKind.QUEUE_WORKER (or left out) for a GcpQueueWorkerFleet; use GcpSpotInferenceService for an online fleet behind a load balancer`);
    }
    if (known(ack) && !(ack >= ACK_DEADLINE_MIN && ack <= ACK_DEADLINE_MAX)) {
      v.add(C.QUEUE_LIMITS, 'ackDeadlineSeconds', `ackDeadlineSeconds (${ack} s) must be between ${ACK_DEADLINE_MIN} and ${ACK_DEADLINE_MAX} s (the Pub/Sub limits); for longer jobs set extendsAckDeadline: true and extend the deadline while working`);
    } else if (!explicitAck && known(processing) && processing * 1.5 > ACK_DEADLINE_MAX && !props.extendsAckDeadline) {
      v.add(C.QUEUE_TIMING, 'messageProcessingSeconds', `messageProcessingSeconds (${processing} s) is too long for a Pub/Sub ack deadline (at most ${ACK_DEADLINE_MAX} s with a 1.5x margin): set extendsAckDeadline: true and extend the deadline while working (QueueWorker with PubSubWorkQueue does), or split the work into shorter messages`);
    } else if (known(ack) && known(processing)) {
      v.addAll(queueTimingProblems({
        visibilityTimeoutSeconds: ack,
        expectedProcessingSeconds: processing,
        heartbeat: props.extendsAckDeadline ?? false,
        propNames: { visibilityTimeout: 'ackDeadlineSeconds', expectedProcessing: 'messageProcessingSeconds' },
      }));
    }
    const backlog = backlogPerInstanceTarget({
      acceptableLatencySeconds: latency,
      messageProcessingSeconds: processing,
      messagesInParallel: parallel,
      targetBacklogPerInstance: props.targetBacklogPerInstance,
      propNames: { acceptableLatency: 'acceptableLatencySeconds', messageProcessing: 'messageProcessingSeconds' },
      instanceNoun: 'VM',
      isUnresolved: Token.isUnresolved,
    });
    v.addAll(backlog.problems);
    const target = backlog.target;
    if (known(attempts) && !(Number.isInteger(attempts) && attempts >= DELIVERY_ATTEMPTS_MIN && attempts <= DELIVERY_ATTEMPTS_MAX)) {
      v.add(C.QUEUE_LIMITS, 'maxDeliveryAttempts', `maxDeliveryAttempts (${attempts}) must be a whole number from ${DELIVERY_ATTEMPTS_MIN} to ${DELIVERY_ATTEMPTS_MAX} (the Pub/Sub dead-letter limits): a message must not be redelivered forever; 5 is a good start`);
    }
    if (known(retention) && !(retention >= RETENTION_MIN && retention <= RETENTION_MAX)) {
      v.add(C.QUEUE_LIMITS, 'messageRetentionSeconds', `messageRetentionSeconds (${retention} s) must be from ${RETENTION_MIN} s to ${RETENTION_MAX} s (7 days)`);
    }
    for (const [prop, value] of [['loadBalanced', props.loadBalanced], ['autoscaling', props.autoscaling], ['autoscalingMetrics', props.autoscalingMetrics], ['targetUtilization', props.targetUtilization]] as const) {
      if (value !== undefined) {
        v.add(C.WORKLOAD_KIND, prop, `${prop} (${JSON.stringify(value)}) cannot be set on a GcpQueueWorkerFleet: the workers have no load balancer and the fleet autoscales on the subscription's undelivered messages (targetBacklogPerInstance); leave ${prop} out, or use GcpSpotFleet directly`);
      }
    }
    const days = props.checkpointRetentionDays ?? 30;
    if (known(days) && !(Number.isInteger(days) && days >= 1)) {
      v.add(C.QUEUE_LIMITS, 'checkpointRetentionDays', `checkpointRetentionDays (${days}) must be a whole number of days, 1 or more (GCS lifecycle ages count whole days)`);
    }
    v.throwIfAny(scope);
    return { ack, attempts, retention, target: target!, days };
}
