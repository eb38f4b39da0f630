// The rule codes reach the user from the real constructs and functions (not only from FleetSpecError
// built by hand), and lib/ and constructs/aws no longer hand out the broad codes themselves.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { InferenceLoadBalancer, InterruptionHandler, SpotFleet, SpotFleetProps } from '../../../constructs/aws';
import { AgentConfig, DrainMode } from '../../../lib/runtime/agent-config';
import { resolveAgentConfig } from '../../../lib/runtime/agent-options';
import { Cloud } from '../../../lib/spec/clouds';
import { FleetSpecError, FleetSpecErrorCode } from '../../../lib/spec/errors';
import { validateRegionList } from '../../../lib/spec/global-routing';
import { tsFilesUnder } from '../../architecture/import-graph';
import { AGENT_BUNDLE, GPU_TYPES, stackWithVpc } from '../../constructs/aws/fixtures';

const C = FleetSpecErrorCode;
const AGENT: AgentConfig = { cloud: Cloud.AWS, servingPort: 8080, healthPath: '/health', healthPort: 9901, drainBudgetSeconds: 10, drainMode: DrainMode.HEALTH };

function thrown(build: () => unknown): FleetSpecError {
  try {
    build();
  } catch (e) {
    if (e instanceof FleetSpecError) return e;
    throw e;
  }
  throw new Error('expected a FleetSpecError');
}

function fleet(extra: Partial<SpotFleetProps> = {}): { stack: Stack; fleet: SpotFleet } {
  const { stack, vpc } = stackWithVpc();
  return { stack, fleet: new SpotFleet(stack, 'Fleet', { vpc, minCapacity: 1, maxCapacity: 4, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE }, ...extra }) };
}

/** Each case: what is built, the rule code it must fail with, and the message it names. */
const CASES: Array<[string, () => unknown, FleetSpecErrorCode, RegExp]> = [
  ['SpotFleet: more types than a mixed instances policy takes', () => fleet({ instanceTypes: Array.from({ length: 41 }, (_, i) => `g5.${i + 1}xlarge`) }), C.AWS_TOO_MANY_OVERRIDES, /instanceTypes lists 41 types but a mixed instances policy takes at most 40 overrides/],
  ['SpotFleet: metadata hop limit', () => fleet({ metadataHopLimit: 0 }), C.AWS_METADATA_HOP_LIMIT, /metadataHopLimit \(0\) must be a whole number from 1 to 64/],
  ['SpotFleet: lifecycle hook heartbeat', () => fleet({ terminationHook: { heartbeatTimeout: Duration.seconds(10) } }), C.AWS_LIFECYCLE_HOOK, /terminationHook.heartbeatTimeout \(10 s\) must be from 30 s to 7200 s/],
  ['SpotFleet.fromAutoScalingGroup: no security group', () => {
    const stack = new Stack(new App(), 'S', { env: { account: '123456789012', region: 'us-east-1' } });
    SpotFleet.fromAutoScalingGroup(stack, 'F', {
      autoScalingGroup: autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'G', 'g'),
      vpc: ec2.Vpc.fromVpcAttributes(stack, 'V', { vpcId: 'vpc-1', availabilityZones: ['us-east-1a'] }),
      securityGroups: [],
    });
  }, C.AWS_SECURITY_GROUPS, /securityGroups is empty, so no load balancer could be admitted/],
  ['InferenceLoadBalancer: no client CIDR', () => {
    const f = fleet();
    new InferenceLoadBalancer(f.stack, 'Lb', { fleet: f.fleet, allowedClientCidrs: [] });
  }, C.CLIENT_CIDRS, /allowedClientCidrs is empty, so no client could reach the service/],
  ['InterruptionHandler: no group', () => {
    const stack = new Stack(new App(), 'S', { env: { account: '123456789012', region: 'us-east-1' } });
    new InterruptionHandler(stack, 'H', {});
  }, C.AWS_DRAIN_TARGET, /neither fleet nor autoScalingGroup is set, so there is no group to drain/],
  ['InterruptionHandler: notice longer than the AWS notice', () => {
    const f = fleet();
    new InterruptionHandler(f.stack, 'H', { fleet: f.fleet, notice: Duration.seconds(300) });
  }, C.NOTICE_LENGTH, /notice \(300 s\) must be between 1 and 120 s, the AWS spot notice/],
  ['agent config: poll interval', () => resolveAgentConfig({ ...AGENT, pollIntervalSeconds: 30 }), C.AGENT_POLL_INTERVAL, /pollIntervalSeconds \(30\) must be more than 0 and at most 10/],
  ['agent config: unknown drain mode', () => resolveAgentConfig({ ...AGENT, drainMode: 'kill' as DrainMode }), C.AGENT_DRAIN_OPTIONS, /drainMode \("kill"\) is not a drain mode/],
  ['region list: a region twice', () => {
    const problems = validateRegionList([{ region: 'us-east-1' }, { region: 'us-east-1' }]);
    if (problems.length > 0) throw new FleetSpecError(problems, 'regions');
  }, C.REGION_LIST, /regions lists us-east-1 more than once/],
];

describe('rule codes from the real constructs', () => {
  test.each(CASES)('%s', (_name, build, code, message) => {
    const e = thrown(build);
    const problem = e.problems.find((p) => p.code === code);
    expect(problem).toBeDefined();
    expect(problem!.message).toMatch(message);
    // The message line of the problem ends with its rule code.
    expect(e.message.split('\n').some((l) => message.test(l) && l.endsWith(`[${code}]`))).toBe(true);
    // Code that matched the broad code before keeps matching.
    expect(e.hasCode(FleetSpecError.familyOf(code))).toBe(true);
    expect([C.CLOUD_CONSTRAINT, C.WORKLOAD]).toContain(FleetSpecError.familyOf(code));
  });
});

describe('no broad code handed out directly', () => {
  // The broad codes are families now: a problem names its rule. Folders listed here are converted; a new
  // check there picks (or adds, in lib/spec/errors.ts with its family) the code of its rule.
  const CONVERTED = ['lib', 'constructs/aws', 'constructs/gcp', 'constructs/azure'];
  const BROAD_USE = /FleetSpecErrorCode\.(CLOUD_CONSTRAINT|WORKLOAD)\b|\bC\.(CLOUD_CONSTRAINT|WORKLOAD)\b/;

  test.each(CONVERTED)('%s uses rule codes only', (dir) => {
    const offenders = tsFilesUnder(dir)
      .filter((f) => f !== 'lib/spec/errors.ts')
      .flatMap((f) =>
        readFileSync(join(__dirname, '..', '..', '..', f), 'utf8')
          .split('\n')
          .map((line, i) => ({ f, i, line }))
          .filter(({ line }) => BROAD_USE.test(line) && !/^\s*(\/\/|\*)/.test(line))
          .map(({ f, i, line }) => `${f}:${i + 1}: ${line.trim().slice(0, 100)}`),
      );
    expect(offenders).toEqual([]);
  });

  test('every rule code is used by a rule (no code without a check)', () => {
    const source = CONVERTED.flatMap(tsFilesUnder)
      .filter((f) => f !== 'lib/spec/errors.ts')
      .map((f) => readFileSync(join(__dirname, '..', '..', '..', f), 'utf8'))
      .join('\n');
    const unused = (Object.values(FleetSpecErrorCode) as FleetSpecErrorCode[])
      .filter((code) => code !== C.CLOUD_CONSTRAINT && code !== C.WORKLOAD)
      .filter((code) => !new RegExp(`\\b${code}\\b`).test(source));
    expect(unused).toEqual([]);
  });

  test('the scan sees a broad code in a line of code, not in a comment', () => {
    expect(BROAD_USE.test("v.add(C.CLOUD_CONSTRAINT, 'x', 'y');")).toBe(true);
    expect(BROAD_USE.test('  const W = FleetSpecErrorCode.WORKLOAD;')).toBe(true);
    expect(BROAD_USE.test("v.add(C.AWS_SUBNETS, 'vpcSubnets', 'y');")).toBe(false);
  });
});

describe('docs/errors.md', () => {
  const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'errors.md'), 'utf8');
  const section = (title: string): string => {
    const start = doc.indexOf(title);
    expect(start).toBeGreaterThan(-1);
    const end = doc.indexOf('\n## ', start + title.length);
    return doc.slice(start, end < 0 ? undefined : end);
  };

  test('lists every code once, in the section of its family', () => {
    const sections: Record<string, string> = {
      own: section('## Codes of the neutral fleet spec'),
      [C.CLOUD_CONSTRAINT]: section('## Family `CLOUD_CONSTRAINT`'),
      [C.WORKLOAD]: section('## Family `WORKLOAD`'),
    };
    for (const code of Object.values(FleetSpecErrorCode) as FleetSpecErrorCode[]) {
      if (code === C.CLOUD_CONSTRAINT || code === C.WORKLOAD) continue;
      const family = FleetSpecError.familyOf(code);
      const where = family === code ? 'own' : family;
      const rows = doc.split('\n').filter((l) => l.startsWith(`| \`${code}\` |`));
      expect([code, rows.length]).toEqual([code, 1]);
      expect([code, sections[where].includes(`| \`${code}\` |`)]).toEqual([code, true]);
    }
  });
});
