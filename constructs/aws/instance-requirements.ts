import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import { CpuArchitecture } from '../../lib/spec/architecture';
import { AcceleratorManufacturer, InstanceRequirements, Range } from '../../lib/spec/fleet-spec';

// Internal (not exported from the entry point): jsii has no free functions.

function toRange(r: Range | undefined): { min?: number; max?: number } | undefined {
  if (!r) return undefined;
  return { ...(r.min !== undefined ? { min: r.min } : {}), ...(r.max !== undefined ? { max: r.max } : {}) };
}

/** The spec's attribute-based selection as CloudFormation `InstanceRequirements`. */
export function toCfnInstanceRequirements(req: InstanceRequirements, architecture: CpuArchitecture): autoscaling.CfnAutoScalingGroup.InstanceRequirementsProperty {
  const wantsAccelerator = req.gpuCount?.min !== undefined && req.gpuCount.min > 0
    || req.gpuTotalMemoryMiB !== undefined || (req.gpuNames?.length ?? 0) > 0 || (req.gpuManufacturers?.length ?? 0) > 0;
  const types = new Set<string>();
  if (wantsAccelerator) {
    const makers = req.gpuManufacturers ?? [];
    if (makers.length === 0 || makers.some((m) => m === AcceleratorManufacturer.NVIDIA || m === AcceleratorManufacturer.AMD)) types.add('gpu');
    if (makers.includes(AcceleratorManufacturer.AWS)) types.add('inference');
    if (makers.includes(AcceleratorManufacturer.XILINX)) types.add('fpga');
  }
  const arch = req.architecture ?? architecture;
  return {
    vCpuCount: toRange(req.vCpuCount)!,
    memoryMiB: toRange(req.memoryMiB)!,
    ...(req.gpuCount ? { acceleratorCount: toRange(req.gpuCount) } : {}),
    ...(req.gpuTotalMemoryMiB ? { acceleratorTotalMemoryMiB: toRange(req.gpuTotalMemoryMiB) } : {}),
    ...(req.gpuManufacturers ? { acceleratorManufacturers: [...req.gpuManufacturers] } : {}),
    ...(req.gpuNames ? { acceleratorNames: [...req.gpuNames] } : {}),
    ...(types.size > 0 ? { acceleratorTypes: [...types] } : {}),
    // One image, one architecture: Graviton for arm64, Intel and AMD for x86_64.
    cpuManufacturers: arch === CpuArchitecture.ARM64 ? ['amazon-web-services'] : ['intel', 'amd'],
  };
}
