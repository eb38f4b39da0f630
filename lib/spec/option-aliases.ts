// One spelling per option across the clouds (docs/names.md). The options that were spelled differently on each cloud
// now have one name everywhere:
//   - boot commands:          `bootCommands: string[]`  (was AWS `userDataCommands`, GCP `startupScript`, Azure `startupCommands`)
//   - the agent bundle:       `agent.bundlePath`        (was GCP / Azure `agentBundlePath`)
//   - the resource-name prefix: `namePrefix`            (was GCP `name`)
// The old spellings still work as deprecated aliases; giving an option under both names is refused (which one would
// win is a guess the user should not have to make). Pure functions: the constructs of every cloud call them.
import { FleetSpecErrorCode, FleetSpecProblem } from './errors';

/** One option and its deprecated spelling, as a construct received them. */
export interface OptionAlias<T> {
  /** The option's name (`bootCommands`). */
  readonly name: string;
  /** Its value under that name. */
  readonly value: T | undefined;
  /** The deprecated spelling (`userDataCommands`). */
  readonly deprecatedName: string;
  /** The value under the deprecated spelling. */
  readonly deprecatedValue: T | undefined;
}

/** What {@link resolveOptionAlias} decided. */
export interface ResolvedOptionAlias<T> {
  /** The value to use: the option's, else the deprecated spelling's. */
  readonly value: T | undefined;
  /** A problem when both spellings were given (code OPTION_CONFLICT), else none. */
  readonly problems: FleetSpecProblem[];
}

/**
 * The value of an option that has a deprecated spelling: the new spelling's, else the old one's; both given is a
 * problem naming both props and the fix ("set bootCommands only").
 */
export function resolveOptionAlias<T>(a: OptionAlias<T>): ResolvedOptionAlias<T> {
  if (a.value !== undefined && a.deprecatedValue !== undefined) {
    return {
      value: a.value,
      problems: [{
        code: FleetSpecErrorCode.OPTION_CONFLICT,
        prop: a.deprecatedName,
        message: `${a.name} and ${a.deprecatedName} are both set; ${a.deprecatedName} is the deprecated spelling of ${a.name} (docs/names.md): set ${a.name} only`,
      }],
    };
  }
  return { value: a.value ?? a.deprecatedValue, problems: [] };
}

/**
 * The boot commands as a list, from `bootCommands` or a deprecated spelling that may be one script (GCP's
 * `startupScript: string`, which becomes a one-element list: the script runs as it did).
 */
export function resolveBootCommands(
  bootCommands: string[] | undefined,
  deprecatedName: string,
  deprecated: string[] | string | undefined,
): ResolvedOptionAlias<string[]> {
  const old = typeof deprecated === 'string' ? (deprecated === '' ? [] : [deprecated]) : deprecated;
  return resolveOptionAlias({ name: 'bootCommands', value: bootCommands, deprecatedName, deprecatedValue: old });
}

/** The options with one name on every cloud, and their deprecated per-cloud spellings, as a props object holds them. */
export interface AliasedOptions {
  /** Boot commands (every cloud). @default - not set */
  readonly bootCommands?: string[];
  /** AWS's deprecated spelling of `bootCommands`. @default - not set */
  readonly userDataCommands?: string[];
  /** Google Cloud's deprecated spelling of `bootCommands` (one script). @default - not set */
  readonly startupScript?: string;
  /** Azure's deprecated spelling of `bootCommands`. @default - not set */
  readonly startupCommands?: string[];
  /** Prefix of the created resources' names (Google Cloud, Azure). @default - not set */
  readonly namePrefix?: string;
  /** Google Cloud's deprecated spelling of `namePrefix`. @default - not set */
  readonly name?: string;
  /** Google Cloud's and Azure's deprecated spelling of `agent.bundlePath`. @default - not set */
  readonly agentBundlePath?: string;
  /** The agent's options; only `bundlePath` is read here. @default - not set */
  readonly agent?: { readonly bundlePath?: string };
}

/** A props object with its options under their current names, and the problems of giving one under two names. */
export interface CurrentOptionNames<P> {
  /** The props with `bootCommands`, `namePrefix` and `agent.bundlePath` set from either spelling, the old ones removed. */
  readonly props: P;
  /** OPTION_CONFLICT for each option given under both names. */
  readonly problems: FleetSpecProblem[];
}

/**
 * Move the deprecated spellings a props object may hold (`userDataCommands`, `startupScript`, `startupCommands`, `name`,
 * `agentBundlePath`) to the current names (`bootCommands`, `namePrefix`, `agent.bundlePath`), so a construct reads one
 * name and hands its props on (to the fleet it composes) without a second spelling. An option given under both names is
 * a problem; the current name's value is kept.
 */
export function withCurrentOptionNames<P extends AliasedOptions>(props: P): CurrentOptionNames<P> {
  const problems: FleetSpecProblem[] = [];
  let boot: string[] | undefined = props.bootCommands;
  for (const [deprecatedName, value] of [['userDataCommands', props.userDataCommands], ['startupScript', props.startupScript], ['startupCommands', props.startupCommands]] as const) {
    const r = resolveBootCommands(boot, deprecatedName, value);
    problems.push(...r.problems);
    boot = r.value;
  }
  const prefix = resolveOptionAlias({ name: 'namePrefix', value: props.namePrefix, deprecatedName: 'name', deprecatedValue: props.name });
  const bundle = resolveOptionAlias({ name: 'agent.bundlePath', value: props.agent?.bundlePath, deprecatedName: 'agentBundlePath', deprecatedValue: props.agentBundlePath });
  problems.push(...prefix.problems, ...bundle.problems);
  const out: P = {
    ...props,
    bootCommands: boot,
    namePrefix: prefix.value,
    userDataCommands: undefined,
    startupScript: undefined,
    startupCommands: undefined,
    name: undefined,
    agentBundlePath: undefined,
    ...(bundle.value !== undefined ? { agent: { ...props.agent, bundlePath: bundle.value } } : {}),
  };
  return { props: out, problems };
}
