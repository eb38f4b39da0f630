import { IInstanceTypeCatalog, didYouMean, suggestNames } from '../spec/rules';
import { AWS_INSTANCE_TYPES_SDK_VERSION, AWS_INSTANCE_TYPE_SIZES } from './aws-instance-types';

/**
 * The accelerator of each EC2 family that has one, as AWS documents the families ("Accelerated computing" in the
 * EC2 instance types guide): NVIDIA GPUs on P and G (except `g4ad`, AMD Radeon Pro V520) and `cg1`; AWS
 * Inferentia / Trainium (Neuron) on `inf` and `trn`; Intel Gaudi on `dl1`; Qualcomm AI 100 on `dl2q`; FPGAs on
 * `f1` / `f2`; Xilinx video transcoders on `vt1`. Every other family is CPU only.
 */
const AWS_ACCELERATORS: { readonly [family: string]: string } = {
  cg1: 'NVIDIA GPU', g2: 'NVIDIA GPU', g3: 'NVIDIA GPU', g3s: 'NVIDIA GPU', g4dn: 'NVIDIA GPU', g5: 'NVIDIA GPU',
  g5g: 'NVIDIA GPU', g6: 'NVIDIA GPU', g6e: 'NVIDIA GPU', g6f: 'NVIDIA GPU', g7: 'NVIDIA GPU', g7e: 'NVIDIA GPU',
  gr6: 'NVIDIA GPU', gr6f: 'NVIDIA GPU', p2: 'NVIDIA GPU', p3: 'NVIDIA GPU', p3dn: 'NVIDIA GPU', p4d: 'NVIDIA GPU',
  p4de: 'NVIDIA GPU', p5: 'NVIDIA GPU', p5e: 'NVIDIA GPU', p5en: 'NVIDIA GPU', 'p6-b200': 'NVIDIA GPU',
  'p6-b300': 'NVIDIA GPU', 'p6e-gb200': 'NVIDIA GPU',
  g4ad: 'AMD GPU',
  inf1: 'AWS Neuron (Inferentia)', inf2: 'AWS Neuron (Inferentia)',
  trn1: 'AWS Neuron (Trainium)', trn1n: 'AWS Neuron (Trainium)', trn2: 'AWS Neuron (Trainium)', trn2u: 'AWS Neuron (Trainium)',
  dl1: 'Intel Gaudi', dl2q: 'Qualcomm AI 100',
  f1: 'FPGA', f2: 'FPGA', vt1: 'Xilinx video transcoder',
};

let allNames: string[] | undefined;
function names(): string[] {
  allNames ??= Object.entries(AWS_INSTANCE_TYPE_SIZES).flatMap(([family, sizes]) => sizes.map((s) => `${family}.${s}`));
  return allNames;
}

function familyOf(name: string): string {
  const dot = name.indexOf('.');
  return dot < 0 ? name : name.slice(0, dot);
}

/** Whether `name` is an EC2 instance type the AWS SDK knows (exact spelling, lower case as AWS writes it). */
export function isAwsInstanceType(name: string): boolean {
  const dot = name.indexOf('.');
  if (dot < 0) return false;
  return AWS_INSTANCE_TYPE_SIZES[name.slice(0, dot)]?.includes(name.slice(dot + 1)) ?? false;
}

/**
 * The EC2 instance type names, checked offline against the list of @aws-sdk/client-ec2 (generated into
 * `aws-instance-types.ts`), and the accelerator of each family. Not checked offline: whether a type is offered
 * in a region or zone (AWS refuses those at deploy, or launches the fleet's other types).
 */
export const AWS_INSTANCE_TYPE_CATALOG: IInstanceTypeCatalog = {
  cloudName: 'AWS',
  typeNoun: 'instance type',
  explainUnknown(name: string): string | undefined {
    if (isAwsInstanceType(name)) return undefined;
    const family = familyOf(name);
    const sizes = AWS_INSTANCE_TYPE_SIZES[family.toLowerCase()];
    if (name.indexOf('.') < 0) {
      const hint = didYouMean(suggestNames(name, names()));
      return `an instance type is <family>.<size>, e.g. g5.xlarge${hint ? `; ${hint}` : ''}`;
    }
    if (sizes && family === family.toLowerCase()) {
      const hint = didYouMean(suggestNames(name, sizes.map((s) => `${family}.${s}`)));
      return `family ${family} has no size ${name.slice(family.length + 1)}; ${hint || `its sizes are ${sizes.join(', ')}`}`;
    }
    const hint = didYouMean(suggestNames(name, names()));
    if (sizes) return `AWS writes instance types in lower case; ${hint || `use ${name.toLowerCase()}`}`;
    const newer = `a family AWS launched after @aws-sdk/client-ec2 ${AWS_INSTANCE_TYPES_SDK_VERSION}: set allowUnknownInstanceTypes: true`;
    return `no family ${family} in @aws-sdk/client-ec2; ${hint ? `${hint} For ${newer}` : `see \`aws ec2 describe-instance-types\` for the types of your region; for ${newer}`}`;
  },
  acceleratorOf(name: string): string | undefined {
    return AWS_ACCELERATORS[familyOf(name)];
  },
};
