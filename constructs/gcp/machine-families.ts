/**
 * Facts about Google Cloud machine families that the fleet needs at synth time: which families take
 * GPUs through `guestAccelerator` (N1 only) and which have their GPUs built in (A2, A3, A4, G2).
 *
 * Sources: Compute Engine "GPU machine types" (accelerator-optimized A4/A3/A2/G2 come with GPUs
 * attached; N1 general-purpose machines take T4, V100, P4 or P100 through guest accelerators).
 */

/** GPUs an N1 machine type can take through `guestAccelerator`, with the counts Compute Engine accepts. */
export const N1_ATTACHABLE_GPUS: Record<string, number[]> = {
  'nvidia-tesla-t4': [1, 2, 4],
  'nvidia-tesla-t4-vws': [1, 2, 4],
  'nvidia-tesla-v100': [1, 2, 4, 8],
  'nvidia-tesla-p4': [1, 2, 4],
  'nvidia-tesla-p4-vws': [1, 2, 4],
  'nvidia-tesla-p100': [1, 2, 4],
  'nvidia-tesla-p100-vws': [1, 2, 4],
};

/** Accelerator-optimized families and the GPU model(s) built into them. */
const BUILT_IN: Array<{ readonly prefix: RegExp; readonly family: string; readonly gpus: string[] }> = [
  { prefix: /^a2-ultragpu-/, family: 'A2 Ultra', gpus: ['nvidia-a100-80gb'] },
  { prefix: /^a2-/, family: 'A2', gpus: ['nvidia-tesla-a100'] },
  { prefix: /^a3-megagpu-/, family: 'A3 Mega', gpus: ['nvidia-h100-mega-80gb'] },
  { prefix: /^a3-ultragpu-/, family: 'A3 Ultra', gpus: ['nvidia-h200-141gb'] },
  { prefix: /^a3-/, family: 'A3', gpus: ['nvidia-h100-80gb'] },
  { prefix: /^a4-/, family: 'A4', gpus: ['nvidia-b200'] },
  { prefix: /^g2-/, family: 'G2', gpus: ['nvidia-l4'] },
];

/** How a machine type gets its GPUs. */
export enum GpuAttachment {
  /** N1: GPUs are attached through `guestAccelerator`. */
  ATTACHABLE = 'attachable',
  /** Accelerator-optimized (A2, A3, A4, G2): the GPUs come with the machine type. */
  BUILT_IN = 'built-in',
  /** Every other family: no GPUs. */
  NONE = 'none',
}

/** Family name of a machine type as Google writes it (`n1-standard-8` -> `n1`). */
export function machineFamilyOf(machineType: string): string {
  return machineType.toLowerCase().split('-')[0];
}

/** How the machine type gets GPUs. */
export function gpuAttachmentOf(machineType: string): GpuAttachment {
  const t = machineType.toLowerCase();
  if (/^n1-/.test(t)) return GpuAttachment.ATTACHABLE;
  return BUILT_IN.some((b) => b.prefix.test(t)) ? GpuAttachment.BUILT_IN : GpuAttachment.NONE;
}

/** The GPU model(s) built into an accelerator-optimized machine type, or `undefined` for other families. */
export function builtInGpusOf(machineType: string): { family: string; gpus: string[] } | undefined {
  const t = machineType.toLowerCase();
  const hit = BUILT_IN.find((b) => b.prefix.test(t));
  return hit ? { family: hit.family, gpus: hit.gpus } : undefined;
}
