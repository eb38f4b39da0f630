import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';

/** A stand-in agent bundle in a test tmp dir (the real one is built by `npm run build:handlers`). */
export function placeholderAgentBundle(): string {
  const dir = mkdtempSync(join(tmpdir(), 'spot-agent-'));
  const file = join(dir, 'index.js');
  writeFileSync(file, '#!/usr/bin/env node\nconsole.log("spot-agent placeholder");\n');
  return file;
}

export const AGENT_BUNDLE = placeholderAgentBundle();

/** A stack with a VPC of public and private (NAT) subnets over two zones. */
export function stackWithVpc(env?: { account: string; region: string }): { app: App; stack: Stack; vpc: ec2.Vpc } {
  const app = new App();
  const stack = new Stack(app, 'Test', env ? { env } : {});
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  return { app, stack, vpc };
}

export const GPU_TYPES = ['g5.xlarge', 'g6.xlarge', 'g4dn.xlarge', 'g6e.xlarge'];
