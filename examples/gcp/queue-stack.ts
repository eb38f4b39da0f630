// Queue workers on Google Cloud spot VMs: a Pub/Sub topic and subscription with a dead-letter topic, spot
// L4 workers (no firewall opening) autoscaled on undelivered messages per VM, and a GCS checkpoint bucket.
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { TerraformOutput, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { GcpQueueWorkerFleet } from 'spot-inference-constructs/gcp';

/** Settings of the example. */
export interface GcpQueueExampleStackProps {
  /** @default 'my-gcp-project' */
  readonly project?: string;
  /** @default 'us-central1' */
  readonly region?: string;
}

export class GcpQueueExampleStack extends TerraformStack {
  public readonly workers: GcpQueueWorkerFleet;

  constructor(scope: Construct, id: string, props: GcpQueueExampleStackProps = {}) {
    super(scope, id);
    const project = props.project ?? 'my-gcp-project';
    const region = props.region ?? 'us-central1';
    new GoogleProvider(this, 'google', { project, region });

    this.workers = new GcpQueueWorkerFleet(this, 'embed', {
      project,
      region,
      namePrefix: 'embed',
      instanceTypes: ['g2-standard-8', 'g2-standard-12'],
      zones: [`${region}-a`, `${region}-b`, `${region}-c`],
      minCapacity: 0,
      desiredCapacity: 0,
      maxCapacity: 6,
      onDemandBaseCapacity: 0,
      // Up to 2 minutes per message, up to 10 minutes of waiting: 5 undelivered messages per VM.
      messageProcessingSeconds: 120,
      acceptableLatencySeconds: 600,
      maxDeliveryAttempts: 5,
      sourceImage: 'projects/deeplearning-platform-release/global/images/family/common-cu124-ubuntu-2204-py310',
      bootCommands: [
        '# The worker runs as a systemd service, so a preemption (ACPI soft-off) sends it SIGTERM and it hands',
        '# its messages back; it reads the subscription and bucket from /etc/queue-worker.env.',
        'cat > /etc/systemd/system/queue-worker.service <<UNIT',
        '[Service]',
        'EnvironmentFile=/etc/queue-worker.env',
        'ExecStart=/usr/bin/docker run --rm --gpus all --env-file /etc/queue-worker.env --name queue-worker us-docker.pkg.dev/my-gcp-project/workers/embed:1',
        'ExecStop=/usr/bin/docker stop -t 25 queue-worker',
        'Restart=on-failure',
        '[Install]',
        'WantedBy=multi-user.target',
        'UNIT',
        'systemctl daemon-reload',
        'systemctl enable --now queue-worker.service',
      ],
    });

    new TerraformOutput(this, 'topic', { value: this.workers.topic.id });
    new TerraformOutput(this, 'subscription', { value: this.workers.subscription.id });
    new TerraformOutput(this, 'checkpoint_bucket', { value: this.workers.checkpointBucket.name });
  }
}
