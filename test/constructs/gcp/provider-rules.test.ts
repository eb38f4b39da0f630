import 'cdktf/lib/testing/adapters/jest';
import { App, TerraformStack, TerraformVariable, Testing } from 'cdktf';
import { ComputeRegionAutoscaler } from '@cdktf/provider-google/lib/compute-region-autoscaler';
import {
  GcpSpotFleet,
  GcpSpotFleetProps,
  InstanceTerminationAction,
  MachineTypeRanking,
  MAX_ZONES_PER_REGION,
  TargetShape,
} from '../../../constructs/gcp';
import {
  checkAutoscalerPolicy,
  checkBackendService,
  checkFirewall,
  checkGceName,
  checkHealthCheckTiming,
  checkRegionUpdatePolicy,
  checkTemplateNamePrefix,
} from '../../../constructs/gcp/provider-rules';
import { explainUnknownMachineType, GCP_MACHINE_TYPES } from '../../../constructs/gcp/machine-catalog';
import { FleetSpecError, ProblemCollector } from '../../../lib/spec';
import { ensureBundles, fleetProps, one, synth } from './helpers';

Testing.setupJest();
beforeAll(ensureBundles);

function build(overrides: Partial<GcpSpotFleetProps>): () => GcpSpotFleet {
  return () => new GcpSpotFleet(new TerraformStack(new App(), 'stack'), 'Fleet', fleetProps(overrides));
}
function messages(fn: (v: ProblemCollector) => void): string[] {
  const v = new ProblemCollector();
  fn(v);
  return v.problems.map((p) => p.message);
}

describe('terraform-provider-google rules, at synth, with the provider\'s reason', () => {
  test('auto_healing_policies.initial_delay_sec is 0 to 3600 (validation.IntBetween)', () => {
    expect(build({ initializationPeriodSeconds: 3601 })).toThrow(
      /initializationPeriodSeconds \(3601\) is the autohealing initial_delay_sec, which terraform-provider-google refuses outside 0 to 3600 \(validation.IntBetween\(0, 3600\) on google_compute_region_instance_group_manager.auto_healing_policies\); use at most 3600 s, or turn autohealing off/,
    );
    expect(build({ initializationPeriodSeconds: 3600 })).not.toThrow();
    // Without autohealing nothing renders initial_delay_sec.
    expect(build({ initializationPeriodSeconds: 3601, loadBalanced: false, agent: { drainMode: 'signal' as any, pidFile: '/run/x.pid' } })).not.toThrow();
  });

  test('health check timeout_sec may not exceed check_interval_sec', () => {
    // The neutral spec already keeps the timeout below an interval of 5 s or more; the rule guards every other path.
    expect(messages((v) => checkHealthCheckTiming(v, 3, 2))).toEqual([
      'healthCheck.timeoutSeconds (3) is longer than healthCheck.intervalSeconds (2): terraform-provider-google documents for google_compute_health_check "It is invalid for timeoutSec to have greater value than checkIntervalSec"; lower the timeout to at most 2 s',
    ]);
    expect(messages((v) => checkHealthCheckTiming(v, 2, 2))).toEqual([]);
  });

  test('update_policy fixed surge is 0 or at least the zone count; zones left out surge by the most zones a region has', () => {
    expect(messages((v) => checkRegionUpdatePolicy(v, 'zones', { maxSurgeFixed: 3, maxUnavailableFixed: 0, zoneCount: 4, replacementMethod: 'SUBSTITUTE', minimalAction: 'REPLACE', type: 'PROACTIVE' }))).toEqual([
      'update_policy.max_surge_fixed (3) is below the 4 zones of the regional group: terraform-provider-google says "It has to be either 0 or at least equal to the number of zones"; use 0 or at least 4',
    ]);
    expect(messages((v) => checkRegionUpdatePolicy(v, 'zones', { maxSurgeFixed: 0, maxUnavailableFixed: 0, zoneCount: 3, replacementMethod: 'RECREATE', minimalAction: 'NONE', type: 'ROLLING' }))).toEqual([
      'update_policy.max_surge_fixed and max_unavailable_fixed are both 0: terraform-provider-google says "If fixed values are used, at least one of max_unavailable_fixed or max_surge_fixed must be greater than 0"; surge by at least one VM per zone',
      'update_policy.replacement_method RECREATE with max_unavailable_fixed 0: terraform-provider-google says "You must also set max_unavailable_fixed or max_unavailable_percent to be greater than 0"; use SUBSTITUTE',
      'update_policy.minimal_action "NONE" is not one of REFRESH, RESTART, REPLACE (terraform-provider-google validation.StringInSlice)',
      'update_policy.type "ROLLING" is not one of OPPORTUNISTIC, PROACTIVE (terraform-provider-google validation.StringInSlice)',
    ]);
    // us-central1 has 4 zones: with zones left out the fleet surges by 4 (3 would fail there).
    const { resources } = synth((scope) => new GcpSpotFleet(scope, 'Fleet', fleetProps({ zones: undefined })));
    expect(MAX_ZONES_PER_REGION).toBe(4);
    expect(one(resources, 'google_compute_region_instance_group_manager', 'SpotGroup').update_policy.max_surge_fixed).toBe(4);
    const two = synth((scope) => new GcpSpotFleet(scope, 'Fleet', fleetProps({ zones: ['us-central1-a', 'us-central1-f'] })));
    expect(one(two.resources, 'google_compute_region_instance_group_manager', 'SpotGroup').update_policy.max_surge_fixed).toBe(2);
  });

  test('names: ValidateGCEName and the 54-character instance template name_prefix', () => {
    expect(messages((v) => checkGceName(v, 'name', 'google_compute_firewall', 'Bad_Name'))).toEqual([
      'google_compute_firewall name "Bad_Name" is refused by terraform-provider-google (ValidateGCEName: "must be 1-63 characters long and match the regular expression [a-z]([-a-z0-9]*[a-z0-9])?"); shorten name or use lower-case letters, digits and hyphens, starting with a letter',
    ]);
    expect(messages((v) => checkTemplateNamePrefix(v, 'jobName', 'x'.repeat(55)))).toEqual([
      `instance template name_prefix "${'x'.repeat(55)}" (55 characters) is refused by terraform-provider-google ("cannot be longer than 54 characters, name is limited to 63"); shorten jobName`,
    ]);
    expect(messages((v) => checkTemplateNamePrefix(v, 'jobName', 'x'.repeat(54)))).toEqual([]);
  });

  test('autoscaler: min/max order, utilization ranges, metric type enum', () => {
    expect(messages((v) => checkAutoscalerPolicy(v, { minReplicas: -1, maxReplicas: -2, cpuTarget: 1.5, metrics: [{ name: 'not a metric', target: 1, type: 'RATE' }] }))).toEqual([
      'the spot autoscaler\'s min_replicas (-1) is below 0: terraform-provider-google says it "cannot be less than 0"; raise minCapacity',
      'the spot autoscaler\'s max_replicas (-2) is below its min_replicas (-1): terraform-provider-google says max_replicas "should not be lower than minimal number of replicas"; raise maxCapacity or lower minCapacity',
      'targetUtilization (1.5) is the autoscaler\'s cpu_utilization.target, which terraform-provider-google requires to "be a float value in the range (0, 1]"; use e.g. 0.8',
      'autoscalingMetrics[0].targetType ("RATE") is refused by terraform-provider-google (verify.ValidateEnum: GAUGE, DELTA_PER_SECOND, DELTA_PER_MINUTE); use one of those',
      'autoscalingMetrics[0].name ("not a metric") is not a Cloud Monitoring metric type (the autoscaler\'s metric.name is "The identifier (type) of the Stackdriver Monitoring metric"); use e.g. "pubsub.googleapis.com/subscription/num_undelivered_messages"',
    ]);
    expect(messages((v) => checkAutoscalerPolicy(v, { minReplicas: 0, maxReplicas: 2, loadBalancingTarget: 0 }))).toEqual([
      'targetUtilization (0) is the autoscaler\'s load_balancing_utilization.target, which terraform-provider-google requires to "be a positive float value"; use e.g. 0.8',
    ]);
    expect(build({ loadBalanced: false, agent: { drainMode: 'signal' as any, pidFile: '/run/x.pid' }, autoscalingMetrics: [{ name: 'custom.googleapis.com/queue', target: 5, targetType: 'RATE' }] })).toThrow(/autoscalingMetrics\[0\].targetType \("RATE"\) is refused by terraform-provider-google/);
  });

  test('firewall: sources required for INGRESS, service accounts vs tags, priority range, allow required', () => {
    expect(messages((v) => checkFirewall(v, 'firewallPriority', { direction: 'INGRESS', targetTags: ['a'], targetServiceAccounts: ['sa@x'], priority: 70000, allowCount: 0 }))).toEqual([
      'an INGRESS firewall rule without sources is refused by terraform-provider-google (resourceComputeFirewallSourceFieldsCustomizeDiff: "one of source_tags, source_ranges, or source_service_accounts must be defined")',
      'firewallPriority: target_service_accounts and target_tags cannot be used together (terraform-provider-google ConflictsWith; "targetServiceAccounts cannot be used at the same time as targetTags or sourceTags"); give the fleet\'s service account or network tags, not both',
      'firewallPriority (70000) must be a whole number from 0 to 65535 (terraform-provider-google validation.IntBetween(0, 65535) on google_compute_firewall.priority)',
      'firewallPriority: a firewall rule needs exactly one of allow and deny (terraform-provider-google ExactlyOneOf); it has no allow entry',
    ]);
    expect(messages((v) => checkFirewall(v, 'p', { direction: 'INGRESS', sourceRanges: ['35.191.0.0/16'], targetServiceAccounts: Array.from({ length: 11 }, (_, i) => `sa${i}@x`), priority: 1000, allowCount: 1 }))).toEqual([
      'p: 11 target service accounts; terraform-provider-google allows at most 10 (MaxItems: 10)',
    ]);
  });

  test('backend service: one health check, timeout and utilization ranges', () => {
    expect(messages((v) => checkBackendService(v, { timeoutSeconds: 0, connectionDrainingTimeoutSeconds: 4000, maxUtilization: 1.2, healthCheckCount: 0 }))).toEqual([
      'requestTimeoutSeconds (0) must be a whole number of seconds from 1 to 86400 (the backend service\'s timeout_sec for a global external Application Load Balancer); use e.g. 120',
      'the backend service\'s connection_draining_timeout_sec (4000) must be 0 to 3600 s',
      'targetUtilization (1.2) is the backends\' max_utilization, which must be in [0.0, 1.0]; use e.g. 0.8',
      'a backend service of instance groups needs a health check (terraform-provider-google: "A health check must be specified unless the backend service uses an internet or serverless NEG as a backend"); give the fleet a health check (loadBalanced: true or autohealing: true)',
    ]);
  });

  test('the example-shaped fleet trips no provider rule', () => {
    expect(build({})).not.toThrow();
  });
});

describe('machine type names (issue 15): families and shapes of Google\'s documentation', () => {
  test('a misspelled class fails with a suggestion', () => {
    expect(build({ instanceTypes: ['g2-standrd-8', 'g2-standard-12'] })).toThrow(
      /instanceTypes: "g2-standrd-8" is not a Google Cloud machine type \(the G2 family has no "standrd" class \(it has standard\); did you mean g2-standard-8\?\) \[UNKNOWN_INSTANCE_TYPE\]/,
    );
  });

  test('an unknown family, an unknown size, upper case, custom types', () => {
    expect(explainUnknownMachineType('g9-standard-8')).toBe('no machine family "g9"; did you mean g2-standard-8?');
    expect(explainUnknownMachineType('zz-standard-8')).toBe('no machine family "zz"; did you mean c4-standard-8?');
    expect(explainUnknownMachineType('qqqq-bigmem-8')).toMatch(/^no machine family "qqqq"; families are c4, c4a, c4d, /);
    expect(explainUnknownMachineType('g2-standard-10')).toBe('g2-standard-* comes in sizes 4, 8, 12, 16, 24, 32, 48, 96; did you mean g2-standard-12 or g2-standard-16?'.replace(' or g2-standard-16', ''));
    expect(explainUnknownMachineType('G2-STANDARD-8')).toBe('machine type names are lower case; did you mean g2-standard-8?');
    expect(explainUnknownMachineType('n2-custom-8-32768')).toBeUndefined();
    expect(explainUnknownMachineType('custom-4-15360-ext')).toBeUndefined();
    expect(explainUnknownMachineType('n2-custom-8-1000')).toBe('custom machine type memory (1000 MiB) must be a multiple of 256 MiB');
    expect(explainUnknownMachineType('a3-custom-8-32768')).toMatch(/^the A3 family has no custom machine types/);
    for (const t of ['g2-standard-8', 'a3-highgpu-8g', 'a2-ultragpu-1g', 'n1-standard-8', 'e2-medium', 'c4a-standard-72', 'a4-highgpu-8g']) {
      expect(explainUnknownMachineType(t)).toBeUndefined();
    }
    expect(new Set(GCP_MACHINE_TYPES).size).toBe(GCP_MACHINE_TYPES.length);
  });

  test('a 1-zone fleet is refused unless allowUndiversified', () => {
    expect(build({ zones: ['us-central1-a'] })).toThrow(/zones has 1 zone \("us-central1-a"\): a Google Cloud spot fleet needs at least 2 zones .* \[TOO_FEW_ZONES\]/);
    expect(build({ zones: ['us-central1-a'], allowUndiversified: true })).not.toThrow();
  });

  test('enum props cast from strings are checked', () => {
    expect(build({ targetShape: 'BALANCD' as TargetShape })).toThrow(/targetShape \("BALANCD"\) is not one of the TargetShape values; use one of TargetShape.EVEN \("EVEN"\), TargetShape.BALANCED \("BALANCED"\), TargetShape.ANY \("ANY"\), TargetShape.ANY_SINGLE_ZONE \("ANY_SINGLE_ZONE"\); did you mean TargetShape.BALANCED \("BALANCED"\)\? \[UNKNOWN_ENUM_VALUE\]/);
    expect(build({ terminationAction: 'delete' as InstanceTerminationAction })).toThrow(/terminationAction \("delete"\) is not one of the InstanceTerminationAction values/);
    expect(build({ machineTypeRanking: 'ranked' as MachineTypeRanking })).toThrow(/machineTypeRanking \("ranked"\) is not one of the MachineTypeRanking values/);
  });
});

describe('issue 14: deploy-time capacities never enter arithmetic', () => {
  test('TerraformVariable min/max/desired pass through as Terraform expressions; the autoscaler stays', () => {
    const { json, resources } = synth((scope) => {
      const min = new TerraformVariable(scope, 'min', { type: 'number' });
      const max = new TerraformVariable(scope, 'max', { type: 'number' });
      const desired = new TerraformVariable(scope, 'desired', { type: 'number' });
      new GcpSpotFleet(scope, 'Fleet', fleetProps({ minCapacity: min.numberValue, maxCapacity: max.numberValue, desiredCapacity: desired.numberValue, onDemandBaseCapacity: 1 }));
    });
    const spot = one(resources, 'google_compute_region_instance_group_manager', 'SpotGroup');
    expect(spot.target_size).toBe('${max((var.desired - 1), 0)}');
    expect(one(resources, 'google_compute_region_instance_group_manager', 'OnDemandGroup').target_size).toBe(1);
    expect(json).toHaveResourceWithProperties(ComputeRegionAutoscaler, {
      autoscaling_policy: expect.objectContaining({ min_replicas: '${max((var.min - 1), 0)}', max_replicas: '${max((var.max - 1), 0)}' }),
    });
    expect(json).not.toMatch(/e\+\d{2,}/);
  });

  test('a token on-demand base or percentage is refused, naming the prop and why', () => {
    const stack = new TerraformStack(new App(), 'stack');
    const base = new TerraformVariable(stack, 'base', { type: 'number' }).numberValue;
    const pct = new TerraformVariable(stack, 'pct', { type: 'number' }).numberValue;
    const desired = new TerraformVariable(stack, 'desired', { type: 'number' }).numberValue;
    let err: FleetSpecError | undefined;
    try {
      new GcpSpotFleet(stack, 'Fleet', fleetProps({ onDemandBaseCapacity: base, onDemandPercentageAboveBaseCapacity: pct }));
    } catch (e) {
      err = e as FleetSpecError;
    }
    expect(err?.problems.map((p) => p.prop)).toEqual(['onDemandBaseCapacity', 'onDemandPercentageAboveBaseCapacity']);
    expect(err?.message).toMatch(/onDemandBaseCapacity is a deploy-time value \(a Terraform variable or token\), but Google Cloud has no mixed-provisioning group, so the fleet sizes a separate standard \(on-demand\) group from it at synth; give a number/);
    expect(() => new GcpSpotFleet(stack, 'Fleet2', fleetProps({ name: 'llm2', desiredCapacity: desired, onDemandPercentageAboveBaseCapacity: 50 }))).toThrow(
      /desiredCapacity is a deploy-time value \(a Terraform variable or token\), but onDemandPercentageAboveBaseCapacity \(50\) needs it at synth/,
    );
    expect(() => new GcpSpotFleet(stack, 'Fleet3', fleetProps({ name: 'llm3', desiredCapacity: desired, onDemandPercentageAboveBaseCapacity: 0 }))).not.toThrow();
  });
});
