import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { AwsSdkClient } from './aws-sdk-client';

/** What {@link completeLifecycleAction} needs. */
export interface CompleteLifecycleActionParams {
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  readonly instanceId: string;
  /** Region of the group; used only when no client is given. */
  readonly region?: string;
  /** A client to use (tests pass one wrapped by aws-sdk-client-mock). @default - a client with the instance role's credentials */
  readonly client?: AwsSdkClient;
}

/** Outcome of {@link completeLifecycleAction}. */
export type CompleteLifecycleActionOutcome = 'completed' | 'no-active-action';

/**
 * Completes the terminate lifecycle action of this instance with `CONTINUE`, so Auto Scaling stops waiting
 * for the heartbeat timeout. The SDK is loaded only here, on AWS, when it is needed: the agent's memory
 * stays small on every other path. An action that is no longer active (already completed, timed out) is
 * success: the call is idempotent.
 */
export async function completeLifecycleAction(params: CompleteLifecycleActionParams): Promise<CompleteLifecycleActionOutcome> {
  const sdk = await import('@aws-sdk/client-auto-scaling');
  const client = (params.client as AutoScalingClient | undefined) ?? new sdk.AutoScalingClient({ region: params.region, maxAttempts: 3 });
  try {
    await client.send(
      new sdk.CompleteLifecycleActionCommand({
        AutoScalingGroupName: params.autoScalingGroupName,
        LifecycleHookName: params.lifecycleHookName,
        InstanceId: params.instanceId,
        LifecycleActionResult: 'CONTINUE',
      }),
    );
    return 'completed';
  } catch (err) {
    const e = err as { name?: string; message?: string };
    if (e.name === 'ValidationError' && /No active Lifecycle Action found/i.test(e.message ?? '')) return 'no-active-action';
    throw err;
  }
}
