import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { App, TerraformStack } from 'cdktf';
import { AzureSpotInferenceService } from 'spot-inference-constructs/azure';

const app = new App();
const stack = new TerraformStack(app, 'spot-inference-azure');
new AzurermProvider(stack, 'azurerm', { features: [{}] });
const rg = new ResourceGroup(stack, 'rg', { name: 'spot-inference', location: 'eastus2' });

new AzureSpotInferenceService(stack, 'llm', {
  resourceGroupName: rg.name,
  location: rg.location,
  namePrefix: 'llm',
  adminSshPublicKey: process.env.SSH_PUBLIC_KEY ?? 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHnDD5lYw8e3z0WcK4m0v9Yj5Vh2v1wqg8cY3QF9xk3P you@example',
  // Two T4 sizes over three zones (a scale set per GPU size, one load balancer).
  instanceTypes: ['Standard_NC4as_T4_v3', 'Standard_NC8as_T4_v3'],
  zones: ['1', '2', '3'],
  minCapacity: 2,
  maxCapacity: 8,
  onDemandBaseCapacity: 1, // one Regular VM keeps serving whatever Spot does
  servingPort: 8000,
  bootCommands: ['docker run -d --restart=always --gpus all -p 8000:8000 vllm/vllm-openai:latest --model Qwen/Qwen2.5-1.5B-Instruct'],
});
app.synth();
