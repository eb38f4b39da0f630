import { Token } from 'cdktf';

/**
 * A number as text inside a rendered string (`PT5M`, a port list, a formula): a deploy-time number (a
 * `TerraformVariable`) goes in as its Terraform reference (`${var.x}`), never as cdktf's encoded double, which
 * `String()` or a template literal would print as a huge negative number.
 */
export function numberText(x: number): string {
  return Token.isUnresolved(x) ? Token.asString(x) : String(x);
}
