import { Lb } from '@cdktf/provider-azurerm/lib/lb';
import { LbBackendAddressPool } from '@cdktf/provider-azurerm/lib/lb-backend-address-pool';
import { LbProbe } from '@cdktf/provider-azurerm/lib/lb-probe';
import { LbRule } from '@cdktf/provider-azurerm/lib/lb-rule';
import { PublicIp } from '@cdktf/provider-azurerm/lib/public-ip';
import { Token } from 'cdktf';
import { Construct } from 'constructs';
import { FleetSpecError, FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { AzureResourceOptions, azureName } from './network';
import { checkedPublicIp, probeProviderProblems } from './provider-rules';

/** How the load balancer probes each VM. */
export interface AzureProbeOptions {
  /** Port probed (the agent's health endpoint in DrainMode.HEALTH). */
  readonly port: number;
  /** HTTP path probed. */
  readonly path: string;
  /** Seconds between probes (5 or more). */
  readonly intervalSeconds: number;
  /** Consecutive failed (or successful) probes before a VM leaves (or joins) the rotation. */
  readonly threshold: number;
}

/** Props of {@link AzureInferenceLoadBalancer}. */
export interface AzureInferenceLoadBalancerProps extends AzureResourceOptions {
  /** Port the VMs serve on (the rule's backend port). */
  readonly backendPort: number;
  /** Health probe. */
  readonly probe: AzureProbeOptions;
  /** Port clients connect to. @default 80 */
  readonly frontendPort?: number;
  /**
   * Put the frontend on a private address of this subnet instead of a public IP.
   * @default - a public, zone-redundant Standard IP address
   */
  readonly internalSubnetId?: string;
  /** Zones of the frontend (zone-redundant when several). @default ['1', '2', '3'] */
  readonly zones?: string[];
  /** Minutes an idle TCP flow is kept (4-100). @default 4 */
  readonly idleTimeoutMinutes?: number;
}

/**
 * A Standard load balancer in front of the fleet: one frontend (a zone-redundant public IP, or a
 * private address), one backend pool every scale set of the fleet joins, an HTTP probe and a TCP rule
 * with TCP reset. Outbound SNAT through the load balancer is off: the workers' subnet uses a NAT gateway.
 */
export class AzureInferenceLoadBalancer extends Construct {
  /** The load balancer. */
  public readonly loadBalancer: Lb;
  /** The backend pool the scale sets join. */
  public readonly backendAddressPool: LbBackendAddressPool;
  /** The health probe. */
  public readonly probe: LbProbe;
  /** The load-balancing rule. */
  public readonly rule: LbRule;
  /** The public IP of the frontend, when the load balancer is public. */
  public readonly publicIp?: PublicIp;
  /** Id of the backend pool. */
  public readonly backendAddressPoolId: string;
  /** Address clients connect to: the public IP, or the private frontend address. */
  public readonly frontendIpAddress: string;

  constructor(scope: Construct, id: string, props: AzureInferenceLoadBalancerProps) {
    super(scope, id);
    const prefix = props.namePrefix ?? azureName(id);
    const common = { resourceGroupName: props.resourceGroupName, location: props.location };
    const zones = props.zones ?? ['1', '2', '3'];
    const frontendName = 'frontend';
    if (!props.internalSubnetId) {
      this.publicIp = checkedPublicIp(this, 'PublicIp', {
        ...common,
        name: `${prefix}-lb-ip`,
        allocationMethod: 'Static',
        sku: 'Standard',
        zones,
        tags: props.tags,
      });
    }
    this.loadBalancer = new Lb(this, 'Lb', {
      ...common,
      name: `${prefix}-lb`,
      sku: 'Standard',
      frontendIpConfiguration: [
        this.publicIp
          ? { name: frontendName, publicIpAddressId: this.publicIp.id }
          : { name: frontendName, subnetId: props.internalSubnetId, privateIpAddressAllocation: 'Dynamic', zones },
      ],
      tags: props.tags,
    });
    this.backendAddressPool = new LbBackendAddressPool(this, 'Backend', { name: `${prefix}-backend`, loadbalancerId: this.loadBalancer.id });
    const probeConfig = {
      name: `${prefix}-probe`,
      loadbalancerId: this.loadBalancer.id,
      protocol: 'Http',
      port: props.probe.port,
      requestPath: props.probe.path,
      intervalInSeconds: props.probe.intervalSeconds,
      numberOfProbes: props.probe.threshold,
      probeThreshold: props.probe.threshold,
    };
    const refused = probeProviderProblems(probeConfig);
    if (refused.length > 0) throw new FleetSpecError(refused, this.node.path);
    this.probe = new LbProbe(this, 'Probe', probeConfig);
    this.rule = new LbRule(this, 'Rule', {
      name: `${prefix}-rule`,
      loadbalancerId: this.loadBalancer.id,
      protocol: 'Tcp',
      frontendIpConfigurationName: frontendName,
      frontendPort: props.frontendPort ?? 80,
      backendPort: props.backendPort,
      backendAddressPoolIds: [this.backendAddressPool.id],
      probeId: this.probe.id,
      disableOutboundSnat: true,
      tcpResetEnabled: true,
      idleTimeoutInMinutes: props.idleTimeoutMinutes ?? 4,
    });
    this.backendAddressPoolId = this.backendAddressPool.id;
    this.frontendIpAddress = this.publicIp ? this.publicIp.ipAddress : this.loadBalancer.privateIpAddress;
  }
}

/** An existing Standard load balancer and the backend pool a fleet joins. */
export interface AzureExistingBackendPool {
  /** Id of the existing load balancer (`azurerm_lb.id`). */
  readonly loadBalancerId: string;
  /** Id of its backend pool the fleet's VMs join (`azurerm_lb_backend_address_pool.id`). */
  readonly backendAddressPoolId: string;
  /**
   * Name of the frontend IP configuration to add a load-balancing rule on (frontend port -> serving port, with the
   * fleet's probe). Leave it out when the load balancer already has its rule: point that rule's `probe_id` at
   * the fleet's probe (`probeId`), or a draining VM stays in rotation.
   * @default - no rule: the load balancer's own rule routes to the pool
   */
  readonly frontendIpConfigurationName?: string;
  /** Frontend port of the added rule. @default 80 */
  readonly frontendPort?: number;
}

/** Props of {@link AzureBackendPoolAttachment}. */
export interface AzureBackendPoolAttachmentProps extends AzureExistingBackendPool {
  /** Prefix of the probe and rule names. */
  readonly namePrefix: string;
  /** Port the VMs serve on (the rule's backend port). */
  readonly backendPort: number;
  /** The fleet's health probe (the agent's health endpoint in DrainMode.HEALTH). */
  readonly probe: AzureProbeOptions;
  /** Minutes an idle TCP flow is kept (4-100). @default 4 */
  readonly idleTimeoutMinutes?: number;
}

/**
 * A fleet on an existing Standard load balancer: the fleet's HTTP probe (the agent's health endpoint, so a VM
 * leaves rotation when the agent drains it) on that load balancer and, when a frontend is named, the
 * load-balancing rule with that probe. The VMs join the given backend pool; the fleet's network security group
 * admits the load balancer's probes (`AzureLoadBalancer`) and the clients itself.
 */
export class AzureBackendPoolAttachment extends Construct {
  /** The fleet's probe on the existing load balancer. */
  public readonly probe: LbProbe;
  /** Id of the probe: give it to the load balancer's own rule when no rule was added here. */
  public readonly probeId: string;
  /** The added load-balancing rule, when `frontendIpConfigurationName` was given. */
  public readonly rule?: LbRule;
  /** Id of the existing load balancer. */
  public readonly loadBalancerId: string;
  /** Id of the backend pool the VMs join. */
  public readonly backendAddressPoolId: string;

  constructor(scope: Construct, id: string, props: AzureBackendPoolAttachmentProps) {
    super(scope, id);
    const v = new ProblemCollector();
    const C = FleetSpecErrorCode;
    if (!Token.isUnresolved(props.loadBalancerId) && !/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/loadBalancers\/[^/]+$/i.test(props.loadBalancerId)) {
      v.add(C.AZURE_BACKEND_POOL, 'existingBackendPool.loadBalancerId', `existingBackendPool.loadBalancerId ("${props.loadBalancerId}") is not a load balancer id (/subscriptions/<sub>/resourceGroups/<group>/providers/Microsoft.Network/loadBalancers/<name>); give azurerm_lb.id`);
    }
    if (!Token.isUnresolved(props.backendAddressPoolId) && !/\/providers\/Microsoft\.Network\/loadBalancers\/[^/]+\/backendAddressPools\/[^/]+$/i.test(props.backendAddressPoolId)) {
      v.add(C.AZURE_BACKEND_POOL, 'existingBackendPool.backendAddressPoolId', `existingBackendPool.backendAddressPoolId ("${props.backendAddressPoolId}") is not a backend pool id (.../loadBalancers/<name>/backendAddressPools/<pool>); give azurerm_lb_backend_address_pool.id`);
    }
    if (!Token.isUnresolved(props.loadBalancerId) && !Token.isUnresolved(props.backendAddressPoolId) && !props.backendAddressPoolId.toLowerCase().startsWith(`${props.loadBalancerId.toLowerCase()}/`)) {
      v.add(C.AZURE_BACKEND_POOL, 'existingBackendPool.backendAddressPoolId', `existingBackendPool.backendAddressPoolId ("${props.backendAddressPoolId}") is not a pool of existingBackendPool.loadBalancerId ("${props.loadBalancerId}"); the probe and the pool must be on the same load balancer`);
    }
    if (props.frontendIpConfigurationName === undefined && props.frontendPort !== undefined) {
      v.add(C.AZURE_BACKEND_POOL, 'existingBackendPool.frontendPort', `existingBackendPool.frontendPort (${props.frontendPort}) needs existingBackendPool.frontendIpConfigurationName: a rule is added only on a named frontend`);
    }
    v.throwIfAny(this.node.path);
    const probeConfig = {
      name: `${props.namePrefix}-probe`,
      loadbalancerId: props.loadBalancerId,
      protocol: 'Http',
      port: props.probe.port,
      requestPath: props.probe.path,
      intervalInSeconds: props.probe.intervalSeconds,
      numberOfProbes: props.probe.threshold,
      probeThreshold: props.probe.threshold,
    };
    const refused = probeProviderProblems(probeConfig);
    if (refused.length > 0) throw new FleetSpecError(refused, this.node.path);
    this.probe = new LbProbe(this, 'Probe', probeConfig);
    this.probeId = this.probe.id;
    this.loadBalancerId = props.loadBalancerId;
    this.backendAddressPoolId = props.backendAddressPoolId;
    if (props.frontendIpConfigurationName !== undefined) {
      this.rule = new LbRule(this, 'Rule', {
        name: `${props.namePrefix}-rule`,
        loadbalancerId: props.loadBalancerId,
        protocol: 'Tcp',
        frontendIpConfigurationName: props.frontendIpConfigurationName,
        frontendPort: props.frontendPort ?? 80,
        backendPort: props.backendPort,
        backendAddressPoolIds: [props.backendAddressPoolId],
        probeId: this.probe.id,
        disableOutboundSnat: true,
        tcpResetEnabled: true,
        idleTimeoutInMinutes: props.idleTimeoutMinutes ?? 4,
      });
    }
  }
}

/** @deprecated use {@link AzureInferenceLoadBalancer} (the same class: one naming scheme across the clouds, see docs/names.md). */
export const SpotLoadBalancer = AzureInferenceLoadBalancer;
/** @deprecated use {@link AzureInferenceLoadBalancer}. */
export type SpotLoadBalancer = AzureInferenceLoadBalancer;

/** @deprecated use {@link AzureInferenceLoadBalancerProps} (one naming scheme across the clouds, see docs/names.md). */
export type SpotLoadBalancerProps = AzureInferenceLoadBalancerProps;

/** @deprecated use {@link AzureBackendPoolAttachment} (the same class: one naming scheme across the clouds, see docs/names.md). */
export const SpotBackendPoolAttachment = AzureBackendPoolAttachment;
/** @deprecated use {@link AzureBackendPoolAttachment}. */
export type SpotBackendPoolAttachment = AzureBackendPoolAttachment;

/** @deprecated use {@link AzureBackendPoolAttachmentProps} (one naming scheme across the clouds, see docs/names.md). */
export type SpotBackendPoolAttachmentProps = AzureBackendPoolAttachmentProps;
