#!/usr/bin/env node
// A loopback stand-in of an inference server, run as its own process (the agent signals it by PID):
//   node standin-server.js '{"preset":"vllm","port":0,"pidFile":"/tmp/x.pid","shutdownTimeoutSeconds":10}'
// It streams OpenAI-style server-sent events (`GET /v1/completions?ms=N`, a chunk every `tickMs`, then
// `data: [DONE]`), runs at most `maxRunning` streams at once (the rest wait, as in a continuous-batching
// scheduler), and speaks its preset's documented metrics and SIGTERM behaviour:
// - vllm:   /health; /metrics: vllm:num_requests_running / vllm:num_requests_waiting {model_name=...};
//           SIGTERM: new requests get 503; with --shutdown-timeout N it waits up to N s for the in-flight ones,
//           with 0 (vLLM's default) it aborts them at once.
// - sglang: /health; /metrics (only with enableMetrics): sglang:num_running_reqs / sglang:num_queue_reqs
//           {model_name,engine_type,tp_rank,pp_rank}; SIGTERM: refuses new, exits once no request is left.
// - tgi:    /health; /metrics: tgi_batch_current_size / tgi_queue_size; SIGTERM: refuses new, finishes for at most 90 s.
// - triton: /v2/health/ready; metrics on their own port (metricsPort): nv_inference_pending_request_count
//           {model,version} (queued only); SIGTERM: refuses new, waits --exit-timeout-secs (default 30).
// - generic: /health, no metrics; SIGTERM: stops accepting, exits once idle.
// A second SIGTERM aborts everything at once (as uvicorn and most servers do).
// It prints one JSON line per event on stdout: listening, request, done, aborted, refused, sigterm, exit.
'use strict';
const http = require('node:http');
const fs = require('node:fs');

const opts = JSON.parse(process.argv[2] || '{}');
const preset = opts.preset || 'generic';
const tickMs = opts.tickMs || 100;
const maxRunning = opts.maxRunning || 4;
const defaults = { vllm: 0, tgi: 90, triton: 30 };
const shutdownTimeout = opts.shutdownTimeoutSeconds ?? defaults[preset];
const healthPath = preset === 'triton' ? '/v2/health/ready' : '/health';
const say = (event, fields = {}) => process.stdout.write(JSON.stringify({ event, at: Date.now(), ...fields }) + '\n');

const running = new Set();
const waiting = [];
let shuttingDown = false;
let sigterms = 0;

function metricsText() {
  const r = running.size;
  const w = waiting.length;
  switch (preset) {
    case 'vllm':
      return [
        '# HELP vllm:num_requests_running Number of requests in model execution batches.',
        '# TYPE vllm:num_requests_running gauge',
        `vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} ${r.toFixed(1)}`,
        '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
        '# TYPE vllm:num_requests_waiting gauge',
        `vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} ${w.toFixed(1)}`,
        '# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.',
        '# TYPE vllm:kv_cache_usage_perc gauge',
        `vllm:kv_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.25`,
        '',
      ].join('\n');
    case 'sglang': {
      // Two tensor-parallel ranks report; the agent sums every label set, so split the counts over them.
      const labels = (rank) => `{model_name="Qwen/Qwen2.5-7B-Instruct",engine_type="unified",tp_rank="${rank}",pp_rank="0"}`;
      return [
        '# HELP sglang:num_running_reqs The number of running requests.',
        '# TYPE sglang:num_running_reqs gauge',
        `sglang:num_running_reqs${labels(0)} ${Math.ceil(r / 2)}.0`,
        `sglang:num_running_reqs${labels(1)} ${Math.floor(r / 2)}.0`,
        '# HELP sglang:num_queue_reqs The number of requests in the waiting queue.',
        '# TYPE sglang:num_queue_reqs gauge',
        `sglang:num_queue_reqs${labels(0)} ${w}.0`,
        `sglang:num_queue_reqs${labels(1)} 0.0`,
        '# HELP sglang:token_usage The token usage.',
        '# TYPE sglang:token_usage gauge',
        `sglang:token_usage${labels(0)} 0.28`,
        '',
      ].join('\n');
    }
    case 'tgi':
      return ['# TYPE tgi_batch_current_size gauge', `tgi_batch_current_size ${r}`, '# TYPE tgi_queue_size gauge', `tgi_queue_size ${w}`, '# TYPE tgi_request_count counter', 'tgi_request_count 12', ''].join('\n');
    case 'triton':
      return [
        '# HELP nv_inference_pending_request_count Instantaneous number of pending requests awaiting execution per-model.',
        '# TYPE nv_inference_pending_request_count gauge',
        `nv_inference_pending_request_count{model="llama",version="1"} ${w}`,
        '# HELP nv_inference_request_success Number of successful inference requests, all batch sizes',
        '# TYPE nv_inference_request_success counter',
        'nv_inference_request_success{model="llama",version="1"} 42',
        '',
      ].join('\n');
    default:
      return undefined;
  }
}

function startStream(job) {
  running.add(job);
  const { res, ms, id } = job;
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'x-served-by': opts.name || preset });
  const started = Date.now();
  let n = 0;
  job.timer = setInterval(() => {
    if (Date.now() - started >= ms) {
      clearInterval(job.timer);
      res.end('data: [DONE]\n\n');
      running.delete(job);
      say('done', { id, ms });
      next();
      return;
    }
    res.write(`data: ${JSON.stringify({ id, object: 'text_completion', choices: [{ index: 0, text: `tok${n++} ` }] })}\n\n`);
  }, tickMs);
}

function next() {
  while (running.size < maxRunning && waiting.length > 0) startStream(waiting.shift());
  if (shuttingDown) maybeExit();
}

function abortAll(reason) {
  for (const job of [...running, ...waiting]) {
    clearInterval(job.timer);
    say('aborted', { id: job.id, reason });
    job.res.destroy();
  }
  running.clear();
  waiting.length = 0;
}

function exit(code, reason) {
  say('exit', { reason });
  try {
    fs.unlinkSync(opts.pidFile);
  } catch {
    // no pid file
  }
  process.exit(code);
}

function maybeExit() {
  if (running.size === 0 && waiting.length === 0) exit(0, 'drained');
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url || '/', 'http://x');
  if (url.pathname === healthPath) {
    res.writeHead(shuttingDown ? 503 : 200).end(shuttingDown ? 'shutting down' : 'ok');
    return;
  }
  if (url.pathname === '/metrics' && preset !== 'triton') {
    const text = preset === 'sglang' && opts.enableMetrics === false ? undefined : metricsText();
    if (text === undefined) return void res.writeHead(404).end('Not Found');
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(text);
    return;
  }
  if (url.pathname === '/v1/completions') {
    const id = String(req.headers['x-req-id'] || url.searchParams.get('id') || '');
    if (shuttingDown) {
      say('refused', { id });
      res.writeHead(503, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'server is shutting down' }));
      return;
    }
    const job = { id, ms: Number(url.searchParams.get('ms') || '1000'), res };
    say('request', { id, ms: job.ms });
    res.on('close', () => {
      if (!res.writableFinished) {
        clearInterval(job.timer);
        running.delete(job);
        const i = waiting.indexOf(job);
        if (i >= 0) waiting.splice(i, 1);
        next();
      }
    });
    waiting.push(job);
    next();
    return;
  }
  res.writeHead(404).end();
});
server.keepAliveTimeout = 65_000;

let metricsServer;
if (preset === 'triton') {
  metricsServer = http.createServer((req, res) => {
    if ((req.url || '').split('?')[0] !== '/metrics') return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end(metricsText());
  });
}

process.on('SIGTERM', () => {
  sigterms++;
  say('sigterm', { count: sigterms, running: running.size, waiting: waiting.length });
  if (sigterms > 1) {
    abortAll('second SIGTERM');
    return exit(1, 'second SIGTERM');
  }
  shuttingDown = true;
  if (preset === 'generic') server.close();
  if (preset === 'vllm' && shutdownTimeout === 0) {
    abortAll('--shutdown-timeout 0');
    return exit(0, 'aborted');
  }
  if (shutdownTimeout !== undefined) {
    setTimeout(() => {
      abortAll('shutdown timeout');
      exit(0, 'shutdown timeout');
    }, shutdownTimeout * 1000).unref();
  }
  maybeExit();
});

server.listen(opts.port || 0, '127.0.0.1', () => {
  const done = () => {
    if (opts.pidFile) fs.writeFileSync(opts.pidFile, String(process.pid));
    say('listening', { port: server.address().port, metricsPort: metricsServer ? metricsServer.address().port : undefined, pid: process.pid });
  };
  if (metricsServer) metricsServer.listen(opts.metricsPort || 0, '127.0.0.1', done);
  else done();
});
