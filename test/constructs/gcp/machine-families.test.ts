import { GpuAttachment, builtInGpusOf, gpuAttachmentOf, machineFamilyOf } from '../../../constructs/gcp';

describe('machine families', () => {
  test.each([
    ['n1-standard-8', GpuAttachment.ATTACHABLE],
    ['g2-standard-12', GpuAttachment.BUILT_IN],
    ['a2-highgpu-1g', GpuAttachment.BUILT_IN],
    ['a2-ultragpu-1g', GpuAttachment.BUILT_IN],
    ['a3-highgpu-8g', GpuAttachment.BUILT_IN],
    ['a4-highgpu-8g', GpuAttachment.BUILT_IN],
    ['n2-standard-8', GpuAttachment.NONE],
    ['c4a-standard-8', GpuAttachment.NONE],
  ])('%s -> %s', (type, attachment) => {
    expect(gpuAttachmentOf(type)).toBe(attachment);
  });

  test('built-in GPU models', () => {
    expect(builtInGpusOf('g2-standard-8')).toEqual({ family: 'G2', gpus: ['nvidia-l4'] });
    expect(builtInGpusOf('a2-ultragpu-2g')).toEqual({ family: 'A2 Ultra', gpus: ['nvidia-a100-80gb'] });
    expect(builtInGpusOf('a3-megagpu-8g')?.gpus).toEqual(['nvidia-h100-mega-80gb']);
    expect(builtInGpusOf('n1-standard-8')).toBeUndefined();
    expect(machineFamilyOf('G2-Standard-8')).toBe('g2');
  });
});
