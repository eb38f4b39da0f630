/**
 * What the agent knows about the inference servers people run: where their health endpoint is, which of
 * their own Prometheus metrics count the requests in flight, and how they shut down gracefully on SIGTERM.
 *
 * Sources (checked when this was written; each server documents its metrics on its own pages):
 * - vLLM: `/health`; `/metrics` on the serving port with the gauges `vllm:num_requests_running` and
 *   `vllm:num_requests_waiting` (docs.vllm.ai "Production Metrics"). On SIGTERM, with `--shutdown-timeout N`
 *   (vllm-project/vllm#34730, #36666), the API server rejects new requests and waits up to N s for the
 *   in-flight ones; the default `--shutdown-timeout 0` aborts them at once.
 * - SGLang: `/health`; `/metrics` on the serving port with `--enable-metrics`, gauges
 *   `sglang:num_running_reqs` and `sglang:num_queue_reqs` (docs.sglang.io "Production Metrics",
 *   `metrics_collector.py`). On SIGTERM the tokenizer manager sets `gracefully_exit` ("Draining requests and
 *   shutting down...") and its SIGTERM watchdog exits once no request is left; it has no timeout of its own.
 * - Text Generation Inference: `/health`; `/metrics` on the serving port with the gauges
 *   `tgi_batch_current_size` (running) and `tgi_queue_size` (waiting) (huggingface.co/docs/
 *   text-generation-inference/reference/metrics). On SIGTERM it stops taking requests and finishes the queued
 *   ones for at most 90 s, a fixed value (huggingface/text-generation-inference#2035).
 * - Triton Inference Server: `/v2/health/ready` (KServe v2 protocol); metrics on their own port,
 *   `http://127.0.0.1:8002/metrics`, with `nv_inference_pending_request_count` (requests queued, not yet
 *   executing; Triton has no gauge of executing requests). On SIGTERM it waits `--exit-timeout-secs`
 *   (default 30) for in-flight inferences, then exits.
 */

/** The inference server behind the agent; picks the health path, the idle metrics and the graceful drain. */
export enum ServerPreset {
  /** Any HTTP server: the agent proxies `healthCheck.path`, uses `idleUrl` if given, else waits the budget. */
  GENERIC = 'generic',
  /** vLLM's OpenAI-compatible server (`vllm serve`). */
  VLLM = 'vllm',
  /** SGLang (`sglang serve` / `python -m sglang.launch_server`, started with `--enable-metrics`). */
  SGLANG = 'sglang',
  /** Hugging Face Text Generation Inference (`text-generation-launcher`). */
  TGI = 'tgi',
  /** NVIDIA Triton Inference Server (`tritonserver`). */
  TRITON = 'triton',
}

/** The facts of one {@link ServerPreset}. */
export interface ServerPresetInfo {
  readonly preset: ServerPreset;
  /** Name used in messages. */
  readonly displayName: string;
  /** Health path the server serves (the agent proxies it). Undefined: the fleet's `healthCheck.path`. */
  readonly healthPath?: string;
  /** Where the metrics are: a path on the serving port, or a full URL when they live on their own port. */
  readonly metricsPath?: string;
  readonly metricsUrl?: string;
  /** Gauges of requests being processed; summed over every label set. */
  readonly runningMetrics: readonly string[];
  /** Gauges of requests queued; summed over every label set. */
  readonly waitingMetrics: readonly string[];
  /**
   * True when running + waiting = 0 proves the server idle. False for Triton, whose only gauge counts queued
   * requests: there, idle is proven by the process exiting after SIGTERM (needs `pidFile`).
   */
  readonly metricsProveIdle: boolean;
  /** The server finishes its in-flight requests on SIGTERM (its own graceful shutdown). */
  readonly drainsOnSigterm: boolean;
  /** The server's flag for the seconds it waits on SIGTERM; undefined when it has none (fixed or unbounded). */
  readonly shutdownTimeoutFlag?: string;
  /** Seconds the server waits on SIGTERM when the flag is not given; undefined: until idle. */
  readonly defaultShutdownTimeoutSeconds?: number;
  /** Where the metric names and the shutdown behaviour are documented. */
  readonly source: string;
}

/** Every preset, by value. */
export const SERVER_PRESETS: { readonly [preset: string]: ServerPresetInfo } = {
  [ServerPreset.GENERIC]: {
    preset: ServerPreset.GENERIC,
    displayName: 'a generic HTTP server',
    runningMetrics: [],
    waitingMetrics: [],
    metricsProveIdle: false,
    drainsOnSigterm: false,
    source: '-',
  },
  [ServerPreset.VLLM]: {
    preset: ServerPreset.VLLM,
    displayName: 'vLLM',
    healthPath: '/health',
    metricsPath: '/metrics',
    runningMetrics: ['vllm:num_requests_running'],
    waitingMetrics: ['vllm:num_requests_waiting'],
    metricsProveIdle: true,
    drainsOnSigterm: true,
    shutdownTimeoutFlag: '--shutdown-timeout',
    defaultShutdownTimeoutSeconds: 0,
    source: 'https://docs.vllm.ai/en/latest/usage/metrics.html; vllm-project/vllm#34730 (--shutdown-timeout)',
  },
  [ServerPreset.SGLANG]: {
    preset: ServerPreset.SGLANG,
    displayName: 'SGLang',
    healthPath: '/health',
    metricsPath: '/metrics',
    runningMetrics: ['sglang:num_running_reqs'],
    waitingMetrics: ['sglang:num_queue_reqs'],
    metricsProveIdle: true,
    drainsOnSigterm: true,
    source: 'https://docs.sglang.io/references/production_metrics.html; tokenizer_manager.py SignalHandler.sigterm_handler',
  },
  [ServerPreset.TGI]: {
    preset: ServerPreset.TGI,
    displayName: 'Text Generation Inference',
    healthPath: '/health',
    metricsPath: '/metrics',
    runningMetrics: ['tgi_batch_current_size'],
    waitingMetrics: ['tgi_queue_size'],
    metricsProveIdle: true,
    drainsOnSigterm: true,
    defaultShutdownTimeoutSeconds: 90,
    source: 'https://huggingface.co/docs/text-generation-inference/reference/metrics; huggingface/text-generation-inference#2035',
  },
  [ServerPreset.TRITON]: {
    preset: ServerPreset.TRITON,
    displayName: 'Triton Inference Server',
    healthPath: '/v2/health/ready',
    metricsUrl: 'http://127.0.0.1:8002/metrics',
    runningMetrics: [],
    waitingMetrics: ['nv_inference_pending_request_count'],
    metricsProveIdle: false,
    drainsOnSigterm: true,
    shutdownTimeoutFlag: '--exit-timeout-secs',
    defaultShutdownTimeoutSeconds: 30,
    source: 'https://docs.nvidia.com/deeplearning/triton-inference-server/user-guide/docs/user_guide/metrics.html; tritonserver --exit-timeout-secs',
  },
};

/** The facts of a preset (GENERIC for undefined). Undefined for a value that is not a preset. */
export function serverPreset(preset: string | undefined): ServerPresetInfo | undefined {
  return SERVER_PRESETS[preset ?? ServerPreset.GENERIC];
}

/** The metrics URL of a preset for a server on `servingPort`; undefined when the preset has none. */
export function presetMetricsUrl(info: ServerPresetInfo, servingPort: number): string | undefined {
  if (info.metricsUrl) return info.metricsUrl;
  if (info.metricsPath) return `http://127.0.0.1:${servingPort}${info.metricsPath}`;
  return undefined;
}

/** One sample of the Prometheus text exposition format. */
export interface MetricSample {
  readonly name: string;
  readonly labels: string;
  readonly value: number;
}

/**
 * Parses the Prometheus text exposition format (version 0.0.4): `name{labels} value [timestamp]` lines,
 * `#` comments. Lines that do not parse are skipped (a server may add exotic lines; one bad line must not
 * blind the agent).
 */
export function parsePrometheusText(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    // Metric names may contain ':' (vLLM, SGLang); label values may contain spaces and escaped quotes.
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line);
    if (!m) continue;
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (Number.isNaN(value)) continue;
    out.push({ name: m[1], labels: m[2] ?? '', value });
  }
  return out;
}

/** What the server's metrics say about its requests. */
export interface InFlightReading {
  /** Running + waiting; -1 when the metrics could not be read or lack the gauges. */
  readonly inFlight: number;
  readonly running: number;
  readonly waiting: number;
  /** Why the reading is -1. */
  readonly error?: string;
}

/**
 * Sums the preset's running and waiting gauges over every label set (several models, data-parallel ranks).
 * A gauge of the preset that is absent from the text makes the reading unknown (-1): a server started without
 * metrics (SGLang without `--enable-metrics`) must not look idle.
 */
export function readInFlight(info: ServerPresetInfo, text: string): InFlightReading {
  const samples = parsePrometheusText(text);
  const sum = (names: readonly string[]): number | undefined => {
    let total = 0;
    for (const name of names) {
      const of = samples.filter((s) => s.name === name);
      if (of.length === 0) return undefined;
      total += of.reduce((a, s) => a + s.value, 0);
    }
    return total;
  };
  const running = sum(info.runningMetrics);
  const waiting = sum(info.waitingMetrics);
  if (running === undefined || waiting === undefined) {
    const missing = [...info.runningMetrics, ...info.waitingMetrics].filter((n) => !samples.some((s) => s.name === n));
    return { inFlight: -1, running: -1, waiting: -1, error: `the metrics lack ${missing.join(', ')}` };
  }
  return { inFlight: Math.round(running + waiting), running, waiting };
}
