import { Token } from 'cdktf';

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
