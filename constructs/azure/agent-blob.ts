import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment';
import { StorageAccount } from '@cdktf/provider-azurerm/lib/storage-account';
import { StorageBlob } from '@cdktf/provider-azurerm/lib/storage-blob';
import { StorageContainer } from '@cdktf/provider-azurerm/lib/storage-container';
import { AssetType, Fn, TerraformAsset } from 'cdktf';
import { Construct } from 'constructs';
import { readAgentBundle } from './agent-custom-data';
import { AzureResourceOptions } from './network';
import { stableNameHash } from './tokens';

/** Props of {@link AzureAgentBlob}. */
export interface AzureAgentBlobProps extends AzureResourceOptions {
  /** Path of the agent bundle to upload, on the synth machine. */
  readonly agentBundlePath: string;
  /** Principal id of the VMs' managed identity (gets Storage Blob Data Reader on the container only). */
  readonly readerPrincipalId: string;
  /**
   * Name of the storage account (3-24 lower-case letters and digits, unique in Azure).
   * @default - `spotagent` and a hash of the construct path, and of the resource group and region where they are
   * plain strings (a deploy-time value's placeholder changes with the rest of the app, so it is left out)
   */
  readonly storageAccountName?: string;
}

/**
 * Ships the agent bundle as a private blob when it is too large for custom data: a storage account
 * (HTTPS only, TLS 1.2, no anonymous access, infrastructure encryption), a private container, the blob
 * (a Terraform asset), and a Storage Blob Data Reader role assignment for the VMs' identity scoped to
 * that container only. The VMs download it with their managed identity.
 */
export class AzureAgentBlob extends Construct {
  /** The storage account. */
  public readonly storageAccount: StorageAccount;
  /** The private container holding the bundle. */
  public readonly container: StorageContainer;
  /** The bundle blob. */
  public readonly blob: StorageBlob;
  /** The VMs' read access to the container. */
  public readonly roleAssignment: RoleAssignment;
  /** URL of the bundle blob (readable only with the role assignment). */
  public readonly blobUrl: string;
  /** SHA-256 of the bundle, hex (the VMs check it after the download). */
  public readonly bundleSha256: string;

  constructor(scope: Construct, id: string, props: AzureAgentBlobProps) {
    super(scope, id);
    const bundle = readAgentBundle(props.agentBundlePath);
    this.bundleSha256 = bundle.sha256;
    // The name hashes only what is the same on every synth (stableNameHash: tokens count as empty).
    const name = props.storageAccountName ?? `spotagent${stableNameHash(this, [props.resourceGroupName, props.location], '|').slice(0, 15)}`;
    this.storageAccount = new StorageAccount(this, 'Account', {
      name,
      resourceGroupName: props.resourceGroupName,
      location: props.location,
      accountTier: 'Standard',
      accountReplicationType: 'ZRS',
      accountKind: 'StorageV2',
      httpsTrafficOnlyEnabled: true,
      minTlsVersion: 'TLS1_2',
      allowNestedItemsToBePublic: false,
      infrastructureEncryptionEnabled: true,
      defaultToOauthAuthentication: true,
      tags: props.tags,
    });
    this.container = new StorageContainer(this, 'Container', {
      name: 'spot-agent',
      storageAccountId: this.storageAccount.id,
      containerAccessType: 'private',
    });
    const asset = new TerraformAsset(this, 'Bundle', { path: bundle.path, type: AssetType.FILE });
    const blobName = `spot-agent-${bundle.sha256.slice(0, 12)}.js`;
    this.blob = new StorageBlob(this, 'Blob', {
      name: blobName,
      storageAccountName: this.storageAccount.name,
      storageContainerName: this.container.name,
      type: 'Block',
      source: asset.path,
      contentType: 'application/javascript',
    });
    this.roleAssignment = new RoleAssignment(this, 'Reader', {
      scope: this.container.id,
      roleDefinitionName: 'Storage Blob Data Reader',
      principalId: props.readerPrincipalId,
      principalType: 'ServicePrincipal',
    });
    this.blobUrl = Fn.join('', [this.storageAccount.primaryBlobEndpoint, this.container.name, `/${blobName}`]);
  }
}

/** @deprecated use {@link AzureAgentBlob} (the same class: one naming scheme across the clouds, see docs/names.md). */
export const SpotAgentBlob = AzureAgentBlob;
/** @deprecated use {@link AzureAgentBlob}. */
export type SpotAgentBlob = AzureAgentBlob;

/** @deprecated use {@link AzureAgentBlobProps} (one naming scheme across the clouds, see docs/names.md). */
export type SpotAgentBlobProps = AzureAgentBlobProps;
