import { ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { FleetSpecErrorCode, ProblemCollector } from '../../lib/spec/errors';
import { FleetSpec } from '../../lib/spec/fleet-spec';
import { controllerRegionOf, policyWithHomeRegion, validateRegionList, regionFleetSpec } from '../../lib/spec/global-routing';
import { acknowledgeNagFindings, nagResourceName } from './bundle';
import { InferenceLoadBalancerType } from './inference-load-balancer';
import { AWS_REGION_PATTERN, GLOBAL_ACCELERATOR_HOME_REGION, GlobalAcceleratorEndpoint } from './multi-region-global-endpoint';
import { INTERRUPTION_EVENTS } from '../../lib/handlers/aws/events';
import { OnDemandFallback, OnDemandFallbackOptions, OnDemandFallbackRegionGroups } from './on-demand-fallback';
import { AllocationStrategy, SpotAgentOptions } from './spot-fleet';
import { SpotInferenceService } from './spot-inference-service';

/** One region of a {@link MultiRegionSpotInferenceService}, with what differs there. */
export interface AwsFleetRegion {
  /** The region, e.g. `us-east-2`. */
  readonly region: string;
  /**
   * Zones of the region the fleet spreads over (at least two). Named explicitly so that synth needs no
   * account lookup; the pools of the region are `<region>/<zone>/<type>`.
   */
  readonly zones: string[];
  /** Instance types in this region, in order of preference. @default - the service's `instanceTypes` */
  readonly instanceTypes?: string[];
  /** Fewest instances in this region. @default - the service's `minCapacity` */
  readonly minCapacity?: number;
  /** Most instances in this region. @default - the service's `maxCapacity` */
  readonly maxCapacity?: number;
  /** Instances to start with in this region. @default - the service's `desiredCapacity` */
  readonly desiredCapacity?: number;
  /** On-demand floor in this region. @default - the service's `onDemandBaseCapacity` */
  readonly onDemandBaseCapacity?: number;
  /**
   * Share of the traffic Global Accelerator routes to this region (the nearest healthy region of each client)
   * that goes there, 0-100. 0 makes the region a failover target only.
   * @default - 100; with `homeRegion` set, 100 in the home region and 0 elsewhere
   */
  readonly trafficDialPercentage?: number;
  /** CIDR of the region's new VPC. @default - `10.<index in regions>.0.0/16`, so the VPCs can be peered later */
  readonly vpcCidr?: string;
  /**
   * ARN of an ACM certificate in this region for the service's host name. With one in every region, each ALB
   * serves HTTPS on 443 (port 80 redirects) and the accelerator listens on 80 and 443. All regions or none.
   * @default - no TLS: HTTP on port 80
   */
  readonly certificateArn?: string;
}

/**
 * Props of {@link MultiRegionSpotInferenceService}: the fleet spec every region shares (per-region values in
 * `regions` override it), the regions, and the AWS options of `SpotInferenceService` that make sense per region.
 */
export interface MultiRegionSpotInferenceServiceProps extends FleetSpec {
  /** Account every stack deploys to (stacks need an explicit environment for cross-region references). */
  readonly account: string;
  /** The regions, each with its zones and what differs there. */
  readonly regions: AwsFleetRegion[];
  /**
   * The region that takes the traffic while it is healthy. Regions without their own `trafficDialPercentage`
   * get 0 (failover only), which keeps every client on the home region's latency until it fails. It also hosts the
   * controller and becomes its policy's `homeRegion`: among equally good pools, new spot goes to the home region's
   * first.
   * @default - no home region: every client goes to its nearest healthy region
   */
  readonly homeRegion?: string;
  /**
   * Regions the team allows (data residency, latency budget); synth refuses any other region in `regions`.
   * @default - any region
   */
  readonly allowedRegions?: string[];
  /** Prefix of the stacks' names (`<prefix>-<region>`, `<prefix>-global`). @default - the construct's id */
  readonly stackNamePrefix?: string;
  /** Global Accelerator's check interval, 10 or 30 s (see GlobalAcceleratorEndpointProps). @default Duration.seconds(10) */
  readonly globalHealthCheckInterval?: Duration;
  /** Global Accelerator's threshold for EC2/EIP endpoints, 1-10. @default 2 */
  readonly globalHealthCheckThreshold?: number;
  /**
   * CIDR blocks of the clients allowed to call the service. Global Accelerator keeps the client's address, so the
   * regional load balancers (internal, reachable only through the accelerator) admit these.
   * @default ['0.0.0.0/0']
   */
  readonly allowedClientCidrs?: string[];
  /** Write each region's ALB access logs to a new encrypted bucket in that region (90 days). @default true */
  readonly accessLogs?: boolean;
  /** The on-instance drain agent. @default - installed, DrainMode.HEALTH */
  readonly agent?: SpotAgentOptions;
  /** Commands run at boot after the agent is installed: fetch the model, start the server. @default - none */
  readonly bootCommands?: string[];
  /** @deprecated use `bootCommands` (one name on every cloud). Setting both is refused. @default - none */
  readonly userDataCommands?: string[];
  /** How spot capacity pools are picked in each region. @default AllocationStrategy.PRICE_CAPACITY_OPTIMIZED */
  readonly allocationStrategy?: AllocationStrategy;
  /** Launch a replacement on a rebalance recommendation. @default true */
  readonly capacityRebalance?: boolean;
  /** Size of the root volume, GiB. @default 100 */
  readonly rootVolumeSizeGiB?: number;
  /** Time a new instance gets before failed health checks replace it. @default Duration.minutes(10) */
  readonly healthCheckGracePeriod?: Duration;
  /** An interruption handler per region. @default true */
  readonly interruptionHandling?: boolean;
  /** An on-demand fallback per region. @default true */
  readonly onDemandFallback?: boolean;
  /** Tuning of each region's on-demand fallback. @default - see OnDemandFallbackOptions */
  readonly onDemandFallbackOptions?: OnDemandFallbackOptions;
  /** A dashboard per region. @default true */
  readonly dashboard?: boolean;
  /** FIS drill templates per region. @default true */
  readonly interruptionDrill?: boolean;
  /** Retention of each VPC's rejected-traffic flow logs. @default logs.RetentionDays.ONE_MONTH */
  readonly flowLogRetention?: logs.RetentionDays;
}

/**
 * One spot inference service over several regions behind one AWS Global Accelerator.
 *
 * It adds one stack per region (`env` = the account and that region), each holding a new VPC over the region's
 * zones and a {@link SpotInferenceService} (group, internal ALB on the agent's health path, interruption
 * pipeline, on-demand fallback and spare groups, dashboard, drill), and one stack in us-west-2 (where Global
 * Accelerator is managed) holding a {@link GlobalAcceleratorEndpoint}: accelerator, listener, one endpoint group
 * per region.
 *
 * One fallback controller observes and drives every region: the home region's (else the first region's)
 * `OnDemandFallback` gets the other regions' groups; the other regions forward their launch failures and spot
 * warnings to an event bus in the controller's region.
 *
 * Cross-region wiring: the CDK's `crossRegionReferences`. The global stack's endpoint groups name the regional
 * ALBs (and the controller the other regions' subnets); the CDK writes each value to an SSM parameter in the
 * consuming region from the producing stack (a small custom resource) and the consumer reads it with a dynamic
 * reference, with the deploy order (producers first) and a guard against deleting a value still in use.
 * Hand-written SSM parameters would need the same custom resource (CloudFormation cannot read another region's
 * parameters) without the guard.
 *
 * Synth refuses health-check settings whose failover does not fit the spot notice (`lib/spec/global-routing.ts`).
 * Create it directly under an `App` (or a `Stage`): it creates stacks.
 */
export class MultiRegionSpotInferenceService extends Construct {
  /** The regions, in the order given. */
  public readonly regionNames: string[];
  /** The stack of each region. */
  public readonly regionalStacks: Record<string, Stack>;
  /** The service of each region. */
  public readonly services: Record<string, SpotInferenceService>;
  /** The stack in us-west-2 holding the accelerator. */
  public readonly globalStack: Stack;
  /** The accelerator, its listener and endpoint groups. */
  public readonly globalEndpoint: GlobalAcceleratorEndpoint;
  /** The DNS name clients call. */
  public readonly dnsName: string;
  /** The traffic dial of each region, as deployed. */
  public readonly trafficDials: Record<string, number>;
  /** The region whose stack runs the one fallback controller (the home region, else the first). */
  public readonly controllerRegion: string;
  /** The one fallback controller over every region (its `OnDemandFallback`), unless `onDemandFallback` is false. */
  public readonly controller?: OnDemandFallback;
  /** The event bus in the controller's region that the other regions forward launch failures and spot warnings to. */
  public readonly controllerEvents?: events.EventBus;

  constructor(scope: Construct, id: string, props: MultiRegionSpotInferenceServiceProps) {
    super(scope, id);
    this.validateProps(id, props);

    const prefix = props.stackNamePrefix ?? id;
    this.regionNames = props.regions.map((r) => r.region);
    this.regionalStacks = {};
    this.services = {};
    this.trafficDials = {};
    this.controllerRegion = controllerRegionOf(props.regions, props.homeRegion);
    const { dials, controller, controllerEvents } = this.addRegions(prefix, props);
    this.controller = controller;
    this.controllerEvents = controllerEvents;

    this.globalStack = this.addGlobalStack(prefix, props.account);
    this.globalEndpoint = this.addGlobalEndpoint(prefix, props, dials);
    this.dnsName = this.globalEndpoint.dnsName;
  }

  /** Refuses (all problems at once) a scope inside a stack, an account unknown at synth, and bad regions, certificates or zones. */
  private validateProps(id: string, props: MultiRegionSpotInferenceServiceProps): void {
    const C = FleetSpecErrorCode;
    const v = new ProblemCollector();
    const isUnresolved = (x: unknown) => Token.isUnresolved(x);
    if (this.node.scopes.some((s) => Stack.isStack(s))) {
      v.add(C.AWS_STACK_ENVIRONMENT, 'scope', `${id} is inside the stack ${Stack.of(this).node.path}, but it creates one stack per region; create it directly under the App (or a Stage)`);
    }
    if (isUnresolved(props.account) || !/^\d{12}$/.test(props.account)) {
      v.add(C.AWS_STACK_ENVIRONMENT, 'account', `account (${isUnresolved(props.account) ? 'a token' : `"${props.account}"`}) must be a 12-digit account id known at synth: cross-region references need every stack's environment; pass e.g. process.env.CDK_DEFAULT_ACCOUNT`);
    }
    if (props.zones !== undefined) {
      v.add(C.ZONES, 'zones', `zones (${props.zones.join(', ')}) is set for the whole service, but zones belong to one region; give each entry of regions its own zones and leave the top-level zones out`);
    }
    v.addAll(validateRegionList(props.regions, {
      isUnresolved,
      homeRegion: props.homeRegion,
      policyHomeRegion: props.onDemandFallbackOptions?.policy?.homeRegion,
      allowedRegions: props.allowedRegions,
      regionPattern: AWS_REGION_PATTERN,
      example: 'us-east-2',
    }));
    const withCertificate = props.regions.filter((r) => r.certificateArn !== undefined);
    if (withCertificate.length > 0 && withCertificate.length < props.regions.length) {
      const missing = props.regions.filter((r) => r.certificateArn === undefined).map((r) => r.region);
      v.add(C.AWS_CERTIFICATE, 'regions.certificateArn', `certificateArn is set for ${withCertificate.map((r) => r.region).join(', ')} but not for ${missing.join(', ')}; the accelerator's listener serves the same ports in every region: give every region a certificate (ACM, in that region) or none`);
    }
    for (const r of withCertificate) {
      const arn = r.certificateArn!;
      if (!isUnresolved(arn) && !new RegExp(`^arn:aws[a-z-]*:acm:${r.region}:\\d{12}:certificate/`).test(arn)) {
        v.add(C.AWS_CERTIFICATE, `regions[${r.region}].certificateArn`, `regions[${r.region}].certificateArn ("${arn}") is not an ACM certificate ARN of ${r.region}; an ALB takes certificates of its own region: arn:aws:acm:${r.region}:<account>:certificate/<id>`);
      }
    }
    props.regions.forEach((r) => {
      if (!r.zones || r.zones.length === 0) {
        v.add(C.ZONES, `regions[${r.region}].zones`, `regions[${r.region}].zones is empty; list the zones of ${r.region} to spread over, e.g. ['${r.region}a', '${r.region}b']`);
      } else {
        const foreign = r.zones.filter((z) => !isUnresolved(z) && !z.startsWith(r.region));
        if (foreign.length > 0) {
          v.add(C.ZONES, `regions[${r.region}].zones`, `regions[${r.region}].zones lists ${foreign.join(', ')}, which ${foreign.length === 1 ? 'is' : 'are'} not in ${r.region}; list zones named like ${r.region}a`);
        }
      }
    });
    v.throwIfAny(this.node.path);
  }

  /**
   * Every region's stack and service (filling `regionalStacks`, `services` and `trafficDials`), and the dials in
   * the order of `regions`.
   *
   * One controller over every region: it runs in the home region (else the first), whose OnDemandFallback is
   * given the other regions' groups; the other regions render their fallback and spare groups only. They are
   * built first, so the controller's stack can name their groups (and, through crossRegionReferences, their
   * spare groups' subnets).
   */
  private addRegions(prefix: string, props: MultiRegionSpotInferenceServiceProps): {
    dials: { fleet: SpotInferenceService; dial: number }[];
    controller?: OnDemandFallback;
    controllerEvents?: events.EventBus;
  } {
    const home = props.homeRegion;
    const dials: { fleet: SpotInferenceService; dial: number }[] = [];
    const fallbackOn = props.onDemandFallback ?? true;
    const controllerBusName = `${prefix}-fallback-events`.slice(0, 256);
    // A fixed name, so the other regions can forward to it without a reference back (that would be a cycle).
    const controllerBusArn = `arn:aws:events:${this.controllerRegion}:${props.account}:event-bus/${controllerBusName}`;
    const ordered = [...props.regions.filter((r) => r.region !== this.controllerRegion), ...props.regions.filter((r) => r.region === this.controllerRegion)];
    const otherRegionGroups: OnDemandFallbackRegionGroups[] = [];
    let controller: OnDemandFallback | undefined;
    let controllerEvents: events.EventBus | undefined;

    ordered.forEach((r) => {
      const isController = r.region === this.controllerRegion;
      const stack = this.addRegionalStack(r, prefix, props.account);
      const service = this.addRegionalService(stack, r, props, isController, otherRegionGroups);
      if (fallbackOn && service.onDemandFallback) {
        const groups = service.onDemandFallback.regionGroups;
        const groupNames = [groups.spotGroupName, groups.fallbackGroupName, ...(groups.spareGroupName ? [groups.spareGroupName] : [])];
        if (isController) {
          controller = service.onDemandFallback;
          controllerEvents = this.forwardedEventsToController(stack, controllerBusName, service.onDemandFallback);
        } else {
          otherRegionGroups.push(groups);
          this.forwardEventsToController(stack, controllerBusArn, groupNames);
        }
      }
      this.acknowledgeRegionalFindings(stack, service);
      const dial = r.trafficDialPercentage ?? (home === undefined || home === r.region ? 100 : 0);
      this.regionalStacks[r.region] = stack;
      this.services[r.region] = service;
      this.trafficDials[r.region] = dial;
      dials.push({ fleet: service, dial });
    });
    dials.sort((a, b) => this.regionNames.indexOf(Stack.of(a.fleet).region) - this.regionNames.indexOf(Stack.of(b.fleet).region));
    return { dials, controller, controllerEvents };
  }

  /** The stack of one region (`<prefix>-<region>`), in the account and that region. */
  private addRegionalStack(r: AwsFleetRegion, prefix: string, account: string): Stack {
    return new Stack(this, r.region, {
      env: { account, region: r.region },
      stackName: `${prefix}-${r.region}`,
      description: `Spot inference fleet in ${r.region} behind the Global Accelerator of ${prefix} (spot-inference-constructs)`,
      crossRegionReferences: true,
    });
  }

  /**
   * One region's VPC, access-log bucket and SpotInferenceService: the region's values over the shared spec, an
   * internal ALB, and either the controller (over `otherRegionGroups`) or a fallback without one.
   */
  private addRegionalService(
    stack: Stack,
    r: AwsFleetRegion,
    props: MultiRegionSpotInferenceServiceProps,
    isController: boolean,
    otherRegionGroups: OnDemandFallbackRegionGroups[],
  ): SpotInferenceService {
    const vpc = this.addRegionalVpc(stack, r, props);
    const accessLogsBucket = (props.accessLogs ?? true) ? this.addAccessLogsBucket(stack) : undefined;
    return new SpotInferenceService(stack, 'Inference', {
      ...props,
      zones: r.zones,
      ...regionFleetSpec(props, r),
      vpc,
      loadBalancerType: InferenceLoadBalancerType.APPLICATION,
      // Reached through the accelerator only (client IP preservation brings clients in through its
      // network interfaces in the VPC), never straight from the internet.
      // In the private subnets: Global Accelerator reaches an internal ALB through its network interfaces there
      // (the VPC keeps an internet gateway, which it requires).
      internetFacing: false,
      allowedClientCidrs: props.allowedClientCidrs ?? ['0.0.0.0/0'],
      accessLogsBucket,
      accessLogsPrefix: accessLogsBucket ? 'alb' : undefined,
      certificate: r.certificateArn ? acm.Certificate.fromCertificateArn(stack, 'Certificate', r.certificateArn) : undefined,
      onDemandFallback: props.onDemandFallback ?? true,
      // The home region steers the spot too: among equal pools, the controller's new spot goes there first.
      onDemandFallbackOptions: isController
        ? { ...props.onDemandFallbackOptions, policy: policyWithHomeRegion(props.onDemandFallbackOptions?.policy, props.homeRegion), controller: true, regions: otherRegionGroups }
        : { ...props.onDemandFallbackOptions, controller: false },
    });
  }

  /** A new VPC over the region's zones (`10.<index in regions>.0.0/16` unless set), logging rejected traffic. */
  private addRegionalVpc(stack: Stack, r: AwsFleetRegion, props: MultiRegionSpotInferenceServiceProps): ec2.Vpc {
    const index = props.regions.indexOf(r);
    return new ec2.Vpc(stack, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(r.vpcCidr ?? `10.${index}.0.0/16`),
      availabilityZones: r.zones,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'workers', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      flowLogs: {
        rejected: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(stack, 'FlowLogs', { retention: props.flowLogRetention ?? logs.RetentionDays.ONE_MONTH })),
          trafficType: ec2.FlowLogTrafficType.REJECT,
        },
      },
    });
  }

  /** The region's encrypted bucket for ALB access logs, kept 90 days. */
  private addAccessLogsBucket(stack: Stack): s3.Bucket {
    const accessLogsBucket = new s3.Bucket(stack, 'AccessLogs', {
      // ALB access logs support SSE-S3 only.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledgeNagFindings(accessLogsBucket, [{
      rule: 'AwsSolutions-S1',
      reason: 'This bucket only receives the ALB access logs; logging access to the log bucket itself would need a second bucket that logs nowhere',
    }]);
    return accessLogsBucket;
  }

  /** The cdk-nag findings of a region's service that its design accepts, with the reasons. */
  private acknowledgeRegionalFindings(stack: Stack, service: SpotInferenceService): void {
    acknowledgeNagFindings(service.loadBalancer.connections.securityGroups[0], [{
      rule: 'AwsSolutions-EC23',
      reason: 'The ALB is internal and reachable only through Global Accelerator, which preserves client addresses; it admits the allowed client CIDRs on the listener ports only, and the workers admit only the ALB',
    }]);
    const lifecycleArn = stack.formatArn({
      service: 'autoscaling',
      resource: 'autoScalingGroup',
      resourceName: `*:autoScalingGroupName/${service.autoScalingGroupName}`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    acknowledgeNagFindings(service.fleet.role, [{
      rule: `AwsSolutions-IAM5[Resource::${nagResourceName(stack.resolve(lifecycleArn))}]`,
      reason: 'The agent completes lifecycle actions of its own named group only; a group ARN embeds a UUID that exists only after creation, hence the * in its place',
    }]);
    acknowledgeNagFindings(service.autoScalingGroup, [{
      rule: 'AwsSolutions-AS3',
      reason: 'Scaling and lifecycle events go to EventBridge (source aws.autoscaling), where the interruption pipeline and the fallback controller consume them; an SNS topic would duplicate that channel',
    }]);
  }

  /** The stack in us-west-2 (where Global Accelerator is managed), `<prefix>-global`. */
  private addGlobalStack(prefix: string, account: string): Stack {
    return new Stack(this, 'global', {
      env: { account, region: GLOBAL_ACCELERATOR_HOME_REGION },
      stackName: `${prefix}-global`,
      description: `Global Accelerator in front of the regional spot fleets of ${prefix} (${this.regionNames.join(', ')}) (spot-inference-constructs)`,
      crossRegionReferences: true,
    });
  }

  /** The accelerator with one endpoint group per region; it listens on 80, and on 443 too when the regions have certificates. */
  private addGlobalEndpoint(
    prefix: string,
    props: MultiRegionSpotInferenceServiceProps,
    dials: { fleet: SpotInferenceService; dial: number }[],
  ): GlobalAcceleratorEndpoint {
    const withCertificate = props.regions.some((r) => r.certificateArn !== undefined);
    return new GlobalAcceleratorEndpoint(this.globalStack, 'Endpoint', {
      acceleratorName: prefix.slice(0, 64),
      regions: dials.map(({ fleet, dial }) => ({ fleet: fleet.fleet, loadBalancer: fleet.loadBalancer, trafficDialPercentage: dial })),
      globalHealthCheckInterval: props.globalHealthCheckInterval,
      globalHealthCheckThreshold: props.globalHealthCheckThreshold,
      listenerPorts: withCertificate ? [80, 443] : [80],
    });
  }

  /**
   * In the controller's region: an event bus the other regions forward to, and a rule on it that runs the
   * controller on their launch failures and spot warnings (EventBridge rules see their own region's events only).
   * A separate bus, so forwarded events never reach the controller region's own drain pipeline.
   */
  private forwardedEventsToController(stack: Stack, busName: string, fallback: OnDemandFallback): events.EventBus {
    const bus = new events.EventBus(stack, 'ControllerEvents', {
      eventBusName: busName,
      description: `Launch failures and spot warnings of the other regions of ${stack.stackName}'s multi-region fleet, for its fallback controller`,
    });
    new events.Rule(stack, 'ForwardedToController', {
      eventBus: bus,
      description: 'Runs the fallback controller on another region\'s launch failures and spot warnings',
      eventPattern: { source: [INTERRUPTION_EVENTS.LAUNCH_UNSUCCESSFUL.source, INTERRUPTION_EVENTS.SPOT_WARNING.source], detailType: [INTERRUPTION_EVENTS.LAUNCH_UNSUCCESSFUL.detailType, INTERRUPTION_EVENTS.SPOT_WARNING.detailType] },
      targets: [new targets.LambdaFunction(fallback.function!, { retryAttempts: 2, maxEventAge: Duration.minutes(15) })],
    });
    return bus;
  }

  /** In a region without the controller: forward its groups' launch failures and the region's spot warnings to the controller's bus. */
  private forwardEventsToController(stack: Stack, busArn: string, groupNames: string[]): void {
    const bus = events.EventBus.fromEventBusArn(stack, 'ControllerBus', busArn);
    const target = new targets.EventBus(bus);
    new events.Rule(stack, 'ForwardLaunchFailures', {
      description: `Launch failures of this region's groups, to the fallback controller's bus (${busArn})`,
      eventPattern: { source: [INTERRUPTION_EVENTS.LAUNCH_UNSUCCESSFUL.source], detailType: [INTERRUPTION_EVENTS.LAUNCH_UNSUCCESSFUL.detailType], detail: { AutoScalingGroupName: groupNames } },
      targets: [target],
    });
    // aws.ec2 events carry only an instance id, so the rule cannot be scoped to the groups: the controller filters.
    new events.Rule(stack, 'ForwardSpotWarnings', {
      description: `Spot interruption warnings of this region, to the fallback controller's bus (${busArn})`,
      eventPattern: { source: [INTERRUPTION_EVENTS.SPOT_WARNING.source], detailType: [INTERRUPTION_EVENTS.SPOT_WARNING.detailType] },
      targets: [target],
    });
  }

  /** Seconds from a region's notice until no new request enters it (see docs/multi-region.md), per region. */
  public get failoverSeconds(): Record<string, number> {
    return this.globalEndpoint.failoverSeconds;
  }
}
