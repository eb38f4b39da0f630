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
 */
export const CLOUD_PROFILES: Record<Cloud, CloudProfile> = {
  [Cloud.AWS]: {
    cloud: Cloud.AWS,
    displayName: 'AWS',
    noticeSeconds: 120,
    defaultDrainBudgetSeconds: 45,
    defaultDeregistrationDelaySeconds: 30,
    // Attribute-based selection (instanceRequirements) is a launch template override of the mixed instances policy.
    unsupported: [],
  },
  [Cloud.GCP]: {
    cloud: Cloud.GCP,
    displayName: 'Google Cloud',
    noticeSeconds: 30,
    defaultDrainBudgetSeconds: 10,
    defaultDeregistrationDelaySeconds: 10,
    unsupported: [
      {
        feature: 'instanceRequirements',
        reason: 'managed instance groups pick from named machine types',
        fix: 'list them in instanceTypes instead, e.g. ["g2-standard-8", "g2-standard-12"]',
      },
    ],
  },
  [Cloud.AZURE]: {
    cloud: Cloud.AZURE,
    displayName: 'Azure',
    noticeSeconds: 30,
    defaultDrainBudgetSeconds: 10,
    defaultDeregistrationDelaySeconds: 10,
    unsupported: [
      {
        feature: 'instanceRequirements',
        reason: 'a scale set takes VM sizes by name',
        fix: 'list them in instanceTypes instead, e.g. ["Standard_NC4as_T4_v3", "Standard_NC8as_T4_v3"]',
      },
    ],
  },
};

/** The notice and drain defaults of each cloud (the limits part of {@link CLOUD_PROFILES}). */
export const CLOUD_LIMITS: Record<Cloud, CloudLimits> = CLOUD_PROFILES;
