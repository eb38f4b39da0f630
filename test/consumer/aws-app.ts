import { App, CfnOutput, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { SpotInferenceService } from 'spot-inference-constructs/aws';

const app = new App();
const stack = new Stack(app, 'SpotInference');
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });

const service = new SpotInferenceService(stack, 'Llm', {
  vpc,
  // Two GPU types over the VPC's two zones: one spot pool running dry does not take the fleet.
  instanceTypes: ['g6.xlarge', 'g5.xlarge'],
  minCapacity: 2,
  maxCapacity: 8,
  onDemandBaseCapacity: 1, // one on-demand instance keeps serving whatever spot does
  servingPort: 8000,
  // The default image (AWS Deep Learning AMI) has the NVIDIA driver and Docker.
  bootCommands: [
    'docker run -d --restart=always --gpus all -p 8000:8000 vllm/vllm-openai:latest --model Qwen/Qwen2.5-1.5B-Instruct',
  ],
});
new CfnOutput(stack, 'Url', { value: service.url });
app.synth();
