// One model API over two Google Cloud regions (us-central1 and europe-west4) behind one global external
// Application Load Balancer: per region a spot MIG over three zones plus a one-VM standard MIG and three zonal
// spare MIGs (size 0) that the one fallback controller sizes, one backend service over all ten groups, one alert
// set over both regions. No Google credentials are needed to synth.
import { TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { GcpMultiRegionSpotInferenceService } from 'spot-inference-constructs/gcp';

/** Settings of the example. */
export interface GcpMultiRegionExampleStackProps {
  /** @default 'my-gcp-project' */
  readonly project?: string;
}

export class GcpMultiRegionExampleStack extends TerraformStack {
  public readonly service: GcpMultiRegionSpotInferenceService;

  constructor(scope: Construct, id: string, props: GcpMultiRegionExampleStackProps = {}) {
    super(scope, id);
    const project = props.project ?? 'my-gcp-project';
    new GoogleProvider(this, 'google', { project });
    this.service = new GcpMultiRegionSpotInferenceService(this, 'llm', {
      project,
      namePrefix: 'llm-mr',
      allowedRegions: ['us-central1', 'europe-west4'],
      regions: [
        { region: 'us-central1', zones: ['us-central1-a', 'us-central1-b', 'us-central1-c'] },
        { region: 'europe-west4', zones: ['europe-west4-a', 'europe-west4-b', 'europe-west4-c'] },
      ],
      instanceTypes: ['g2-standard-8', 'g2-standard-12'],
      minCapacity: 2,
      desiredCapacity: 2,
      maxCapacity: 6,
      // One standard VM per region: a region whose spot is gone keeps serving its nearby clients.
      onDemandBaseCapacity: 1,
      servingPort: 8000,
      healthCheck: { path: '/health' },
      drainBudgetSeconds: 10,
      deregistrationDelaySeconds: 10,
      sourceImage: 'projects/deeplearning-platform-release/global/images/family/common-cu124-ubuntu-2204',
      bootCommands: [
        'docker run -d --restart=always --gpus all -p 8000:8000 --name vllm \\',
        '  vllm/vllm-openai:latest --model Qwen/Qwen2.5-1.5B-Instruct --port 8000',
      ],
      labels: { app: 'llm-inference' },
    });
  }
}
