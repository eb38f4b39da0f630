import { StorageAccount } from '@cdktf/provider-azurerm/lib/storage-account';
import { Construct } from 'constructs';

/** Where a checkpoint storage account goes, and its name. */
export interface CheckpointStorageAccountOptions {
  /** Resource group of the account. */
  readonly resourceGroupName: string;
  /** Azure region of the account. */
  readonly location: string;
  /** Tags of the account. @default - none */
  readonly tags?: { [key: string]: string };
  /** Globally unique account name (3-24 lower-case letters and digits). */
  readonly name: string;
}

/**
 * The storage account that holds checkpoints of the queue workers and of batch inference: zone-redundant, HTTPS
 * only, TLS 1.2, no shared keys (identities only), no public blobs, infrastructure encryption. One definition, so
 * the two workload patterns cannot drift apart.
 */
export function createCheckpointStorageAccount(scope: Construct, id: string, options: CheckpointStorageAccountOptions): StorageAccount {
  return new StorageAccount(scope, id, {
    resourceGroupName: options.resourceGroupName,
    location: options.location,
    tags: options.tags,
    name: options.name,
    accountTier: 'Standard',
    accountReplicationType: 'ZRS',
    accountKind: 'StorageV2',
    httpsTrafficOnlyEnabled: true,
    minTlsVersion: 'TLS1_2',
    allowNestedItemsToBePublic: false,
    sharedAccessKeyEnabled: false,
    defaultToOauthAuthentication: true,
    infrastructureEncryptionEnabled: true,
  });
}
