import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { CpuArchitecture } from '../../lib/spec/architecture';

/**
 * The AWS Deep Learning AMI (DLAMI) "Base OSS Nvidia Driver GPU" on Amazon Linux 2023: NVIDIA driver,
 * CUDA, the NVIDIA container toolkit, Docker and the AWS CLI, ready for an inference server.
 *
 * The image id is read at deploy time from the public SSM parameter AWS keeps pointing at the latest
 * build (`/aws/service/deeplearning/ami/<arch>/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id`),
 * so synth needs no credentials and every deploy picks up the newest patched image.
 */
export class DeepLearningImage {
  /** Root device of the DLAMI on Amazon Linux 2023. */
  public static readonly ROOT_DEVICE_NAME = '/dev/xvda';
  /** Size of the DLAMI root snapshot; the root volume must be at least this big. */
  public static readonly MIN_ROOT_VOLUME_GIB = 75;

  /** Name of the public SSM parameter holding the latest DLAMI id for an architecture. */
  public static ssmParameterName(architecture: CpuArchitecture): string {
    const arch = architecture === CpuArchitecture.ARM64 ? 'arm64' : 'x86_64';
    return `/aws/service/deeplearning/ami/${arch}/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id`;
  }

  /** The DLAMI for an architecture, resolved from its SSM parameter at deploy time. */
  public static of(architecture: CpuArchitecture, userData?: ec2.UserData): ec2.IMachineImage {
    return ec2.MachineImage.fromSsmParameter(DeepLearningImage.ssmParameterName(architecture), {
      os: ec2.OperatingSystemType.LINUX,
      userData,
    });
  }

  private constructor() {}
}
