import { AssetType, Fn, Op, TerraformAsset, Token } from 'cdktf';
import { Construct } from 'constructs';
import { ComputeFirewall } from '@cdktf/provider-google/lib/compute-firewall';
import { ComputeHealthCheck } from '@cdktf/provider-google/lib/compute-health-check';
import { ComputeRegionAutoscaler } from '@cdktf/provider-google/lib/compute-region-autoscaler';
import {
  ComputeRegionInstanceGroupManager,
  ComputeRegionInstanceGroupManagerInstanceFlexibilityPolicyInstanceSelections,
} from '@cdktf/provider-google/lib/compute-region-instance-group-manager';
import {
  ComputeRegionInstanceTemplate,
  ComputeRegionInstanceTemplateScheduling,
} from '@cdktf/provider-google/lib/compute-region-instance-template';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member';
import { StorageBucketObject } from '@cdktf/provider-google/lib/storage-bucket-object';
import { createHash } from 'node:crypto';
import {
  AgentDrainOptions,
  AGENT_INSTALL_DIR,
  DrainMode,
  renderAgentInstallScript,
} from '../../lib/runtime/agent-config';
import { CLOUD_PROFILES, Cloud, FleetSpec, FleetSpecError, FleetSpecErrorCode, FleetSpecProblem, ProblemCollector, ResolvedFleetSpec, ResolvedHealthCheck } from '../../lib/spec';
import { withCurrentOptionNames } from '../../lib/spec/option-aliases';
import { FleetPlan, planFleet } from '../../lib/spec/plan-fleet';
import { FleetAgentPlan } from '../../lib/runtime/fleet-agent';
import { GCP_MACHINE_TYPE_CATALOG } from './machine-catalog';
import { locateBundle } from './bundles';
import { GpuAttachment, gpuAttachmentOf } from './machine-families';
import {
  checkAutohealingDelay,
  checkAutoscalerPolicy,
  checkGceName,
  checkHealthCheckTiming,
  checkRegionUpdatePolicy,
  checkTemplateNamePrefix,
} from './provider-rules';
import { GcpSpotFleetAttributes, IGcpSpotFleet, ImportedGcpSpotFleet } from './fleet-interface';
import { escapeTerraformTemplate } from './script';
import { GuestAcceleratorSpec, InstanceTerminationAction, MachineTypeRanking, TargetShape } from './types';
import { checkGcpFleetRules } from './validation';

/** Source ranges of Google's health checkers and global external Application Load Balancer proxies. */
export const GOOGLE_LOAD_BALANCER_RANGES = ['35.191.0.0/16', '130.211.0.0/22'];
/** The most zones a Google Cloud region has (us-central1: a, b, c, f): the update surge when the zones are not known. */
export const MAX_ZONES_PER_REGION = 4;
/** Named port the groups expose and the backend service sends traffic to. */
export const SERVING_PORT_NAME = 'http';

/**
 * The on-instance spot agent of a Google Cloud fleet: how it drains the server on a preemption notice.
 * Same shape as the AWS fleet's `agent` prop.
 */
export interface GcpSpotAgentOptions extends AgentDrainOptions {
  /** Path of the spot-agent bundle. @default - dist/runtime/spot-agent-portable/index.js (the agent without the AWS SDK) from `npm run build:handlers` */
  readonly bundlePath?: string;
}

/** A Cloud Monitoring metric the spot group's autoscaler follows (instead of load-balancing utilization). */
export interface GcpAutoscalingMetric {
  /** Metric type, e.g. `pubsub.googleapis.com/subscription/num_undelivered_messages`. */
  readonly name: string;
  /** Monitoring filter selecting the time series, e.g. `resource.type = pubsub_subscription AND ...`. @default - none */
  readonly filter?: string;
  /**
   * Value of the metric one VM is assigned: the autoscaler keeps `ceil(metric / singleInstanceAssignment)` VMs.
   * Use it for a metric of the whole fleet (a queue's backlog). Give this or `target`.
   * @default - none
   */
  readonly singleInstanceAssignment?: number;
  /** Per-VM target of the metric (a per-VM metric, with `targetType`). Give this or `singleInstanceAssignment`. @default - none */
  readonly target?: number;
  /** How `target` is read: `GAUGE`, `DELTA_PER_SECOND`, `DELTA_PER_MINUTE`. @default - GAUGE when `target` is set */
  readonly targetType?: string;
}

/** Props of {@link GcpSpotFleet}: the cloud-neutral FleetSpec plus what Google Cloud needs. */
export interface GcpSpotFleetProps extends FleetSpec {
  /** Project the fleet is created in. */
  readonly project: string;
  /** Region of the regional managed instance groups, e.g. `us-central1`. */
  readonly region: string;
  /**
   * Prefix of every resource name (1-20 lower-case letters, digits, hyphens). The same prop on every cloud.
   * @default - the construct id, lower-cased
   */
  readonly namePrefix?: string;
  /**
   * @deprecated use `namePrefix` (one name on every cloud). Setting both is refused.
   * @default - the construct id, lower-cased
   */
  readonly name?: string;
  /** VPC network the VMs join. @default 'default' */
  readonly network?: string;
  /**
   * Subnetwork the VMs join. The VMs have no external IP: give the subnet Private Google Access (to fetch
   * the agent from Cloud Storage) and Cloud NAT if the startup script downloads from the internet.
   * @default - the network's subnet in the region (auto-mode networks)
   */
  readonly subnetwork?: string;
  /**
   * Boot image: GPU drivers and the inference server belong in it (or in `bootCommands`).
   * @default 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2204-lts'
   */
  readonly sourceImage?: string;
  /** Boot disk size in GB. @default 100 */
  readonly bootDiskSizeGb?: number;
  /** Boot disk type. @default 'pd-balanced' */
  readonly bootDiskType?: string;
  /**
   * Cloud KMS key that encrypts the boot disks (CMEK). Disks are always encrypted at rest.
   * @default - Google-managed encryption keys
   */
  readonly diskKmsKeySelfLink?: string;
  /**
   * GPUs attached through `guestAccelerator`; only N1 machine types take them (T4, V100, P4, P100).
   * Accelerator-optimized types (G2 with L4, A2 with A100, A3 with H100) have their GPUs built in: leave this out.
   * @default - no attached GPUs
   */
  readonly gpu?: GuestAcceleratorSpec;
  /** What Compute Engine does with a preempted spot VM. @default InstanceTerminationAction.DELETE */
  readonly terminationAction?: InstanceTerminationAction;
  /**
   * How the regional groups spread VMs over zones. EVEN is refused with several machine types;
   * ANY and ANY_SINGLE_ZONE are refused with the autoscaler.
   * @default TargetShape.BALANCED
   */
  readonly targetShape?: TargetShape;
  /** How the machine types are ranked in the instance flexibility policy. @default MachineTypeRanking.IN_ORDER */
  readonly machineTypeRanking?: MachineTypeRanking;
  /**
   * Autoscale the spot group between the FleetSpec bounds: on load-balancer utilization, on CPU utilization
   * when `loadBalanced` is false, or on `autoscalingMetrics` when given.
   * @default true
   */
  readonly autoscaling?: boolean;
  /**
   * Cloud Monitoring metrics the spot group's autoscaler follows instead of load-balancer (or CPU)
   * utilization, e.g. a Pub/Sub backlog. The fleet then owns one autoscaler and the spot group's size.
   * @default - load-balancing utilization at `targetUtilization` (CPU utilization when `loadBalanced` is false)
   */
  readonly autoscalingMetrics?: GcpAutoscalingMetric[];
  /**
   * Whether a Google load balancer sends traffic to the fleet (a `GcpInferenceLoadBalancer` or
   * `GcpSpotInferenceService`). `false` (queue workers, batch): no firewall opening at all, and autohealing
   * off unless `autohealing` says otherwise; nothing from outside reaches the VMs.
   * @default true
   */
  readonly loadBalanced?: boolean;
  /**
   * Recreate VMs that fail the health check (the agent's health endpoint, which proxies `healthCheck.path`
   * of the serving port). With `loadBalanced: false` the firewall then admits Google's health checkers to the
   * health port only. Workers that serve no HTTP must keep it off, or every VM is recreated in a loop.
   * @default - same as `loadBalanced`
   */
  readonly autohealing?: boolean;
  /** The on-instance drain agent. @default - DrainMode.HEALTH on port 9901 */
  readonly agent?: GcpSpotAgentOptions;
  /** Share of each VM's serving capacity the autoscaler and the backend aim for, above 0 and at most 1. @default 0.8 */
  readonly targetUtilization?: number;
  /**
   * Seconds a new VM needs to boot, load the model and pass its health check (autohealing initial delay and
   * autoscaler cool-down).
   * @default 300
   */
  readonly initializationPeriodSeconds?: number;
  /**
   * Shell commands that start the inference server (they must return: run the server as a service or in the
   * background). They run before the spot agent is installed, under `set -euo pipefail`, on every boot (a VM
   * stopped by `InstanceTerminationAction.STOP` boots again): keep them idempotent. The same prop on every cloud.
   * @default - none: the image starts the server
   */
  readonly bootCommands?: string[];
  /**
   * @deprecated use `bootCommands` (one name on every cloud; a script is a one-element list). Setting both is refused.
   * @default - none
   */
  readonly startupScript?: string;
  /** Labels on every VM and bucket. @default - only `spot-fleet: <name>` */
  readonly labels?: { [key: string]: string };
  /**
   * Shielded VM Secure Boot. Keep it on unless the image loads unsigned kernel modules (some GPU driver installs).
   * vTPM and integrity monitoring are always on.
   * @default true
   */
  readonly secureBoot?: boolean;
  /**
   * @deprecated use `agent.bundlePath` (one name on every cloud). Setting both is refused.
   * @default - dist/runtime/spot-agent-portable/index.js from `npm run build:handlers`
   */
  readonly agentBundlePath?: string;
  /**
   * Name of the private bucket created for the agent and function code (globally unique).
   * @default - `<name>-artifacts-<hash of project and name>`
   */
  readonly artifactBucketName?: string;
}

/**
 * A diversified spot fleet on Google Cloud: a regional managed instance group of spot VMs over several zones
 * and machine types (instance flexibility, ranked), a second regional group of standard VMs for the on-demand
 * base, an autoscaler on the spot group within the FleetSpec bounds, autohealing on the health check, and
 * the spot agent installed on every VM to drain the inference server inside the 30 s preemption notice.
 * With `loadBalanced: false` (queue workers) no firewall rule opens anything and autohealing is off unless
 * asked for; `autoscalingMetrics` lets the autoscaler follow e.g. a Pub/Sub backlog.
 *
 * On-demand share: Google Cloud has no mixed-provisioning group, so the standard group is sized to
 * `onDemandBaseCapacity + ceil(onDemandPercentageAboveBaseCapacity % x (desiredCapacity - onDemandBaseCapacity))`
 * at synth; the spot group autoscales between `minCapacity` and `maxCapacity` minus that count.
 */
export class GcpSpotFleet extends Construct implements IGcpSpotFleet {
  /**
   * A fleet of regional managed instance groups created elsewhere, for the load balancer, backends, alerts, drill
   * and preemption hook (which accept {@link IGcpSpotFleet}).
   */
  public static fromInstanceGroupManagers(scope: Construct, id: string, attrs: GcpSpotFleetAttributes): IGcpSpotFleet {
    return new ImportedGcpSpotFleet(scope, id, attrs);
  }

  /** The FleetSpec with every default filled in. */
  public readonly spec: ResolvedFleetSpec;
  /** Prefix of the fleet's resource names. */
  public readonly fleetName: string;
  /** Project of the fleet. */
  public readonly project: string;
  /** Region of the fleet. */
  public readonly region: string;
  /** Service account every VM runs as. */
  public readonly serviceAccount: ServiceAccount;
  /** Private bucket holding the agent (and the preemption function's code). */
  public readonly artifactBucket: StorageBucket;
  /** The agent bundle object the VMs download. */
  public readonly agentObject: StorageBucketObject;
  /** Instance template of the spot VMs. */
  public readonly spotTemplate: ComputeRegionInstanceTemplate;
  /** Instance template of the standard (on-demand) VMs. */
  public readonly onDemandTemplate: ComputeRegionInstanceTemplate;
  /** Regional MIG of spot VMs. */
  public readonly spotGroup: ComputeRegionInstanceGroupManager;
  /** Regional MIG of standard VMs (the on-demand base). */
  public readonly onDemandGroup: ComputeRegionInstanceGroupManager;
  /** Autoscaler of the spot group, when autoscaling is on and the spot group may grow. */
  public readonly autoscaler?: ComputeRegionAutoscaler;
  /** Whether a load balancer sends traffic to the fleet (`loadBalanced`). */
  public readonly loadBalanced: boolean;
  /** Whether the groups recreate VMs that fail the health check. */
  public readonly autohealing: boolean;
  /** How the agent drains the server. */
  public readonly drainMode: DrainMode;
  private readonly _healthCheck?: ComputeHealthCheck;
  private readonly _firewall?: ComputeFirewall;
  /** Standard VMs the fleet keeps (on-demand base plus the share above it). */
  public readonly onDemandCount: number;
  /** Bounds and start size of the spot group. */
  public readonly spotMinSize: number;
  public readonly spotMaxSize: number;
  public readonly spotDesiredSize: number;
  /** Port the load balancer and autohealing probe (the agent's health endpoint in DrainMode.HEALTH). */
  public readonly healthPort: number;
  /** Port the agent serves its health endpoint on. */
  public readonly agentHealthPort: number;
  /** The agent's resolved options (the config file the VMs get). */
  private readonly agentPlan: FleetAgentPlan;
  /** Instance names of spot VMs start with this, followed by `-`. */
  public readonly spotInstanceNamePrefix: string;
  /** What Compute Engine does with preempted VMs. */
  public readonly terminationAction: InstanceTerminationAction;
  /** Utilization target of the backends and autoscaler. */
  public readonly targetUtilization: number;
  /** VPC network of the VMs. */
  public readonly network: string;

  constructor(scope: Construct, id: string, given: GcpSpotFleetProps) {
    super(scope, id);
    // One spelling per option (bootCommands, namePrefix, agent.bundlePath); the deprecated ones moved over, both refused.
    const current = withCurrentOptionNames(given);
    const props = current.props;
    // Every rule of the props, thrown together; the spec resolved once (planFleet) and what the fleet decided.
    const d = this.validate(given, props, current.problems);
    const name = d.name;
    this.loadBalanced = d.loadBalanced;
    this.autohealing = d.autohealing;
    this.agentPlan = d.plan.agent;
    this.drainMode = this.agentPlan.drainMode;
    this.agentHealthPort = this.agentPlan.agentHealthPort;
    this.spec = d.plan.spec;
    this.fleetName = name;
    this.project = props.project;
    this.region = props.region;
    this.terminationAction = props.terminationAction ?? InstanceTerminationAction.DELETE;
    this.targetUtilization = d.targetUtilization;
    this.network = props.network ?? 'default';
    // Capacity split (lib/policy): a fixed standard group, an autoscaled spot group.
    const split = d.plan.capacity.onDemandSpot;
    this.onDemandCount = split.onDemandCount;
    this.spotMinSize = split.spotMin;
    this.spotMaxSize = split.spotMax;
    this.spotDesiredSize = split.spotDesired;
    const { initSeconds, maxSurgeFixed, autoscaled, shape } = d;
    const labels = { ...(props.labels ?? {}), 'spot-fleet': name };
    // In DrainMode.HEALTH the probes target the agent; otherwise the server's own health (healthCheck.port).
    this.healthPort = this.agentPlan.probePort;
    this.spotInstanceNamePrefix = `${name}-spot`;

    // A missing bundle names the prop the user set (the deprecated agentBundlePath, or agent.bundlePath).
    const bundleProp = given.agentBundlePath !== undefined ? 'agentBundlePath' : 'agent.bundlePath';
    const ctx: GcpRenderContext = { props, name, labels, network: this.network, initSeconds, maxSurgeFixed, autoscaled, shape, bundleProp };
    this.serviceAccount = this.createServiceAccount(ctx);
    const artifacts = this.createArtifacts(ctx);
    this.artifactBucket = artifacts.bucket;
    this.agentObject = artifacts.agentObject;
    this._healthCheck = this.loadBalanced || this.autohealing ? this.createHealthCheck(ctx) : undefined;
    this._firewall = this.createFirewall(ctx);
    const vm = this.vmSettings(ctx);
    this.spotTemplate = this.createTemplate(ctx, vm, 'SpotTemplate', 'spot', {
      provisioningModel: 'SPOT',
      preemptible: true,
      automaticRestart: false,
      onHostMaintenance: 'TERMINATE',
      instanceTerminationAction: this.terminationAction,
    });
    this.onDemandTemplate = this.createTemplate(ctx, vm, 'OnDemandTemplate', 'od', {
      provisioningModel: 'STANDARD',
      preemptible: false,
      automaticRestart: true,
      // VMs with GPUs cannot live-migrate.
      onHostMaintenance: vm.hasGpu ? 'TERMINATE' : 'MIGRATE',
    });
    this.spotGroup = this.createGroup(ctx, 'SpotGroup', 'spot', this.spotTemplate, this.spotDesiredSize, autoscaled);
    this.onDemandGroup = this.createGroup(ctx, 'OnDemandGroup', 'od', this.onDemandTemplate, this.onDemandCount, false);
    this.autoscaler = autoscaled ? this.createAutoscaler(ctx) : undefined;
  }

  /**
   * Health check the load balancer and autohealing use (it probes the spot agent). Throws when the fleet has
   * none (`loadBalanced` and `autohealing` both false).
   */
  public get healthCheck(): ComputeHealthCheck {
    if (!this._healthCheck) {
      throw new FleetSpecError([{
        code: FleetSpecErrorCode.FLEET_PIECE_MISSING,
        prop: 'loadBalanced',
        message: `GcpSpotFleet ${this.node.path} has no health check: loadBalanced and autohealing are false, so nothing probes the VMs; set loadBalanced: true to put the fleet behind a load balancer, or autohealing: true`,
      }], this.node.path);
    }
    return this._healthCheck;
  }

  /** Whether the fleet has a health check (`loadBalanced` or `autohealing`). */
  public get hasHealthCheck(): boolean {
    return this._healthCheck !== undefined;
  }

  /**
   * Firewall rule admitting Google's load-balancer and health-check ranges. Throws when the fleet opens
   * nothing (`loadBalanced` and `autohealing` both false); see {@link hasFirewall}.
   */
  public get firewall(): ComputeFirewall {
    if (!this._firewall) {
      throw new FleetSpecError([{
        code: FleetSpecErrorCode.FLEET_PIECE_MISSING,
        prop: 'loadBalanced',
        message: `GcpSpotFleet ${this.node.path} has no firewall rule: loadBalanced and autohealing are false, so nothing from outside reaches the VMs; set loadBalanced: true or autohealing: true to admit Google's load balancer or health checkers`,
      }], this.node.path);
    }
    return this._firewall;
  }

  /** Whether the fleet has a firewall rule (`loadBalanced` or `autohealing`). */
  public get hasFirewall(): boolean {
    return this._firewall !== undefined;
  }

  /** Names of the spot and standard managed instance groups. */
  public get instanceGroupManagerNames(): string[] {
    return [this.spotGroup.name, this.onDemandGroup.name];
  }

  /** Instance group URLs of the spot and standard groups (the load balancer's backends). */
  public get instanceGroupUrls(): string[] {
    return [this.spotGroup.instanceGroup, this.onDemandGroup.instanceGroup];
  }

  /** Name of the spot managed instance group. */
  public get spotGroupName(): string {
    return this.spotGroup.name;
  }

  /** Port the inference server serves on. */
  public get servingPort(): number {
    return this.spec.servingPort;
  }

  /** Named port of the groups. */
  public get servingPortName(): string {
    return SERVING_PORT_NAME;
  }

  /** Path the health check requests. */
  public get healthCheckPath(): string {
    return this.spec.healthCheck.path;
  }

  /** Id of the fleet's health check, when it has one (`loadBalanced` or `autohealing`). */
  public get healthCheckId(): string | undefined {
    return this._healthCheck?.id;
  }

  /** Seconds the backend service drains a VM (the spec's deregistration delay). */
  public get deregistrationDelaySeconds(): number {
    return this.spec.deregistrationDelaySeconds;
  }

  /** The VMs' service account, as firewall target. */
  public get serviceAccountEmails(): string[] {
    return [this.serviceAccount.email];
  }

  /** The fleet's private artifact bucket. */
  public get artifactBucketName(): string {
    return this.artifactBucket.name;
  }

  /** Email of the VMs' service account (grant it what the inference server needs, e.g. read on model weights). */
  public get serviceAccountEmail(): string {
    return this.serviceAccount.email;
  }

  /**
   * Hand the standard (on-demand) group's size to a controller: Terraform stops resetting `target_size` to
   * the synthesized base on the next apply. `GcpOnDemandFallback` calls it.
   */
  public letControllerSizeOnDemandGroup(): void {
    this.onDemandGroup.addOverride('lifecycle.ignore_changes', ['target_size']);
  }

  /**
   * Every rule of the props, thrown together: the fleet resolved once (`planFleet`: the cross-cloud rules with
   * Google's machine types, the Google Cloud profile, the agent, the standard / spot split), the fleet's own choices
   * and Google Cloud's rules; then what terraform-provider-google checks on the values about to be rendered.
   */
  private validate(given: GcpSpotFleetProps, props: GcpSpotFleetProps, aliasProblems: FleetSpecProblem[]): GcpFleetDecisions {
    // Messages name the prop the user set: namePrefix, or the deprecated name.
    const nameProp = given.name !== undefined ? 'name' : 'namePrefix';
    const name = props.namePrefix ?? this.node.id.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 20).replace(/-+$/, '');
    const shape = props.targetShape ?? TargetShape.BALANCED;
    const autoscaling = props.autoscaling ?? true;
    const loadBalanced = props.loadBalanced ?? true;
    const autohealing = props.autohealing ?? loadBalanced;
    const plan = planFleet(props, CLOUD_PROFILES[Cloud.GCP], {
      isUnresolved: (v) => Token.isUnresolved(v),
      // Machine type names against Google's families and shapes (with a suggestion), one accelerator kind, 2+ zones.
      catalog: GCP_MACHINE_TYPE_CATALOG,
      loadBalanced,
      // Autohealing probes from Google's health checkers, outside the VM.
      probedFromOutside: loadBalanced || autohealing,
      // A deploy-time capacity never enters JavaScript arithmetic: its spot part is a Terraform expression.
      spotOf: (x, od) => Token.asNumber(Fn.max([Token.asNumber(Op.sub(x, od)), 0])),
    });
    const problems = new ProblemCollector();
    problems.addAll(aliasProblems);
    checkGcpFleetChoices(props, { loadBalanced, autohealing, autoscaling, drainMode: plan.agent.drainMode, agentHealthPort: plan.agent.agentHealthPort }, problems);
    problems.addAll(plan.agent.problems);
    const s = this.resolveSpec(props, plan, { name, nameProp, shape, autoscaling }, problems);
    const targetUtilization = props.targetUtilization ?? 0.8;
    const initSeconds = props.initializationPeriodSeconds ?? 300;
    const split = plan.capacity.onDemandSpot;
    // Zones the regional groups spread over; unknown at synth when zones is left out (every zone of the region)
    // or a token. Google Cloud regions have 3 or 4 zones (us-central1 has 4), so 4 is "at least the number of zones".
    const zoneCount = s.zones && !Token.isUnresolved(s.zones) ? s.zones.length : undefined;
    const maxSurgeFixed = zoneCount ?? MAX_ZONES_PER_REGION;
    const autoscaled = autoscaling && (Token.isUnresolved(split.spotMax) || split.spotMax >= 1);
    checkGcpProviderRules(problems, {
      name,
      nameProp,
      initSeconds,
      autohealing,
      healthChecked: loadBalanced || autohealing,
      healthCheck: s.healthCheck,
      zoneCount,
      maxSurgeFixed,
      autoscaled,
      spotMin: split.spotMin,
      spotMax: split.spotMax,
      loadBalanced,
      targetUtilization,
      metrics: props.autoscalingMetrics,
    });
    problems.throwIfAny(this.node.path);
    return { plan, name, shape, loadBalanced, autohealing, targetUtilization, initSeconds, maxSurgeFixed, autoscaled };
  }

  /** The plan's spec problems plus Google Cloud's rules; the fleet's own problems are reported with them. */
  private resolveSpec(props: GcpSpotFleetProps, plan: FleetPlan, r: { name: string; nameProp: string; shape: TargetShape; autoscaling: boolean }, problems: ProblemCollector): ResolvedFleetSpec {
    const v = new ProblemCollector();
    v.addAll(plan.specProblems);
    checkGcpFleetRules(props, plan.spec, {
      region: props.region,
      name: r.name,
      nameProp: r.nameProp,
      gpu: props.gpu,
      targetShape: r.shape,
      autoscaling: r.autoscaling,
      targetUtilization: props.targetUtilization,
      terminationAction: props.terminationAction,
      machineTypeRanking: props.machineTypeRanking,
    }, v);
    // Report the fleet's own rules and the spec's together.
    if (v.problems.length > 0) throw new FleetSpecError([...v.problems, ...problems.problems], this.node.path);
    return plan.spec;
  }

  /** Identity: a dedicated service account, logs and metrics only (read on the agent object comes with it). */
  private createServiceAccount(c: GcpRenderContext): ServiceAccount {
    const sa = new ServiceAccount(this, 'ServiceAccount', {
      project: c.props.project,
      accountId: `${c.name}-vm`,
      displayName: `spot fleet ${c.name}: VMs`,
      description: 'Runs the spot inference VMs: writes logs and metrics, reads the spot-agent bundle.',
    });
    for (const [rid, role] of [['LogWriter', 'roles/logging.logWriter'], ['MetricWriter', 'roles/monitoring.metricWriter']]) {
      new ProjectIamMember(this, rid, { project: c.props.project, role, member: sa.member });
    }
    return sa;
  }

  /** Artifacts: a private bucket, the agent bundle shipped as a Terraform asset, read by the fleet's VMs only. */
  private createArtifacts(c: GcpRenderContext): { bucket: StorageBucket; agentObject: StorageBucketObject } {
    const { props, name } = c;
    const bucketName =
      props.artifactBucketName ??
      `${name}-artifacts-${createHash('sha256').update(`${Token.isUnresolved(props.project) ? this.node.path : props.project}/${name}`).digest('hex').slice(0, 8)}`;
    const bucket = new StorageBucket(this, 'Artifacts', {
      project: props.project,
      name: bucketName,
      location: Token.isUnresolved(props.region) ? props.region : props.region.toUpperCase(),
      uniformBucketLevelAccess: true,
      publicAccessPrevention: 'enforced',
      forceDestroy: true,
      versioning: { enabled: true },
      labels: c.labels,
    });
    const agentAsset = new TerraformAsset(this, 'AgentBundle', {
      path: locateBundle('runtime/spot-agent-portable/index.js', c.bundleProp, props.agent?.bundlePath),
      type: AssetType.FILE,
    });
    const agentObject = new StorageBucketObject(this, 'AgentObject', {
      bucket: bucket.name,
      name: `spot-agent-${agentAsset.assetHash.slice(0, 16)}.js`,
      source: agentAsset.path,
      contentType: 'application/javascript',
    });
    new StorageBucketIamMember(this, 'AgentRead', {
      bucket: bucket.name,
      role: 'roles/storage.objectViewer',
      member: this.serviceAccount.member,
      condition: {
        title: 'spot-agent-bundle-only',
        description: 'Fleet VMs read the spot-agent bundle and nothing else in the bucket.',
        expression: `resource.name == "projects/_/buckets/${bucket.name}/objects/${agentObject.name}"`,
      },
    });
    return { bucket, agentObject };
  }

  /**
   * Health check (probes the agent, which proxies the server's health and turns 503 on preemption): for the load
   * balancer and autohealing.
   */
  private createHealthCheck(c: GcpRenderContext): ComputeHealthCheck {
    const hc = this.spec.healthCheck;
    return new ComputeHealthCheck(this, 'HealthCheck', {
      project: c.props.project,
      name: `${c.name}-hc`,
      checkIntervalSec: hc.intervalSeconds,
      timeoutSec: hc.timeoutSeconds,
      healthyThreshold: hc.healthyThreshold,
      unhealthyThreshold: hc.unhealthyThreshold,
      httpHealthCheck: { port: this.healthPort, requestPath: hc.path },
    });
  }

  /**
   * Only Google's load balancers and health checkers reach the VMs: the serving and health ports with a load
   * balancer, the health port for autohealing alone, nothing without either.
   */
  private createFirewall(c: GcpRenderContext): ComputeFirewall | undefined {
    if (!this.loadBalanced && !this.autohealing) return undefined;
    const lb = this.loadBalanced;
    return new ComputeFirewall(this, lb ? 'AllowLoadBalancer' : 'AllowHealthCheckers', {
      project: c.props.project,
      name: `${c.name}-allow-${lb ? 'lb' : 'hc'}`,
      network: c.network,
      direction: 'INGRESS',
      priority: 1000,
      sourceRanges: GOOGLE_LOAD_BALANCER_RANGES,
      targetServiceAccounts: [this.serviceAccount.email],
      allow: [{ protocol: 'tcp', ports: lb ? [...new Set([this.spec.servingPort, this.healthPort])].map(String) : [String(this.healthPort)] }],
      description: lb
        ? `spot fleet ${c.name}: Google load balancer and health-check ranges to the serving and health ports`
        : `spot fleet ${c.name}: Google health-check ranges to the health port (autohealing; no load balancer)`,
    });
  }

  /** What both instance templates share beyond the props: the boot scripts and the GPUs. */
  private vmSettings(c: GcpRenderContext): GcpVmSettings {
    const types = this.spec.instanceTypes;
    const gpuAttached = c.props.gpu !== undefined && types.some((t) => gpuAttachmentOf(t) === GpuAttachment.ATTACHABLE);
    return {
      gpuAttached,
      hasGpu: gpuAttached || types.some((t) => gpuAttachmentOf(t) === GpuAttachment.BUILT_IN),
      metadata: {
        'startup-script': this.renderStartupScript(c.props.bootCommands?.join('\n')),
        'shutdown-script': this.renderShutdownScript(),
        'enable-oslogin': 'TRUE',
        'block-project-ssh-keys': 'TRUE',
      },
    };
  }

  /** An instance template: spot and standard differ only in `scheduling`. */
  private createTemplate(c: GcpRenderContext, vm: GcpVmSettings, tid: string, suffix: string, scheduling: ComputeRegionInstanceTemplateScheduling): ComputeRegionInstanceTemplate {
    const { props } = c;
    return new ComputeRegionInstanceTemplate(this, tid, {
      project: props.project,
      region: props.region,
      namePrefix: `${c.name}-${suffix}-`,
      machineType: this.spec.instanceTypes[0],
      labels: c.labels,
      metadata: vm.metadata,
      disk: [
        {
          boot: true,
          autoDelete: true,
          sourceImage: props.sourceImage ?? 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2204-lts',
          diskSizeGb: props.bootDiskSizeGb ?? 100,
          diskType: props.bootDiskType ?? 'pd-balanced',
          diskEncryptionKey: props.diskKmsKeySelfLink ? { kmsKeySelfLink: props.diskKmsKeySelfLink } : undefined,
        },
      ],
      guestAccelerator: vm.gpuAttached ? [{ type: props.gpu!.type, count: props.gpu!.count }] : undefined,
      // No accessConfig: no external IP.
      networkInterface: [{ network: c.network, subnetwork: props.subnetwork }],
      serviceAccount: { email: this.serviceAccount.email, scopes: ['https://www.googleapis.com/auth/cloud-platform'] },
      shieldedInstanceConfig: {
        enableSecureBoot: props.secureBoot ?? true,
        enableVtpm: true,
        enableIntegrityMonitoring: true,
      },
      scheduling,
      lifecycle: { createBeforeDestroy: true },
    });
  }

  /** A regional group: zones, instance flexibility, autohealing, an update policy that never drops capacity. */
  private createGroup(c: GcpRenderContext, gid: string, suffix: string, tmpl: ComputeRegionInstanceTemplate, targetSize: number, autoscaled: boolean): ComputeRegionInstanceGroupManager {
    const s = this.spec;
    const flexibility = s.instanceTypes.length >= 2 ? { instanceSelections: this.instanceSelections(s.instanceTypes, c.props.machineTypeRanking) } : undefined;
    return new ComputeRegionInstanceGroupManager(this, gid, {
      project: c.props.project,
      region: c.props.region,
      name: `${c.name}-${suffix}`,
      baseInstanceName: `${c.name}-${suffix}`,
      distributionPolicyZones: s.zones,
      distributionPolicyTargetShape: c.shape,
      version: [{ name: suffix, instanceTemplate: tmpl.selfLink }],
      instanceFlexibilityPolicy: flexibility,
      targetSize,
      namedPort: [{ name: SERVING_PORT_NAME, port: s.servingPort }],
      autoHealingPolicies: this._healthCheck && this.autohealing ? { healthCheck: this._healthCheck.id, initialDelaySec: c.initSeconds } : undefined,
      updatePolicy: {
        type: 'PROACTIVE',
        minimalAction: 'REPLACE',
        mostDisruptiveAllowedAction: 'REPLACE',
        replacementMethod: 'SUBSTITUTE',
        // A regional group surges by at least one VM per zone; nothing serving is taken down first.
        maxSurgeFixed: c.maxSurgeFixed,
        maxUnavailableFixed: 0,
        // Spot capacity comes and goes per zone: never delete healthy VMs to even out the spread.
        instanceRedistributionType: 'NONE',
      },
      waitForInstances: false,
      lifecycle: autoscaled ? { ignoreChanges: ['target_size'] } : undefined,
    });
  }

  /** The spot group's autoscaler within the FleetSpec bounds minus the standard group. */
  private createAutoscaler(c: GcpRenderContext): ComputeRegionAutoscaler {
    const metrics = c.props.autoscalingMetrics;
    return new ComputeRegionAutoscaler(this, 'SpotAutoscaler', {
      project: c.props.project,
      region: c.props.region,
      name: `${c.name}-spot`,
      target: this.spotGroup.id,
      autoscalingPolicy: {
        minReplicas: this.spotMinSize,
        maxReplicas: this.spotMaxSize,
        cooldownPeriod: c.initSeconds,
        mode: 'ON',
        ...(metrics && metrics.length > 0
          ? {
              metric: metrics.map((m) => ({
                name: m.name,
                filter: m.filter,
                singleInstanceAssignment: m.singleInstanceAssignment,
                target: m.target,
                type: m.target !== undefined ? (m.targetType ?? 'GAUGE') : undefined,
              })),
            }
          : this.loadBalanced
            ? { loadBalancingUtilization: { target: this.targetUtilization } }
            : { cpuUtilization: { target: this.targetUtilization } }),
      },
    });
  }

  private instanceSelections(types: string[], ranking = MachineTypeRanking.IN_ORDER): ComputeRegionInstanceGroupManagerInstanceFlexibilityPolicyInstanceSelections[] {
    if (ranking === MachineTypeRanking.EQUAL) {
      return [{ name: 'any-of', rank: 0, machineTypes: types }];
    }
    return types.map((t, i) => ({ name: `rank-${i}`, rank: i, machineTypes: [t] }));
  }

  private renderStartupScript(userScript: string | undefined): string {
    const agentPath = `${AGENT_INSTALL_DIR}/spot-agent.js`;
    // Bucket and object names are literal strings or tokens: both are safe to place between quotes.
    const gsUrl = `gs://${this.artifactBucket.name}/${this.agentObject.name}`;
    const apiUrl = `https://storage.googleapis.com/storage/v1/b/${this.artifactBucket.name}/o/${this.agentObject.name}?alt=media`;
    const install = renderAgentInstallScript({
      config: this.agentPlan.config,
      fetchAgentCommands: [
        '# fetch the agent with the VM service account (read on this one object only): gcloud if the image has it,',
        '# else the JSON API with a token from the metadata server',
        `if ! { command -v gcloud >/dev/null 2>&1 && gcloud storage cp '${gsUrl}' ${agentPath}; }; then`,
        "  TOKEN=$(curl -sf -H 'Metadata-Flavor: Google' 'http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token' | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')",
        `  curl -sf --retry 5 -H "Authorization: Bearer \${TOKEN}" -o ${agentPath} '${apiUrl}'`,
        'fi',
        `chmod 0755 ${agentPath}`,
      ],
    });
    return escapeTerraformTemplate(
      [
        '#!/bin/bash',
        `# spot-inference-constructs: startup script of spot fleet ${this.fleetName}`,
        'set -euo pipefail',
        ...(userScript ? ['# --- inference server (startupScript) ---', userScript, '# --- end inference server ---'] : []),
        install,
        '',
      ].join('\n'),
    );
  }

  private renderShutdownScript(): string {
    const waitSeconds = this.spec.noticeSeconds;
    return escapeTerraformTemplate(
      [
        '#!/bin/bash',
        `# spot-inference-constructs: shutdown script of spot fleet ${this.fleetName}`,
        `# Preemption sends an ACPI soft-off and stops the VM ${this.spec.noticeSeconds} s later. The spot agent drains on`,
        '# SIGTERM (health endpoint -> 503, load balancer stops sending, in-flight requests finish): hand it the',
        `# signal (it ignores a second one while draining) and wait for it to exit, at most ${waitSeconds} s.`,
        'PID=$(systemctl show --property MainPID --value spot-agent.service 2>/dev/null || echo 0)',
        'if [ -n "${PID}" ] && [ "${PID}" != "0" ]; then',
        '  kill -TERM "${PID}" 2>/dev/null || true',
        `  for _ in $(seq 1 ${waitSeconds}); do`,
        '    kill -0 "${PID}" 2>/dev/null || exit 0',
        '    sleep 1',
        '  done',
        '  echo "spot-agent still draining after ' + waitSeconds + ' s; the VM stops now" >&2',
        'fi',
        '',
      ].join('\n'),
    );
  }
}

/** What the constructor's named steps share. */
interface GcpRenderContext {
  readonly props: GcpSpotFleetProps;
  readonly name: string;
  readonly labels: { [key: string]: string };
  readonly network: string;
  readonly initSeconds: number;
  readonly maxSurgeFixed: number;
  readonly autoscaled: boolean;
  readonly shape: TargetShape;
  /** The prop that gave the agent bundle's path, for the message of a missing bundle. */
  readonly bundleProp: string;
}

/** What {@link GcpSpotFleet} decided from its props (validated, defaults filled). */
interface GcpFleetDecisions {
  /** The fleet resolved once (spec, agent, standard / spot split). */
  readonly plan: FleetPlan;
  /** Prefix of the resource names. */
  readonly name: string;
  readonly shape: TargetShape;
  readonly loadBalanced: boolean;
  readonly autohealing: boolean;
  readonly targetUtilization: number;
  readonly initSeconds: number;
  readonly maxSurgeFixed: number;
  /** Whether the spot group gets an autoscaler (autoscaling on and room to grow). */
  readonly autoscaled: boolean;
}

/** What both instance templates share. */
interface GcpVmSettings {
  readonly gpuAttached: boolean;
  readonly hasGpu: boolean;
  readonly metadata: { [key: string]: string };
}

/** What the fleet decided from its props, for {@link checkGcpFleetChoices}. */
interface GcpFleetChoices {
  readonly loadBalanced: boolean;
  readonly autohealing: boolean;
  readonly autoscaling: boolean;
  readonly drainMode: DrainMode;
  readonly agentHealthPort: number;
}

/** The fleet's own rules (load balancing, autohealing, agent, autoscaling metrics); tokens are skipped. */
function checkGcpFleetChoices(props: GcpSpotFleetProps, c: GcpFleetChoices, v: ProblemCollector): void {
  const known = (x: unknown): x is number => typeof x === 'number' && !Token.isUnresolved(x);
  const C = FleetSpecErrorCode;
  const hcPort = props.healthCheck?.port;
  if (!c.loadBalanced && !c.autohealing && hcPort !== undefined) {
    v.add(C.OPTION_CONFLICT, 'healthCheck.port', `healthCheck.port (${hcPort}) has no effect: loadBalanced is false and autohealing is off, so nothing probes the VMs; leave healthCheck.port out, set autohealing: true (the VMs must then answer the health check), or set loadBalanced: true`);
  }
  if (!c.loadBalanced && props.targetUtilization !== undefined && props.autoscalingMetrics !== undefined) {
    v.add(C.OPTION_CONFLICT, 'targetUtilization', `targetUtilization (${props.targetUtilization}) has no effect: the autoscaler follows autoscalingMetrics; leave targetUtilization out`);
  }
  // The agent's own options (ports, pid file, drain URL) are checked by planFleetAgent, as on every cloud.
  // The standard (on-demand) group's size is computed at synth: it needs these as numbers.
  const why = 'Google Cloud has no mixed-provisioning group, so the fleet sizes a separate standard (on-demand) group from it at synth';
  for (const prop of ['onDemandBaseCapacity', 'onDemandPercentageAboveBaseCapacity'] as const) {
    if (Token.isUnresolved(props[prop])) {
      v.add(FleetSpecErrorCode.DEPLOY_TIME_VALUE, prop, `${prop} is a deploy-time value (a Terraform variable or token), but ${why}; give a number (minCapacity, maxCapacity and desiredCapacity may stay deploy-time values)`);
    }
  }
  const pct = props.onDemandPercentageAboveBaseCapacity;
  if (known(pct) && pct > 0 && Token.isUnresolved(props.desiredCapacity)) {
    v.add(FleetSpecErrorCode.DEPLOY_TIME_VALUE, 'desiredCapacity', `desiredCapacity is a deploy-time value (a Terraform variable or token), but onDemandPercentageAboveBaseCapacity (${pct}) needs it at synth: ${why} as onDemandBaseCapacity + ${pct} % of (desiredCapacity - onDemandBaseCapacity); give desiredCapacity as a number, or set onDemandPercentageAboveBaseCapacity: 0`);
  }
  const metrics = props.autoscalingMetrics;
  if (metrics !== undefined && !c.autoscaling) {
    v.add(C.GCP_AUTOSCALER, 'autoscalingMetrics', 'autoscalingMetrics is set but autoscaling is false: no autoscaler follows them; set autoscaling: true (the default) or leave autoscalingMetrics out');
  }
  (metrics ?? []).forEach((m, i) => {
    const both = m.singleInstanceAssignment !== undefined && m.target !== undefined;
    const neither = m.singleInstanceAssignment === undefined && m.target === undefined;
    if (both || neither) {
      v.add(C.GCP_AUTOSCALER, `autoscalingMetrics[${i}]`, `autoscalingMetrics[${i}] (${m.name}) needs exactly one of singleInstanceAssignment (a fleet-wide metric such as a queue backlog) and target (a per-VM metric); it has ${both ? 'both' : 'neither'}`);
    }
    for (const [k, x] of [['singleInstanceAssignment', m.singleInstanceAssignment], ['target', m.target]] as const) {
      if (known(x) && !(x > 0)) {
        v.add(C.GCP_AUTOSCALER, `autoscalingMetrics[${i}].${k}`, `autoscalingMetrics[${i}].${k} (${x}) must be above 0`);
      }
    }
  });
}

/** What the fleet renders that terraform-provider-google checks (see provider-rules.ts). */
interface GcpRenderedValues {
  readonly name: string;
  /** The prop that gave the name (namePrefix, or the deprecated name). */
  readonly nameProp: string;
  readonly initSeconds: number;
  readonly autohealing: boolean;
  readonly healthChecked: boolean;
  readonly healthCheck: ResolvedHealthCheck;
  readonly zoneCount?: number;
  readonly maxSurgeFixed: number;
  readonly autoscaled: boolean;
  readonly spotMin: number;
  readonly spotMax: number;
  readonly loadBalanced: boolean;
  readonly targetUtilization: number;
  readonly metrics?: GcpAutoscalingMetric[];
}

/** The provider's create-time and plan-time rules, on the values the fleet is about to render. */
function checkGcpProviderRules(v: ProblemCollector, r: GcpRenderedValues): void {
  for (const suffix of ['spot', 'od']) {
    checkGceName(v, r.nameProp, 'google_compute_region_instance_group_manager', `${r.name}-${suffix}`);
    checkTemplateNamePrefix(v, r.nameProp, `${r.name}-${suffix}-`);
  }
  if (r.autohealing) checkAutohealingDelay(v, 'initializationPeriodSeconds', r.initSeconds);
  if (r.healthChecked) checkHealthCheckTiming(v, r.healthCheck.timeoutSeconds, r.healthCheck.intervalSeconds);
  checkRegionUpdatePolicy(v, 'zones', {
    maxSurgeFixed: r.maxSurgeFixed,
    maxUnavailableFixed: 0,
    zoneCount: r.zoneCount,
    replacementMethod: 'SUBSTITUTE',
    minimalAction: 'REPLACE',
    type: 'PROACTIVE',
  });
  if (r.autoscaled) {
    const metrics = r.metrics && r.metrics.length > 0 ? r.metrics : undefined;
    checkAutoscalerPolicy(v, {
      minReplicas: r.spotMin,
      maxReplicas: r.spotMax,
      cpuTarget: !metrics && !r.loadBalanced ? r.targetUtilization : undefined,
      loadBalancingTarget: !metrics && r.loadBalanced ? r.targetUtilization : undefined,
      metrics: metrics?.map((m) => ({ name: m.name, target: m.target, type: m.target !== undefined ? (m.targetType ?? 'GAUGE') : undefined })),
    });
  }
}
