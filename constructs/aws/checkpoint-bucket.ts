import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/** What differs between the checkpoint buckets of the queue workers and of batch inference. */
export interface CheckpointBucketOptions {
  /** Customer key; without one, SSE-S3. @default - SSE-S3 */
  readonly encryptionKey?: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
  /** Expiry rules by prefix; the rule that aborts incomplete uploads after 7 days is added. */
  readonly expirations: { readonly id: string; readonly prefix: string; readonly expiration: Duration }[];
}

/** A checkpoint bucket: private, encrypted (KMS with a bucket key, or SSE-S3), TLS only, owner-enforced, expiring. */
export function createCheckpointBucket(scope: Construct, id: string, options: CheckpointBucketOptions): s3.Bucket {
  return new s3.Bucket(scope, id, {
    encryption: options.encryptionKey ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
    encryptionKey: options.encryptionKey,
    bucketKeyEnabled: options.encryptionKey ? true : undefined,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    removalPolicy: options.removalPolicy,
    lifecycleRules: [...options.expirations, { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(7) }],
  });
}
