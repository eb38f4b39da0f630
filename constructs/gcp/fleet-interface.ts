import { Construct } from 'constructs';
import { CLOUD_LIMITS, Cloud, DEFAULT_SERVING_PORT } from '../../lib/spec';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { DEFAULT_AGENT_HEALTH_PORT } from '../../lib/runtime/agent-config';
import { Token } from 'cdktf';
import { InstanceTerminationAction } from './types';

/**
 * What the Google Cloud pieces (load balancer, backends on an existing backend service or URL map, alerts, drill,
 * preemption hook) need from a spot fleet. {@link GcpSpotFleet} implements it; `GcpSpotFleet.fromInstanceGroupManagers`
 * returns one for managed instance groups created elsewhere.
 */
export interface IGcpSpotFleet {
  /** Project of the fleet. */
  readonly project: string;
  /** Region of the fleet's regional managed instance groups. */
  readonly region: string;
  /** Name of the fleet: the `spot-fleet` label of its VMs and the prefix of created names. */
  readonly fleetName: string;
  /** Names of the fleet's managed instance groups (spot first, then standard). */
  readonly instanceGroupManagerNames: string[];
  /** URLs of the instance groups the load balancer's backends point at (one per managed instance group). */
  readonly instanceGroupUrls: string[];
  /** Name of the spot managed instance group (the preemption hook and fallback watch it). */
  readonly spotGroupName: string;
  /** Instance names of spot VMs start with this, followed by `-`. */
  readonly spotInstanceNamePrefix: string;
  /** Port the inference server serves on. */
  readonly servingPort: number;
  /** Named port of the groups that the backend service sends traffic to. */
  readonly servingPortName: string;
  /** Port the load balancer's health check probes (the agent's health endpoint in DrainMode.HEALTH). */
  readonly healthPort: number;
  /** Path the health check requests. */
  readonly healthCheckPath: string;
  /** Id of the fleet's health check, when it has one. */
  readonly healthCheckId?: string;
  /** Seconds the backend service drains a VM the agent failed (inside the 30 s notice). */
  readonly deregistrationDelaySeconds: number;
  /** Utilization target of the backends, above 0 and at most 1. */
  readonly targetUtilization: number;
  /** VPC network the VMs are in (firewall rules go there). */
  readonly network: string;
  /** Service accounts of the VMs (targets of firewall rules); give these or `networkTags`. */
  readonly serviceAccountEmails?: string[];
  /** Network tags of the VMs (targets of firewall rules), when they have no dedicated service account. */
  readonly networkTags?: string[];
  /** What Compute Engine does with a preempted spot VM. */
  readonly terminationAction: InstanceTerminationAction;
  /** Private bucket the preemption hook and fallback upload their function code to, when the fleet has one. */
  readonly artifactBucketName?: string;
}

/** Attributes of managed instance groups created elsewhere, for `GcpSpotFleet.fromInstanceGroupManagers`. */
export interface GcpSpotFleetAttributes {
  /** Project of the groups. */
  readonly project: string;
  /** Region of the regional managed instance groups. */
  readonly region: string;
  /** Name of the fleet (the `spot-fleet` label value of its VMs, if they carry one; prefix of created names). */
  readonly fleetName: string;
  /** Name of the spot regional managed instance group. */
  readonly spotGroupName: string;
  /** Names of further groups behind the same backend (e.g. a standard-VM base). @default - none */
  readonly otherGroupNames?: string[];
  /** Base instance name of the spot group (instance names start with it and `-`). @default - spotGroupName */
  readonly spotBaseInstanceName?: string;
  /** Port the inference server serves on. @default 8080 */
  readonly servingPort?: number;
  /** Named port on the groups (it must exist on them: `gcloud compute instance-groups set-named-ports`). @default 'http' */
  readonly servingPortName?: string;
  /** Port health checks probe (the spot agent's). @default 9901 */
  readonly healthPort?: number;
  /** Path health checks request. @default '/health' */
  readonly healthCheckPath?: string;
  /** Id of an existing health check the groups answer. @default - none: pieces that need one create it */
  readonly healthCheckId?: string;
  /** @default 10 (the Google Cloud default drain window inside the 30 s notice) */
  readonly deregistrationDelaySeconds?: number;
  /** @default 0.8 */
  readonly targetUtilization?: number;
  /** @default 'default' */
  readonly network?: string;
  /** Service accounts of the VMs (firewall targets). Give these or `networkTags`. @default - none */
  readonly serviceAccountEmails?: string[];
  /** Network tags of the VMs (firewall targets). @default - none */
  readonly networkTags?: string[];
  /** @default InstanceTerminationAction.DELETE */
  readonly terminationAction?: InstanceTerminationAction;
  /** Bucket for function code (the preemption hook needs one). @default - none */
  readonly artifactBucketName?: string;
}

/** An {@link IGcpSpotFleet} over managed instance groups this stack does not create. */
export class ImportedGcpSpotFleet extends Construct implements IGcpSpotFleet {
  public readonly project: string;
  public readonly region: string;
  public readonly fleetName: string;
  public readonly instanceGroupManagerNames: string[];
  public readonly instanceGroupUrls: string[];
  public readonly spotGroupName: string;
  public readonly spotInstanceNamePrefix: string;
  public readonly servingPort: number;
  public readonly servingPortName: string;
  public readonly healthPort: number;
  public readonly healthCheckPath: string;
  public readonly healthCheckId?: string;
  public readonly deregistrationDelaySeconds: number;
  public readonly targetUtilization: number;
  public readonly network: string;
  public readonly serviceAccountEmails?: string[];
  public readonly networkTags?: string[];
  public readonly terminationAction: InstanceTerminationAction;
  public readonly artifactBucketName?: string;

  constructor(scope: Construct, id: string, a: GcpSpotFleetAttributes) {
    super(scope, id);
    validateAttributes(a, this.node.path);
    this.project = a.project;
    this.region = a.region;
    this.fleetName = a.fleetName;
    this.spotGroupName = a.spotGroupName;
    this.instanceGroupManagerNames = [a.spotGroupName, ...(a.otherGroupNames ?? [])];
    // A regional managed instance group's instance group has the group's name.
    this.instanceGroupUrls = this.instanceGroupManagerNames.map(
      (g) => `https://www.googleapis.com/compute/v1/projects/${a.project}/regions/${a.region}/instanceGroups/${g}`,
    );
    this.spotInstanceNamePrefix = a.spotBaseInstanceName ?? a.spotGroupName;
    this.servingPort = a.servingPort ?? DEFAULT_SERVING_PORT;
    this.servingPortName = a.servingPortName ?? 'http';
    this.healthPort = a.healthPort ?? DEFAULT_AGENT_HEALTH_PORT;
    this.healthCheckPath = a.healthCheckPath ?? '/health';
    this.healthCheckId = a.healthCheckId;
    this.deregistrationDelaySeconds = a.deregistrationDelaySeconds ?? CLOUD_LIMITS[Cloud.GCP].defaultDeregistrationDelaySeconds;
    this.targetUtilization = a.targetUtilization ?? 0.8;
    this.network = a.network ?? 'default';
    this.serviceAccountEmails = a.serviceAccountEmails;
    this.networkTags = a.networkTags;
    this.terminationAction = a.terminationAction ?? InstanceTerminationAction.DELETE;
    this.artifactBucketName = a.artifactBucketName;
  }
}

function validateAttributes(a: GcpSpotFleetAttributes, scope: string): void {
  const v = new ProblemCollector();
  const C = FleetSpecErrorCode;
  const known = (x: unknown): x is number => typeof x === 'number' && !Token.isUnresolved(x);
  const listed = (xs?: string[]) => xs !== undefined && (Token.isUnresolved(xs) || xs.length > 0);
  if (!listed(a.serviceAccountEmails) && !listed(a.networkTags)) {
    v.add(C.GCP_FIREWALL, 'serviceAccountEmails', 'serviceAccountEmails and networkTags are both empty: the firewall rule that admits Google\'s load balancer and health checkers (35.191.0.0/16, 130.211.0.0/22) needs a target; give the VMs\' service account email(s) or their network tags');
  }
  if (listed(a.serviceAccountEmails) && listed(a.networkTags)) {
    v.add(C.GCP_FIREWALL, 'networkTags', 'serviceAccountEmails and networkTags are both set: a firewall rule targets service accounts or tags, not both (terraform-provider-google ConflictsWith on target_service_accounts / target_tags); give one');
  }
  if (!Token.isUnresolved(a.fleetName) && !/^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$/.test(a.fleetName)) {
    v.add(C.GCP_RESOURCE_NAME, 'fleetName', `fleetName ("${a.fleetName}") must be 1-20 lower-case letters, digits and hyphens, starting with a letter: it prefixes the names of the resources created for the fleet`);
  }
  for (const [prop, port] of [['servingPort', a.servingPort], ['healthPort', a.healthPort]] as const) {
    if (known(port) && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      v.add(FleetSpecErrorCode.PORT_RANGE, prop, `${prop} (${port}) must be between 1 and 65535`);
    }
  }
  const notice = CLOUD_LIMITS[Cloud.GCP].noticeSeconds;
  if (known(a.deregistrationDelaySeconds) && !(a.deregistrationDelaySeconds >= 0 && a.deregistrationDelaySeconds < notice)) {
    v.add(FleetSpecErrorCode.DRAIN_BUDGET_EXCEEDED, 'deregistrationDelaySeconds', `deregistrationDelaySeconds (${a.deregistrationDelaySeconds}) must be 0 or more and shorter than the ${notice} s Google Cloud preemption notice: the VM is gone before the load balancer stops draining it; use e.g. 10`);
  }
  if (known(a.targetUtilization) && !(a.targetUtilization > 0 && a.targetUtilization <= 1)) {
    v.add(C.GCP_AUTOSCALER, 'targetUtilization', `targetUtilization (${a.targetUtilization}) must be above 0 and at most 1; use e.g. 0.8`);
  }
  v.throwIfAny(scope);
}
