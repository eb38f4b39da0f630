import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { AGENT_INSTALL_DIR, AgentConfig, renderAgentInstallScript } from '../../lib/runtime/agent-config';
import { prebuiltBundlePath } from '../../lib/runtime/bundles';
import { FleetSpecError, FleetSpecErrorCode } from '../../lib/spec';

/**
 * Azure's limit on custom data: the base64 string the scale set passes to cloud-init. (The API documents
 * 65,535 bytes for the decoded data; we hold the encoded string to it, the stricter reading.)
 */
export const AZURE_CUSTOM_DATA_MAX_CHARS = 65535;

/** Where the bundled agent lives inside this package, relative to its root. */
/** The agent bundle under the package's `dist/`. */
export const AGENT_BUNDLE_RELATIVE_PATH = join('runtime', 'spot-agent-portable', 'index.js');

/** Where the agent bundle is installed on a VM. */
export const AGENT_BUNDLE_TARGET = `${AGENT_INSTALL_DIR}/spot-agent.js`;

/**
 * The agent bundle of this package (`dist/runtime/spot-agent-portable/index.js`, the agent without the AWS SDK),
 * under the package root's `dist/` (the same from the sources and from the compiled package).
 */
export function defaultAgentBundlePath(): string {
  return prebuiltBundlePath(AGENT_BUNDLE_RELATIVE_PATH);
}

/** The agent bundle read from disk, and its figures. */
export interface AgentBundle {
  /** Path on the synth machine. */
  readonly path: string;
  /** The bundle. */
  readonly content: Buffer;
  /** SHA-256 of the bundle, hex; checked on the VM before the agent runs. */
  readonly sha256: string;
}

/**
 * Read the agent bundle. Throws `FleetSpecError` (prop `agent.bundlePath`) telling the user to run
 * `npm run build:handlers` when it does not exist.
 */
export function readAgentBundle(path: string): AgentBundle {
  if (!existsSync(path)) {
    throw new FleetSpecError([
      {
        code: FleetSpecErrorCode.AGENT_BUNDLE_MISSING,
        prop: 'agent.bundlePath',
        message: `the spot-agent bundle ${path} does not exist; the VMs need it to watch Scheduled Events and drain: run \`npm run build:handlers\` (it bundles lib/runtime/spot-agent-portable.entry.ts into dist/runtime/spot-agent-portable/index.js) before synth, or set agent.bundlePath`,
      },
    ]);
  }
  const content = readFileSync(path);
  return { path, content, sha256: createHash('sha256').update(content).digest('hex') };
}

/** Commands that place an agent bundle on the VM, and what they cost in custom data. */
export interface AgentFetch {
  /** Shell commands that write the bundle to {@link AGENT_BUNDLE_TARGET} and check its SHA-256. */
  readonly commands: string[];
  /** Bytes of the gzip-compressed bundle carried inline (0 when downloaded). */
  readonly inlineGzipBytes: number;
}

const GZIP_CACHE = new Map<string, Buffer>();

/** Carry the bundle inside the custom data: gzip, base64, unpacked by the script, checked by SHA-256. */
export function inlineAgentFetch(bundle: AgentBundle): AgentFetch {
  // Several fleets in one app share the bundle: compress it once.
  let gz = GZIP_CACHE.get(bundle.sha256);
  if (!gz) {
    gz = gzipSync(bundle.content, { level: 9 });
    GZIP_CACHE.set(bundle.sha256, gz);
  }
  const b64 = gz.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return {
    commands: [
      `base64 -d > ${AGENT_BUNDLE_TARGET}.gz <<'SPOT_AGENT_BUNDLE'`,
      ...lines,
      'SPOT_AGENT_BUNDLE',
      `gunzip -f ${AGENT_BUNDLE_TARGET}.gz`,
      `echo '${bundle.sha256}  ${AGENT_BUNDLE_TARGET}' | sha256sum -c -`,
    ],
    inlineGzipBytes: gz.length,
  };
}

/**
 * Download the bundle from a private blob with the VM's user-assigned managed identity (a token from the
 * instance metadata service for `https://storage.azure.com/`), retrying while the role assignment
 * propagates, then check its SHA-256.
 */
export function blobAgentFetch(options: { blobUrl: string; identityClientId: string; sha256: string }): AgentFetch {
  const tokenUrl = `http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com%2F&client_id=${options.identityClientId}`;
  return {
    commands: [
      'for attempt in $(seq 1 60); do',
      `  token=$(curl -sf -H Metadata:true '${tokenUrl}' | grep -o '"access_token":"[^"]*"' | cut -d '"' -f 4) && [ -n "$token" ] &&`,
      `  curl -sf -H "Authorization: Bearer $token" -H 'x-ms-version: 2021-08-06' -o ${AGENT_BUNDLE_TARGET} '${options.blobUrl}' && break`,
      '  sleep 10',
      'done',
      `echo '${options.sha256}  ${AGENT_BUNDLE_TARGET}' | sha256sum -c -`,
    ],
    inlineGzipBytes: 0,
  };
}

/** Inputs of {@link renderAgentCustomData}. */
export interface AgentCustomDataOptions {
  /** The agent's configuration file. */
  readonly config: AgentConfig;
  /** How the bundle reaches the VM. */
  readonly fetch: AgentFetch;
  /** Commands run after the agent started (e.g. start the inference server). @default - none */
  readonly startupCommands?: string[];
}

/**
 * The cloud-init custom data of a scale set: a bash script that places the agent bundle, writes its
 * config and starts it as a systemd unit (through `renderAgentInstallScript`, shared by every cloud),
 * then runs the user's startup commands.
 */
export function renderAgentCustomData(options: AgentCustomDataOptions): string {
  return [
    '#!/bin/bash',
    // The header keeps its first wording: the custom data of deployed scale sets stays byte for byte the same.
    '# cloud-init custom data rendered by spot-inference-constructs (Azure SpotScaleSetFleet)',
    'set -euo pipefail',
    renderAgentInstallScript({ config: options.config, fetchAgentCommands: options.fetch.commands }),
    ...(options.startupCommands && options.startupCommands.length > 0 ? ['# --- startup commands ---', ...options.startupCommands] : []),
    '',
  ].join('\n');
}

/** Base64 of a script, as `osProfile.customData` takes it. */
export function toCustomData(script: string): string {
  return Buffer.from(script, 'utf8').toString('base64');
}

/** True when the base64 custom data fits Azure's limit. */
export function fitsCustomData(base64: string): boolean {
  return base64.length <= AZURE_CUSTOM_DATA_MAX_CHARS;
}
