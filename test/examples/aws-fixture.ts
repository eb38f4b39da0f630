import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { SpotInferenceExampleStack } from '../../examples/aws/inference-stack';

/** The example stack as `cdk synth` builds it, on the real agent bundle when it has been built. */
export function exampleStack(): { app: App; stack: SpotInferenceExampleStack } {
  const built = join(__dirname, '..', '..', 'dist', 'runtime', 'spot-agent', 'index.js');
  let agentBundlePath: string | undefined;
  if (!existsSync(built)) {
    agentBundlePath = join(mkdtempSync(join(tmpdir(), 'spot-agent-')), 'index.js');
    writeFileSync(agentBundlePath, 'console.log("spot-agent placeholder");\n');
  }
  const app = new App();
  const stack = new SpotInferenceExampleStack(app, 'SpotInferenceExample', { agentBundlePath });
  return { app, stack };
}
