import { Cloud } from './clouds';

/** CPU architecture of an instance type or machine image. */
export enum CpuArchitecture {
  X86_64 = 'x86_64',
  ARM64 = 'arm64',
}

/**
 * The CPU architecture of an instance type, read from the cloud's naming scheme.
 *
 * - AWS: Graviton families carry a `g` among the attributes after the generation (`m7g`, `c7gn`,
 *   `g5g`, `im4gn`, `is4gen`) and `a1`; GPU families like `g5` or `g4dn` are x86.
 * - Google Cloud: Arm series are `t2a`, `c4a` and `n4a`.
 * - Azure: a `p` among the feature letters of the size (`Standard_D4ps_v5`, `Standard_E8pds_v6`).
 */
export function architectureOf(cloud: Cloud, instanceType: string): CpuArchitecture {
  const t = instanceType.toLowerCase();
  switch (cloud) {
    case Cloud.AWS: {
      if (/^a1\./.test(t)) return CpuArchitecture.ARM64;
      const m = /^([a-z]+)(\d+)([a-z-]*)\./.exec(t);
      if (m && m[3].replace(/-.*$/, '').includes('g')) return CpuArchitecture.ARM64;
      return CpuArchitecture.X86_64;
    }
    case Cloud.GCP:
      return /^(t2a|c4a|n4a)-/.test(t) ? CpuArchitecture.ARM64 : CpuArchitecture.X86_64;
    case Cloud.AZURE: {
      // Standard_<family><vcpus><features>_v<n>, e.g. Standard_D4pds_v5
      const m = /^standard_([a-z]+)(\d+)(-\d+)?([a-z]*)(_|$)/.exec(t);
      return m && m[4].includes('p') ? CpuArchitecture.ARM64 : CpuArchitecture.X86_64;
    }
    default:
      return CpuArchitecture.X86_64;
  }
}
