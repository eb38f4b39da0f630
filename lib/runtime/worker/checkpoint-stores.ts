import type { S3Client } from '@aws-sdk/client-s3';
import { AwsSdkClient } from '../aws-sdk-client';
import { CheckpointStore } from './checkpoint';

type S3Module = typeof import('@aws-sdk/client-s3');
let s3Module: S3Module | undefined;
/** Loaded on first use, so that Google Cloud and Azure users do not need the AWS SDK installed. */
function s3(): S3Module {
  s3Module ??= require('@aws-sdk/client-s3') as S3Module;
  return s3Module;
}

function joinKey(prefix: string | undefined, key: string): string {
  if (!prefix) return key;
  return prefix.endsWith('/') ? `${prefix}${key}` : `${prefix}/${key}`;
}

/** Options of {@link S3CheckpointStore}. */
export interface S3CheckpointStoreOptions {
  /** The S3 client (`new S3Client({})`), injected. */
  readonly client: AwsSdkClient;
  /** Bucket name (BatchInference passes it to jobs as `SPOT_CHECKPOINT_BUCKET`). */
  readonly bucket: string;
  /** Prefix put before every key. @default - none */
  readonly prefix?: string;
}

/** {@link CheckpointStore} on Amazon S3 (`GetObject` / `PutObject`; the job role needs both on the bucket). */
export class S3CheckpointStore implements CheckpointStore {
  constructor(private readonly options: S3CheckpointStoreOptions) {}

  /** The client with the SDK's types (the option is structural so the declarations need no SDK). */
  private get client(): S3Client {
    return this.options.client as S3Client;
  }

  public async get(key: string): Promise<Uint8Array | undefined> {
    const { GetObjectCommand } = s3();
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: joinKey(this.options.prefix, key) }));
      if (!out.Body) return new Uint8Array();
      return await out.Body.transformToByteArray();
    } catch (e) {
      const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404) return undefined;
      throw e;
    }
  }

  public async put(key: string, data: Uint8Array): Promise<void> {
    const { PutObjectCommand } = s3();
    await this.client.send(
      new PutObjectCommand({ Bucket: this.options.bucket, Key: joinKey(this.options.prefix, key), Body: data, ContentType: 'application/json' }),
    );
  }
}

/** The part of `@google-cloud/storage`'s `File` the GCS store uses. */
export interface GcsFileLike {
  save(data: Buffer, options?: { resumable?: boolean; contentType?: string }): Promise<unknown>;
  download(): Promise<[Buffer]>;
}

/** The part of `@google-cloud/storage`'s `Bucket` the GCS store uses (`storage.bucket(name)` fits). */
export interface GcsBucketLike {
  file(name: string): GcsFileLike;
}

/** Options of {@link GcsCheckpointStore}. */
export interface GcsCheckpointStoreOptions {
  /** The bucket: `new Storage().bucket(name)` from `@google-cloud/storage` (any object of that shape). */
  readonly bucket: GcsBucketLike;
  /** Prefix put before every key. @default - none */
  readonly prefix?: string;
}

/** {@link CheckpointStore} on Google Cloud Storage, through a structural bucket (no SDK dependency here). */
export class GcsCheckpointStore implements CheckpointStore {
  constructor(private readonly options: GcsCheckpointStoreOptions) {}

  public async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const [data] = await this.options.bucket.file(joinKey(this.options.prefix, key)).download();
      return new Uint8Array(data);
    } catch (e) {
      if ((e as { code?: number | string }).code === 404 || (e as { code?: number | string }).code === '404') return undefined;
      throw e;
    }
  }

  public async put(key: string, data: Uint8Array): Promise<void> {
    // Checkpoints are small: a single-request upload is faster and has no resumable session to clean up.
    await this.options.bucket.file(joinKey(this.options.prefix, key)).save(Buffer.from(data), { resumable: false, contentType: 'application/json' });
  }
}

/** The part of `@azure/storage-blob`'s `BlockBlobClient` the Blob store uses. */
export interface AzureBlockBlobLike {
  upload(body: Buffer, contentLength: number, options?: { blobHTTPHeaders?: { blobContentType?: string } }): Promise<unknown>;
  downloadToBuffer(): Promise<Buffer>;
}

/** The part of `@azure/storage-blob`'s `ContainerClient` the Blob store uses. */
export interface AzureContainerLike {
  getBlockBlobClient(name: string): AzureBlockBlobLike;
}

/** Options of {@link AzureBlobCheckpointStore}. */
export interface AzureBlobCheckpointStoreOptions {
  /** The container: `blobServiceClient.getContainerClient(name)` from `@azure/storage-blob` (any object of that shape). */
  readonly container: AzureContainerLike;
  /** Prefix put before every key. @default - none */
  readonly prefix?: string;
}

/** {@link CheckpointStore} on Azure Blob Storage, through a structural container client (no SDK dependency here). */
export class AzureBlobCheckpointStore implements CheckpointStore {
  constructor(private readonly options: AzureBlobCheckpointStoreOptions) {}

  public async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const data = await this.options.container.getBlockBlobClient(joinKey(this.options.prefix, key)).downloadToBuffer();
      return new Uint8Array(data);
    } catch (e) {
      const err = e as { statusCode?: number; code?: string };
      if (err.statusCode === 404 || err.code === 'BlobNotFound') return undefined;
      throw e;
    }
  }

  public async put(key: string, data: Uint8Array): Promise<void> {
    const body = Buffer.from(data);
    await this.options.container
      .getBlockBlobClient(joinKey(this.options.prefix, key))
      .upload(body, body.length, { blobHTTPHeaders: { blobContentType: 'application/json' } });
  }
}
