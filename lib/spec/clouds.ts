/** The clouds the library renders a fleet on. */
export enum Cloud {
  AWS = 'aws',
  GCP = 'gcp',
  AZURE = 'azure',
}

/** What a cloud gives a spot instance before taking it back, and the drain defaults that fit inside it. */
export interface CloudLimits {
  /** Human name used in messages. */
  readonly displayName: string;
  /** Seconds between the interruption notice and the instance going away. */
  readonly noticeSeconds: number;
  /** Default time the inference server gets to finish in-flight requests. */
  readonly defaultDrainBudgetSeconds: number;
  /** Default time the load balancer keeps a deregistered target draining. */
  readonly defaultDeregistrationDelaySeconds: number;
}

/**
 * Notice windows as each cloud documents them:
 * AWS spot interruption warning 2 minutes; Google Cloud preemption 30 s (ACPI soft-off);
 * Azure Scheduled Events `Preempt` at least 30 s.
 * Defaults leave a margin of a third of the notice for detection and the replacement's bookkeeping.
 */
export const CLOUD_LIMITS: Record<Cloud, CloudLimits> = {
  [Cloud.AWS]: {
    displayName: 'AWS',
    noticeSeconds: 120,
    defaultDrainBudgetSeconds: 45,
    defaultDeregistrationDelaySeconds: 30,
  },
  [Cloud.GCP]: {
    displayName: 'Google Cloud',
    noticeSeconds: 30,
    defaultDrainBudgetSeconds: 10,
    defaultDeregistrationDelaySeconds: 10,
  },
  [Cloud.AZURE]: {
    displayName: 'Azure',
    noticeSeconds: 30,
    defaultDrainBudgetSeconds: 10,
    defaultDeregistrationDelaySeconds: 10,
  },
};
