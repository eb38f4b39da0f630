// Cloud Function (2nd gen, Node.js 22) entry point `handlePreemption`, bundled by scripts/build-handlers.mjs into
// dist/handlers/gcp/preemption/index.js. Eventarc invokes it with a CloudEvent per Pub/Sub message (the
// functions framework is provided by the runtime, see preemption.package.json).
import { GoogleAuth } from 'google-auth-library';
import {
  createMonitoringClient,
  jsonLineLogger,
  PreemptionClients,
  PreemptionOutcome,
  PreemptionSettings,
  PubsubCloudEvent,
  recordPreemption,
  settingsFromEnv,
} from './preemption';

let settings: PreemptionSettings | undefined;
let clients: PreemptionClients | undefined;

function init(): { settings: PreemptionSettings; clients: PreemptionClients } {
  settings ??= settingsFromEnv(process.env);
  if (!clients) {
    const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/monitoring.write'] });
    clients = {
      metrics: createMonitoringClient({
        endpoint: process.env.MONITORING_ENDPOINT,
        getAccessToken: async () => {
          const token = await auth.getAccessToken();
          if (!token) throw new Error('no access token from the function service account');
          return token;
        },
      }),
      log: jsonLineLogger(),
      now: () => new Date(),
    };
  }
  return { settings, clients };
}

/** The function's entry point (`buildConfig.entryPoint`). */
export async function handlePreemption(cloudEvent: PubsubCloudEvent): Promise<PreemptionOutcome> {
  const { settings: s, clients: c } = init();
  return recordPreemption(cloudEvent, s, c);
}
