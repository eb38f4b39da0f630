import { AssetType, TerraformAsset, Token } from 'cdktf';
import { Construct } from 'constructs';
import { CloudRunV2ServiceIamMember } from '@cdktf/provider-google/lib/cloud-run-v2-service-iam-member';
import { CloudSchedulerJob } from '@cdktf/provider-google/lib/cloud-scheduler-job';
import { Cloudfunctions2Function } from '@cdktf/provider-google/lib/cloudfunctions2-function';
import { ComputeBackendService, ComputeBackendServiceBackend } from '@cdktf/provider-google/lib/compute-backend-service';
import { ComputeInstanceGroupManager } from '@cdktf/provider-google/lib/compute-instance-group-manager';
import { EventarcTrigger } from '@cdktf/provider-google/lib/eventarc-trigger';
import { ProjectIamCustomRole } from '@cdktf/provider-google/lib/project-iam-custom-role';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member';
import { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member';
import { StorageBucketObject } from '@cdktf/provider-google/lib/storage-bucket-object';
import { dirname } from 'node:path';
import { FallbackPolicyOptions, resolveFallbackPolicyOptions } from '../../lib/policy';
import { FleetSpecError, FleetSpecErrorCode, ProblemCollector } from '../../lib/spec';
import { locateBundle } from './bundles';
import { GcpPreemptionHook } from './preemption-hook';
import { spareInstanceNamePrefix } from './spare-names';
import { IGcpSpotFleet } from './fleet-interface';
import { GcpSpotFleet, SERVING_PORT_NAME } from './spot-fleet';
import { zipDirectoryToFile } from './zip';

/** Metric the fallback controller writes every run: standard VMs above the on-demand base. */
export const FALLBACK_REPLICAS_METRIC_TYPE = 'custom.googleapis.com/spot_inference/fallback_replicas';

/** Options of {@link GcpOnDemandFallback} that a pattern construct can pass through. */
export interface GcpOnDemandFallbackOptions {
  /**
   * How often the controller runs, as a Cloud Scheduler cron expression (five fields, UTC).
   * @default '* * * * *' - every minute
   */
  readonly schedule?: string;
  /** Tuning of the fallback policy (stabilization, cool-down, pool avoidance, spares). @default - the policy's defaults */
  readonly policy?: FallbackPolicyOptions;
  /** Cloud KMS key that encrypts the scheduler's Pub/Sub topic (CMEK). @default - Google-managed encryption */
  readonly topicKmsKeyName?: string;
  /** Path of the bundled function directory. @default - dist/handlers/gcp/fallback from `npm run build:handlers` */
  readonly functionBundleDir?: string;
  /**
   * Render the spare spot groups: one zonal MIG per zone of the fleet (and of each of `additionalFleets`), on that
   * fleet's spot template, target size 0, sized by the controller only (Terraform ignores their size), so the
   * policy's spare spot VMs run in the zones it does not avoid. One group per zone because a regional MIG's zones
   * are fixed when it is created; the controller steers by size. Needs the fleet's `zones`. Spare VMs count as
   * ready spot for the policy, so on a load-balanced fleet they must serve: pass `backendService` (they are added
   * to its backends), or add `spareGroupUrls` to your own.
   * @default - true when the policy keeps spares (`policy.spareSpotReplicas`, default 1), the fleet lists its zones,
   *   and either `backendService` is given or the fleet has no load balancer
   */
  readonly spareGroups?: boolean;
}

/** What the controller needs of a fleet imported with `GcpSpotFleet.fromInstanceGroupManagers`. */
export interface GcpFallbackFleetCapacity {
  /** Name of the standard (on-demand) regional managed instance group the controller resizes (one of the fleet's groups). */
  readonly onDemandGroupName: string;
  /** Standard VMs that always run: the group's size without fallback. */
  readonly onDemandBase: number;
  /** Most VMs of the fleet, spot and standard together. */
  readonly maxCapacity: number;
  /** Machine type of VMs whose managed-instance entry names none (groups without instance flexibility). */
  readonly machineType: string;
  /** Self link of the spot instance template the spare groups run. @default - none: no spare groups for this fleet */
  readonly spotInstanceTemplate?: string;
  /** Zones of the fleet (one spare group per zone). @default - none: no spare groups for this fleet */
  readonly zones?: string[];
}

/** A fleet the controller drives, resolved from a GcpSpotFleet or from an imported fleet and its capacity. */
interface ControlledFleet {
  readonly fleet: IGcpSpotFleet;
  readonly built?: GcpSpotFleet;
  readonly onDemandGroupName: string;
  readonly onDemandBase: number;
  readonly maxCapacity: number;
  readonly machineType: string;
  readonly spotTemplate?: string;
  readonly zones?: string[];
  /** Whether it serves behind a load balancer (unknown for an imported fleet: taken as yes). */
  readonly loadBalanced: boolean;
}

/** Props of {@link GcpOnDemandFallback}. */
export interface GcpOnDemandFallbackProps extends GcpOnDemandFallbackOptions {
  /**
   * The fleet whose standard (on-demand) group the controller resizes: a {@link GcpSpotFleet}, or groups created
   * elsewhere (`GcpSpotFleet.fromInstanceGroupManagers`, with `artifactBucketName` and `fleetCapacity`). An imported
   * standard group's Terraform must ignore changes to its `target_size` itself: the controller owns it.
   */
  readonly fleet: IGcpSpotFleet;
  /**
   * What the controller needs of an imported `fleet` that its interface does not say (its standard group, base,
   * maximum, machine type; the spot template and zones for spare groups).
   * @default - a GcpSpotFleet's own; required for an imported fleet
   */
  readonly fleetCapacity?: GcpFallbackFleetCapacity;
  /**
   * The fleet's preemption hook: its topic becomes a second trigger, so the controller reacts to a
   * preemption at once instead of at the next scheduled run.
   * @default - scheduled runs only
   */
  readonly preemptionHook?: GcpPreemptionHook;
  /**
   * The backend service the fleet (and `additionalFleets`) serve behind: the spare groups are added to its backends
   * (same balancing as the fleets' groups, at `spareCapacityScalers`), so spare VMs serve like the others.
   * @default - none: spare groups only for a fleet without a load balancer, or with `spareGroups: true`
   */
  readonly backendService?: ComputeBackendService;
  /**
   * Capacity scaler of each region's spare groups in `backendService`, by region (0 or 0.1-1.0): the scaler of that
   * region's own groups there, so a region's traffic dial holds for its spare VMs too.
   * @default - 1 in every region
   */
  readonly spareCapacityScalers?: { [region: string]: number };
  /**
   * The same service's fleets in other regions, which this one controller also observes and resizes (their
   * standard groups; pools `<region>/<zone>/<type>`): one controller over every region instead of one per
   * region. Their standard groups' sizes become the controller's. Same project as `fleet`. Imported fleets
   * (`GcpSpotFleet.fromInstanceGroupManagers`) need their entry in `additionalFleetCapacities`.
   * @default - this fleet's region only
   */
  readonly additionalFleets?: IGcpSpotFleet[];
  /**
   * `fleetCapacity` of each imported fleet of `additionalFleets`, by its region.
   * @default - none: every additional fleet is a GcpSpotFleet
   */
  readonly additionalFleetCapacities?: { [region: string]: GcpFallbackFleetCapacity };
}

/**
 * The on-demand fallback controller of a Google Cloud spot fleet: a Cloud Function (2nd gen, Node.js 22, one
 * instance at most) that Cloud Scheduler runs every minute through a Pub/Sub topic, and the preemption hook's
 * topic runs at once on a preemption (a second Eventarc trigger). Each run lists the spot group's VMs per
 * zone and machine type, calls the shared fallback policy and resizes the standard group to
 * `base + fallback` (only when that changes), keeps its memory in a Cloud Storage object written with a
 * generation precondition, logs the decision with its reason and writes the metric
 * {@link FALLBACK_REPLICAS_METRIC_TYPE}.
 *
 * Spares: one zonal MIG per zone of each fleet it drives, on that fleet's spot template (size 0, the controller's),
 * where the controller runs the policy's spare spot VMs in the zones it does not avoid (a regional MIG's zones are
 * fixed at creation, so steering is by size per zone).
 *
 * Least privilege: the function's own service account gets two custom roles bound with IAM conditions on
 * the group names (`compute.instanceGroupManagers.get` on the fleet's groups, `.update` (resize) on the
 * standard and spare groups only), object admin on its state prefix of the fleet's artifact bucket only, and
 * metric writer.
 *
 * Imported fleets (`GcpSpotFleet.fromInstanceGroupManagers`) work too, with `fleetCapacity` (and
 * `additionalFleetCapacities` for other regions): what their interface does not say (standard group, base, maximum,
 * machine type; spot template and zones for spare groups).
 *
 * The standard group's `target_size` becomes the controller's: Terraform ignores changes to it from then on (for a
 * fleet built here; an imported group's own Terraform must ignore it).
 */
export class GcpOnDemandFallback extends Construct {
  /** The controller function. */
  public readonly function: Cloudfunctions2Function;
  /** Identity of the function. */
  public readonly serviceAccount: ServiceAccount;
  /** Identity Eventarc invokes the function with. */
  public readonly triggerServiceAccount: ServiceAccount;
  /** Topic Cloud Scheduler publishes a tick to. */
  public readonly tickTopic: PubsubTopic;
  /** The scheduler job. */
  public readonly scheduler: CloudSchedulerJob;
  /** Custom role: read the fleet's groups (`compute.instanceGroupManagers.get`). */
  public readonly readRole: ProjectIamCustomRole;
  /** Custom role: resize the standard group (`compute.instanceGroupManagers.update`). */
  public readonly resizeRole: ProjectIamCustomRole;
  /** Second trigger on the preemption topic, when a preemption hook was given. */
  public readonly preemptionTrigger?: EventarcTrigger;
  /** Name of the state object in the fleet's artifact bucket. */
  public readonly stateObjectName: string;
  /** The resolved policy options the function runs with. */
  public readonly policy: FallbackPolicyOptions;
  /** The spare spot groups, one zonal MIG per zone of each fleet, `fleet`'s first (empty without spares). */
  public readonly spareGroups: ComputeInstanceGroupManager[];
  /** Instance group URLs of the spare groups, for a backend service. */
  public readonly spareGroupUrls: string[];

  constructor(scope: Construct, id: string, props: GcpOnDemandFallbackProps) {
    super(scope, id);
    const { fleet } = props;
    const { home: h, others, policy, spares, zones } = this.validate(props);
    this.policy = policy;
    const bucket = fleet.artifactBucketName!;
    this.stateObjectName = `fallback-state/${fleet.fleetName}.json`;

    // The controller owns the standard group's size from now on.
    h.built?.letControllerSizeOnDemandGroup();
    for (const f of others) f.built?.letControllerSizeOnDemandGroup();

    const spare = this.renderSpares(props, [h, ...others], zones, spares);
    this.spareGroups = spare.spareGroups;
    this.spareGroupUrls = spare.spareGroupUrls;
    const access = this.grantAccess(props, h, others, spare.spareSettings, bucket);
    this.serviceAccount = access.serviceAccount;
    this.readRole = access.readRole;
    this.resizeRole = access.resizeRole;
    const fn = this.renderFunction(props, h, others, spare.spareSettings, bucket, this.serviceAccount, this.stateObjectName);
    this.tickTopic = fn.tickTopic;
    this.scheduler = fn.scheduler;
    this.triggerServiceAccount = fn.triggerServiceAccount;
    this.function = fn.fn;
    this.preemptionTrigger = fn.preemptionTrigger;
  }

  /** Check every prop, report all problems together, and resolve the fleets the controller drives. */
  private validate(props: GcpOnDemandFallbackProps): { home: ControlledFleet; others: ControlledFleet[]; policy: FallbackPolicyOptions; spares: number; zones?: string[] } {
    const { fleet } = props;
    const name = fleet.fleetName;
    const schedule = props.schedule ?? '* * * * *';
    const v = new ProblemCollector();
    const home = controlledFleet(v, 'fleet', fleet, props.fleetCapacity, 'fleetCapacity');
    if (!Token.isUnresolved(schedule) && schedule.trim().split(/\s+/).length !== 5) {
      v.add(FleetSpecErrorCode.FALLBACK_SCHEDULE, 'schedule', `schedule ("${schedule}") must be a cron expression of five fields (minute hour day month weekday), as Cloud Scheduler takes it; use e.g. '* * * * *' (every minute)`);
    }
    if (home && !Token.isUnresolved(home.maxCapacity) && (home.built ? home.built.spotMaxSize === 0 : home.maxCapacity <= home.onDemandBase)) {
      v.add(
        FleetSpecErrorCode.FALLBACK_CAPACITY,
        'fleet',
        `fleet ${name} has no spot share (maxCapacity ${home.maxCapacity} = ${home.onDemandBase} standard VMs), so there is nothing to fall back from; raise maxCapacity above the on-demand count or leave the fallback out`,
      );
    }
    if (fleet.artifactBucketName === undefined) {
      v.add(FleetSpecErrorCode.GCP_FUNCTION, 'fleet', `fleet ${name} has no artifact bucket for the controller's code and state; import it with artifactBucketName (a private bucket in ${fleet.project})`);
    }
    let spares = 0;
    let policy: FallbackPolicyOptions = {};
    try {
      policy = resolveFallbackPolicyOptions(props.policy ?? {}, 'policy');
      spares = (policy as { spareSpotReplicas: number }).spareSpotReplicas;
    } catch (err) {
      if (!(err instanceof FleetSpecError)) throw err;
      v.addAll(err.problems.map((p) => ({ ...p, prop: `policy.${p.prop}`, message: `policy.${p.message}` })));
      policy = {};
    }
    const zones = knownZones(home?.zones);
    if (props.spareGroups === true && home && !home.built && home.spotTemplate === undefined) {
      v.add(FleetSpecErrorCode.FALLBACK_SPARES, 'spareGroups', `spareGroups is true but imported fleet ${name} has no fleetCapacity.spotInstanceTemplate: the spare groups run the fleet's spot template; give its self link (and fleetCapacity.zones) or leave spareGroups out`);
    } else if (props.spareGroups === true && !zones) {
      v.add(FleetSpecErrorCode.FALLBACK_SPARES, 'spareGroups', `spareGroups is true but fleet ${name} does not list its zones (or they are tokens): one spare group is made per zone, so list the fleet's zones (e.g. zones: ['${fleet.region}-a', '${fleet.region}-b']) or leave spareGroups out`);
    }
    if (props.spareGroups === true && spares === 0) {
      v.add(FleetSpecErrorCode.FALLBACK_SPARES, 'spareGroups', 'spareGroups is true but policy.spareSpotReplicas is 0, so the spare groups would never run anything; set policy.spareSpotReplicas to 1 or more, or leave spareGroups out');
    }
    const others: ControlledFleet[] = [];
    const seenRegions = new Set([fleet.region]);
    (props.additionalFleets ?? []).forEach((f, i) => {
      const c = controlledFleet(v, `additionalFleets[${i}]`, f, props.additionalFleetCapacities?.[f.region], `additionalFleetCapacities.${f.region}`);
      if (c) others.push(c);
      if (c && props.spareGroups === true && !c.built && c.spotTemplate === undefined) {
        v.add(FleetSpecErrorCode.FALLBACK_SPARES, 'spareGroups', `spareGroups is true but imported fleet ${f.fleetName} (additionalFleets[${i}]) has no additionalFleetCapacities.${f.region}.spotInstanceTemplate: the spare groups run the fleet's spot template; give its self link (and its zones) or leave spareGroups out`);
      } else if (c && props.spareGroups === true && !knownZones(c.zones)) {
        v.add(FleetSpecErrorCode.FALLBACK_SPARES, 'spareGroups', `spareGroups is true but fleet ${f.fleetName} (additionalFleets[${i}]) does not list its zones (or they are tokens): one spare group is made per zone, so list the fleet's zones (e.g. zones: ['${f.region}-a', '${f.region}-b']) or leave spareGroups out`);
      }
      if (!Token.isUnresolved(f.region) && seenRegions.has(f.region)) {
        v.add(FleetSpecErrorCode.REGION_LIST, `additionalFleets[${i}]`, `additionalFleets[${i}] (fleet ${f.fleetName}) is in region ${f.region}, which this controller already drives; list one fleet per other region`);
      }
      seenRegions.add(f.region);
      if (!Token.isUnresolved(f.project) && !Token.isUnresolved(fleet.project) && f.project !== fleet.project) {
        v.add(FleetSpecErrorCode.OPTION_CONFLICT, `additionalFleets[${i}]`, `additionalFleets[${i}] (fleet ${f.fleetName}) is in project ${f.project}, not ${fleet.project}; one controller drives the fleets of its own project`);
      }
    });
    for (const region of Object.keys(props.additionalFleetCapacities ?? {})) {
      if (!(props.additionalFleets ?? []).some((f) => f.region === region && !(f instanceof GcpSpotFleet))) {
        v.add(FleetSpecErrorCode.FALLBACK_CAPACITY, `additionalFleetCapacities.${region}`, `additionalFleetCapacities.${region} names no imported fleet of additionalFleets (a GcpSpotFleet knows its own); remove it or fix the region`);
      }
    }
    v.throwIfAny(this.node.path);
    return { home: home!, others, policy, spares, zones };
  }

  /**
   * The spare spot groups of every fleet (`fleet`, then `additionalFleets`): one zonal MIG per zone, on the fleet's
   * spot template, size 0 until the controller sets it; added to `backendService` (at the region's capacity scaler).
   */
  private renderSpares(props: GcpOnDemandFallbackProps, fleets: ControlledFleet[], homeZones: string[] | undefined, spares: number) {
    const spareGroups: ComputeInstanceGroupManager[] = [];
    const spareSettings: { name: string; zone: string; maxSize: number; ref: ComputeInstanceGroupManager; fleet: IGcpSpotFleet }[] = [];
    const added: ComputeBackendServiceBackend[] = [];
    fleets.forEach((f, i) => {
      const home = i === 0;
      const zones = home ? homeZones : knownZones(f.zones);
      const withSpares = (props.spareGroups ?? (props.backendService !== undefined || !f.loadBalanced)) && zones !== undefined && f.spotTemplate !== undefined && spares > 0;
      const name = f.fleet.fleetName;
      const groups = (withSpares ? zones! : []).map((zone) => {
        const suffix = zone.slice(zone.lastIndexOf('-') + 1);
        const group = new ComputeInstanceGroupManager(this, home ? `SpareGroup${suffix.toUpperCase()}` : `SpareGroup-${f.fleet.region}-${suffix.toUpperCase()}`, {
          project: f.fleet.project,
          zone,
          name: `${name}-spare-${suffix}`,
          description: `spot fleet ${name}: spare spot VMs in ${zone}, sized by the fallback controller`,
          baseInstanceName: `${name}-spare-${suffix}`,
          version: [{ name: 'spot', instanceTemplate: f.spotTemplate! }],
          namedPort: [{ name: SERVING_PORT_NAME, port: f.fleet.servingPort }],
          targetSize: 0,
          // The controller owns the size: a deploy must never reset it.
          lifecycle: { ignoreChanges: ['target_size'] },
        });
        spareSettings.push({ name: `${name}-spare-${suffix}`, zone, maxSize: spares, ref: group, fleet: f.fleet });
        return group;
      });
      spareGroups.push(...groups);
      const capacityScaler = props.spareCapacityScalers?.[f.fleet.region] ?? 1;
      added.push(...groups.map((g) => ({ group: g.instanceGroup, balancingMode: 'UTILIZATION', maxUtilization: f.fleet.targetUtilization, capacityScaler })));
    });
    const spareGroupUrls = spareGroups.map((g) => g.instanceGroup);
    if (props.backendService && added.length > 0) {
      // Append to what the backend service already has (the fleets' groups, or a team's own backends).
      const current = props.backendService.backendInput;
      const existing: ComputeBackendServiceBackend[] = Array.isArray(current) ? (current as ComputeBackendServiceBackend[]) : [];
      props.backendService.putBackend([...existing, ...added]);
    }
    return { spareGroups, spareGroupUrls, spareSettings };
  }

  /** Its own service account, custom roles bound with conditions on the groups' names, its state prefix, metrics. */
  private grantAccess(props: GcpOnDemandFallbackProps, h: ControlledFleet, others: ControlledFleet[], spareSettings: { name: string; zone: string; ref: ComputeInstanceGroupManager }[], bucket: string) {
    const { fleet } = props;
    const name = fleet.fleetName;
    const project = fleet.project;
    const region = fleet.region;
    const serviceAccount = new ServiceAccount(this, 'ServiceAccount', {
      project,
      accountId: `${name}-fallback`,
      displayName: `spot fleet ${name}: fallback controller`,
      description: 'Runs the on-demand fallback controller: reads the fleet groups, resizes the standard group, keeps its state.',
    });
    const roleBase = `${name.replace(/[^a-zA-Z0-9]/g, '_')}_spot_fallback`;
    const readRole = new ProjectIamCustomRole(this, 'ReadRole', {
      project,
      roleId: `${roleBase}_read`,
      title: `spot fleet ${name}: fallback controller reads its groups`,
      description: 'Get and list the managed instances of the fleet groups (bound with a condition on their names).',
      permissions: ['compute.instanceGroupManagers.get'],
    });
    const resizeRole = new ProjectIamCustomRole(this, 'ResizeRole', {
      project,
      roleId: `${roleBase}_resize`,
      title: `spot fleet ${name}: fallback controller resizes its standard group`,
      description: 'Resize the fleet standard group (bound with a condition on its name).',
      permissions: ['compute.instanceGroupManagers.update'],
    });
    const groupResource = (group: string) => `resource.name == "projects/${project}/regions/${region}/instanceGroupManagers/${group}"`;
    const spareResource = (zone: string, group: string) => `resource.name == "projects/${project}/zones/${zone}/instanceGroupManagers/${group}"`;
    const spareExpr = spareSettings.map((g) => ` || ${spareResource(g.zone, g.ref.name)}`).join('');
    const otherGroup = (f: IGcpSpotFleet, group: string) => `resource.name == "projects/${project}/regions/${f.region}/instanceGroupManagers/${group}"`;
    const otherRead = others.map((f) => ` || ${otherGroup(f.fleet, f.fleet.spotGroupName)} || ${otherGroup(f.fleet, f.onDemandGroupName)}`).join('');
    const otherResize = others.map((f) => ` || ${otherGroup(f.fleet, f.onDemandGroupName)}`).join('');
    new ProjectIamMember(this, 'ReadGroups', {
      project,
      role: readRole.id,
      member: serviceAccount.member,
      condition: {
        title: `${name}-groups-only`,
        description: 'The spot, standard and spare groups of this fleet only.',
        expression: `${groupResource(fleet.spotGroupName)} || ${groupResource(h.onDemandGroupName)}${spareExpr}${otherRead}`,
      },
    });
    new ProjectIamMember(this, 'ResizeOnDemandGroup', {
      project,
      role: resizeRole.id,
      member: serviceAccount.member,
      condition: {
        title: `${name}-standard-group-only`,
        description: 'The standard (on-demand) and spare groups of this fleet only.',
        expression: `${groupResource(h.onDemandGroupName)}${spareExpr}${otherResize}`,
      },
    });
    new StorageBucketIamMember(this, 'StateObjectAdmin', {
      bucket: bucket,
      role: 'roles/storage.objectAdmin',
      member: serviceAccount.member,
      condition: {
        title: 'fallback-state-only',
        description: 'The controller reads and writes its state object and nothing else in the bucket.',
        expression: `resource.name.startsWith("projects/_/buckets/${bucket}/objects/fallback-state/")`,
      },
    });
    new ProjectIamMember(this, 'MetricWriter', { project, role: 'roles/monitoring.metricWriter', member: serviceAccount.member });

    return { serviceAccount, readRole, resizeRole };
  }

  /** The tick (Cloud Scheduler -> Pub/Sub), the function and its triggers (the tick; the preemption hook's topic). */
  private renderFunction(
    props: GcpOnDemandFallbackProps,
    h: ControlledFleet,
    others: ControlledFleet[],
    allSpareSettings: { name: string; zone: string; maxSize: number; fleet: IGcpSpotFleet }[],
    bucket: string,
    serviceAccount: ServiceAccount,
    stateObjectName: string,
  ) {
    const sparesOf = (f: IGcpSpotFleet): SpareGroupSetting[] => allSpareSettings.filter((g) => g.fleet === f).map((g) => ({ name: g.name, zone: g.zone, maxSize: g.maxSize }));
    const { tickTopic, scheduler } = this.renderTick(props);
    const triggerServiceAccount = this.renderTriggerServiceAccount(props);
    const source = this.renderFunctionSource(props, bucket);
    const environment = controllerEnvironment(props, h, others, sparesOf, bucket, stateObjectName);
    const fn = this.renderControllerFunction(props, { source, bucket, serviceAccount, environment, tickTopic, triggerServiceAccount });
    const preemptionTrigger = this.renderPreemptionTrigger(props, fn, triggerServiceAccount);
    return { tickTopic, scheduler, triggerServiceAccount, fn, preemptionTrigger };
  }

  /** The tick: Cloud Scheduler -> Pub/Sub. */
  private renderTick(props: GcpOnDemandFallbackProps): { tickTopic: PubsubTopic; scheduler: CloudSchedulerJob } {
    const { fleetName: name, project, region } = props.fleet;
    const schedule = props.schedule ?? '* * * * *';
    const tickTopic = new PubsubTopic(this, 'TickTopic', {
      project,
      name: `${name}-fallback-tick`,
      messageRetentionDuration: '600s',
      kmsKeyName: props.topicKmsKeyName,
      labels: { 'spot-fleet': name },
    });
    const scheduler = new CloudSchedulerJob(this, 'Schedule', {
      project,
      region,
      name: `${name}-fallback-tick`,
      description: `spot fleet ${name}: runs the on-demand fallback controller`,
      schedule,
      timeZone: 'Etc/UTC',
      pubsubTarget: { topicName: tickTopic.id, data: Buffer.from('{"kind":"fallback-tick"}').toString('base64') },
    });
    return { tickTopic, scheduler };
  }

  /** The account Eventarc delivers ticks and preemptions as. */
  private renderTriggerServiceAccount(props: GcpOnDemandFallbackProps): ServiceAccount {
    const { fleetName: name, project } = props.fleet;
    const triggerServiceAccount = new ServiceAccount(this, 'TriggerServiceAccount', {
      project,
      accountId: `${name}-fb-invoker`,
      displayName: `spot fleet ${name}: fallback triggers`,
      description: 'Eventarc delivers ticks and preemptions to the fallback controller as this account (run.invoker on it only).',
    });
    return triggerServiceAccount;
  }

  /** The controller's bundle, zipped into the state bucket. */
  private renderFunctionSource(props: GcpOnDemandFallbackProps, bucket: string): StorageBucketObject {
    const bundleDir = dirname(
      locateBundle('handlers/gcp/fallback/index.js', 'functionBundleDir', props.functionBundleDir ? `${props.functionBundleDir}/index.js` : undefined),
    );
    const archive = new TerraformAsset(this, 'FunctionCode', { path: zipDirectoryToFile(bundleDir), type: AssetType.FILE });
    const source = new StorageBucketObject(this, 'FunctionSource', {
      bucket: bucket,
      name: `fallback-function-${archive.assetHash.slice(0, 16)}.zip`,
      source: archive.path,
      contentType: 'application/zip',
    });
    return source;
  }

  /** The function, triggered by the tick, and the trigger account's right to invoke it. */
  private renderControllerFunction(
    props: GcpOnDemandFallbackProps,
    parts: { source: StorageBucketObject; bucket: string; serviceAccount: ServiceAccount; environment: Record<string, string>; tickTopic: PubsubTopic; triggerServiceAccount: ServiceAccount },
  ): Cloudfunctions2Function {
    const { fleetName: name, project, region } = props.fleet;
    const { source, bucket, serviceAccount, environment, tickTopic, triggerServiceAccount } = parts;
    const fn = new Cloudfunctions2Function(this, 'Function', {
      project,
      location: region,
      name: `${name}-fallback`,
      description: `spot fleet ${name}: on-demand fallback controller`,
      labels: { 'spot-fleet': name },
      buildConfig: {
        runtime: 'nodejs22',
        entryPoint: 'handleFallback',
        source: { storageSource: { bucket: bucket, object: source.name } },
      },
      serviceConfig: {
        serviceAccountEmail: serviceAccount.email,
        availableMemory: '256M',
        timeoutSeconds: 60,
        // One run at a time; the state's generation precondition covers the rest.
        maxInstanceCount: 1,
        maxInstanceRequestConcurrency: 1,
        ingressSettings: 'ALLOW_INTERNAL_ONLY',
        allTrafficOnLatestRevision: true,
        environmentVariables: environment,
      },
      eventTrigger: {
        triggerRegion: region,
        eventType: 'google.cloud.pubsub.topic.v1.messagePublished',
        pubsubTopic: tickTopic.id,
        // A missed tick is replaced by the next one a minute later: no retries piling up.
        retryPolicy: 'RETRY_POLICY_DO_NOT_RETRY',
        serviceAccountEmail: triggerServiceAccount.email,
      },
    });
    new CloudRunV2ServiceIamMember(this, 'TriggerInvoke', {
      project,
      location: region,
      name: fn.serviceConfig.service,
      role: 'roles/run.invoker',
      member: triggerServiceAccount.member,
    });
    return fn;
  }

  /** The preemption hook's topic runs the controller at once (besides the tick). */
  private renderPreemptionTrigger(props: GcpOnDemandFallbackProps, fn: Cloudfunctions2Function, triggerServiceAccount: ServiceAccount): EventarcTrigger | undefined {
    if (!props.preemptionHook) return undefined;
    const { fleetName: name, project, region } = props.fleet;
    return new EventarcTrigger(this, 'PreemptionTrigger', {
      project,
      location: region,
      name: `${name}-fallback-preempted`,
      labels: { 'spot-fleet': name },
      matchingCriteria: [{ attribute: 'type', value: 'google.cloud.pubsub.topic.v1.messagePublished' }],
      destination: { cloudRunService: { service: fn.serviceConfig.service, region } },
      transport: { pubsub: { topic: props.preemptionHook.topic.id } },
      serviceAccount: triggerServiceAccount.email,
    });
  }
}

/** A spare group as the controller's settings list it. */
interface SpareGroupSetting {
  readonly name: string;
  readonly zone: string;
  readonly maxSize: number;
}

/** The controller function's environment: the fleet, its groups (every region's, for a fleet over several), the state and the policy. */
function controllerEnvironment(
  props: GcpOnDemandFallbackProps,
  h: ControlledFleet,
  others: ControlledFleet[],
  sparesOf: (f: IGcpSpotFleet) => SpareGroupSetting[],
  bucket: string,
  stateObjectName: string,
): Record<string, string> {
  const { fleet } = props;
  const { fleetName: name, project, region } = fleet;
  const spareSettings = sparesOf(fleet);
  return {
    FLEET_NAME: name,
    GCP_PROJECT: project,
    FLEET_REGION: region,
    SPOT_GROUP: fleet.spotGroupName,
    ON_DEMAND_GROUP: h.onDemandGroupName,
    ON_DEMAND_BASE: String(h.onDemandBase),
    MAX_CAPACITY: String(h.maxCapacity),
    DEFAULT_MACHINE_TYPE: h.machineType,
    INSTANCE_NAME_PREFIX: `${fleet.spotInstanceNamePrefix}-`,
    STATE_BUCKET: bucket,
    STATE_OBJECT: stateObjectName,
    METRIC_TYPE: FALLBACK_REPLICAS_METRIC_TYPE,
    POLICY_OPTIONS: JSON.stringify(props.policy ?? {}),
    ...(spareSettings.length > 0
      ? {
        SPARE_GROUPS: JSON.stringify(spareSettings),
        SPARE_INSTANCE_NAME_PREFIX: spareInstanceNamePrefix(name),
      }
      : {}),
    ...(others.length > 0
      ? {
        REGIONS: JSON.stringify([
          {
            region,
            spotGroup: fleet.spotGroupName,
            onDemandGroup: h.onDemandGroupName,
            onDemandBase: h.onDemandBase,
            maxCapacity: h.maxCapacity,
            defaultMachineType: h.machineType,
            spareGroups: spareSettings,
          },
          ...others.map((f) => ({
            region: f.fleet.region,
            spotGroup: f.fleet.spotGroupName,
            onDemandGroup: f.onDemandGroupName,
            onDemandBase: f.onDemandBase,
            maxCapacity: f.maxCapacity,
            defaultMachineType: f.machineType,
            ...(sparesOf(f.fleet).length > 0 ? { spareGroups: sparesOf(f.fleet) } : {}),
          })),
        ]),
      }
      : {}),
  };
}

/** The zones, when they and every entry are known at synth. */
function knownZones(zones: string[] | undefined): string[] | undefined {
  return zones && !Token.isUnresolved(zones) && zones.every((z) => !Token.isUnresolved(z)) ? zones : undefined;
}

/** A fleet's groups and capacities for the controller; problems go to `v`. */
function controlledFleet(v: ProblemCollector, prop: string, fleet: IGcpSpotFleet, given: GcpFallbackFleetCapacity | undefined, capacityProp: string): ControlledFleet | undefined {
  if (fleet instanceof GcpSpotFleet) {
    if (given !== undefined) v.add(FleetSpecErrorCode.FALLBACK_CAPACITY, capacityProp, `${capacityProp} is set for fleet ${fleet.fleetName}, which this package built and which knows its own groups and capacities; leave ${capacityProp} out`);
    return {
      fleet,
      built: fleet,
      onDemandGroupName: fleet.onDemandGroup.name,
      onDemandBase: fleet.onDemandCount,
      maxCapacity: fleet.spec.maxCapacity,
      machineType: fleet.spec.instanceTypes[0],
      spotTemplate: fleet.spotTemplate.selfLink,
      zones: fleet.spec.zones,
      loadBalanced: fleet.loadBalanced,
    };
  }
  if (given === undefined) {
    v.add(FleetSpecErrorCode.FALLBACK_CAPACITY, capacityProp, `${capacityProp} is not set, but fleet ${fleet.fleetName} (${prop}) is imported (fromInstanceGroupManagers), so the controller does not know its standard group and capacities; give {onDemandGroupName, onDemandBase, maxCapacity, machineType}`);
    return undefined;
  }
  let ok = true;
  for (const k of ['onDemandBase', 'maxCapacity'] as const) {
    const x = given[k];
    if (Token.isUnresolved(x)) {
      v.add(FleetSpecErrorCode.FALLBACK_CAPACITY, `${capacityProp}.${k}`, `${capacityProp}.${k} is a deploy-time value; the controller computes with it, so give the number itself`);
      ok = false;
    } else if (!(Number.isInteger(x) && x >= 0)) {
      v.add(FleetSpecErrorCode.FALLBACK_CAPACITY, `${capacityProp}.${k}`, `${capacityProp}.${k} (${x}) must be a whole number, 0 or more`);
      ok = false;
    }
  }
  if (ok && given.onDemandBase > given.maxCapacity) {
    v.add(FleetSpecErrorCode.FALLBACK_CAPACITY, `${capacityProp}.onDemandBase`, `${capacityProp}.onDemandBase (${given.onDemandBase}) is above ${capacityProp}.maxCapacity (${given.maxCapacity}); the base is part of the maximum`);
    ok = false;
  }
  if (!Token.isUnresolved(given.onDemandGroupName) && !Token.isUnresolved(fleet.instanceGroupManagerNames) && !fleet.instanceGroupManagerNames.includes(given.onDemandGroupName)) {
    v.add(FleetSpecErrorCode.FALLBACK_CAPACITY, `${capacityProp}.onDemandGroupName`, `${capacityProp}.onDemandGroupName ("${given.onDemandGroupName}") is not a group of fleet ${fleet.fleetName} (${fleet.instanceGroupManagerNames.join(', ')}); import the standard group with otherGroupNames`);
    ok = false;
  }
  if (given.onDemandGroupName === fleet.spotGroupName) {
    v.add(FleetSpecErrorCode.FALLBACK_CAPACITY, `${capacityProp}.onDemandGroupName`, `${capacityProp}.onDemandGroupName ("${given.onDemandGroupName}") is the spot group of fleet ${fleet.fleetName}; name its standard (on-demand) group`);
    ok = false;
  }
  if (!ok) return undefined;
  return {
    fleet,
    onDemandGroupName: given.onDemandGroupName,
    onDemandBase: given.onDemandBase,
    maxCapacity: given.maxCapacity,
    machineType: given.machineType,
    spotTemplate: given.spotInstanceTemplate,
    zones: given.zones,
    loadBalanced: true,
  };
}
