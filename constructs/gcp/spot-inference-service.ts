import { TerraformOutput } from 'cdktf';
import { Construct } from 'constructs';
import { ProblemCollector } from '../../lib/spec/errors';
import { withCurrentOptionNames } from '../../lib/spec/option-aliases';
import { GcpFleetAlerts, GcpFleetAlertsOptions } from './fleet-alerts';
import { GcpInterruptionDrill } from './interruption-drill';
import { GcpInferenceLoadBalancer, GcpInferenceLoadBalancerOptions } from './load-balancer';
import { GcpOnDemandFallback, GcpOnDemandFallbackOptions } from './on-demand-fallback';
import { GcpPreemptionHook, GcpPreemptionHookOptions } from './preemption-hook';
import { GcpSpotFleet, GcpSpotFleetProps } from './spot-fleet';

/** Props of {@link GcpSpotInferenceService}: the fleet, its load balancer and its preemption hook in one. */
export interface GcpSpotInferenceServiceProps extends GcpSpotFleetProps, GcpInferenceLoadBalancerOptions, GcpPreemptionHookOptions {
  /** Add Terraform outputs (load balancer IP, group names, the drill command). @default true */
  readonly outputs?: boolean;
  /**
   * Attach a {@link GcpOnDemandFallback}: a controller that resizes the standard (on-demand) group when spot
   * runs out and back down once spot replacements are ready, run every minute and on every preemption.
   * @default true
   */
  readonly onDemandFallback?: boolean;
  /** Tuning of the on-demand fallback controller. @default - see GcpOnDemandFallbackOptions */
  readonly onDemandFallbackOptions?: GcpOnDemandFallbackOptions;
  /**
   * Create alert policies: no healthy backend, too few serving VMs, preemptions per hour, fallback active.
   * @default true
   */
  readonly alerts?: boolean;
  /** Options of the alert policies (notification channels, thresholds). @default - see GcpFleetAlertsOptions */
  readonly alertOptions?: GcpFleetAlertsOptions;
}

/**
 * The Google Cloud pattern: an inference service on a diversified spot fleet with an on-demand base, behind a
 * global external Application Load Balancer, with the preemption hook. Take it whole, or use
 * {@link GcpSpotFleet}, {@link GcpInferenceLoadBalancer} and {@link GcpPreemptionHook} on their own.
 */
export class GcpSpotInferenceService extends Construct {
  public readonly fleet: GcpSpotFleet;
  public readonly loadBalancer: GcpInferenceLoadBalancer;
  public readonly preemptionHook: GcpPreemptionHook;
  /** The on-demand fallback controller, unless `onDemandFallback` is false. */
  public readonly onDemandFallback?: GcpOnDemandFallback;
  /** The alert policies, unless `alerts` is false. */
  public readonly alerts?: GcpFleetAlerts;
  /** The preemption drill: the `gcloud compute instances simulate-maintenance-event` command for a fleet VM. */
  public readonly interruptionDrill: GcpInterruptionDrill;

  constructor(scope: Construct, id: string, given: GcpSpotInferenceServiceProps) {
    super(scope, id);
    // One spelling per option (namePrefix, bootCommands, agent.bundlePath); both spellings of one are refused.
    const current = withCurrentOptionNames(given);
    const problems = new ProblemCollector();
    problems.addAll(current.problems);
    problems.throwIfAny(this.node.path);
    const props = current.props;
    this.fleet = new GcpSpotFleet(this, 'Fleet', { ...props, namePrefix: props.namePrefix ?? id.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 20).replace(/-+$/, '') });
    this.loadBalancer = new GcpInferenceLoadBalancer(this, 'LoadBalancer', {
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
    if (props.onDemandFallback ?? true) {
      this.onDemandFallback = new GcpOnDemandFallback(this, 'OnDemandFallback', {
        ...props.onDemandFallbackOptions,
        fleet: this.fleet,
        preemptionHook: this.preemptionHook,
        // the spare spot groups serve behind the same backend service
        backendService: this.loadBalancer.backendService,
      });
    }
    if (props.alerts ?? true) {
      this.alerts = GcpFleetAlerts.forService(this, 'Alerts', this, props.alertOptions);
    }
    this.interruptionDrill = GcpInterruptionDrill.forFleet(this, 'Drill', this.fleet, props.outputs ?? true);
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
