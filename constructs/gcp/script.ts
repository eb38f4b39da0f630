/**
 * Terraform reads `${...}` and `%{...}` in every string as template syntax. Shell scripts use both
 * (`${VAR}`), so literal text is escaped (`$${`, `%%{`) while cdktf token markers (`${TfToken[...]}`) are
 * kept, so references to other resources still resolve.
 */
export function escapeTerraformTemplate(text: string): string {
  return text.replace(/\$\{(?!TfToken\[)/g, () => '$${').replace(/%\{/g, () => '%%{');
}
