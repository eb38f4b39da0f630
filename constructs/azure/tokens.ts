import { createHash } from 'node:crypto';
import { Token } from 'cdktf';
import { IConstruct } from 'constructs';

/**
 * A number as text inside a rendered string (`PT5M`, a port list, a formula): a deploy-time number (a
 * `TerraformVariable`) goes in as its Terraform reference (`${var.x}`), never as cdktf's encoded double, which
 * `String()` or a template literal would print as a huge negative number.
 */
export function numberText(x: number): string {
  return Token.isUnresolved(x) ? Token.asString(x) : String(x);
}

/**
 * A string the user wrote, as a Terraform string literal: every string in the synthesized JSON is a Terraform
 * template, so a shell `${VAR}` or `%{` must be escaped (`$${`, `%%{`) or Terraform reads it as an interpolation.
 * Strings holding cdktf tokens are left alone (their `${...}` are the references).
 */
export function terraformLiteral(s: string): string {
  if (Token.isUnresolved(s)) return s;
  // A replacer function: in a replacement string `$$` would stand for one `$`.
  return s.replace(/\$\{/g, () => '$${').replace(/%\{/g, () => '%%{');
}

/**
 * A hex SHA-256 for names that must stay put from one synth to the next (storage accounts, Function Apps, namespaces):
 * the construct's path and the given parts (the resource group, the region), joined by `separator`. A part that is a
 * token counts as empty: a token's text (`${TfToken[TOKEN.n]}`) numbers the tokens the app made before it, so
 * hashing it would rename, and so replace, the resource whenever a construct is added earlier in the app.
 */
export function stableNameHash(scope: IConstruct, parts: readonly string[], separator = '/'): string {
  return stableNameHashOfPath(scope.node.path, parts, separator);
}

/** {@link stableNameHash} of a construct not created yet, by the path it will have. */
export function stableNameHashOfPath(path: string, parts: readonly string[], separator = '/'): string {
  const plain = parts.map((x) => (Token.isUnresolved(x) ? '' : x));
  return createHash('sha256').update([path, ...plain].join(separator)).digest('hex');
}
