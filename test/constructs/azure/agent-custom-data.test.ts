import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  AGENT_BUNDLE_TARGET,
  AZURE_CUSTOM_DATA_MAX_CHARS,
  blobAgentFetch,
  defaultAgentBundlePath,
  fitsCustomData,
  inlineAgentFetch,
  readAgentBundle,
  renderAgentCustomData,
  toCustomData,
} from '../../../constructs/azure/agent-custom-data';
import { DrainMode } from '../../../lib/runtime/agent-config';
import { Cloud, FleetSpecError } from '../../../lib/spec';

const dir = mkdtempSync(join(tmpdir(), 'azure-agent-'));
const path = join(dir, 'agent.js');
writeFileSync(path, 'console.log("agent");\n'.repeat(100));
const config = { cloud: Cloud.AZURE, servingPort: 8080, healthPath: '/health', healthPort: 9901, drainBudgetSeconds: 10, drainMode: DrainMode.HEALTH };

test('the default bundle is the package dist/runtime/spot-agent-portable/index.js (the agent without the AWS SDK)', () => {
  expect(defaultAgentBundlePath()).toBe(join(__dirname, '../../../dist/runtime/spot-agent-portable/index.js'));
});

test('readAgentBundle hashes the bundle and refuses a missing one', () => {
  const bundle = readAgentBundle(path);
  expect(bundle.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(() => readAgentBundle(join(dir, 'missing.js'))).toThrow(FleetSpecError);
  expect(() => readAgentBundle(join(dir, 'missing.js'))).toThrow(/run `npm run build:handlers`/);
});

test('inline delivery carries the gzip-compressed bundle and checks its hash', () => {
  const bundle = readAgentBundle(path);
  const fetch = inlineAgentFetch(bundle);
  expect(fetch.commands[0]).toBe(`base64 -d > ${AGENT_BUNDLE_TARGET}.gz <<'SPOT_AGENT_BUNDLE'`);
  const b64 = fetch.commands.slice(1, fetch.commands.indexOf('SPOT_AGENT_BUNDLE')).join('');
  expect(fetch.commands.slice(1, -4).every((l) => l.length <= 76)).toBe(true);
  expect(gunzipSync(Buffer.from(b64, 'base64')).equals(bundle.content)).toBe(true);
  expect(fetch.inlineGzipBytes).toBe(Buffer.from(b64, 'base64').length);
  expect(fetch.commands.slice(-2)).toEqual([`gunzip -f ${AGENT_BUNDLE_TARGET}.gz`, `echo '${bundle.sha256}  ${AGENT_BUNDLE_TARGET}' | sha256sum -c -`]);
});

test('blob delivery downloads with a managed identity token, retrying, then checks the hash', () => {
  const fetch = blobAgentFetch({ blobUrl: 'https://acct.blob.core.windows.net/spot-agent/a.js', identityClientId: 'cid', sha256: 'ab'.repeat(32) });
  const text = fetch.commands.join('\n');
  expect(text).toContain("curl -sf -H Metadata:true 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com%2F&client_id=cid'");
  expect(text).toContain(`-H "Authorization: Bearer $token" -H 'x-ms-version: 2021-08-06' -o ${AGENT_BUNDLE_TARGET} 'https://acct.blob.core.windows.net/spot-agent/a.js' && break`);
  expect(text).toContain('for attempt in $(seq 1 60); do');
  expect(fetch.commands[fetch.commands.length - 1]).toBe(`echo '${'ab'.repeat(32)}  ${AGENT_BUNDLE_TARGET}' | sha256sum -c -`);
  expect(fetch.inlineGzipBytes).toBe(0);
});

test('the custom data is a bash script: agent install, then the startup commands', () => {
  const script = renderAgentCustomData({ config, fetch: inlineAgentFetch(readAgentBundle(path)), startupCommands: ['echo serve'] });
  expect(script.split('\n').slice(0, 3)).toEqual(['#!/bin/bash', '# cloud-init custom data rendered by spot-inference-constructs (Azure SpotScaleSetFleet)', 'set -euo pipefail']);
  expect(script.indexOf('systemctl enable --now spot-agent.service')).toBeLessThan(script.indexOf('echo serve'));
  expect(Buffer.from(toCustomData(script), 'base64').toString()).toBe(script);
  expect(renderAgentCustomData({ config, fetch: { commands: [], inlineGzipBytes: 0 } })).not.toContain('startup commands');
});

test('the 64 KiB custom data limit', () => {
  expect(AZURE_CUSTOM_DATA_MAX_CHARS).toBe(65535);
  expect(fitsCustomData('A'.repeat(65535))).toBe(true);
  expect(fitsCustomData('A'.repeat(65536))).toBe(false);
});
