import { UserAssignedIdentity } from '@cdktf/provider-azurerm/lib/user-assigned-identity';
import { Fn, Token } from 'cdktf';
import { Construct } from 'constructs';
import { DEFAULT_AGENT_HEALTH_PORT, DrainMode } from '../../lib/runtime/agent-config';
import { Cloud, CpuArchitecture, FleetSpec, FleetSpecError, FleetSpecErrorCode, ProblemCollector, ResolvedFleetSpec, applyFleetSpecDefaults, validateFleetSpec } from '../../lib/spec';
import { SpotAgentBlob } from './agent-blob';
import { AZURE_CUSTOM_DATA_MAX_CHARS, blobAgentFetch, defaultAgentBundlePath, fitsCustomData, inlineAgentFetch, readAgentBundle, renderAgentCustomData, toCustomData } from './agent-custom-data';
import { SpotLoadBalancer } from './load-balancer';
import { AzureResourceOptions, SpotFleetNetwork, SpotFleetSecurityGroup, azureName } from './network';
import { AzureSizeStrategy, ScaleSetPlan, planScaleSets, validateAzureFleet } from './rules';
import { SpotScaleSet, SpotScaleSetOptions, UBUNTU_2404_ARM64, UBUNTU_2404_X86_64 } from './scale-set';

/** How the agent bundle reaches the VMs. */
export enum AgentDelivery {
  /** Inline when the custom data fits Azure's 64 KiB limit, otherwise a private storage blob. */
  AUTO = 'auto',
  /** Inside the custom data (gzip + base64): no storage account, no role assignment. Refused when too large. */
  INLINE = 'inline',
  /** A private blob the VMs download with their managed identity (Storage Blob Data Reader on its container). */
  STORAGE_BLOB = 'storage-blob',
}

/** Props of {@link SpotScaleSetFleet}: the cloud-neutral {@link FleetSpec} plus what Azure needs. */
export interface SpotScaleSetFleetProps extends FleetSpec, AzureResourceOptions, SpotScaleSetOptions {
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
   * How the agent makes the inference server stop taking work on a Preempt or Terminate notice.
   * @default DrainMode.HEALTH - the agent serves the probed health endpoint and fails it
   */
  readonly drainMode?: DrainMode;
  /**
   * Shell commands run at first boot after the agent started, e.g. pull the model and start the
   * inference server (as root, from cloud-init).
   * @default - none
   */
  readonly startupCommands?: string[];
  /** Command the agent runs after draining (e.g. upload a checkpoint). @default - none */
  readonly drainHookCommand?: string;
  /** The agent bundle on the synth machine. @default - this package's `dist/runtime/spot-agent/index.js` */
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
 * drains each VM before Azure takes it.
 *
 * GPU sizes cannot share an instance mix, so several GPU sizes become one scale set each, behind the
 * same backend pool, with the capacity split evenly.
 *
 * Bad input throws `FleetSpecError` at construction; values that are tokens are not validated.
 */
export class SpotScaleSetFleet extends Construct {
  /** The spec with every default filled in. */
  public readonly spec: ResolvedFleetSpec;
  /** Size, capacity and priority mix of each scale set. */
  public readonly plans: ScaleSetPlan[];
  /** The scale sets. */
  public readonly scaleSets: SpotScaleSet[];
  /** The load balancer. */
  public readonly loadBalancer: SpotLoadBalancer;
  /** The workers' network security group. */
  public readonly securityGroup: SpotFleetSecurityGroup;
  /** The network, when the fleet created one. */
  public readonly network?: SpotFleetNetwork;
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
  public readonly agentBlob?: SpotAgentBlob;
  /** Bytes of the gzip-compressed agent bundle (what the inline delivery carries, before base64). */
  public readonly agentBundleGzipBytes: number;

  constructor(scope: Construct, id: string, props: SpotScaleSetFleetProps) {
    super(scope, id);
    const isUnresolved = (v: unknown): boolean => Token.isUnresolved(v);
    const drainMode = props.drainMode ?? DrainMode.HEALTH;
    const v = new ProblemCollector();
    v.addAll(validateFleetSpec(props, Cloud.AZURE, { isUnresolved }));
    const spec = applyFleetSpecDefaults(props, Cloud.AZURE);
    validateAzureFleet(
      spec,
      {
        sizeStrategy: props.sizeStrategy,
        maxBidPrice: props.maxBidPrice,
        repairGracePeriodMinutes: props.repairGracePeriodMinutes,
        terminationNotificationMinutes: props.terminationNotificationMinutes,
        healthCheckPortSet: props.healthCheck?.port !== undefined,
        drainsByHealth: drainMode === DrainMode.HEALTH,
        allowedClientCidrs: props.allowedClientCidrs,
        allowUndiversified: props.allowUndiversified,
        instanceRequirementsSet: props.instanceRequirements !== undefined,
        scaleOutCpuPercent: props.scaleOutCpuPercent,
        scaleInCpuPercent: props.scaleInCpuPercent,
        listenerPort: props.listenerPort,
        adminSshPublicKey: props.adminSshPublicKey,
      },
      isUnresolved,
      v,
    );
    v.throwIfAny(this.node.path);

    this.spec = spec;
    this.plans = planScaleSets(spec, props.sizeStrategy);
    const prefix = props.namePrefix ?? azureName(id);
    const common = { resourceGroupName: props.resourceGroupName, location: props.location, tags: props.tags };
    const zones = spec.zones ?? ['1', '2', '3'];

    // The probe targets the agent's health endpoint (DrainMode.HEALTH), or healthCheck.port when set.
    const explicitPort = props.healthCheck?.port;
    this.healthPort = explicitPort ?? (drainMode === DrainMode.HEALTH ? DEFAULT_AGENT_HEALTH_PORT : spec.servingPort);
    const agentHealthPort = explicitPort !== undefined && explicitPort !== spec.servingPort ? explicitPort : DEFAULT_AGENT_HEALTH_PORT;
    const probe = {
      port: this.healthPort,
      path: spec.healthCheck.path,
      intervalSeconds: spec.healthCheck.intervalSeconds,
      threshold: spec.healthCheck.unhealthyThreshold,
    };

    if (!props.subnetId) {
      this.network = new SpotFleetNetwork(this, 'Network', { ...common, namePrefix: prefix, addressSpace: props.addressSpace, subnetPrefix: props.subnetPrefix });
    }
    const subnetId = props.subnetId ?? this.network!.subnetId;
    this.securityGroup = new SpotFleetSecurityGroup(this, 'SecurityGroup', {
      ...common,
      namePrefix: prefix,
      servingPort: spec.servingPort,
      healthPort: this.healthPort,
      allowedClientCidrs: props.allowedClientCidrs,
      subnetId: this.network ? this.network.subnetId : undefined,
    });
    this.loadBalancer = new SpotLoadBalancer(this, 'LoadBalancer', {
      ...common,
      namePrefix: prefix,
      backendPort: spec.servingPort,
      frontendPort: props.listenerPort,
      probe,
      zones,
      internalSubnetId: props.internalLoadBalancer ? subnetId : undefined,
    });
    this.identity = new UserAssignedIdentity(this, 'Identity', { ...common, name: `${prefix}-identity` });
    this.grantPrincipalId = this.identity.principalId;

    const agentConfig = {
      cloud: Cloud.AZURE,
      servingPort: spec.servingPort,
      healthPath: spec.healthCheck.path,
      healthPort: agentHealthPort,
      drainBudgetSeconds: spec.drainBudgetSeconds,
      drainMode,
      loadBalancerDetectionSeconds: drainMode === DrainMode.HEALTH ? spec.healthCheck.intervalSeconds * spec.healthCheck.unhealthyThreshold : 0,
      hookCommand: props.drainHookCommand,
    };
    const bundle = readAgentBundle(props.agentBundlePath ?? defaultAgentBundlePath());
    const inline = inlineAgentFetch(bundle);
    this.agentBundleGzipBytes = inline.inlineGzipBytes;
    const inlineScript = renderAgentCustomData({ config: agentConfig, fetch: inline, startupCommands: props.startupCommands });
    const inlineData = toCustomData(inlineScript);
    const requested = props.agentDelivery ?? AgentDelivery.AUTO;
    if (requested === AgentDelivery.INLINE && !fitsCustomData(inlineData)) {
      throw new FleetSpecError(
        [
          {
            code: FleetSpecErrorCode.CLOUD_CONSTRAINT,
            prop: 'agentDelivery',
            message: `agentDelivery is INLINE but the custom data would be ${inlineData.length} characters (base64; the gzip-compressed agent is ${inline.inlineGzipBytes} bytes) and Azure accepts at most ${AZURE_CUSTOM_DATA_MAX_CHARS}; use AgentDelivery.STORAGE_BLOB (or AUTO), or shorten startupCommands`,
          },
        ],
        this.node.path,
      );
    }
    this.agentDelivery = requested === AgentDelivery.AUTO ? (fitsCustomData(inlineData) ? AgentDelivery.INLINE : AgentDelivery.STORAGE_BLOB) : requested;
    if (this.agentDelivery === AgentDelivery.INLINE) {
      this.customDataScript = inlineScript;
    } else {
      this.agentBlob = new SpotAgentBlob(this, 'AgentBlob', {
        ...common,
        agentBundlePath: bundle.path,
        readerPrincipalId: this.identity.principalId,
        storageAccountName: props.agentStorageAccountName,
      });
      const fetch = blobAgentFetch({ blobUrl: this.agentBlob.blobUrl, identityClientId: this.identity.clientId, sha256: bundle.sha256 });
      this.customDataScript = renderAgentCustomData({ config: agentConfig, fetch, startupCommands: props.startupCommands });
    }
    const customData = Token.isUnresolved(this.customDataScript) ? terraformBase64(this.customDataScript) : toCustomData(this.customDataScript);

    const image = props.image ?? (spec.architecture === CpuArchitecture.ARM64 ? UBUNTU_2404_ARM64 : UBUNTU_2404_X86_64);
    this.scaleSets = this.plans.map(
      (plan, i) =>
        new SpotScaleSet(this, this.plans.length === 1 ? 'ScaleSet' : `ScaleSet${i + 1}`, {
          ...common,
          ...props,
          namePrefix: this.plans.length === 1 ? prefix : `${prefix}-${i + 1}`,
          image,
          plan,
          zones,
          subnetId,
          backendAddressPoolIds: [this.loadBalancer.backendAddressPoolId],
          networkSecurityGroupId: this.securityGroup.networkSecurityGroupId,
          identityId: this.identity.id,
          customDataBase64: customData,
          health: probe,
          // The VMs download the agent at first boot: the blob and their read access must exist first.
          dependsOn: this.agentBlob ? [this.agentBlob.blob, this.agentBlob.roleAssignment] : undefined,
        }),
    );
  }
}

/** A string token of cdktf inside a longer string. */
const STRING_TOKEN = /(\$\{TfToken\[[^\]]+\]\})/;

/**
 * Base64 of a script that holds deploy-time values (string tokens: the blob URL, the identity's client
 * id, references in startupCommands), computed by Terraform: `base64encode(join("", [...]))`, with the
 * literal parts escaped for HCL (backslashes, `%{`, and through Fn.rawString quotes and `${`).
 */
function terraformBase64(script: string): string {
  const parts = script.split(STRING_TOKEN).filter((p) => p !== '');
  return Fn.base64encode(Fn.join('', parts.map((p) => (STRING_TOKEN.test(p) ? p : Fn.rawString(p.replace(/\\/g, '\\\\').replace(/%\{/g, '%%{'))))));
}
