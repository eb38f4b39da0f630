import { TerraformOutput } from 'cdktf';
import { Construct } from 'constructs';
import { GcpFleetLoadBalancer, GcpFleetLoadBalancerOptions } from './load-balancer';
import { GcpPreemptionHook, GcpPreemptionHookOptions } from './preemption-hook';
import { GcpSpotFleet, GcpSpotFleetProps } from './spot-fleet';

/** Props of {@link GcpSpotInferenceService}: the fleet, its load balancer and its preemption hook in one. */
export interface GcpSpotInferenceServiceProps extends GcpSpotFleetProps, GcpFleetLoadBalancerOptions, GcpPreemptionHookOptions {
  /** Add Terraform outputs (load balancer IP, group names). @default true */
  readonly outputs?: boolean;
}

/**
 * The Google Cloud pattern: an inference service on a diversified spot fleet with an on-demand base, behind a
 * global external Application Load Balancer, with the preemption hook. Take it whole, or use
 * {@link GcpSpotFleet}, {@link GcpFleetLoadBalancer} and {@link GcpPreemptionHook} on their own.
 */
export class GcpSpotInferenceService extends Construct {
  public readonly fleet: GcpSpotFleet;
  public readonly loadBalancer: GcpFleetLoadBalancer;
  public readonly preemptionHook: GcpPreemptionHook;

  constructor(scope: Construct, id: string, props: GcpSpotInferenceServiceProps) {
    super(scope, id);
    this.fleet = new GcpSpotFleet(this, 'Fleet', { ...props, name: props.name ?? id.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 20).replace(/-+$/, '') });
    this.loadBalancer = new GcpFleetLoadBalancer(this, 'LoadBalancer', {
      fleet: this.fleet,
      sslCertificates: props.sslCertificates,
      requestTimeoutSeconds: props.requestTimeoutSeconds,
      securityPolicy: props.securityPolicy,
    });
    this.preemptionHook = new GcpPreemptionHook(this, 'PreemptionHook', {
      fleet: this.fleet,
      topicKmsKeyName: props.topicKmsKeyName,
      functionMaxInstances: props.functionMaxInstances,
      functionBundleDir: props.functionBundleDir,
    });
    if (props.outputs ?? true) {
      new TerraformOutput(this, 'LoadBalancerIp', { value: this.loadBalancer.ipAddress, description: 'Public IP of the load balancer' });
      new TerraformOutput(this, 'SpotGroup', { value: this.fleet.spotGroup.name, description: 'Regional MIG of spot VMs' });
      new TerraformOutput(this, 'OnDemandGroup', { value: this.fleet.onDemandGroup.name, description: 'Regional MIG of standard VMs' });
    }
  }

  /** Public IP of the load balancer. */
  public get ipAddress(): string {
    return this.loadBalancer.ipAddress;
  }
}
