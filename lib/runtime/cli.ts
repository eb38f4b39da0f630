import { readFileSync } from 'node:fs';
import { CLOUD_LIMITS, Cloud } from '../spec/clouds';
import { FleetSpecError } from '../spec/errors';
import { AgentConfig, AGENT_CONFIG_PATH, DEFAULT_AGENT_HEALTH_PORT, DrainMode } from './agent-config';
import { SpotAgent } from './agent';
import { jsonLogger, LogLevel } from './log';

type FieldType = 'string' | 'number' | 'boolean';

/** The flags `spot-agent` takes: every {@link AgentConfig} field, in kebab case. */
const FIELDS: Record<string, [keyof AgentConfig, FieldType]> = {
  'cloud': ['cloud', 'string'],
  'serving-port': ['servingPort', 'number'],
  'health-path': ['healthPath', 'string'],
  'health-port': ['healthPort', 'number'],
  'health-host': ['healthHost', 'string'],
  'drain-budget-seconds': ['drainBudgetSeconds', 'number'],
  'drain-mode': ['drainMode', 'string'],
  'drain-url': ['drainUrl', 'string'],
  'drain-signal': ['drainSignal', 'string'],
  'pid-file': ['pidFile', 'string'],
  'hook-command': ['hookCommand', 'string'],
  'hook-timeout-seconds': ['hookTimeoutSeconds', 'number'],
  'metadata-endpoint': ['metadataEndpoint', 'string'],
  'poll-interval-seconds': ['pollIntervalSeconds', 'number'],
  'safety-margin-seconds': ['safetyMarginSeconds', 'number'],
  'idle-url': ['idleUrl', 'string'],
  'load-balancer-detection-seconds': ['loadBalancerDetectionSeconds', 'number'],
  'lifecycle-hook-name': ['lifecycleHookName', 'string'],
  'auto-scaling-group-name': ['autoScalingGroupName', 'string'],
  'instance-name': ['instanceName', 'string'],
  'drain-on-rebalance': ['drainOnRebalance', 'boolean'],
  'drain-on-sigterm': ['drainOnSigterm', 'boolean'],
  'server': ['server', 'string'],
  'server-shutdown-timeout-seconds': ['serverShutdownTimeoutSeconds', 'number'],
  'metrics-url': ['metricsUrl', 'string'],
  'upstream-health-path': ['upstreamHealthPath', 'string'],
  'state-directory': ['stateDirectory', 'string'],
};

export const USAGE = `Usage: spot-agent [--config <file>] [--<field> <value> ...]

Watches the cloud's interruption notice (AWS IMDSv2, Google Cloud metadata server, Azure Scheduled Events)
and drains the local inference server before the instance goes away. Logs JSON lines to stdout.

  --config <file>        AgentConfig JSON (constructs write ${AGENT_CONFIG_PATH})
  --log-level <level>    debug | info | warn | error (default info)
  --print-config         print the resolved config and exit
  --help                 this text

Every config field is also a flag and overrides the file:
${Object.keys(FIELDS)
  .map((f) => `  --${f}`)
  .join('\n')}

Without --config, --cloud and --serving-port are enough: health on :${DEFAULT_AGENT_HEALTH_PORT}/health, drain mode
'health', drain budget the cloud's default.`;

/** Parsed command line. */
export interface CliArgs {
  readonly configPath?: string;
  readonly overrides: Record<string, unknown>;
  readonly logLevel: LogLevel;
  readonly help: boolean;
  readonly printConfig: boolean;
}

/** Error of the command line (unknown flag, missing value, unreadable config). */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** Parses `--flag value` / `--flag=value` arguments. */
export function parseArgs(argv: string[]): CliArgs {
  const overrides: Record<string, unknown> = {};
  let configPath: string | undefined;
  let logLevel: LogLevel = 'info';
  let help = false;
  let printConfig = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new CliError(`unexpected argument '${arg}'; flags look like --serving-port 8080 (see --help)`);
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    if (name === 'help') {
      help = true;
      continue;
    }
    if (name === 'print-config') {
      printConfig = true;
      continue;
    }
    const field = FIELDS[name];
    const takesValue = name === 'config' || name === 'log-level' || (field && field[1] !== 'boolean');
    let value: string | undefined = eq > 0 ? arg.slice(eq + 1) : undefined;
    if (value === undefined && takesValue) {
      value = argv[++i];
      if (value === undefined) throw new CliError(`--${name} needs a value`);
    }
    if (name === 'config') configPath = value;
    else if (name === 'log-level') {
      if (!['debug', 'info', 'warn', 'error'].includes(value!)) throw new CliError(`--log-level '${value}' is not one of debug, info, warn, error`);
      logLevel = value as LogLevel;
    } else if (field) {
      const [key, type] = field;
      if (type === 'number') {
        const n = Number(value);
        if (!Number.isFinite(n)) throw new CliError(`--${name} '${value}' is not a number`);
        overrides[key] = n;
      } else if (type === 'boolean') {
        overrides[key] = value === undefined ? true : !['false', '0', 'no'].includes(value.toLowerCase());
      } else overrides[key] = value;
    } else {
      throw new CliError(`unknown flag --${name} (see --help)`);
    }
  }
  return { configPath, overrides, logLevel, help, printConfig };
}

/** The config from the file (if any) with the flags on top and the CLI's defaults under both. */
export function loadAgentConfig(args: CliArgs): AgentConfig {
  let fromFile: Record<string, unknown> = {};
  if (args.configPath) {
    let text: string;
    try {
      text = readFileSync(args.configPath, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read the config file ${args.configPath}: ${(err as Error).message}`);
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new CliError(`the config file ${args.configPath} is not JSON: ${(err as Error).message}`);
    }
  }
  const merged = { ...fromFile, ...args.overrides } as Record<string, unknown>;
  const cloud = merged.cloud as Cloud | undefined;
  if (!cloud) throw new CliError('no cloud: pass --config <file> or --cloud aws|gcp|azure');
  if (merged.servingPort === undefined) throw new CliError('no serving port: pass --config <file> or --serving-port <port>');
  return {
    healthPath: '/health',
    healthPort: DEFAULT_AGENT_HEALTH_PORT,
    drainMode: DrainMode.HEALTH,
    drainBudgetSeconds: CLOUD_LIMITS[cloud]?.defaultDrainBudgetSeconds ?? 10,
    ...merged,
  } as AgentConfig;
}

/** What {@link main} writes to; the defaults are the process's. */
export interface CliIo {
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
}

const processIo: CliIo = {
  stdout: (line) => process.stdout.write(line + '\n'),
  stderr: (line) => process.stderr.write(line + '\n'),
};

/**
 * `spot-agent`: resolves the config, runs the agent until it drained the instance, and returns the exit code
 * (0 drained or stopped, 2 bad command line or config, 1 unexpected failure).
 */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  let config: AgentConfig;
  let args: CliArgs;
  try {
    args = parseArgs(argv);
    if (args.help) {
      io.stdout(USAGE);
      return 0;
    }
    config = loadAgentConfig(args);
  } catch (err) {
    io.stderr(`spot-agent: ${(err as Error).message}`);
    return 2;
  }
  const log = jsonLogger({ sink: io.stdout, level: args.logLevel, base: { agent: 'spot-agent', cloud: config.cloud } });
  let agent: SpotAgent;
  try {
    agent = new SpotAgent(config, { log, handleProcessSignals: true });
  } catch (err) {
    if (err instanceof FleetSpecError) {
      io.stderr(`spot-agent: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (args.printConfig) {
    io.stdout(JSON.stringify(agent.config, null, 2));
    return 0;
  }
  try {
    await agent.start();
  } catch (err) {
    log.error('could not start', { error: (err as Error).message });
    return 1;
  }
  await agent.finished;
  return 0;
}
