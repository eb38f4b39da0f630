/**
 * Lambda entry of the AWS drain handler, bundled by `scripts/build-handlers.mjs` into
 * `dist/handlers/aws/drain/index.js` (handler `index.handler`). Settings come from the environment
 * the `InterruptionHandler` construct sets.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { makeDrainHandler } from './drain';
import { DRAIN_METRICS_NAMESPACE, DRAIN_SERVICE_NAME, drainSettingsFromEnv } from './drain-settings';

const settings = drainSettingsFromEnv(process.env);
const logger = new Logger({ serviceName: DRAIN_SERVICE_NAME, persistentKeys: { autoScalingGroupName: settings.autoScalingGroupName } });
const metrics = new Metrics({
  namespace: DRAIN_METRICS_NAMESPACE,
  serviceName: DRAIN_SERVICE_NAME,
  defaultDimensions: { AutoScalingGroupName: settings.autoScalingGroupName },
});
const clientConfig = { maxAttempts: 3 };

export const handler = makeDrainHandler({
  settings,
  logger,
  metrics,
  autoscaling: new AutoScalingClient(clientConfig),
  elbv2: new ElasticLoadBalancingV2Client(clientConfig),
});
