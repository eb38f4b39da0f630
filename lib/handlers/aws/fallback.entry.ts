/**
 * Lambda entry of the AWS on-demand fallback controller, bundled by `scripts/build-handlers.mjs` into
 * `dist/handlers/aws/fallback/index.js` (handler `index.handler`). Settings come from the environment
 * the `OnDemandFallback` construct sets. No EC2 or SSM client: the one EC2 call and the two SSM calls are
 * signed and sent by `fallback-ec2.ts` (the EC2 client alone was 1 MB of this bundle, the SSM one 207 KiB).
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { RegionalClients, makeFallbackHandler, useSpotGroupDimensionOnly } from './fallback';
import { createEc2LifecycleReader, createSsmParameterStore } from './fallback-ec2';
import { FALLBACK_METRICS_NAMESPACE, FALLBACK_SERVICE_NAME, fallbackSettingsFromEnv } from './fallback-settings';

const settings = fallbackSettingsFromEnv(process.env);
const logger = new Logger({
  serviceName: FALLBACK_SERVICE_NAME,
  persistentKeys: { autoScalingGroupName: settings.spotGroupName, fallbackGroupName: settings.fallbackGroupName },
});
const metrics = useSpotGroupDimensionOnly(new Metrics({ namespace: FALLBACK_METRICS_NAMESPACE, serviceName: FALLBACK_SERVICE_NAME }), settings.spotGroupName);
const clientConfig = { maxAttempts: 3 };

const autoscaling = new AutoScalingClient(clientConfig);
const regional = new Map<string, RegionalClients>();
/** Clients per region, made once per region and kept for the warm container's life. */
function clientsFor(region: string): RegionalClients {
  let c = regional.get(region);
  if (!c) {
    const asg = region === process.env.AWS_REGION ? autoscaling : new AutoScalingClient({ ...clientConfig, region });
    c = { autoscaling: asg, ec2: createEc2LifecycleReader({ region, credentials: () => asg.config.credentials() }) };
    regional.set(region, c);
  }
  return c;
}

export const handler = makeFallbackHandler({
  settings,
  logger,
  metrics,
  autoscaling,
  ssm: createSsmParameterStore({ region: process.env.AWS_REGION ?? '', credentials: () => autoscaling.config.credentials() }),
  clientsFor,
});
