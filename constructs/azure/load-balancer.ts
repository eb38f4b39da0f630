import { Lb } from '@cdktf/provider-azurerm/lib/lb';
import { LbBackendAddressPool } from '@cdktf/provider-azurerm/lib/lb-backend-address-pool';
import { LbProbe } from '@cdktf/provider-azurerm/lib/lb-probe';
import { LbRule } from '@cdktf/provider-azurerm/lib/lb-rule';
import { PublicIp } from '@cdktf/provider-azurerm/lib/public-ip';
import { Construct } from 'constructs';
import { FleetSpecError } from '../../lib/spec/errors';
import { AzureResourceOptions, azureName } from './network';
import { probeProviderProblems } from './provider-rules';

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

/** Props of {@link SpotLoadBalancer}. */
export interface SpotLoadBalancerProps extends AzureResourceOptions {
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
export class SpotLoadBalancer extends Construct {
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

  constructor(scope: Construct, id: string, props: SpotLoadBalancerProps) {
    super(scope, id);
    const prefix = props.namePrefix ?? azureName(id);
    const common = { resourceGroupName: props.resourceGroupName, location: props.location };
    const zones = props.zones ?? ['1', '2', '3'];
    const frontendName = 'frontend';
    if (!props.internalSubnetId) {
      this.publicIp = new PublicIp(this, 'PublicIp', {
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
