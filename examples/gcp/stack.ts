// A model server on a spot fleet of two L4 machine types (G2) over three zones, a one-VM on-demand base,
// a global external Application Load Balancer and the preemption hook. No Google credentials are needed to synth.
import { TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { GcpSpotInferenceService, TargetShape } from 'spot-inference-constructs/gcp';

/** Settings of the example, from cdktf context or the defaults below. */
export interface GcpSpotInferenceStackProps {
  /** @default 'my-gcp-project' */
  readonly project?: string;
  /** @default 'us-central1' */
  readonly region?: string;
}

export class GcpSpotInferenceStack extends TerraformStack {
  public readonly service: GcpSpotInferenceService;

  constructor(scope: Construct, id: string, props: GcpSpotInferenceStackProps = {}) {
    super(scope, id);
    const project = props.project ?? 'my-gcp-project';
    const region = props.region ?? 'us-central1';
    new GoogleProvider(this, 'google', { project, region });

    this.service = new GcpSpotInferenceService(this, 'llm', {
      project,
      region,
      // Spot diversification: two L4 machine types (built-in GPU, ranked in this order) over three zones.
      instanceTypes: ['g2-standard-8', 'g2-standard-12'],
      zones: [`${region}-a`, `${region}-b`, `${region}-c`],
      targetShape: TargetShape.BALANCED,
      minCapacity: 2,
      desiredCapacity: 3,
      maxCapacity: 8,
      // One standard VM keeps serving whatever spot does.
      onDemandBaseCapacity: 1,
      servingPort: 8000,
      healthCheck: { path: '/health' },
      drainBudgetSeconds: 10,
      deregistrationDelaySeconds: 10,
      // A Deep Learning VM image with NVIDIA drivers and Docker; list current families with
      // `gcloud compute images list --project deeplearning-platform-release --no-standard-images`.
      sourceImage: 'projects/deeplearning-platform-release/global/images/family/common-cu124-ubuntu-2204',
      // Secure Boot stays on: the Deep Learning VM image ships signed NVIDIA drivers.
      bootCommands: [
        'docker run -d --restart=always --gpus all -p 8000:8000 --name vllm \\',
        '  vllm/vllm-openai:latest --model Qwen/Qwen2.5-1.5B-Instruct --port 8000',
      ],
      labels: { app: 'llm-inference' },
    });
  }
}
