import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { DrainMode, InferenceLoadBalancer, InferenceLoadBalancerProps, InferenceLoadBalancerType, SpotFleet, SpotFleetProps } from '../../../constructs/aws';
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
    const { t } = setup({ healthCheck: { port: 8080, path: '/ping' }, agent: { bundlePath: AGENT_BUNDLE, drainMode: DrainMode.SIGNAL }, deregistrationDelaySeconds: 20, drainBudgetSeconds: 60 }, { internetFacing: false });
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
