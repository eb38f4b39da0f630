/**
 * Lambda entry of the AWS on-demand fallback controller, bundled by `scripts/build-handlers.mjs` into
 * `dist/handlers/aws/fallback/index.js` (handler `index.handler`). Settings come from the environment
 * the `OnDemandFallback` construct sets.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { makeFallbackHandler, useSpotGroupDimensionOnly } from './fallback';
import { FALLBACK_METRICS_NAMESPACE, FALLBACK_SERVICE_NAME, fallbackSettingsFromEnv } from './fallback-settings';

const settings = fallbackSettingsFromEnv(process.env);
const logger = new Logger({
  serviceName: FALLBACK_SERVICE_NAME,
  persistentKeys: { autoScalingGroupName: settings.spotGroupName, fallbackGroupName: settings.fallbackGroupName },
});
const metrics = useSpotGroupDimensionOnly(new Metrics({ namespace: FALLBACK_METRICS_NAMESPACE, serviceName: FALLBACK_SERVICE_NAME }), settings.spotGroupName);
const clientConfig = { maxAttempts: 3 };

export const handler = makeFallbackHandler({
  settings,
  logger,
  metrics,
  autoscaling: new AutoScalingClient(clientConfig),
  ec2: new EC2Client(clientConfig),
  ssm: new SSMClient(clientConfig),
});
