// Composition onto a load balancer a team already runs: its URL map keeps serving www.example.com from its own
// backend; a spot fleet is added for api.example.com/v1/* with GcpFleetBackends, which creates the fleet's
// backend service, the host rule and path matcher, and the firewall rule for Google's ranges. (The URL map and web
// backend are declared here to stand in for the team's; in a real stack they are the team's own resources, or
// brought in with `terraform import`.)
import { ComputeBackendService } from '@cdktf/provider-google/lib/compute-backend-service';
import { ComputeUrlMap } from '@cdktf/provider-google/lib/compute-url-map';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { GcpFleetBackends, GcpSpotFleet } from 'spot-inference-constructs/gcp';

/** Settings of the example. */
export interface GcpExistingLoadBalancerStackProps {
  /** @default 'my-gcp-project' */
  readonly project?: string;
  /** @default 'us-central1' */
  readonly region?: string;
}

export class GcpExistingLoadBalancerStack extends TerraformStack {
  public readonly fleet: GcpSpotFleet;
  public readonly backends: GcpFleetBackends;

  constructor(scope: Construct, id: string, props: GcpExistingLoadBalancerStackProps = {}) {
    super(scope, id);
    const project = props.project ?? 'my-gcp-project';
    const region = props.region ?? 'us-central1';
    new GoogleProvider(this, 'google', { project, region });

    // The team's load balancer (stand-in): a URL map whose default is the web site's backend service.
    const web = new ComputeBackendService(this, 'web', { project, name: 'web-backend', loadBalancingScheme: 'EXTERNAL_MANAGED', protocol: 'HTTP' });
    const urlMap = new ComputeUrlMap(this, 'team-url-map', {
      project,
      name: 'team-url-map',
      defaultService: web.id,
      hostRule: [{ hosts: ['www.example.com'], pathMatcher: 'web' }],
      pathMatcher: [{ name: 'web', defaultService: web.id }],
    });

    this.fleet = new GcpSpotFleet(this, 'api', {
      project,
      region,
      namePrefix: 'api',
      instanceTypes: ['g2-standard-8', 'g2-standard-12'],
      zones: [`${region}-a`, `${region}-b`, `${region}-c`],
      minCapacity: 1,
      desiredCapacity: 2,
      maxCapacity: 6,
      onDemandBaseCapacity: 1,
      servingPort: 8000,
      healthCheck: { path: '/health' },
      sourceImage: 'projects/deeplearning-platform-release/global/images/family/common-cu124-ubuntu-2204',
      bootCommands: ['docker run -d --restart=always --gpus all -p 8000:8000 vllm/vllm-openai:latest --model Qwen/Qwen2.5-1.5B-Instruct --port 8000'],
    });
    this.backends = new GcpFleetBackends(this, 'api-on-team-lb', {
      fleet: this.fleet,
      urlMap,
      hosts: ['api.example.com'],
      paths: ['/v1/*'],
    });
  }
}
