// Batch inference on Google Cloud Spot VMs with Cloud Batch: the checkpoint bucket, a least-privilege service account
// and the job definition (RETRY_TASK on preemption, FAIL_TASK on real failures) as Terraform outputs. Deploy, then:
//   terraform output -raw <SubmitCommand output> | sh   (in cdktf.out/stacks/spot-batch-gcp: pipes the job JSON
//   into gcloud batch jobs submit ... --config=-)
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { GcpBatchInference } from 'spot-inference-constructs/gcp';

/** Settings of the example. */
export interface GcpBatchExampleStackProps {
  /** @default 'my-gcp-project' */
  readonly project?: string;
  /** @default 'us-central1' */
  readonly region?: string;
}

export class GcpBatchExampleStack extends TerraformStack {
  public readonly batch: GcpBatchInference;

  constructor(scope: Construct, id: string, props: GcpBatchExampleStackProps = {}) {
    super(scope, id);
    const project = props.project ?? 'my-gcp-project';
    const region = props.region ?? 'us-central1';
    new GoogleProvider(this, 'google', { project, region });

    this.batch = new GcpBatchInference(this, 'embed', {
      project,
      region,
      namePrefix: 'embed',
      // One L4 per VM (built in: Cloud Batch installs the driver), Spot over three zones.
      machineType: 'g2-standard-8',
      zones: [`${region}-a`, `${region}-b`, `${region}-c`],
      image: `us-docker.pkg.dev/${project}/batch/embed:1`,
      command: ['node', '/app/worker.js'],
      // 64 shards, 8 at a time; each survives up to 5 preemptions and resumes from its checkpoint.
      taskCount: 64,
      parallelism: 8,
      maxRetryCount: 5,
      maxRunDurationSeconds: 6 * 3600,
      cpuMilli: 6000,
      memoryMib: 24576,
    });
  }
}
