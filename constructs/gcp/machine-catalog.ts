/**
 * Google Cloud machine type names, offline: the predefined families and shapes of Compute Engine's machine family
 * documentation ("Machine families resource and comparison guide", the general-purpose, compute-optimized,
 * memory-optimized and accelerator-optimized pages), plus the custom machine type grammar
 * (`<family>-custom-<vCPUs>-<MiB>[-ext]`, N1's bare `custom-<vCPUs>-<MiB>`).
 *
 * What this does NOT check, because it is not known offline: whether a valid machine type is offered in the fleet's
 * region or zones (Compute Engine refuses it at deploy, `ZONE_RESOURCE_POOL_EXHAUSTED` or "machine type not found in
 * zone"), whether the project has quota for it, and the vCPU / memory ratios of custom machine types beyond the
 * grammar.
 */
import { didYouMean, IInstanceTypeCatalog, suggestNames } from '../../lib/spec/rules';
import { GpuAttachment, gpuAttachmentOf } from './machine-families';

/** Shapes (`<class>-<size>`) of one family. */
interface FamilyShapes {
  readonly [cls: string]: readonly (string | number)[];
}

const N = (...xs: (string | number)[]): (string | number)[] => xs;

/**
 * Predefined machine types by family, as Google documents them. `-lssd` variants (C3, C3D, C4, C4A, C4D with
 * Titanium local SSD) are listed as their own class.
 */
export const GCP_MACHINE_FAMILIES: { readonly [family: string]: FamilyShapes } = {
  // General-purpose
  c4: { standard: N(2, 4, 8, 16, 24, 32, 48, 96, 144, 192, 288), highcpu: N(2, 4, 8, 16, 24, 32, 48, 96, 144, 192, 288), highmem: N(2, 4, 8, 16, 24, 32, 48, 96, 144, 192, 288), 'standard-lssd': N(4, 8, 16, 24, 32, 48, 96, 144, 192, 288), 'highmem-lssd': N(4, 8, 16, 24, 32, 48, 96, 144, 192, 288) },
  c4a: { standard: N(1, 2, 4, 8, 16, 32, 48, 64, 72), highcpu: N(1, 2, 4, 8, 16, 32, 48, 64, 72), highmem: N(1, 2, 4, 8, 16, 32, 48, 64, 72), 'standard-lssd': N(4, 8, 16, 32, 48, 64, 72), 'highmem-lssd': N(4, 8, 16, 32, 48, 64, 72) },
  c4d: { standard: N(2, 4, 8, 16, 32, 48, 64, 96, 192, 384), highcpu: N(2, 4, 8, 16, 32, 48, 64, 96, 192, 384), highmem: N(2, 4, 8, 16, 32, 48, 64, 96, 192, 384), 'standard-lssd': N(8, 16, 32, 48, 64, 96, 192, 384), 'highmem-lssd': N(8, 16, 32, 48, 64, 96, 192, 384) },
  c3: { standard: N(4, 8, 22, 44, 88, 176), highcpu: N(4, 8, 22, 44, 88, 176), highmem: N(4, 8, 22, 44, 88, 176), 'standard-lssd': N(4, 8, 22, 44, 88, 176) },
  c3d: { standard: N(4, 8, 16, 30, 60, 90, 180, 360), highcpu: N(4, 8, 16, 30, 60, 90, 180, 360), highmem: N(4, 8, 16, 30, 60, 90, 180, 360), 'standard-lssd': N(8, 16, 30, 60, 90, 180, 360), 'highmem-lssd': N(8, 16, 30, 60, 90, 180, 360) },
  n4: { standard: N(2, 4, 8, 16, 32, 48, 64, 80), highcpu: N(2, 4, 8, 16, 32, 48, 64, 80), highmem: N(2, 4, 8, 16, 32, 48, 64, 80) },
  n2: { standard: N(2, 4, 8, 16, 32, 48, 64, 80, 96, 128), highmem: N(2, 4, 8, 16, 32, 48, 64, 80, 96, 128), highcpu: N(2, 4, 8, 16, 32, 48, 64, 80, 96) },
  n2d: { standard: N(2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224), highmem: N(2, 4, 8, 16, 32, 48, 64, 80, 96), highcpu: N(2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224) },
  n1: { standard: N(1, 2, 4, 8, 16, 32, 64, 96), highmem: N(2, 4, 8, 16, 32, 64, 96), highcpu: N(2, 4, 8, 16, 32, 64, 96), megamem: N(96), ultramem: N(40, 80, 160) },
  e2: { standard: N(2, 4, 8, 16, 32), highmem: N(2, 4, 8, 16), highcpu: N(2, 4, 8, 16, 32), '': N('micro', 'small', 'medium') },
  t2d: { standard: N(1, 2, 4, 8, 16, 32, 48, 60) },
  t2a: { standard: N(1, 2, 4, 8, 16, 32, 48) },
  f1: { '': N('micro') },
  g1: { '': N('small') },
  // Compute-optimized
  h3: { standard: N(88) },
  c2: { standard: N(4, 8, 16, 30, 60) },
  c2d: { standard: N(2, 4, 8, 16, 32, 56, 112), highcpu: N(2, 4, 8, 16, 32, 56, 112), highmem: N(2, 4, 8, 16, 32, 56, 112) },
  // Memory-optimized
  m1: { megamem: N(96), ultramem: N(40, 80, 160) },
  m2: { megamem: N(416), ultramem: N(208, 416), hypermem: N(416) },
  m3: { megamem: N(64, 128), ultramem: N(32, 64, 128) },
  // Accelerator-optimized (GPUs built in)
  a2: { highgpu: N('1g', '2g', '4g', '8g'), megagpu: N('16g'), ultragpu: N('1g', '2g', '4g', '8g') },
  a3: { highgpu: N('1g', '2g', '4g', '8g'), megagpu: N('8g'), edgegpu: N('8g'), ultragpu: N('8g') },
  a4: { highgpu: N('8g') },
  a4x: { highgpu: N('4g') },
  g2: { standard: N(4, 8, 12, 16, 24, 32, 48, 96) },
  g4: { standard: N(48, 96, 192, 384) },
};

/** Families that take custom machine types (`<family>-custom-<vCPUs>-<MiB>`; N1 also as bare `custom-...`). */
const CUSTOM_FAMILIES = new Set(['n1', 'n2', 'n2d', 'n4', 'e2', 'g2']);
const CUSTOM = /^(?:([a-z0-9]+)-)?custom-(\d+)-(\d+)(-ext)?$/;

/** Every predefined machine type name, in documentation order. */
export const GCP_MACHINE_TYPES: readonly string[] = Object.entries(GCP_MACHINE_FAMILIES).flatMap(([family, classes]) =>
  Object.entries(classes).flatMap(([cls, sizes]) => sizes.map((size) => (cls === '' ? `${family}-${size}` : `${family}-${cls}-${size}`))),
);
const KNOWN = new Set(GCP_MACHINE_TYPES);

/** Why `name` is not a Compute Engine machine type (with a suggestion where one is close), or `undefined` when it is. */
export function explainUnknownMachineType(name: string): string | undefined {
  if (KNOWN.has(name)) return undefined;
  const lower = name.toLowerCase();
  if (lower !== name && KNOWN.has(lower)) return `machine type names are lower case; did you mean ${lower}?`;
  const custom = CUSTOM.exec(name);
  if (custom) {
    const family = custom[1] ?? 'n1';
    if (!CUSTOM_FAMILIES.has(family)) {
      return `the ${family.toUpperCase()} family has no custom machine types; custom types exist for ${[...CUSTOM_FAMILIES].join(', ')}`;
    }
    const mib = Number(custom[3]);
    if (mib % 256 !== 0) return `custom machine type memory (${mib} MiB) must be a multiple of 256 MiB`;
    return undefined;
  }
  const suggestion = didYouMean(suggestNames(lower, GCP_MACHINE_TYPES, 1));
  const family = lower.split('-')[0];
  const shapes = GCP_MACHINE_FAMILIES[family];
  if (!shapes) {
    const families = suggestNames(family, Object.keys(GCP_MACHINE_FAMILIES), 2);
    const hint = suggestion || (families.length > 0 ? `did you mean the ${families.join(' or ')} family?` : `families are ${Object.keys(GCP_MACHINE_FAMILIES).join(', ')}`);
    return `no machine family "${family}"; ${hint}`;
  }
  const cls = lower.slice(family.length + 1).replace(/-[^-]+$/, '');
  if (shapes[cls] === undefined) {
    return `the ${family.toUpperCase()} family has no ${cls ? `"${cls}" ` : ''}class (it has ${Object.keys(shapes).map((c) => c || '(shared-core)').join(', ')})${suggestion ? `; ${suggestion}` : ''}`;
  }
  const sizes = shapes[cls].join(', ');
  return `${family}-${cls || ''}${cls ? '-' : ''}* comes in sizes ${sizes}${suggestion ? `; ${suggestion}` : ''}`;
}

/**
 * The offline catalogue of Google Cloud machine types for the cross-cloud name rules (`UNKNOWN_INSTANCE_TYPE` with a
 * suggestion, `MIXED_ACCELERATORS`). Accelerator-optimized types carry NVIDIA GPUs; N1 types take GPUs only through
 * `gpu` (guestAccelerator) and count as CPU-only here, the `gpu` prop's own rules cover them.
 */
export const GCP_MACHINE_TYPE_CATALOG: IInstanceTypeCatalog = {
  cloudName: 'Google Cloud',
  typeNoun: 'machine type',
  explainUnknown: explainUnknownMachineType,
  acceleratorOf: (name: string) => (gpuAttachmentOf(name) === GpuAttachment.BUILT_IN ? 'NVIDIA GPU' : undefined),
};
