import { Token } from 'cdktf';
import {
  CLOUD_PROFILES,
  Cloud,
  FleetSpec,
  FleetSpecErrorCode as C,
  ProblemCollector,
  ResolvedFleetSpec,
} from '../../lib/spec';
import { planFleet } from '../../lib/spec/plan-fleet';
import { DEFAULT_AGENT_HEALTH_PORT } from '../../lib/runtime/agent-config';
import { checkEnumValue } from '../../lib/spec/rules';
import { GCP_MACHINE_TYPE_CATALOG } from './machine-catalog';
import { GpuAttachment, N1_ATTACHABLE_GPUS, builtInGpusOf, gpuAttachmentOf } from './machine-families';
import { GuestAcceleratorSpec, InstanceTerminationAction, MachineTypeRanking, TargetShape } from './types';

/** The Google Cloud settings validation looks at, beyond the neutral FleetSpec. */
export interface GcpFleetRules {
  readonly region: string;
  readonly name?: string;
  /** The prop that gave `name`, for the messages (`namePrefix`, or the deprecated `name`). @default 'namePrefix' */
  readonly nameProp?: string;
  readonly gpu?: GuestAcceleratorSpec;
  readonly targetShape?: TargetShape;
  readonly autoscaling?: boolean;
  readonly targetUtilization?: number;
  /** As given (checked against the enum: a cast or a JavaScript caller can pass any string). */
  readonly terminationAction?: InstanceTerminationAction;
  /** As given (checked against the enum). */
  readonly machineTypeRanking?: MachineTypeRanking;
}

/** Names Google accepts for the fleet's resources (and leaves room for suffixes such as `-spot-tmpl`). */
const NAME = /^[a-z][-a-z0-9]{1,18}[a-z0-9]$/;

/**
 * Validate a Google Cloud fleet: the neutral FleetSpec rules and the Google Cloud profile (`planFleet`) plus the
 * rules of regional managed instance groups, instance flexibility and GPU machine families. Returns the
 * defaults-filled spec; throws one FleetSpecError with every problem. Tokens are not validated.
 */
export function resolveGcpFleet(spec: FleetSpec, rules: GcpFleetRules, scope: string): ResolvedFleetSpec {
  const isUnresolved = (v: unknown): boolean => Token.isUnresolved(v);
  const v = new ProblemCollector();
  const plan = planFleet(spec, CLOUD_PROFILES[Cloud.GCP], { isUnresolved, catalog: GCP_MACHINE_TYPE_CATALOG });
  v.addAll(plan.specProblems);
  checkGcpFleetRules(spec, plan.spec, rules, v);
  v.throwIfAny(scope);
  return plan.spec;
}

/**
 * The rules Google Cloud adds to the plan (`planFleet` checked the neutral spec and the profile's unsupported
 * features): enum props, resource names, target shape, zones of the region, target utilization, the agent's port,
 * detection within the notice, GPUs. `r` is the plan's resolved spec. Tokens are not validated.
 */
export function checkGcpFleetRules(spec: FleetSpec, r: ResolvedFleetSpec, rules: GcpFleetRules, v: ProblemCollector): void {
  const isUnresolved = (x: unknown): boolean => Token.isUnresolved(x);
  const known = (x: unknown): boolean => x !== undefined && !isUnresolved(x);
  v.addAll(checkEnumValue('targetShape', rules.targetShape, 'TargetShape', TargetShape, { isUnresolved }));
  v.addAll(checkEnumValue('terminationAction', rules.terminationAction, 'InstanceTerminationAction', InstanceTerminationAction, { isUnresolved }));
  v.addAll(checkEnumValue('machineTypeRanking', rules.machineTypeRanking, 'MachineTypeRanking', MachineTypeRanking, { isUnresolved }));
  const types = (spec.instanceTypes ?? []).filter((t) => !isUnresolved(t));
  const shape = rules.targetShape ?? TargetShape.BALANCED;
  const autoscaling = rules.autoscaling ?? true;

  if (known(rules.name) && !NAME.test(rules.name!)) {
    const prop = rules.nameProp ?? 'namePrefix';
    v.add(C.GCP_RESOURCE_NAME, prop, `${prop} ("${rules.name}") must be 3-20 characters of lower-case letters, digits and hyphens, start with a letter and not end with a hyphen (Google resource names; suffixes like "-spot-tmpl" are added); use e.g. "llm-serve"`);
  }

  // Instance flexibility (several machine types) exists only on regional MIGs, and not with the EVEN shape.
  if (types.length >= 2 && shape === TargetShape.EVEN) {
    v.add(C.GCP_TARGET_SHAPE, 'targetShape', `targetShape EVEN cannot be used with instance flexibility: instanceTypes lists ${types.length} machine types (${types.join(', ')}) and a regional MIG's instanceFlexibilityPolicy needs targetShape BALANCED, ANY or ANY_SINGLE_ZONE; use TargetShape.BALANCED (spreads over zones as far as capacity allows)`);
  }
  if (autoscaling && (shape === TargetShape.ANY || shape === TargetShape.ANY_SINGLE_ZONE)) {
    v.add(C.GCP_TARGET_SHAPE, 'targetShape', `targetShape ${shape} cannot be used with the autoscaler: Google Cloud autoscales a regional MIG only with targetShape BALANCED or EVEN; use TargetShape.BALANCED, or set autoscaling: false for a fixed-size fleet`);
  }
  if (known(rules.region) && spec.zones && !isUnresolved(spec.zones)) {
    const foreign = spec.zones.filter((z) => known(z) && !z.startsWith(`${rules.region}-`));
    if (foreign.length > 0) {
      v.add(C.GCP_ZONE_REGION, 'zones', `zones ${foreign.map((z) => `"${z}"`).join(', ')} ${foreign.length === 1 ? 'is' : 'are'} not in region ${rules.region}: the fleet is a regional MIG (the only kind that takes an instanceFlexibilityPolicy over several zones) and spreads over zones of its own region; use zones such as "${rules.region}-a", "${rules.region}-b" or change region`);
    }
  }
  if (known(rules.targetUtilization) && !(rules.targetUtilization! > 0 && rules.targetUtilization! <= 1)) {
    v.add(C.GCP_AUTOSCALER, 'targetUtilization', `targetUtilization (${rules.targetUtilization}) must be above 0 and at most 1 (a fraction of each VM's serving capacity); use e.g. 0.8`);
  }

  // The agent serves the load-balancer health endpoint itself (DrainMode.HEALTH): it cannot share the serving port.
  const hcPort = spec.healthCheck?.port;
  if (known(hcPort) && known(r.servingPort) && hcPort === r.servingPort) {
    v.add(C.PORT_RANGE, 'healthCheck.port', `healthCheck.port (${hcPort}) is the serving port: the spot agent serves the health endpoint the load balancer probes (and turns it to 503 on preemption) on its own port; leave healthCheck.port out to use ${DEFAULT_AGENT_HEALTH_PORT} or pick a port other than ${r.servingPort}`);
  }

  // The load balancer learns of a preemption from the agent's 503s: it must notice within the notice.
  const { intervalSeconds, unhealthyThreshold } = r.healthCheck;
  if (known(intervalSeconds) && known(unhealthyThreshold) && intervalSeconds * unhealthyThreshold > r.noticeSeconds) {
    v.add(C.HEALTH_CHECK_RANGE, 'healthCheck.intervalSeconds', `healthCheck.intervalSeconds (${intervalSeconds}) x healthCheck.unhealthyThreshold (${unhealthyThreshold}) = ${intervalSeconds * unhealthyThreshold} s is longer than the ${r.noticeSeconds} s Google Cloud preemption notice: the load balancer would keep sending requests to a VM that is already gone; lower them so the product is at most ${r.noticeSeconds} s (the default 10 s x 2 takes 20 s)`);
  }

  checkGpus(v, types, rules.gpu, known);
}

function checkGpus(v: ProblemCollector, types: string[], gpu: GuestAcceleratorSpec | undefined, known: (x: unknown) => boolean): void {
  const attachable = types.filter((t) => gpuAttachmentOf(t) === GpuAttachment.ATTACHABLE);
  const builtIn = types.filter((t) => gpuAttachmentOf(t) === GpuAttachment.BUILT_IN);
  const none = types.filter((t) => gpuAttachmentOf(t) === GpuAttachment.NONE);

  // Built-in GPU types mixed with others are the cross-cloud MIXED_ACCELERATORS rule (GCP_MACHINE_TYPE_CATALOG).
  if (builtIn.length > 0 && builtIn.length < types.length) return;
  if (!gpu) return;
  const type = gpu.type;
  if (!known(type)) return;
  if (builtIn.length > 0) {
    const mismatched = builtIn.filter((t) => !builtInGpusOf(t)!.gpus.includes(type.toLowerCase()));
    if (mismatched.length > 0) {
      const has = mismatched.map((t) => `${t} has ${builtInGpusOf(t)!.gpus.join('/')}`).join(', ');
      v.add(C.GCP_ACCELERATOR, 'gpu.type', `gpu.type "${type}" does not fit the machine family: accelerator-optimized machine types come with their GPUs built in (${has}) and take no other guestAccelerator; leave gpu out for these types, or use N1 machine types (e.g. n1-standard-8) with an N1 GPU (${Object.keys(N1_ATTACHABLE_GPUS).filter((g) => !g.endsWith('-vws')).join(', ')})`);
    }
    return;
  }
  if (none.length > 0) {
    v.add(C.GCP_ACCELERATOR, 'gpu.type', `gpu.type "${type}" cannot be attached to ${none.join(', ')}: guestAccelerator GPUs attach only to N1 machine types (T4, V100, P4, P100); use N1 types (e.g. n1-standard-8 with nvidia-tesla-t4) or an accelerator-optimized family with GPUs built in (G2 for L4, A2 for A100, A3 for H100) and leave gpu out`);
    return;
  }
  const counts = N1_ATTACHABLE_GPUS[type.toLowerCase()];
  if (!counts) {
    const builtInFamily = /l4/.test(type) ? 'G2 (g2-standard-*)' : /a100/.test(type) ? 'A2 (a2-highgpu-*)' : /h100|h200/.test(type) ? 'A3 (a3-highgpu-*)' : /b200/.test(type) ? 'A4 (a4-highgpu-*)' : undefined;
    v.add(C.GCP_ACCELERATOR, 'gpu.type', `gpu.type "${type}" cannot be attached to N1 machine types (${attachable.join(', ')}): N1 takes ${Object.keys(N1_ATTACHABLE_GPUS).join(', ')}; ${builtInFamily ? `"${type}" comes built into ${builtInFamily} machine types: list those in instanceTypes and leave gpu out` : 'pick one of those'}`);
    return;
  }
  if (known(gpu.count) && !counts.includes(gpu.count)) {
    v.add(C.GCP_ACCELERATOR, 'gpu.count', `gpu.count (${gpu.count}) is not a count Compute Engine attaches for ${type}: use one of ${counts.join(', ')}`);
  }
}
