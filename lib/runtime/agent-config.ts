import { Cloud } from '../spec/clouds';

/**
 * How the agent tells the inference server to stop taking new work.
 * - `health`: the agent serves the health endpoint the load balancer probes (proxying the server's own
 *   health while all is well) and flips it to 503 on a notice. Works with any server, no code change.
 * - `http`: POST to the server's own drain endpoint.
 * - `signal`: send a signal (default SIGTERM) to the server's process.
 */
export enum DrainMode {
  HEALTH = 'health',
  HTTP = 'http',
  SIGNAL = 'signal',
}

/** Port the agent serves the load-balancer health endpoint on (DrainMode.HEALTH). */
export const DEFAULT_AGENT_HEALTH_PORT = 9901;
/** Where constructs install the agent bundle and its config on an instance. */
export const AGENT_INSTALL_DIR = '/opt/spot-agent';
export const AGENT_CONFIG_PATH = '/etc/spot-agent/config.json';

/**
 * The agent's configuration file (`/etc/spot-agent/config.json`), written by the constructs' user data /
 * startup scripts and read by `spot-agent --config <file>`. Plain JSON: the constructs render it from the
 * FleetSpec; the agent reads it at start.
 */
export interface AgentConfig {
  /** Which cloud's interruption notice to watch. */
  readonly cloud: Cloud;
  /** Port of the local inference server. */
  readonly servingPort: number;
  /** Health path of the inference server (proxied in DrainMode.HEALTH). */
  readonly healthPath: string;
  /** Port the agent serves the health endpoint on, in DrainMode.HEALTH. */
  readonly healthPort: number;
  /** Seconds the server gets to finish in-flight requests after a notice (capped by the notice). */
  readonly drainBudgetSeconds: number;
  /** How the agent makes the server stop taking work. */
  readonly drainMode: DrainMode;
  /** DrainMode.HTTP: URL to POST to. Default `http://127.0.0.1:<servingPort>/drain`. */
  readonly drainUrl?: string;
  /** DrainMode.SIGNAL: signal name. Default SIGTERM. */
  readonly drainSignal?: string;
  /** DrainMode.SIGNAL: file holding the server's PID. */
  readonly pidFile?: string;
  /** Shell command run after draining (e.g. upload a checkpoint). */
  readonly hookCommand?: string;
  /** Override of the metadata endpoint (tests only; never set on real instances). */
  readonly metadataEndpoint?: string;
  /** Seconds between metadata polls (AWS, Azure). Default 1 on Azure, 2 on AWS. */
  readonly pollIntervalSeconds?: number;
  /** AWS: complete the terminate lifecycle action when the instance is in Terminating:Wait. */
  readonly lifecycleHookName?: string;
  /** AWS: the Auto Scaling group name, for completing the lifecycle action. */
  readonly autoScalingGroupName?: string;
}

/** Inputs of {@link renderAgentInstallScript}. */
export interface AgentInstallOptions {
  readonly config: AgentConfig;
  /**
   * Shell commands that place the agent bundle (`dist/runtime/spot-agent/index.js`) at
   * `${AGENT_INSTALL_DIR}/spot-agent.js`, e.g. `aws s3 cp s3://bucket/key /opt/spot-agent/spot-agent.js`.
   */
  readonly fetchAgentCommands: string[];
}

/**
 * The bash that installs the agent on an instance and starts it as a systemd unit. Every cloud's
 * constructs put it in their user data / startup script, so the three stay the same.
 */
export function renderAgentInstallScript(options: AgentInstallOptions): string {
  const config = JSON.stringify(options.config, null, 2);
  return [
    '# --- spot-agent: watches the interruption notice and drains the inference server ---',
    `mkdir -p ${AGENT_INSTALL_DIR} $(dirname ${AGENT_CONFIG_PATH})`,
    'if ! command -v node >/dev/null 2>&1; then',
    '  (command -v apt-get >/dev/null && apt-get update -y && apt-get install -y nodejs) ||',
    '  (command -v dnf >/dev/null && dnf install -y nodejs) ||',
    '  (command -v yum >/dev/null && yum install -y nodejs)',
    'fi',
    ...options.fetchAgentCommands,
    `cat > ${AGENT_CONFIG_PATH} <<'SPOT_AGENT_CONFIG'`,
    config,
    'SPOT_AGENT_CONFIG',
    "cat > /etc/systemd/system/spot-agent.service <<'SPOT_AGENT_UNIT'",
    '[Unit]',
    'Description=spot-agent: drain the inference server before a spot interruption',
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    `ExecStart=/usr/bin/env node ${AGENT_INSTALL_DIR}/spot-agent.js --config ${AGENT_CONFIG_PATH}`,
    'Restart=always',
    'RestartSec=1',
    // The agent needs the whole notice to drain: systemd must not kill it early on shutdown.
    `TimeoutStopSec=${Math.max(30, options.config.drainBudgetSeconds + 5)}`,
    'KillSignal=SIGTERM',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    'SPOT_AGENT_UNIT',
    'systemctl daemon-reload',
    'systemctl enable --now spot-agent.service',
    '# --- end spot-agent ---',
  ].join('\n');
}
