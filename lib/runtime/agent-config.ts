import { Cloud } from '../spec/clouds';
import { ServerPreset } from './server-presets';

export { ServerPreset } from './server-presets';

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

/**
 * How the on-instance agent drains the server: the part of every cloud's `agent` prop that is the same on
 * all clouds (each fleet construct extends it with what only it needs).
 */
export interface AgentDrainOptions {
  /**
   * How the agent makes the server stop taking work. With `DrainMode.HEALTH` the load balancer probes the
   * agent, which proxies the server's health and fails it on a notice. Without a load balancer use
   * `DrainMode.SIGNAL` (a worker that stops on SIGTERM) or `DrainMode.HTTP`.
   * @default DrainMode.HEALTH
   */
  readonly drainMode?: DrainMode;
  /** Port the agent serves the health endpoint on. @default - `healthCheck.port` when set apart from the serving port, else 9901 */
  readonly healthPort?: number;
  /** DrainMode.HTTP: URL the agent POSTs to. @default - `http://127.0.0.1:<servingPort>/drain` */
  readonly drainUrl?: string;
  /** DrainMode.SIGNAL: signal sent to the server. @default 'SIGTERM' */
  readonly drainSignal?: string;
  /** DrainMode.SIGNAL: file holding the server's PID (required with DrainMode.SIGNAL). @default - none */
  readonly pidFile?: string;
  /** Shell command run after draining, e.g. upload a checkpoint. @default - none */
  readonly hookCommand?: string;
  /**
   * The inference server behind the agent. A preset sets the health path the agent proxies, finishes the drain
   * as soon as the server's own Prometheus gauges of running and waiting requests are 0, and (with `pidFile`)
   * drains through the server's own graceful shutdown: SIGTERM once the load balancer has stopped routing.
   * @default ServerPreset.GENERIC
   */
  readonly server?: ServerPreset;
  /**
   * Seconds the server waits for in-flight requests on SIGTERM, as you start it (vLLM `--shutdown-timeout`,
   * Triton `--exit-timeout-secs`). Synth refuses a value that does not fit the drain budget after the load
   * balancer detection. Only for presets with such a flag.
   * @default - the server's own default (vLLM 0: aborts at once, Triton 30)
   */
  readonly serverShutdownTimeoutSeconds?: number;
  /** The server's Prometheus metrics. @default - the preset's (`/metrics` on the serving port; Triton `http://127.0.0.1:8002/metrics`) */
  readonly metricsUrl?: string;
  /**
   * Keep serving through an AWS spot interruption or Azure `Preempt` notice: the health endpoint keeps passing
   * and the server keeps taking requests until `noticeDeadline - (drainBudgetSeconds + safety margin)` (AWS
   * 120 - 45 - 5 = 70 s with the defaults; Azure 30 - 10 - 5 = 15 s), then the drain runs as it would have at the
   * notice. On AWS the drain Lambda deregisters the instance at that same moment. Google Cloud's notice is the
   * shutdown itself, so there it always drains at once; a lifecycle termination without a spot notice, an Azure
   * `Terminate` event and SIGTERM drain at once too. Set false to drain at the notice.
   * @default true
   */
  readonly serveThroughNotice?: boolean;
}

/** Port the agent serves the load-balancer health endpoint on (DrainMode.HEALTH). */
export const DEFAULT_AGENT_HEALTH_PORT = 9901;
/** Where constructs install the agent bundle and its config on an instance. */
export const AGENT_INSTALL_DIR = '/opt/spot-agent';
export const AGENT_CONFIG_PATH = '/etc/spot-agent/config.json';
/**
 * Node options the systemd unit runs the agent with: no JIT and a 1 MB young generation keep its peak RSS
 * near 54 MB instead of 63 MB (measured by `npm run bench:agent`); the agent does little work, so speed is
 * irrelevant.
 */
export const AGENT_NODE_OPTIONS = '--jitless --max-semi-space-size=1';

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
  /**
   * Seconds kept free between the end of draining and the moment the cloud takes the instance, for the
   * hook and the acknowledgement. The drain deadline is `min(notice + drainBudgetSeconds, deadline - margin)`.
   * Default 5.
   */
  readonly safetyMarginSeconds?: number;
  /**
   * URL of the inference server that reports its in-flight requests (GET; a number, or JSON with
   * `inFlight`/`in_flight`/`active`, or 200 when idle and 503/429 when busy). With it the agent stops waiting
   * as soon as the server is idle (after `loadBalancerDetectionSeconds`); without it the agent waits the whole
   * drain budget, because it cannot see the requests of an external server. Default none.
   */
  readonly idleUrl?: string;
  /**
   * DrainMode.HEALTH: seconds the load balancer needs to notice the failing health endpoint and stop
   * routing (probe interval x unhealthy threshold). The agent never reports "drained" before this, even
   * if the server is idle. Default 20 (10 s x 2, the FleetSpec health check defaults), capped at the drain
   * budget; 0 in the other modes, where the server itself refuses new work.
   */
  readonly loadBalancerDetectionSeconds?: number;
  /** Address the health endpoint binds to. Default `0.0.0.0` (the load balancer probes from outside). */
  readonly healthHost?: string;
  /** Seconds the `hookCommand` may run. Default: until the safety margin before the notice deadline. */
  readonly hookTimeoutSeconds?: number;
  /** AWS: also drain on a rebalance recommendation (an early, advisory warning). Default false. */
  readonly drainOnRebalance?: boolean;
  /** Treat SIGTERM (ACPI soft-off on Google Cloud, an OS shutdown elsewhere) as a notice. Default true. */
  readonly drainOnSigterm?: boolean;
  /**
   * Keep serving through an AWS spot interruption or Azure `Preempt` notice: the health endpoint keeps passing
   * and the server keeps taking requests until `noticeDeadline - (drainBudgetSeconds + safety margin)` (AWS
   * 120 - 45 - 5 = 70 s with the defaults; Azure 30 - 10 - 5 = 15 s), then the drain runs as it would have at the
   * notice. On AWS the drain Lambda deregisters the instance at that same moment. Google Cloud's notice is the
   * shutdown itself, so there it always drains at once; a lifecycle termination without a spot notice, an Azure
   * `Terminate` event and SIGTERM drain at once too. Set false to drain at the notice.
   * @default true
   */
  readonly serveThroughNotice?: boolean;
  /** Azure: the VM name Scheduled Events list in `Resources`. Default: read from the instance metadata. */
  readonly instanceName?: string;
  /**
   * Azure: a Storage queue the agent posts each `Preempt` notice to, with the VM's managed identity, so the fallback
   * controller runs at once instead of at its next timer run (AzureOnDemandFallback's `evictionQueueUrl`; its queue
   * trigger). A post that fails is logged and changes nothing else. Default: none (the controller's timer only).
   */
  readonly controllerQueue?: { readonly url: string; readonly identityClientId?: string };
  /** The inference server (see {@link AgentDrainOptions.server}). Default GENERIC. */
  readonly server?: ServerPreset;
  /** Seconds the server waits for in-flight requests on SIGTERM (see {@link AgentDrainOptions.serverShutdownTimeoutSeconds}). */
  readonly serverShutdownTimeoutSeconds?: number;
  /** The server's Prometheus metrics URL. Default: the preset's. */
  readonly metricsUrl?: string;
  /** The server's own health path the agent proxies. Default: the preset's, else `healthPath`. */
  readonly upstreamHealthPath?: string;
  /**
   * Directory where the agent keeps a pending notice, so that a restarted agent (SIGKILL, unit restart) keeps
   * failing the health endpoint on a doomed instance. Default `/var/lib/spot-agent` (systemd `StateDirectory`).
   */
  readonly stateDirectory?: string;
}

/** Where the agent keeps its state on an instance (systemd `StateDirectory=spot-agent`). */
export const AGENT_STATE_DIR = '/var/lib/spot-agent';

/** Oldest Node.js major the agent bundle runs on. */
export const AGENT_MIN_NODE_MAJOR = 20;
/** Node.js major the install script installs when the image has none or an older one. */
export const AGENT_NODE_MAJOR = 22;

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
    // The bundle needs Node.js 20+; distributions ship older ones (Ubuntu 22.04: 12, 24.04: 18), so take
    // the NodeSource build unless a recent enough node is already there.
    `if ! node -e 'process.exit(+process.versions.node.split(".")[0] >= ${AGENT_MIN_NODE_MAJOR} ? 0 : 1)' >/dev/null 2>&1; then`,
    `  if command -v apt-get >/dev/null; then curl -fsSL https://deb.nodesource.com/setup_${AGENT_NODE_MAJOR}.x | bash - && apt-get install -y nodejs;`,
    `  elif command -v dnf >/dev/null; then curl -fsSL https://rpm.nodesource.com/setup_${AGENT_NODE_MAJOR}.x | bash - && dnf install -y nodejs;`,
    `  else curl -fsSL https://rpm.nodesource.com/setup_${AGENT_NODE_MAJOR}.x | bash - && yum install -y nodejs; fi`,
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
    `Environment="NODE_OPTIONS=${AGENT_NODE_OPTIONS}"`,
    `ExecStart=/usr/bin/env node ${AGENT_INSTALL_DIR}/spot-agent.js --config ${AGENT_CONFIG_PATH}`,
    // A clean exit means "drained": restarting would drain (and run the hook) a second time.
    'Restart=on-failure',
    'RestartSec=1',
    // The agent needs the whole notice to drain: systemd must not kill it early on shutdown.
    `TimeoutStopSec=${Math.max(30, options.config.drainBudgetSeconds + 5)}`,
    'KillSignal=SIGTERM',
    // A pending notice survives a restart of the agent here (/var/lib/spot-agent).
    'StateDirectory=spot-agent',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    'SPOT_AGENT_UNIT',
    'systemctl daemon-reload',
    'systemctl enable --now spot-agent.service',
    '# --- end spot-agent ---',
  ].join('\n');
}
