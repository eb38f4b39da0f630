// Type-aware lint of the code that runs in the cloud and on instances: a forgotten `await` in a drain hook
// loses requests, so floating and misused promises are errors.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'cdk.out/**', 'cdktf.out/**', '**/cdktf.out/**', 'bin/**', 'scripts/**', '*.js', '*.mjs'] },
  {
    files: ['lib/**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    files: ['lib/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['aws-cdk-lib', 'aws-cdk-lib/*', 'cdktf', 'cdktf/*', 'constructs', '@cdktf/*'], message: 'lib/ is the cloud-neutral core and runtime: IaC imports belong in constructs/.' },
          ],
        },
      ],
    },
  },
  {
    files: ['constructs/**/*.ts'],
    extends: [tseslint.configs.base],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: '@cdktf/provider-google', message: "Import provider resources by deep path ('@cdktf/provider-google/lib/<resource>'): the root loads ~1,500 modules." },
            { name: '@cdktf/provider-azurerm', message: "Import provider resources by deep path ('@cdktf/provider-azurerm/lib/<resource>'): the root loads ~1,500 modules." },
          ],
        },
      ],
    },
  },
);
