import { Cloud } from '../../../lib/spec';
import { AGENT_CONFIG_PATH, AGENT_NODE_OPTIONS, DrainMode, renderAgentInstallScript } from '../../../lib/runtime/agent-config';

test('the install script writes the config, fetches the bundle and starts a systemd unit', () => {
  const script = renderAgentInstallScript({
    config: { cloud: Cloud.AWS, servingPort: 8080, healthPath: '/health', healthPort: 9901, drainBudgetSeconds: 45, drainMode: DrainMode.HEALTH },
    fetchAgentCommands: ['aws s3 cp s3://b/k /opt/spot-agent/spot-agent.js'],
  });
  expect(script).toContain('aws s3 cp s3://b/k /opt/spot-agent/spot-agent.js');
  expect(script).toContain(`cat > ${AGENT_CONFIG_PATH} <<'SPOT_AGENT_CONFIG'`);
  expect(script).toContain('"servingPort": 8080');
  expect(script).toContain('"drainBudgetSeconds": 45');
  expect(script).toContain('ExecStart=/usr/bin/env node /opt/spot-agent/spot-agent.js --config /etc/spot-agent/config.json');
  expect(script).toContain('TimeoutStopSec=50');
  expect(script).toContain('systemctl enable --now spot-agent.service');
  // Distribution Node.js is too old on common GPU images; the script installs Node 22 unless >= 20 is there.
  expect(script).toContain(`process.versions.node.split(".")[0] >= 20`);
  expect(script).toContain('https://deb.nodesource.com/setup_22.x');
});

test('the unit runs the agent lean (no JIT, small young generation) and does not restart it after a clean drain', () => {
  const script = renderAgentInstallScript({
    config: { cloud: Cloud.GCP, servingPort: 8080, healthPath: '/health', healthPort: 9901, drainBudgetSeconds: 10, drainMode: DrainMode.HEALTH },
    fetchAgentCommands: [],
  });
  expect(script).toContain(`Environment="NODE_OPTIONS=${AGENT_NODE_OPTIONS}"`);
  expect(AGENT_NODE_OPTIONS).toBe('--jitless --max-semi-space-size=1');
  expect(script).toContain('Restart=on-failure');
  expect(script).not.toContain('Restart=always');
});
