import { FleetSpecErrorCode } from '../../../lib/spec/errors';
import { AliasedOptions, resolveBootCommands, resolveOptionAlias, withCurrentOptionNames } from '../../../lib/spec/option-aliases';

describe('resolveOptionAlias', () => {
  test('the current name wins alone, the deprecated one is used when it is the only one given', () => {
    expect(resolveOptionAlias({ name: 'namePrefix', value: 'llm', deprecatedName: 'name', deprecatedValue: undefined })).toEqual({ value: 'llm', problems: [] });
    expect(resolveOptionAlias({ name: 'namePrefix', value: undefined, deprecatedName: 'name', deprecatedValue: 'old' })).toEqual({ value: 'old', problems: [] });
    expect(resolveOptionAlias({ name: 'namePrefix', value: undefined, deprecatedName: 'name', deprecatedValue: undefined })).toEqual({ value: undefined, problems: [] });
  });

  test('both given is refused, naming both props and the fix', () => {
    const r = resolveOptionAlias({ name: 'namePrefix', value: 'llm', deprecatedName: 'name', deprecatedValue: 'old' });
    expect(r.problems).toEqual([{
      code: FleetSpecErrorCode.OPTION_CONFLICT,
      prop: 'name',
      message: 'namePrefix and name are both set; name is the deprecated spelling of namePrefix (docs/names.md): set namePrefix only',
    }]);
  });
});

describe('resolveBootCommands', () => {
  test("Google Cloud's one-script spelling becomes a one-element list; an empty script is no command", () => {
    expect(resolveBootCommands(undefined, 'startupScript', 'echo a\necho b').value).toEqual(['echo a\necho b']);
    expect(resolveBootCommands(undefined, 'startupScript', '').value).toEqual([]);
    expect(resolveBootCommands(undefined, 'userDataCommands', ['a', 'b']).value).toEqual(['a', 'b']);
  });

  test('an empty list under both names is still two spellings of one option', () => {
    expect(resolveBootCommands([], 'startupCommands', []).problems[0].message).toMatch(/bootCommands and startupCommands are both set; .*set bootCommands only/);
  });
});

describe('withCurrentOptionNames', () => {
  test('moves every deprecated spelling to its current name and removes it, keeping the other props', () => {
    const r = withCurrentOptionNames({ name: 'llm', startupScript: 'start', agentBundlePath: '/a.js', agent: { drainTimeoutSeconds: 20, bundlePath: undefined }, other: 1 });
    expect(r.problems).toEqual([]);
    expect(r.props).toMatchObject({ namePrefix: 'llm', bootCommands: ['start'], agent: { drainTimeoutSeconds: 20, bundlePath: '/a.js' }, other: 1 });
    expect(r.props.name).toBeUndefined();
    expect(r.props.startupScript).toBeUndefined();
    expect(r.props.agentBundlePath).toBeUndefined();
  });

  test('leaves the agent object alone when no bundle path is given', () => {
    const agent: { drainTimeoutSeconds: number; bundlePath?: string } = { drainTimeoutSeconds: 20 };
    expect(withCurrentOptionNames({ agent }).props.agent).toBe(agent);
    expect(withCurrentOptionNames<AliasedOptions>({}).props.agent).toBeUndefined();
  });

  test('collects one problem per option given twice', () => {
    const r = withCurrentOptionNames({
      bootCommands: ['a'], userDataCommands: ['b'], startupCommands: ['c'],
      namePrefix: 'x', name: 'y',
      agent: { bundlePath: '/new.js' }, agentBundlePath: '/old.js',
    });
    expect(r.problems.map((p) => p.prop)).toEqual(['userDataCommands', 'startupCommands', 'name', 'agentBundlePath']);
    expect(r.problems.every((p) => p.code === FleetSpecErrorCode.OPTION_CONFLICT)).toBe(true);
    expect(r.problems[3].message).toBe('agent.bundlePath and agentBundlePath are both set; agentBundlePath is the deprecated spelling of agent.bundlePath (docs/names.md): set agent.bundlePath only');
    // The current names' values are kept.
    expect(r.props).toMatchObject({ bootCommands: ['a'], namePrefix: 'x', agent: { bundlePath: '/new.js' } });
  });
});
