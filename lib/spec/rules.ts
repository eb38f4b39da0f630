import { FleetSpecErrorCode as C, FleetSpecProblem } from './errors';

/**
 * Cross-cloud rules every renderer (AWS, Google Cloud, Azure) applies the same way: names checked against the
 * cloud's catalogue with a "did you mean" suggestion, one accelerator kind per fleet, at least two zones, and enum
 * props that arrive as plain strings (a JavaScript caller, a cast, a value read from a config file).
 *
 * Each rule returns the problems it found (empty when none) so a construct collects them with
 * `ProblemCollector.addAll` and reports everything wrong with one props object at once.
 */

/** How a rule treats values it cannot know yet. */
export interface RuleOptions {
  /**
   * Tells a deploy-time token (CDK or CDKTF) from a real value. Tokens are not checked.
   * @default - every value is taken as known
   */
  readonly isUnresolved?: (value: unknown) => boolean;
}

/**
 * What a cloud knows about its own instance type (AWS), machine type (Google Cloud) or VM size (Azure) names,
 * offline. Each cloud's constructs pass theirs to {@link checkInstanceTypeNames} and {@link checkOneAccelerator}.
 */
export interface IInstanceTypeCatalog {
  /** The cloud, as messages name it (`AWS`, `Google Cloud`, `Azure`). */
  readonly cloudName: string;
  /** What the cloud calls the thing (`instance type`, `machine type`, `VM size`). */
  readonly typeNoun: string;
  /**
   * Why `name` is not one of the cloud's types, ending in a suggestion where one is close
   * (`no family g9; did you mean g5.xlarge?`); `undefined` when the name is valid.
   */
  explainUnknown(name: string): string | undefined;
  /**
   * The accelerator a valid type carries, as messages name it (`NVIDIA GPU`, `AMD GPU`, `AWS Neuron`), or
   * `undefined` for a CPU-only type.
   */
  acceleratorOf(name: string): string | undefined;
}

/** A tolerant edit distance (optimal string alignment: insert, delete, replace, swap two neighbours), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const d: number[][] = [];
  for (let i = 0; i <= s.length; i++) {
    d.push([i]);
  }
  for (let j = 1; j <= t.length; j++) {
    d[0][j] = j;
  }
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) {
        best = Math.min(best, d[i - 2][j - 2] + 1);
      }
      d[i][j] = best;
    }
  }
  return d[s.length][t.length];
}

/**
 * The candidates closest to `value`: those at the smallest edit distance (at most `max`, in the candidates' order),
 * or none when nothing is close: a candidate counts as close within a third of the value's length (at least 1, at
 * most 3 edits).
 */
export function suggestNames(value: string, candidates: Iterable<string>, max = 3): string[] {
  const limit = Math.min(3, Math.max(1, Math.floor(value.length / 3)));
  const scored: { name: string; distance: number; order: number }[] = [];
  let order = 0;
  for (const name of candidates) {
    const distance = editDistance(value, name);
    if (distance <= limit && name !== value) {
      scored.push({ name, distance, order: order++ });
    }
  }
  if (scored.length === 0) return [];
  const best = Math.min(...scored.map((s) => s.distance));
  return scored.filter((s) => s.distance === best).slice(0, max).map((s) => s.name);
}

/** `did you mean a?`, `did you mean a or b?`, `did you mean a, b or c?`; empty when there is no suggestion. */
export function didYouMean(suggestions: readonly string[]): string {
  if (suggestions.length === 0) return '';
  if (suggestions.length === 1) return `did you mean ${suggestions[0]}?`;
  return `did you mean ${suggestions.slice(0, -1).join(', ')} or ${suggestions[suggestions.length - 1]}?`;
}

/**
 * Every instance type name the cloud does not have, one problem each (`UNKNOWN_INSTANCE_TYPE`), with the catalogue's
 * reason and suggestion. Whether a valid type is offered in a given region or zone is not known offline and is not
 * checked: the cloud refuses it at deploy.
 */
export function checkInstanceTypeNames(
  prop: string,
  types: readonly string[] | undefined,
  catalog: IInstanceTypeCatalog,
  options: RuleOptions = {},
): FleetSpecProblem[] {
  const unresolved = options.isUnresolved ?? (() => false);
  if (!types || unresolved(types)) return [];
  const problems: FleetSpecProblem[] = [];
  for (const name of types) {
    if (unresolved(name) || typeof name !== 'string') continue;
    const why = catalog.explainUnknown(name);
    if (why !== undefined) {
      problems.push({
        code: C.UNKNOWN_INSTANCE_TYPE,
        prop,
        message: `${prop}: "${name}" is not ${article(catalog.cloudName)} ${catalog.cloudName} ${catalog.typeNoun} (${why})`,
      });
    }
  }
  return problems;
}

/**
 * One accelerator kind per fleet (`MIXED_ACCELERATORS`): a fleet boots one machine image with one driver, so GPU
 * and CPU-only types, or GPUs of two makers, cannot share it. Types the catalogue does not know are left to
 * {@link checkInstanceTypeNames}.
 */
export function checkOneAccelerator(
  prop: string,
  types: readonly string[] | undefined,
  catalog: IInstanceTypeCatalog,
  options: RuleOptions = {},
): FleetSpecProblem[] {
  const unresolved = options.isUnresolved ?? (() => false);
  if (!types || unresolved(types)) return [];
  const kinds = new Map<string, string[]>();
  for (const name of types) {
    if (unresolved(name) || typeof name !== 'string' || catalog.explainUnknown(name) !== undefined) continue;
    const kind = catalog.acceleratorOf(name) ?? 'no accelerator (CPU only)';
    kinds.set(kind, [...(kinds.get(kind) ?? []), name]);
  }
  if (kinds.size < 2) return [];
  const listed = [...kinds.entries()].map(([kind, names]) => `${names.join(', ')}: ${kind}`).join('; ');
  const gpuAndCpu = [...kinds.keys()].some((k) => k.startsWith('no accelerator'));
  const what = gpuAndCpu ? 'GPU (accelerator) and CPU-only types' : 'types with different accelerators';
  return [{
    code: C.MIXED_ACCELERATORS,
    prop,
    message: `${prop} mixes ${what} (${listed}) but a fleet boots one image with one driver; keep types of one kind (e.g. only the GPU types), or split them into one fleet per kind`,
  }];
}

/**
 * At least two zones unless `allowUndiversified` (`TOO_FEW_ZONES`): one zone running out of spot capacity, or
 * going down, must not take the whole fleet. `zones` undefined means "every zone the region or network offers"
 * and passes; an empty list is the spec's own `ZONES` problem. Token entries count as distinct zones.
 */
export function checkZoneCount(
  prop: string,
  zones: readonly string[] | undefined,
  allowUndiversified: boolean | undefined,
  cloudName: string,
  options: RuleOptions = {},
): FleetSpecProblem[] {
  const unresolved = options.isUnresolved ?? (() => false);
  if (allowUndiversified || !zones || unresolved(zones) || zones.length === 0) return [];
  const known = zones.filter((z) => !unresolved(z));
  const distinct = new Set(known).size + (zones.length - known.length);
  if (distinct >= 2) return [];
  const shown = [...new Set(known)].map((z) => `"${z}"`).join(', ');
  return [{
    code: C.TOO_FEW_ZONES,
    prop,
    message: `${prop} has ${distinct} zone (${shown}): ${article(cloudName)} ${cloudName} spot fleet needs at least 2 zones so that one zone running out of spot capacity does not take the whole fleet; list 2 or more zones, leave ${prop} out to use every zone, or set allowUndiversified: true`,
  }];
}

/**
 * A value given for an enum prop (a TypeScript enum, or a class of static members in the jsii style) that is none
 * of its values (`UNKNOWN_ENUM_VALUE`): a JavaScript caller or a cast can pass any string, and the cloud would
 * only refuse it at deploy. `choices` maps each member's name to its value (`{ PRICE_CAPACITY_OPTIMIZED:
 * 'price-capacity-optimized' }`); a TypeScript string enum object is such a map.
 */
export function checkEnumValue(
  prop: string,
  value: unknown,
  enumName: string,
  choices: { readonly [member: string]: unknown },
  options: RuleOptions = {},
): FleetSpecProblem[] {
  const unresolved = options.isUnresolved ?? (() => false);
  if (value === undefined || unresolved(value)) return [];
  // A numeric enum object also maps values back to names; keep the name -> value direction only.
  const members = Object.entries(choices).filter(([name]) => !/^\d+$/.test(name));
  if (members.some(([, v]) => v === value)) return [];
  const shown = typeof value === 'string' ? `"${value}"` : String(value);
  const values = members.map(([, v]) => String(v));
  const suggestion = typeof value === 'string' ? suggestNames(value, values, 1) : [];
  const close = suggestion.length > 0
    ? `; ${didYouMean(suggestion.map((s) => `${enumName}.${members.find(([, v]) => String(v) === s)![0]} ("${s}")`))}`
    : '';
  const all = members.map(([name, v]) => `${enumName}.${name} (${JSON.stringify(v)})`).join(', ');
  return [{
    code: C.UNKNOWN_ENUM_VALUE,
    prop,
    message: `${prop} (${shown}) is not one of the ${enumName} values; use one of ${all}${close}`,
  }];
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}
