import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import {
  AzureBlobCheckpointStore,
  AzureContainerLike,
  checkpointKey,
  CheckpointStore,
  GcsBucketLike,
  GcsCheckpointStore,
  InMemoryCheckpointStore,
  loadCheckpoint,
  runShard,
  S3CheckpointStore,
  saveCheckpoint,
  selectShard,
  shardFromEnvironment,
} from '../../../../lib/runtime/worker';

const items = Array.from({ length: 10 }, (_, i) => `item-${i}`);

/** Process that records every item and dies (like a reclaimed instance) at `crashAt`. */
function recorder(done: string[], crashAt?: number) {
  return async (item: string, index: number): Promise<void> => {
    if (index === crashAt) throw new Error('instance reclaimed');
    done.push(item);
  };
}

describe('saveCheckpoint / loadCheckpoint', () => {
  test('round-trip any JSON state under checkpoints/<shardId>.json', async () => {
    const store = new InMemoryCheckpointStore();
    expect(await loadCheckpoint(store, 'job-1/0')).toBeUndefined();
    await saveCheckpoint(store, 'job-1/0', { nextIndex: 3, note: 'ü' });
    expect([...store.objects.keys()]).toEqual(['checkpoints/job-1/0.json']);
    expect(await loadCheckpoint(store, 'job-1/0')).toEqual({ nextIndex: 3, note: 'ü' });
  });

  test('refuses unsafe shard ids and corrupt checkpoints with the fix', async () => {
    expect(() => checkpointKey('../etc')).toThrow(/shardId "..\/etc" must be letters, digits and \. _ = - \//);
    expect(() => checkpointKey('/abs')).toThrow(/no leading "\/"/);
    const store = new InMemoryCheckpointStore();
    await store.put('checkpoints/s.json', new TextEncoder().encode('{not json'));
    await expect(loadCheckpoint(store, 's')).rejects.toThrow(/checkpoint checkpoints\/s.json is not valid JSON .*delete it to restart the shard/);
  });
});

describe('runShard', () => {
  test('a fresh shard processes every item and checkpoints after each', async () => {
    const store = new InMemoryCheckpointStore();
    const done: string[] = [];
    const r = await runShard(items, { store, shardId: 's0', process: recorder(done) });
    expect(r).toEqual({ resumedFrom: 0, processed: 10, skipped: 0, done: true });
    expect(done).toEqual(items);
    expect(store.puts).toBe(10);
    expect(await loadCheckpoint(store, 's0')).toMatchObject({ version: 1, itemCount: 10, nextIndex: 10, done: true });
  });

  test('resume after a reclaim skips completed items: each item completes exactly once', async () => {
    const store = new InMemoryCheckpointStore();
    const done: string[] = [];
    await expect(runShard(items, { store, shardId: 's1', process: recorder(done, 6) })).rejects.toThrow(/instance reclaimed/);
    expect(done).toEqual(items.slice(0, 6));
    expect(await loadCheckpoint(store, 's1')).toMatchObject({ nextIndex: 6, done: false });

    const r = await runShard(items, { store, shardId: 's1', process: recorder(done) }); // the retried job
    expect(r).toEqual({ resumedFrom: 6, processed: 4, skipped: 6, done: true });
    expect(done).toEqual(items);

    const again = await runShard(items, { store, shardId: 's1', process: recorder(done) }); // a third, late retry
    expect(again).toEqual({ resumedFrom: 10, processed: 0, skipped: 10, done: true });
    expect(done).toEqual(items);
  });

  test('with checkpointEvery > 1 only the items after the last checkpoint run again', async () => {
    const store = new InMemoryCheckpointStore();
    const done: string[] = [];
    await expect(runShard(items, { store, shardId: 's2', checkpointEvery: 4, process: recorder(done, 7) })).rejects.toThrow();
    expect(store.puts).toBe(1); // after item 3
    const r = await runShard(items, { store, shardId: 's2', checkpointEvery: 4, process: recorder(done) });
    expect(r.resumedFrom).toBe(4);
    expect(done.filter((d) => d === 'item-5')).toHaveLength(2); // at-least-once between checkpoints
    expect(store.puts).toBe(3); // after items 7 and 9
  });

  test('on the interruption notice the current item finishes, the checkpoint is saved and the shard returns', async () => {
    const store = new InMemoryCheckpointStore();
    const ac = new AbortController();
    const done: string[] = [];
    const r = await runShard(items, {
      store,
      shardId: 's3',
      checkpointEvery: 100,
      signal: ac.signal,
      process: async (item, i) => {
        if (i === 2) ac.abort();
        done.push(item);
      },
    });
    expect(r).toEqual({ resumedFrom: 0, processed: 3, skipped: 0, done: false });
    expect(await loadCheckpoint(store, 's3')).toMatchObject({ nextIndex: 3, done: false });
  });

  test('refuses to resume when the shard input changed', async () => {
    const store = new InMemoryCheckpointStore();
    await runShard(items, { store, shardId: 's4', process: async () => {} });
    await expect(runShard(items.slice(1), { store, shardId: 's4', process: async () => {} })).rejects.toThrow(
      /checkpoint of shard "s4" was written for 10 items but the shard now has 9: the input changed.*delete the checkpoint to start over/,
    );
    await expect(runShard(items, { store, shardId: 's4', checkpointEvery: 0, process: async () => {} })).rejects.toThrow(/checkpointEvery \(0\) must be a whole number, 1 or more/);
  });
});

describe('S3CheckpointStore (aws-sdk-client-mock)', () => {
  const s3Mock = mockClient(S3Client);
  afterEach(() => s3Mock.reset());

  function fakeS3(): Map<string, Uint8Array> {
    const objects = new Map<string, Uint8Array>();
    s3Mock.on(PutObjectCommand).callsFake(async (input) => {
      objects.set(`${input.Bucket}/${input.Key}`, input.Body as Uint8Array);
      return {};
    });
    s3Mock.on(GetObjectCommand).callsFake(async (input) => {
      const data = objects.get(`${input.Bucket}/${input.Key}`);
      if (!data) throw new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } });
      return { Body: { transformToByteArray: async () => data } };
    });
    return objects;
  }

  test('a shard resumes from its checkpoint in S3 and skips completed items', async () => {
    const objects = fakeS3();
    const store = new S3CheckpointStore({ client: new S3Client({ region: 'us-east-1' }), bucket: 'ckpt-bucket', prefix: 'run-7' });
    const done: string[] = [];
    await expect(runShard(items, { store, shardId: 'job/3', process: recorder(done, 4) })).rejects.toThrow();
    const r = await runShard(items, { store, shardId: 'job/3', process: recorder(done) });
    expect(r).toMatchObject({ resumedFrom: 4, processed: 6 });
    expect(done).toEqual(items);
    expect([...objects.keys()]).toEqual(['ckpt-bucket/run-7/checkpoints/job/3.json']);
    expect(s3Mock.commandCalls(PutObjectCommand)[0].args[0].input).toMatchObject({ Bucket: 'ckpt-bucket', Key: 'run-7/checkpoints/job/3.json', ContentType: 'application/json' });
  });

  test('a missing object is no checkpoint; other errors propagate', async () => {
    s3Mock.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'nope', $metadata: {} }));
    const store = new S3CheckpointStore({ client: new S3Client({ region: 'us-east-1' }), bucket: 'b' });
    expect(await store.get('k')).toBeUndefined();
    s3Mock.on(GetObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
    await expect(store.get('k')).rejects.toThrow(/Access Denied/);
  });
});

describe('GcsCheckpointStore and AzureBlobCheckpointStore (structural clients)', () => {
  function fakeGcs(): { bucket: GcsBucketLike; objects: Map<string, Buffer>; saves: unknown[] } {
    const objects = new Map<string, Buffer>();
    const saves: unknown[] = [];
    return {
      objects,
      saves,
      bucket: {
        file: (name) => ({
          save: async (data, options) => {
            saves.push(options);
            objects.set(name, Buffer.from(data));
          },
          download: async () => {
            const d = objects.get(name);
            if (!d) throw Object.assign(new Error(`No such object: ckpt/${name}`), { code: 404 });
            return [d];
          },
        }),
      },
    };
  }

  function fakeBlob(): { container: AzureContainerLike; objects: Map<string, Buffer> } {
    const objects = new Map<string, Buffer>();
    return {
      objects,
      container: {
        getBlockBlobClient: (name) => ({
          upload: async (body, length) => {
            expect(length).toBe(body.length);
            objects.set(name, Buffer.from(body));
          },
          downloadToBuffer: async () => {
            const d = objects.get(name);
            if (!d) throw Object.assign(new Error('The specified blob does not exist.'), { statusCode: 404, code: 'BlobNotFound' });
            return d;
          },
        }),
      },
    };
  }

  const cases: [string, () => { store: CheckpointStore; objects: Map<string, Buffer> }][] = [
    ['GCS', () => {
      const f = fakeGcs();
      return { store: new GcsCheckpointStore({ bucket: f.bucket, prefix: 'batch/' }), objects: f.objects };
    }],
    ['Azure Blob', () => {
      const f = fakeBlob();
      return { store: new AzureBlobCheckpointStore({ container: f.container, prefix: 'batch' }), objects: f.objects };
    }],
  ];

  test.each(cases)('%s: resume skips completed items, missing is undefined', async (_name, make) => {
    const { store, objects } = make();
    expect(await store.get('nothing')).toBeUndefined();
    const done: string[] = [];
    await expect(runShard(items, { store, shardId: 'shard-1', process: recorder(done, 8) })).rejects.toThrow();
    expect([...objects.keys()]).toEqual(['batch/checkpoints/shard-1.json']);
    expect(await runShard(items, { store, shardId: 'shard-1', process: recorder(done) })).toMatchObject({ resumedFrom: 8, processed: 2 });
    expect(done).toEqual(items);
  });

  test('GCS saves in one request (not resumable); other errors propagate', async () => {
    const f = fakeGcs();
    await new GcsCheckpointStore({ bucket: f.bucket }).put('k', new Uint8Array([1]));
    expect(f.saves).toEqual([{ resumable: false, contentType: 'application/json' }]);
    const denied: GcsBucketLike = { file: () => ({ save: async () => undefined, download: async () => Promise.reject(Object.assign(new Error('forbidden'), { code: 403 })) }) };
    await expect(new GcsCheckpointStore({ bucket: denied }).get('k')).rejects.toThrow(/forbidden/);
    const blobDenied: AzureContainerLike = { getBlockBlobClient: () => ({ upload: async () => undefined, downloadToBuffer: async () => Promise.reject(Object.assign(new Error('AuthorizationFailure'), { statusCode: 403 })) }) };
    await expect(new AzureBlobCheckpointStore({ container: blobDenied }).get('k')).rejects.toThrow(/AuthorizationFailure/);
  });
});

describe('shards', () => {
  test('shardFromEnvironment reads AWS Batch, Google Cloud Batch and generic variables', () => {
    expect(shardFromEnvironment({ AWS_BATCH_JOB_ARRAY_INDEX: '3', AWS_BATCH_JOB_ID: 'abc-123:3', SPOT_SHARD_COUNT: '8' })).toEqual({ index: 3, count: 8, jobId: 'abc-123' });
    expect(shardFromEnvironment({ BATCH_TASK_INDEX: '1', BATCH_TASK_COUNT: '4', BATCH_JOB_UID: 'j-1' })).toEqual({ index: 1, count: 4, jobId: 'j-1' });
    expect(shardFromEnvironment({ SHARD_INDEX: '0' })).toEqual({ index: 0, count: undefined, jobId: undefined });
    expect(shardFromEnvironment({ AWS_BATCH_JOB_ARRAY_INDEX: 'x' })).toBeUndefined();
    expect(shardFromEnvironment({})).toBeUndefined();
  });

  test('selectShard splits into contiguous slices that cover every item once', () => {
    const all = Array.from({ length: 10 }, (_, i) => i);
    const parts = [0, 1, 2].map((i) => selectShard(all, i, 3));
    expect(parts).toEqual([[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]);
    expect(selectShard([], 0, 2)).toEqual([]);
    expect(() => selectShard(all, 3, 3)).toThrow(/shard index 3 of 3 is out of range/);
  });
});
