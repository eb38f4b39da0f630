import { DataAzurermClientConfig } from '@cdktf/provider-azurerm/lib/data-azurerm-client-config';
import { LinuxFunctionApp } from '@cdktf/provider-azurerm/lib/linux-function-app';
import { OrchestratedVirtualMachineScaleSet } from '@cdktf/provider-azurerm/lib/orchestrated-virtual-machine-scale-set';
import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment';
import { RoleDefinition } from '@cdktf/provider-azurerm/lib/role-definition';
import { ServicePlan } from '@cdktf/provider-azurerm/lib/service-plan';
import { StorageAccount } from '@cdktf/provider-azurerm/lib/storage-account';
import { StorageContainer } from '@cdktf/provider-azurerm/lib/storage-container';
import { UserAssignedIdentity } from '@cdktf/provider-azurerm/lib/user-assigned-identity';
import { AssetType, TerraformAsset, Token } from 'cdktf';
import { Construct } from 'constructs';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { FallbackPolicyOptions, resolveFallbackPolicyOptions } from '../../lib/policy';
import { FleetSpecError, FleetSpecErrorCode, ProblemCollector } from '../../lib/spec';
import { azureName } from './network';
import { SpotScaleSetFleet } from './spot-scale-set-fleet';

/** Namespace and name of the custom metric the controller writes on the fleet's first scale set. */
export const FALLBACK_METRIC_NAMESPACE = 'SpotInference';
export const FALLBACK_METRIC_NAME = 'FallbackReplicas';

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
}

/** Props of {@link AzureOnDemandFallback}. */
export interface AzureOnDemandFallbackProps {
  /** The fleet whose scale sets the controller adjusts. */
  readonly fleet: SpotScaleSetFleet;
  /** Resource group of the controller's resources (usually the fleet's). */
  readonly resourceGroupName: string;
  /** Azure region, e.g. `eastus2`. */
  readonly location: string;
  /** Prefix of the Azure resource names. @default - the construct id, lower case */
  readonly namePrefix?: string;
  /** Tags on every resource that takes them. @default - none */
  readonly tags?: { [key: string]: string };
  /**
   * How often the controller runs: an NCRONTAB expression of six fields (second minute hour day month weekday).
   * @default '0 * * * * *' - every minute
   */
  readonly schedule?: string;
  /** Tuning of the fallback policy. @default - the policy's defaults */
  readonly policy?: FallbackPolicyOptions;
  /**
   * Also write the custom metric `SpotInference/FallbackReplicas` to Azure Monitor (on the first scale set;
   * needs Monitoring Metrics Publisher there). Every run logs the value as a structured line either way.
   * @default true
   */
  readonly customMetric?: boolean;
  /**
   * Name of the storage account of the Function App (host storage and the controller's state); 3-24
   * lower-case letters and digits, unique in Azure.
   * @default - `spotfb` and a hash of the construct path, resource group and region
   */
  readonly storageAccountName?: string;
  /** Path of the bundled function directory. @default - dist/handlers/azure/fallback from `npm run build:handlers` */
  readonly functionBundleDir?: string;
  /**
   * Spare Spot scale sets the controller sizes (one per zone: a scale set's zones cannot be narrowed while it
   * runs VMs, so the controller steers by size per zone). They must be Spot only, without an autoscale setting,
   * and in the fleet's resource group. The control role is assigned at each of them.
   * @default - with `spareGroups: true`, one per zone of the fleet, rendered here; otherwise none
   */
  readonly spareScaleSets?: AzureSpareScaleSetRef[];
  /**
   * Render the spare Spot scale sets: one per zone of the fleet, a copy of the fleet's first scale set (image,
   * custom data and agent, identity, NIC in the same subnet, security group and backend pool, health extension)
   * with Spot priority only, no priority mix, no autoscale setting and capacity 0: the controller alone sizes them.
   * Ignored when `spareScaleSets` is given. Opt-in on Azure for now: each spare set is a full scale set (three
   * more resources per fleet); without spare sets the policy's spares are logged as not applied.
   * @default false
   */
  readonly spareGroups?: boolean;
}

/**
 * The on-demand fallback controller of an Azure spot fleet: a Linux Function App (consumption plan,
 * Node.js 22, code zip-deployed from the bundle) with a timer trigger every minute. Each run lists the
 * fleet's VMs per zone and size, calls the shared fallback policy, and applies it through Spot Priority Mix:
 * on a fallback it raises `baseRegularPriorityCount` and the capacity by the Regular VMs missing (Azure adds
 * just those, as Regular; no Spot VM is replaced), and once spot is back it lowers the count and deletes only
 * the surplus Regular VMs. State lives in a blob (ETag preconditions); each decision is logged with its
 * reason and written as the custom metric `SpotInference/FallbackReplicas`.
 *
 * Least privilege: the function's user-assigned identity gets a custom role with read, write and
 * delete-VMs on the fleet's scale sets only (assigned at each scale set), a read-only custom role for the
 * VMs' instance view in the resource group (Flexible scale sets' VMs are resources of the group), Storage
 * Blob Data Contributor on its state container only and Monitoring Metrics Publisher on the first scale set.
 *
 * Spares: with `spareGroups: true` (or your own `spareScaleSets`), one Spot-only scale set per zone whose capacity
 * the controller sets, so the policy's spare Spot VMs run in zones it does not avoid. See docs/fallback-policy.md.
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
  /** Identity of the function. */
  public readonly identity: UserAssignedIdentity;
  /** Custom role on the fleet's scale sets. */
  public readonly controlRole: RoleDefinition;
  /** Custom read-only role on the VMs of the resource group. */
  public readonly observeRole: RoleDefinition;
  /** The NCRONTAB schedule of the timer. */
  public readonly schedule: string;
  /** The spare Spot scale sets this construct rendered (empty when given `spareScaleSets` or without spares). */
  public readonly spareScaleSets: OrchestratedVirtualMachineScaleSet[];

  constructor(scope: Construct, id: string, props: AzureOnDemandFallbackProps) {
    super(scope, id);
    const { fleet } = props;
    const prefix = props.namePrefix ?? azureName(id);
    const schedule = props.schedule ?? '0 * * * * *';
    const v = new ProblemCollector();
    if (!Token.isUnresolved(schedule) && schedule.trim().split(/\s+/).length !== 6) {
      v.add(FleetSpecErrorCode.CLOUD_CONSTRAINT, 'schedule', `schedule ("${schedule}") must be an NCRONTAB expression of six fields (second minute hour day month weekday), as Azure Functions timers take it; use e.g. '0 * * * * *' (every minute)`);
    }
    if (fleet.plans.every((p) => p.baseRegularCount >= p.maxCapacity)) {
      v.add(FleetSpecErrorCode.CLOUD_CONSTRAINT, 'fleet', `the fleet has no Spot share (maxCapacity ${fleet.spec.maxCapacity}, on-demand base ${fleet.spec.onDemandBaseCapacity}), so there is nothing to fall back from; raise maxCapacity above the base or leave the fallback out`);
    }
    const account = props.storageAccountName;
    if (account !== undefined && !Token.isUnresolved(account) && !/^[a-z0-9]{3,24}$/.test(account)) {
      v.add(FleetSpecErrorCode.CLOUD_CONSTRAINT, 'storageAccountName', `storageAccountName ("${account}") must be 3-24 lower-case letters and digits; use e.g. "${account.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 24) || 'spotfbstate'}"`);
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
    v.throwIfAny(this.node.path);
    this.schedule = schedule;

    const common = { resourceGroupName: props.resourceGroupName, location: props.location, tags: props.tags };
    const client = new DataAzurermClientConfig(this, 'Client', {});
    const resourceGroupId = `/subscriptions/${client.subscriptionId}/resourceGroups/${props.resourceGroupName}`;
    const scaleSets = fleet.scaleSets.map((s) => s.scaleSet);
    // Spare Spot scale sets: given, or one per zone rendered as a Spot-only copy of the fleet's first scale set.
    const main = scaleSets[0];
    const zonesOfFleet = fleet.spec.zones ?? ['1', '2', '3'];
    if (props.spareGroups === true && spares === 0) {
      throw new FleetSpecError([{ code: FleetSpecErrorCode.CLOUD_CONSTRAINT, prop: 'spareGroups', message: 'spareGroups is true but policy.spareSpotReplicas is 0, so the spare scale sets would never run anything; set policy.spareSpotReplicas to 1 or more, or leave spareGroups out' }], this.node.path);
    }
    const render = props.spareScaleSets === undefined && props.spareGroups === true && spares > 0;
    const spareSku = main.skuNameInput === 'Mix' ? ((main.skuProfileInput as { vmSizes?: string[] } | undefined)?.vmSizes?.[0] ?? fleet.spec.instanceTypes[0]) : main.skuNameInput ?? fleet.spec.instanceTypes[0];
    const spareName = (zone: string): string => `${prefix}-spare-${zone}-vmss`;
    this.spareScaleSets = render
      ? zonesOfFleet.map(
        (zone) =>
          new OrchestratedVirtualMachineScaleSet(this, `SpareScaleSet${zone}`, {
            name: spareName(zone),
            resourceGroupName: props.resourceGroupName,
            location: props.location,
            skuName: spareSku,
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
          }),
      )
      : [];
    const spareSets: AzureSpareScaleSetRef[] = props.spareScaleSets ?? this.spareScaleSets.map((set, i) => ({ name: spareName(zonesOfFleet[i]), id: set.id, zone: zonesOfFleet[i], vmSize: spareSku, maxCapacity: spares }));

    // The controller owns the priority mix (and, with autoscale, the capacity) from now on.
    fleet.letControllerSetPriorityMix();

    // Storage: host storage of the Function App, and the controller's state container.
    const hash = createHash('sha256').update(`${this.node.path}/${props.resourceGroupName}/${props.location}`).digest('hex');
    this.storageAccount = new StorageAccount(this, 'Storage', {
      ...common,
      name: account ?? `spotfb${hash.slice(0, 18)}`,
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

    // Identity and scoped roles.
    this.identity = new UserAssignedIdentity(this, 'Identity', { ...common, name: `${prefix}-fallback` });
    this.controlRole = new RoleDefinition(this, 'ControlRole', {
      name: `${prefix} spot fallback control (${hash.slice(0, 8)})`,
      scope: resourceGroupId,
      description: 'Read a spot fleet scale set, change its priority mix and capacity, delete its surplus Regular VMs.',
      permissions: [
        {
          actions: ['Microsoft.Compute/virtualMachineScaleSets/read', 'Microsoft.Compute/virtualMachineScaleSets/write', 'Microsoft.Compute/virtualMachineScaleSets/delete/action'],
        },
      ],
      assignableScopes: [...scaleSets.map((s) => s.id), ...spareSets.map((s) => s.id)],
    });
    this.observeRole = new RoleDefinition(this, 'ObserveRole', {
      name: `${prefix} spot fallback observe (${hash.slice(0, 8)})`,
      scope: resourceGroupId,
      description: 'Read VMs and their instance view (priority, zone, power and health state).',
      permissions: [{ actions: ['Microsoft.Compute/virtualMachines/read', 'Microsoft.Compute/virtualMachines/instanceView/read'] }],
      assignableScopes: [resourceGroupId],
    });
    scaleSets.forEach((s, i) => {
      new RoleAssignment(this, scaleSets.length === 1 ? 'ControlScaleSet' : `ControlScaleSet${i + 1}`, {
        scope: s.id,
        roleDefinitionId: this.controlRole.roleDefinitionResourceId,
        principalId: this.identity.principalId,
        principalType: 'ServicePrincipal',
      });
    });
    spareSets.forEach((s, i) => {
      new RoleAssignment(this, `ControlSpareScaleSet${i + 1}`, {
        scope: s.id,
        roleDefinitionId: this.controlRole.roleDefinitionResourceId,
        principalId: this.identity.principalId,
        principalType: 'ServicePrincipal',
      });
    });
    new RoleAssignment(this, 'ObserveVms', {
      scope: resourceGroupId,
      roleDefinitionId: this.observeRole.roleDefinitionResourceId,
      principalId: this.identity.principalId,
      principalType: 'ServicePrincipal',
    });
    new RoleAssignment(this, 'StateBlobs', {
      scope: this.stateContainer.id,
      roleDefinitionName: 'Storage Blob Data Contributor',
      principalId: this.identity.principalId,
      principalType: 'ServicePrincipal',
    });
    const customMetric = props.customMetric ?? true;
    if (customMetric) {
      new RoleAssignment(this, 'PublishMetric', {
        scope: scaleSets[0].id,
        roleDefinitionName: 'Monitoring Metrics Publisher',
        principalId: this.identity.principalId,
        principalType: 'ServicePrincipal',
      });
    }

    // The function: consumption plan, Node.js 22, zip deploy of the bundle with host.json and function.json.
    this.servicePlan = new ServicePlan(this, 'Plan', { ...common, name: `${prefix}-fallback-plan`, osType: 'Linux', skuName: 'Y1' });
    const archive = new TerraformAsset(this, 'FunctionCode', { path: stageFunctionApp(props.functionBundleDir, schedule), type: AssetType.ARCHIVE });
    const scaleSetSettings = fleet.plans.map((p, i) => ({
      name: scaleSets[i].name,
      baseRegularCount: p.baseRegularCount,
      maxCapacity: p.maxCapacity,
      desiredCapacity: p.desiredCapacity,
    }));
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
        RESOURCE_GROUP: props.resourceGroupName,
        SCALE_SETS: JSON.stringify(scaleSetSettings),
        MAX_CAPACITY: String(fleet.spec.maxCapacity),
        STATE_ACCOUNT: this.storageAccount.name,
        STATE_CONTAINER: this.stateContainer.name,
        STATE_BLOB: `${prefix}.json`,
        POLICY_OPTIONS: JSON.stringify(props.policy ?? {}),
        FLEET_REGION: props.location,
        ...(spareSets.length > 0 ? { SPARE_SCALE_SETS: JSON.stringify(spareSets.map((s) => ({ name: s.name, zone: s.zone, vmSize: s.vmSize, maxCapacity: s.maxCapacity }))) } : {}),
        ...(customMetric ? { METRICS_REGION: props.location, METRICS_RESOURCE_ID: scaleSets[0].id } : {}),
      },
      tags: props.tags,
    });
  }
}

/**
 * Stage the Function App's files in a directory named by their hash (so the archive's hash only changes
 * with them): the bundle (`index.js`, `package.json`), `host.json`, and `fallback/function.json` with the
 * timer binding.
 */
function stageFunctionApp(bundleDir: string | undefined, schedule: string): string {
  const candidates = bundleDir
    ? [resolve(bundleDir)]
    : [join(__dirname, '..', '..', 'dist', 'handlers', 'azure', 'fallback'), join(__dirname, '..', '..', 'handlers', 'azure', 'fallback')];
  const dir = candidates.find((c) => existsSync(join(c, 'index.js')));
  if (!dir) {
    throw new FleetSpecError([
      {
        code: FleetSpecErrorCode.CLOUD_CONSTRAINT,
        prop: 'functionBundleDir',
        message: `bundle ${bundleDir ? `"${bundleDir}"` : 'dist/handlers/azure/fallback'} not found (looked for index.js in ${candidates.join(', ')}); run \`npm run build:handlers\` first so that synth can ship it${bundleDir ? ', or fix functionBundleDir' : ''}`,
      },
    ]);
  }
  const files: Record<string, Buffer> = {
    'index.js': readFileSync(join(dir, 'index.js')),
    'package.json': existsSync(join(dir, 'package.json')) ? readFileSync(join(dir, 'package.json')) : Buffer.from('{"name":"spot-fallback","private":true}\n'),
    'host.json': Buffer.from(`${JSON.stringify({ version: '2.0', logging: { logLevel: { default: 'Information' } }, functionTimeout: '00:02:00' }, null, 2)}\n`),
    'fallback/function.json': Buffer.from(
      `${JSON.stringify({ bindings: [{ name: 'timer', type: 'timerTrigger', direction: 'in', schedule, runOnStartup: false, useMonitor: true }], scriptFile: '../index.js', entryPoint: 'fallbackTimer' }, null, 2)}\n`,
    ),
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
