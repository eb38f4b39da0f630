import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

test('the core entry point loads no IaC library and no cloud SDK', () => {
  const script = `
    require('./lib/index.ts');
    const loaded = Object.keys(require.cache).filter((p) => /node_modules\\/(aws-cdk-lib|cdktf|constructs|@cdktf|@aws-sdk|@azure|@google-cloud|google-auth-library)\\//.test(p));
    console.log(JSON.stringify(loaded));
  `;
  const out = execFileSync(join(root, 'node_modules', '.bin', 'tsx'), ['-e', script], { cwd: root, encoding: 'utf8' });
  expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual([]);
});

test('the core entry point exports the spec, the policy, the planner and the runtime', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const core = require('../../lib');
  for (const name of ['resolveFleetSpec', 'FleetSpecError', 'decideFallback', 'renderAgentInstallScript', 'QueueWorker', 'runShard', 'drainHttpServer', 'watchInterruptions']) {
    expect(core[name]).toBeDefined();
  }
});
