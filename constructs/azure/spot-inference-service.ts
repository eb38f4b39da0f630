import { TerraformOutput } from 'cdktf';
import { Construct } from 'constructs';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { withCurrentOptionNames } from '../../lib/spec/option-aliases';
import { AzureFleetAlerts, AzureFleetAlertsOptions } from './fleet-alerts';
import { AzureInterruptionDrill } from './interruption-drill';
import { azureName } from './network';
import { AzureOnDemandFallback, AzureOnDemandFallbackOptions, agentWithPlannedEvictionQueue } from './on-demand-fallback';
import { AzureSpotFleet, AzureSpotFleetProps } from './spot-scale-set-fleet';

/** Props of {@link AzureSpotInferenceService}: the fleet's props plus which pieces to add. */
export interface AzureSpotInferenceServiceProps extends AzureSpotFleetProps {
  /**
   * Add an {@link AzureOnDemandFallback}: a controller that raises the fleet's Regular (on-demand) share when Spot
   * capacity runs out and lowers it again once Spot is back.
   * @default true
   */
  readonly onDemandFallback?: boolean;
  /** Tuning of the controller (schedule, policy, spare scale sets, custom metric, storage account). @default - see AzureOnDemandFallbackOptions */
  readonly onDemandFallbackOptions?: AzureOnDemandFallbackOptions;
  /**
   * Create the Azure Monitor alerts (backend health, evictions, a long fallback: the last only with the on-demand
   * fallback controller, which writes the metric it watches).
   * @default true
   */
  readonly alerts?: boolean;
  /** Options of the alerts (action groups, thresholds). @default - see AzureFleetAlertsOptions */
  readonly alertOptions?: AzureFleetAlertsOptions;
  /** Add Terraform outputs (the endpoint, the drill commands). @default true */
  readonly outputs?: boolean;
}

/**
 * The Azure pattern: an inference service on Spot scale sets with a Regular (on-demand) base, behind a Standard
 * load balancer (created, or an existing one's backend pool with `existingBackendPool`), with the on-instance drain
 * agent, alerts, the Simulate Eviction drill and the on-demand fallback controller. Take it whole, or use
 * {@link AzureSpotFleet}, {@link AzureFleetAlerts}, {@link AzureInterruptionDrill} and {@link AzureOnDemandFallback}
 * on their own.
 */
export class AzureSpotInferenceService extends Construct {
  /** The fleet. */
  public readonly fleet: AzureSpotFleet;
  /** The on-demand fallback controller, unless `onDemandFallback` is false. */
  public readonly onDemandFallback?: AzureOnDemandFallback;
  /** The alerts, unless `alerts` is false. */
  public readonly alerts?: AzureFleetAlerts;
  /** The interruption drill (Simulate Eviction of one Spot VM). */
  public readonly interruptionDrill: AzureInterruptionDrill;

  constructor(scope: Construct, id: string, given: AzureSpotInferenceServiceProps) {
    super(scope, id);
    const v = new ProblemCollector();
    // One spelling per option (bootCommands, agent.bundlePath); both spellings of one are refused.
    const current = withCurrentOptionNames(given);
    v.addAll(current.problems);
    const props = current.props;
    if (props.loadBalanced === false) {
      v.add(FleetSpecErrorCode.OPTION_CONFLICT, 'loadBalanced', 'loadBalanced is false, but AzureSpotInferenceService is an online service behind a load balancer; use AzureQueueWorkerFleet for queue workers, AzureBatchInference for batch, or AzureSpotFleet for a fleet without a load balancer');
    }
    if (props.alerts === false && props.alertOptions !== undefined) {
      v.add(FleetSpecErrorCode.OPTION_CONFLICT, 'alertOptions', 'alertOptions is set but alerts is false; remove alertOptions or turn the alerts on');
    }
    v.throwIfAny(this.node.path);
    const outputs = props.outputs ?? true;
    const namePrefix = props.namePrefix ?? azureName(id);
    const fallback = props.onDemandFallback ?? true;
    // The agents post each Preempt notice to the controller's queue (its URL is known before the controller exists).
    const agent = agentWithPlannedEvictionQueue(props.agent, { path: `${this.node.path}/OnDemandFallback`, resourceGroupName: props.resourceGroupName, location: props.location, onDemandFallback: fallback, options: props.onDemandFallbackOptions });
    this.fleet = new AzureSpotFleet(this, 'Fleet', { ...props, namePrefix, agent });
    if (fallback) {
      this.onDemandFallback = new AzureOnDemandFallback(this, 'OnDemandFallback', {
        ...props.onDemandFallbackOptions,
        fleet: this.fleet,
        resourceGroupName: props.resourceGroupName,
        location: props.location,
        namePrefix,
        tags: props.tags,
      });
    }
    if (props.alerts ?? true) {
      // The fallback alert watches the controller's metric: none with `onDemandFallback: false` (nothing writes it).
      this.alerts = AzureFleetAlerts.forFleet(this, 'Alerts', this.fleet, { ...props.alertOptions, onDemandFallback: this.onDemandFallback });
    }
    this.interruptionDrill = AzureInterruptionDrill.forFleet(this, 'Drill', this.fleet, outputs);
    if (outputs && props.existingBackendPool === undefined) {
      new TerraformOutput(this, 'Endpoint', { value: this.fleet.loadBalancer.frontendIpAddress, description: 'Address of the load balancer frontend' });
    }
  }
}
