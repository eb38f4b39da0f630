// One spelling per option across the clouds (docs/names.md): bootCommands and agent.bundlePath on AWS; the old
// spellings (userDataCommands, QueueWorkerFleet's agentBundlePath) still work, and both together are refused.
import { App, Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { MultiRegionSpotInferenceService, QueueWorkerFleet, QueueWorkerFleetProps, SpotFleet, SpotFleetProps } from '../../../constructs/aws';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec';
import { AGENT_BUNDLE, GPU_TYPES, stackWithVpc } from './fixtures';

function fleet(overrides: Partial<SpotFleetProps>) {
  const { stack, vpc } = stackWithVpc();
  const f = new SpotFleet(stack, 'Fleet', { vpc, minCapacity: 1, maxCapacity: 6, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE }, ...overrides });
  return { fleet: f, template: Template.fromStack(stack).toJSON() };
}

function workers(overrides: Partial<QueueWorkerFleetProps>) {
  const { stack, vpc } = stackWithVpc();
  new QueueWorkerFleet(stack, 'Workers', {
    vpc, minCapacity: 0, maxCapacity: 4, onDemandBaseCapacity: 0, instanceTypes: GPU_TYPES,
    messageProcessingTime: Duration.seconds(120), acceptableLatency: Duration.minutes(10), ...overrides,
  });
  return Template.fromStack(stack).toJSON();
}

function problemsOf(fn: () => unknown): FleetSpecError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FleetSpecError) return e;
    throw e;
  }
  throw new Error('expected a FleetSpecError');
}

describe('SpotFleet bootCommands', () => {
  test('the commands run at boot after the agent install', () => {
    const { fleet: f } = fleet({ bootCommands: ['echo start-the-server'] });
    const script = f.userData.render();
    expect(script).toContain('echo start-the-server');
    expect(script.indexOf('echo start-the-server')).toBeGreaterThan(script.indexOf('spot-agent.js'));
  });

  test('the deprecated userDataCommands renders the same template', () => {
    expect(fleet({ userDataCommands: ['echo start-the-server'] }).template).toEqual(fleet({ bootCommands: ['echo start-the-server'] }).template);
  });

  test('both spellings are refused: set bootCommands only', () => {
    const e = problemsOf(() => fleet({ bootCommands: ['a'], userDataCommands: ['b'] }));
    expect(e.problems).toContainEqual({
      code: FleetSpecErrorCode.OPTION_CONFLICT,
      prop: 'userDataCommands',
      message: 'bootCommands and userDataCommands are both set; userDataCommands is the deprecated spelling of bootCommands (docs/names.md): set bootCommands only',
    });
  });
});

describe('QueueWorkerFleet bootCommands and agent.bundlePath', () => {
  test('the new names render what the deprecated ones did', () => {
    const current = workers({ bootCommands: ['systemctl start worker'], agent: { bundlePath: AGENT_BUNDLE } });
    const deprecated = workers({ userDataCommands: ['systemctl start worker'], agentBundlePath: AGENT_BUNDLE });
    expect(current).toEqual(deprecated);
    expect(JSON.stringify(current)).toContain('systemctl start worker');
  });

  test('each option given twice is refused, together', () => {
    const e = problemsOf(() => workers({ bootCommands: ['a'], userDataCommands: ['b'], agent: { bundlePath: AGENT_BUNDLE }, agentBundlePath: AGENT_BUNDLE }));
    expect(e.message).toMatch(/bootCommands and userDataCommands are both set; .*set bootCommands only/);
    expect(e.message).toMatch(/agent\.bundlePath and agentBundlePath are both set; .*set agent\.bundlePath only/);
    expect(e.problems.filter((p) => p.code === FleetSpecErrorCode.OPTION_CONFLICT).map((p) => p.prop)).toEqual(['userDataCommands', 'agentBundlePath']);
  });
});

describe('MultiRegionSpotInferenceService bootCommands', () => {
  test('both spellings are refused by the regional fleets', () => {
    expect(() => new MultiRegionSpotInferenceService(new App(), 'Svc', {
      account: '123456789012',
      regions: [{ region: 'us-east-1', zones: ['us-east-1a', 'us-east-1b'] }, { region: 'us-east-2', zones: ['us-east-2a', 'us-east-2b'] }],
      minCapacity: 1, maxCapacity: 4, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES,
      agent: { bundlePath: AGENT_BUNDLE },
      dashboard: false,
      bootCommands: ['a'], userDataCommands: ['b'],
    })).toThrow(/bootCommands and userDataCommands are both set; .*set bootCommands only/);
  });
});
