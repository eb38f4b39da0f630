// One resolution of the fleets' agent options (planFleetAgent), on its own and through the three fleets.
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Testing } from 'cdktf';
import { SpotFleet } from '../../../constructs/aws/spot-fleet';
import { AzureSpotFleet } from '../../../constructs/azure/spot-scale-set-fleet';
import { GcpSpotFleet } from '../../../constructs/gcp/spot-fleet';
import { AgentDrainOptions, DrainMode, ServerPreset } from '../../../lib/runtime/agent-config';
import { FleetAgentContext, planFleetAgent, resolveFleetAgent } from '../../../lib/runtime/fleet-agent';
import { Cloud, FleetSpecError, FleetSpecErrorCode, FleetSpecProblem } from '../../../lib/spec';
import { AGENT_BUNDLE, stackWithVpc } from '../../constructs/aws/fixtures';
import { ensureBundles, fleetProps } from '../../constructs/gcp/helpers';

const ctx = (extra: Partial<FleetAgentContext> = {}): FleetAgentContext => ({
  cloud: Cloud.GCP,
  servingPort: 8080,
  healthCheckPath: '/health',
  healthCheckIntervalSeconds: 5,
  healthCheckUnhealthyThreshold: 2,
  drainBudgetSeconds: 20,
  loadBalanced: true,
  probedFromOutside: true,
  ...extra,
});
const problems = (options: AgentDrainOptions, extra: Partial<FleetAgentContext> = {}) => planFleetAgent(options, ctx(extra)).problems;

describe('planFleetAgent', () => {
  test('defaults: DrainMode.HEALTH on 9901, the probe on the agent, detection = interval x threshold', () => {
    const plan = resolveFleetAgent({}, ctx());
    expect(plan).toMatchObject({ drainMode: DrainMode.HEALTH, agentHealthPort: 9901, probePort: 9901, problems: [] });
    expect(plan.config).toEqual({ cloud: 'gcp', servingPort: 8080, healthPath: '/health', healthPort: 9901, drainBudgetSeconds: 20, drainMode: 'health', loadBalancerDetectionSeconds: 10 });
  });

  test('an explicit healthCheck.port apart from the serving port is where the agent serves; other modes probe the server', () => {
    expect(resolveFleetAgent({}, ctx({ healthCheckPort: 9400 }))).toMatchObject({ agentHealthPort: 9400, probePort: 9400 });
    const http = resolveFleetAgent({ drainMode: DrainMode.HTTP, drainUrl: 'http://127.0.0.1:8080/drain' }, ctx({ healthCheckPort: 8081 }));
    expect(http).toMatchObject({ probePort: 8081 });
    expect(http.config.loadBalancerDetectionSeconds).toBe(0);
    // Nothing probes from outside: loopback only; no load balancer: nothing to wait for.
    const quiet = resolveFleetAgent({ drainMode: DrainMode.SIGNAL, pidFile: '/run/w.pid' }, ctx({ loadBalanced: false, probedFromOutside: false }));
    expect(quiet.config).toMatchObject({ healthHost: '127.0.0.1', loadBalancerDetectionSeconds: 0, pidFile: '/run/w.pid' });
  });

  test.each<[string, AgentDrainOptions, Partial<FleetAgentContext>, string, RegExp]>([
    ['signal without pid file', { drainMode: DrainMode.SIGNAL }, {}, 'agent.pidFile', /^agent.drainMode is DrainMode.SIGNAL but agent.pidFile is not set: .* set agent.pidFile \(e.g. '\/run\/inference.pid'\)/],
    ['pid file with a generic server in health mode', { pidFile: '/run/x.pid' }, {}, 'agent.pidFile', /used only with DrainMode.SIGNAL, but agent.drainMode is health and agent.server is generic; .* set agent.server to the preset/],
    ['drain URL outside HTTP mode', { drainUrl: 'http://127.0.0.1:1/d' }, {}, 'agent.drainUrl', /agent.drainUrl \("http:\/\/127.0.0.1:1\/d"\) is used only with DrainMode.HTTP/],
    ['health port out of range', { healthPort: 70000 }, {}, 'agent.healthPort', /agent.healthPort \(70000\) must be between 1 and 65535/],
    ['health port = serving port', { healthPort: 8080 }, {}, 'agent.healthPort', /agent.healthPort \(8080\) is the serving port; .* \(default 9901\)/],
    ['probe elsewhere than the agent', { healthPort: 9300 }, { healthCheckPort: 9400 }, 'healthCheck.port', /healthCheck.port \(9400\) is not the agent's health port \(9300\)/],
    ['health drain without load balancer', { drainMode: DrainMode.HEALTH }, { loadBalanced: false }, 'agent.drainMode', /no load balancer watches the health endpoint, so failing it drains nothing; use DrainMode.SIGNAL/],
    ['a signal that does not exist', { drainMode: DrainMode.SIGNAL, pidFile: '/p', drainSignal: 'SIGNOPE' }, {}, 'agent.drainSignal', /^agent.drainSignal \("SIGNOPE"\) is not a signal name; use e.g. 'SIGTERM'/],
    ['a preset that does not exist', { server: 'ollama' as ServerPreset }, {}, 'agent.server', /^agent.server \("ollama"\) is not a server preset; use one of generic, vllm, sglang, tgi, triton/],
    ['Triton probed directly at the wrong path', { server: ServerPreset.TRITON, drainMode: DrainMode.HTTP }, {}, 'healthCheck.path', /healthCheck.path \("\/health"\) is not Triton Inference Server's health path: .* set healthCheck.path to '\/v2\/health\/ready'/],
  ])('refuses %s, naming the prop', (_name, options, extra, prop, message) => {
    const found = problems(options, extra);
    expect(found.map((p) => p.prop)).toContain(prop);
    expect(found.find((p) => p.prop === prop)!.message).toMatch(message);
    expect(() => resolveFleetAgent(options, ctx(extra), 'Stack/Fleet')).toThrow(FleetSpecError);
  });

  test('a server shutdown timeout must fit the drain budget after the load balancer detection, with the numbers', () => {
    // SIGTERM after 5 s x 2 = 10 s of detection, budget 20 s: 10 s are left for the server.
    const vllm = { server: ServerPreset.VLLM, pidFile: '/run/vllm.pid' };
    expect(problems({ ...vllm, serverShutdownTimeoutSeconds: 10 })).toEqual([]);
    expect(problems({ ...vllm, serverShutdownTimeoutSeconds: 15 })[0]).toMatchObject({
      code: FleetSpecErrorCode.DRAIN_BUDGET_EXCEEDED,
      prop: 'agent.serverShutdownTimeoutSeconds',
      message: expect.stringMatching(/^agent.serverShutdownTimeoutSeconds \(15 s, vLLM's --shutdown-timeout\) does not fit the drain budget: the agent sends SIGTERM 10 s after the notice .* \+ 15 s = 25 s, longer than drainBudgetSeconds \(20 s inside the 30 s Google Cloud notice\); start vLLM with --shutdown-timeout 10 and set agent.serverShutdownTimeoutSeconds: 10$/),
    });
    // vLLM's default (0) aborts every request on SIGTERM.
    expect(problems(vllm)[0].message).toMatch(/vLLM's default --shutdown-timeout 0: vLLM aborts every in-flight request on SIGTERM; start it with --shutdown-timeout 10/);
    // Triton's default of 30 s does not fit Google Cloud's notice.
    expect(problems({ server: ServerPreset.TRITON, pidFile: '/run/t.pid' })[0].message).toMatch(/Triton Inference Server's default --exit-timeout-secs 30 does not fit .* start Triton Inference Server with --exit-timeout-secs 10/);
    // No time left at all.
    expect(problems({ ...vllm, serverShutdownTimeoutSeconds: 5 }, { healthCheckIntervalSeconds: 10 })[0].message).toMatch(/cannot fit: .* leaves no time for vLLM's graceful shutdown; raise drainBudgetSeconds or lower the health check interval/);
    // SGLang and TGI have no such flag: the agent's deadline bounds them.
    expect(problems({ server: ServerPreset.SGLANG, serverShutdownTimeoutSeconds: 5 })[0].message).toMatch(/has no effect: SGLang has no shutdown timeout flag .* leave it out/);
    expect(problems({ server: ServerPreset.TGI, pidFile: '/run/tgi.pid' })).toEqual([]);
    // Without a pid file the agent never sends SIGTERM: nothing to fit.
    expect(problems({ server: ServerPreset.VLLM })).toEqual([]);
  });

  test('deploy-time values are skipped, never used in arithmetic; the detection needs numbers', () => {
    const token = -1.8881545897087626e289;
    const isUnresolved = (v: unknown) => v === token;
    expect(problems({}, { servingPort: token, isUnresolved })).toEqual([]);
    const found = problems({}, { healthCheckIntervalSeconds: token, isUnresolved });
    expect(found).toEqual([expect.objectContaining({ prop: 'healthCheck.intervalSeconds', message: expect.stringMatching(/known only at deploy time, but the agent needs healthCheck.intervalSeconds x healthCheck.unhealthyThreshold as a number/) })]);
  });
});

describe('the three fleets resolve the agent the same way', () => {
  beforeAll(() => ensureBundles());

  const awsFleet = (agent: AgentDrainOptions) => {
    const { stack, vpc } = stackWithVpc();
    new SpotFleet(stack, 'Fleet', {
      vpc,
      instanceTypes: ['g5.xlarge', 'g6.xlarge'],
      minCapacity: 1,
      maxCapacity: 4,
      onDemandBaseCapacity: 0,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      agent: { bundlePath: AGENT_BUNDLE, ...agent },
    });
  };
  const gcpFleet = (agent: AgentDrainOptions) => Testing.synthScope((scope) => new GcpSpotFleet(scope, 'Fleet', fleetProps({ agent })));
  const azureFleet = (agent: AgentDrainOptions) =>
    Testing.synthScope(
      (scope) =>
        new AzureSpotFleet(scope, 'Fleet', {
          resourceGroupName: 'rg-spot',
          location: 'eastus2',
          adminSshPublicKey: 'ssh-rsa AAAAB3NzaC1yc2E test',
          instanceTypes: ['Standard_D4s_v5', 'Standard_D4as_v5', 'Standard_E4s_v5'],
          minCapacity: 2,
          maxCapacity: 9,
          desiredCapacity: 3,
          onDemandBaseCapacity: 1,
          agent,
        }),
    );
  const agentProblems = (build: () => unknown): FleetSpecProblem[] => {
    try {
      build();
    } catch (err) {
      if (err instanceof FleetSpecError) return err.problems.filter((p) => p.prop.startsWith('agent.'));
      throw err;
    }
    return [];
  };

  test('the drifted case (signal drain without a pid file) fails with the identical problem on AWS, Google Cloud and Azure', () => {
    const agent = { drainMode: DrainMode.SIGNAL };
    const [aws, gcp, azure] = [awsFleet, gcpFleet, azureFleet].map((f) => agentProblems(() => f(agent)));
    const expected = [
      {
        code: FleetSpecErrorCode.AGENT_DRAIN_OPTIONS,
        prop: 'agent.pidFile',
        message: "agent.drainMode is DrainMode.SIGNAL but agent.pidFile is not set: the agent must know which process to signal; set agent.pidFile (e.g. '/run/inference.pid') to the file your server writes its PID to",
      },
    ];
    expect(aws).toEqual(expected);
    expect(gcp).toEqual(expected);
    expect(azure).toEqual(expected);
  });

  test('a server preset reaches the agent config on every cloud; a timeout that does not fit is refused on every cloud', () => {
    const agent = { server: ServerPreset.VLLM, pidFile: '/run/vllm.pid', serverShutdownTimeoutSeconds: 600 };
    for (const f of [awsFleet, gcpFleet, azureFleet]) {
      const found = agentProblems(() => f(agent));
      expect(found.map((p) => p.prop)).toEqual(['agent.serverShutdownTimeoutSeconds']);
      // AWS: 45 s budget, SIGTERM after 20 s; Google Cloud and Azure: 10 s budget, nothing left after the detection.
      expect(found[0].message).toMatch(/^agent.serverShutdownTimeoutSeconds \(600 s, vLLM's --shutdown-timeout\) (does not fit the drain budget: the agent sends SIGTERM 20 s after the notice .* --shutdown-timeout 25|cannot fit: )/);
    }
    const gcp = gcpFleet({ server: ServerPreset.SGLANG });
    expect(gcp).toContain('\\"server\\": \\"sglang\\"');
  });
});
