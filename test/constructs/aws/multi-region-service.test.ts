import { App, Duration, Stack, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { GlobalAcceleratorEndpoint, InferenceLoadBalancerType, MultiRegionSpotInferenceService, MultiRegionSpotInferenceServiceProps, SpotInferenceService } from '../../../constructs/aws';
import { AGENT_BUNDLE, GPU_TYPES } from './fixtures';
import { lazy } from '../../support/lazy';
import { FleetSpecError } from '../../../lib/spec';

const ACCOUNT = '123456789012';
const REGIONS = [
  { region: 'us-east-1', zones: ['us-east-1a', 'us-east-1b', 'us-east-1c'] },
  { region: 'us-east-2', zones: ['us-east-2a', 'us-east-2b'], instanceTypes: ['g6.xlarge', 'g5.xlarge'], maxCapacity: 6 },
];

function service(overrides: Partial<MultiRegionSpotInferenceServiceProps> = {}, app = new App()) {
  const s = new MultiRegionSpotInferenceService(app, 'Svc', {
    account: ACCOUNT,
    regions: REGIONS,
    minCapacity: 1,
    maxCapacity: 4,
    onDemandBaseCapacity: 1,
    instanceTypes: GPU_TYPES,
    agent: { bundlePath: AGENT_BUNDLE },
    dashboard: false,
    interruptionDrill: false,
    ...overrides,
  });
  return { app, s, global: Template.fromStack(s.globalStack), regional: (r: string) => Template.fromStack(s.regionalStacks[r]) };
}

/** The service with the defaults, built once for the tests that only read it. */
const defaultService = lazy(() => service());

describe('MultiRegionSpotInferenceService', () => {
  test('the global layer: one accelerator, a TCP listener with client affinity NONE, one endpoint group per region on the agent health check', () => {
    const { s, global } = defaultService();
    expect(s.globalStack.region).toBe('us-west-2');
    global.resourceCountIs('AWS::GlobalAccelerator::Accelerator', 1);
    global.hasResourceProperties('AWS::GlobalAccelerator::Accelerator', { Enabled: true, IpAddressType: 'IPV4' });
    global.hasResourceProperties('AWS::GlobalAccelerator::Listener', { Protocol: 'TCP', ClientAffinity: 'NONE', PortRanges: [{ FromPort: 80, ToPort: 80 }] });
    global.resourceCountIs('AWS::GlobalAccelerator::EndpointGroup', 2);
    for (const region of ['us-east-1', 'us-east-2']) {
      global.hasResourceProperties('AWS::GlobalAccelerator::EndpointGroup', {
        EndpointGroupRegion: region,
        HealthCheckProtocol: 'HTTP',
        HealthCheckPath: '/health',
        HealthCheckPort: s.services[region].fleet.healthCheckPort,
        HealthCheckIntervalSeconds: 10,
        ThresholdCount: 2,
        TrafficDialPercentage: 100,
        // The regional ALB's ARN, read from the SSM parameter the regional stack writes into us-west-2.
        EndpointConfigurations: [{ ClientIPPreservationEnabled: true, EndpointId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ExportsReader'), Match.stringLikeRegexp(`^/cdk/exports/Svc-global/Svc${region.replace(/-/g, '')}RefInference`)] } }],
      });
    }
    global.resourceCountIs('Custom::CrossRegionExportReader', 1);
    expect(s.services['us-east-1'].fleet.healthCheckPort).toBe(9901);
  });

  test('one regional fleet per region, each in its own stack and environment, with per-region types and capacity', () => {
    const { s, regional } = defaultService();
    expect(s.regionNames).toEqual(['us-east-1', 'us-east-2']);
    for (const r of REGIONS) {
      const stack = s.regionalStacks[r.region];
      expect(stack.region).toBe(r.region);
      expect(stack.account).toBe(ACCOUNT);
      const t = regional(r.region);
      // Every regional stack writes its ALB ARN into us-west-2; the other regions also write their spare groups' subnets into the controller's region.
      expect(Object.keys(t.findResources('Custom::CrossRegionExportWriter')).length).toBe(r.region === 'us-east-1' ? 1 : 2);
      t.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: `10.${REGIONS.indexOf(r)}.0.0/16` });
      // Reached only through the accelerator.
      t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internal', Type: 'application' });
      t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { HealthCheckPath: '/health', HealthCheckPort: '9901', HealthCheckIntervalSeconds: 10, UnhealthyThresholdCount: 2 });
      t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { LoadBalancerAttributes: Match.arrayWith([{ Key: 'access_logs.s3.enabled', Value: 'true' }]) });
    }
    regional('us-east-1').hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MaxSize: '4',
      AvailabilityZones: Match.absent(),
      MixedInstancesPolicy: { LaunchTemplate: { Overrides: GPU_TYPES.map((t) => ({ InstanceType: t })) } },
    });
    regional('us-east-2').hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MaxSize: '6',
      MixedInstancesPolicy: { LaunchTemplate: { Overrides: [{ InstanceType: 'g6.xlarge' }, { InstanceType: 'g5.xlarge' }] } },
    });
    expect(s.services['us-east-1'].fleet.spec.zones).toEqual(['us-east-1a', 'us-east-1b', 'us-east-1c']);
    expect(s.services['us-east-2'].fleet.vpc.availabilityZones).toEqual(['us-east-2a', 'us-east-2b']);
  });

  test('per-region desiredCapacity: a region can start at 0 (spares, stand-ins and fallback only), as spot-plan --region-replicas models', () => {
    const { regional } = service({
      minCapacity: 0,
      onDemandBaseCapacity: 0,
      regions: [{ ...REGIONS[0], desiredCapacity: 3 }, { ...REGIONS[1], desiredCapacity: 0 }],
    });
    regional('us-east-1').hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '0', DesiredCapacity: '3', MixedInstancesPolicy: Match.anyValue() });
    regional('us-east-2').hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '0', DesiredCapacity: '0', MixedInstancesPolicy: Match.anyValue() });
  });

  test('one fallback controller (in the first region) over every region: it writes only the groups it owns, Describe calls alone on *', () => {
    const { s, regional } = defaultService();
    expect(s.controllerRegion).toBe('us-east-1');
    expect(s.controller).toBe(s.services['us-east-1'].onDemandFallback);
    expect(s.controller!.function).toBeDefined();
    expect(s.services['us-east-2'].onDemandFallback!.function).toBeUndefined();
    // The other region keeps its own fallback and spare groups, resized by the controller from us-east-1.
    regional('us-east-2').resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 3);
    regional('us-east-2').resourceCountIs('AWS::SSM::Parameter', 0);
    const east2 = s.services['us-east-2'].onDemandFallback!.regionGroups;
    const east1 = s.controller!.regionGroups;

    const t = regional('us-east-1');
    const fns = t.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: { FALLBACK_REGIONS: Match.anyValue() } } } });
    expect(Object.keys(fns)).toHaveLength(1);
    const regionsEnv = JSON.stringify(Object.values(fns)[0].Properties.Environment.Variables.FALLBACK_REGIONS);
    expect(regionsEnv).toContain(`\\"region\\":\\"us-east-2\\"`);
    expect(regionsEnv).toContain(east2.fallbackGroupName);

    const policy = Object.values(t.findResources('AWS::IAM::Policy')).find((p: any) => p.Properties.PolicyDocument.Statement.some((st: any) => st.Sid === 'ResizeItsOwnGroupsOnly')) as any;
    const statements = policy.Properties.PolicyDocument.Statement;
    for (const st of statements) {
      if (JSON.stringify(st.Resource) === '"*"') expect([st.Action].flat().every((a: string) => /^(autoscaling|ec2):Describe/.test(a))).toBe(true);
    }
    const arn = (region: string, name: string) => `:autoscaling:${region}:${ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/${name}`;
    const resize = JSON.stringify(statements.find((st: any) => st.Sid === 'ResizeItsOwnGroupsOnly').Resource);
    for (const [region, g] of [['us-east-1', east1], ['us-east-2', east2]] as const) {
      expect(resize).toContain(arn(region, g.fallbackGroupName));
      expect(resize).toContain(arn(region, g.spareGroupName!));
      expect(resize).not.toContain(arn(region, g.spotGroupName) + '"');
    }
    const steer = JSON.stringify(statements.find((st: any) => st.Sid === 'SteerItsSpareGroupsOnly').Resource);
    expect(steer).toContain(arn('us-east-2', east2.spareGroupName!));
    expect(steer).not.toContain(east2.fallbackGroupName);
  });

  test('the other regions forward launch failures and spot warnings to the controller\'s own event bus', () => {
    const { s, regional } = defaultService();
    const busArn = `arn:aws:events:us-east-1:${ACCOUNT}:event-bus/Svc-fallback-events`;
    const east2 = regional('us-east-2');
    const g = s.services['us-east-2'].onDemandFallback!.regionGroups;
    east2.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'source': ['aws.autoscaling'], 'detail-type': ['EC2 Instance Launch Unsuccessful'], 'detail': { AutoScalingGroupName: [g.spotGroupName, g.fallbackGroupName, g.spareGroupName] } },
      Targets: [Match.objectLike({ Arn: busArn, RoleArn: Match.anyValue() })],
    });
    east2.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'source': ['aws.ec2'], 'detail-type': ['EC2 Spot Instance Interruption Warning'] },
      Targets: [Match.objectLike({ Arn: busArn })],
    });
    east2.hasResourceProperties('AWS::IAM::Policy', { PolicyDocument: { Statement: [{ Action: 'events:PutEvents', Effect: 'Allow', Resource: busArn }] } });
    const east1 = regional('us-east-1');
    east1.hasResourceProperties('AWS::Events::EventBus', { Name: 'Svc-fallback-events' });
    east1.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: Match.stringLikeRegexp('^ControllerEvents') },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^InferenceFallbackFunction'), 'Arn'] } })],
    });
    expect(s.controllerEvents).toBeDefined();
  });

  test('the home region runs the controller', () => {
    const { s } = service({ homeRegion: 'us-east-2' });
    expect(s.controllerRegion).toBe('us-east-2');
    expect(s.controller).toBe(s.services['us-east-2'].onDemandFallback);
  });

  test('a home region gets the traffic; the others a dial of 0 unless they set their own', () => {
    const { s, global } = service({
      homeRegion: 'us-east-2',
      regions: [...REGIONS, { region: 'us-west-2', zones: ['us-west-2a', 'us-west-2b'], trafficDialPercentage: 25 }],
    });
    expect(s.trafficDials).toEqual({ 'us-east-1': 0, 'us-east-2': 100, 'us-west-2': 25 });
    global.hasResourceProperties('AWS::GlobalAccelerator::EndpointGroup', { EndpointGroupRegion: 'us-east-1', TrafficDialPercentage: 0 });
    global.hasResourceProperties('AWS::GlobalAccelerator::EndpointGroup', { EndpointGroupRegion: 'us-west-2', TrafficDialPercentage: 25 });
    // A regional stack in us-west-2 itself: a plain export, no cross-region parameter.
    global.hasResourceProperties('AWS::GlobalAccelerator::EndpointGroup', {
      EndpointGroupRegion: 'us-west-2',
      EndpointConfigurations: [Match.objectLike({ EndpointId: { 'Fn::ImportValue': Match.stringLikeRegexp('^Svc-us-west-2:') } })],
    });
  });

  test('the failover of each region, from the timing rule', () => {
    const { s } = service({ globalHealthCheckInterval: Duration.seconds(30), healthCheck: { intervalSeconds: 5, timeoutSeconds: 2, unhealthyThreshold: 3 } });
    expect(s.failoverSeconds).toEqual({ 'us-east-1': 45, 'us-east-2': 45 });
  });

  test('refuses health checks whose failover does not fit the notice, with the numbers', () => {
    expect(() => service({ globalHealthCheckInterval: Duration.seconds(30), healthCheck: { intervalSeconds: 30, timeoutSeconds: 10, unhealthyThreshold: 3 } })).toThrow(
      /us-east-1: healthCheck\.intervalSeconds \(30 s\) x healthCheck\.unhealthyThreshold \(3\) = 90 s at the regional load balancer \+ globalHealthCheckInterval \(30 s\) x one read of the load balancer state \(1\) = 30 s at Global Accelerator = 120 s .* \+ drainBudgetSeconds \(45 s\) for the last of them = 165 s, longer than the 120 s AWS spot notice \(45 s over\)/,
    );
    // 10 s x 3 + 10 s + 80 s = 120 s: exactly the notice, accepted; one second more is refused.
    expect(() => service({ drainBudgetSeconds: 80, deregistrationDelaySeconds: 10, healthCheck: { unhealthyThreshold: 3 } })).not.toThrow();
    expect(() => service({ drainBudgetSeconds: 81, deregistrationDelaySeconds: 10, healthCheck: { unhealthyThreshold: 3 } })).toThrow(/= 40 s before Global Accelerator .* \+ drainBudgetSeconds \(81 s\) for the last of them = 121 s, longer than the 120 s AWS spot notice \(1 s over\)/);
  });

  test('refuses Global Accelerator values it does not take', () => {
    expect(() => service({ globalHealthCheckInterval: Duration.seconds(15) })).toThrow(/globalHealthCheckInterval \(15 s\) must be 10 or 30 seconds/);
    expect(() => service({ globalHealthCheckThreshold: 0 })).toThrow(/globalHealthCheckThreshold \(0\) must be a whole number from 1 to 10/);
    expect(() => service({ regions: [{ ...REGIONS[0], trafficDialPercentage: 101 }] })).toThrow(/trafficDialPercentage of us-east-1 \(101\) must be from 0 to 100/);
  });

  test('refuses bad region lists, all problems at once', () => {
    let message = '';
    try {
      service({
        allowedRegions: ['us-east-1'],
        homeRegion: 'eu-west-1',
        zones: ['us-east-1a'],
        regions: [REGIONS[0], REGIONS[1], { region: 'us-east-2', zones: ['us-west-2a'] }],
      });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/zones \(us-east-1a\) is set for the whole service, but zones belong to one region/);
    expect(message).toMatch(/regions lists us-east-2 more than once/);
    expect(message).toMatch(/regions has us-east-2, us-east-2, outside allowedRegions \(us-east-1\)/);
    expect(message).toMatch(/homeRegion \("eu-west-1"\) is not one of regions/);
    expect(message).toMatch(/regions\[us-east-2\]\.zones lists us-west-2a, which is not in us-east-2; list zones named like us-east-2a/);
    expect(() => service({ regions: [] })).toThrow(/regions is empty; list at least one region/);
    expect(() => service({ regions: [{ region: 'useast1', zones: ['useast1a'] }] })).toThrow(/regions has "useast1", which is not a region name; write it like "us-east-2"/);
    expect(() => service({ regions: [{ region: 'us-east-1', zones: [] }] })).toThrow(/regions\[us-east-1\]\.zones is empty; list the zones of us-east-1/);
  });

  test('refuses an account unknown at synth and a scope inside a stack', () => {
    expect(() => service({ account: Token.asString({ Ref: 'AWS::AccountId' }) })).toThrow(/account \(a token\) must be a 12-digit account id known at synth/);
    expect(() => service({ account: '1234' })).toThrow(/account \("1234"\) must be a 12-digit account id/);
    const app = new App();
    const stack = new Stack(app, 'Outer');
    expect(() => new MultiRegionSpotInferenceService(stack, 'Svc', { account: ACCOUNT, regions: REGIONS, minCapacity: 1, maxCapacity: 2, onDemandBaseCapacity: 0, instanceTypes: GPU_TYPES })).toThrow(
      /Svc is inside the stack Outer, but it creates one stack per region; create it directly under the App/,
    );
  });
});

describe('GlobalAcceleratorEndpoint', () => {
  function regionalService(app: App, region: string) {
    const stack = new Stack(app, `R-${region}`, { env: { account: ACCOUNT, region }, crossRegionReferences: true });
    const vpc = new ec2.Vpc(stack, 'Vpc', { availabilityZones: [`${region}a`, `${region}b`], natGateways: 1 });
    return new SpotInferenceService(stack, 'Svc', {
      vpc, minCapacity: 1, maxCapacity: 2, onDemandBaseCapacity: 0, instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE },
      dashboard: false, interruptionDrill: false, onDemandFallback: false, interruptionHandling: false,
    });
  }

  test('must live in a us-west-2 stack', () => {
    const app = new App();
    const svc = regionalService(app, 'us-east-1');
    const global = new Stack(app, 'G', { env: { account: ACCOUNT, region: 'eu-west-1' }, crossRegionReferences: true });
    expect(() => new GlobalAcceleratorEndpoint(global, 'Ga', { regions: [{ fleet: svc.fleet, loadBalancer: svc.loadBalancer }] })).toThrow(
      /the stack of G\/Ga is in eu-west-1, but Global Accelerator is managed from us-west-2 only; put it in a stack with env.region 'us-west-2'/,
    );
  });

  test('needs regional stacks with an environment', () => {
    const app = new App();
    const stack = new Stack(app, 'Agnostic');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    const svc = new SpotInferenceService(stack, 'Svc', {
      vpc, minCapacity: 1, maxCapacity: 2, onDemandBaseCapacity: 0, instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE },
      dashboard: false, interruptionDrill: false, onDemandFallback: false, interruptionHandling: false,
    });
    const global = new Stack(app, 'G', { env: { account: ACCOUNT, region: 'us-west-2' } });
    expect(() => new GlobalAcceleratorEndpoint(global, 'Ga', { regions: [{ fleet: svc.fleet, loadBalancer: svc.loadBalancer }] })).toThrow(
      /the fleets Agnostic\/Svc\/Fleet are in environment-agnostic stacks; give each regional stack env/,
    );
  });

  test('listener ports and client IP preservation', () => {
    const app = new App();
    const svc = regionalService(app, 'eu-central-1');
    const global = new Stack(app, 'G', { env: { account: ACCOUNT, region: 'us-west-2' }, crossRegionReferences: true });
    expect(() => new GlobalAcceleratorEndpoint(global, 'Bad', { regions: [{ fleet: svc.fleet, loadBalancer: svc.loadBalancer }], listenerPorts: [0] })).toThrow(/listenerPorts \(0\) must list 1 to 10 ports/);
    const ga = new GlobalAcceleratorEndpoint(global, 'Ga', { regions: [{ fleet: svc.fleet, loadBalancer: svc.loadBalancer }], listenerPorts: [443], preserveClientIp: false });
    expect(ga.failoverSeconds).toEqual({ 'eu-central-1': 30 });
    Template.fromStack(global).hasResourceProperties('AWS::GlobalAccelerator::Listener', { PortRanges: [{ FromPort: 443, ToPort: 443 }] });
    Template.fromStack(global).hasResourceProperties('AWS::GlobalAccelerator::EndpointGroup', { EndpointGroupRegion: 'eu-central-1', EndpointConfigurations: [Match.objectLike({ ClientIPPreservationEnabled: false })] });
  });
});

describe('MultiRegionSpotInferenceService TLS', () => {
  const cert = (region: string) => `arn:aws:acm:${region}:${ACCOUNT}:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789abc`;

  test('a certificate in every region: HTTPS on each ALB, the accelerator on 80 and 443', () => {
    const { global, regional } = service({ regions: REGIONS.map((r) => ({ ...r, certificateArn: cert(r.region) })) });
    global.hasResourceProperties('AWS::GlobalAccelerator::Listener', { PortRanges: [{ FromPort: 80, ToPort: 80 }, { FromPort: 443, ToPort: 443 }] });
    for (const r of REGIONS) {
      regional(r.region).hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Protocol: 'HTTPS', Certificates: [{ CertificateArn: cert(r.region) }] });
      regional(r.region).hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, DefaultActions: [Match.objectLike({ Type: 'redirect' })] });
    }
  });

  test('all regions or none, each certificate of its own region', () => {
    expect(() => service({ regions: [{ ...REGIONS[0], certificateArn: cert('us-east-1') }, REGIONS[1]] })).toThrow(
      /certificateArn is set for us-east-1 but not for us-east-2; the accelerator's listener serves the same ports in every region/,
    );
    expect(() => service({ regions: [{ ...REGIONS[0], certificateArn: cert('us-west-2') }] })).toThrow(
      /regions\[us-east-1\]\.certificateArn \("arn:aws:acm:us-west-2:.*"\) is not an ACM certificate ARN of us-east-1/,
    );
  });
});

describe('GlobalAcceleratorEndpoint client IP preservation', () => {
  function nlbService(app: App, tls: boolean) {
    const stack = new Stack(app, 'R', { env: { account: ACCOUNT, region: 'eu-west-1' }, crossRegionReferences: true });
    const vpc = new ec2.Vpc(stack, 'Vpc', { availabilityZones: ['eu-west-1a', 'eu-west-1b'], natGateways: 1 });
    return new SpotInferenceService(stack, 'Svc', {
      vpc, minCapacity: 1, maxCapacity: 2, onDemandBaseCapacity: 0, instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE },
      dashboard: false, interruptionDrill: false, onDemandFallback: false, interruptionHandling: false,
      loadBalancerType: InferenceLoadBalancerType.NETWORK, internetFacing: !tls ? false : true,
      certificate: tls ? acm.Certificate.fromCertificateArn(stack, 'Cert', `arn:aws:acm:eu-west-1:${ACCOUNT}:certificate/abc`) : undefined,
    });
  }

  test('refuses to turn it off for an internal ALB, and to keep it on for an NLB with a TLS listener', () => {
    const { s } = defaultService();
    const svc = s.services['us-east-1'];
    const app = new App();
    const g = new Stack(app, 'G', { env: { account: ACCOUNT, region: 'us-west-2' } });
    expect(() => new GlobalAcceleratorEndpoint(g, 'Ga', { regions: [{ fleet: svc.fleet, loadBalancer: svc.loadBalancer }], preserveClientIp: false })).toThrow(
      /preserveClientIp is false, but the ALB of Svc\/us-east-1\/Inference\/Fleet is internal, and Global Accelerator always preserves client addresses for internal ALBs/,
    );
    const app2 = new App();
    const nlb = nlbService(app2, true);
    const g2 = new Stack(app2, 'G', { env: { account: ACCOUNT, region: 'us-west-2' }, crossRegionReferences: true });
    expect(() => new GlobalAcceleratorEndpoint(g2, 'Ga', { regions: [{ fleet: nlb.fleet, loadBalancer: nlb.loadBalancer }], listenerPorts: [443] })).toThrow(
      /the NLB of R\/Svc\/Fleet has a TLS listener, and Global Accelerator cannot preserve client addresses for NLBs with TLS listeners; set preserveClientIp: false/,
    );
    const ok = new GlobalAcceleratorEndpoint(g2, 'Ok', { regions: [{ fleet: nlb.fleet, loadBalancer: nlb.loadBalancer }], listenerPorts: [443], preserveClientIp: false });
    Template.fromStack(g2).hasResourceProperties('AWS::GlobalAccelerator::EndpointGroup', { EndpointConfigurations: [Match.objectLike({ ClientIPPreservationEnabled: false })] });
    expect(ok.failoverSeconds).toEqual({ 'eu-west-1': 30 });
  });

  test('the regional ALBs are internal, in the private subnets', () => {
    const { s, regional } = defaultService();
    const subnets = s.services['us-east-1'].fleet.vpc.privateSubnets.map((x) => x.subnetId);
    const lb = Object.values(regional('us-east-1').findResources('AWS::ElasticLoadBalancingV2::LoadBalancer'))[0] as any;
    expect(lb.Properties.Scheme).toBe('internal');
    expect(lb.Properties.Subnets).toEqual(subnets.map((id) => Stack.of(s.services['us-east-1']).resolve(id)));
  });
});

describe('MultiRegionSpotInferenceService homeRegion steers the spot too', () => {
  /** The fallback policy options the controller's Lambda reads (FALLBACK_POLICY_OPTIONS), in the controller's region. */
  const controllerPolicy = (s: MultiRegionSpotInferenceService): Record<string, unknown> => {
    const fns = Template.fromStack(s.regionalStacks[s.controllerRegion]).findResources('AWS::Lambda::Function');
    const env = Object.values(fns).map((f: any) => f.Properties.Environment?.Variables ?? {}).find((v) => v.FALLBACK_POLICY_OPTIONS !== undefined);
    return JSON.parse(env.FALLBACK_POLICY_OPTIONS);
  };

  test('the home region hosts the controller and becomes its policy\'s homeRegion, beside the policy\'s own tuning', () => {
    const { s } = service({ homeRegion: 'us-east-2', onDemandFallbackOptions: { policy: { spareSpotReplicas: 2 } } });
    expect(s.controllerRegion).toBe('us-east-2');
    expect(controllerPolicy(s)).toEqual({ spareSpotReplicas: 2, homeRegion: 'us-east-2' });
  });

  test('without a home region the policy prefers no region; a policy homeRegion among the regions is kept as given', () => {
    expect(controllerPolicy(defaultService().s)).toEqual({});
    expect(controllerPolicy(service({ onDemandFallbackOptions: { policy: { homeRegion: 'us-east-2' } } }).s)).toEqual({ homeRegion: 'us-east-2' });
  });

  test('a policy homeRegion that differs from homeRegion, or names no region of the service, is refused with both values', () => {
    const differs = () => service({ homeRegion: 'us-east-2', onDemandFallbackOptions: { policy: { homeRegion: 'us-east-1' } } });
    expect(differs).toThrow(FleetSpecError);
    expect(differs).toThrow('onDemandFallbackOptions.policy.homeRegion ("us-east-1") differs from homeRegion ("us-east-2"); the policy takes the service\'s homeRegion: leave onDemandFallbackOptions.policy.homeRegion out, or make them the same region');
    expect(() => service({ onDemandFallbackOptions: { policy: { homeRegion: 'eu-west-1' } } })).toThrow('onDemandFallbackOptions.policy.homeRegion ("eu-west-1") is not one of regions (us-east-1, us-east-2), so no pool would ever be preferred; name one of them');
  });
});
