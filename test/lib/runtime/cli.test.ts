import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CliError, loadAgentConfig, main, parseArgs } from '../../../lib/runtime/cli';
import { httpRequest } from '../../../lib/runtime/http';
import { freePort, waitFor } from './support/loopback';
import { AzureScheduledEventsEmulator } from './support/metadata-emulators';

const root = join(__dirname, '..', '..', '..');
const bundle = join(root, 'dist', 'runtime', 'spot-agent', 'index.js');
const bin = join(root, 'bin', 'spot-agent.js');
// What the Google Cloud and Azure constructs install: the same agent without the AWS SDK.
const portable = join(root, 'dist', 'runtime', 'spot-agent-portable', 'index.js');

beforeAll(async () => {
  // `npm test` builds the bundles first; build just these when the test runs alone.
  const { build } = await import('esbuild');
  const options = { bundle: true, minify: true, platform: 'node' as const, target: 'node20', format: 'cjs' as const, logLevel: 'warning' as const };
  if (!existsSync(bundle)) await build({ ...options, entryPoints: [join(root, 'lib/runtime/spot-agent.entry.ts')], outfile: bundle });
  if (!existsSync(portable)) {
    await build({ ...options, entryPoints: [join(root, 'lib/runtime/spot-agent-portable.entry.ts')], outfile: portable, external: ['@aws-sdk/client-auto-scaling'] });
  }
}, 60_000);

describe('parseArgs / loadAgentConfig', () => {
  test('flags in kebab case override the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spot-agent-cli-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ cloud: 'aws', servingPort: 8080, healthPath: '/healthz', healthPort: 9901, drainBudgetSeconds: 45, drainMode: 'health' }));
    const args = parseArgs(['--config', file, '--drain-budget-seconds=30', '--drain-on-rebalance', '--log-level', 'debug']);
    expect(args.logLevel).toBe('debug');
    expect(loadAgentConfig(args)).toMatchObject({ cloud: 'aws', servingPort: 8080, healthPath: '/healthz', drainBudgetSeconds: 30, drainOnRebalance: true });
  });

  test('without a file, --cloud and --serving-port are enough', () => {
    expect(loadAgentConfig(parseArgs(['--cloud', 'azure', '--serving-port', '9000']))).toEqual({
      cloud: 'azure',
      servingPort: 9000,
      healthPath: '/health',
      healthPort: 9901,
      drainMode: 'health',
      drainBudgetSeconds: 10,
    });
  });

  test.each([
    [['--nope', '1'], /unknown flag --nope \(see --help\)/],
    [['serve'], /unexpected argument 'serve'/],
    [['--serving-port'], /--serving-port needs a value/],
    [['--serving-port', 'eighty'], /--serving-port 'eighty' is not a number/],
    [['--log-level', 'loud'], /--log-level 'loud' is not one of debug, info, warn, error/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(CliError);
    expect(() => parseArgs(argv)).toThrow(message);
  });

  test.each([
    [[], /no cloud: pass --config <file> or --cloud aws\|gcp\|azure/],
    [['--cloud', 'gcp'], /no serving port/],
    [['--config', '/nonexistent.json'], /cannot read the config file \/nonexistent.json/],
  ])('loadAgentConfig refuses %j', (argv, message) => {
    expect(() => loadAgentConfig(parseArgs(argv))).toThrow(message);
  });
});

test('main: exit code 2 and a message naming the problem for a bad config; --help and --print-config', async () => {
  const out: string[] = [];
  const err: string[] = [];
  const io = { stdout: (l: string) => out.push(l), stderr: (l: string) => err.push(l) };
  expect(await main(['--cloud', 'azure', '--serving-port', '8080', '--drain-budget-seconds', '60'], io)).toBe(2);
  expect(err[0]).toMatch(/^spot-agent: spot-agent config: drainBudgetSeconds \(60 s\) is longer than the 30 s Azure notice; lower it to at most 25 \[DRAIN_BUDGET_EXCEEDED\]/);
  expect(await main(['--bogus'], io)).toBe(2);
  expect(err[1]).toBe('spot-agent: unknown flag --bogus (see --help)');
  expect(await main(['--help'], io)).toBe(0);
  expect(out[0]).toMatch(/^Usage: spot-agent/);
  expect(await main(['--cloud', 'gcp', '--serving-port', '8080', '--print-config'], io)).toBe(0);
  expect(JSON.parse(out[1])).toMatchObject({ cloud: 'gcp', drainBudgetSeconds: 10, pollIntervalSeconds: 2 });
  // A server preset from the command line; vLLM signalled without a shutdown timeout would abort its streams.
  const vllm = ['--cloud', 'aws', '--serving-port', '8000', '--server', 'vllm', '--pid-file', '/run/vllm.pid'];
  expect(await main([...vllm, '--server-shutdown-timeout-seconds', '25', '--print-config'], io)).toBe(0);
  expect(JSON.parse(out[2])).toMatchObject({ server: 'vllm', serverShutdownTimeoutSeconds: 25, metricsUrl: 'http://127.0.0.1:8000/metrics', upstreamHealthPath: '/health' });
  expect(await main([...vllm, '--print-config'], io)).toBe(2);
  expect(err[2]).toMatch(/vLLM's default --shutdown-timeout 0: vLLM aborts every in-flight request on SIGTERM; start it with --shutdown-timeout 25/);
});

test.each([
  ['the bin (full bundle)', () => bin],
  ['the portable bundle (no AWS SDK, as Google Cloud and Azure install it)', () => portable],
])('%s: serves health, drains on an Azure Preempt, acknowledges it and exits 0 with JSON logs', async (_name, program) => {
  const se = await new AzureScheduledEventsEmulator().start();
  const healthPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'spot-agent-bin-'));
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({ cloud: 'azure', servingPort: await freePort(), healthPath: '/health', healthPort, healthHost: '127.0.0.1', drainBudgetSeconds: 0.5, serveThroughNotice: false, drainMode: 'health', metadataEndpoint: se.url, safetyMarginSeconds: 0.5, stateDirectory: join(dir, 'state') }),
  );
  const child = spawn(process.execPath, [program(), '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await waitFor(() => stdout.includes('spot-agent started'), 10_000, 'the agent to start');
    expect((await httpRequest(`http://127.0.0.1:${healthPort}/health`)).status).toBe(503); // no inference server yet
    const e = se.schedule('Preempt', 5000);
    expect(await exited).toBe(0);
    expect(se.acks.map((a) => a.eventId)).toEqual([e.EventId]);
    const logs = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['spot-agent started', 'interruption notice: draining', 'health endpoint now failing (503): the load balancer stops routing here', 'drained; exiting']),
    );
    expect(logs.every((l) => l.agent === 'spot-agent' && l.cloud === 'azure' && typeof l.time === 'string')).toBe(true);
  } finally {
    child.kill('SIGKILL');
    await se.stop();
  }
});

test('the portable bundle leaves the AWS SDK out: a fraction of the full one', () => {
  const { statSync, readFileSync } = require('node:fs') as typeof import('node:fs');
  expect(statSync(portable).size).toBeLessThan(statSync(bundle).size / 4);
  // the lifecycle completion's dynamic import stays a runtime import (it runs only on AWS)
  expect(readFileSync(portable, 'utf8')).toContain('import("@aws-sdk/client-auto-scaling")');
});

test('the bin prints a helpful message when the bundle is missing', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', `require('fs').existsSync(${JSON.stringify(bin)}) && console.log('ok')`]);
  expect(stdout.trim()).toBe('ok');
  const shim = join(mkdtempSync(join(tmpdir(), 'spot-agent-shim-')), 'bin');
  const { mkdirSync, copyFileSync } = await import('node:fs');
  mkdirSync(shim);
  copyFileSync(bin, join(shim, 'spot-agent.js'));
  const result = await promisify(execFile)(process.execPath, [join(shim, 'spot-agent.js'), '--help']).catch((e: { code: number; stderr: string }) => e);
  expect(result).toMatchObject({ code: 1, stderr: expect.stringMatching(/the agent bundle is missing .*\nBuild it with `npm run build:handlers`/) });
});
