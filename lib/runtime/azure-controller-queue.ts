import { EVICTION_MESSAGE_TYPE, EvictionMessage } from '../spec/eviction-message';
import { InterruptionEvent } from './events';

import { httpRequest, sleep } from './http';
import { Logger } from './log';

/**
 * Azure has no eviction event a controller can subscribe to in time (the activity log is minutes late; Resource
 * Health's Event Grid topic is subscription-wide and in preview), but every VM sees its own `Preempt` scheduled event
 * at least 30 s ahead. The agent posts it to a Storage queue whose trigger runs the fallback controller at once, as
 * AWS's EventBridge rule and Google Cloud's preemption topic do. The VM authenticates with its managed identity
 * (a token for `https://storage.azure.com/` from the instance metadata service); the identity holds Storage Queue
 * Data Message Sender on that one queue (AzureOnDemandFallback grants it).
 */

/** Where the agent posts its `Preempt` notices. */
export interface ControllerQueueConfig {
  /** The queue's URL, e.g. `https://spotfb1234.queue.core.windows.net/spot-evictions`. */
  readonly url: string;
  /** Client id of the VM's user-assigned identity that may send to the queue. @default - the VM's only identity */
  readonly identityClientId?: string;
}

/** Queue service REST version (OAuth needs 2017-11-09 or later). */
export const QUEUE_API_VERSION = '2021-08-06';
/** Seconds a message lives: after the VM is gone a controller run on it tells nothing new. */
export const EVICTION_MESSAGE_TTL_SECONDS = 300;

/** Options of {@link postEvictionNotice}. */
export interface PostEvictionOptions {
  readonly queue: ControllerQueueConfig;
  /** The instance metadata service (tests: a loopback server). */
  readonly metadataEndpoint: string;
  readonly event: InterruptionEvent;
  readonly log: Logger;
  /** Tries in all (token and post). @default 3 */
  readonly attempts?: number;
  /** Milliseconds before the first retry; doubles. @default 1000 */
  readonly retryDelayMs?: number;
  /** Milliseconds one request may take. @default 3000 */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** The queue message body: `<QueueMessage>` with the JSON base64-encoded, as the Functions queue trigger reads it. */
export function evictionMessageBody(message: EvictionMessage): string {
  return `<QueueMessage><MessageText>${Buffer.from(JSON.stringify(message), 'utf8').toString('base64')}</MessageText></QueueMessage>`;
}

/**
 * Post one `Preempt` notice to the controller's queue, retrying a failed token or post (throttling, a role assignment
 * still propagating) a few times within the notice. Never throws: the drain does not depend on it, and the
 * controller's timer runs anyway. Resolves true once the queue accepted the message.
 */
export async function postEvictionNotice(o: PostEvictionOptions): Promise<boolean> {
  const attempts = o.attempts ?? 3;
  const timeoutMs = o.timeoutMs ?? 3000;
  const message: EvictionMessage = {
    type: EVICTION_MESSAGE_TYPE,
    vmName: o.event.instanceId,
    ...(o.event.eventId ? { eventId: o.event.eventId } : {}),
    deadline: o.event.deadline.toISOString(),
    detectedAt: o.event.detectedAt.toISOString(),
  };
  const url = `${o.queue.url.replace(/\/+$/, '')}/messages?messagettl=${EVICTION_MESSAGE_TTL_SECONDS}`;
  let delay = o.retryDelayMs ?? 1000;
  let lastError = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const token = await storageToken(o.metadataEndpoint, o.queue.identityClientId, timeoutMs, o.signal);
      const res = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'x-ms-version': QUEUE_API_VERSION, 'content-type': 'application/xml' },
        body: evictionMessageBody(message),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      if (res.status === 201) {
        o.log.info('Preempt notice posted to the fallback controller\'s queue', { queue: o.queue.url, vmName: message.vmName, eventId: message.eventId, attempt });
        return true;
      }
      lastError = `queue answered ${res.status}: ${text.slice(0, 200)}`;
      // 4xx other than throttling will not heal within the notice (no role on the queue, wrong URL): stop.
      if (res.status >= 400 && res.status < 500 && res.status !== 429 && res.status !== 403) break;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (o.signal?.aborted || attempt === attempts) break;
    await sleep(delay, o.signal).catch(() => undefined);
    delay *= 2;
  }
  o.log.warn('could not post the Preempt notice to the fallback controller\'s queue; its timer still runs within a minute', { queue: o.queue.url, vmName: message.vmName, eventId: message.eventId, error: lastError });
  return false;
}

/** A token for Azure Storage from the instance metadata service, with the given identity. */
async function storageToken(endpoint: string, clientId: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<string> {
  const query = `api-version=2018-02-01&resource=${encodeURIComponent('https://storage.azure.com/')}${clientId ? `&client_id=${encodeURIComponent(clientId)}` : ''}`;
  const res = await httpRequest(`${endpoint.replace(/\/+$/, '')}/metadata/identity/oauth2/token?${query}`, { headers: { Metadata: 'true' }, timeoutMs, signal });
  if (res.status !== 200) throw new Error(`identity token: metadata service answered ${res.status}: ${res.body.slice(0, 200)}`);
  let token: unknown;
  try {
    token = (JSON.parse(res.body) as { access_token?: unknown }).access_token;
  } catch {
    throw new Error(`identity token: answer is not JSON: ${res.body.slice(0, 80)}`);
  }
  if (typeof token !== 'string' || token.length === 0) throw new Error('identity token: answer has no access_token');
  return token;
}
