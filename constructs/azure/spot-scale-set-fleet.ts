import { NetworkSecurityGroup } from '@cdktf/provider-azurerm/lib/network-security-group';
import { SubnetNetworkSecurityGroupAssociation } from '@cdktf/provider-azurerm/lib/subnet-network-security-group-association';
import { UserAssignedIdentity } from '@cdktf/provider-azurerm/lib/user-assigned-identity';
import { Fn, Token } from 'cdktf';
import { Construct } from 'constructs';
import { AgentDrainOptions, DrainMode } from '../../lib/runtime/agent-config';
import { validateAgentConfig } from '../../lib/runtime/agent-options';
import { FleetAgentPlan } from '../../lib/runtime/fleet-agent';
import { CLOUD_PROFILES, Cloud, CpuArchitecture, FleetSpec, FleetSpecError, FleetSpecErrorCode, ProblemCollector, ResolvedFleetSpec } from '../../lib/spec';
import { FleetPlan, planFleet } from '../../lib/spec/plan-fleet';
import { checkEnumValue } from '../../lib/spec/rules';
import { FleetSpecProblem } from '../../lib/spec/errors';
import { withCurrentOptionNames } from '../../lib/spec/option-aliases';
import { AzureAgentBlob } from './agent-blob';
import { AZURE_CUSTOM_DATA_MAX_CHARS, blobAgentFetch, defaultAgentBundlePath, fitsCustomData, inlineAgentFetch, readAgentBundle, renderAgentCustomData, toCustomData } from './agent-custom-data';
import { AzureScaleSetOrchestration, IAzureSpotFleet, ImportedAzureSpotFleet, AzureSpotFleetAttributes } from './fleet-interface';
import { AzureExistingBackendPool, AzureProbeOptions, AzureBackendPoolAttachment, AzureInferenceLoadBalancer } from './load-balancer';
import { AzureResourceOptions, AzureFleetNetwork, AzureFleetSecurityGroup, azureName } from './network';
import { checkedSecurityRule } from './provider-rules';
import { AzureFleetChoices, AzureSizeStrategy, ScaleSetPlan, scaleSetCount, scaleSetPlansOf, validateAzureFleet } from './rules';
import { IScaleSetAutoscaleProfiles, AzureSpotScaleSet, AzureSpotScaleSetOptions, UBUNTU_2404_ARM64, UBUNTU_2404_X86_64 } from './scale-set';
import { AZURE_VM_SIZE_CATALOG } from './vm-sizes';

/** How the agent bundle reaches the VMs. */
export enum AgentDelivery {
  /** Inline when the custom data fits Azure's 64 KiB limit, otherwise a private storage blob. */
  AUTO = 'auto',
  /** Inside the custom data (gzip + base64): no storage account, no role assignment. Refused when too large. */
  INLINE = 'inline',
  /** A private blob the VMs download with their managed identity (Storage Blob Data Reader on its container). */
  STORAGE_BLOB = 'storage-blob',
}

/**
 * The on-instance spot agent of an Azure fleet: how it drains the server on a `Preempt` or `Terminate`
 * scheduled event. Same shape as the AWS and Google Cloud fleets' `agent` prop.
 */
export interface AzureSpotAgentOptions extends AgentDrainOptions {
  /** The agent bundle on the synth machine. @default - this package's `dist/runtime/spot-agent-portable/index.js` (without the AWS SDK) */
  readonly bundlePath?: string;
  /**
   * Storage queue the agents post each `Preempt` notice to, with the fleet's managed identity, so the fallback
   * controller runs at once rather than at its next timer run: `AzureOnDemandFallback.evictionQueueUrl` (which also
   * grants the identity Storage Queue Data Message Sender on that queue). `AzureSpotInferenceService` and
   * `AzureMultiRegionSpotInferenceService` wire it. @default - none: the controller runs on its timer only
   */
  readonly controllerQueueUrl?: string;
}

/** The workers' network security group: what the scale sets' NICs (and a created subnet) carry. */
export interface IFleetSecurityGroup {
  /** The network security group. */
  readonly networkSecurityGroup: NetworkSecurityGroup;
  /** Id of the network security group. */
  readonly networkSecurityGroupId: string;
}

/** Props of {@link AzureSpotFleet}: the cloud-neutral {@link FleetSpec} plus what Azure needs. */
export interface AzureSpotFleetProps extends FleetSpec, AzureResourceOptions, AzureSpotScaleSetOptions {
  /**
   * How the VM sizes become scale sets: an instance mix (families A, B, D, E, F; at most 5 sizes) or one
   * scale set per size behind the same backend pool (GPU sizes).
   * @default AzureSizeStrategy.AUTO
   */
  readonly sizeStrategy?: AzureSizeStrategy;
  /**
   * Subnet of the workers. The subnet should have outbound access (a NAT gateway) and no default
   * outbound access.
   * @default - a new virtual network with a private subnet and a NAT gateway
   */
  readonly subnetId?: string;
  /** Address space of the new virtual network (when `subnetId` is not given). @default '10.42.0.0/16' */
  readonly addressSpace?: string;
  /** Address prefix of the new subnet (when `subnetId` is not given). @default '10.42.0.0/20' */
  readonly subnetPrefix?: string;
  /**
   * Sources admitted to the serving port (IPv4 CIDRs or service tags). A public load balancer keeps the
   * client's address, so list your clients; the load balancer's probes are always admitted.
   * @default ['VirtualNetwork'] - only callers inside the virtual network
   */
  readonly allowedClientCidrs?: string[];
  /** Port clients connect to on the load balancer. @default 80 */
  readonly listenerPort?: number;
  /** Give the load balancer a private frontend in the workers' subnet instead of a public IP. @default false */
  readonly internalLoadBalancer?: boolean;
  /**
   * Run the on-demand base (`onDemandBaseCapacity` VMs) in its own Regular-priority scale set, of the first VM size,
   * behind the same backend pool, instead of as the Regular share of the Spot scale sets' priority mix. Azure accepts
   * a terminate notification only on Regular scale sets, so this is how on-demand VMs get a `Terminate` notice (and
   * are drained) before scale-in or deletion removes them (`terminationNotificationMinutes`, 5 by default); the Spot
   * scale sets keep `onDemandPercentageAboveBaseCapacity` and the rest of the capacity. Capacities must be numbers.
   * @default false - the base is the Regular share of the priority mix (no Terminate notice for those VMs)
   */
  readonly regularBaseScaleSet?: boolean;
  /**
   * Join an existing Standard load balancer's backend pool instead of creating a load balancer: the fleet adds its
   * probe (the agent's health endpoint) to that load balancer and, when a frontend is named, the rule; its network
   * security group admits the probes and `allowedClientCidrs` itself. `listenerPort` and `internalLoadBalancer`
   * are then refused (set `existingBackendPool.frontendPort`).
   * @default - a new Standard load balancer
   */
  readonly existingBackendPool?: AzureExistingBackendPool;
  /** The on-instance drain agent. @default - DrainMode.HEALTH on port 9901 */
  readonly agent?: AzureSpotAgentOptions;
  /**
   * Whether a load balancer sends traffic to the fleet. `false` (queue workers, batch): no load balancer, no
   * probe, and a network security group that admits no inbound traffic at all; `allowedClientCidrs`,
   * `listenerPort` and `internalLoadBalancer` are then refused.
   * @default true
   */
  readonly loadBalanced?: boolean;
  /**
   * The Application Health extension (it probes the agent's health endpoint from inside each VM; the agent
   * proxies `healthCheck.path` of the serving port) and automatic instance repairs. Workers that serve no
   * HTTP must keep it off, or every VM is repaired in a loop; without it, repairs are explicitly disabled.
   * @default - same as `loadBalanced`
   */
  readonly autohealing?: boolean;
  /**
   * Supplies each scale set's autoscale profiles instead of the CPU rules (the fleet keeps one autoscale
   * setting per scale set); `scaleOutCpuPercent` and `scaleInCpuPercent` are then refused.
   * @default - CPU rules between the plan's bounds (`scaleOutCpuPercent`, `scaleInCpuPercent`)
   */
  readonly autoscaleProfileFactory?: IScaleSetAutoscaleProfiles;
  /**
   * Shell commands run at first boot after the agent started, e.g. pull the model and start the
   * inference server (as root, from cloud-init). The same prop on every cloud.
   * @default - none
   */
  readonly bootCommands?: string[];
  /**
   * @deprecated use `bootCommands` (one name on every cloud). Setting both is refused.
   * @default - none
   */
  readonly startupCommands?: string[];
  /**
   * @deprecated use `agent.bundlePath` (one name on every cloud). Setting both is refused.
   * @default - this package's `dist/runtime/spot-agent-portable/index.js`
   */
  readonly agentBundlePath?: string;
  /** How the agent bundle reaches the VMs. @default AgentDelivery.AUTO */
  readonly agentDelivery?: AgentDelivery;
  /**
   * Name of the storage account holding the agent bundle (AgentDelivery.STORAGE_BLOB); unique in Azure.
   * @default - `spotagent` and a hash of the construct path, resource group and region
   */
  readonly agentStorageAccountName?: string;
}

/**
 * A spot inference fleet on Azure from a {@link FleetSpec}: Flexible-orchestration scale sets with Spot
 * Priority Mix (the spec's on-demand base and percentage), spread over availability zones, behind a
 * Standard load balancer; the on-instance agent watches Scheduled Events (`Preempt`, `Terminate`) and
 * drains each VM before Azure takes it. With `loadBalanced: false` (queue workers) there is no load
 * balancer, the NSG admits nothing inbound and autohealing is off unless asked for.
 *
 * GPU sizes cannot share an instance mix, so several GPU sizes become one scale set each, behind the
 * same backend pool, with the capacity split evenly.
 *
 * Bad input throws `FleetSpecError` at construction; values that are tokens are not validated.
 */
export class AzureSpotFleet extends Construct implements IAzureSpotFleet {
  /**
   * An existing fleet's scale sets (another stack, the portal, a Terraform module), for the pieces that take an
   * {@link IAzureSpotFleet}: alerts, the interruption drill.
   */
  public static fromScaleSetAttributes(scope: Construct, id: string, attrs: AzureSpotFleetAttributes): IAzureSpotFleet {
    return new ImportedAzureSpotFleet(scope, id, attrs);
  }

  /** The spec with every default filled in. */
  public readonly spec: ResolvedFleetSpec;
  /** Size, capacity and priority mix of each scale set. */
  public readonly plans: ScaleSetPlan[];
  /** The Spot scale sets. */
  public readonly scaleSets: AzureSpotScaleSet[];
  /** The Regular-priority scale set of the on-demand base, with `regularBaseScaleSet`. */
  public readonly regularScaleSet?: AzureSpotScaleSet;
  /** Whether a load balancer sends traffic to the fleet (`loadBalanced`). */
  public readonly loadBalanced: boolean;
  /** Whether the Application Health extension and automatic repairs are on. */
  public readonly autohealing: boolean;
  /** How the agent drains the server. */
  public readonly drainMode: DrainMode;
  /** Port the agent serves its health endpoint on. */
  public readonly agentHealthPort: number;
  /** The workers' network security group (an `AzureFleetSecurityGroup` when load-balanced). */
  public readonly securityGroup: IFleetSecurityGroup;
  private readonly _loadBalancer?: AzureInferenceLoadBalancer;
  /** The probe (and rule) on an existing load balancer, with `existingBackendPool`. */
  public readonly backendPoolAttachment?: AzureBackendPoolAttachment;
  /** The network, when the fleet created one. */
  public readonly network?: AzureFleetNetwork;
  /** The VMs' user-assigned managed identity: grant it what the inference server must read. */
  public readonly identity: UserAssignedIdentity;
  /** Principal id of the VMs' identity, for role assignments. */
  public readonly grantPrincipalId: string;
  /** Port the load balancer and the Application Health extension probe. */
  public readonly healthPort: number;
  /** The cloud-init script (bash) every VM runs at first boot; may hold Terraform references. */
  public readonly customDataScript: string;
  /** How the agent reaches the VMs (AUTO resolved). */
  public readonly agentDelivery: AgentDelivery;
  /** The storage blob holding the agent, with AgentDelivery.STORAGE_BLOB. */
  public readonly agentBlob?: AzureAgentBlob;
  /** Bytes of the gzip-compressed agent bundle (what the inline delivery carries, before base64). */
  public readonly agentBundleGzipBytes: number;

  constructor(scope: Construct, id: string, given: AzureSpotFleetProps) {
    super(scope, id);
    // One spelling per option (bootCommands, agent.bundlePath); the deprecated ones moved over, both refused.
    const current = withCurrentOptionNames(given);
    const props = current.props;
    const d = this.validate(props, current.problems);
    this.spec = d.spec;
    this.plans = scaleSetPlansOf(d.spec.instanceTypes, d.plan.capacity.groups, props.sizeStrategy);
    this.loadBalanced = d.loadBalanced;
    this.autohealing = d.autohealing;
    this.drainMode = d.drainMode;
    // The probe targets the agent's health endpoint (DrainMode.HEALTH), or healthCheck.port when set.
    this.agentHealthPort = d.agentPlan.agentHealthPort;
    this.healthPort = d.agentPlan.probePort;
    const prefix = props.namePrefix ?? azureName(id);
    const common = { resourceGroupName: props.resourceGroupName, location: props.location, tags: props.tags };
    const probe = {
      port: this.healthPort,
      path: d.spec.healthCheck.path,
      intervalSeconds: d.spec.healthCheck.intervalSeconds,
      threshold: d.spec.healthCheck.unhealthyThreshold,
    };
    if (!props.subnetId) {
      this.network = new AzureFleetNetwork(this, 'Network', { ...common, namePrefix: prefix, addressSpace: props.addressSpace, subnetPrefix: props.subnetPrefix });
    }
    const subnetId = props.subnetId ?? this.network!.subnetId;
    const front = this.createFrontDoor(props, d, { common, prefix, probe, subnetId });
    this.securityGroup = front.securityGroup;
    this._loadBalancer = front.loadBalancer;
    this.backendPoolAttachment = front.attachment;
    this.identity = new UserAssignedIdentity(this, 'Identity', { ...common, name: `${prefix}-identity` });
    this.grantPrincipalId = this.identity.principalId;
    const agent = this.deliverAgent(props, d, common);
    this.agentBundleGzipBytes = agent.gzipBytes;
    this.agentDelivery = agent.delivery;
    this.agentBlob = agent.blob;
    this.customDataScript = agent.script;
    this.scaleSets = this.createScaleSets(props, d, { common, prefix, probe, subnetId });
    if (props.regularBaseScaleSet) this.regularScaleSet = this.createRegularScaleSet(props, d, { common, prefix, probe, subnetId });
  }

  /**
   * The fleet resolved once (`planFleet`: the cross-cloud rules, the Azure profile, the agent, the capacity split over
   * the scale sets) and Azure's own rules, thrown together; the decisions the fleet renders from.
   */
  private validate(props: AzureSpotFleetProps, aliasProblems: FleetSpecProblem[]): FleetDecisions {
    const isUnresolved = (v: unknown): boolean => Token.isUnresolved(v);
    const drainMode = props.agent?.drainMode ?? DrainMode.HEALTH;
    const loadBalanced = props.loadBalanced ?? true;
    const autohealing = props.autohealing ?? loadBalanced;
    const v = new ProblemCollector();
    v.addAll(aliasProblems);
    checkAzureFleetChoices(props, { loadBalanced, autohealing, drainMode }, v);
    // The cross-cloud rules, with Azure's size catalogue (names with "did you mean", one accelerator kind).
    const plan = planFleet(props, CLOUD_PROFILES[Cloud.AZURE], {
      isUnresolved,
      catalog: AZURE_VM_SIZE_CATALOG,
      loadBalanced,
      // The Application Health extension probes from inside the VM.
      probedFromOutside: loadBalanced,
      groups: scaleSetCount(props.instanceTypes ?? [], props.sizeStrategy),
      separateOnDemandBase: props.regularBaseScaleSet,
    });
    v.addAll(plan.problems);
    validateAzureFleet(plan.spec, this.azureChoices(props, loadBalanced && drainMode === DrainMode.HEALTH), isUnresolved, v);
    v.throwIfAny(this.node.path);
    return { plan, spec: plan.spec, loadBalanced, autohealing, drainMode, agentPlan: plan.agent };
  }

  /** The Azure-only props `validateAzureFleet` checks. `drainsByHealth`: a load balancer notices the failing health endpoint. */
  private azureChoices(props: AzureSpotFleetProps, drainsByHealth: boolean): AzureFleetChoices {
    return {
      sizeStrategy: props.sizeStrategy,
      evictionPolicy: props.evictionPolicy,
      allocationStrategy: props.allocationStrategy,
      maxBidPrice: props.maxBidPrice,
      repairGracePeriodMinutes: props.repairGracePeriodMinutes,
      terminationNotificationMinutes: props.terminationNotificationMinutes,
      regularBaseScaleSet: props.regularBaseScaleSet,
      healthCheckPortSet: props.healthCheck?.port !== undefined,
      drainsByHealth,
      allowedClientCidrs: props.allowedClientCidrs,
      allowUndiversified: props.allowUndiversified,
      scaleOutCpuPercent: props.scaleOutCpuPercent,
      scaleInCpuPercent: props.scaleInCpuPercent,
      listenerPort: props.listenerPort,
      adminSshPublicKey: props.adminSshPublicKey,
    };
  }

  /** The network security group and the load balancer: created, an existing one's backend pool, or none. */
  private createFrontDoor(props: AzureSpotFleetProps, d: FleetDecisions, at: FleetPlacement): { securityGroup: IFleetSecurityGroup; loadBalancer?: AzureInferenceLoadBalancer; attachment?: AzureBackendPoolAttachment } {
    const { common, prefix, probe, subnetId } = at;
    const spec = d.spec;
    const zones = spec.zones ?? ['1', '2', '3'];
    const loadBalanced = d.loadBalanced;
    const subnetAssociation = this.network ? this.network.subnetId : undefined;
    if (!loadBalanced) {
      // No load balancer: nothing is admitted inbound (the Application Health extension probes from inside the VM).
      return { securityGroup: new ClosedSecurityGroup(this, 'SecurityGroup', { ...common, namePrefix: prefix, subnetId: subnetAssociation }) };
    }
    const securityGroup = new AzureFleetSecurityGroup(this, 'SecurityGroup', {
      ...common,
      namePrefix: prefix,
      servingPort: spec.servingPort,
      healthPort: this.healthPort,
      allowedClientCidrs: props.allowedClientCidrs,
      subnetId: subnetAssociation,
    });
    if (props.existingBackendPool) {
      const attachment = new AzureBackendPoolAttachment(this, 'BackendPool', { ...props.existingBackendPool, namePrefix: prefix, backendPort: spec.servingPort, probe });
      return { securityGroup, attachment };
    }
    const loadBalancer = new AzureInferenceLoadBalancer(this, 'LoadBalancer', {
      ...common,
      namePrefix: prefix,
      backendPort: spec.servingPort,
      frontendPort: props.listenerPort,
      probe,
      zones,
      internalSubnetId: props.internalLoadBalancer ? subnetId : undefined,
    });
    return { securityGroup, loadBalancer };
  }

  /** The agent's cloud-init: inline in the custom data when it fits, otherwise from a private blob. */
  private deliverAgent(props: AzureSpotFleetProps, d: FleetDecisions, common: FleetPlacement['common']): { script: string; delivery: AgentDelivery; blob?: AzureAgentBlob; gzipBytes: number } {
    const queueUrl = props.agent?.controllerQueueUrl;
    const agentConfig = queueUrl ? { ...d.agentPlan.config, controllerQueue: { url: queueUrl, identityClientId: this.identity.clientId } } : d.agentPlan.config;
    if (queueUrl !== undefined && !Token.isUnresolved(queueUrl)) {
      const bad = validateAgentConfig(agentConfig).filter((p) => p.prop.startsWith('controllerQueue'));
      if (bad.length > 0) throw new FleetSpecError(bad.map((p) => ({ ...p, prop: 'agent.controllerQueueUrl', message: p.message.replace(/^controllerQueue\.url/, 'agent.controllerQueueUrl') })), this.node.path);
    }
    const bundle = readAgentBundle(props.agent?.bundlePath ?? defaultAgentBundlePath());
    const inline = inlineAgentFetch(bundle);
    const inlineScript = renderAgentCustomData({ config: agentConfig, fetch: inline, startupCommands: props.bootCommands });
    const inlineData = toCustomData(inlineScript);
    const requested = props.agentDelivery ?? AgentDelivery.AUTO;
    if (requested === AgentDelivery.INLINE && !fitsCustomData(inlineData)) {
      throw new FleetSpecError(
        [
          {
            code: FleetSpecErrorCode.AZURE_CUSTOM_DATA,
            prop: 'agentDelivery',
            message: `agentDelivery is INLINE but the custom data would be ${inlineData.length} characters (base64; the gzip-compressed agent is ${inline.inlineGzipBytes} bytes) and Azure accepts at most ${AZURE_CUSTOM_DATA_MAX_CHARS}; use AgentDelivery.STORAGE_BLOB (or AUTO), or shorten bootCommands`,
          },
        ],
        this.node.path,
      );
    }
    const delivery = requested === AgentDelivery.AUTO ? (fitsCustomData(inlineData) ? AgentDelivery.INLINE : AgentDelivery.STORAGE_BLOB) : requested;
    if (delivery === AgentDelivery.INLINE) {
      return { script: inlineScript, delivery, gzipBytes: inline.inlineGzipBytes };
    }
    const blob = new AzureAgentBlob(this, 'AgentBlob', {
      ...common,
      agentBundlePath: bundle.path,
      readerPrincipalId: this.identity.principalId,
      storageAccountName: props.agentStorageAccountName,
    });
    const fetch = blobAgentFetch({ blobUrl: blob.blobUrl, identityClientId: this.identity.clientId, sha256: bundle.sha256 });
    const script = renderAgentCustomData({ config: agentConfig, fetch, startupCommands: props.bootCommands });
    return { script, delivery, blob, gzipBytes: inline.inlineGzipBytes };
  }

  /**
   * The on-demand base as a Regular-priority scale set of the first size, fixed at `onDemandBaseCapacity` VMs, with
   * a terminate notification so its VMs are drained on `Terminate`.
   */
  private createRegularScaleSet(props: AzureSpotFleetProps, d: FleetDecisions, at: FleetPlacement): AzureSpotScaleSet {
    const base = d.spec.onDemandBaseCapacity;
    const plan: ScaleSetPlan = { skuName: d.spec.instanceTypes[0], mixVmSizes: [], minCapacity: base, maxCapacity: base, desiredCapacity: base, baseRegularCount: base, regularPercentageAboveBase: 100 };
    return new AzureSpotScaleSet(this, 'RegularBase', {
      ...at.common,
      ...props,
      namePrefix: `${at.prefix}-regular`,
      image: props.image ?? (d.spec.architecture === CpuArchitecture.ARM64 ? UBUNTU_2404_ARM64 : UBUNTU_2404_X86_64),
      plan,
      regularPriority: true,
      zones: d.spec.zones ?? ['1', '2', '3'],
      subnetId: at.subnetId,
      backendAddressPoolIds: this._loadBalancer
        ? [this._loadBalancer.backendAddressPoolId]
        : this.backendPoolAttachment ? [this.backendPoolAttachment.backendAddressPoolId] : [],
      networkSecurityGroupId: this.securityGroup.networkSecurityGroupId,
      identityId: this.identity.id,
      customDataBase64: Token.isUnresolved(this.customDataScript) ? terraformBase64(this.customDataScript) : toCustomData(this.customDataScript),
      health: at.probe,
      autohealing: d.autohealing,
      // A fixed size: the base does not follow the load (the Spot scale sets do).
      autoscaleProfiles: [{ name: 'regular-base', capacity: { minimum: base, maximum: base, default: base } }],
      dependsOn: this.agentBlob ? [this.agentBlob.blob, this.agentBlob.roleAssignment] : undefined,
    });
  }

  /** One scale set per plan (an instance mix, or one per size), all behind the same backend pool. */
  private createScaleSets(props: AzureSpotFleetProps, d: FleetDecisions, at: FleetPlacement): AzureSpotScaleSet[] {
    const { common, prefix, probe, subnetId } = at;
    const spec = d.spec;
    const zones = spec.zones ?? ['1', '2', '3'];
    const autohealing = d.autohealing;
    const customData = Token.isUnresolved(this.customDataScript) ? terraformBase64(this.customDataScript) : toCustomData(this.customDataScript);
    const image = props.image ?? (spec.architecture === CpuArchitecture.ARM64 ? UBUNTU_2404_ARM64 : UBUNTU_2404_X86_64);
    return this.plans.map(
      (plan, i) =>
        new AzureSpotScaleSet(this, this.plans.length === 1 ? 'ScaleSet' : `ScaleSet${i + 1}`, {
          ...common,
          ...props,
          namePrefix: this.plans.length === 1 ? prefix : `${prefix}-${i + 1}`,
          image,
          plan,
          zones,
          subnetId,
          backendAddressPoolIds: this._loadBalancer
            ? [this._loadBalancer.backendAddressPoolId]
            : this.backendPoolAttachment ? [this.backendPoolAttachment.backendAddressPoolId] : [],
          networkSecurityGroupId: this.securityGroup.networkSecurityGroupId,
          identityId: this.identity.id,
          customDataBase64: customData,
          health: probe,
          autohealing,
          autoscaleProfiles: props.autoscaleProfileFactory?.profilesFor(plan, this.plans.length),
          // The VMs download the agent at first boot: the blob and their read access must exist first.
          dependsOn: this.agentBlob ? [this.agentBlob.blob, this.agentBlob.roleAssignment] : undefined,
        }),
    );
  }

  /**
   * The load balancer the fleet created. Throws when it has none (`loadBalanced: false`, or `existingBackendPool`);
   * check `loadBalanced` first, or use `loadBalancerId`.
   */
  public get loadBalancer(): AzureInferenceLoadBalancer {
    if (!this._loadBalancer) {
      throw new FleetSpecError([{
        code: FleetSpecErrorCode.FLEET_PIECE_MISSING,
        prop: 'loadBalanced',
        message: this.backendPoolAttachment
          ? `AzureSpotFleet ${this.node.path} joined an existing load balancer (existingBackendPool) and created none; use fleet.loadBalancerId or fleet.backendPoolAttachment`
          : `AzureSpotFleet ${this.node.path} has no load balancer (loadBalanced: false); check fleet.loadBalanced before using fleet.loadBalancer, or set loadBalanced: true`,
      }], this.node.path);
    }
    return this._loadBalancer;
  }

  /** Id of the load balancer in front of the fleet (created, or the existing one), undefined without one. */
  public get loadBalancerId(): string | undefined {
    return this._loadBalancer?.loadBalancer.id ?? this.backendPoolAttachment?.loadBalancerId;
  }

  /** Resource group of the scale sets. */
  public get resourceGroupName(): string {
    return this.scaleSets[0].scaleSet.resourceGroupName;
  }

  /** Ids of the scale sets: the Spot ones, then the Regular base one (`regularBaseScaleSet`). */
  public get scaleSetIds(): string[] {
    return this.allScaleSets().map((s) => s.scaleSetId);
  }

  /** Names of the scale sets, in the order of `scaleSetIds`. */
  public get scaleSetNames(): string[] {
    return this.allScaleSets().map((s) => s.scaleSet.name);
  }

  private allScaleSets(): AzureSpotScaleSet[] {
    return this.regularScaleSet ? [...this.scaleSets, this.regularScaleSet] : this.scaleSets;
  }

  /** The fleet's scale sets use Flexible orchestration. */
  public get orchestration(): AzureScaleSetOrchestration {
    return AzureScaleSetOrchestration.FLEXIBLE;
  }

  /** The construct id, lower case with dashes: the fleet's name in its pieces' names (alerts). */
  public get fleetName(): string {
    return azureName(this.node.id);
  }

  /**
   * Hand the scale sets' priority mix to a controller: Terraform stops resetting `priority_mix` (merged with
   * the `instances` the autoscale setting owns) on the next apply. `AzureOnDemandFallback` calls it.
   */
  public letControllerSetPriorityMix(): void {
    for (const s of this.scaleSets) s.scaleSet.addOverride('lifecycle.ignore_changes', ['priority_mix']);
  }
}

/** What the fleet decided from its props (validated, defaults filled). */
interface FleetDecisions {
  readonly plan: FleetPlan;
  readonly spec: ResolvedFleetSpec;
  readonly loadBalanced: boolean;
  readonly autohealing: boolean;
  readonly drainMode: DrainMode;
  readonly agentPlan: FleetAgentPlan;
}

/** Where the fleet's pieces go. */
interface FleetPlacement {
  readonly common: { readonly resourceGroupName: string; readonly location: string; readonly tags?: { [key: string]: string } };
  readonly prefix: string;
  readonly probe: AzureProbeOptions;
  readonly subnetId: string;
}

/** Props of {@link ClosedSecurityGroup}. */
interface ClosedSecurityGroupProps {
  readonly resourceGroupName: string;
  readonly location: string;
  readonly tags?: { [key: string]: string };
  readonly namePrefix: string;
  readonly subnetId?: string;
}

/**
 * The network security group of a fleet without load balancer: one rule denies every inbound flow, including
 * Azure's default allows (virtual network, AzureLoadBalancer). Outbound is untouched (NAT gateway).
 */
class ClosedSecurityGroup extends Construct implements IFleetSecurityGroup {
  public readonly networkSecurityGroup: NetworkSecurityGroup;
  public readonly networkSecurityGroupId: string;

  constructor(scope: Construct, id: string, props: ClosedSecurityGroupProps) {
    super(scope, id);
    this.networkSecurityGroup = new NetworkSecurityGroup(this, 'Nsg', {
      name: `${props.namePrefix}-nsg`,
      resourceGroupName: props.resourceGroupName,
      location: props.location,
      tags: props.tags,
    });
    this.networkSecurityGroupId = this.networkSecurityGroup.id;
    checkedSecurityRule(this, 'DenyAllInbound', {
      resourceGroupName: props.resourceGroupName,
      networkSecurityGroupName: this.networkSecurityGroup.name,
      name: 'deny-all-inbound',
      description: 'No load balancer: nothing reaches the workers, not even from inside the virtual network',
      priority: 4096,
      direction: 'Inbound',
      access: 'Deny',
      protocol: '*',
      sourcePortRange: '*',
      sourceAddressPrefix: '*',
      destinationAddressPrefix: '*',
      destinationPortRange: '*',
    });
    if (props.subnetId) {
      new SubnetNetworkSecurityGroupAssociation(this, 'SubnetAssociation', { subnetId: props.subnetId, networkSecurityGroupId: this.networkSecurityGroup.id });
    }
  }
}

/** What the fleet decided from its props, for {@link checkAzureFleetChoices}. */
interface AzureFleetDecisions {
  readonly loadBalanced: boolean;
  readonly autohealing: boolean;
  readonly drainMode: DrainMode;
}

/** The fleet's own rules (load balancing, autohealing, agent, autoscale profiles); tokens are skipped. */
function checkAzureFleetChoices(props: AzureSpotFleetProps, d: AzureFleetDecisions, v: ProblemCollector): void {
  const C = FleetSpecErrorCode;
  const hcPort = props.healthCheck?.port;
  if (!d.loadBalanced) {
    if (!d.autohealing && hcPort !== undefined) {
      v.add(C.OPTION_CONFLICT, 'healthCheck.port', `healthCheck.port (${hcPort}) has no effect: loadBalanced is false and autohealing is off, so nothing probes the VMs; leave healthCheck.port out, set autohealing: true (the VMs must then answer the health check), or set loadBalanced: true`);
    }
    const lbOnly: [string, unknown][] = [['allowedClientCidrs', props.allowedClientCidrs], ['listenerPort', props.listenerPort], ['internalLoadBalancer', props.internalLoadBalancer]];
    for (const [prop, value] of lbOnly) {
      if (value !== undefined) {
        v.add(C.OPTION_CONFLICT, prop, `${prop} (${JSON.stringify(value)}) configures the load balancer, but loadBalanced is false (no load balancer, no inbound traffic); leave ${prop} out or set loadBalanced: true`);
      }
    }
    if (props.existingBackendPool !== undefined) {
      v.add(C.OPTION_CONFLICT, 'existingBackendPool', 'existingBackendPool puts the fleet behind a load balancer, but loadBalanced is false; leave existingBackendPool out or set loadBalanced: true');
    }
  } else if (props.existingBackendPool !== undefined) {
    const own: [string, unknown][] = [['listenerPort', props.listenerPort], ['internalLoadBalancer', props.internalLoadBalancer]];
    for (const [prop, value] of own) {
      if (value !== undefined) {
        v.add(C.OPTION_CONFLICT, prop, `${prop} (${JSON.stringify(value)}) configures a load balancer the fleet creates, but existingBackendPool joins an existing one; leave ${prop} out (set existingBackendPool.frontendPort for the added rule)`);
      }
    }
  }
  v.addAll(checkEnumValue('agentDelivery', props.agentDelivery, 'AgentDelivery', AgentDelivery, { isUnresolved: Token.isUnresolved }));
  // The second spellings are gone (one spelling per option); a JavaScript caller still passing them is told where they went.
  const removed: [string, string][] = [['drainMode', 'agent.drainMode'], ['drainHookCommand', 'agent.hookCommand']];
  for (const [old, now] of removed) {
    const value = (props as unknown as Record<string, unknown>)[old];
    if (value !== undefined) {
      v.add(C.REMOVED_OPTION, old, `${old} (${JSON.stringify(value)}) is no longer a prop of the Azure fleets; set ${now} instead (the same option, spelled as on AWS and Google Cloud)`);
    }
  }
  // The agent's own options (ports, pid file, drain URL) are checked by planFleetAgent, as on every cloud.
  if (props.autoscaleProfileFactory !== undefined) {
    for (const prop of ['scaleOutCpuPercent', 'scaleInCpuPercent'] as const) {
      if (props[prop] !== undefined) {
        v.add(C.OPTION_CONFLICT, prop, `${prop} (${props[prop]}) has no effect: autoscaleProfileFactory supplies the autoscale rules; leave ${prop} out`);
      }
    }
  }
}

/** A string token of cdktf inside a longer string. */
const STRING_TOKEN = /(\$\{TfToken\[[^\]]+\]\})/;

/**
 * Base64 of a script that holds deploy-time values (string tokens: the blob URL, the identity's client
 * id, references in bootCommands), computed by Terraform: `base64encode(join("", [...]))`, with the
 * literal parts escaped for HCL (backslashes, `%{`, and through Fn.rawString quotes and `${`).
 */
function terraformBase64(script: string): string {
  const parts = script.split(STRING_TOKEN).filter((p) => p !== '');
  return Fn.base64encode(Fn.join('', parts.map((p) => (STRING_TOKEN.test(p) ? p : Fn.rawString(p.replace(/\\/g, '\\\\').replace(/%\{/g, '%%{'))))));
}

/** @deprecated use {@link AzureSpotFleet} (the same class: one naming scheme across the clouds, see docs/names.md). */
export const SpotScaleSetFleet = AzureSpotFleet;
/** @deprecated use {@link AzureSpotFleet}. */
export type SpotScaleSetFleet = AzureSpotFleet;

/** @deprecated use {@link AzureSpotFleetProps} (one naming scheme across the clouds, see docs/names.md). */
export type SpotScaleSetFleetProps = AzureSpotFleetProps;
