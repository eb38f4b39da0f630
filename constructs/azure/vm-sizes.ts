/**
 * Azure VM size names, checked offline against Azure's size naming convention and the families Azure documents.
 *
 * Naming convention (learn.microsoft.com/azure/virtual-machines/vm-naming-conventions):
 * `[Tier]_[Family][Sub-family]*[# of vCPUs][-constrained vCPUs]*[Additive features][_Accelerator type]*[_Version]`,
 * e.g. `Standard_NC24ads_A100_v4` (family NC, 24 vCPUs, features a/d/s, accelerator A100, version 4),
 * `Standard_E8-4ds_v5` (family E, 8 vCPUs constrained to 4), `Standard_D4s_v5`.
 *
 * The family table below is a snapshot of the series the Azure size documentation lists (general purpose, compute,
 * memory, storage, GPU/FPGA, high performance; previous generations included); a series announced after it is
 * refused until the table is updated (add it to {@link AZURE_VM_FAMILIES}). What is NOT checked offline: whether a
 * size of a known family and version really exists with that vCPU count and feature letters (e.g. `Standard_D5s_v5`
 * passes the check although Dsv5 has no 5-vCPU size), and whether a size is offered in a region or zone, or has
 * quota in the subscription. Azure refuses those at deploy (`SkuNotAvailable`, `QuotaExceeded`).
 *
 * This file is plain data and functions (no IaC imports), so the planner and tests can use it too.
 */

/** One documented family: the versions Azure lists for it and the accelerator its sizes carry. */
export interface AzureVmFamily {
  /** Versions Azure documents, as numbers; 1 stands for the unversioned first generation (`Standard_D4`, `Standard_NC6`). */
  readonly versions: number[];
  /**
   * The accelerator every size of the family carries (`NVIDIA GPU`, `AMD GPU`, `Xilinx FPGA`), or a function of the
   * parsed name when it depends on the version or the accelerator part; undefined for CPU-only families.
   */
  readonly accelerator?: string | ((size: ParsedVmSize) => string);
  /** What the family is for, in messages. */
  readonly description: string;
}

/** AMD accelerator parts in GPU family names (everything else in NC/ND/NV is NVIDIA). */
const AMD_PARTS = ['MI300X', 'MI25', 'V620', 'V710'];
const gpuOf = (s: ParsedVmSize): string => (s.acceleratorParts.some((p) => AMD_PARTS.includes(p.toUpperCase())) ? 'AMD GPU' : 'NVIDIA GPU');

/**
 * The families of the Azure size documentation and their versions (snapshot, 2025). Keys are upper case.
 * `DS`, `GS` and `FS` are the old premium-storage spellings (`Standard_DS3_v2`).
 */
export const AZURE_VM_FAMILIES: { readonly [family: string]: AzureVmFamily } = {
  A: { versions: [1, 2], description: 'entry-level general purpose' },
  B: { versions: [1, 2], description: 'burstable general purpose' },
  D: { versions: [1, 2, 3, 4, 5, 6], description: 'general purpose' },
  DS: { versions: [1, 2], description: 'general purpose, premium storage (previous generation)' },
  DC: { versions: [1, 2, 3, 5, 6], description: 'confidential general purpose' },
  E: { versions: [3, 4, 5, 6], description: 'memory optimized' },
  EC: { versions: [5, 6], description: 'confidential memory optimized' },
  F: { versions: [1, 2, 6], description: 'compute optimized' },
  FS: { versions: [1], description: 'compute optimized, premium storage (previous generation)' },
  FX: { versions: [1, 2], description: 'compute optimized, high frequency' },
  G: { versions: [1], description: 'memory optimized (previous generation)' },
  GS: { versions: [1], description: 'memory optimized, premium storage (previous generation)' },
  H: { versions: [1], description: 'high performance compute' },
  HB: { versions: [1, 2, 3, 4, 5], description: 'high performance compute, memory bandwidth' },
  HC: { versions: [1], description: 'high performance compute, dense compute' },
  HX: { versions: [1], description: 'high performance compute, large memory' },
  L: { versions: [1, 2, 3, 4], description: 'storage optimized' },
  M: { versions: [1, 2, 3], description: 'memory optimized, largest memory' },
  NC: { versions: [1, 2, 3, 4, 5], accelerator: gpuOf, description: 'GPU compute (training, inference)' },
  NCC: { versions: [5], accelerator: 'NVIDIA GPU', description: 'confidential GPU compute' },
  ND: { versions: [1, 2, 4, 5, 6], accelerator: gpuOf, description: 'GPU deep learning (large training and inference)' },
  NG: { versions: [1], accelerator: 'AMD GPU', description: 'GPU cloud gaming and virtual desktop' },
  NV: { versions: [1, 3, 4, 5, 6], accelerator: (s) => (s.version === 4 ? 'AMD GPU' : gpuOf(s)), description: 'GPU visualization and virtual desktop' },
  NP: { versions: [1], accelerator: 'Xilinx FPGA', description: 'FPGA' },
};

/** A VM size name taken apart by {@link parseVmSize}. */
export interface ParsedVmSize {
  /** `Standard` or `Basic`. */
  readonly tier: string;
  /** The family, upper case (`NC`, `D`, `DS`). */
  readonly family: string;
  /** vCPUs (the number after the family). */
  readonly vcpus: number;
  /** Constrained vCPUs (`Standard_E8-4ds_v5` -> 4), when given. */
  readonly constrainedVcpus?: number;
  /** Additive feature letters (`ads`), lower case. */
  readonly features: string;
  /** Accelerator and other parts between the features and the version (`A100`, `T4`, `cc`). */
  readonly acceleratorParts: string[];
  /** The version number; 1 when the name has none. */
  readonly version: number;
}

const SIZE_PATTERN = /^(standard|basic)_([a-z]+)(\d+)(?:-(\d+))?([a-z]*)((?:_[a-z][a-z0-9]*?)*?)(?:_v(\d+))?(?:_promo)?$/i;

/** Split a VM size name into its parts, or `undefined` when it does not follow Azure's naming convention at all. */
export function parseVmSize(name: string): ParsedVmSize | undefined {
  const m = SIZE_PATTERN.exec(name);
  if (!m) return undefined;
  const [, tier, familyRaw, vcpus, constrained, features, parts, version] = m;
  // The family is every letter before the vCPU count (`NCC40` -> NCC, `DS3` -> DS); feature letters follow the count.
  const family = familyRaw.toUpperCase();
  return {
    tier: tier[0].toUpperCase() + tier.slice(1).toLowerCase(),
    family,
    vcpus: Number(vcpus),
    constrainedVcpus: constrained !== undefined ? Number(constrained) : undefined,
    features: features.toLowerCase(),
    acceleratorParts: parts ? parts.split('_').filter((p) => p !== '') : [],
    version: version !== undefined ? Number(version) : 1,
  };
}

/** Why `name` is not a size of a documented Azure family (ending in a suggestion where one is close), or undefined. */
export function explainUnknownVmSize(name: string): string | undefined {
  if (typeof name !== 'string' || name.trim() === '') return 'an empty name; use a size like "Standard_D4s_v5" or "Standard_NC4as_T4_v3"';
  if (name === 'Mix') return 'Mix is the sku name of an instance mix, not a size; list the sizes themselves';
  if (/\s/.test(name)) return `it contains white space; did you mean ${name.replace(/\s+/g, '')}?`;
  const parsed = parseVmSize(name);
  if (!parsed && parseVmSize(`Standard_${name}`)) {
    return `a size name starts with its tier; did you mean Standard_${name}?`;
  }
  if (!parsed) {
    return 'it does not follow the Azure size naming convention Standard_<family><vCPUs>[-<constrained vCPUs>]<features>[_<accelerator>][_v<version>], e.g. "Standard_D4s_v5" or "Standard_NC24ads_A100_v4"';
  }
  if (parsed.tier === 'Basic' && parsed.family !== 'A') {
    return `the Basic tier has only A sizes (Basic_A0 to Basic_A4); did you mean Standard_${name.slice(name.indexOf('_') + 1)}?`;
  }
  const family = AZURE_VM_FAMILIES[parsed.family];
  if (!family) {
    // Suggest families one edit away (NX -> NC, ND, NV); a one-letter family is one edit from every other one.
    const known = Object.keys(AZURE_VM_FAMILIES);
    const close = parsed.family.length < 2 ? [] : known.filter((f) => distance(f, parsed.family) <= 1);
    const suggestions = close.slice(0, 3).map((f) => name.replace(new RegExp(`_${parsed.family}(?=\\d)`, 'i'), `_${f}`));
    return `Azure documents no VM family "${parsed.family}" (families: ${known.join(', ')})${suggestions.length > 0 ? `; ${didYouMean(suggestions)}` : ''}`;
  }
  if (!family.versions.includes(parsed.version)) {
    const versions = family.versions.map((v) => (v === 1 ? 'v1 (no suffix)' : `v${v}`)).join(', ');
    const newest = [...family.versions].sort((a, b) => b - a).slice(0, 2);
    const suggestions = newest.map((v) => withVersion(name, v));
    return `Azure documents the ${parsed.family} family (${family.description}) in versions ${versions}, not v${parsed.version}; ${didYouMean(suggestions)}`;
  }
  if (parsed.vcpus < 1) return `a size has at least 1 vCPU, not ${parsed.vcpus}`;
  if (parsed.constrainedVcpus !== undefined && parsed.constrainedVcpus >= parsed.vcpus) {
    return `constrained vCPUs (${parsed.constrainedVcpus}) must be fewer than the size's ${parsed.vcpus} vCPUs (e.g. Standard_E8-4ds_v5)`;
  }
  return undefined;
}

/** The accelerator of a valid size (`NVIDIA GPU`, `AMD GPU`, `Xilinx FPGA`), or undefined for a CPU-only size. */
export function vmSizeAccelerator(name: string): string | undefined {
  const parsed = parseVmSize(name);
  if (!parsed) return undefined;
  const acc = AZURE_VM_FAMILIES[parsed.family]?.accelerator;
  return typeof acc === 'function' ? acc(parsed) : acc;
}

/**
 * The offline catalogue of Azure VM size names, in the shape the cross-cloud name and accelerator rules of
 * `lib/spec` take (`cloudName`, `typeNoun`, `explainUnknown`, `acceleratorOf`).
 */
export const AZURE_VM_SIZE_CATALOG = {
  cloudName: 'Azure',
  typeNoun: 'VM size',
  explainUnknown: explainUnknownVmSize,
  acceleratorOf: vmSizeAccelerator,
};

function withVersion(name: string, version: number): string {
  const base = name.replace(/_v\d+$/i, '');
  return version === 1 ? base : `${base}_v${version}`;
}

function didYouMean(suggestions: string[]): string {
  if (suggestions.length === 1) return `did you mean ${suggestions[0]}?`;
  return `did you mean ${suggestions.slice(0, -1).join(', ')} or ${suggestions[suggestions.length - 1]}?`;
}

/** Levenshtein distance, case-insensitive (family names are short). */
function distance(a: string, b: string): number {
  const s = a.toUpperCase();
  const t = b.toUpperCase();
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const cur = [i];
    for (let j = 1; j <= t.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (s[i - 1] === t[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[t.length];
}
