import { Cloud } from '../spec/clouds';
import { AwsInterruptionWatcher } from './aws-watcher';
import { AzureInterruptionWatcher } from './azure-watcher';
import { InterruptionEvent } from './events';
import { GcpInterruptionWatcher } from './gcp-watcher';
import { Logger, silentLogger } from './log';
import { InterruptionWatcher } from './watcher';

/** Options of {@link watchInterruptions}. */
export interface WatchOptions {
  /** Which cloud's metadata service to watch. */
  readonly cloud: Cloud;
  /** Metadata service base URL (tests and emulators). @default - the cloud's real metadata address */
  readonly metadataEndpoint?: string;
  /** Seconds between polls on AWS and Azure (Google Cloud long-polls). @default - 2 on AWS, 1 on Azure */
  readonly pollIntervalSeconds?: number;
  /** Azure: the VM name events list. @default - read from the instance metadata */
  readonly instanceName?: string;
  /** Stops watching; the iteration then ends. @default - watch until the loop breaks */
  readonly signal?: AbortSignal;
  /** Logger for retries of a flaky metadata service. @default - silent */
  readonly log?: Logger;
  /** A watcher to use instead of the built-in one of `cloud`. @default - built from the options above */
  readonly watcher?: InterruptionWatcher;
}

/** The built-in watcher of a cloud. */
export function createWatcher(options: Omit<WatchOptions, 'signal' | 'log' | 'watcher'>): InterruptionWatcher {
  const pollIntervalMs = options.pollIntervalSeconds === undefined ? undefined : options.pollIntervalSeconds * 1000;
  switch (options.cloud) {
    case Cloud.AWS:
      return new AwsInterruptionWatcher({ endpoint: options.metadataEndpoint, pollIntervalMs });
    case Cloud.GCP:
      return new GcpInterruptionWatcher({ endpoint: options.metadataEndpoint });
    case Cloud.AZURE:
      return new AzureInterruptionWatcher({ endpoint: options.metadataEndpoint, pollIntervalMs, instanceName: options.instanceName });
    default:
      throw new Error(`unknown cloud '${String(options.cloud)}': use aws, gcp or azure`);
  }
}

/**
 * Watches the cloud's interruption notices, yielding one {@link InterruptionEvent} per notice until the
 * signal aborts or the caller breaks out of the loop. Network errors, timeouts and garbage from the metadata
 * service are retried with backoff; they never end the iteration.
 *
 * @example
 * for await (const notice of watchInterruptions({ cloud: Cloud.GCP })) {
 *   if (!notice.advisory) { await drainHttpServer(server, { deadline: notice.deadline }); break; }
 * }
 */
export function watchInterruptions(options: WatchOptions): AsyncIterableIterator<InterruptionEvent> {
  const watcher = options.watcher ?? createWatcher(options);
  const stop = new AbortController();
  const onOuterAbort = () => stop.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) stop.abort();
  const queue: InterruptionEvent[] = [];
  let wake: (() => void) | undefined;
  stop.signal.addEventListener('abort', () => wake?.(), { once: true });
  const running = watcher
    .run({
      signal: stop.signal,
      log: options.log ?? silentLogger,
      emit: (event) => {
        queue.push(event);
        wake?.();
      },
    })
    .catch((err) => (options.log ?? silentLogger).error('interruption watcher stopped unexpectedly', { error: err }));

  const finish = async (): Promise<IteratorResult<InterruptionEvent>> => {
    stop.abort();
    options.signal?.removeEventListener('abort', onOuterAbort);
    await running;
    return { done: true, value: undefined };
  };

  const iterator: AsyncIterableIterator<InterruptionEvent> = {
    async next() {
      while (queue.length === 0 && !stop.signal.aborted) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      if (queue.length > 0) return { done: false, value: queue.shift()! };
      return finish();
    },
    return: finish,
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/**
 * Resolves with the first notice that means the instance goes away (advisory ones such as an AWS rebalance
 * recommendation are skipped), or undefined if the signal aborts first.
 */
export async function waitForInterruption(options: WatchOptions): Promise<InterruptionEvent | undefined> {
  for await (const event of watchInterruptions(options)) {
    if (!event.advisory) return event;
  }
  return undefined;
}
