// Cloud Function (2nd gen, Node.js 22) entry point `handleFallback`, bundled by scripts/build-handlers.mjs into
// dist/handlers/gcp/fallback/index.js. Two Eventarc triggers deliver Pub/Sub CloudEvents to it: the scheduler's
// tick topic (every minute) and the preemption hook's topic (at once on a preemption).
import { GoogleAuth } from 'google-auth-library';
import { jsonLineLogger, PubsubCloudEvent } from './preemption';
import {
  createComputeClient,
  createFallbackMetrics,
  createGcsStateStore,
  fallbackSettingsFromEnv,
  GcpFallbackClients,
  GcpFallbackOutcome,
  GcpFallbackSettings,
  runFallbackController,
} from './fallback';

let settings: GcpFallbackSettings | undefined;
let clients: GcpFallbackClients | undefined;

function init(): { settings: GcpFallbackSettings; clients: GcpFallbackClients } {
  settings ??= fallbackSettingsFromEnv(process.env);
  if (!clients) {
    const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
    const getAccessToken = async (): Promise<string> => {
      const token = await auth.getAccessToken();
      if (!token) throw new Error('no access token from the function service account');
      return token;
    };
    const s = settings;
    clients = {
      compute: createComputeClient({ getAccessToken, project: s.project, region: s.region, endpoint: process.env.COMPUTE_ENDPOINT }),
      state: createGcsStateStore({ getAccessToken, bucket: s.stateBucket, object: s.stateObject, endpoint: process.env.STORAGE_ENDPOINT }),
      metrics: createFallbackMetrics({ getAccessToken, project: s.project, metricType: s.metricType, endpoint: process.env.MONITORING_ENDPOINT }),
      log: jsonLineLogger(),
      now: () => new Date(),
    };
  }
  return { settings, clients };
}

/** The function's entry point (`buildConfig.entryPoint`). */
export async function handleFallback(cloudEvent: PubsubCloudEvent): Promise<GcpFallbackOutcome> {
  const { settings: s, clients: c } = init();
  return runFallbackController(s, c, cloudEvent);
}
