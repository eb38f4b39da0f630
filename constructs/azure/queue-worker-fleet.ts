import { MonitorAutoscaleSettingProfile } from '@cdktf/provider-azurerm/lib/monitor-autoscale-setting';
import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment';
import { ServicebusNamespace } from '@cdktf/provider-azurerm/lib/servicebus-namespace';
import { ServicebusQueue } from '@cdktf/provider-azurerm/lib/servicebus-queue';
import { StorageAccount } from '@cdktf/provider-azurerm/lib/storage-account';
import { createCheckpointStorageAccount } from './checkpoint-storage';
import { StorageContainer } from '@cdktf/provider-azurerm/lib/storage-container';
import { StorageManagementPolicy } from '@cdktf/provider-azurerm/lib/storage-management-policy';
import { Token } from 'cdktf';
import { Construct } from 'constructs';
import { DrainMode } from '../../lib/runtime/agent-config';
import { queueTimingProblems } from '../../lib/runtime/worker/timing';
import { backlogPerInstanceTarget, QueueWorkloadSpec } from '../../lib/spec/queue-workload';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { WorkloadKind } from '../../lib/spec/fleet-spec';
import { withCurrentOptionNames } from '../../lib/spec/option-aliases';
import { azureName } from './network';
import { numberText, stableNameHash } from './tokens';
import { ScaleSetPlan } from './rules';
import { IScaleSetAutoscaleProfiles } from './scale-set';
import { AzureSpotFleet, AzureSpotFleetProps } from './spot-scale-set-fleet';

/** Service Bus limits used by the validation (Standard tier). */
const LOCK_MIN_SECONDS = 5;
const LOCK_MAX_SECONDS = 300;
const DELIVERY_COUNT_MAX = 2000;
/** Name of the work queue in the namespace. */
const QUEUE_NAME = 'work';
/** Where the fleet writes the worker's environment on each VM. */
export const AZURE_QUEUE_WORKER_ENV_FILE = '/etc/queue-worker.env';
/** Where the agent reads the worker's PID (it sends SIGTERM on a Preempt or Terminate notice). */
export const AZURE_QUEUE_WORKER_PID_FILE = '/run/queue-worker.pid';
/** The Service Bus metric the scale sets autoscale on (namespace metric, split by `EntityName`). */
export const SERVICE_BUS_ACTIVE_MESSAGES_METRIC = 'ActiveMessages';

/**
 * Props of {@link AzureQueueWorkerFleet}: the {@link AzureSpotFleet} props (capacity, VM sizes, zones,
 * image) plus the Service Bus queue, the checkpoint container and the scaling target. The workers have no
 * load balancer (`loadBalanced: false`) and autoscale on the queue (`autoscaleProfileFactory`), so the
 * load-balancer and CPU-autoscale props are refused here; the agent signals the worker (DrainMode.SIGNAL).
 */
export interface AzureQueueWorkerFleetProps extends AzureSpotFleetProps, QueueWorkloadSpec {
  /**
   * Peek-lock duration of the queue, 5-300 s (Service Bus limit). Must cover `messageProcessingSeconds`
   * unless `renewsLock` is set.
   * @default - 1.5 x messageProcessingSeconds, within 5-300 s (300 s when it is a token)
   */
  readonly lockDurationSeconds?: number;
  /**
   * Whether the worker renews the message lock while it works (`QueueWorker` with `ServiceBusWorkQueue` does).
   * Needed for jobs longer than 200 s.
   * @default false
   */
  readonly renewsLock?: boolean;
  /**
   * Deliveries of a message before Service Bus dead-letters it, 2-2000. An evicted worker's message is
   * delivered again, so leave room for a few evictions besides real failures.
   * @default 5
   */
  readonly maxDeliveryCount?: number;
  /** Time to live of a message, ISO 8601; expired messages are dead-lettered. @default 'P14D' */
  readonly messageTimeToLive?: string;
  /** Name of the Service Bus namespace (globally unique). @default - `<prefix>-sb-<hash>` */
  readonly serviceBusNamespaceName?: string;
  /** Name of the checkpoint storage account (globally unique, 3-24 lower-case letters and digits). @default - `ckpt<hash>` */
  readonly checkpointStorageAccountName?: string;
  /** Days after which checkpoint blobs are deleted. @default 30 */
  readonly checkpointRetentionDays?: number;
  /**
   * Keep the Application Health extension and automatic instance repairs (the VMs must then answer
   * `healthCheck.path` on `servingPort`). Workers usually serve no HTTP, so both are off.
   * @default false
   */
  readonly autohealing?: boolean;
  /** Minutes between scale-out actions. @default 5 */
  readonly scaleOutCooldownMinutes?: number;
  /** Minutes between scale-in actions. @default 10 */
  readonly scaleInCooldownMinutes?: number;
}

/**
 * Queue-driven inference on Azure Spot: a Service Bus namespace (Standard, local auth off, TLS 1.2) and
 * queue (peek-lock duration sized to the job, dead-lettering after `maxDeliveryCount` and on expiry), a
 * {@link AzureSpotFleet} of workers whose autoscale setting follows the queue's `ActiveMessages`
 * (dimension `EntityName` = the queue) per VM instead of CPU, and a private Blob container for checkpoints.
 * The workers' identity may receive from this queue and read/write this container, nothing else.
 *
 * Scaling per scale set: grow by `ceil(backlog / target)`-style steps when active messages per VM exceed the
 * target, start one VM when messages wait and none runs (no division by zero at 0 VMs: that rule uses the
 * undivided count with `ExactCount`), shrink by one when the backlog per VM falls under half the target.
 */
export class AzureQueueWorkerFleet extends Construct {
  /** The Service Bus namespace. */
  public readonly namespace: ServicebusNamespace;
  /** The work queue. */
  public readonly queue: ServicebusQueue;
  /** Storage account of the checkpoints. */
  public readonly checkpointAccount: StorageAccount;
  /** Private container of the checkpoints. */
  public readonly checkpointContainer: StorageContainer;
  /** The spot fleet of workers. */
  public readonly fleet: AzureSpotFleet;
  /** Active messages per VM the fleet keeps. */
  public readonly targetBacklogPerInstance: number;
  /** Peek-lock duration, in seconds. */
  public readonly lockDurationSeconds: number;
  /** Deliveries before a message is dead-lettered. */
  public readonly maxDeliveryCount: number;

  constructor(scope: Construct, id: string, given: AzureQueueWorkerFleetProps) {
    super(scope, id);
    // One spelling per option (bootCommands, agent.bundlePath); both spellings of one are refused.
    const current = withCurrentOptionNames(given);
    const aliasProblems = new ProblemCollector();
    aliasProblems.addAll(current.problems);
    aliasProblems.throwIfAny(this.node.path);
    const props = current.props;
    const r = this.validate(props);
    this.lockDurationSeconds = r.lock;
    this.maxDeliveryCount = r.deliveries;
    this.targetBacklogPerInstance = r.target;
    const prefix = props.namePrefix ?? azureName(id);
    const common = { resourceGroupName: props.resourceGroupName, location: props.location, tags: props.tags };
    const hash = stableNameHash(this, [props.resourceGroupName, props.location]).slice(0, 10);
    const namespaceName = props.serviceBusNamespaceName ?? `${prefix}-sb-${hash}`.slice(0, 50);
    this.namespace = this.createNamespace(common, namespaceName);
    this.queue = this.createQueue(props, r);
    this.checkpointAccount = this.createCheckpointAccount(props, common, hash);
    this.checkpointContainer = this.createCheckpointContainer(r.days);
    this.fleet = this.createWorkers(props, prefix, namespaceName);
    this.grantWorkers();
  }

  /** Principal id of the workers' identity (grant it what the model needs). */
  public get grantPrincipalId(): string {
    return this.fleet.grantPrincipalId;
  }

  /** The queue fleet's own rules (lock, deliveries, backlog target, props the fleet owns); tokens are skipped. */
  private validate(props: AzureQueueWorkerFleetProps): { lock: number; deliveries: number; target: number; days: number } {
    const known = (x: unknown): x is number => typeof x === 'number' && !Token.isUnresolved(x);
    const C = FleetSpecErrorCode;
    const v = new ProblemCollector();
    const processing = props.messageProcessingSeconds;
    const latency = props.acceptableLatencySeconds;
    const parallel = props.messagesInParallel ?? 1;
    const deliveries = props.maxDeliveryCount ?? 5;
    const days = props.checkpointRetentionDays ?? 30;
    const explicitLock = props.lockDurationSeconds !== undefined;
    const lock = explicitLock
      ? props.lockDurationSeconds!
      : known(processing)
        ? Math.min(LOCK_MAX_SECONDS, Math.max(30, Math.ceil(processing * 1.5)))
        : LOCK_MAX_SECONDS;

    if (props.workload !== undefined && props.workload !== WorkloadKind.QUEUE_WORKER) {
      v.add(C.WORKLOAD_KIND, 'workload', `workload (${props.workload}) must be WorkloadKind.QUEUE_WORKER (or left out) for an AzureQueueWorkerFleet; use AzureSpotFleet for an online fleet behind a load balancer`);
    }
    if (known(lock) && !(Number.isInteger(lock) && lock >= LOCK_MIN_SECONDS && lock <= LOCK_MAX_SECONDS)) {
      v.add(C.QUEUE_LIMITS, 'lockDurationSeconds', `lockDurationSeconds (${lock} s) must be a whole number from ${LOCK_MIN_SECONDS} to ${LOCK_MAX_SECONDS} s (the Service Bus limit, PT5M); for longer jobs set renewsLock: true and renew the lock while working`);
    } else if (!explicitLock && known(processing) && processing * 1.5 > LOCK_MAX_SECONDS && !props.renewsLock) {
      v.add(C.QUEUE_TIMING, 'messageProcessingSeconds', `messageProcessingSeconds (${processing} s) is too long for a Service Bus lock (at most ${LOCK_MAX_SECONDS} s with a 1.5x margin): set renewsLock: true and renew the lock while working (QueueWorker with ServiceBusWorkQueue does), or split the work into shorter messages`);
    } else if (known(lock) && known(processing)) {
      v.addAll(queueTimingProblems({
        visibilityTimeoutSeconds: lock,
        expectedProcessingSeconds: processing,
        heartbeat: props.renewsLock ?? false,
        propNames: { visibilityTimeout: 'lockDurationSeconds', expectedProcessing: 'messageProcessingSeconds' },
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
    if (known(deliveries) && !(Number.isInteger(deliveries) && deliveries >= 2 && deliveries <= DELIVERY_COUNT_MAX)) {
      v.add(C.QUEUE_LIMITS, 'maxDeliveryCount', `maxDeliveryCount (${deliveries}) must be a whole number from 2 to ${DELIVERY_COUNT_MAX}: a message must not be redelivered forever, and an eviction that abandons a message counts as a delivery; 5 is a good start`);
    }
    if (props.messageTimeToLive !== undefined && !Token.isUnresolved(props.messageTimeToLive) && !/^P(?!$)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$/.test(props.messageTimeToLive)) {
      v.add(C.QUEUE_LIMITS, 'messageTimeToLive', `messageTimeToLive ("${props.messageTimeToLive}") must be an ISO 8601 duration such as "P14D" or "PT12H"`);
    }
    if (known(days) && !(Number.isInteger(days) && days >= 1)) {
      v.add(C.QUEUE_LIMITS, 'checkpointRetentionDays', `checkpointRetentionDays (${days}) must be a whole number of days, 1 or more`);
    }
    const fleetOwned: [string, unknown][] = [
      ['loadBalanced', props.loadBalanced],
      ['internalLoadBalancer', props.internalLoadBalancer],
      ['allowedClientCidrs', props.allowedClientCidrs],
      ['listenerPort', props.listenerPort],
      ['autoscaleProfileFactory', props.autoscaleProfileFactory],
      ['scaleOutCpuPercent', props.scaleOutCpuPercent],
      ['scaleInCpuPercent', props.scaleInCpuPercent],
    ];
    for (const [prop, value] of fleetOwned) {
      if (value !== undefined) {
        v.add(C.WORKLOAD_KIND, prop, `${prop} cannot be set on an AzureQueueWorkerFleet: the workers have no load balancer (nothing reaches them) and autoscale on the queue's active messages (targetBacklogPerInstance); leave ${prop} out, or use AzureSpotFleet directly`);
      }
    }
    // The backlog rules compute with the capacity: a scale-out step of a quarter of maxCapacity, and max(1, minCapacity)
    // VMs for the first-VM rule. A deploy-time value cannot enter that arithmetic.
    for (const [prop, use] of [['maxCapacity', 'its scale-out step is ceil(maxCapacity / 4) VMs'], ['minCapacity', 'its first-VM rule starts max(1, minCapacity) VMs']] as const) {
      if (Token.isUnresolved(props[prop])) {
        v.add(C.QUEUE_SCALING_TARGET, prop, `${prop} is a deploy-time value (a Terraform variable or another token), but an AzureQueueWorkerFleet computes with it (${use}); give ${prop} as a number`);
      }
    }
    for (const [prop, value] of [['agent.drainMode', props.agent?.drainMode], ['agent.pidFile', props.agent?.pidFile]] as const) {
      if (value !== undefined) {
        v.add(C.WORKLOAD_KIND, prop, `${prop} cannot be set on an AzureQueueWorkerFleet: the agent sends SIGTERM to the worker whose PID is in ${AZURE_QUEUE_WORKER_PID_FILE} (SPOT_WORKER_PID_FILE); leave ${prop} out`);
      }
    }
    v.throwIfAny(this.node.path);
    return { lock, deliveries, target: target!, days };
  }

  /** Service Bus: Entra ID only, TLS 1.2. */
  private createNamespace(common: CommonProps, namespaceName: string): ServicebusNamespace {
    return new ServicebusNamespace(this, 'Namespace', {
      ...common,
      name: namespaceName,
      sku: 'Standard',
      localAuthEnabled: false,
      minimumTlsVersion: '1.2',
    });
  }

  /** The work queue: the lock sized to the job, dead letters after maxDeliveryCount and on expiry. */
  private createQueue(props: AzureQueueWorkerFleetProps, r: { lock: number; deliveries: number }): ServicebusQueue {
    return new ServicebusQueue(this, 'Queue', {
      name: QUEUE_NAME,
      namespaceId: this.namespace.id,
      lockDuration: `PT${numberText(r.lock)}S`,
      maxDeliveryCount: r.deliveries,
      deadLetteringOnMessageExpiration: true,
      defaultMessageTtl: props.messageTimeToLive ?? 'P14D',
    });
  }

  /** Checkpoints: HTTPS only, TLS 1.2, no shared keys, no public blobs. */
  private createCheckpointAccount(props: AzureQueueWorkerFleetProps, common: CommonProps, hash: string): StorageAccount {
    return createCheckpointStorageAccount(this, 'CheckpointAccount', { ...common, name: props.checkpointStorageAccountName ?? `ckpt${hash}` });
  }

  /** The private checkpoint container; checkpoints older than `days` are deleted. */
  private createCheckpointContainer(days: number): StorageContainer {
    const container = new StorageContainer(this, 'CheckpointContainer', {
      name: 'checkpoints',
      storageAccountId: this.checkpointAccount.id,
      containerAccessType: 'private',
    });
    new StorageManagementPolicy(this, 'CheckpointExpiry', {
      storageAccountId: this.checkpointAccount.id,
      rule: [{
        name: 'expire-checkpoints',
        enabled: true,
        filters: { blobTypes: ['blockBlob'], prefixMatch: ['checkpoints/'] },
        actions: { baseBlob: { deleteAfterDaysSinceModificationGreaterThan: days } },
      }],
    });
    return container;
  }

  /** The workers: the agent signals the worker (SIGTERM via its PID file) on a Preempt or Terminate notice. */
  private createWorkers(props: AzureQueueWorkerFleetProps, prefix: string, namespaceName: string): AzureSpotFleet {
    const env = [
      `SPOT_SERVICE_BUS_NAMESPACE=${namespaceName}.servicebus.windows.net`,
      `SPOT_SERVICE_BUS_QUEUE=${QUEUE_NAME}`,
      `SPOT_QUEUE_VISIBILITY_TIMEOUT_SECONDS=${numberText(this.lockDurationSeconds)}`,
      `SPOT_CHECKPOINT_ACCOUNT_URL=${this.checkpointAccount.primaryBlobEndpoint}`,
      `SPOT_CHECKPOINT_CONTAINER=${this.checkpointContainer.name}`,
      `SPOT_WORKER_PID_FILE=${AZURE_QUEUE_WORKER_PID_FILE}`,
    ];
    const bootCommands = [
      `cat > ${AZURE_QUEUE_WORKER_ENV_FILE} <<'QUEUE_WORKER_ENV'`,
      ...env,
      'QUEUE_WORKER_ENV',
      ...(props.bootCommands ?? []),
    ];
    return new AzureSpotFleet(this, 'Fleet', {
      ...props,
      namePrefix: prefix,
      workload: WorkloadKind.QUEUE_WORKER,
      deregistrationDelaySeconds: props.deregistrationDelaySeconds ?? 0,
      // Nothing calls the workers: no load balancer, an NSG that admits nothing; no health extension and
      // no repairs unless asked (the workers would have to answer healthCheck.path on servingPort).
      loadBalanced: false,
      autohealing: props.autohealing ?? false,
      // The agent sends SIGTERM to the worker (its PID file) on a Preempt or Terminate notice.
      agent: { ...props.agent, drainMode: DrainMode.SIGNAL, pidFile: AZURE_QUEUE_WORKER_PID_FILE, drainSignal: props.agent?.drainSignal ?? 'SIGTERM' },
      autoscaleProfileFactory: new QueueBacklogProfiles({
        namespaceId: this.namespace.id,
        queueName: QUEUE_NAME,
        targetBacklogPerInstance: this.targetBacklogPerInstance,
        outCooldown: `PT${numberText(props.scaleOutCooldownMinutes ?? 5)}M`,
        inCooldown: `PT${numberText(props.scaleInCooldownMinutes ?? 10)}M`,
      }),
      bootCommands,
    });
  }

  /** Least privilege: the workers receive from this queue and read/write blobs of this container, nothing else. */
  private grantWorkers(): void {
    const principalId = this.fleet.identity.principalId;
    new RoleAssignment(this, 'WorkersReceive', { scope: this.queue.id, roleDefinitionName: 'Azure Service Bus Data Receiver', principalId, principalType: 'ServicePrincipal' });
    new RoleAssignment(this, 'WorkersCheckpoints', { scope: this.checkpointContainer.id, roleDefinitionName: 'Storage Blob Data Contributor', principalId, principalType: 'ServicePrincipal' });
  }
}

/** Where the queue fleet's resources go. */
interface CommonProps {
  readonly resourceGroupName: string;
  readonly location: string;
  readonly tags?: { [key: string]: string };
}

/** Inputs of {@link QueueBacklogProfiles}. */
interface QueueBacklogProfilesOptions {
  readonly namespaceId: string;
  readonly queueName: string;
  readonly targetBacklogPerInstance: number;
  readonly outCooldown: string;
  readonly inCooldown: string;
}

/** Autoscale on the queue's active messages per VM (dimension `EntityName` = the queue) instead of CPU. */
class QueueBacklogProfiles implements IScaleSetAutoscaleProfiles {
  constructor(private readonly o: QueueBacklogProfilesOptions) {}

  public profilesFor(plan: ScaleSetPlan, scaleSetCount: number): MonitorAutoscaleSettingProfile[] {
    // Each scale set sees the whole queue: its per-VM target is the fleet's times the number of sets.
    const perSetTarget = this.o.targetBacklogPerInstance * scaleSetCount;
    const metric = {
      metricName: SERVICE_BUS_ACTIVE_MESSAGES_METRIC,
      metricNamespace: 'microsoft.servicebus/namespaces',
      metricResourceId: this.o.namespaceId,
      dimensions: [{ name: 'EntityName', operator: 'Equals', values: [this.o.queueName] }],
      timeGrain: 'PT1M',
      statistic: 'Average',
      timeWindow: 'PT5M',
      timeAggregation: 'Average',
    };
    const outStep = Math.max(1, Math.ceil(plan.maxCapacity / 4));
    return [{
      name: 'queue-backlog',
      capacity: { minimum: plan.minCapacity, maximum: plan.maxCapacity, default: plan.desiredCapacity },
      rule: [
        {
          // Backlog per VM above the target: add a quarter of the maximum at once.
          metricTrigger: { ...metric, divideByInstanceCount: true, operator: 'GreaterThan', threshold: perSetTarget },
          scaleAction: { direction: 'Increase', type: 'ChangeCount', value: outStep, cooldown: this.o.outCooldown },
        },
        {
          // Messages wait and no VM runs: the per-VM rule cannot divide by 0, this one starts the first VM.
          metricTrigger: { ...metric, operator: 'GreaterThan', threshold: 0 },
          scaleAction: { direction: 'Increase', type: 'ExactCount', value: Math.max(1, plan.minCapacity), cooldown: this.o.outCooldown },
        },
        {
          // Backlog per VM under half the target: remove one VM (the agent hands its messages back first).
          metricTrigger: { ...metric, divideByInstanceCount: true, operator: 'LessThan', threshold: perSetTarget / 2 },
          scaleAction: { direction: 'Decrease', type: 'ChangeCount', value: 1, cooldown: this.o.inCooldown },
        },
      ],
    }];
  }
}
