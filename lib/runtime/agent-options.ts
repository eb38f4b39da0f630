import { constants as osConstants } from 'node:os';
import { CLOUD_LIMITS, Cloud } from '../spec/clouds';
import { FleetSpecError, FleetSpecErrorCode as C, FleetSpecProblem, ProblemCollector } from '../spec/errors';
import { AGENT_STATE_DIR, AgentConfig, DEFAULT_AGENT_HEALTH_PORT, DrainMode } from './agent-config';
import { DEFAULT_SAFETY_MARGIN_SECONDS } from '../spec/notice';
import { ServerPreset, ServerPresetInfo, presetMetricsUrl, serverPreset } from './server-presets';

/** Default seconds kept free between the end of draining and the notice deadline (defined in lib/spec/notice.ts). */
export { DEFAULT_SAFETY_MARGIN_SECONDS };
/** Default seconds the load balancer needs to notice a failing health endpoint (10 s interval x 2). */
export const DEFAULT_LOAD_BALANCER_DETECTION_SECONDS = 20;
/** Longest poll interval accepted: a slower poll eats too much of a 30 s notice. */
export const MAX_POLL_INTERVAL_SECONDS = 10;

/** An {@link AgentConfig} with every default filled in. */
export interface ResolvedAgentConfig extends AgentConfig {
  readonly pollIntervalSeconds: number;
  readonly safetyMarginSeconds: number;
  readonly loadBalancerDetectionSeconds: number;
  readonly healthHost: string;
  readonly drainSignal: string;
  readonly drainUrl: string;
  readonly drainOnRebalance: boolean;
  readonly drainOnSigterm: boolean;
  readonly serveThroughNotice: boolean;
  readonly server: ServerPreset;
  readonly upstreamHealthPath: string;
  readonly stateDirectory: string;
}

const isPort = (v: unknown, allowZero: boolean) => Number.isInteger(v) && (v as number) >= (allowZero ? 0 : 1) && (v as number) <= 65535;
const isHttpUrl = (v: string) => /^http:\/\/[^/\s]+/.test(v);

/**
 * Check an agent configuration and return every problem found (empty when valid). Messages name the field,
 * the value, the limit and the fix. Constructs can call it at synth on the config they render.
 */
export function validateAgentConfig(config: AgentConfig): FleetSpecProblem[] {
  const v = new ProblemCollector();
  const clouds = Object.values(Cloud) as string[];
  const cloudOk = clouds.includes(config.cloud);
  if (!cloudOk) {
    v.add(C.UNKNOWN_CLOUD, 'cloud', `cloud (${JSON.stringify(config.cloud)}) is not a cloud the agent watches; use one of ${clouds.join(', ')}`);
  }
  if (!isPort(config.servingPort, false)) {
    v.add(C.PORT_RANGE, 'servingPort', `servingPort (${config.servingPort}) must be a port between 1 and 65535: the port the inference server listens on`);
  }
  if (!isPort(config.healthPort, true)) {
    v.add(C.PORT_RANGE, 'healthPort', `healthPort (${config.healthPort}) must be a port between 1 and 65535 (0 picks a free port); the default is ${DEFAULT_AGENT_HEALTH_PORT}`);
  } else if (config.healthPort === config.servingPort) {
    v.add(C.PORT_RANGE, 'healthPort', `healthPort (${config.healthPort}) is the servingPort: the agent and the inference server cannot listen on the same port; use ${DEFAULT_AGENT_HEALTH_PORT} and point the load balancer's health check at it`);
  }
  if (typeof config.healthPath !== 'string' || !config.healthPath.startsWith('/')) {
    v.add(C.HEALTH_CHECK_PATH, 'healthPath', `healthPath (${JSON.stringify(config.healthPath)}) must start with '/', e.g. '/health'`);
  }
  const notice = cloudOk ? CLOUD_LIMITS[config.cloud].noticeSeconds : undefined;
  const budget = config.drainBudgetSeconds;
  if (typeof budget !== 'number' || !(budget > 0)) {
    v.add(C.DRAIN_BUDGET_EXCEEDED, 'drainBudgetSeconds', `drainBudgetSeconds (${budget}) must be more than 0: the seconds in-flight requests get to finish`);
  } else if (notice !== undefined && budget > notice) {
    v.add(
      C.DRAIN_BUDGET_EXCEEDED,
      'drainBudgetSeconds',
      `drainBudgetSeconds (${budget} s) is longer than the ${notice} s ${CLOUD_LIMITS[config.cloud].displayName} notice; lower it to at most ${notice - DEFAULT_SAFETY_MARGIN_SECONDS}`,
    );
  }
  const modes = Object.values(DrainMode) as string[];
  if (!modes.includes(config.drainMode)) {
    v.add(C.AGENT_DRAIN_OPTIONS, 'drainMode', `drainMode (${JSON.stringify(config.drainMode)}) is not a drain mode; use one of ${modes.join(', ')}`);
  }
  if (config.drainMode === DrainMode.SIGNAL && !config.pidFile) {
    v.add(C.AGENT_DRAIN_OPTIONS, 'pidFile', "drainMode 'signal' needs pidFile (the file holding the inference server's PID), e.g. '/run/inference.pid'");
  }
  if (config.drainSignal !== undefined && !(config.drainSignal in osConstants.signals)) {
    v.add(C.AGENT_DRAIN_OPTIONS, 'drainSignal', `drainSignal (${JSON.stringify(config.drainSignal)}) is not a signal name; use e.g. 'SIGTERM' or 'SIGUSR1'`);
  }
  for (const prop of ['drainUrl', 'idleUrl', 'metadataEndpoint'] as const) {
    const url = config[prop];
    if (url !== undefined && !isHttpUrl(url)) {
      v.add(C.AGENT_DRAIN_OPTIONS, prop, `${prop} (${JSON.stringify(url)}) must be a plain http:// URL (the inference server on loopback, or a metadata service), e.g. 'http://127.0.0.1:${config.servingPort}/drain'`);
    }
  }
  const queue = config.controllerQueue;
  if (queue !== undefined) {
    if (config.cloud !== Cloud.AZURE) {
      v.add(C.AGENT_DRAIN_OPTIONS, 'controllerQueue', `controllerQueue is for Azure (its controller has no eviction event of its own); cloud is ${config.cloud}: leave it out`);
    } else if (typeof queue.url !== 'string' || !/^(https:\/\/[^/\s]+|http:\/\/(127\.0\.0\.1|localhost)(:\d+)?)\/[a-z0-9-]{3,63}$/.test(queue.url)) {
      v.add(C.AGENT_DRAIN_OPTIONS, 'controllerQueue.url', `controllerQueue.url (${JSON.stringify(queue.url)}) must be the queue's https URL, e.g. 'https://spotfb1234.queue.core.windows.net/spot-evictions' (AzureOnDemandFallback.evictionQueueUrl)`);
    }
  }
  const poll = config.pollIntervalSeconds;
  if (poll !== undefined && !(poll > 0 && poll <= MAX_POLL_INTERVAL_SECONDS)) {
    v.add(C.AGENT_POLL_INTERVAL, 'pollIntervalSeconds', `pollIntervalSeconds (${poll}) must be more than 0 and at most ${MAX_POLL_INTERVAL_SECONDS}: a slower poll spends the notice before the agent sees it; use 1 or 2`);
  }
  const margin = config.safetyMarginSeconds;
  if (margin !== undefined && !(margin >= 0 && (notice === undefined || margin < notice))) {
    v.add(C.DRAIN_BUDGET_EXCEEDED, 'safetyMarginSeconds', `safetyMarginSeconds (${margin}) must be 0 or more and below the ${notice ?? '?'} s notice; the default is ${DEFAULT_SAFETY_MARGIN_SECONDS}`);
  }
  const lb = config.loadBalancerDetectionSeconds;
  if (lb !== undefined && !(lb >= 0)) {
    v.add(C.HEALTH_CHECK_RANGE, 'loadBalancerDetectionSeconds', `loadBalancerDetectionSeconds (${lb}) must be 0 or more: health check interval x unhealthy threshold`);
  }
  if (config.hookTimeoutSeconds !== undefined && !(config.hookTimeoutSeconds > 0)) {
    v.add(C.AGENT_DRAIN_OPTIONS, 'hookTimeoutSeconds', `hookTimeoutSeconds (${config.hookTimeoutSeconds}) must be more than 0, or left out to let the hook run until the safety margin before the deadline`);
  }
  if (Boolean(config.lifecycleHookName) !== Boolean(config.autoScalingGroupName)) {
    const missing = config.lifecycleHookName ? 'autoScalingGroupName' : 'lifecycleHookName';
    v.add(C.AGENT_LIFECYCLE_HOOK, missing, `lifecycleHookName and autoScalingGroupName go together (completing a lifecycle action needs both); set ${missing} too, or neither`);
  }
  if (config.lifecycleHookName && cloudOk && config.cloud !== Cloud.AWS) {
    v.add(C.AGENT_LIFECYCLE_HOOK, 'lifecycleHookName', `lifecycleHookName is an AWS Auto Scaling setting but cloud is ${config.cloud}; remove it`);
  }
  for (const flag of ['drainOnRebalance', 'drainOnSigterm', 'serveThroughNotice'] as const) {
    const value = config[flag];
    if (value !== undefined && typeof value !== 'boolean') {
      v.add(C.AGENT_DRAIN_OPTIONS, flag, `${flag} (${JSON.stringify(value)}) must be true or false; leave it out for the default`);
    }
  }
  checkServerPreset(config, notice, v);
  return v.problems;
}

/**
 * When the agent sends SIGTERM to a preset server after a notice: at once in DrainMode.SIGNAL, after the load
 * balancer detection otherwise (the server then refuses new work, so the load balancer must have stopped
 * routing first). Undefined when it does not (no pidFile, or a server without a graceful SIGTERM).
 */
export function serverSigtermOffsetSeconds(config: AgentConfig): number | undefined {
  const info = serverPreset(config.server);
  if (!info || !config.pidFile) return undefined;
  if (config.drainMode === DrainMode.SIGNAL) return 0;
  if (!info.drainsOnSigterm) return undefined;
  const lb = config.loadBalancerDetectionSeconds ?? (config.drainMode === DrainMode.HEALTH ? DEFAULT_LOAD_BALANCER_DETECTION_SECONDS : 0);
  return Math.min(config.drainBudgetSeconds, lb);
}

function checkServerPreset(config: AgentConfig, notice: number | undefined, v: ProblemCollector): void {
  if (config.server === undefined && config.serverShutdownTimeoutSeconds === undefined && config.metricsUrl === undefined && config.upstreamHealthPath === undefined) return;
  const info = serverPreset(config.server);
  if (!info) {
    v.add(C.AGENT_SERVER_PRESET, 'server', `server (${JSON.stringify(config.server)}) is not a server preset; use one of ${Object.values(ServerPreset).join(', ')}`);
    return;
  }
  if (config.metricsUrl !== undefined && !isHttpUrl(config.metricsUrl)) {
    v.add(C.AGENT_SERVER_PRESET, 'metricsUrl', `metricsUrl (${JSON.stringify(config.metricsUrl)}) must be a plain http:// URL of the server's Prometheus metrics, e.g. 'http://127.0.0.1:${config.servingPort}/metrics'`);
  }
  if (config.upstreamHealthPath !== undefined && !config.upstreamHealthPath.startsWith('/')) {
    v.add(C.HEALTH_CHECK_PATH, 'upstreamHealthPath', `upstreamHealthPath (${JSON.stringify(config.upstreamHealthPath)}) must start with '/', e.g. '/health'`);
  }
  const timeout = config.serverShutdownTimeoutSeconds;
  if (timeout !== undefined) {
    if (!info.shutdownTimeoutFlag) {
      const why = info.defaultShutdownTimeoutSeconds !== undefined ? `waits a fixed ${info.defaultShutdownTimeoutSeconds} s` : 'waits until its requests are done';
      v.add(C.AGENT_SERVER_PRESET, 'serverShutdownTimeoutSeconds', `serverShutdownTimeoutSeconds (${timeout}) has no effect: ${info.displayName} has no shutdown timeout flag (on SIGTERM it ${why}; the agent ends the drain at its deadline); leave it out`);
      return;
    }
    if (!(typeof timeout === 'number' && Number.isInteger(timeout) && timeout >= 0)) {
      v.add(C.AGENT_SERVER_PRESET, 'serverShutdownTimeoutSeconds', `serverShutdownTimeoutSeconds (${timeout}) must be a whole number of seconds, 0 or more: the value of ${info.displayName}'s ${info.shutdownTimeoutFlag}`);
      return;
    }
  }
  const offset = serverSigtermOffsetSeconds(config);
  if (offset === undefined || !info.shutdownTimeoutFlag || !(config.drainBudgetSeconds > 0)) return;
  checkShutdownTimeoutFits(config, info, offset, notice, v);
}

function checkShutdownTimeoutFits(config: AgentConfig, info: ServerPresetInfo, offset: number, notice: number | undefined, v: ProblemCollector): void {
  const flag = info.shutdownTimeoutFlag!;
  const timeout = config.serverShutdownTimeoutSeconds ?? info.defaultShutdownTimeoutSeconds ?? 0;
  const fit = Math.floor(config.drainBudgetSeconds - offset);
  const given = config.serverShutdownTimeoutSeconds === undefined ? `${info.displayName}'s default ${flag} ${timeout}` : `serverShutdownTimeoutSeconds (${timeout} s, ${info.displayName}'s ${flag})`;
  const when = offset > 0 ? `the agent sends SIGTERM ${offset} s after the notice (once the load balancer stopped routing: loadBalancerDetectionSeconds)` : 'the agent sends SIGTERM at the notice';
  const cloudNotice = notice !== undefined ? ` inside the ${notice} s ${CLOUD_LIMITS[config.cloud].displayName} notice` : '';
  if (timeout === 0) {
    v.add(
      C.DRAIN_BUDGET_EXCEEDED,
      'serverShutdownTimeoutSeconds',
      `${given}: ${info.displayName} aborts every in-flight request on SIGTERM; start it with ${flag} ${Math.max(1, fit)} and set serverShutdownTimeoutSeconds: ${Math.max(1, fit)} (${when}; drainBudgetSeconds is ${config.drainBudgetSeconds} s${cloudNotice})`,
    );
  } else if (fit < 1) {
    v.add(
      C.DRAIN_BUDGET_EXCEEDED,
      'serverShutdownTimeoutSeconds',
      `${given} cannot fit: ${when} and drainBudgetSeconds is ${config.drainBudgetSeconds} s, which leaves no time for ${info.displayName}'s graceful shutdown; raise drainBudgetSeconds or lower the health check interval x unhealthy threshold`,
    );
  } else if (timeout > fit) {
    v.add(
      C.DRAIN_BUDGET_EXCEEDED,
      'serverShutdownTimeoutSeconds',
      `${given} does not fit the drain budget: ${when} + ${timeout} s = ${offset + timeout} s, longer than drainBudgetSeconds (${config.drainBudgetSeconds} s${cloudNotice}); start ${info.displayName} with ${flag} ${fit} and set serverShutdownTimeoutSeconds: ${fit}`,
    );
  }
}

/** Validate (throwing a {@link FleetSpecError} with every problem) and fill in the defaults. */
export function resolveAgentConfig(config: AgentConfig): ResolvedAgentConfig {
  const problems = validateAgentConfig(config);
  if (problems.length > 0) throw new FleetSpecError(problems, 'spot-agent config');
  const budget = config.drainBudgetSeconds;
  return {
    ...config,
    pollIntervalSeconds: config.pollIntervalSeconds ?? (config.cloud === Cloud.AZURE ? 1 : 2),
    safetyMarginSeconds: config.safetyMarginSeconds ?? DEFAULT_SAFETY_MARGIN_SECONDS,
    loadBalancerDetectionSeconds: Math.min(
      budget,
      config.loadBalancerDetectionSeconds ?? (config.drainMode === DrainMode.HEALTH ? DEFAULT_LOAD_BALANCER_DETECTION_SECONDS : 0),
    ),
    healthHost: config.healthHost ?? '0.0.0.0',
    drainSignal: config.drainSignal ?? 'SIGTERM',
    drainUrl: config.drainUrl ?? `http://127.0.0.1:${config.servingPort}/drain`,
    drainOnRebalance: config.drainOnRebalance ?? false,
    drainOnSigterm: config.drainOnSigterm ?? true,
    serveThroughNotice: config.serveThroughNotice ?? true,
    server: config.server ?? ServerPreset.GENERIC,
    upstreamHealthPath: config.upstreamHealthPath ?? serverPreset(config.server)?.healthPath ?? config.healthPath,
    stateDirectory: config.stateDirectory ?? AGENT_STATE_DIR,
    metricsUrl: config.metricsUrl ?? presetMetricsUrl(serverPreset(config.server)!, config.servingPort),
  };
}
