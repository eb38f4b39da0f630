// Least privilege of the on-demand fallback controller: the only writes are the sizes of the groups it owns
// (fallback and spare, in every region it drives), the spare groups' subnets (and, when it steers them, their
// instance types), and its state parameter.
import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { acknowledgeNagFindings, nagResourceName } from './bundle';

/** The groups of one region the controller drives (the part of `OnDemandFallbackRegionGroups` it needs). */
export interface ControlledRegionGroups {
  readonly region: string;
  readonly fallbackGroupName: string;
  readonly spareGroupName?: string;
}

/** What the controller's role is granted on. */
export interface FallbackControllerGrants {
  /** This region's groups; first of `regions`. */
  readonly ownRegion: ControlledRegionGroups;
  /** ARN pattern of this region's fallback group. */
  readonly ownFallbackGroupArn: string;
  /** Every region the controller drives, this one first. */
  readonly regions: ControlledRegionGroups[];
  /** ARN of the controller's state parameter. */
  readonly stateParameterArn: string;
  /** With instance-type steering: the fleet's launch template and instance role, which Auto Scaling checks. */
  readonly steer?: { readonly launchTemplateId?: string; readonly instanceRoleArn: string };
}

/** ARN pattern of the Auto Scaling group `name` (its UUID is `*`), in `region` (default: the stack's). */
export function autoScalingGroupArn(stack: Stack, name: string, region?: string): string {
  return stack.formatArn({
    service: 'autoscaling',
    ...(region !== undefined ? { region } : {}),
    resource: 'autoScalingGroup',
    resourceName: `*:autoScalingGroupName/${name}`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** Adds the controller's statements to `role` and acknowledges the cdk-nag findings they raise, with the reasons. */
export function grantFallbackController(role: iam.Role, grants: FallbackControllerGrants): void {
  const stack = Stack.of(role);
  const groupArn = (r: ControlledRegionGroups, name: string): string => autoScalingGroupArn(stack, name, r.region);
  const { ownRegion, regions } = grants;
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'ResizeItsOwnGroupsOnly',
    actions: ['autoscaling:SetDesiredCapacity'],
    resources: regions.flatMap((r) => [r === ownRegion ? grants.ownFallbackGroupArn : groupArn(r, r.fallbackGroupName), ...(r.spareGroupName ? [groupArn(r, r.spareGroupName)] : [])]),
  }));
  const spareArns = regions.filter((r) => r.spareGroupName).map((r) => groupArn(r, r.spareGroupName!));
  if (spareArns.length > 0) {
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'SteerItsSpareGroupsOnly',
      actions: ['autoscaling:UpdateAutoScalingGroup'],
      resources: spareArns,
    }));
  }
  if (grants.steer) grantLaunchFromFleetTemplate(role, grants.steer.launchTemplateId, grants.steer.instanceRoleArn);
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'ReadAndWriteItsStateOnly',
    actions: ['ssm:GetParameter', 'ssm:PutParameter'],
    resources: [grants.stateParameterArn],
  }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'DescribeActionsCannotBeScoped',
    actions: ['autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeScalingActivities', 'ec2:DescribeInstances'],
    resources: ['*'],
  }));
  const fallbackArns = [grants.ownFallbackGroupArn, ...regions.filter((r) => r !== ownRegion).map((r) => groupArn(r, r.fallbackGroupName))];
  acknowledgeNagFindings(role, [
    {
      rule: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'autoscaling:DescribeAutoScalingGroups, autoscaling:DescribeScalingActivities and ec2:DescribeInstances support no resource-level permissions; the only writes are scoped to the groups the controller owns and the state parameter (with steerInstanceTypes, ec2:RunInstances is conditioned on the fleet launch template)',
    },
    ...[...fallbackArns, ...spareArns].map((arn) => ({
      rule: `AwsSolutions-IAM5[Resource::${nagResourceName(stack.resolve(arn))}]`,
      reason: "An Auto Scaling group ARN holds the group's generated UUID, unknown at synth, so the ARN has a * there; it is pinned to one group the controller owns by autoScalingGroupName",
    })),
  ]);
}

/** Auto Scaling validates that the caller of UpdateAutoScalingGroup with a launch template may launch from it. */
function grantLaunchFromFleetTemplate(role: iam.Role, launchTemplateId: string | undefined, instanceRoleArn: string): void {
  const stack = Stack.of(role);
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'LaunchFromTheFleetTemplateOnly',
    actions: ['ec2:RunInstances'],
    resources: ['*'],
    conditions: { ArnLike: { 'ec2:LaunchTemplate': stack.formatArn({ service: 'ec2', resource: 'launch-template', resourceName: launchTemplateId ?? '*' }) } },
  }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'PassTheFleetInstanceRoleOnly',
    actions: ['iam:PassRole'],
    resources: [instanceRoleArn],
    conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
  }));
}
