// What `cdk synth --strict` refuses, checked on a synthesized cloud assembly: every warning annotation (metadata
// entries of type aws:cdk:warning) of every stack, nested assemblies (stages) included. Used by synth-all.mjs, so
// `npm run synth` fails on an AWS example that would fail `cdk synth --strict`.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Warnings of the cloud assembly in `dir`, as `path: message` lines. */
export function assemblyWarnings(dir) {
  const manifestFile = join(dir, 'manifest.json');
  if (!existsSync(manifestFile)) return [];
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
  const found = [];
  for (const artifact of Object.values(manifest.artifacts ?? {})) {
    if (artifact.type === 'cdk:cloud-assembly' && artifact.properties?.directoryName) {
      found.push(...assemblyWarnings(join(dir, artifact.properties.directoryName)));
    }
    // aws-cdk-lib 2.2xx writes a stack's metadata to a file of its own (additionalMetadataFile).
    const metadata = { ...(artifact.metadata ?? {}) };
    if (artifact.additionalMetadataFile) {
      Object.assign(metadata, JSON.parse(readFileSync(join(dir, artifact.additionalMetadataFile), 'utf8')));
    }
    for (const [path, entries] of Object.entries(metadata)) {
      for (const entry of entries) {
        if (entry.type === 'aws:cdk:warning') found.push(`${path}: ${typeof entry.data === 'string' ? entry.data : JSON.stringify(entry.data)}`);
      }
    }
  }
  return found;
}

if (process.argv[1] && process.argv[1].endsWith('strict-check.mjs')) {
  const dirs = process.argv.slice(2);
  const warnings = dirs.flatMap((d) => assemblyWarnings(d));
  for (const w of warnings) console.error(`warning: ${w}`);
  if (warnings.length > 0) {
    console.error(`${warnings.length} warning(s): cdk synth --strict would fail`);
    process.exit(1);
  }
  console.log(`no warnings in ${dirs.join(', ')}`);
}
