/**
 * Sample events as AWS documents them, with the documentation's placeholders (`yyyy-mm-ddThh:mm:ssZ`,
 * `auto-scaling-group-arn`) filled in with concrete values. Sources:
 * - Spot warning: EC2 User Guide, "Spot Instance interruption notices"
 *   https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html
 * - Rebalance recommendation: EC2 User Guide, "EC2 instance rebalance recommendations"
 * - State change: Lambda Developer Guide, "Process Amazon EC2 lifecycle events"
 *   https://docs.aws.amazon.com/lambda/latest/dg/services-ec2.html
 * - Terminate lifecycle action and launch unsuccessful: EC2 Auto Scaling User Guide, "event reference"
 *   https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-event-reference.html
 * - AWS Health: AWS Health User Guide, "AWS Health events Amazon EventBridge schema"
 */
import type { EventBridgeEnvelope } from '../../../../lib/handlers/aws/events';

export const INSTANCE_ID = 'i-1234567890abcdef0';
export const ASG_NAME = 'my-asg';
export const HOOK_NAME = 'my-lifecycle-hook';
export const TG1 = 'arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/api/0123456789abcdef';
export const TG2 = 'arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/grpc/fedcba9876543210';
export const EVENT_TIME = '2026-11-27T12:00:00Z';
export const EVENT_TIME_MS = Date.parse(EVENT_TIME);

export function spotWarning(over: Partial<EventBridgeEnvelope> = {}): EventBridgeEnvelope {
  return {
    version: '0',
    id: '12345678-1234-1234-1234-123456789012',
    'detail-type': 'EC2 Spot Instance Interruption Warning',
    source: 'aws.ec2',
    account: '123456789012',
    time: EVENT_TIME,
    region: 'us-east-2',
    resources: [`arn:aws:ec2:us-east-2:123456789012:instance/${INSTANCE_ID}`],
    detail: { 'instance-id': INSTANCE_ID, 'instance-action': 'terminate' },
    ...over,
  };
}

export function rebalance(over: Partial<EventBridgeEnvelope> = {}): EventBridgeEnvelope {
  return {
    version: '0',
    id: '12345678-1234-1234-1234-123456789013',
    'detail-type': 'EC2 Instance Rebalance Recommendation',
    source: 'aws.ec2',
    account: '123456789012',
    time: EVENT_TIME,
    region: 'us-east-2',
    resources: [`arn:aws:ec2:us-east-2:123456789012:instance/${INSTANCE_ID}`],
    detail: { 'instance-id': INSTANCE_ID },
    ...over,
  };
}

export function stateChange(state: string, over: Partial<EventBridgeEnvelope> = {}): EventBridgeEnvelope {
  return {
    version: '0',
    id: `b6ba298a-7732-2226-xmpl-976312c1a050-${state}`,
    'detail-type': 'EC2 Instance State-change Notification',
    source: 'aws.ec2',
    account: '111122223333',
    time: EVENT_TIME,
    region: 'us-east-1',
    resources: [`arn:aws:ec2:us-east-1:111122223333:instance/${INSTANCE_ID}`],
    detail: { 'instance-id': INSTANCE_ID, state },
    ...over,
  };
}

export function terminateAction(over: Partial<EventBridgeEnvelope> = {}, detail: Record<string, unknown> = {}): EventBridgeEnvelope {
  return {
    version: '0',
    id: '12345678-1234-1234-1234-123456789014',
    'detail-type': 'EC2 Instance-terminate Lifecycle Action',
    source: 'aws.autoscaling',
    account: '123456789012',
    time: EVENT_TIME,
    region: 'us-west-2',
    resources: [`arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:59fcbb81-bd02-485d-80ce-563ef5b237bf:autoScalingGroupName/${ASG_NAME}`],
    detail: {
      LifecycleActionToken: '87654321-4321-4321-4321-210987654321',
      AutoScalingGroupName: ASG_NAME,
      LifecycleHookName: HOOK_NAME,
      EC2InstanceId: INSTANCE_ID,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      NotificationMetadata: 'additional-info',
      Origin: 'AutoScalingGroup',
      Destination: 'EC2',
      ...detail,
    },
    ...over,
  };
}

export function launchUnsuccessful(group = ASG_NAME): EventBridgeEnvelope {
  return {
    version: '0',
    id: '12345678-1234-1234-1234-123456789015',
    'detail-type': 'EC2 Instance Launch Unsuccessful',
    source: 'aws.autoscaling',
    account: '123456789012',
    time: EVENT_TIME,
    region: 'us-west-2',
    resources: ['arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:59fcbb81:autoScalingGroupName/my-asg'],
    detail: {
      StatusCode: 'Failed',
      AutoScalingGroupName: group,
      ActivityId: '87654321-4321-4321-4321-210987654321',
      Details: { 'Availability Zone': 'us-west-2b', 'Subnet ID': 'subnet-12345678' },
      RequestId: '12345678-1234-1234-1234-123456789012',
      StatusMessage: 'We currently do not have sufficient g5.xlarge capacity in the Availability Zone you requested (us-west-2b).',
      EndTime: EVENT_TIME,
      EC2InstanceId: '',
      StartTime: EVENT_TIME,
      Cause: 'At 2026-11-27T12:00:00Z an instance was started in response to a difference between desired and actual capacity',
    },
  };
}

export function healthScheduledChange(instanceIds: string[], over: Record<string, unknown> = {}): EventBridgeEnvelope {
  return {
    version: '0',
    id: '7bf73129-1428-4cd3-a780-95db273d1602',
    'detail-type': 'AWS Health Event',
    source: 'aws.health',
    account: '123456789012',
    time: EVENT_TIME,
    region: 'us-east-1',
    resources: instanceIds,
    detail: {
      eventArn: 'arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED_ABC123-DEF456',
      service: 'EC2',
      eventScopeCode: 'ACCOUNT_SPECIFIC',
      communicationId: '1234abc01232a4012345678-1',
      lastUpdatedTime: 'Fri, 27 Nov 2026 12:00:00 GMT',
      statusCode: 'upcoming',
      eventRegion: 'us-east-1',
      eventTypeCode: 'AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED',
      eventTypeCategory: 'scheduledChange',
      startTime: 'Fri, 11 Dec 2026 12:00:00 GMT',
      eventDescription: [{ language: 'en_US', latestDescription: 'EC2 has detected degradation of the underlying hardware hosting your instance.' }],
      affectedEntities: instanceIds.map((entityValue) => ({ entityValue })),
      ...over,
    },
  };
}
