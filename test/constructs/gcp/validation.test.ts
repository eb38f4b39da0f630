import { App, TerraformStack, TerraformVariable } from 'cdktf';
import { GcpSpotFleet, GcpSpotFleetProps, TargetShape } from '../../../constructs/gcp';
import { resolveGcpFleet } from '../../../constructs/gcp/validation';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';
import { ensureBundles, fleetProps } from './helpers';

beforeAll(ensureBundles);

function build(overrides: Partial<GcpSpotFleetProps>): () => GcpSpotFleet {
  return () => new GcpSpotFleet(new TerraformStack(new App(), 'stack'), 'Fleet', fleetProps(overrides));
}

function problems(overrides: Partial<GcpSpotFleetProps>): FleetSpecError {
  try {
    build(overrides)();
  } catch (e) {
    if (e instanceof FleetSpecError) return e;
    throw e;
  }
  throw new Error('expected a FleetSpecError');
}

describe('Google Cloud validation (FleetSpecError at construction)', () => {
  test('the valid fixture builds', () => {
    expect(build({})).not.toThrow();
  });

  test('EVEN is refused with instance flexibility (several machine types)', () => {
    expect(build({ targetShape: TargetShape.EVEN })).toThrow(
      /^stack\/Fleet: targetShape EVEN cannot be used with instance flexibility: instanceTypes lists 2 machine types \(g2-standard-8, g2-standard-12\) and a regional MIG's instanceFlexibilityPolicy needs targetShape BALANCED, ANY or ANY_SINGLE_ZONE; use TargetShape.BALANCED .* \[GCP_TARGET_SHAPE\]$/,
    );
    const e = problems({ targetShape: TargetShape.EVEN });
    expect(e.code).toBe(FleetSpecErrorCode.GCP_TARGET_SHAPE);
    expect(e.problems[0].prop).toBe('targetShape');
  });

  test.each([TargetShape.ANY, TargetShape.ANY_SINGLE_ZONE])('%s is refused with the autoscaler', (shape) => {
    expect(build({ targetShape: shape })).toThrow(
      new RegExp(`targetShape ${shape} cannot be used with the autoscaler: Google Cloud autoscales a regional MIG only with targetShape BALANCED or EVEN; use TargetShape.BALANCED, or set autoscaling: false`),
    );
    expect(build({ targetShape: shape, autoscaling: false })).not.toThrow();
  });

  test('zones of another region are refused (a regional MIG spreads over its own region)', () => {
    expect(build({ zones: ['us-central1-a', 'europe-west4-b'] })).toThrow(
      /zones "europe-west4-b" is not in region us-central1: the fleet is a regional MIG \(the only kind that takes an instanceFlexibilityPolicy over several zones\) and spreads over zones of its own region; use zones such as "us-central1-a", "us-central1-b" or change region/,
    );
  });

  test('a GPU type that does not fit an accelerator-optimized family is refused with a fix', () => {
    expect(build({ gpu: { type: 'nvidia-tesla-t4', count: 1 } })).toThrow(
      /gpu.type "nvidia-tesla-t4" does not fit the machine family: accelerator-optimized machine types come with their GPUs built in \(g2-standard-8 has nvidia-l4, g2-standard-12 has nvidia-l4\) and take no other guestAccelerator; leave gpu out for these types, or use N1 machine types \(e.g. n1-standard-8\) with an N1 GPU \(nvidia-tesla-t4, nvidia-tesla-v100, nvidia-tesla-p4, nvidia-tesla-p100\)/,
    );
    expect(build({ instanceTypes: ['a2-highgpu-1g', 'a2-highgpu-2g'], gpu: { type: 'nvidia-l4', count: 1 } })).toThrow(/a2-highgpu-1g has nvidia-tesla-a100/);
    expect(build({ instanceTypes: ['a3-highgpu-8g', 'a3-megagpu-8g'], gpu: { type: 'nvidia-h100-80gb', count: 8 } })).toThrow(/a3-megagpu-8g has nvidia-h100-mega-80gb/);
    // The built-in model itself is accepted (and not attached again).
    expect(build({ gpu: { type: 'nvidia-l4', count: 1 } })).not.toThrow();
  });

  test('GPUs on a family that takes none are refused', () => {
    expect(build({ instanceTypes: ['n2-standard-8', 'c3-standard-8'], gpu: { type: 'nvidia-tesla-t4', count: 1 } })).toThrow(
      /gpu.type "nvidia-tesla-t4" cannot be attached to n2-standard-8, c3-standard-8: guestAccelerator GPUs attach only to N1 machine types \(T4, V100, P4, P100\); use N1 types \(e.g. n1-standard-8 with nvidia-tesla-t4\) or an accelerator-optimized family with GPUs built in \(G2 for L4, A2 for A100, A3 for H100\) and leave gpu out/,
    );
  });

  test('a built-in GPU model on N1 points to its family', () => {
    expect(build({ instanceTypes: ['n1-standard-8', 'n1-standard-16'], gpu: { type: 'nvidia-l4', count: 1 } })).toThrow(
      /gpu.type "nvidia-l4" cannot be attached to N1 machine types \(n1-standard-8, n1-standard-16\): N1 takes nvidia-tesla-t4, .*; "nvidia-l4" comes built into G2 \(g2-standard-\*\) machine types: list those in instanceTypes and leave gpu out/,
    );
    expect(build({ instanceTypes: ['n1-standard-8', 'n1-standard-16'], gpu: { type: 'nvidia-made-up', count: 1 } })).toThrow(/N1 takes .*; pick one of those/);
  });

  test('GPU counts Compute Engine does not attach are refused', () => {
    expect(build({ instanceTypes: ['n1-standard-8', 'n1-standard-16'], gpu: { type: 'nvidia-tesla-t4', count: 3 } })).toThrow(
      /gpu.count \(3\) is not a count Compute Engine attaches for nvidia-tesla-t4: use one of 1, 2, 4/,
    );
    expect(build({ instanceTypes: ['n1-standard-8', 'n1-standard-16'], gpu: { type: 'nvidia-tesla-v100', count: 8 } })).not.toThrow();
  });

  test('mixing families with and without built-in GPUs is refused', () => {
    expect(build({ instanceTypes: ['g2-standard-8', 'n1-standard-8'] })).toThrow(
      /instanceTypes mixes GPU \(accelerator\) and CPU-only types \(g2-standard-8: NVIDIA GPU; n1-standard-8: no accelerator \(CPU only\)\) but a fleet boots one image with one driver; keep types of one kind .* \[MIXED_ACCELERATORS\]$/,
    );
  });

  test('instanceRequirements is refused on Google Cloud', () => {
    expect(build({ instanceTypes: undefined, instanceRequirements: { vCpuCount: { min: 4 }, memoryMiB: { min: 16384 } } })).toThrow(
      /instanceRequirements is not supported on Google Cloud \(managed instance groups pick from named machine types\); list them in instanceTypes instead/,
    );
  });

  test('resource name rules', () => {
    expect(build({ name: 'LLM_fleet' })).toThrow(/name \("LLM_fleet"\) must be 3-20 characters of lower-case letters, digits and hyphens, start with a letter and not end with a hyphen/);
    expect(build({ name: 'ab' })).toThrow(/name \("ab"\) must be 3-20 characters/);
  });

  test('targetUtilization outside (0, 1]', () => {
    expect(build({ targetUtilization: 1.5 })).toThrow(/targetUtilization \(1.5\) must be above 0 and at most 1 \(a fraction of each VM's serving capacity\); use e.g. 0.8/);
  });

  test('the agent health port cannot be the serving port', () => {
    expect(build({ servingPort: 8000, healthCheck: { port: 8000 } })).toThrow(
      /healthCheck.port \(8000\) is the serving port: the spot agent serves the health endpoint .* leave healthCheck.port out to use 9901 or pick a port other than 8000 \[PORT_RANGE\]/,
    );
  });

  test('drain budget over the 30 s Google Cloud notice', () => {
    expect(build({ drainBudgetSeconds: 25, deregistrationDelaySeconds: 10 })).toThrow(
      /drain budget exceeded: deregistrationDelaySeconds \(10 s\) \+ drainBudgetSeconds \(25 s\) = 35 s is longer than the 30 s Google Cloud spot notice; lower one or both so the sum is at most 30 s \[DRAIN_BUDGET_EXCEEDED\]/,
    );
  });

  test('the load balancer must notice the agent\'s 503 within the notice', () => {
    expect(build({ healthCheck: { intervalSeconds: 20, timeoutSeconds: 5, unhealthyThreshold: 2 } })).toThrow(
      /healthCheck.intervalSeconds \(20\) x healthCheck.unhealthyThreshold \(2\) = 40 s is longer than the 30 s Google Cloud preemption notice: the load balancer would keep sending requests to a VM that is already gone; lower them so the product is at most 30 s \(the default 10 s x 2 takes 20 s\) \[HEALTH_CHECK_RANGE\]/,
    );
    expect(build({ healthCheck: { intervalSeconds: 15, unhealthyThreshold: 2 } })).not.toThrow();
  });

  test('every problem of one props object is reported together', () => {
    const e = problems({ targetShape: TargetShape.EVEN, zones: ['europe-west4-a', 'europe-west4-b'], gpu: { type: 'nvidia-tesla-t4', count: 1 }, drainBudgetSeconds: 40 });
    expect(e.message).toMatch(/^stack\/Fleet: 4 problems in the fleet spec:\n/);
    expect(e.problems.map((p) => p.prop)).toEqual(['drainBudgetSeconds', 'targetShape', 'zones', 'gpu.type']);
  });

  test('tokens are not validated', () => {
    const stack = new TerraformStack(new App(), 'stack');
    const zone = new TerraformVariable(stack, 'zone', { type: 'string' }).stringValue;
    const region = new TerraformVariable(stack, 'region', { type: 'string' }).stringValue;
    expect(() => new GcpSpotFleet(stack, 'A', fleetProps({ zones: ['us-central1-a', zone] }))).not.toThrow();
    expect(() => new GcpSpotFleet(stack, 'B', fleetProps({ name: 'other', region, zones: ['europe-west4-a', 'europe-west4-b'] }))).not.toThrow();
  });

  test('resolveGcpFleet returns the defaults-filled spec', () => {
    const r = resolveGcpFleet(fleetProps(), { region: 'us-central1' }, 'x');
    expect(r.noticeSeconds).toBe(30);
    expect(r.drainBudgetSeconds).toBe(10);
    expect(r.deregistrationDelaySeconds).toBe(10);
  });

  test('a missing agent bundle tells the user to build it', () => {
    expect(build({ agentBundlePath: '/nonexistent/spot-agent.js' })).toThrow(
      /agentBundlePath: bundle "\/nonexistent\/spot-agent.js" not found|bundle "\/nonexistent\/spot-agent.js" not found \(looked in \/nonexistent\/spot-agent.js\); run `npm run build:handlers` first so that synth can ship it, or fix agentBundlePath/,
    );
  });
});
