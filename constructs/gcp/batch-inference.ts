import { Token, TerraformOutput } from 'cdktf';
import { Construct } from 'constructs';
import { ComputeInstanceTemplate } from '@cdktf/provider-google/lib/compute-instance-template';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member';
import { createHash } from 'node:crypto';
import { CHECKPOINT_PREFIX } from '../../lib/runtime/worker/checkpoint';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { checkInstanceTypeNames } from '../../lib/spec/rules';
import { resolveOptionAlias } from '../../lib/spec/option-aliases';
import { GCP_MACHINE_TYPE_CATALOG } from './machine-catalog';
import { GpuAttachment, gpuAttachmentOf, N1_ATTACHABLE_GPUS } from './machine-families';
import { checkGceName, checkTemplateNamePrefix } from './provider-rules';
import { GuestAcceleratorSpec } from './types';

/**
 * Exit code Cloud Batch gives a task whose VM was preempted (Cloud Batch troubleshooting, "reserved exit codes":
 * 50001 = VM preemption). The job's lifecycle policy retries it; the shard resumes from its checkpoint.
 */
export const BATCH_PREEMPTION_EXIT_CODE = 50001;
/** Prefix of output objects in the bucket (same contract as the AWS `BatchInference`). */
export const GCP_BATCH_OUTPUT_PREFIX = 'outputs/';
/** Prefix of checkpoint objects (expired by the bucket's lifecycle rule); the runtime's `CHECKPOINT_PREFIX`. */
export const GCP_BATCH_CHECKPOINT_PREFIX = CHECKPOINT_PREFIX;

/** Props of {@link GcpBatchInference}. */
export interface GcpBatchInferenceProps {
  /** Project the job runs in. */
  readonly project: string;
  /** Region of the job (`allocationPolicy.location`) and the bucket, e.g. `us-central1`. */
  readonly region: string;
  /**
   * Zones the job's VMs may use. Several zones let Cloud Batch place the Spot VMs wherever there is capacity.
   * @default - every zone of the region (`regions/<region>`)
   */
  readonly zones?: string[];
  /**
   * Prefix of every resource name (3-20 lower-case letters, digits, hyphens). The same prop on every cloud.
   * @default - the construct id, lower-cased
   */
  readonly namePrefix?: string;
  /**
   * @deprecated use `namePrefix` (one name on every cloud). Setting both is refused.
   * @default - the construct id, lower-cased
   */
  readonly name?: string;
  /** Machine type of the job's VMs, e.g. `g2-standard-8` (one L4). Checked against Google's families and shapes. */
  readonly machineType: string;
  /** GPUs attached through `guestAccelerator` (N1 machine types only; G2/A2/A3 have theirs built in). @default - none */
  readonly gpu?: GuestAcceleratorSpec;
  /** Container image every task runs (the worker runtime and the model code), e.g. `us-docker.pkg.dev/p/r/batch:1`. */
  readonly image: string;
  /** Command of the container (replaces the image's CMD). @default - the image's CMD */
  readonly command?: string[];
  /** Extra environment variables of every task (the construct adds the checkpoint contract's `SPOT_*`). @default - none */
  readonly environment?: { [key: string]: string };
  /**
   * Tasks (shards) per job: each gets `BATCH_TASK_INDEX` 0..n-1 and `BATCH_TASK_COUNT` from Cloud Batch, which the
   * runtime's `shardFromEnvironment()` reads. At least 1.
   */
  readonly taskCount: number;
  /** Tasks running at once. @default - Cloud Batch's default: all tasks */
  readonly parallelism?: number;
  /**
   * Retries per task, 1 to 10 (Cloud Batch's range is 0 to 10): every preemption uses one, so a task survives
   * this many preemptions. Real failures are not retried (see `failExitCodes`).
   * @default 5
   */
  readonly maxRetryCount?: number;
  /** Exit codes retried besides preemption (50001), e.g. your worker's "transient" code. @default - none */
  readonly retryExitCodes?: number[];
  /**
   * Exit codes that mean a real failure: `FAIL_TASK`, never retried (a bug would otherwise burn every retry).
   * @default [1]
   */
  readonly failExitCodes?: number[];
  /** Longest a task may run, in seconds (`maxRunDuration`). @default 86400 */
  readonly maxRunDurationSeconds?: number;
  /** vCPU thousandths one task needs (`computeResource.cpuMilli`). @default - Cloud Batch's default (2000) */
  readonly cpuMilli?: number;
  /** Memory one task needs, MiB (`computeResource.memoryMib`). @default - Cloud Batch's default (2000) */
  readonly memoryMib?: number;
  /** VPC network. @default 'default' */
  readonly network?: string;
  /**
   * Subnetwork. The VMs get no external IP: give it Private Google Access (Cloud Storage, Artifact Registry) and
   * Cloud NAT if the image is pulled from outside Google.
   * @default - the network's subnet in the region
   */
  readonly subnetwork?: string;
  /** Boot disk size in GB. @default 100 */
  readonly bootDiskSizeGb?: number;
  /**
   * Render the VMs as an instance template (declared here, SPOT scheduling, shielded VM, no external IP) that the
   * job references, instead of an `instances[].policy` in the job. The two are exclusive in Cloud Batch
   * (`InstancePolicyOrTemplate`); with the template, the provisioning model travels in the template.
   * @default false
   */
  readonly useInstanceTemplate?: boolean;
  /**
   * Boot image of the instance template (a Batch-supported image: Docker and the Batch agent preinstalled).
   * @default 'projects/batch-custom-image/global/images/family/batch-debian-11-official'
   */
  readonly templateSourceImage?: string;
  /** Days a checkpoint (`checkpoints/`) is kept after its last write, at least 1. @default 30 */
  readonly checkpointExpirationDays?: number;
  /** Name of the checkpoint and output bucket (globally unique). @default - `<name>-batch-<hash>` */
  readonly bucketName?: string;
  /** Labels on the bucket, the template and the job. @default - only `spot-batch: <name>` */
  readonly labels?: { [key: string]: string };
  /** Add Terraform outputs (the job definition JSON and the `gcloud batch jobs submit` command). @default true */
  readonly outputs?: boolean;
}

/**
 * Batch inference on Google Cloud Spot VMs with Cloud Batch. Cloud Batch jobs are submitted, not declared, so
 * this declares what a job needs and outputs the exact job definition:
 *
 * - a private bucket for checkpoints and outputs (uniform access, public access prevented, versioning with old
 *   versions expired, checkpoints expired after `checkpointExpirationDays`);
 * - a service account with least privilege: `roles/storage.objectAdmin` on that bucket only,
 *   `roles/logging.logWriter`, and `roles/batch.agentReporter` (Cloud Batch requires it of a job's VMs);
 * - the network (no external IP) and, with `useInstanceTemplate`, a SPOT instance template;
 * - the job definition JSON (`taskGroups[].taskSpec` with the container runnable, `maxRetryCount`,
 *   `lifecyclePolicies` that RETRY_TASK on exit code 50001 (VM preemption) and FAIL_TASK on real failures,
 *   `allocationPolicy` with `provisioningModel: SPOT`, `logsPolicy` CLOUD_LOGGING) and the
 *   `gcloud batch jobs submit` command, as Terraform outputs.
 *
 * Checkpoint contract (the same as AWS `BatchInference`): every task gets `SPOT_CHECKPOINT_BUCKET`,
 * `SPOT_CHECKPOINT_PREFIX` (`checkpoints/`), `SPOT_OUTPUT_PREFIX` (`outputs/`) and `SPOT_SHARD_COUNT`; Cloud Batch
 * adds `BATCH_TASK_INDEX` and `BATCH_TASK_COUNT`. The worker calls `shardFromEnvironment()` and `runShard()` with a
 * `GcsCheckpointStore`, so a task retried after a preemption resumes from its last checkpoint.
 */
export class GcpBatchInference extends Construct {
  /** Bucket of checkpoints and outputs. */
  public readonly bucket: StorageBucket;
  /** Identity of the job's VMs. */
  public readonly serviceAccount: ServiceAccount;
  /** The SPOT instance template, when `useInstanceTemplate` is set. */
  public readonly instanceTemplate?: ComputeInstanceTemplate;
  /** The job definition, as the `gcloud batch jobs submit --config` file takes it (values may hold tokens). */
  public readonly jobDefinition: { [key: string]: any };
  /** The job definition as JSON text (tokens resolve to Terraform references at synth). */
  public readonly jobDefinitionJson: string;
  /** Prefix of the resource names. */
  public readonly batchName: string;
  /** Project and region of the job. */
  public readonly project: string;
  public readonly region: string;

  constructor(scope: Construct, id: string, props: GcpBatchInferenceProps) {
    super(scope, id);
    const prefix = resolveOptionAlias({ name: 'namePrefix', value: props.namePrefix, deprecatedName: 'name', deprecatedValue: props.name });
    const aliasProblems = new ProblemCollector();
    aliasProblems.addAll(prefix.problems);
    aliasProblems.throwIfAny(this.node.path);
    const name = prefix.value ?? id.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 20).replace(/-+$/, '');
    this.batchName = name;
    this.project = props.project;
    this.region = props.region;
    const maxRetryCount = props.maxRetryCount ?? 5;
    const failExitCodes = props.failExitCodes ?? [1];
    const retryExitCodes = [BATCH_PREEMPTION_EXIT_CODE, ...(props.retryExitCodes ?? [])];
    const expirationDays = props.checkpointExpirationDays ?? 30;
    const maxRunDuration = props.maxRunDurationSeconds ?? 86400;
    const network = props.network ?? 'default';
    const labels = { ...(props.labels ?? {}), 'spot-batch': name };
    validate(props, { name, maxRetryCount, failExitCodes, retryExitCodes, expirationDays, maxRunDuration }, this.node.path);

    this.bucket = new StorageBucket(this, 'Bucket', {
      project: props.project,
      name: props.bucketName ?? `${name}-batch-${createHash('sha256').update(`${Token.isUnresolved(props.project) ? this.node.path : props.project}/${name}`).digest('hex').slice(0, 8)}`,
      location: Token.isUnresolved(props.region) ? props.region : props.region.toUpperCase(),
      uniformBucketLevelAccess: true,
      publicAccessPrevention: 'enforced',
      // Outputs are results: never deleted with the stack by accident.
      forceDestroy: false,
      versioning: { enabled: true },
      lifecycleRule: [
        // Checkpoints of finished or abandoned jobs.
        { action: { type: 'Delete' }, condition: { age: expirationDays, matchesPrefix: [GCP_BATCH_CHECKPOINT_PREFIX] } },
        // Every checkpoint write leaves a noncurrent version: keep them a day (recovery), then delete.
        { action: { type: 'Delete' }, condition: { daysSinceNoncurrentTime: 1, withState: 'ARCHIVED' } },
      ],
      labels,
    });

    this.serviceAccount = new ServiceAccount(this, 'ServiceAccount', {
      project: props.project,
      accountId: `${name}-batch`,
      displayName: `spot batch ${name}: job VMs`,
      description: 'Runs Cloud Batch inference tasks: reads and writes its own bucket, writes logs, reports to Cloud Batch.',
    });
    new StorageBucketIamMember(this, 'BucketAccess', {
      bucket: this.bucket.name,
      role: 'roles/storage.objectAdmin',
      member: this.serviceAccount.member,
    });
    // Cloud Batch's VMs report task state through the agent; the job's service account needs this role.
    for (const [rid, role] of [['LogWriter', 'roles/logging.logWriter'], ['AgentReporter', 'roles/batch.agentReporter']]) {
      new ProjectIamMember(this, rid, { project: props.project, role, member: this.serviceAccount.member });
    }

    const gpuAttached = props.gpu !== undefined && gpuAttachmentOf(props.machineType) === GpuAttachment.ATTACHABLE;
    const hasGpu = gpuAttached || gpuAttachmentOf(props.machineType) === GpuAttachment.BUILT_IN;
    if (props.useInstanceTemplate) {
      this.instanceTemplate = new ComputeInstanceTemplate(this, 'Template', {
        project: props.project,
        namePrefix: `${name}-batch-`,
        machineType: props.machineType,
        labels,
        metadata: { 'block-project-ssh-keys': 'TRUE', 'enable-oslogin': 'TRUE' },
        disk: [{
          boot: true,
          autoDelete: true,
          sourceImage: props.templateSourceImage ?? 'projects/batch-custom-image/global/images/family/batch-debian-11-official',
          diskSizeGb: props.bootDiskSizeGb ?? 100,
          diskType: 'pd-balanced',
        }],
        guestAccelerator: gpuAttached ? [{ type: props.gpu!.type, count: props.gpu!.count }] : undefined,
        // No accessConfig: no external IP.
        networkInterface: [{ network, subnetwork: props.subnetwork }],
        serviceAccount: { email: this.serviceAccount.email, scopes: ['https://www.googleapis.com/auth/cloud-platform'] },
        shieldedInstanceConfig: { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true },
        scheduling: {
          provisioningModel: 'SPOT',
          preemptible: true,
          automaticRestart: false,
          onHostMaintenance: 'TERMINATE',
          instanceTerminationAction: 'DELETE',
        },
        lifecycle: { createBeforeDestroy: true },
      });
    }

    this.jobDefinition = renderJobDefinition(props, {
      bucketName: this.bucket.name,
      serviceAccountEmail: this.serviceAccount.email,
      instanceTemplateName: this.instanceTemplate?.name,
      network,
      labels,
      hasGpu,
      gpuAttached,
      maxRetryCount,
      maxRunDuration,
      retryExitCodes,
      failExitCodes,
    });
    this.jobDefinitionJson = JSON.stringify(this.jobDefinition);

    if (props.outputs ?? true) {
      const definition = new TerraformOutput(this, 'JobDefinition', {
        value: this.jobDefinitionJson,
        description: 'Cloud Batch job definition (the REST Job): gcloud batch jobs submit --config takes it',
      });
      // `--config=-` reads the job from stdin (gcloud batch jobs submit reference).
      new TerraformOutput(this, 'SubmitCommand', {
        value: `terraform output -raw ${definition.friendlyUniqueId} | ${this.submitJobCommand(undefined, '-')}`,
        description: 'Submits one job with this job definition (run in the stack directory after terraform apply)',
      });
    }
  }

  /**
   * The `gcloud batch jobs submit` command for the job definition saved as `configFile`
   * (`terraform output -raw <JobDefinition output> > job.json`), or read from stdin with `configFile: '-'`. Job names
   * must be unique in the project and region: the default appends the time.
   */
  public submitJobCommand(jobName?: string, configFile = 'job.json'): string {
    const job = jobName ?? `${this.batchName}-$(date +%Y%m%d-%H%M%S)`;
    return `gcloud batch jobs submit ${job} --project=${this.project} --location=${this.region} --config=${configFile}`;
  }
}

/** What {@link renderJobDefinition} takes from the construct. */
interface JobRefs {
  readonly bucketName: string;
  readonly serviceAccountEmail: string;
  readonly instanceTemplateName?: string;
  readonly network: string;
  readonly labels: { [key: string]: string };
  readonly hasGpu: boolean;
  readonly gpuAttached: boolean;
  readonly maxRetryCount: number;
  readonly maxRunDuration: number;
  readonly retryExitCodes: number[];
  readonly failExitCodes: number[];
}

/** The Cloud Batch `Job` (REST v1) the construct outputs, as `gcloud batch jobs submit --config` takes it. */
function renderJobDefinition(props: GcpBatchInferenceProps, r: JobRefs): { [key: string]: any } {
  const environment = {
    ...(props.environment ?? {}),
    SPOT_CHECKPOINT_BUCKET: r.bucketName,
    SPOT_CHECKPOINT_PREFIX: GCP_BATCH_CHECKPOINT_PREFIX,
    SPOT_OUTPUT_PREFIX: GCP_BATCH_OUTPUT_PREFIX,
    SPOT_SHARD_COUNT: Token.isUnresolved(props.taskCount) ? Token.asString(props.taskCount) : String(props.taskCount),
  };
  const instance = r.instanceTemplateName !== undefined
    ? { instanceTemplate: r.instanceTemplateName, installGpuDrivers: r.hasGpu }
    : {
        policy: {
          machineType: props.machineType,
          provisioningModel: 'SPOT',
          ...(r.gpuAttached ? { accelerators: [{ type: props.gpu!.type, count: props.gpu!.count }] } : {}),
          bootDisk: { sizeGb: props.bootDiskSizeGb ?? 100 },
        },
        installGpuDrivers: r.hasGpu,
      };
  return {
    taskGroups: [{
      taskCount: props.taskCount,
      ...(props.parallelism !== undefined ? { parallelism: props.parallelism } : {}),
      taskSpec: {
        runnables: [{ container: { imageUri: props.image, ...(props.command ? { commands: props.command } : {}) } }],
        ...(props.cpuMilli !== undefined || props.memoryMib !== undefined
          ? { computeResource: { ...(props.cpuMilli !== undefined ? { cpuMilli: props.cpuMilli } : {}), ...(props.memoryMib !== undefined ? { memoryMib: props.memoryMib } : {}) } }
          : {}),
        maxRetryCount: r.maxRetryCount,
        maxRunDuration: `${r.maxRunDuration}s`,
        lifecyclePolicies: [
          { action: 'RETRY_TASK', actionCondition: { exitCodes: r.retryExitCodes } },
          { action: 'FAIL_TASK', actionCondition: { exitCodes: r.failExitCodes } },
        ],
        environment: { variables: environment },
      },
    }],
    allocationPolicy: {
      location: { allowedLocations: props.zones ? props.zones.map((z) => `zones/${z}`) : [`regions/${props.region}`] },
      instances: [instance],
      serviceAccount: { email: r.serviceAccountEmail },
      // With an instance template Cloud Batch takes the network from the template.
      ...(r.instanceTemplateName !== undefined ? {} : {
        network: { networkInterfaces: [{ network: networkPath(props.project, r.network), ...(props.subnetwork ? { subnetwork: props.subnetwork } : {}), noExternalIpAddress: true }] },
      }),
      labels: r.labels,
    },
    labels: r.labels,
    logsPolicy: { destination: 'CLOUD_LOGGING' },
  };
}

function networkPath(project: string, network: string): string {
  return network.includes('/') ? network : `projects/${project}/global/networks/${network}`;
}

interface ResolvedBatch {
  readonly name: string;
  readonly maxRetryCount: number;
  readonly failExitCodes: number[];
  readonly retryExitCodes: number[];
  readonly expirationDays: number;
  readonly maxRunDuration: number;
}

function validate(props: GcpBatchInferenceProps, r: ResolvedBatch, scope: string): void {
  const v = new ProblemCollector();
  const C = FleetSpecErrorCode;
  const known = (x: unknown): x is number => typeof x === 'number' && !Token.isUnresolved(x);
  const unresolved = (x: unknown) => Token.isUnresolved(x);
  // Messages name the prop the user set: namePrefix, or the deprecated name.
  const nameProp = props.name !== undefined ? 'name' : 'namePrefix';
  if (!unresolved(r.name) && !/^[a-z][-a-z0-9]{1,18}[a-z0-9]$/.test(r.name)) {
    v.add(C.GCP_RESOURCE_NAME, nameProp, `${nameProp} ("${r.name}") must be 3-20 characters of lower-case letters, digits and hyphens, start with a letter and not end with a hyphen (service account ids are 6-30 characters and "-batch" is added); use e.g. "llm-batch"`);
  }
  checkGceName(v, nameProp, 'google_compute_instance_template', `${r.name}-batch`);
  if (props.useInstanceTemplate) checkTemplateNamePrefix(v, nameProp, `${r.name}-batch-`);
  v.addAll(checkInstanceTypeNames('machineType', [props.machineType], GCP_MACHINE_TYPE_CATALOG, { isUnresolved: unresolved }));
  if (known(props.taskCount) && !(Number.isInteger(props.taskCount) && props.taskCount >= 1)) {
    v.add(C.BATCH_JOB_LIMITS, 'taskCount', `taskCount (${props.taskCount}) must be a whole number of tasks, 1 or more`);
  }
  if (known(props.parallelism) && !(Number.isInteger(props.parallelism) && props.parallelism >= 1)) {
    v.add(C.BATCH_JOB_LIMITS, 'parallelism', `parallelism (${props.parallelism}) must be a whole number, 1 or more`);
  }
  if (known(r.maxRetryCount) && !(Number.isInteger(r.maxRetryCount) && r.maxRetryCount >= 1 && r.maxRetryCount <= 10)) {
    v.add(C.BATCH_RETRY_POLICY, 'maxRetryCount', `maxRetryCount (${r.maxRetryCount}) must be 1 to 10: Cloud Batch allows 0 to 10 retries per task, and with 0 a preempted task (exit code ${BATCH_PREEMPTION_EXIT_CODE}) fails instead of resuming from its checkpoint; use e.g. 5`);
  }
  const both = r.failExitCodes.filter((c) => r.retryExitCodes.includes(c));
  if (both.length > 0) {
    v.add(C.BATCH_RETRY_POLICY, both.includes(BATCH_PREEMPTION_EXIT_CODE) ? 'failExitCodes' : 'retryExitCodes', `exit code(s) ${both.join(', ')} are both retried and failed; ${both.includes(BATCH_PREEMPTION_EXIT_CODE) ? `${BATCH_PREEMPTION_EXIT_CODE} is Cloud Batch's VM preemption code and is always retried: remove it from failExitCodes` : 'list each code in one of retryExitCodes and failExitCodes'}`);
  }
  if (r.failExitCodes.length === 0) {
    v.add(C.BATCH_RETRY_POLICY, 'failExitCodes', 'failExitCodes is empty: give the exit code(s) your worker uses for a real failure (the runtime exits 1), so a bug fails the task instead of being retried');
  }
  for (const c of [...r.failExitCodes, ...r.retryExitCodes]) {
    if (known(c) && !(Number.isInteger(c) && c >= 1)) {
      v.add(C.BATCH_RETRY_POLICY, 'failExitCodes', `exit code ${c} is not a failure exit code; use whole numbers of 1 or more`);
    }
  }
  if (known(r.expirationDays) && !(Number.isInteger(r.expirationDays) && r.expirationDays >= 1)) {
    v.add(C.BATCH_STORAGE, 'checkpointExpirationDays', `checkpointExpirationDays (${r.expirationDays}) must be a whole number of days, 1 or more (Cloud Storage lifecycle ages count whole days); a shorter one would delete checkpoints of running jobs`);
  }
  if (known(r.maxRunDuration) && !(Number.isInteger(r.maxRunDuration) && r.maxRunDuration >= 1)) {
    v.add(C.BATCH_JOB_LIMITS, 'maxRunDurationSeconds', `maxRunDurationSeconds (${r.maxRunDuration}) must be a whole number of seconds, 1 or more`);
  }
  if (props.gpu && !unresolved(props.machineType)) {
    const a = gpuAttachmentOf(props.machineType);
    if (a !== GpuAttachment.ATTACHABLE) {
      v.add(C.GCP_ACCELERATOR, 'gpu', `gpu is set but ${props.machineType} ${a === GpuAttachment.BUILT_IN ? 'has its GPUs built in' : 'takes no GPUs'}: guestAccelerator GPUs attach only to N1 machine types; leave gpu out${a === GpuAttachment.BUILT_IN ? '' : ', or use an N1 type (e.g. n1-standard-8) or an accelerator-optimized type (g2-standard-8)'}`);
    } else if (!unresolved(props.gpu.type) && !N1_ATTACHABLE_GPUS[props.gpu.type]) {
      v.add(C.GCP_ACCELERATOR, 'gpu.type', `gpu.type "${props.gpu.type}" cannot be attached to N1 machine types: use one of ${Object.keys(N1_ATTACHABLE_GPUS).join(', ')}`);
    }
  }
  if (props.zones && !unresolved(props.zones) && !unresolved(props.region)) {
    const foreign = props.zones.filter((z) => !unresolved(z) && !z.startsWith(`${props.region}-`));
    if (foreign.length > 0) {
      v.add(C.GCP_ZONE_REGION, 'zones', `zones ${foreign.map((z) => `"${z}"`).join(', ')} are not in region ${props.region}; a Cloud Batch job runs in one region: use zones such as "${props.region}-a"`);
    }
  }
  v.throwIfAny(scope);
}
