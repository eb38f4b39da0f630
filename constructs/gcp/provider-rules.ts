/**
 * What terraform-provider-google (v6.50.0, the provider `@cdktf/provider-google` 16.12.1 wraps) refuses at plan or
 * create time for the resources the Google Cloud constructs render, checked at synth with the provider's own reason.
 *
 * Each rule names where it comes from in `hashicorp/terraform-provider-google`, `google/services/compute/`:
 * - `resource_compute_region_instance_group_manager.go`: `auto_healing_policies.initial_delay_sec`
 *   (`validation.IntBetween(0, 3600)`); `update_policy.max_surge_fixed` / `max_unavailable_fixed` ("It has to be
 *   either 0 or at least equal to the number of zones. If fixed values are used, at least one of
 *   max_unavailable_fixed or max_surge_fixed must be greater than 0."); `replacement_method` RECREATE ("You must also
 *   set max_unavailable_fixed or max_unavailable_percent to be greater than 0"); `minimal_action`, `type`,
 *   `most_disruptive_allowed_action` (`validation.StringInSlice`); `name` ("1-63 characters long and comply with
 *   RFC1035").
 * - `resource_compute_instance_template.go` / `resource_compute_region_instance_template.go`: `name_prefix`
 *   ("cannot be longer than 54 characters, name is limited to 63"; the provider appends a 9-character suffix);
 *   `resourceComputeInstanceTemplateBootDiskCustomizeDiff` ("Only the first disk specified in instance_template can be
 *   the boot disk").
 * - `resource_compute_health_check.go`: `timeout_sec` ("It is invalid for timeoutSec to have greater value than
 *   checkIntervalSec"); `healthCheckCustomizeDiff` / `validatePortSpec` ("port cannot be specified when using
 *   port_specification USE_SERVING_PORT").
 * - `resource_compute_region_autoscaler.go`: `max_replicas` ("should not be lower than minimal number of replicas"),
 *   `min_replicas` ("cannot be less than 0"), `cpu_utilization.target` ("Must be a float value in the range (0, 1]"),
 *   `load_balancing_utilization.target` ("Must be a positive float value"), `metric.target` ("must be a positive
 *   value"), `metric.type` (`verify.ValidateEnum(GAUGE, DELTA_PER_SECOND, DELTA_PER_MINUTE)`), `cooldown_period`.
 * - `resource_compute_firewall.go`: `resourceComputeFirewallSourceFieldsCustomizeDiff` ("one of source_tags,
 *   source_ranges, or source_service_accounts must be defined" for INGRESS); `target_service_accounts` (`MaxItems:
 *   10`, `ConflictsWith: source_tags, target_tags`); `priority` (`validation.IntBetween(0, 65535)`); `allow` /
 *   `deny` (`ExactlyOneOf`).
 * - `resource_compute_backend_service.go` (schema descriptions of 6.50.0, as shipped in `@cdktf/provider-google`'s
 *   `compute-backend-service` docs): `health_checks` ("Currently at most one health check can be specified. A health
 *   check must be specified unless the backend service uses an internet or serverless NEG"); `max_utilization`
 *   ("The valid range is [0.0, 1.0]"); `timeout_sec` (the provider allows 1 through 2,147,483,647; the global
 *   external Application Load Balancer's documented maximum of 86,400 s is the tighter bound used here).
 *
 * Rules return problems (code `PROVIDER_RULE`-style `CLOUD_CONSTRAINT`) instead of throwing, so a construct reports
 * every problem of one props object together. Tokens are skipped.
 */
import { Token } from 'cdktf';
import { FleetSpecErrorCode as C, ProblemCollector } from '../../lib/spec/errors';

const known = (x: unknown): x is number => typeof x === 'number' && !Token.isUnresolved(x);
const knownStr = (x: unknown): x is string => typeof x === 'string' && !Token.isUnresolved(x);
const P = 'terraform-provider-google';

/** `verify.ValidateGCEName`: 1-63 characters, `[a-z]([-a-z0-9]*[a-z0-9])?`. */
export const GCE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A rendered resource name the provider validates with `ValidateGCEName` (RFC1035, 1-63 characters). */
export function checkGceName(v: ProblemCollector, prop: string, resource: string, name: string | undefined): void {
  if (!knownStr(name)) return;
  if (!GCE_NAME.test(name)) {
    v.add(C.GCP_RESOURCE_NAME, prop, `${resource} name "${name}" is refused by ${P} (ValidateGCEName: "must be 1-63 characters long and match the regular expression [a-z]([-a-z0-9]*[a-z0-9])?"); shorten ${prop} or use lower-case letters, digits and hyphens, starting with a letter`);
  }
}

/** `name_prefix` of an instance template: at most 54 characters (the provider adds a 9-character unique suffix). */
export function checkTemplateNamePrefix(v: ProblemCollector, prop: string, prefix: string): void {
  if (!knownStr(prefix)) return;
  if (prefix.length > 54) {
    v.add(C.GCP_RESOURCE_NAME, prop, `instance template name_prefix "${prefix}" (${prefix.length} characters) is refused by ${P} ("cannot be longer than 54 characters, name is limited to 63"); shorten ${prop}`);
  }
}

/** `auto_healing_policies.initial_delay_sec`: `validation.IntBetween(0, 3600)`. */
export function checkAutohealingDelay(v: ProblemCollector, prop: string, seconds: number): void {
  if (!known(seconds)) return;
  if (!(Number.isInteger(seconds) && seconds >= 0 && seconds <= 3600)) {
    v.add(C.GCP_AUTOHEALING, prop, `${prop} (${seconds}) is the autohealing initial_delay_sec, which ${P} refuses outside 0 to 3600 (validation.IntBetween(0, 3600) on google_compute_region_instance_group_manager.auto_healing_policies); use at most 3600 s, or turn autohealing off`);
  }
}

/** The update policy of a regional MIG as the fleet renders it. */
export interface RegionUpdatePolicyValues {
  readonly maxSurgeFixed: number;
  readonly maxUnavailableFixed: number;
  /** Zones the group spreads over; `undefined` when unknown at synth. */
  readonly zoneCount?: number;
  readonly replacementMethod: string;
  readonly minimalAction: string;
  readonly type: string;
}

/** `update_policy` of google_compute_region_instance_group_manager. */
export function checkRegionUpdatePolicy(v: ProblemCollector, prop: string, p: RegionUpdatePolicyValues): void {
  const fixedRule = 'It has to be either 0 or at least equal to the number of zones';
  for (const [field, value] of [['max_surge_fixed', p.maxSurgeFixed], ['max_unavailable_fixed', p.maxUnavailableFixed]] as const) {
    if (known(value) && known(p.zoneCount) && value !== 0 && value < p.zoneCount) {
      v.add(C.GCP_UPDATE_POLICY, prop, `update_policy.${field} (${value}) is below the ${p.zoneCount} zones of the regional group: ${P} says "${fixedRule}"; use 0 or at least ${p.zoneCount}`);
    }
  }
  if (known(p.maxSurgeFixed) && known(p.maxUnavailableFixed) && p.maxSurgeFixed === 0 && p.maxUnavailableFixed === 0) {
    v.add(C.GCP_UPDATE_POLICY, prop, `update_policy.max_surge_fixed and max_unavailable_fixed are both 0: ${P} says "If fixed values are used, at least one of max_unavailable_fixed or max_surge_fixed must be greater than 0"; surge by at least one VM per zone`);
  }
  if (p.replacementMethod === 'RECREATE' && known(p.maxUnavailableFixed) && p.maxUnavailableFixed === 0) {
    v.add(C.GCP_UPDATE_POLICY, prop, `update_policy.replacement_method RECREATE with max_unavailable_fixed 0: ${P} says "You must also set max_unavailable_fixed or max_unavailable_percent to be greater than 0"; use SUBSTITUTE`);
  }
  if (!['REFRESH', 'RESTART', 'REPLACE'].includes(p.minimalAction)) {
    v.add(C.GCP_UPDATE_POLICY, prop, `update_policy.minimal_action "${p.minimalAction}" is not one of REFRESH, RESTART, REPLACE (${P} validation.StringInSlice)`);
  }
  if (!['OPPORTUNISTIC', 'PROACTIVE'].includes(p.type)) {
    v.add(C.GCP_UPDATE_POLICY, prop, `update_policy.type "${p.type}" is not one of OPPORTUNISTIC, PROACTIVE (${P} validation.StringInSlice)`);
  }
}

/** Health check timing: `timeout_sec` may not exceed `check_interval_sec`. */
export function checkHealthCheckTiming(v: ProblemCollector, timeoutSeconds: number, intervalSeconds: number): void {
  if (known(timeoutSeconds) && known(intervalSeconds) && timeoutSeconds > intervalSeconds) {
    v.add(C.HEALTH_CHECK_RANGE, 'healthCheck.timeoutSeconds', `healthCheck.timeoutSeconds (${timeoutSeconds}) is longer than healthCheck.intervalSeconds (${intervalSeconds}): ${P} documents for google_compute_health_check "It is invalid for timeoutSec to have greater value than checkIntervalSec"; lower the timeout to at most ${intervalSeconds} s`);
  }
}

/** The autoscaling policy as the fleet renders it. */
export interface AutoscalerPolicyValues {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly cpuTarget?: number;
  readonly loadBalancingTarget?: number;
  readonly metrics?: readonly { readonly name: string; readonly target?: number; readonly type?: string; readonly singleInstanceAssignment?: number }[];
}

/** `autoscaling_policy` of google_compute_region_autoscaler. */
export function checkAutoscalerPolicy(v: ProblemCollector, p: AutoscalerPolicyValues): void {
  if (known(p.minReplicas) && p.minReplicas < 0) {
    v.add(C.CAPACITY_NEGATIVE, 'minCapacity', `the spot autoscaler's min_replicas (${p.minReplicas}) is below 0: ${P} says it "cannot be less than 0"; raise minCapacity`);
  }
  if (known(p.minReplicas) && known(p.maxReplicas) && p.maxReplicas < p.minReplicas) {
    v.add(C.CAPACITY_ORDER, 'maxCapacity', `the spot autoscaler's max_replicas (${p.maxReplicas}) is below its min_replicas (${p.minReplicas}): ${P} says max_replicas "should not be lower than minimal number of replicas"; raise maxCapacity or lower minCapacity`);
  }
  if (known(p.cpuTarget) && !(p.cpuTarget > 0 && p.cpuTarget <= 1)) {
    v.add(C.GCP_AUTOSCALER, 'targetUtilization', `targetUtilization (${p.cpuTarget}) is the autoscaler's cpu_utilization.target, which ${P} requires to "be a float value in the range (0, 1]"; use e.g. 0.8`);
  }
  if (known(p.loadBalancingTarget) && !(p.loadBalancingTarget > 0)) {
    v.add(C.GCP_AUTOSCALER, 'targetUtilization', `targetUtilization (${p.loadBalancingTarget}) is the autoscaler's load_balancing_utilization.target, which ${P} requires to "be a positive float value"; use e.g. 0.8`);
  }
  (p.metrics ?? []).forEach((m, i) => {
    if (m.type !== undefined && knownStr(m.type) && !['GAUGE', 'DELTA_PER_SECOND', 'DELTA_PER_MINUTE'].includes(m.type)) {
      v.add(C.GCP_AUTOSCALER, `autoscalingMetrics[${i}].targetType`, `autoscalingMetrics[${i}].targetType ("${m.type}") is refused by ${P} (verify.ValidateEnum: GAUGE, DELTA_PER_SECOND, DELTA_PER_MINUTE); use one of those`);
    }
    if (knownStr(m.name) && !/^[a-z0-9.]+(\/[A-Za-z0-9_./-]+)+$/.test(m.name)) {
      v.add(C.GCP_AUTOSCALER, `autoscalingMetrics[${i}].name`, `autoscalingMetrics[${i}].name ("${m.name}") is not a Cloud Monitoring metric type (the autoscaler's metric.name is "The identifier (type) of the Stackdriver Monitoring metric"); use e.g. "pubsub.googleapis.com/subscription/num_undelivered_messages"`);
    }
  });
}

/** A firewall rule as rendered. */
export interface FirewallValues {
  readonly direction: 'INGRESS' | 'EGRESS';
  readonly sourceRanges?: readonly string[];
  readonly sourceTags?: readonly string[];
  readonly targetTags?: readonly string[];
  readonly targetServiceAccounts?: readonly string[];
  readonly priority: number;
  readonly allowCount: number;
}

/** google_compute_firewall's CustomizeDiff and schema constraints. */
export function checkFirewall(v: ProblemCollector, prop: string, f: FirewallValues): void {
  const listed = (xs?: readonly string[]) => xs !== undefined && (Token.isUnresolved(xs) || xs.length > 0);
  if (f.direction === 'INGRESS' && !listed(f.sourceRanges) && !listed(f.sourceTags)) {
    v.add(C.GCP_FIREWALL, prop, `an INGRESS firewall rule without sources is refused by ${P} (resourceComputeFirewallSourceFieldsCustomizeDiff: "one of source_tags, source_ranges, or source_service_accounts must be defined")`);
  }
  if (listed(f.targetServiceAccounts) && listed(f.targetTags)) {
    v.add(C.GCP_FIREWALL, prop, `${prop}: target_service_accounts and target_tags cannot be used together (${P} ConflictsWith; "targetServiceAccounts cannot be used at the same time as targetTags or sourceTags"); give the fleet's service account or network tags, not both`);
  }
  if (f.targetServiceAccounts && !Token.isUnresolved(f.targetServiceAccounts) && f.targetServiceAccounts.length > 10) {
    v.add(C.GCP_FIREWALL, prop, `${prop}: ${f.targetServiceAccounts.length} target service accounts; ${P} allows at most 10 (MaxItems: 10)`);
  }
  if (known(f.priority) && !(Number.isInteger(f.priority) && f.priority >= 0 && f.priority <= 65535)) {
    v.add(C.GCP_FIREWALL, prop, `${prop} (${f.priority}) must be a whole number from 0 to 65535 (${P} validation.IntBetween(0, 65535) on google_compute_firewall.priority)`);
  }
  if (f.allowCount === 0) {
    v.add(C.GCP_FIREWALL, prop, `${prop}: a firewall rule needs exactly one of allow and deny (${P} ExactlyOneOf); it has no allow entry`);
  }
}

/** A backend of a backend service as rendered. */
export interface BackendServiceValues {
  readonly timeoutSeconds: number;
  readonly connectionDrainingTimeoutSeconds: number;
  readonly maxUtilization: number;
  readonly healthCheckCount: number;
}

/** google_compute_backend_service constraints for a global external Application Load Balancer. */
export function checkBackendService(v: ProblemCollector, b: BackendServiceValues): void {
  if (known(b.timeoutSeconds) && !(Number.isInteger(b.timeoutSeconds) && b.timeoutSeconds >= 1 && b.timeoutSeconds <= 86400)) {
    v.add(C.GCP_BACKEND_SERVICE, 'requestTimeoutSeconds', `requestTimeoutSeconds (${b.timeoutSeconds}) must be a whole number of seconds from 1 to 86400 (the backend service's timeout_sec for a global external Application Load Balancer); use e.g. 120`);
  }
  if (known(b.connectionDrainingTimeoutSeconds) && !(Number.isInteger(b.connectionDrainingTimeoutSeconds) && b.connectionDrainingTimeoutSeconds >= 0 && b.connectionDrainingTimeoutSeconds <= 3600)) {
    v.add(C.GCP_BACKEND_SERVICE, 'deregistrationDelay', `the backend service's connection_draining_timeout_sec (${b.connectionDrainingTimeoutSeconds}) must be 0 to 3600 s`);
  }
  if (known(b.maxUtilization) && !(b.maxUtilization >= 0 && b.maxUtilization <= 1)) {
    v.add(C.GCP_BACKEND_SERVICE, 'targetUtilization', `targetUtilization (${b.maxUtilization}) is the backends' max_utilization, which must be in [0.0, 1.0]; use e.g. 0.8`);
  }
  if (b.healthCheckCount > 1) {
    v.add(C.GCP_BACKEND_SERVICE, 'healthChecks', `a backend service takes one health check (${P}: health_checks "Currently at most one health check can be specified"); it has ${b.healthCheckCount}`);
  }
  if (b.healthCheckCount === 0) {
    v.add(C.GCP_BACKEND_SERVICE, 'healthChecks', `a backend service of instance groups needs a health check (${P}: "A health check must be specified unless the backend service uses an internet or serverless NEG as a backend"); give the fleet a health check (loadBalanced: true or autohealing: true)`);
  }
}
