// The AWS example's inference stack with the library, fleet and load balancer only (`fleetOnly`): the same
// resources as bench/apps/aws-handwritten.ts, so bench/synth.ts can compare the two.
import { App } from 'aws-cdk-lib';
import { SpotInferenceExampleStack } from '../../examples/aws/inference-stack';

const app = new App();
new SpotInferenceExampleStack(app, 'SpotInferenceExample', { fleetOnly: true });
app.synth();
