import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { drainHttpServer, trackHttpServer } from '../../../lib/runtime/drain-http-server';
import { memoryLogger } from './support/collect';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function slowServer() {
  const server = http.createServer((req, res) => {
    const ms = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? '0');
    const t = setTimeout(() => res.end('done'), ms);
    res.on('close', () => clearTimeout(t));
  });
  trackHttpServer(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

function get(port: number, path: string, agent?: http.Agent): Promise<{ status: number; body: string; connection?: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: agent ?? false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

test('in-flight requests finish, new connections are refused, keep-alive connections close after their response', async () => {
  const { server, port } = await slowServer();
  const agent = new http.Agent({ keepAlive: true });
  await get(port, '/?ms=0', agent); // leaves an idle keep-alive connection
  const inflight = [get(port, '/?ms=300', agent), get(port, '/?ms=600', agent)];
  await sleep(50);
  const { log, messages } = memoryLogger();
  const drained = drainHttpServer(server, { deadline: new Date(Date.now() + 2000), log });
  await sleep(20);
  await expect(get(port, '/?ms=0')).rejects.toThrow(/ECONNREFUSED/);
  const answers = await Promise.all(inflight);
  expect(answers.map((a) => a.body)).toEqual(['done', 'done']);
  // Told the client the connection closes with this response.
  expect(answers.map((a) => a.connection)).toEqual(['close', 'close']);
  const result = await drained;
  expect(result).toMatchObject({ inFlightAtStart: 2, completed: 2, cut: [], clean: true });
  expect(result.durationMs).toBeGreaterThanOrEqual(500);
  expect(result.durationMs).toBeLessThan(1500);
  expect(messages()).toEqual(['draining HTTP server: no new connections; waiting for in-flight requests', 'HTTP server drained']);
  agent.destroy();
});

test('a request longer than the deadline is cut at the deadline, and the log says so', async () => {
  const { server, port } = await slowServer();
  const long = get(port, '/generate?ms=5000').catch((e: Error) => e);
  const short = get(port, '/?ms=100');
  await sleep(50);
  const { log, lines } = memoryLogger();
  const started = Date.now();
  const result = await drainHttpServer(server, { deadline: new Date(Date.now() + 400), log });
  expect(Date.now() - started).toBeLessThan(1000);
  expect((await short).body).toBe('done');
  expect(await long).toMatchObject({ message: expect.stringMatching(/socket hang up|ECONNRESET/) });
  expect(result.clean).toBe(false);
  expect(result.cut).toEqual([{ method: 'GET', url: '/generate?ms=5000', elapsedMs: expect.any(Number) }]);
  const cutLine = lines.find((l) => l.msg === 'request cut at the drain deadline');
  expect(cutLine).toMatchObject({ level: 'warn', method: 'GET', url: '/generate?ms=5000' });
  expect(lines.at(-1)).toMatchObject({ msg: 'HTTP server drained; 1 request(s) cut at the deadline', cut: 1 });
  expect(server.listening).toBe(false);
});

test('draining an idle server resolves at once; draining twice returns the same drain', async () => {
  const { server } = await slowServer();
  const a = drainHttpServer(server, { deadline: new Date(Date.now() + 5000) });
  const b = drainHttpServer(server, { deadline: new Date(Date.now() + 1) });
  expect(a).toBe(b);
  const result = await a;
  expect(result).toMatchObject({ inFlightAtStart: 0, cut: [], clean: true });
  expect(result.durationMs).toBeLessThan(500);
});

test('works on a server that was not tracked from the start: in-flight requests still finish', async () => {
  const server = http.createServer((_req, res) => setTimeout(() => res.end('late'), 300));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const pending = get(port, '/');
  await sleep(50);
  const result = await drainHttpServer(server, { deadline: new Date(Date.now() + 2000) });
  expect((await pending).body).toBe('late');
  expect(result.clean).toBe(true);
  expect(result.durationMs).toBeGreaterThanOrEqual(200);
});
