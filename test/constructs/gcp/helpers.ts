// Shared fixtures of the Google Cloud construct tests (not a test file itself).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Testing } from 'cdktf';
import { Construct } from 'constructs';
import { GcpSpotFleetProps } from '../../../constructs/gcp';

const root = join(__dirname, '..', '..', '..');

/** The fleet needs the agent and function bundles: build them once when they are missing. */
export function ensureBundles(): void {
  const agent = join(root, 'dist', 'runtime', 'spot-agent', 'index.js');
  const fn = join(root, 'dist', 'handlers', 'gcp', 'preemption', 'index.js');
  if (!existsSync(agent) || !existsSync(fn)) {
    execFileSync(process.execPath, [join(root, 'scripts', 'build-handlers.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
  }
}

/** A valid fleet: two L4 machine types over three zones, one on-demand VM. */
export function fleetProps(overrides: Partial<GcpSpotFleetProps> = {}): GcpSpotFleetProps {
  return {
    project: 'test-project',
    region: 'us-central1',
    name: 'llm',
    instanceTypes: ['g2-standard-8', 'g2-standard-12'],
    zones: ['us-central1-a', 'us-central1-b', 'us-central1-c'],
    minCapacity: 2,
    desiredCapacity: 3,
    maxCapacity: 8,
    onDemandBaseCapacity: 1,
    ...overrides,
  };
}

/** Synthesize a scope and return the JSON text and the parsed `resource` block. */
export function synth(fn: (scope: Construct) => void): { json: string; resources: Record<string, Record<string, any>> } {
  const json = Testing.synthScope(fn);
  return { json, resources: JSON.parse(json).resource ?? {} };
}

/** The configs of every resource of one Terraform type. */
export function ofType(resources: Record<string, Record<string, any>>, tfType: string): any[] {
  return Object.values(resources[tfType] ?? {});
}

/** The one resource of a type whose logical id contains `part`. */
export function one(resources: Record<string, Record<string, any>>, tfType: string, part: string): any {
  const hits = Object.entries(resources[tfType] ?? {}).filter(([k]) => k.includes(part));
  if (hits.length !== 1) throw new Error(`expected one ${tfType} matching ${part}, found ${hits.map(([k]) => k).join(', ') || 'none'}`);
  return hits[0][1];
}
