import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Annotations, App, Stack, Stage } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';

const root = join(__dirname, '..', '..');

/** What scripts/strict-check.mjs (used by npm run synth) finds in an assembly, and its exit code. */
function check(dir: string): { status: number; output: string } {
  try {
    const output = execFileSync(process.execPath, [join(root, 'scripts', 'strict-check.mjs'), dir], { encoding: 'utf8', stdio: 'pipe' });
    return { status: 0, output };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { status: err.status, output: err.stdout + err.stderr };
  }
}

function synth(build: (app: App) => void): string {
  const outdir = mkdtempSync(join(tmpdir(), 'strict-'));
  const app = new App({ outdir });
  build(app);
  app.synth();
  return outdir;
}

describe('the cdk synth --strict check of npm run synth', () => {
  test('finds a warning of a stack (written to its own metadata file) and of a stack inside a stage, and fails', () => {
    const dir = synth((app) => {
      const s = new Stack(app, 'Top');
      new sqs.Queue(s, 'Q');
      Annotations.of(s).addWarningV2('test:top', 'top-level warning');
      const stage = new Stage(app, 'Prod');
      const inner = new Stack(stage, 'Inner');
      new sqs.Queue(inner, 'Q');
      Annotations.of(inner).addWarningV2('test:inner', 'nested warning');
    });
    const r = check(dir);
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/warning: \/Top: top-level warning \[ack: test:top\]/);
    expect(r.output).toMatch(/warning: \/Prod\/Inner: nested warning \[ack: test:inner\]/);
    expect(r.output).toMatch(/2 warning\(s\): cdk synth --strict would fail/);
  });

  test('passes an assembly without warnings; infos and errors-free output are not warnings', () => {
    const dir = synth((app) => {
      const s = new Stack(app, 'Clean');
      new sqs.Queue(s, 'Q');
      Annotations.of(s).addInfo('just information');
    });
    const r = check(dir);
    expect(r.status).toBe(0);
    expect(r.output).toMatch(/no warnings in/);
  });
});
