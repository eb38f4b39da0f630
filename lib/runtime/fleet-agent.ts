import { Cloud } from '../spec/clouds';
import { FleetSpecError, FleetSpecErrorCode as C, FleetSpecProblem, ProblemCollector } from '../spec/errors';
import { AgentConfig, AgentDrainOptions, DEFAULT_AGENT_HEALTH_PORT, DrainMode } from './agent-config';
import { validateAgentConfig } from './agent-options';
import { ServerPreset, serverPreset } from './server-presets';

/**
 * What a fleet knows when it decides its agent's configuration: the resolved spec values (defaults filled in)
 * and what the fleet itself decided (load balancer, autohealing). The same for every cloud.
 */
export interface FleetAgentContext {
  readonly cloud: Cloud;
  /** The resolved serving port. */
  readonly servingPort: number;
  /** The resolved health check path (what the load balancer probes). */
  readonly healthCheckPath: string;
  /** `healthCheck.port` as the user set it (undefined when left out). */
  readonly healthCheckPort?: number;
  readonly healthCheckIntervalSeconds: number;
  readonly healthCheckUnhealthyThreshold: number;
  /** The resolved drain budget. */
  readonly drainBudgetSeconds: number;
  /** Whether a load balancer routes to the fleet; undefined when the fleet cannot tell (AWS: attached afterwards). */
  readonly loadBalanced?: boolean;
  /** Whether anything probes the agent's health endpoint from outside the instance (load balancer, autohealing). */
  readonly probedFromOutside?: boolean;
  /** Values unknown until deploy (CDK tokens, Terraform variables) are not validated. @default - none is */
  readonly isUnresolved?: (value: unknown) => boolean;
  /** AWS: the terminate lifecycle hook and the group, for completing the lifecycle action. */
  readonly lifecycleHookName?: string;
  readonly autoScalingGroupName?: string;
}

/** The agent as a fleet renders it. */
export interface FleetAgentPlan {
  /** The config file the fleet writes (`/etc/spot-agent/config.json`). */
  readonly config: AgentConfig;
  readonly drainMode: DrainMode;
  /** Port the agent serves its health endpoint on. */
  readonly agentHealthPort: number;
  /** Port the load balancer (and autohealing) probes: the agent's in DrainMode.HEALTH, else the server's. */
  readonly probePort: number;
  /** Every problem of the agent options; empty when valid. */
  readonly problems: FleetSpecProblem[];
}

/** How a field of the agent's config is spelled in a fleet's props. */
const PROP_OF_FIELD: { readonly [field: string]: string } = {
  servingPort: 'servingPort',
  healthPath: 'healthCheck.path',
  drainBudgetSeconds: 'drainBudgetSeconds',
};
const propOf = (field: string): string => PROP_OF_FIELD[field] ?? `agent.${field}`;
/** Fields the fleet spec validates itself: the agent must not report them a second time. */
const SPEC_FIELDS = new Set(['cloud', 'servingPort', 'healthPath', 'drainBudgetSeconds']);

/**
 * The one resolution of a fleet's `agent` options, used by the AWS, Google Cloud and Azure fleets alike (through
 * `planFleet` in lib/spec, which passes the resolved spec and the profile's cloud): fills
 * the defaults, picks the agent's health port and the probed port, derives the load balancer detection from
 * the health check (interval x unhealthy threshold), and checks everything, including `validateAgentConfig`
 * on the config it renders. Problems name the props as the user spelled them (`agent.pidFile`); values that
 * are tokens are skipped. Returns the problems instead of throwing, so a fleet reports them with its own.
 */
export function planFleetAgent(options: AgentDrainOptions, ctx: FleetAgentContext): FleetAgentPlan {
  const unresolved = ctx.isUnresolved ?? (() => false);
  const known = (v: unknown): v is number => typeof v === 'number' && !unresolved(v);
  const v = new ProblemCollector();
  const drainMode = options.drainMode ?? DrainMode.HEALTH;
  const info = serverPreset(options.server);
  const hcPort = ctx.healthCheckPort;
  // DrainMode.HEALTH: the load balancer probes the agent. A healthCheck.port apart from the serving port is
  // where the agent serves; otherwise the agent's default port.
  const agentHealthPort =
    options.healthPort ?? (hcPort !== undefined && !unresolved(hcPort) && !unresolved(ctx.servingPort) && hcPort !== ctx.servingPort ? hcPort : DEFAULT_AGENT_HEALTH_PORT);
  const probePort = drainMode === DrainMode.HEALTH ? agentHealthPort : (hcPort ?? ctx.servingPort);

  if (ctx.loadBalanced === false && drainMode === DrainMode.HEALTH && options.drainMode !== undefined) {
    v.add(C.AGENT_DRAIN_MODE_CONFLICT, 'agent.drainMode', 'agent.drainMode is DrainMode.HEALTH but loadBalanced is false: no load balancer watches the health endpoint, so failing it drains nothing; use DrainMode.SIGNAL (with agent.pidFile) or DrainMode.HTTP');
  }
  if (known(agentHealthPort)) {
    if (!(Number.isInteger(agentHealthPort) && agentHealthPort >= 1 && agentHealthPort <= 65535)) {
      v.add(C.PORT_RANGE, 'agent.healthPort', `agent.healthPort (${agentHealthPort}) must be between 1 and 65535`);
    } else if (known(ctx.servingPort) && agentHealthPort === ctx.servingPort) {
      v.add(C.PORT_RANGE, 'agent.healthPort', `agent.healthPort (${agentHealthPort}) is the serving port; the agent and the inference server cannot share a port: pick another agent.healthPort (default ${DEFAULT_AGENT_HEALTH_PORT})`);
    } else if (drainMode === DrainMode.HEALTH && known(hcPort) && hcPort !== agentHealthPort) {
      v.add(C.PORT_RANGE, 'healthCheck.port', `healthCheck.port (${hcPort}) is not the agent's health port (${agentHealthPort}): in DrainMode.HEALTH the load balancer must probe the agent, which turns the health check to 503 on an interruption notice; leave healthCheck.port out, set it equal to agent.healthPort, or use DrainMode.HTTP or DrainMode.SIGNAL`);
    }
  }
  if (drainMode === DrainMode.SIGNAL && !options.pidFile) {
    v.add(C.AGENT_DRAIN_OPTIONS, 'agent.pidFile', "agent.drainMode is DrainMode.SIGNAL but agent.pidFile is not set: the agent must know which process to signal; set agent.pidFile (e.g. '/run/inference.pid') to the file your server writes its PID to");
  }
  const presetSignals = info?.drainsOnSigterm === true;
  if (drainMode !== DrainMode.SIGNAL && !presetSignals && (options.pidFile !== undefined || options.drainSignal !== undefined)) {
    v.add(
      C.AGENT_DRAIN_MODE_CONFLICT,
      options.pidFile !== undefined ? 'agent.pidFile' : 'agent.drainSignal',
      `agent.pidFile and agent.drainSignal are used only with DrainMode.SIGNAL, but agent.drainMode is ${drainMode} and agent.server is ${options.server ?? ServerPreset.GENERIC}; set agent.drainMode: DrainMode.SIGNAL, set agent.server to the preset of a server that drains on SIGTERM (vllm, sglang, tgi, triton), or leave them out`,
    );
  }
  if (drainMode !== DrainMode.HTTP && options.drainUrl !== undefined) {
    v.add(C.AGENT_DRAIN_MODE_CONFLICT, 'agent.drainUrl', `agent.drainUrl ("${options.drainUrl}") is used only with DrainMode.HTTP, but agent.drainMode is ${drainMode}; set agent.drainMode: DrainMode.HTTP or leave drainUrl out`);
  }
  // Outside DrainMode.HEALTH the load balancer probes the server itself, at healthCheck.path.
  if (info?.healthPath && drainMode !== DrainMode.HEALTH && ctx.probedFromOutside !== false && !unresolved(ctx.healthCheckPath) && ctx.healthCheckPath !== info.healthPath) {
    v.add(C.HEALTH_CHECK_PATH, 'healthCheck.path', `healthCheck.path (${JSON.stringify(ctx.healthCheckPath)}) is not ${info.displayName}'s health path: in DrainMode.${drainMode.toUpperCase()} the load balancer probes the server itself; set healthCheck.path to '${info.healthPath}', or use DrainMode.HEALTH (the agent then proxies '${info.healthPath}')`);
  }

  // The load balancer stops routing after this many seconds of 503 (probe interval x unhealthy threshold).
  let loadBalancerDetectionSeconds = 0;
  if (drainMode === DrainMode.HEALTH && ctx.loadBalanced !== false) {
    const interval = ctx.healthCheckIntervalSeconds;
    const threshold = ctx.healthCheckUnhealthyThreshold;
    if (known(interval) && known(threshold)) {
      loadBalancerDetectionSeconds = interval * threshold;
    } else {
      const which = known(interval) ? 'healthCheck.unhealthyThreshold' : 'healthCheck.intervalSeconds';
      v.add(C.HEALTH_CHECK_RANGE, which, `${which} is a value known only at deploy time, but the agent needs healthCheck.intervalSeconds x healthCheck.unhealthyThreshold as a number at synth (how long the load balancer takes to stop routing to a draining instance); give both as literal numbers`);
    }
  }

  const config: AgentConfig = {
    cloud: ctx.cloud,
    servingPort: ctx.servingPort,
    healthPath: ctx.healthCheckPath,
    healthPort: agentHealthPort,
    drainBudgetSeconds: ctx.drainBudgetSeconds,
    drainMode,
    ...(options.drainUrl !== undefined ? { drainUrl: options.drainUrl } : {}),
    ...(options.drainSignal !== undefined ? { drainSignal: options.drainSignal } : {}),
    ...(options.pidFile !== undefined ? { pidFile: options.pidFile } : {}),
    ...(options.hookCommand !== undefined ? { hookCommand: options.hookCommand } : {}),
    ...(options.server !== undefined ? { server: options.server } : {}),
    ...(options.serverShutdownTimeoutSeconds !== undefined ? { serverShutdownTimeoutSeconds: options.serverShutdownTimeoutSeconds } : {}),
    ...(options.metricsUrl !== undefined ? { metricsUrl: options.metricsUrl } : {}),
    // Rendered only when off, so that default templates do not change.
    ...(options.serveThroughNotice === false ? { serveThroughNotice: false } : {}),
    loadBalancerDetectionSeconds,
    // Nothing probes from outside: keep the health endpoint on loopback.
    ...(ctx.probedFromOutside === false ? { healthHost: '127.0.0.1' } : {}),
    ...(ctx.lifecycleHookName !== undefined ? { lifecycleHookName: ctx.lifecycleHookName } : {}),
    ...(ctx.autoScalingGroupName !== undefined ? { autoScalingGroupName: ctx.autoScalingGroupName } : {}),
  };

  // Whatever else the agent itself would refuse at boot, refused here at synth, named as the fleet's props.
  const seen = new Set(v.problems.map((p) => p.prop));
  const fieldValue = (field: string): unknown => (config as unknown as { [k: string]: unknown })[field];
  for (const p of validateAgentConfig(config)) {
    if (SPEC_FIELDS.has(p.prop) || p.prop === 'healthPort' || unresolved(fieldValue(p.prop))) continue;
    if (p.prop === 'lifecycleHookName' || p.prop === 'autoScalingGroupName') continue; // the fleet's own names
    const prop = propOf(p.prop);
    if (seen.has(prop)) continue;
    seen.add(prop);
    v.add(p.code, prop, p.message.replace(new RegExp(`^${p.prop}\\b`), prop).replace(new RegExp(`\\bset ${p.prop}\\b`, 'g'), `set ${prop}`));
  }
  return { config, drainMode, agentHealthPort, probePort, problems: v.problems };
}

/** {@link planFleetAgent}, throwing a {@link FleetSpecError} with every problem. */
export function resolveFleetAgent(options: AgentDrainOptions, ctx: FleetAgentContext, scope?: string): FleetAgentPlan {
  const plan = planFleetAgent(options, ctx);
  if (plan.problems.length > 0) throw new FleetSpecError(plan.problems, scope);
  return plan;
}
