import { CLOUD_LIMITS, Cloud, FleetSpecErrorCode as C, FleetSpecProblem, ProblemCollector, ResolvedFleetSpec } from '../../lib/spec';
import { checkEnumValue } from '../../lib/spec/rules';
import { FleetCapacity, splitOverGroups, withoutOnDemandBase } from '../../lib/policy/capacity-split';

/** What Azure does with a Spot VM it takes back. */
export enum AzureEvictionPolicy {
  /** Delete the VM and its disks: nothing is billed after the eviction, and the scale set creates a new VM. */
  DELETE = 'Delete',
  /** Stop (deallocate) the VM and keep its disks; it counts against quota and its disks keep being billed. */
  DEALLOCATE = 'Deallocate',
}

/** How an instance mix (`skuName: "Mix"`) picks among its VM sizes. */
export enum AzureAllocationStrategy {
  /** Prefer the sizes with the most spare capacity: fewest evictions (the default). */
  CAPACITY_OPTIMIZED = 'CapacityOptimized',
  /** Prefer the cheapest sizes that have capacity. */
  LOWEST_PRICE = 'LowestPrice',
}

/** How the fleet turns its list of VM sizes into scale sets. */
export enum AzureSizeStrategy {
  /**
   * One scale set with an instance mix when every size is of a family Azure allows in a mix
   * (A, B, D, E, F; at most 5 sizes), otherwise one scale set per size behind the same backend pool.
   */
  AUTO = 'auto',
  /** One scale set, `skuName: "Mix"` with a `skuProfile` listing every size. Refused for other families. */
  INSTANCE_MIX = 'instance-mix',
  /** One scale set per size, all behind the same backend pool (the way to diversify GPU sizes). */
  SCALE_SET_PER_SIZE = 'scale-set-per-size',
}

/** VM size families Azure accepts in an instance mix (`skuProfile`), by the first letter of the family. */
export const INSTANCE_MIX_FAMILIES = ['A', 'B', 'D', 'E', 'F'];
/** Most VM sizes an instance mix holds. */
export const MAX_INSTANCE_MIX_SIZES = 5;
/** Most VMs in one Flexible-orchestration scale set (and the highest autoscale maximum). */
export const MAX_SCALE_SET_INSTANCES = 1000;
/** Bounds of the automatic instance repair grace period, in minutes. */
export const REPAIR_GRACE_PERIOD_MINUTES = { min: 10, max: 90 };
/** Bounds of a Regular scale set's terminate notification (Scheduled Events `Terminate`), in minutes. */
export const TERMINATION_NOTIFICATION_MINUTES = { min: 5, max: 15 };

/**
 * The family of an Azure VM size, upper case: `Standard_NC4as_T4_v3` -> `NC`, `Standard_D4s_v5` -> `D`,
 * `Standard_E8-4ds_v5` -> `E`. Returns `undefined` when the name does not look like a VM size.
 */
export function vmSizeFamily(vmSize: string): string | undefined {
  const m = /^(?:standard|basic)_([a-z]+)\d/i.exec(vmSize);
  return m ? m[1].toUpperCase() : undefined;
}

/** True for GPU (and other accelerator) sizes: the N families (`NC`, `ND`, `NV`, ...). */
export function isGpuVmSize(vmSize: string): boolean {
  return (vmSizeFamily(vmSize) ?? '').startsWith('N');
}

/** True when Azure accepts the size in an instance mix (families A, B, D, E, F). */
export function isInstanceMixVmSize(vmSize: string): boolean {
  const family = vmSizeFamily(vmSize);
  return family !== undefined && INSTANCE_MIX_FAMILIES.includes(family[0]);
}

/** The capacity and priority mix of one scale set of the fleet. */
export interface ScaleSetPlan {
  /** `skuName` of the scale set: a VM size, or `Mix` for an instance mix. */
  readonly skuName: string;
  /** The sizes of the instance mix (`skuProfile.vmSizes`); empty for a single-size scale set. */
  readonly mixVmSizes: string[];
  /** Fewest VMs (autoscale minimum). */
  readonly minCapacity: number;
  /** Most VMs (autoscale maximum). */
  readonly maxCapacity: number;
  /** VMs to start with (autoscale default and the scale set's `instances`). */
  readonly desiredCapacity: number;
  /** `priorityMix.baseRegularCount`: VMs that always run at Regular (on-demand) priority. */
  readonly baseRegularCount: number;
  /** `priorityMix.regularPercentageAboveBase`: share of the VMs above the base that run at Regular priority. */
  readonly regularPercentageAboveBase: number;
}

/** Split `total` over `parts` as evenly as possible (decided in lib/policy; kept here for its importers). */
export { splitEvenly } from '../../lib/policy/capacity-split';

/** The size strategy that `AUTO` resolves to for a list of sizes. */
export function effectiveSizeStrategy(vmSizes: string[], requested: AzureSizeStrategy = AzureSizeStrategy.AUTO): AzureSizeStrategy {
  if (requested !== AzureSizeStrategy.AUTO) return requested;
  if (vmSizes.length <= 1) return AzureSizeStrategy.SCALE_SET_PER_SIZE;
  return vmSizes.every(isInstanceMixVmSize) ? AzureSizeStrategy.INSTANCE_MIX : AzureSizeStrategy.SCALE_SET_PER_SIZE;
}

/** How many scale sets a list of sizes takes: one with an instance mix, otherwise one per size. */
export function scaleSetCount(vmSizes: string[], strategy: AzureSizeStrategy = AzureSizeStrategy.AUTO): number {
  return effectiveSizeStrategy(vmSizes, strategy) === AzureSizeStrategy.INSTANCE_MIX && vmSizes.length > 1 ? 1 : Math.max(1, vmSizes.length);
}

/**
 * Render a resolved spec into scale sets: one instance mix, or one scale set per size with the
 * capacity and the on-demand base split evenly over them (lib/policy `splitOverGroups`). The percentage above
 * the base is the same in every scale set, so the fleet as a whole keeps it.
 */
export function planScaleSets(spec: ResolvedFleetSpec, strategy: AzureSizeStrategy = AzureSizeStrategy.AUTO): ScaleSetPlan[] {
  return scaleSetPlansOf(spec.instanceTypes, splitOverGroups(spec, scaleSetCount(spec.instanceTypes, strategy)), strategy);
}

/**
 * The scale sets of a list of sizes, each with its share of the capacity (`shares`: one per scale set, as
 * {@link scaleSetCount} counts them; what `planFleet` puts in `capacity.groups`).
 */
export function scaleSetPlansOf(sizes: string[], shares: FleetCapacity[], strategy: AzureSizeStrategy = AzureSizeStrategy.AUTO): ScaleSetPlan[] {
  const plan = (skuName: string, mixVmSizes: string[], c: FleetCapacity): ScaleSetPlan => ({
    skuName,
    mixVmSizes,
    minCapacity: c.minCapacity,
    maxCapacity: c.maxCapacity,
    desiredCapacity: c.desiredCapacity,
    baseRegularCount: c.onDemandBaseCapacity,
    regularPercentageAboveBase: c.onDemandPercentageAboveBaseCapacity,
  });
  if (effectiveSizeStrategy(sizes, strategy) === AzureSizeStrategy.INSTANCE_MIX && sizes.length > 1) {
    return [plan('Mix', [...sizes], shares[0])];
  }
  return sizes.map((size, i) => plan(size, [], shares[i]));
}

/** The Azure-only choices {@link validateAzureFleet} checks, as the user spelled them. */
export interface AzureFleetChoices {
  readonly sizeStrategy?: AzureSizeStrategy;
  readonly evictionPolicy?: AzureEvictionPolicy;
  readonly allocationStrategy?: AzureAllocationStrategy;
  /** The on-demand base runs in its own Regular-priority scale set (with a terminate notification). */
  readonly regularBaseScaleSet?: boolean;
  readonly maxBidPrice?: number;
  readonly repairGracePeriodMinutes?: number;
  readonly terminationNotificationMinutes?: number;
  /** True when the user set `healthCheck.port` (the probe then targets it instead of the agent). */
  readonly healthCheckPortSet: boolean;
  /** True when the agent drains by failing the health endpoint (DrainMode.HEALTH). */
  readonly drainsByHealth: boolean;
  readonly allowedClientCidrs?: string[];
  readonly allowUndiversified?: boolean;
  /** Not read: the Azure cloud profile refuses `instanceRequirements` (`planFleet`, `CLOUD_PROFILES`). @default - not set */
  readonly instanceRequirementsSet?: boolean;
  readonly scaleOutCpuPercent?: number;
  readonly scaleInCpuPercent?: number;
  readonly listenerPort?: number;
  readonly adminSshPublicKey?: string;
}

/**
 * The rules Azure adds to the cloud-neutral ones (code `CLOUD_CONSTRAINT`). Values that are tokens are
 * skipped. Messages name the prop, the value, the limit and the fix.
 */
export function validateAzureFleet(spec: ResolvedFleetSpec, choices: AzureFleetChoices, isUnresolved: (v: unknown) => boolean, v: ProblemCollector): void {
  checkAzureZones(spec, isUnresolved, v);
  checkAzureEnums(choices, isUnresolved, v);
  checkAzureCapacityAndNotices(spec, choices, isUnresolved, v);
  checkAzureSizes(spec, choices, isUnresolved, v);
  checkAzurePriceAndRepair(choices, isUnresolved, v);
  checkAzureDrain(spec, choices, isUnresolved, v);
  checkAzureAutoscaleAndAccess(choices, isUnresolved, v);
  checkAzureClientCidrs(choices, isUnresolved, v);
}

/** Zones: Azure numbers them within the region. */
function checkAzureZones(spec: ResolvedFleetSpec, isUnresolved: (v: unknown) => boolean, v: ProblemCollector): void {
  const known = (x: unknown): boolean => x !== undefined && !isUnresolved(x);
  // Zones: Azure numbers them. (At least 2 zones is the cross-cloud TOO_FEW_ZONES rule of validateFleetSpec; the
  // size names and one accelerator kind are its UNKNOWN_INSTANCE_TYPE / MIXED_ACCELERATORS rules, with the Azure
  // catalogue of vm-sizes.ts.)
  if (spec.zones && known(spec.zones)) {
    const bad = spec.zones.filter((z) => known(z) && !/^[1-9]$/.test(z));
    if (bad.length > 0) {
      v.add(C.AZURE_ZONES, 'zones', `zones lists ${bad.map((z) => `"${z}"`).join(', ')}: Azure availability zones are numbered "1", "2" and "3" within the region; use those`);
    }
  }
}

/** Enum props cast from strings (JavaScript callers, config files). */
function checkAzureEnums(choices: AzureFleetChoices, isUnresolved: (v: unknown) => boolean, v: ProblemCollector): void {
  // Enum props cast from strings (JavaScript callers, config files).
  v.addAll(checkEnumValue('sizeStrategy', choices.sizeStrategy, 'AzureSizeStrategy', AzureSizeStrategy, { isUnresolved }));
  v.addAll(checkEnumValue('evictionPolicy', choices.evictionPolicy, 'AzureEvictionPolicy', AzureEvictionPolicy, { isUnresolved }));
  v.addAll(checkEnumValue('allocationStrategy', choices.allocationStrategy, 'AzureAllocationStrategy', AzureAllocationStrategy, { isUnresolved }));
}

/** Deploy-time capacities, the terminate notification and the Regular base scale set. */
function checkAzureCapacityAndNotices(spec: ResolvedFleetSpec, choices: AzureFleetChoices, isUnresolved: (v: unknown) => boolean, v: ProblemCollector): void {
  const known = (x: unknown): boolean => x !== undefined && !isUnresolved(x);
  // Deploy-time capacities: passed through untouched into one scale set; refused where the fleet must split them.
  if (!choices.regularBaseScaleSet) v.addAll(capacityTokenProblems(spec, choices.sizeStrategy, isUnresolved));

  if (choices.terminationNotificationMinutes !== undefined && !choices.regularBaseScaleSet) {
    v.add(
      C.AZURE_TERMINATE_NOTIFICATION,
      'terminationNotificationMinutes',
      `terminationNotificationMinutes (${choices.terminationNotificationMinutes}) cannot be honoured: every scale set of the fleet has Spot priority and Azure does not accept terminate notifications on Spot ("Terminate notifications cannot be enabled on Spot instances", Azure docs: virtual-machine-scale-sets-terminate-notification; MicrosoftDocs/azure-docs#66962); leave terminationNotificationMinutes out (Spot VMs get the Scheduled Events Preempt notice, at least 30 s, which the agent drains on), or set regularBaseScaleSet: true to run the on-demand base in a Regular scale set that takes one`,
    );
  } else {
    checkMinutes(v, 'terminationNotificationMinutes', choices.terminationNotificationMinutes, TERMINATION_NOTIFICATION_MINUTES, known, 'Azure scale sets accept a terminate notification timeout');
  }
  if (choices.regularBaseScaleSet) {
    if (known(spec.onDemandBaseCapacity) && spec.onDemandBaseCapacity === 0) {
      v.add(C.AZURE_REGULAR_BASE, 'regularBaseScaleSet', 'regularBaseScaleSet is true but onDemandBaseCapacity is 0, so the Regular scale set would have no VM; set onDemandBaseCapacity (the VMs it runs) or leave regularBaseScaleSet out');
    }
    for (const prop of CAPACITY_PROPS.filter((p) => isUnresolved(spec[p]))) {
      v.add(C.DEPLOY_TIME_VALUE, prop, `${prop} is a deploy-time value (a Terraform variable or another token), but regularBaseScaleSet takes the on-demand base out of the Spot scale sets (${prop} minus onDemandBaseCapacity), which needs numbers; give ${prop} as a number or leave regularBaseScaleSet out`);
    }
  }
}

/** Sizes: instance mix families, mix size limit, one scale set per size. */
function checkAzureSizes(spec: ResolvedFleetSpec, choices: AzureFleetChoices, isUnresolved: (v: unknown) => boolean, v: ProblemCollector): void {
  const known = (x: unknown): boolean => x !== undefined && !isUnresolved(x);
  // Sizes: instance mix families, mix size limit, one scale set per size.
  const sizes = spec.instanceTypes.filter((s) => known(s));
  const strategy = choices.sizeStrategy ?? AzureSizeStrategy.AUTO;
  const effective = effectiveSizeStrategy(sizes, strategy);
  if (effective === AzureSizeStrategy.INSTANCE_MIX && sizes.length > 1) {
    const refused = sizes.filter((s) => vmSizeFamily(s) !== undefined && !isInstanceMixVmSize(s));
    if (refused.length > 0) {
      const gpu = refused.filter(isGpuVmSize);
      v.add(
        C.AZURE_SIZE_STRATEGY,
        'sizeStrategy',
        `sizeStrategy is INSTANCE_MIX but instanceTypes lists ${refused.map((s) => `${s} (family ${vmSizeFamily(s)})`).join(', ')}: ` +
          `Azure accepts only the A, B, D, E and F families in an instance mix (skuName "Mix"), ${gpu.length > 0 ? 'not GPU sizes (NC, ND, NV); ' : ''}` +
          'use sizeStrategy SCALE_SET_PER_SIZE (or AUTO) to run one scale set per size behind the same load balancer backend pool',
      );
    }
    if (sizes.length > MAX_INSTANCE_MIX_SIZES) {
      v.add(
        C.AZURE_SIZE_STRATEGY,
        'instanceTypes',
        `instanceTypes lists ${sizes.length} VM sizes but an Azure instance mix holds at most ${MAX_INSTANCE_MIX_SIZES}; keep the ${MAX_INSTANCE_MIX_SIZES} you prefer, or set sizeStrategy SCALE_SET_PER_SIZE to run one scale set per size`,
      );
    }
    if (spec.maxCapacity > MAX_SCALE_SET_INSTANCES && known(spec.maxCapacity)) {
      v.add(C.AZURE_SCALE_SET_CAPACITY, 'maxCapacity', `maxCapacity (${spec.maxCapacity}) is above the ${MAX_SCALE_SET_INSTANCES} VMs one Azure scale set holds; lower it or set sizeStrategy SCALE_SET_PER_SIZE to spread the fleet over several scale sets`);
    }
  } else if (sizes.length > 1 && known(spec.maxCapacity)) {
    if (spec.maxCapacity < sizes.length) {
      v.add(
        C.AZURE_SCALE_SET_CAPACITY,
        'maxCapacity',
        `maxCapacity (${spec.maxCapacity}) is below the number of scale sets (${sizes.length}, one per VM size: ${sizes.join(', ')}); every scale set needs room for at least 1 VM: raise maxCapacity to at least ${sizes.length} or list fewer sizes`,
      );
    }
    const perSet = Math.ceil(spec.maxCapacity / sizes.length);
    if (perSet > MAX_SCALE_SET_INSTANCES) {
      v.add(C.AZURE_SCALE_SET_CAPACITY, 'maxCapacity', `maxCapacity (${spec.maxCapacity}) puts ${perSet} VMs in one scale set, above the ${MAX_SCALE_SET_INSTANCES} an Azure scale set holds; lower maxCapacity or list more sizes`);
    }
  }
}

/** Price (-1 or a positive USD/hour cap) and the automatic repair grace period. */
function checkAzurePriceAndRepair(choices: AzureFleetChoices, isUnresolved: (v: unknown) => boolean, v: ProblemCollector): void {
  const known = (x: unknown): boolean => x !== undefined && !isUnresolved(x);
  // Price: -1 (pay up to the on-demand price, never evicted for price) or a positive USD/hour cap.
  const bid = choices.maxBidPrice;
  if (known(bid) && !(bid === -1 || bid! > 0)) {
    v.add(C.AZURE_MAX_BID_PRICE, 'maxBidPrice', `maxBidPrice (${bid}) must be -1 (pay up to the on-demand price; never evicted for price) or a price above 0 in US dollars per hour; use -1 unless you need a hard cap`);
  }

  checkMinutes(v, 'repairGracePeriodMinutes', choices.repairGracePeriodMinutes, REPAIR_GRACE_PERIOD_MINUTES, known, 'Azure automatic instance repairs accept a grace period');
}

/** Drain: the load balancer must notice the failing probe, and the server must drain, within the notice. */
function checkAzureDrain(spec: ResolvedFleetSpec, choices: AzureFleetChoices, isUnresolved: (v: unknown) => boolean, v: ProblemCollector): void {
  const known = (x: unknown): boolean => x !== undefined && !isUnresolved(x);
  const notice = CLOUD_LIMITS[Cloud.AZURE].noticeSeconds;
  // Drain: the load balancer must notice the failing probe, and the server must drain, within the notice.
  const hc = spec.healthCheck;
  if (choices.drainsByHealth && known(hc.intervalSeconds) && known(hc.unhealthyThreshold) && known(spec.drainBudgetSeconds)) {
    const detect = hc.intervalSeconds * hc.unhealthyThreshold;
    if (detect + spec.drainBudgetSeconds > notice) {
      v.add(
        C.DRAIN_BUDGET_EXCEEDED,
        'healthCheck.intervalSeconds',
        `drain budget exceeded: the Azure load balancer needs healthCheck.intervalSeconds (${hc.intervalSeconds} s) x healthCheck.unhealthyThreshold (${hc.unhealthyThreshold}) = ${detect} s to take a draining VM out of rotation, plus drainBudgetSeconds (${spec.drainBudgetSeconds} s) = ${detect + spec.drainBudgetSeconds} s, longer than the ${notice} s Azure Spot notice (Scheduled Events Preempt); lower the interval, the threshold or the drain budget so the sum is at most ${notice} s`,
      );
    }
  }
  if (choices.drainsByHealth && choices.healthCheckPortSet && known(hc.port) && known(spec.servingPort) && hc.port === spec.servingPort) {
    v.add(
      C.AZURE_HEALTH_PROBE,
      'healthCheck.port',
      `healthCheck.port (${hc.port}) is the serving port, so the load balancer would probe the inference server directly and the agent could not take a VM out of rotation on a Preempt notice; leave healthCheck.port out (the probe then targets the agent's health endpoint) or set agent.drainMode to DrainMode.HTTP or DrainMode.SIGNAL`,
    );
  }
}

/** Autoscale thresholds, listener port, admin key. */
function checkAzureAutoscaleAndAccess(choices: AzureFleetChoices, isUnresolved: (v: unknown) => boolean, v: ProblemCollector): void {
  const known = (x: unknown): boolean => x !== undefined && !isUnresolved(x);
  // Autoscale thresholds, listener port, admin key.
  for (const prop of ['scaleOutCpuPercent', 'scaleInCpuPercent'] as const) {
    const value = choices[prop];
    if (known(value) && !(value! > 0 && value! < 100)) {
      v.add(C.AZURE_AUTOSCALE, prop, `${prop} (${value}) must be a CPU percentage above 0 and below 100`);
    }
  }
  const out = choices.scaleOutCpuPercent ?? 70;
  const inn = choices.scaleInCpuPercent ?? 30;
  if (known(out) && known(inn) && inn >= out) {
    v.add(C.AZURE_AUTOSCALE, 'scaleInCpuPercent', `scaleInCpuPercent (${inn}) must be below scaleOutCpuPercent (${out}), or autoscale adds and removes VMs in a loop; leave a gap of 20 points or more (e.g. 30 and 70)`);
  }
  if (known(choices.listenerPort) && !(Number.isInteger(choices.listenerPort) && choices.listenerPort! >= 1 && choices.listenerPort! <= 65535)) {
    v.add(C.PORT_RANGE, 'listenerPort', `listenerPort (${choices.listenerPort}) must be between 1 and 65535`);
  }
  const key = choices.adminSshPublicKey;
  if (known(key) && !/^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+/.test(key!.trim())) {
    v.add(C.AZURE_SSH_KEY, 'adminSshPublicKey', `adminSshPublicKey ("${key!.slice(0, 20)}...") is not an OpenSSH public key; give the contents of a .pub file, e.g. "ssh-ed25519 AAAA... you@host" (Azure accepts RSA of 2048 bits or more and Ed25519)`);
  }
}

/** Network security group sources. */
function checkAzureClientCidrs(choices: AzureFleetChoices, isUnresolved: (v: unknown) => boolean, v: ProblemCollector): void {
  const known = (x: unknown): boolean => x !== undefined && !isUnresolved(x);
  // Network security group sources.
  for (const cidr of choices.allowedClientCidrs ?? []) {
    if (!known(cidr)) continue;
    if (cidr === '*' || cidr === '0.0.0.0/0' || cidr.toLowerCase() === 'internet' || cidr.toLowerCase() === 'any') {
      v.add(C.CLIENT_CIDRS, 'allowedClientCidrs', `allowedClientCidrs contains "${cidr}", which admits the whole internet to the serving port; list the CIDRs of your clients (e.g. "203.0.113.0/24") or a service tag like "VirtualNetwork"`);
    } else if (!/^(\d{1,3}\.){3}\d{1,3}(\/([0-9]|[12][0-9]|3[0-2]))?$/.test(cidr) && !/^[A-Za-z][A-Za-z0-9.]*$/.test(cidr)) {
      v.add(C.CLIENT_CIDRS, 'allowedClientCidrs', `allowedClientCidrs contains "${cidr}", which is neither an IPv4 CIDR ("10.1.0.0/16") nor an Azure service tag ("VirtualNetwork"); fix the entry`);
    }
  }
}

function checkMinutes(v: ProblemCollector, prop: string, value: number | undefined, range: { min: number; max: number }, known: (x: unknown) => boolean, what: string): void {
  if (known(value) && !(Number.isInteger(value) && value! >= range.min && value! <= range.max)) {
    v.add(C.AZURE_TIMEOUT_MINUTES, prop, `${prop} (${value}) must be a whole number of minutes between ${range.min} and ${range.max}: ${what} of ${range.min} to ${range.max} minutes`);
  }
}

/** The capacity props of a fleet, in the order messages list them. */
const CAPACITY_PROPS = ['minCapacity', 'maxCapacity', 'desiredCapacity', 'onDemandBaseCapacity'] as const;

/**
 * Deploy-time capacities (a `TerraformVariable`, any number token): one scale set takes them as they are (they flow
 * into `instances`, the autoscale capacity and the priority mix untouched); several scale sets (one per GPU size)
 * need numbers, because the fleet splits each capacity between them, and a token in arithmetic is garbage
 * (cdktf number tokens are encoded as huge negative doubles: the autoscale maximum would become -4.05e+298).
 */
export function capacityTokenProblems(spec: ResolvedFleetSpec, strategy: AzureSizeStrategy | undefined, isUnresolved: (v: unknown) => boolean): FleetSpecProblem[] {
  const tokens = CAPACITY_PROPS.filter((p) => isUnresolved(spec[p]));
  if (tokens.length === 0 || isUnresolved(spec.instanceTypes)) return [];
  const sizes = spec.instanceTypes;
  const sets = scaleSetCount(sizes, strategy);
  if (sets <= 1) return [];
  return tokens.map((prop) => ({
    code: C.DEPLOY_TIME_VALUE,
    prop,
    message: `${prop} is a deploy-time value (a Terraform variable or another token), but the fleet splits it over ${sets} scale sets (one per VM size: ${sizes.join(', ')}) and cannot divide a value it does not know; give ${prop} as a number, or list sizes that share one scale set (an instance mix of A/B/D/E/F sizes, or one size) to pass it through to Azure untouched`,
  }));
}

/**
 * The spec the Spot scale sets render when the on-demand base runs in its own Regular scale set
 * (`regularBaseScaleSet`): every capacity less the base, no base of their own. Capacities must be numbers here
 * (`validateAzureFleet` refuses tokens in that mode).
 */
export function withoutRegularBase(spec: ResolvedFleetSpec): ResolvedFleetSpec {
  return withoutOnDemandBase(spec);
}
