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
 * A spec feature a cloud cannot honour, as data: `planFleet` refuses a fleet that sets it, with
 * `FleetSpecErrorCode.INSTANCE_REQUIREMENTS_UNSUPPORTED` and the message
 * `<feature> is not supported on <cloud> (<reason>); <fix>`.
 */
export interface UnsupportedFeature {
  /** The `FleetSpec` prop, as the user spells it (`instanceRequirements`). */
  readonly feature: string;
  /** Why the cloud cannot honour it (what its primitives take instead). */
  readonly reason: string;
  /** What to do instead. */
  readonly fix: string;
}

/**
 * Everything the cloud-neutral resolution (`planFleet`) needs to know about one cloud, as data: its notice, the
 * drain defaults that fit inside it, and the spec features it cannot honour (the way SkyPilot's per-cloud
 * adapters declare theirs). The renderers in `constructs/<cloud>` add only what their cloud's primitives check.
 */
export interface CloudProfile extends CloudLimits {
  /** The cloud. */
  readonly cloud: Cloud;
  /** Spec features the cloud cannot honour, with the reason; empty when it honours every one. */
  readonly unsupported: UnsupportedFeature[];
}

/**
 * Notice windows as each cloud documents them:
 * AWS spot interruption warning 2 minutes; Google Cloud preemption 30 s (ACPI soft-off);
 * Azure Scheduled Events `Preempt` at least 30 s.
 * Defaults leave a margin of a third of the notice for detection and the replacement's bookkeeping.
 * (The limits part of each cloud's `CLOUD_PROFILES` entry; kept apart so that the on-instance agent, which needs
 * only these, does not carry the rest.)
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
