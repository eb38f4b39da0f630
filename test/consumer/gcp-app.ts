import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { App, TerraformStack } from 'cdktf';
import { GcpSpotInferenceService } from 'spot-inference-constructs/gcp';

const app = new App();
const stack = new TerraformStack(app, 'spot-inference-gcp');
const project = 'my-project';
const region = 'us-central1';
new GoogleProvider(stack, 'google', { project, region });

new GcpSpotInferenceService(stack, 'llm', {
  project,
  region,
  // Two L4 machine types over three zones, behind a global external Application Load Balancer.
  instanceTypes: ['g2-standard-8', 'g2-standard-12'],
  zones: [`${region}-a`, `${region}-b`, `${region}-c`],
  minCapacity: 2,
  maxCapacity: 8,
  onDemandBaseCapacity: 1, // one standard VM keeps serving whatever spot does
  servingPort: 8000,
  sourceImage: 'projects/deeplearning-platform-release/global/images/family/common-cu124-ubuntu-2204',
  bootCommands: ['docker run -d --restart=always --gpus all -p 8000:8000 vllm/vllm-openai:latest --model Qwen/Qwen2.5-1.5B-Instruct'],
});
app.synth();
