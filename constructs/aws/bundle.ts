import fs = require('node:fs');
import path = require('node:path');
import { Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { prebuiltBundlePath } from '../../lib/runtime/bundles';

/**
 * Directory of a prebuilt Lambda bundle: `<package root>/dist/handlers/aws/<handler>` (built by
 * `npm run build:handlers` from `lib/handlers/aws/<handler>.entry.ts`). Works from the sources
 * (`constructs/aws/`) and from the compiled package (`dist/constructs/aws/`). Throws, naming the
 * construct and the fix, when the bundle is missing.
 *
 * @internal shared by the AWS constructs; not part of the public API.
 */
export function prebuiltHandlerBundle(handler: string, constructName: string): string {
  const bundle = prebuiltBundlePath(path.join('handlers', 'aws', handler));
  if (!fs.existsSync(path.join(bundle, 'index.js'))) {
    throw new Error(
      `${constructName}: the ${handler} function bundle ${path.join(bundle, 'index.js')} is missing; run npm run build:handlers (it bundles lib/handlers/aws/${handler}.entry.ts)`,
    );
  }
  return bundle;
}

/** A resolved CloudFormation value as cdk-nag names it in acknowledgement ids (`<AWS::Partition>`, `<Logical.Attr>`). */
export function nagResourceName(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.Ref === 'string') return `<${o.Ref}>`;
    const getAtt = o['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<${getAtt.join('.')}>`;
    const join = o['Fn::Join'];
    if (Array.isArray(join) && Array.isArray(join[1])) return (join[1] as unknown[]).map(nagResourceName).join(String(join[0]));
  }
  return JSON.stringify(v);
}

/** One reviewed cdk-nag finding: the rule id (with its finding, e.g. `AwsSolutions-IAM5[Resource::*]`) and why it is fine. */
export interface ReviewedFinding {
  readonly rule: string;
  readonly reason: string;
}

/**
 * Acknowledge cdk-nag findings on a construct in both spellings cdk-nag uses: `AwsSolutions-<rule>` when
 * run with `validateScope()`, `AwsSolutions::AwsSolutions-<rule>` when run as a synth plugin.
 */
export function acknowledgeNagFindings(scope: IConstruct, reviewed: ReviewedFinding[]): void {
  Validations.of(scope).acknowledge(
    ...reviewed.flatMap(({ rule, reason }) => [
      { id: rule, reason },
      { id: `AwsSolutions::${rule}`, reason },
    ]),
  );
}
