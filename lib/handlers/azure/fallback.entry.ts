// Azure Function (Node.js 22) entry point `fallbackTimer`, bundled by scripts/build-handlers.mjs into
// dist/handlers/azure/fallback/index.js. The AzureOnDemandFallback construct ships it with a `host.json` and a
// `fallback/function.json` (timer trigger, `scriptFile: ../index.js`, `entryPoint: fallbackTimer`). The
// function.json model keeps the bundle self-contained: the v4 `app.timer()` model needs the worker-provided
// `@azure/functions-core` module, which a single-file bundle cannot resolve.
import { ManagedIdentityCredential } from '@azure/identity';
import {
  AzureFallbackClients,
  AzureFallbackOutcome,
  AzureFallbackSettings,
  azureFallbackSettingsFromEnv,
  createArmComputeApi,
  createAzureMonitorMetrics,
  createBlobStateStore,
  readEvictionMessage,
  runAzureFallbackController,
} from './fallback';

let settings: AzureFallbackSettings | undefined;
let clients: AzureFallbackClients | undefined;

/** The Functions host's context (the parts used). */
interface FunctionContext {
  log: ((...args: unknown[]) => void) & { warn?: (...args: unknown[]) => void };
}

function init(context: FunctionContext): { settings: AzureFallbackSettings; clients: AzureFallbackClients } {
  settings ??= azureFallbackSettingsFromEnv(process.env);
  if (!clients) {
    const credential = new ManagedIdentityCredential({ clientId: process.env.AZURE_CLIENT_ID });
    const getToken = async (scope: string): Promise<string> => {
      const token = await credential.getToken(scope);
      if (!token) throw new Error(`no token for ${scope} from the function identity`);
      return token.token;
    };
    const s = settings;
    clients = {
      compute: createArmComputeApi({ getToken, subscriptionId: s.subscriptionId, resourceGroup: s.resourceGroup, endpoint: process.env.ARM_ENDPOINT }),
      state: createBlobStateStore({ getToken, account: s.stateAccount, container: s.stateContainer, blob: s.stateBlob, endpoint: process.env.BLOB_ENDPOINT }),
      metrics: s.metricsRegion && process.env.METRICS_RESOURCE_ID ? createAzureMonitorMetrics({ getToken, region: s.metricsRegion, resourceId: process.env.METRICS_RESOURCE_ID }) : undefined,
      log: (entry) => context.log(JSON.stringify(entry)),
      now: () => new Date(),
    };
  }
  return { settings, clients: { ...clients, log: (entry) => context.log(JSON.stringify(entry)) } };
}

/** The timer function (`entryPoint` in function.json). */
export async function fallbackTimer(context: FunctionContext): Promise<AzureFallbackOutcome> {
  const { settings: s, clients: c } = init(context);
  return runAzureFallbackController(s, c);
}

/**
 * The queue function (`entryPoint` of eviction/function.json): an agent posted a `Preempt` notice, so run the
 * controller now rather than at the next minute. A malformed message is logged and the run goes ahead (a run only
 * reads the fleet; it never trusts the message); several notices at once are several runs, serialised by the state
 * blob's ETag.
 */
export async function fallbackOnEviction(context: FunctionContext, message: unknown): Promise<AzureFallbackOutcome> {
  const { settings: s, clients: c } = init(context);
  const read = readEvictionMessage(message);
  c.log({ level: read.problem ? 'warning' : 'information', message: read.problem ? `spot fallback: eviction message not understood (${read.problem}); running anyway` : `spot fallback: run on the eviction of ${read.vmName}`, fleet: s.fleetName, trigger: 'eviction', ...(read.vmName ? { vmName: read.vmName } : {}), ...(read.eventId ? { eventId: read.eventId } : {}) });
  return runAzureFallbackController(s, c);
}
