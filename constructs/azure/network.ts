import { NatGateway } from '@cdktf/provider-azurerm/lib/nat-gateway';
import { NatGatewayPublicIpAssociation } from '@cdktf/provider-azurerm/lib/nat-gateway-public-ip-association';
import { NetworkSecurityGroup } from '@cdktf/provider-azurerm/lib/network-security-group';
import { Subnet } from '@cdktf/provider-azurerm/lib/subnet';
import { SubnetNatGatewayAssociation } from '@cdktf/provider-azurerm/lib/subnet-nat-gateway-association';
import { SubnetNetworkSecurityGroupAssociation } from '@cdktf/provider-azurerm/lib/subnet-network-security-group-association';
import { VirtualNetwork } from '@cdktf/provider-azurerm/lib/virtual-network';
import { Construct } from 'constructs';
import { checkedPublicIp, checkedSecurityRule } from './provider-rules';
import { numberText } from './tokens';

/** Where a fleet's Azure resources go. */
export interface AzureResourceOptions {
  /** Resource group of every resource the construct creates. */
  readonly resourceGroupName: string;
  /** Azure region, e.g. `eastus2`. */
  readonly location: string;
  /** Prefix of the Azure resource names. @default - the construct id, lower case */
  readonly namePrefix?: string;
  /** Tags on every resource that takes them. @default - none */
  readonly tags?: { [key: string]: string };
}

/** Props of {@link AzureFleetNetwork}. */
export interface AzureFleetNetworkProps extends AzureResourceOptions {
  /** Address space of the virtual network. @default '10.42.0.0/16' */
  readonly addressSpace?: string;
  /** Address prefix of the workers' subnet. @default '10.42.0.0/20' (4,091 usable addresses) */
  readonly subnetPrefix?: string;
}

/**
 * A virtual network with one private subnet for the workers. The subnet has no default outbound access
 * (workers get no public IP); a NAT gateway with one static public IP gives them outbound access
 * (package installs, model downloads) without accepting any inbound connection.
 */
export class AzureFleetNetwork extends Construct {
  /** The virtual network. */
  public readonly virtualNetwork: VirtualNetwork;
  /** The workers' subnet. */
  public readonly subnet: Subnet;
  /** The NAT gateway of the subnet's outbound traffic. */
  public readonly natGateway: NatGateway;
  /** Id of the workers' subnet. */
  public readonly subnetId: string;

  constructor(scope: Construct, id: string, props: AzureFleetNetworkProps) {
    super(scope, id);
    const prefix = props.namePrefix ?? azureName(id);
    const common = { resourceGroupName: props.resourceGroupName, location: props.location };
    const addressSpace = props.addressSpace ?? '10.42.0.0/16';
    this.virtualNetwork = new VirtualNetwork(this, 'Vnet', {
      ...common,
      name: `${prefix}-vnet`,
      addressSpace: [addressSpace],
      tags: props.tags,
    });
    this.subnet = new Subnet(this, 'Subnet', {
      name: `${prefix}-workers`,
      resourceGroupName: props.resourceGroupName,
      virtualNetworkName: this.virtualNetwork.name,
      addressPrefixes: [props.subnetPrefix ?? '10.42.0.0/20'],
      defaultOutboundAccessEnabled: false,
    });
    const natIp = checkedPublicIp(this, 'NatIp', {
      ...common,
      name: `${prefix}-nat-ip`,
      allocationMethod: 'Static',
      sku: 'Standard',
      tags: props.tags,
    });
    this.natGateway = new NatGateway(this, 'Nat', {
      ...common,
      name: `${prefix}-nat`,
      skuName: 'Standard',
      idleTimeoutInMinutes: 4,
      tags: props.tags,
    });
    new NatGatewayPublicIpAssociation(this, 'NatIpAssociation', { natGatewayId: this.natGateway.id, publicIpAddressId: natIp.id });
    new SubnetNatGatewayAssociation(this, 'SubnetNat', { subnetId: this.subnet.id, natGatewayId: this.natGateway.id });
    this.subnetId = this.subnet.id;
  }
}

/** Props of {@link AzureFleetSecurityGroup}. */
export interface AzureFleetSecurityGroupProps extends AzureResourceOptions {
  /** Port the inference server listens on. */
  readonly servingPort: number;
  /** Port the load balancer probes (the agent's health endpoint). */
  readonly healthPort: number;
  /**
   * Sources admitted to the serving port: IPv4 CIDRs or Azure service tags. With a public load balancer
   * Azure keeps the client's address, so these are your clients' addresses.
   * @default ['VirtualNetwork'] - only callers inside the virtual network
   */
  readonly allowedClientCidrs?: string[];
  /** Also associate the group with this subnet (in addition to the scale sets' NICs). @default - NICs only */
  readonly subnetId?: string;
}

/**
 * The workers' network security group: the load balancer's probes (service tag `AzureLoadBalancer`)
 * reach the serving and health ports, the clients' CIDRs reach the serving port, and an explicit rule
 * denies every other inbound flow (including the default allow-all inside the virtual network).
 */
export class AzureFleetSecurityGroup extends Construct {
  /** The network security group. */
  public readonly networkSecurityGroup: NetworkSecurityGroup;
  /** Id of the network security group. */
  public readonly networkSecurityGroupId: string;

  constructor(scope: Construct, id: string, props: AzureFleetSecurityGroupProps) {
    super(scope, id);
    const prefix = props.namePrefix ?? azureName(id);
    this.networkSecurityGroup = new NetworkSecurityGroup(this, 'Nsg', {
      name: `${prefix}-nsg`,
      resourceGroupName: props.resourceGroupName,
      location: props.location,
      tags: props.tags,
    });
    this.networkSecurityGroupId = this.networkSecurityGroup.id;
    const ports = [...new Set([props.servingPort, props.healthPort])].map(numberText);
    const rule = { resourceGroupName: props.resourceGroupName, networkSecurityGroupName: this.networkSecurityGroup.name, direction: 'Inbound', sourcePortRange: '*', destinationAddressPrefix: 'VirtualNetwork' };
    checkedSecurityRule(this, 'AllowLoadBalancer', {
      ...rule,
      name: 'allow-azure-load-balancer',
      description: 'Load balancer health probes and traffic to the serving and health ports',
      priority: 100,
      access: 'Allow',
      protocol: 'Tcp',
      sourceAddressPrefix: 'AzureLoadBalancer',
      destinationPortRanges: ports,
    });
    checkedSecurityRule(this, 'AllowClients', {
      ...rule,
      name: 'allow-clients-serving-port',
      description: 'Clients of the inference API (a public load balancer keeps their source address)',
      priority: 110,
      access: 'Allow',
      protocol: 'Tcp',
      sourceAddressPrefixes: props.allowedClientCidrs ?? ['VirtualNetwork'],
      destinationPortRange: numberText(props.servingPort),
    });
    checkedSecurityRule(this, 'DenyAllInbound', {
      ...rule,
      name: 'deny-all-other-inbound',
      description: 'Nothing else reaches the workers, not even from inside the virtual network',
      priority: 4096,
      access: 'Deny',
      protocol: '*',
      sourceAddressPrefix: '*',
      destinationAddressPrefix: '*',
      destinationPortRange: '*',
    });
    if (props.subnetId) {
      new SubnetNetworkSecurityGroupAssociation(this, 'SubnetAssociation', { subnetId: props.subnetId, networkSecurityGroupId: this.networkSecurityGroup.id });
    }
  }
}

/** A construct id as an Azure resource name fragment: lower case letters, digits and dashes. */
export function azureName(id: string): string {
  const s = id
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return (s || 'spot').slice(0, 40);
}

/** @deprecated use {@link AzureFleetNetwork} (the same class: one naming scheme across the clouds, see docs/names.md). */
export const SpotFleetNetwork = AzureFleetNetwork;
/** @deprecated use {@link AzureFleetNetwork}. */
export type SpotFleetNetwork = AzureFleetNetwork;

/** @deprecated use {@link AzureFleetNetworkProps} (one naming scheme across the clouds, see docs/names.md). */
export type SpotFleetNetworkProps = AzureFleetNetworkProps;

/** @deprecated use {@link AzureFleetSecurityGroup} (the same class: one naming scheme across the clouds, see docs/names.md). */
export const SpotFleetSecurityGroup = AzureFleetSecurityGroup;
/** @deprecated use {@link AzureFleetSecurityGroup}. */
export type SpotFleetSecurityGroup = AzureFleetSecurityGroup;

/** @deprecated use {@link AzureFleetSecurityGroupProps} (one naming scheme across the clouds, see docs/names.md). */
export type SpotFleetSecurityGroupProps = AzureFleetSecurityGroupProps;
