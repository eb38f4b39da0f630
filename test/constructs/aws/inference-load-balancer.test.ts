import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { DrainMode, InferenceListenerTargetProps, InferenceLoadBalancer, InferenceLoadBalancerProps, InferenceLoadBalancerType, SpotFleet, SpotFleetProps } from '../../../constructs/aws';
import { FleetSpecError } from '../../../lib/spec';
import { AGENT_BUNDLE, GPU_TYPES, stackWithVpc } from './fixtures';

function setup(fleetProps: Partial<SpotFleetProps> = {}, lbProps: Partial<InferenceLoadBalancerProps> = {}) {
  const { stack, vpc } = stackWithVpc();
  const fleet = new SpotFleet(stack, 'Fleet', {
    vpc, minCapacity: 1, maxCapacity: 4, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE }, ...fleetProps,
  });
  const lb = new InferenceLoadBalancer(stack, 'Lb', { fleet, ...lbProps });
  return { stack, fleet, lb, t: Template.fromStack(stack) };
}

const workerSg = (t: Template) => Object.keys(t.findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: Match.stringLikeRegexp('Spot inference workers') } }))[0];
const lbSg = (t: Template) => Object.keys(t.findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: Match.stringLikeRegexp('Load balancer of') } }))[0];

describe('InferenceLoadBalancer: ALB (default)', () => {
  const { fleet, lb, t } = setup();

  test('internet-facing ALB that drops invalid header fields', () => {
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Type: 'application',
      Scheme: 'internet-facing',
      LoadBalancerAttributes: Match.arrayWith([
        { Key: 'idle_timeout.timeout_seconds', Value: '120' },
        { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' },
        { Key: 'routing.http.desync_mitigation_mode', Value: 'defensive' },
      ]),
    });
    expect(lb.applicationLoadBalancer).toBeDefined();
    expect(lb.url).toMatch(/^http:\/\//);
  });

  test('target group probes the agent health port with the spec path and drains within the notice', () => {
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 8080,
      Protocol: 'HTTP',
      TargetType: 'instance',
      HealthCheckEnabled: true,
      HealthCheckPath: '/health',
      HealthCheckPort: '9901',
      HealthCheckIntervalSeconds: 10,
      HealthCheckTimeoutSeconds: 5,
      HealthyThresholdCount: 2,
      UnhealthyThresholdCount: 2,
      Matcher: { HttpCode: '200' },
      TargetGroupAttributes: Match.arrayWith([
        { Key: 'deregistration_delay.timeout_seconds', Value: '30' },
        { Key: 'load_balancing.algorithm.type', Value: 'least_outstanding_requests' },
      ]),
    });
  });

  test('the group registers in the target group and uses ELB health checks', () => {
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      TargetGroupARNs: [{ Ref: Match.stringLikeRegexp('LbTargetGroup') }],
      HealthCheckType: 'ELB',
    });
  });

  test('HTTP listener on 80 forwarding to the target group; clients admitted on 80 only', () => {
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80, Protocol: 'HTTP', DefaultActions: [Match.objectLike({ Type: 'forward' })],
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('Load balancer of'),
      SecurityGroupIngress: [Match.objectLike({ CidrIp: '0.0.0.0/0', FromPort: 80, ToPort: 80, IpProtocol: 'tcp' })],
    });
  });

  test('workers admit only the load balancer, on the serving and health ports', () => {
    const worker = workerSg(t);
    const alb = lbSg(t);
    const ingress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress'))
      .map((r: any) => r.Properties)
      .filter((p: any) => p.GroupId['Fn::GetAtt'][0] === worker);
    expect(ingress.map((p: any) => p.FromPort).sort()).toEqual([8080, 9901]);
    for (const p of ingress) {
      expect(p.SourceSecurityGroupId).toEqual({ 'Fn::GetAtt': [alb, 'GroupId'] });
      expect(p.CidrIp).toBeUndefined();
    }
    // The load balancer can talk to the workers on those ports only.
    const egress = Object.values(t.findResources('AWS::EC2::SecurityGroupEgress')).map((r: any) => r.Properties);
    expect(egress.map((p: any) => p.FromPort).sort()).toEqual([8080, 9901]);
    expect(fleet.healthCheckPort).toBe(9901);
  });

  test('healthy-targets metric', () => {
    const m = lb.metricHealthyTargets();
    expect(m.metricName).toBe('HealthyHostCount');
    expect(m.statistic).toBe('Minimum');
  });
});

describe('InferenceLoadBalancer: options', () => {
  test('HTTPS with a certificate, a permanent redirect from HTTP, client CIDRs, access logs', () => {
    const { stack, vpc } = stackWithVpc({ account: '111111111111', region: 'us-east-1' });
    const fleet = new SpotFleet(stack, 'Fleet', { vpc, minCapacity: 1, maxCapacity: 4, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE } });
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:us-east-1:111111111111:certificate/abc');
    const bucket = new s3.Bucket(stack, 'Logs');
    const lb = new InferenceLoadBalancer(stack, 'Lb', { fleet, certificate, allowedClientCidrs: ['203.0.113.0/24'], accessLogsBucket: bucket, accessLogsPrefix: 'alb', idleTimeout: Duration.seconds(600) });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443, Protocol: 'HTTPS', Certificates: [{ CertificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/abc' }], SslPolicy: Match.stringLikeRegexp('TLS'),
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80, DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }],
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('Load balancer of'),
      SecurityGroupIngress: [
        Match.objectLike({ CidrIp: '203.0.113.0/24', FromPort: 80 }),
        Match.objectLike({ CidrIp: '203.0.113.0/24', FromPort: 443 }),
      ],
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'idle_timeout.timeout_seconds', Value: '600' }]),
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'access_logs.s3.enabled', Value: 'true' }, Match.objectLike({ Key: 'access_logs.s3.bucket' }), { Key: 'access_logs.s3.prefix', Value: 'alb' }]),
    });
    expect(lb.url).toMatch(/^https:\/\//);
  });

  test('internal load balancer in private subnets admits the VPC CIDR; explicit health port and custom drain', () => {
    const { t } = setup({ healthCheck: { port: 8080, path: '/ping' }, agent: { bundlePath: AGENT_BUNDLE, drainMode: DrainMode.SIGNAL, pidFile: '/run/inference.pid' }, deregistrationDelaySeconds: 20, drainBudgetSeconds: 60 }, { internetFacing: false });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internal' });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      HealthCheckPort: '8080', HealthCheckPath: '/ping',
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '20' }]),
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('Load balancer of'),
      SecurityGroupIngress: [Match.objectLike({ CidrIp: { 'Fn::GetAtt': [Match.stringLikeRegexp('Vpc'), 'CidrBlock'] }, FromPort: 80 })],
    });
    const ingress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')).map((r: any) => r.Properties.FromPort);
    expect(ingress).toEqual([8080]);
  });

  test('network load balancer: TCP listener, HTTP health check on the agent port, security group on the NLB', () => {
    const { lb, t } = setup({}, { loadBalancerType: InferenceLoadBalancerType.NETWORK });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Type: 'network', SecurityGroups: [Match.anyValue()] });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'TCP' });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Protocol: 'TCP', Port: 8080, HealthCheckProtocol: 'HTTP', HealthCheckPort: '9901', HealthCheckPath: '/health',
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }]),
    });
    const ingress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')).map((r: any) => r.Properties.FromPort).sort();
    expect(ingress).toEqual([8080, 9901]);
    expect(lb.networkLoadBalancer).toBeDefined();
    expect(lb.metricHealthyTargets().metricName).toBe('HealthyHostCount');
  });

  test('refuses an empty or malformed client CIDR list', () => {
    expect(() => setup({}, { allowedClientCidrs: [] })).toThrow(/allowedClientCidrs is empty, so no client could reach the service/);
    expect(() => setup({}, { allowedClientCidrs: ['10.0.0.0'] })).toThrow(/allowedClientCidrs has "10.0.0.0", which is not a CIDR block; write it like "203.0.113.0\/24"/);
  });

  test('refuses access logs in an environment-agnostic stack (ELB needs the region to write logs)', () => {
    const { stack, vpc } = stackWithVpc();
    const fleet = new SpotFleet(stack, 'Fleet', { vpc, minCapacity: 1, maxCapacity: 4, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE } });
    expect(() => new InferenceLoadBalancer(stack, 'Lb', { fleet, accessLogsBucket: new s3.Bucket(stack, 'Logs') }))
      .toThrow(/accessLogsBucket needs the stack's region at synth.*set env \(account and region\) on the stack, or leave accessLogsBucket out/);
  });

  test('refuses an idle timeout outside ALB limits, or on an NLB', () => {
    expect(() => setup({}, { idleTimeout: Duration.seconds(5000) })).toThrow(FleetSpecError);
    expect(() => setup({}, { idleTimeout: Duration.seconds(5000) })).toThrow(/idleTimeout \(5000 s\) must be from 1 s to 4000 s \(ALB limit\)/);
    expect(() => setup({}, { loadBalancerType: InferenceLoadBalancerType.NETWORK, idleTimeout: Duration.seconds(60) })).toThrow(/idleTimeout applies to application load balancers only/);
  });
});

describe('InferenceLoadBalancer.attachToListener: bring your own ALB', () => {
  const ALB_SG = 'sg-0a1b2c3d4e5f60718';
  const LISTENER_ARN = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shared/50dc6c495c0c9188/f2f7dc8efc522ab2';
  function byo(extra: Partial<InferenceListenerTargetProps> = {}, fleetProps: Partial<SpotFleetProps> = {}) {
    const { stack, vpc } = stackWithVpc({ account: '123456789012', region: 'us-east-1' });
    const fleet = new SpotFleet(stack, 'Fleet', {
      vpc, minCapacity: 1, maxCapacity: 4, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE }, ...fleetProps,
    });
    const listener = elbv2.ApplicationListener.fromApplicationListenerAttributes(stack, 'Listener', {
      listenerArn: LISTENER_ARN,
      securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'AlbSg', ALB_SG),
    });
    const target = InferenceLoadBalancer.attachToListener(stack, 'Llm', {
      fleet, listener, priority: 10, conditions: [elbv2.ListenerCondition.pathPatterns(['/v1/*'])], ...extra,
    });
    return { stack, fleet, listener, target, t: Template.fromStack(stack) };
  }

  test('a listener rule with its conditions forwards to the fleet\'s target group', () => {
    const { t, target } = byo();
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 0);
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 0);
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
      ListenerArn: LISTENER_ARN,
      Priority: 10,
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/v1/*'] } }],
      Actions: [{ Type: 'forward', TargetGroupArn: { Ref: Match.stringLikeRegexp('^LlmTargetGroup') } }],
    });
    expect(target.listenerRule).toBeDefined();
  });

  test('the target group probes the agent\'s port and path, and drains within the fleet\'s deregistration delay', () => {
    const { t } = byo({}, { deregistrationDelaySeconds: 25, drainBudgetSeconds: 60, healthCheck: { path: '/ready', intervalSeconds: 15, unhealthyThreshold: 3 } });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 8080, Protocol: 'HTTP', HealthCheckPath: '/ready', HealthCheckPort: '9901', HealthCheckIntervalSeconds: 15, UnhealthyThresholdCount: 3,
      Matcher: { HttpCode: '200' },
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '25' }]),
    });
  });

  test('the group registers in it and switches to ELB health checks', () => {
    const { t } = byo();
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { TargetGroupARNs: [{ Ref: Match.stringLikeRegexp('^LlmTargetGroup') }], HealthCheckType: 'ELB' });
  });

  test('only the load balancer\'s security group reaches the serving and health ports', () => {
    const { t } = byo();
    const worker = workerSg(t);
    const ingress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')).map((r: any) => r.Properties);
    expect(ingress.map((p: any) => p.FromPort).sort()).toEqual([8080, 9901]);
    for (const p of ingress) {
      expect(p.GroupId).toEqual({ 'Fn::GetAtt': [worker, 'GroupId'] });
      expect(p.SourceSecurityGroupId).toBe(ALB_SG);
      expect(p.CidrIp).toBeUndefined();
    }
    // Nothing else opens the workers.
    t.hasResourceProperties('AWS::EC2::SecurityGroup', { GroupDescription: Match.stringLikeRegexp('Spot inference workers'), SecurityGroupIngress: Match.absent() });
  });

  test('as the default action of a listener of this app', () => {
    const { stack, vpc } = stackWithVpc({ account: '123456789012', region: 'us-east-1' });
    const fleet = new SpotFleet(stack, 'Fleet', { vpc, minCapacity: 1, maxCapacity: 4, onDemandBaseCapacity: 1, instanceTypes: GPU_TYPES, agent: { bundlePath: AGENT_BUNDLE } });
    const alb = new elbv2.ApplicationLoadBalancer(stack, 'Shared', { vpc, internetFacing: false });
    const listener = alb.addListener('Http', { port: 80, open: false, defaultAction: elbv2.ListenerAction.fixedResponse(404) });
    const target = InferenceLoadBalancer.attachToListener(stack, 'Llm', { fleet, listener });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { DefaultActions: [{ Type: 'forward', TargetGroupArn: { Ref: Match.stringLikeRegexp('^LlmTargetGroup') } }] });
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::ListenerRule', 0);
    expect(target.listenerRule).toBeUndefined();
    // The shared ALB's security group, and only it, reaches the workers.
    const albSg = Object.keys(t.findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: Match.stringLikeRegexp('Shared') } }))[0];
    const ingress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')).map((r: any) => r.Properties).filter((p: any) => p.GroupId['Fn::GetAtt']?.[0] === workerSg(t));
    expect(ingress.map((p: any) => p.FromPort).sort()).toEqual([8080, 9901]);
    for (const p of ingress) expect(p.SourceSecurityGroupId).toEqual({ 'Fn::GetAtt': [albSg, 'GroupId'] });
    expect(target.metricHealthyTargets().metricName).toBe('HealthyHostCount');
  });

  test('an existing group (SpotFleet.fromAutoScalingGroup) behind an existing listener', () => {
    const stack = new Stack(new App(), 'Imp', { env: { account: '123456789012', region: 'us-east-1' } });
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-1', availabilityZones: ['us-east-1a', 'us-east-1b'], privateSubnetIds: ['subnet-1', 'subnet-2'] });
    const fleet = SpotFleet.fromAutoScalingGroup(stack, 'Fleet', {
      autoScalingGroup: autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'Asg', 'llm-asg'),
      vpc,
      securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(stack, 'WorkerSg', 'sg-0fedcba9876543210')],
      servingPort: 8000,
      healthCheck: { port: 9901, path: '/health' },
    });
    const listener = elbv2.ApplicationListener.fromApplicationListenerAttributes(stack, 'Listener', {
      listenerArn: LISTENER_ARN, securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'AlbSg', ALB_SG),
    });
    InferenceLoadBalancer.attachToListener(stack, 'Llm', { fleet, listener, priority: 5, conditions: [elbv2.ListenerCondition.hostHeaders(['llm.example.com'])] });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { Port: 8000, HealthCheckPort: '9901', VpcId: 'vpc-1' });
    const ingress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')).map((r: any) => r.Properties);
    expect(ingress.map((p: any) => [p.GroupId, p.SourceSecurityGroupId, p.FromPort]).sort()).toEqual([
      ['sg-0fedcba9876543210', ALB_SG, 8000],
      ['sg-0fedcba9876543210', ALB_SG, 9901],
    ]);
    // A group defined elsewhere cannot be registered or switched to ELB health checks from here: the synth says how.
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.anyValue()).map((w) => String(w.entry.data));
    expect(warnings).toEqual(expect.arrayContaining([
      expect.stringMatching(/The group llm-asg is defined outside this app, so it is not registered in the target group here: .*attach-traffic-sources/),
      expect.stringMatching(/The group llm-asg is defined outside this app, so its health check type cannot be set here: set it to ELB/),
    ]));
  });

  test('refuses a rule without conditions or priority, a bad priority, and a default action on an imported listener', () => {
    expect(() => byo({ conditions: undefined })).toThrow(/priority \(10\) is set but conditions is not; a listener rule needs at least one condition/);
    expect(() => byo({ conditions: [] })).toThrow(/priority \(10\) is set but conditions is empty/);
    expect(() => byo({ priority: undefined })).toThrow(/conditions is set but priority is not; give the listener rule a priority \(1-50000, unique on the listener\)/);
    expect(() => byo({ priority: 0 })).toThrow(/priority \(0\) must be a whole number from 1 to 50000 \(ALB listener rule limit\)/);
    expect(() => byo({ priority: undefined, conditions: undefined })).toThrow(
      /listener \(Test\/Listener\) is imported, and its default action belongs to the stack that defines it; give priority and conditions/,
    );
    expect(() => byo({ priority: 70000 })).toThrow(FleetSpecError);
  });
});
