import { DataAzurermClientConfig } from '@cdktf/provider-azurerm/lib/data-azurerm-client-config';
import { LinuxFunctionApp } from '@cdktf/provider-azurerm/lib/linux-function-app';
import { OrchestratedVirtualMachineScaleSet } from '@cdktf/provider-azurerm/lib/orchestrated-virtual-machine-scale-set';
import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment';
import { RoleDefinition } from '@cdktf/provider-azurerm/lib/role-definition';
import { ServicePlan } from '@cdktf/provider-azurerm/lib/service-plan';
import { StorageAccount } from '@cdktf/provider-azurerm/lib/storage-account';
import { StorageContainer } from '@cdktf/provider-azurerm/lib/storage-container';
import { StorageQueue } from '@cdktf/provider-azurerm/lib/storage-queue';
import { UserAssignedIdentity } from '@cdktf/provider-azurerm/lib/user-assigned-identity';
import { AssetType, TerraformAsset, Token } from 'cdktf';
import { Construct } from 'constructs';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { FALLBACK_METRIC_NAME as HANDLER_METRIC_NAME, FALLBACK_METRIC_NAMESPACE as HANDLER_METRIC_NAMESPACE } from '../../lib/handlers/azure/fallback';
import { FallbackPolicyOptions, resolveFallbackPolicyOptions } from '../../lib/policy';
import { FleetSpecError, FleetSpecErrorCode, ProblemCollector } from '../../lib/spec';
import { azureName } from './network';
import { IAzureSpotFleet } from './fleet-interface';
import { AzureSpotFleet } from './spot-scale-set-fleet';
import { stableNameHash, stableNameHashOfPath } from './tokens';

/** Name of the queue the agents post `Preempt` notices to (lib/runtime/azure-controller-queue.ts). */
export const EVICTION_QUEUE_NAME = 'spot-evictions';

/**
 * The default name of an AzureOnDemandFallback's storage account, by the construct path it will have: what a pattern
 * needs to give its fleet's agents the controller's queue (`fallbackEvictionQueueUrl`) before the fallback exists.
 */
export function defaultFallbackStorageAccountName(path: string, resourceGroupName: string, location: string): string {
  return `spotfb${stableNameHashOfPath(path, [resourceGroupName, location]).slice(0, 18)}`;
}

/** URL of the eviction queue of the fallback whose storage account is `accountName`. */
export function fallbackEvictionQueueUrl(accountName: string): string {
  return `https://${accountName}.queue.core.windows.net/${EVICTION_QUEUE_NAME}`;
}

/**
 * The eviction queue URL of an AzureOnDemandFallback a pattern is about to create at `path` (undefined when it creates
 * none, or the fallback has no eviction trigger), and the fleet's agent options with it: what the patterns give their
 * fleets, which exist before the fallback. The agent's own `controllerQueueUrl` wins.
 */
export function agentWithPlannedEvictionQueue<T extends { controllerQueueUrl?: string }>(
  agent: T | undefined,
  planned: { path: string; resourceGroupName: string; location: string; onDemandFallback?: boolean; options?: AzureOnDemandFallbackOptions },
): T | undefined {
  if (!(planned.onDemandFallback ?? true) || !(planned.options?.evictionTrigger ?? true)) return agent;
  const account = planned.options?.storageAccountName ?? defaultFallbackStorageAccountName(planned.path, planned.resourceGroupName, planned.location);
  return { ...agent, controllerQueueUrl: agent?.controllerQueueUrl ?? fallbackEvictionQueueUrl(account) } as T;
}

/**
 * Namespace and name of the custom metric the controller writes on the fleet's first scale set: the handler's own
 * constants (`SpotInferenceConstructs`, as on AWS; `FallbackReplicas`), which `AzureFleetAlerts` watches too.
 */
export const FALLBACK_METRIC_NAMESPACE = HANDLER_METRIC_NAMESPACE;
export const FALLBACK_METRIC_NAME = HANDLER_METRIC_NAME;

/**
 * A spare Spot scale set the controller sizes: Spot only, in one zone, with no autoscale setting (its capacity
 * is the controller's alone). The controller runs the policy's spare Spot VMs in the zones it does not avoid.
 */
export interface AzureSpareScaleSetRef {
  /** Name of the scale set. */
  readonly name: string;
  /** Resource id of the scale set (the control role is assigned there). */
  readonly id: string;
  /** Its zone (`1`, `2`, `3`). */
  readonly zone: string;
  /** Its VM size. */
  readonly vmSize: string;
  /** Most VMs it may run. */
  readonly maxCapacity: number;
  /** Its Azure region, when it is not the controller's `location` (a spare set of an `additionalFleets` region). @default - `location` */
  readonly location?: string;
  /** Its resource group. @default - the resource group of `fleet` */
  readonly resourceGroupName?: string;
}

/**
 * Capacity of one scale set of a fleet imported with `AzureSpotFleet.fromScaleSetAttributes`, as the controller
 * needs it (an {@link AzureSpotFleet} knows its own plan).
 */
export interface AzureFallbackScaleSetCapacity {
  /** Regular VMs that always run in it (its `priority_mix.base_regular_count` as deployed). */
  readonly baseRegularCount: number;
  /** Most VMs in it (its autoscale maximum). */
  readonly maxCapacity: number;
  /** VMs it should serve with at least (its deployed desired capacity). */
  readonly desiredCapacity: number;
}

/** A fleet of another region (or resource group) that the same controller observes and adjusts. */
export interface AzureFallbackRegionFleet {
  /** The fleet: an {@link AzureSpotFleet}, or scale sets imported with `AzureSpotFleet.fromScaleSetAttributes`. */
  readonly fleet: IAzureSpotFleet;
  /**
   * Azure region of its scale sets (its pools are `<region>/<zone>/<size>`).
   * @default - the location of a AzureSpotFleet's scale sets; required for an imported fleet
   */
  readonly location?: string;
  /** One entry per scale set, in the order of `fleet.scaleSetIds`. @default - a AzureSpotFleet's own plan; required for an imported fleet */
  readonly scaleSetCapacities?: AzureFallbackScaleSetCapacity[];
}

/** Options of {@link AzureOnDemandFallback} that a pattern construct can pass through (`onDemandFallbackOptions`). */
export interface AzureOnDemandFallbackOptions {
  /**
   * How often the controller runs: an NCRONTAB expression of six fields (second minute hour day month weekday).
   * @default '0 * * * * *' - every minute
   */
  readonly schedule?: string;
  /** Tuning of the fallback policy. @default - the policy's defaults */
  readonly policy?: FallbackPolicyOptions;
  /**
   * Also write the custom metric `SpotInferenceConstructs/FallbackReplicas` to Azure Monitor (on the first scale set
   * of `fleet`, the whole fallback of every fleet driven, `additionalFleets` included; needs Monitoring Metrics
   * Publisher there): what the long-fallback alert of `AzureFleetAlerts` watches. Every run logs the value as a
   * structured line either way.
   * @default true
   */
  readonly customMetric?: boolean;
  /**
   * Name of the storage account of the Function App (host storage and the controller's state); 3-24
   * lower-case letters and digits, unique in Azure.
   * @default - `spotfb` and a hash of the construct path, and of the resource group and region where they are plain
   * strings (a deploy-time value's placeholder changes with the rest of the app, so it is left out)
   */
  readonly storageAccountName?: string;
  /** Path of the bundled function directory. @default - dist/handlers/azure/fallback from `npm run build:handlers` */
  readonly functionBundleDir?: string;
  /**
   * Run the controller at once on an eviction: a Storage queue (`evictionQueueUrl`) the fleets' agents post each
   * `Preempt` notice to (their `agent.controllerQueueUrl`), and a queue trigger on the function (polled every 2 s)
   * next to its timer. The fleets' identities get Storage Queue Data Message Sender on that queue only. Azure has no
   * eviction event of its own that arrives in time (the activity log is minutes late). Without it the controller
   * sees an eviction, and sets the spares and fallback for it, only at its next timer run. (The main scale set
   * recreates the evicted VM at a timer run either way: a run on the notice finds the VM still there.)
   * @default true
   */
  readonly evictionTrigger?: boolean;
  /**
   * Spare Spot scale sets the controller sizes (one per zone: a scale set's zones cannot be narrowed while it
   * runs VMs, so the controller steers by size per zone). They must be Spot only, without an autoscale setting.
   * The control role is assigned at each of them.
   * @default - with spareGroups (the default), one per zone of each AzureSpotFleet, rendered here; otherwise none
   */
  readonly spareScaleSets?: AzureSpareScaleSetRef[];
  /**
   * Render the spare Spot scale sets: one per zone of each {@link AzureSpotFleet} (`fleet` and
   * `additionalFleets`), a copy of its first scale set (image, custom data and agent, identity, NIC in the same
   * subnet, security group and backend pool, health extension) with Spot priority only, no priority mix, no
   * autoscale setting and capacity 0: the controller alone sizes them, so the policy's spare Spot VMs
   * (`policy.spareSpotReplicas`, default 1) run in the zones it does not avoid. On by default like the AWS and
   * Google Cloud controllers: an empty scale set costs nothing, and without one the policy's spares are decided but
   * not applied. Imported fleets get none (there is no scale set to copy): give `spareScaleSets`. Ignored when
   * `spareScaleSets` is given.
   * @default - true when the policy keeps spares (`policy.spareSpotReplicas` above 0)
   */
  readonly spareGroups?: boolean;
}

/** Props of {@link AzureOnDemandFallback}. */
export interface AzureOnDemandFallbackProps extends AzureOnDemandFallbackOptions {
  /**
   * The fleet whose scale sets the controller adjusts: an {@link AzureSpotFleet}, or scale sets created elsewhere
   * (`AzureSpotFleet.fromScaleSetAttributes`, with `scaleSetCapacities`). An imported fleet's Terraform must
   * ignore changes to `priority_mix` (and `instances`) itself: the controller owns them.
   */
  readonly fleet: IAzureSpotFleet;
  /**
   * Capacity of each scale set of an imported `fleet`, in the order of its `scaleSetIds`.
   * @default - a AzureSpotFleet's own plan; required for an imported fleet
   */
  readonly scaleSetCapacities?: AzureFallbackScaleSetCapacity[];
  /**
   * The same service's fleets in other regions (or resource groups), which this one controller also observes and
   * adjusts (pools `<region>/<zone>/<size>`): one controller over every region instead of one per region, so the
   * policy moves capacity between them. Same subscription as `fleet`. The control role is assigned at their scale
   * sets only, the observe role in their resource groups.
   * @default - `fleet` only
   */
  readonly additionalFleets?: AzureFallbackRegionFleet[];
  /** Resource group of the controller's resources (usually the fleet's). */
  readonly resourceGroupName: string;
  /** Azure region of the controller and of `fleet`, e.g. `eastus2`. */
  readonly location: string;
  /** Prefix of the Azure resource names. @default - the construct id, lower case */
  readonly namePrefix?: string;
  /** Tags on every resource that takes them. @default - none */
  readonly tags?: { [key: string]: string };
}

/** One fleet the controller drives, resolved. */
interface DrivenFleet {
  readonly fleet: IAzureSpotFleet;
  /** The fleet when this package built it (its plan, its scale sets to copy). */
  readonly built?: AzureSpotFleet;
  readonly location: string;
  readonly resourceGroupName: string;
  readonly capacities: AzureFallbackScaleSetCapacity[];
  /** Most VMs of the fleet. */
  readonly maxCapacity: number;
  /** `''` for `fleet`, `-<location>` for the others (construct ids and names). */
  readonly suffix: string;
}

/**
 * The on-demand fallback controller of an Azure spot fleet: a Linux Function App (consumption plan,
 * Node.js 22, code zip-deployed from the bundle) with a timer trigger every minute. Each run lists the
 * fleet's VMs per zone and size, calls the shared fallback policy, and applies it through Spot Priority Mix:
 * on a fallback it raises `baseRegularPriorityCount` and the capacity by the Regular VMs missing (Azure adds
 * just those, as Regular; no Spot VM is replaced), and once spot is back it lowers the count and deletes only
 * the surplus Regular VMs. State lives in a blob (ETag preconditions); each decision is logged with its
 * reason and written as the custom metric `SpotInferenceConstructs/FallbackReplicas` (what `AzureFleetAlerts` watches).
 *
 * Several regions: `additionalFleets` puts the same service's fleets of other regions (and resource groups)
 * under this one controller; it observes every region's scale sets and applies per-region counts.
 *
 * Least privilege: the function's user-assigned identity gets a custom role with read, write and
 * delete-VMs on the fleets' scale sets only (assigned at each scale set), a read-only custom role for the
 * VMs' instance view in each fleet's resource group (Flexible scale sets' VMs are resources of the group),
 * Storage Blob Data Contributor on its state container only and Monitoring Metrics Publisher on the first scale set.
 *
 * Spares: by default one Spot-only scale set per zone of each built fleet, whose capacity the controller sets, so
 * the policy's spare Spot VMs run in zones it does not avoid. See docs/fallback-policy.md.
 *
 * Terraform leaves the scale sets' `priority_mix` to the controller from then on.
 */
export class AzureOnDemandFallback extends Construct {
  /** The Function App. */
  public readonly functionApp: LinuxFunctionApp;
  /** Its consumption plan. */
  public readonly servicePlan: ServicePlan;
  /** Host storage and state of the function. */
  public readonly storageAccount: StorageAccount;
  /** Container holding the state blob. */
  public readonly stateContainer: StorageContainer;
  /** The queue the agents post `Preempt` notices to (undefined with `evictionTrigger: false`). */
  public readonly evictionQueue?: StorageQueue;
  /** Its URL, for a fleet's `agent.controllerQueueUrl` (undefined with `evictionTrigger: false`). */
  public readonly evictionQueueUrl?: string;
  /** Identity of the function. */
  public readonly identity: UserAssignedIdentity;
  /** Custom role on the fleets' scale sets. */
  public readonly controlRole: RoleDefinition;
  /** Custom read-only role on the VMs of the fleets' resource groups. */
  public readonly observeRole: RoleDefinition;
  /** The NCRONTAB schedule of the timer. */
  public readonly schedule: string;
  /** The spare Spot scale sets this construct rendered (empty when given `spareScaleSets` or without spares). */
  public readonly spareScaleSets: OrchestratedVirtualMachineScaleSet[];
  /** Regions the controller drives, `location` first. */
  public readonly regions: string[];
  /**
   * The resource the controller writes its `FallbackReplicas` metric on (the app setting `METRICS_RESOURCE_ID`): the
   * first scale set of `fleet`. The value is the controller's whole fallback, every region's together. Undefined when
   * `customMetric` is false.
   */
  public readonly metricResourceId?: string;
  /** The fleet whose first scale set carries the metric. */
  private readonly metricFleet: IAzureSpotFleet;
  /** Every fleet the controller drives. */
  private readonly drivenFleets: IAzureSpotFleet[];

  constructor(scope: Construct, id: string, props: AzureOnDemandFallbackProps) {
    super(scope, id);
    const prefix = props.namePrefix ?? azureName(id);
    this.schedule = props.schedule ?? '0 * * * * *';
    const { fleets, spares } = this.validate(props);
    this.regions = fleets.map((f) => f.location);
    this.drivenFleets = fleets.map((f) => f.fleet);

    const common = { resourceGroupName: props.resourceGroupName, location: props.location, tags: props.tags };
    const client = new DataAzurermClientConfig(this, 'Client', {});
    const groupId = (group: string) => `/subscriptions/${client.subscriptionId}/resourceGroups/${group}`;
    const { rendered, refs: spareSets } = this.renderSpares(props, fleets, prefix, spares);
    this.spareScaleSets = rendered;

    // The controller owns the priority mix (and, with autoscale, the capacity) of the fleets it built from now on.
    for (const f of fleets) f.built?.letControllerSetPriorityMix();

    // Storage: host storage of the Function App, and the controller's state container.
    // The names hash only what is the same on every synth (stableNameHash: tokens count as empty).
    const hash = stableNameHash(this, [props.resourceGroupName, props.location]);
    const accountName = props.storageAccountName ?? defaultFallbackStorageAccountName(this.node.path, props.resourceGroupName, props.location);
    this.storageAccount = new StorageAccount(this, 'Storage', {
      ...common,
      name: accountName,
      accountTier: 'Standard',
      accountReplicationType: 'LRS',
      minTlsVersion: 'TLS1_2',
      httpsTrafficOnlyEnabled: true,
      allowNestedItemsToBePublic: false,
      infrastructureEncryptionEnabled: true,
    });
    this.stateContainer = new StorageContainer(this, 'State', {
      name: 'fallback-state',
      storageAccountId: this.storageAccount.id,
      containerAccessType: 'private',
    });
    const evictionTrigger = props.evictionTrigger ?? true;
    this.evictionQueue = evictionTrigger ? this.addEvictionQueue(fleets) : undefined;
    // The name as given (plain unless a deploy-time value): what AzureSpotInferenceService gave its agents.
    this.evictionQueueUrl = evictionTrigger ? fallbackEvictionQueueUrl(accountName) : undefined;

    // Identity and scoped roles.
    this.identity = new UserAssignedIdentity(this, 'Identity', { ...common, name: `${prefix}-fallback` });
    const roles = this.grantRoles(props, fleets, spareSets, groupId, prefix, hash);
    this.controlRole = roles.control;
    this.observeRole = roles.observe;
    const firstScaleSetId = fleets[0].fleet.scaleSetIds[0];
    const customMetric = props.customMetric ?? true;
    this.metricFleet = props.fleet;
    this.metricResourceId = customMetric ? firstScaleSetId : undefined;
    if (customMetric) {
      new RoleAssignment(this, 'PublishMetric', {
        scope: firstScaleSetId,
        roleDefinitionName: 'Monitoring Metrics Publisher',
        principalId: this.identity.principalId,
        principalType: 'ServicePrincipal',
      });
    }

    // The function: consumption plan, Node.js 22, zip deploy of the bundle with host.json and function.json.
    this.servicePlan = new ServicePlan(this, 'Plan', { ...common, name: `${prefix}-fallback-plan`, osType: 'Linux', skuName: 'Y1' });
    const archive = new TerraformAsset(this, 'FunctionCode', { path: stageFunctionApp(props.functionBundleDir, this.schedule, evictionTrigger), type: AssetType.ARCHIVE });
    const home = fleets[0];
    const scaleSetSettings = fleets.flatMap((f) =>
      f.capacities.map((c, i) => ({
        name: f.fleet.scaleSetNames[i],
        baseRegularCount: c.baseRegularCount,
        maxCapacity: c.maxCapacity,
        desiredCapacity: c.desiredCapacity,
        ...(f === home ? {} : { region: f.location, resourceGroup: f.resourceGroupName }),
      })),
    );
    this.functionApp = new LinuxFunctionApp(this, 'Function', {
      ...common,
      name: `${prefix}-fallback-${hash.slice(0, 6)}`,
      servicePlanId: this.servicePlan.id,
      storageAccountName: this.storageAccount.name,
      storageAccountAccessKey: this.storageAccount.primaryAccessKey,
      functionsExtensionVersion: '~4',
      httpsOnly: true,
      identity: { type: 'UserAssigned', identityIds: [this.identity.id] },
      siteConfig: {
        applicationStack: { nodeVersion: '22' },
        ftpsState: 'Disabled',
        minimumTlsVersion: '1.2',
        http2Enabled: true,
      },
      zipDeployFile: archive.path,
      appSettings: {
        WEBSITE_RUN_FROM_PACKAGE: '1',
        AZURE_CLIENT_ID: this.identity.clientId,
        FLEET_NAME: prefix,
        SUBSCRIPTION_ID: client.subscriptionId,
        RESOURCE_GROUP: home.resourceGroupName,
        SCALE_SETS: JSON.stringify(scaleSetSettings),
        MAX_CAPACITY: String(fleets.reduce((n, f) => n + f.maxCapacity, 0)),
        STATE_ACCOUNT: this.storageAccount.name,
        STATE_CONTAINER: this.stateContainer.name,
        STATE_BLOB: `${prefix}.json`,
        POLICY_OPTIONS: JSON.stringify(props.policy ?? {}),
        FLEET_REGION: props.location,
        ...(spareSets.length > 0
          ? {
            SPARE_SCALE_SETS: JSON.stringify(
              spareSets.map((s) => ({
                name: s.name,
                zone: s.zone,
                vmSize: s.vmSize,
                maxCapacity: s.maxCapacity,
                ...(s.location !== undefined && s.location !== props.location ? { region: s.location } : {}),
                ...(s.resourceGroupName !== undefined && s.resourceGroupName !== home.resourceGroupName ? { resourceGroup: s.resourceGroupName } : {}),
              })),
            ),
          }
          : {}),
        ...(customMetric ? { METRICS_REGION: props.location, METRICS_RESOURCE_ID: firstScaleSetId } : {}),
      },
      tags: props.tags,
    });
  }

  /**
   * The resource where the controller writes the fallback metric of `fleet`, for an alert on it: its first scale set
   * when `fleet` is this controller's `fleet` and `customMetric` is on; undefined otherwise. A fleet of
   * `additionalFleets` has none of its own: the controller writes one metric, its whole fallback (every region's), on
   * the first scale set of `fleet` only, so alert on `fleet` (`AzureFleetAlerts.forFleet(scope, id, controllerFleet,
   * { onDemandFallback })`).
   */
  public fallbackMetricResourceIdOf(fleet: IAzureSpotFleet): string | undefined {
    return fleet === this.metricFleet ? this.metricResourceId : undefined;
  }

  /** Whether this controller drives `fleet` (its `fleet` or one of its `additionalFleets`). */
  public drives(fleet: IAzureSpotFleet): boolean {
    return this.drivenFleets.includes(fleet);
  }

  /** Check every prop, report all problems together, and resolve the fleets the controller drives. */
  private validate(props: AzureOnDemandFallbackProps): { fleets: DrivenFleet[]; spares: number } {
    const v = new ProblemCollector();
    const C = FleetSpecErrorCode;
    const schedule = this.schedule;
    if (!Token.isUnresolved(schedule) && schedule.trim().split(/\s+/).length !== 6) {
      v.add(C.FALLBACK_SCHEDULE, 'schedule', `schedule ("${schedule}") must be an NCRONTAB expression of six fields (second minute hour day month weekday), as Azure Functions timers take it; use e.g. '0 * * * * *' (every minute)`);
    }
    const account = props.storageAccountName;
    if (account !== undefined && !Token.isUnresolved(account) && !/^[a-z0-9]{3,24}$/.test(account)) {
      v.add(C.AZURE_RESOURCE_NAME, 'storageAccountName', `storageAccountName ("${account}") must be 3-24 lower-case letters and digits; use e.g. "${account.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 24) || 'spotfbstate'}"`);
    }
    let spares = 0;
    try {
      spares = resolveFallbackPolicyOptions(props.policy ?? {}, 'policy').spareSpotReplicas;
    } catch (err) {
      if (!(err instanceof FleetSpecError)) throw err;
      v.addAll(err.problems.map((p) => ({ ...p, prop: `policy.${p.prop}`, message: `policy.${p.message}` })));
    }
    (props.spareScaleSets ?? []).forEach((set, i) => {
      if (!Token.isUnresolved(set.zone) && !/^[1-9]$/.test(set.zone)) v.add(FleetSpecErrorCode.ZONES, `spareScaleSets[${i}].zone`, `spareScaleSets[${i}].zone ("${set.zone}") must be one Azure availability zone number, e.g. "1"`);
      if (!Token.isUnresolved(set.maxCapacity) && !(Number.isInteger(set.maxCapacity) && set.maxCapacity >= 1)) {
        v.add(FleetSpecErrorCode.CAPACITY_NEGATIVE, `spareScaleSets[${i}].maxCapacity`, `spareScaleSets[${i}].maxCapacity (${set.maxCapacity}) must be a whole number, 1 or more (the spare VMs it may run)`);
      }
    });
    if (props.spareGroups === true && spares === 0) {
      v.add(C.FALLBACK_SPARES, 'spareGroups', 'spareGroups is true but policy.spareSpotReplicas is 0, so the spare scale sets would never run anything; set policy.spareSpotReplicas to 1 or more, or leave spareGroups out');
    }
    const built = [props.fleet, ...(props.additionalFleets ?? []).map((r) => r.fleet)].some((f) => f instanceof AzureSpotFleet);
    if (props.spareGroups === true && props.spareScaleSets === undefined && !built) {
      v.add(FleetSpecErrorCode.FALLBACK_SPARES, 'spareGroups', `spareGroups is true but fleet ${props.fleet.fleetName} is imported: the spare scale sets are copies of a AzureSpotFleet's first scale set, and an imported fleet has none to copy; give spareScaleSets (Spot-only scale sets you created, one per zone) or leave spareGroups out`);
    }
    const fleets: DrivenFleet[] = [];
    const main = resolveFleet(v, 'fleet', props.fleet, props.location, props.scaleSetCapacities, 'scaleSetCapacities', '');
    if (main) fleets.push(main);
    const seen = new Set<string>([props.location]);
    (props.additionalFleets ?? []).forEach((r, i) => {
      const at = `additionalFleets[${i}]`;
      const location = r.location ?? (r.fleet instanceof AzureSpotFleet ? r.fleet.scaleSets[0].scaleSet.locationInput : undefined);
      if (location === undefined || Token.isUnresolved(location)) {
        v.add(C.REGION_LIST, `${at}.location`, `${at}.location is not set (or is a deploy-time value) and fleet ${r.fleet.fleetName} is imported, so its region is unknown; give the Azure region of its scale sets, e.g. "westeurope" (its pools are <region>/<zone>/<size>)`);
        return;
      }
      if (seen.has(location)) {
        v.add(FleetSpecErrorCode.REGION_LIST, `${at}.location`, `${at} (fleet ${r.fleet.fleetName}) is in region ${location}, which this controller already drives; list one fleet per other region`);
        return;
      }
      seen.add(location);
      const f = resolveFleet(v, `${at}.fleet`, r.fleet, location, r.scaleSetCapacities, `${at}.scaleSetCapacities`, `-${location}`);
      if (f) fleets.push(f);
    });
    const capacities = fleets.flatMap((f) => f.capacities);
    if (fleets.length > 0 && capacities.length > 0 && capacities.every((c) => c.baseRegularCount >= c.maxCapacity)) {
      const total = fleets.reduce((n, f) => n + f.maxCapacity, 0);
      const base = capacities.reduce((n, c) => n + c.baseRegularCount, 0);
      v.add(C.FALLBACK_CAPACITY, 'fleet', `the fleet has no Spot share (maxCapacity ${total}, on-demand base ${base}), so there is nothing to fall back from; raise maxCapacity above the base or leave the fallback out`);
    }
    v.throwIfAny(this.node.path);
    return { fleets, spares };
  }

  /** The spare Spot scale sets: given, or one per zone of each built fleet, a Spot-only copy of its first scale set. */
  private renderSpares(props: AzureOnDemandFallbackProps, fleets: DrivenFleet[], prefix: string, spares: number): { rendered: OrchestratedVirtualMachineScaleSet[]; refs: AzureSpareScaleSetRef[] } {
    if (props.spareScaleSets !== undefined || !(props.spareGroups ?? true) || spares === 0) return { rendered: [], refs: props.spareScaleSets ?? [] };
    const rendered: OrchestratedVirtualMachineScaleSet[] = [];
    const refs: AzureSpareScaleSetRef[] = [];
    for (const f of fleets) {
      if (!f.built) continue; // an imported fleet has no scale set to copy
      const main = f.built.scaleSets[0].scaleSet;
      const sku = main.skuNameInput === 'Mix' ? ((main.skuProfileInput as { vmSizes?: string[] } | undefined)?.vmSizes?.[0] ?? f.built.spec.instanceTypes[0]) : main.skuNameInput ?? f.built.spec.instanceTypes[0];
      for (const zone of f.built.spec.zones ?? ['1', '2', '3']) {
        const name = `${prefix}${f.suffix}-spare-${zone}-vmss`;
        if (!Token.isUnresolved(name) && name.length > 64) {
          // azurerm: a Linux scale set's name is 1-64 characters.
          throw new FleetSpecError([{ code: FleetSpecErrorCode.FALLBACK_SPARES, prop: 'namePrefix', message: `the spare scale set name "${name}" (${name.length} characters) is longer than the 64 Azure allows; use a namePrefix of at most ${64 - (name.length - prefix.length)} characters (now "${prefix}", ${prefix.length})` }], this.node.path);
        }
        const set = new OrchestratedVirtualMachineScaleSet(this, f.suffix === '' ? `SpareScaleSet${zone}` : `SpareScaleSet${f.suffix}-${zone}`, {
          name,
          resourceGroupName: f.resourceGroupName,
          location: f.location,
          skuName: sku,
          instances: 0,
          platformFaultDomainCount: 1,
          singlePlacementGroup: false,
          zones: [zone],
          priority: 'Spot',
          evictionPolicy: main.evictionPolicyInput,
          maxBidPrice: main.maxBidPriceInput,
          automaticInstanceRepair: main.automaticInstanceRepairInput,
          extension: main.extensionInput,
          identity: main.identityInput,
          osProfile: main.osProfileInput,
          sourceImageReference: main.sourceImageReferenceInput,
          osDisk: main.osDiskInput,
          encryptionAtHostEnabled: main.encryptionAtHostEnabledInput,
          networkInterface: main.networkInterfaceInput,
          tags: props.tags,
          // The controller owns the capacity.
          lifecycle: { ignoreChanges: ['instances'] },
        });
        rendered.push(set);
        refs.push({ name, id: set.id, zone, vmSize: sku, maxCapacity: spares, location: f.location, resourceGroupName: f.resourceGroupName });
      }
    }
    return { rendered, refs };
  }

  /**
   * The eviction queue in the function's storage account, and Storage Queue Data Message Sender on it for the identity
   * of each fleet this package built (its VMs and the spare scale sets rendered from it post with it). An imported
   * fleet's VMs need that role given by hand.
   */
  private addEvictionQueue(fleets: DrivenFleet[]): StorageQueue {
    const queue = new StorageQueue(this, 'Evictions', { name: EVICTION_QUEUE_NAME, storageAccountId: this.storageAccount.id });
    const built = [...new Set(fleets.map((f) => (f.fleet instanceof AzureSpotFleet ? f.fleet : undefined)).filter((f): f is AzureSpotFleet => f !== undefined))];
    built.forEach((f, i) =>
      new RoleAssignment(this, i === 0 ? 'EvictionSender' : `EvictionSender${i + 1}`, {
        // With storage_account_id the queue's id is its Resource Manager id (resource_manager_id is deprecated), as the state
        // container's.
        scope: queue.id,
        roleDefinitionName: 'Storage Queue Data Message Sender',
        principalId: f.grantPrincipalId,
        principalType: 'ServicePrincipal',
      }),
    );
    return queue;
  }

  /** Control role at each scale set (the fleets' and the spares'), observe role in each fleet's resource group, state blobs. */
  private grantRoles(
    props: AzureOnDemandFallbackProps,
    fleets: DrivenFleet[],
    spareSets: AzureSpareScaleSetRef[],
    groupId: (group: string) => string,
    prefix: string,
    hash: string,
  ): { control: RoleDefinition; observe: RoleDefinition } {
    const home = groupId(props.resourceGroupName);
    const groups = [...new Set([...fleets.map((f) => f.resourceGroupName), ...spareSets.map((s) => s.resourceGroupName ?? fleets[0].resourceGroupName)])];
    const control = new RoleDefinition(this, 'ControlRole', {
      name: `${prefix} spot fallback control (${hash.slice(0, 8)})`,
      scope: home,
      description: 'Read a spot fleet scale set, change its priority mix and capacity, delete its surplus Regular VMs.',
      permissions: [
        {
          actions: ['Microsoft.Compute/virtualMachineScaleSets/read', 'Microsoft.Compute/virtualMachineScaleSets/write', 'Microsoft.Compute/virtualMachineScaleSets/delete/action'],
        },
      ],
      assignableScopes: [...fleets.flatMap((f) => f.fleet.scaleSetIds), ...spareSets.map((s) => s.id)],
    });
    const observe = new RoleDefinition(this, 'ObserveRole', {
      name: `${prefix} spot fallback observe (${hash.slice(0, 8)})`,
      scope: home,
      description: 'Read VMs and their instance view (priority, zone, power and health state).',
      permissions: [{ actions: ['Microsoft.Compute/virtualMachines/read', 'Microsoft.Compute/virtualMachines/instanceView/read'] }],
      assignableScopes: groups.map(groupId),
    });
    const assign = (cid: string, scope: string, role: RoleDefinition) =>
      new RoleAssignment(this, cid, { scope, roleDefinitionId: role.roleDefinitionResourceId, principalId: this.identity.principalId, principalType: 'ServicePrincipal' });
    for (const f of fleets) {
      const ids = f.fleet.scaleSetIds;
      ids.forEach((sid, i) => assign(ids.length === 1 && f.suffix === '' ? 'ControlScaleSet' : `ControlScaleSet${f.suffix}${i + 1}`, sid, control));
    }
    spareSets.forEach((s, i) => assign(`ControlSpareScaleSet${i + 1}`, s.id, control));
    // A group given as a token (a deploy-time name) cannot be part of a construct id: its position is.
    groups.forEach((g, i) => assign(i === 0 ? 'ObserveVms' : Token.isUnresolved(g) ? `ObserveVmsGroup${i}` : `ObserveVms-${g}`, groupId(g), observe));
    new RoleAssignment(this, 'StateBlobs', {
      scope: this.stateContainer.id,
      roleDefinitionName: 'Storage Blob Data Contributor',
      principalId: this.identity.principalId,
      principalType: 'ServicePrincipal',
    });
    return { control, observe };
  }
}

/** A fleet's scale sets and their capacities; problems go to `v`. */
function resolveFleet(
  v: ProblemCollector,
  prop: string,
  fleet: IAzureSpotFleet,
  location: string,
  given: AzureFallbackScaleSetCapacity[] | undefined,
  capacitiesProp: string,
  suffix: string,
): DrivenFleet | undefined {
  const C = FleetSpecErrorCode;
  if (Token.isUnresolved(fleet.scaleSetIds) || Token.isUnresolved(fleet.scaleSetNames)) {
    v.add(C.DEPLOY_TIME_VALUE, prop, `${prop} (fleet ${fleet.fleetName}) lists its scale sets as one deploy-time value; the controller needs one entry per scale set at synth: import it with a list of ids (scaleSetIds: [a, b]) and their scaleSetNames`);
    return undefined;
  }
  const built = fleet instanceof AzureSpotFleet ? fleet : undefined;
  if (built) {
    if (given !== undefined) v.add(FleetSpecErrorCode.FALLBACK_CAPACITY, capacitiesProp, `${capacitiesProp} is set for fleet ${fleet.fleetName}, which this package built and which knows its own capacities; leave ${capacitiesProp} out`);
    const capacities = built.plans.map((p) => ({ baseRegularCount: p.baseRegularCount, maxCapacity: p.maxCapacity, desiredCapacity: p.desiredCapacity }));
    // The resource group as given (not the scale set's attribute): two fleets in one group must share one observe assignment.
    const resourceGroupName = built.scaleSets[0].scaleSet.resourceGroupNameInput ?? fleet.resourceGroupName;
    return { fleet, built, location, resourceGroupName, capacities, maxCapacity: built.spec.maxCapacity, suffix };
  }
  if (given === undefined) {
    v.add(FleetSpecErrorCode.FALLBACK_CAPACITY, capacitiesProp, `${capacitiesProp} is not set, but fleet ${fleet.fleetName} is imported (fromScaleSetAttributes), so the controller does not know its capacities; give one {baseRegularCount, maxCapacity, desiredCapacity} per scale set, in the order of its scaleSetIds`);
    return undefined;
  }
  if (given.length !== fleet.scaleSetIds.length) {
    v.add(FleetSpecErrorCode.FALLBACK_CAPACITY, capacitiesProp, `${capacitiesProp} has ${given.length} entries for the ${fleet.scaleSetIds.length} scale sets of fleet ${fleet.fleetName}; give one per scale set, in the order of its scaleSetIds`);
    return undefined;
  }
  let ok = true;
  given.forEach((c, i) => {
    let good = true;
    for (const k of ['baseRegularCount', 'maxCapacity', 'desiredCapacity'] as const) {
      const x = c[k];
      if (Token.isUnresolved(x)) {
        v.add(FleetSpecErrorCode.FALLBACK_CAPACITY, `${capacitiesProp}[${i}].${k}`, `${capacitiesProp}[${i}].${k} is a deploy-time value; the controller computes with it, so give the number itself`);
        good = false;
      } else if (!(Number.isInteger(x) && x >= 0)) {
        v.add(FleetSpecErrorCode.FALLBACK_CAPACITY, `${capacitiesProp}[${i}].${k}`, `${capacitiesProp}[${i}].${k} (${x}) must be a whole number, 0 or more`);
        good = false;
      }
    }
    if (good && (c.baseRegularCount > c.maxCapacity || c.desiredCapacity > c.maxCapacity)) {
      v.add(FleetSpecErrorCode.FALLBACK_CAPACITY, `${capacitiesProp}[${i}]`, `${capacitiesProp}[${i}] has baseRegularCount ${c.baseRegularCount} and desiredCapacity ${c.desiredCapacity} above its maxCapacity ${c.maxCapacity}; each must be at most maxCapacity`);
      good = false;
    }
    ok = ok && good;
  });
  if (!ok) return undefined;
  return { fleet, location, resourceGroupName: fleet.resourceGroupName, capacities: given, maxCapacity: given.reduce((n, c) => n + c.maxCapacity, 0), suffix };
}

/**
 * The extension bundle a Node.js app needs for any trigger beyond HTTP and timer (the queue trigger's Storage extension
 * comes in it; "Extension bundles", Azure Functions documentation).
 */
const EXTENSION_BUNDLE = { id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' };

/**
 * host.json `extensions.queues` of the eviction trigger: the host polls the (usually empty) queue every 2 s at most
 * instead of backing off to a minute, takes one message at a time (each run reads and writes the one state blob),
 * and drops a message after two failed runs (the timer covers it; a stale eviction is worth nothing).
 */
const EVICTION_QUEUE_HOST_SETTINGS = { maxPollingInterval: '00:00:02', batchSize: 1, newBatchThreshold: 0, maxDequeueCount: 2 };

/**
 * Stage the Function App's files in a directory named by their hash (so the archive's hash only changes
 * with them): the bundle (`index.js`, `package.json`), `host.json`, `fallback/function.json` with the timer binding
 * and, with the eviction trigger, `eviction/function.json` with the queue binding.
 */
function stageFunctionApp(bundleDir: string | undefined, schedule: string, evictionTrigger: boolean): string {
  const candidates = bundleDir
    ? [resolve(bundleDir)]
    : [join(__dirname, '..', '..', 'dist', 'handlers', 'azure', 'fallback'), join(__dirname, '..', '..', 'handlers', 'azure', 'fallback')];
  const dir = candidates.find((c) => existsSync(join(c, 'index.js')));
  if (!dir) {
    throw new FleetSpecError([
      {
        code: FleetSpecErrorCode.HANDLER_BUNDLE_MISSING,
        prop: 'functionBundleDir',
        message: `bundle ${bundleDir ? `"${bundleDir}"` : 'dist/handlers/azure/fallback'} not found (looked for index.js in ${candidates.join(', ')}); run \`npm run build:handlers\` first so that synth can ship it${bundleDir ? ', or fix functionBundleDir' : ''}`,
      },
    ]);
  }
  const files: Record<string, Buffer> = {
    'index.js': readFileSync(join(dir, 'index.js')),
    'package.json': existsSync(join(dir, 'package.json')) ? readFileSync(join(dir, 'package.json')) : Buffer.from('{"name":"spot-fallback","private":true}\n'),
    'host.json': Buffer.from(`${JSON.stringify({ version: '2.0', logging: { logLevel: { default: 'Information' } }, functionTimeout: '00:02:00', ...(evictionTrigger ? { extensionBundle: EXTENSION_BUNDLE, extensions: { queues: EVICTION_QUEUE_HOST_SETTINGS } } : {}) }, null, 2)}\n`),
    'fallback/function.json': Buffer.from(
      `${JSON.stringify({ bindings: [{ name: 'timer', type: 'timerTrigger', direction: 'in', schedule, runOnStartup: false, useMonitor: true }], scriptFile: '../index.js', entryPoint: 'fallbackTimer' }, null, 2)}\n`,
    ),
    ...(evictionTrigger
      ? {
        'eviction/function.json': Buffer.from(
          `${JSON.stringify({ bindings: [{ name: 'message', type: 'queueTrigger', direction: 'in', queueName: EVICTION_QUEUE_NAME, connection: 'AzureWebJobsStorage' }], scriptFile: '../index.js', entryPoint: 'fallbackOnEviction' }, null, 2)}\n`,
        ),
      }
      : {}),
  };
  const hash = createHash('sha256');
  for (const name of Object.keys(files).sort()) hash.update(name).update(files[name]);
  const out = join(tmpdir(), 'spot-inference-constructs-assets', `azure-fallback-${hash.digest('hex').slice(0, 24)}`);
  if (!existsSync(out)) {
    const partial = `${out}.${process.pid}.tmp`;
    for (const [name, data] of Object.entries(files)) {
      mkdirSync(dirname(join(partial, name)), { recursive: true });
      writeFileSync(join(partial, name), data);
    }
    try {
      renameSync(partial, out);
    } catch {
      // another process staged the same content first
    }
  }
  return out;
}
