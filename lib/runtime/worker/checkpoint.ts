/**
 * Where batch shards keep their progress: bytes by key. One implementation per storage service
 * (S3, Google Cloud Storage, Azure Blob) plus an in-memory one for tests; all behave the same, so a
 * shard's code does not change between clouds.
 */
export interface CheckpointStore {
  /** The bytes stored under `key`, or undefined when there are none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Store `data` under `key`, replacing what was there. */
  put(key: string, data: Uint8Array): Promise<void>;
}

/** A {@link CheckpointStore} in memory, for tests. */
export class InMemoryCheckpointStore implements CheckpointStore {
  /** Everything stored, by key. */
  public readonly objects = new Map<string, Uint8Array>();
  /** Number of `put` calls. */
  public puts = 0;

  public async get(key: string): Promise<Uint8Array | undefined> {
    const v = this.objects.get(key);
    return v === undefined ? undefined : new Uint8Array(v);
  }

  public async put(key: string, data: Uint8Array): Promise<void> {
    this.puts++;
    this.objects.set(key, new Uint8Array(data));
  }
}

/** Prefix of checkpoint keys (the BatchInference bucket's lifecycle rule expires it). */
export const CHECKPOINT_PREFIX = 'checkpoints/';

/** Key of a shard's checkpoint: `checkpoints/<shardId>.json`. */
export function checkpointKey(shardId: string): string {
  if (!/^[A-Za-z0-9._=-][A-Za-z0-9._=/-]*$/.test(shardId) || shardId.includes('..')) {
    throw new Error(`shardId "${shardId}" must be letters, digits and . _ = - / (no "..", no leading "/"), e.g. "job-42/3"`);
  }
  return `${CHECKPOINT_PREFIX}${shardId}.json`;
}

/** Save a shard's state (any JSON value) as its checkpoint. */
export async function saveCheckpoint(store: CheckpointStore, shardId: string, state: unknown): Promise<void> {
  await store.put(checkpointKey(shardId), new TextEncoder().encode(JSON.stringify(state)));
}

/** The shard's last saved state, or undefined when it never saved one. */
export async function loadCheckpoint<T = unknown>(store: CheckpointStore, shardId: string): Promise<T | undefined> {
  const data = await store.get(checkpointKey(shardId));
  if (data === undefined) return undefined;
  const text = new TextDecoder().decode(data);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`checkpoint ${checkpointKey(shardId)} is not valid JSON (${(e as Error).message}); delete it to restart the shard from the beginning`);
  }
}

/** What {@link runShard} stores as the checkpoint. */
export interface ShardCheckpoint {
  /** Format version. */
  readonly version: 1;
  /** Items in the shard when the checkpoint was written. */
  readonly itemCount: number;
  /** Items 0..nextIndex-1 are done. */
  readonly nextIndex: number;
  /** True once every item is done. */
  readonly done: boolean;
  /** ISO time of the save. */
  readonly updatedAt: string;
}

/** Options of {@link runShard}. */
export interface RunShardOptions<T> {
  /** Where the checkpoint lives. */
  readonly store: CheckpointStore;
  /** Names the shard, e.g. `${jobId}/${arrayIndex}`; see {@link shardFromEnvironment}. */
  readonly shardId: string;
  /** Processes one item. Must be idempotent for the items after the last checkpoint (they may run twice after a reclaim). */
  readonly process: (item: T, index: number, signal: AbortSignal) => Promise<void>;
  /** Save a checkpoint after every this many items. @default 1 */
  readonly checkpointEvery?: number;
  /** Interruption notice: the shard saves its checkpoint after the current item and returns. @default - never */
  readonly signal?: AbortSignal;
}

/** What {@link runShard} did. */
export interface ShardResult {
  /** Index the run started at (0 on a fresh shard). */
  readonly resumedFrom: number;
  /** Items processed in this run. */
  readonly processed: number;
  /** Items skipped because an earlier run had done them. */
  readonly skipped: number;
  /** True when every item of the shard is done. */
  readonly done: boolean;
}

/**
 * Process a shard's items in order, saving progress every `checkpointEvery` items, and resume from the
 * last checkpoint: items an earlier (reclaimed) run finished are skipped. When `signal` aborts, the
 * current item finishes, the checkpoint is saved and the function returns with `done: false`; the retried
 * job (AWS Batch retries on `Host EC2*`) picks up from there. Items after the last checkpoint of a run
 * that was killed without warning are processed again, so `process` must be idempotent for them
 * (write outputs under a key derived from the item).
 */
export async function runShard<T>(items: readonly T[], options: RunShardOptions<T>): Promise<ShardResult> {
  const every = options.checkpointEvery ?? 1;
  if (!(Number.isInteger(every) && every >= 1)) {
    throw new Error(`checkpointEvery (${every}) must be a whole number, 1 or more`);
  }
  const previous = await loadCheckpoint<ShardCheckpoint>(options.store, options.shardId);
  if (previous !== undefined && previous.itemCount !== items.length) {
    throw new Error(
      `checkpoint of shard "${options.shardId}" was written for ${previous.itemCount} items but the shard now has ${items.length}: ` +
        'the input changed, so skipping by position would skip the wrong items; give the shard its old input or delete the checkpoint to start over',
    );
  }
  const start = Math.min(previous?.nextIndex ?? 0, items.length);
  const save = (nextIndex: number): Promise<void> =>
    saveCheckpoint(options.store, options.shardId, {
      version: 1,
      itemCount: items.length,
      nextIndex,
      done: nextIndex >= items.length,
      updatedAt: new Date().toISOString(),
    } satisfies ShardCheckpoint);

  const signal = options.signal ?? new AbortController().signal;
  let i = start;
  let sinceSave = 0;
  while (i < items.length && !signal.aborted) {
    await options.process(items[i], i, signal);
    i++;
    sinceSave++;
    if (sinceSave >= every || i === items.length) {
      await save(i);
      sinceSave = 0;
    }
  }
  if (sinceSave > 0) await save(i);
  if (previous === undefined && items.length === 0) await save(0);
  return { resumedFrom: start, processed: i - start, skipped: start, done: i >= items.length };
}

/** A batch shard's position, as the platform's environment gives it. */
export interface ShardPosition {
  /** 0-based index of this shard (array child). */
  readonly index: number;
  /** Number of shards, when the platform tells it. @default - unknown */
  readonly count?: number;
  /** Id of the parent job, when the platform tells it (for checkpoint keys). @default - unknown */
  readonly jobId?: string;
}

/**
 * This shard's position from the environment: AWS Batch array jobs (`AWS_BATCH_JOB_ARRAY_INDEX`,
 * `AWS_BATCH_JOB_ID` whose part before `:` is the parent), Google Cloud Batch (`BATCH_TASK_INDEX`,
 * `BATCH_TASK_COUNT`, `BATCH_JOB_UID`), or the generic `SHARD_INDEX`/`SPOT_SHARD_COUNT`. Undefined when
 * none is set (not an array job).
 */
export function shardFromEnvironment(env: Record<string, string | undefined> = process.env): ShardPosition | undefined {
  const num = (v: string | undefined): number | undefined => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);
  const count = num(env.SPOT_SHARD_COUNT) ?? num(env.BATCH_TASK_COUNT);
  if (num(env.AWS_BATCH_JOB_ARRAY_INDEX) !== undefined) {
    return { index: num(env.AWS_BATCH_JOB_ARRAY_INDEX)!, count, jobId: env.AWS_BATCH_JOB_ID?.split(':')[0] };
  }
  if (num(env.BATCH_TASK_INDEX) !== undefined) {
    return { index: num(env.BATCH_TASK_INDEX)!, count, jobId: env.BATCH_JOB_UID };
  }
  if (num(env.SHARD_INDEX) !== undefined) {
    return { index: num(env.SHARD_INDEX)!, count, jobId: env.SHARD_JOB_ID };
  }
  return undefined;
}

/** The items of shard `index` of `count`: a contiguous slice, sizes differing by at most one. */
export function selectShard<T>(items: readonly T[], index: number, count: number): T[] {
  if (!(Number.isInteger(count) && count >= 1 && Number.isInteger(index) && index >= 0 && index < count)) {
    throw new Error(`shard index ${index} of ${count} is out of range: count must be 1 or more and index between 0 and count-1`);
  }
  const base = Math.floor(items.length / count);
  const extra = items.length % count;
  const from = index * base + Math.min(index, extra);
  return items.slice(from, from + base + (index < extra ? 1 : 0));
}
