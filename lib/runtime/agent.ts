import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type * as http from 'node:http';
import { CLOUD_LIMITS, Cloud } from '../spec/clouds';
import { servedNoticeKind } from '../spec/notice';
import { AgentConfig, DrainMode } from './agent-config';
import { ResolvedAgentConfig, resolveAgentConfig, serverSigtermOffsetSeconds } from './agent-options';
import { NoticeState, currentBootId, eventOf, loadNoticeState, noticeState, writeNoticeState } from './agent-state';
import { AwsSdkClient } from './aws-sdk-client';
import { completeLifecycleAction } from './aws-lifecycle';
import { AwsInterruptionWatcher } from './aws-watcher';
import { postEvictionNotice } from './azure-controller-queue';
import { AZURE_METADATA_ENDPOINT, AzureInterruptionWatcher } from './azure-watcher';
import { drainHttpServer } from './drain-http-server';
import { InterruptionEvent, InterruptionKind } from './events';
import { GcpInterruptionWatcher } from './gcp-watcher';
import { HealthEndpoint } from './health-server';
import { Backoff, httpRequest, sleep } from './http';
import { Logger, jsonLogger } from './log';
import { createWatcher } from './watch';
import { InterruptionWatcher, describeError } from './watcher';
import { ServerPresetInfo, readInFlight, serverPreset } from './server-presets';

/** What the agent runs with besides its config; everything is optional and injectable for tests. */
export interface AgentDependencies {
  /** @default - JSON lines on stdout */
  readonly log?: Logger;
  /** @default - the built-in watcher of `config.cloud` */
  readonly watcher?: InterruptionWatcher;
  /** AWS: the client that completes the lifecycle action. @default - a client with the instance role's credentials, loaded on first use */
  readonly autoScalingClient?: AwsSdkClient;
  /**
   * A Node HTTP server to drain exactly (the agent embedded in the inference server): in-flight requests are
   * tracked, waited for and cut at the deadline. Call `trackHttpServer(server)` when it starts.
   * @default - none: the inference server is an external process, drained by `drainMode`
   */
  readonly server?: http.Server;
  /** Install SIGTERM/SIGINT handlers (the CLI does). @default false */
  readonly handleProcessSignals?: boolean;
  /** This boot's id, to tell a pending notice of this boot from a stale one. @default - `/proc/sys/kernel/random/boot_id` */
  readonly bootId?: string;
}

/** How the user hook went. */
export interface HookResult {
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  readonly durationMs: number;
}

/** What the agent did about a notice. */
export interface AgentResult {
  readonly event: InterruptionEvent;
  /**
   * When serving through the notice ended and the drain began (`serveThroughNotice`: AWS spot and Azure
   * `Preempt` notices). Undefined when the drain began at the notice.
   */
  readonly servedUntil?: Date;
  /** When the health endpoint started failing. */
  readonly healthFailingAt: Date;
  /** When in-flight work had to be done: `min(notice + drainBudget, deadline - safetyMargin)`. */
  readonly drainDeadline: Date;
  /** When draining ended (idle, process gone, or the deadline). */
  readonly drainedAt: Date;
  /** Requests still running at the end of the drain: a count when known, -1 when the agent cannot see them. */
  readonly inFlightAtEnd: number;
  readonly hook?: HookResult;
  /** Azure: the event was approved with StartRequests. */
  readonly acknowledged: boolean;
  /** AWS: what happened to the terminate lifecycle action. */
  readonly lifecycleAction?: 'completed' | 'no-active-action' | 'not-terminating' | 'failed';
}

/**
 * The on-instance agent: serves the health endpoint the load balancer probes, watches the cloud's
 * interruption notice, and on a notice drains the inference server, runs the hook, acknowledges the
 * notice (Azure StartRequests, AWS CompleteLifecycleAction) and finishes.
 */
export class SpotAgent {
  public readonly config: ResolvedAgentConfig;
  /** Resolves when the agent finished: with the result of a drain, or undefined after {@link stop}. */
  public readonly finished: Promise<AgentResult | undefined>;
  private readonly log: Logger;
  private readonly watcher: InterruptionWatcher;
  private readonly health: HealthEndpoint;
  private readonly stopWatching = new AbortController();
  private resolveFinished!: (r: AgentResult | undefined) => void;
  private draining?: Promise<AgentResult>;
  private watching?: Promise<void>;
  private readonly signalHandlers: Array<[NodeJS.Signals, () => void]> = [];
  private readonly preset: ServerPresetInfo;
  private readonly bootId: string;
  /** A notice a previous process of this agent saw on this boot (restart mid-drain). */
  private resumed?: NoticeState;
  /** Restarted after the drain had finished: only the failing health endpoint is left to serve. */
  private drainedBeforeRestart = false;
  /** A notice being served through until its drain must start (no drain yet, health still passing). */
  private serving?: ServingThrough;
  /** {@link stop} was called: a wait that ends now starts no drain. */
  private stopping = false;
  /** Azure: `Preempt` notices already posted to the controller's queue (by event id), and the post under way. */
  private readonly posted = new Set<string>();
  private posting?: Promise<boolean>;

  constructor(config: AgentConfig, private readonly deps: AgentDependencies = {}) {
    this.config = resolveAgentConfig(config);
    this.log = deps.log ?? jsonLogger({ base: { agent: 'spot-agent', cloud: config.cloud } });
    this.watcher =
      deps.watcher ??
      createWatcher({
        cloud: this.config.cloud,
        metadataEndpoint: this.config.metadataEndpoint,
        pollIntervalSeconds: this.config.pollIntervalSeconds,
        instanceName: this.config.instanceName,
      });
    this.health = new HealthEndpoint({
      host: this.config.healthHost,
      port: this.config.healthPort,
      path: this.config.healthPath,
      upstreamUrl: `http://127.0.0.1:${this.config.servingPort}${this.config.upstreamHealthPath}`,
      log: this.log,
    });
    this.preset = serverPreset(this.config.server)!;
    this.bootId = deps.bootId ?? currentBootId();
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
  }

  /** The port the health endpoint listens on (after {@link start}). */
  public get healthPort(): number {
    return this.health.port;
  }

  /** Start serving the health endpoint and watching the metadata service. */
  public async start(): Promise<void> {
    // A notice seen before a restart: fail the health endpoint before the first probe can see a 200.
    this.loadPendingNotice();
    const port = await this.health.listen();
    this.log.info('spot-agent started', {
      healthPort: port,
      healthPath: this.config.healthPath,
      servingPort: this.config.servingPort,
      drainMode: this.deps.server ? 'embedded' : this.config.drainMode,
      drainBudgetSeconds: this.config.drainBudgetSeconds,
      pollIntervalSeconds: this.config.pollIntervalSeconds,
      server: this.config.server,
    });
    if (this.resumed) this.resume(this.resumed);
    this.watching = this.watcher
      .run({ signal: this.stopWatching.signal, log: this.log, emit: (e) => this.notify(e) })
      .catch((err) => this.log.error('interruption watcher stopped unexpectedly', { error: describeError(err) }));
    if (this.deps.handleProcessSignals) {
      const onTerm = () => this.onSigterm();
      const onInt = () => {
        this.log.warn('SIGINT: stopping without draining');
        void this.stop();
      };
      process.on('SIGTERM', onTerm);
      process.on('SIGINT', onInt);
      this.signalHandlers.push(['SIGTERM', onTerm], ['SIGINT', onInt]);
    }
  }

  /**
   * Handle a notice (the watcher calls it; tests and custom integrations may too). The first notice that
   * means the instance goes away starts the drain; later ones are logged.
   */
  public notify(event: InterruptionEvent): void {
    const fields = { kind: event.kind, instanceId: event.instanceId, deadline: event.deadline.toISOString(), eventId: event.eventId, detail: event.detail };
    if (event.advisory && !this.config.drainOnRebalance) {
      this.log.info('advisory interruption notice: not draining (set drainOnRebalance to drain on it)', fields);
      return;
    }
    this.tellController(event);
    if (this.draining) {
      this.log.info('interruption notice while already draining', fields);
      return;
    }
    if (this.serving) {
      this.noticeWhileServing(event, fields);
      return;
    }
    const startsAt = this.drainStartsAt(event);
    if (startsAt) {
      this.log.warn('interruption notice: serving until the drain must start', { ...fields, drainStartsAt: startsAt.toISOString() });
      this.serveUntilDrain(event, startsAt);
      return;
    }
    this.log.warn('interruption notice: draining', fields);
    this.startDrain(event);
  }

  /** Stop without draining (tests, SIGINT). */
  public async stop(): Promise<void> {
    this.stopping = true;
    this.serving?.abort.abort();
    this.stopWatching.abort();
    await this.watching;
    await this.posting;
    this.removeSignalHandlers();
    await this.health.close();
    this.resolveFinished(undefined);
  }

  /**
   * Azure: post a `Preempt` notice to the fallback controller's queue (`controllerQueue`), once per event, without
   * waiting for it: the drain does not depend on it (see lib/runtime/azure-controller-queue.ts).
   */
  private tellController(event: InterruptionEvent): void {
    const queue = this.config.controllerQueue;
    if (!queue || event.cloud !== Cloud.AZURE || event.kind !== InterruptionKind.PREEMPTION) return;
    const key = event.eventId ?? `${event.instanceId}|${event.deadline.toISOString()}`;
    if (this.posted.has(key)) return;
    this.posted.add(key);
    const previous = this.posting ?? Promise.resolve(true);
    this.posting = previous.then(() => postEvictionNotice({ queue, metadataEndpoint: this.config.metadataEndpoint ?? AZURE_METADATA_ENDPOINT, event, log: this.log, signal: this.stopWatching.signal }));
  }

  private startDrain(event: InterruptionEvent, servedUntil?: Date): void {
    this.draining = this.drain(event, undefined, servedUntil);
    void this.draining.then(
      (result) => this.finish(result),
      (err) => {
        this.log.error('drain failed', { error: describeError(err) });
        return this.finish(undefined);
      },
    );
  }

  /**
   * When the drain of a notice the fleet serves through must start: the notice deadline less the drain budget and
   * the safety margin. Undefined when it drains at once: serving through is off, the cloud's notice is the
   * shutdown itself (Google Cloud), the kind is not a spot notice, or that moment has passed.
   */
  private drainStartsAt(event: InterruptionEvent): Date | undefined {
    const c = this.config;
    if (!c.serveThroughNotice || event.kind !== servedNoticeKind(c.cloud)) return undefined;
    const at = event.deadline.getTime() - (c.drainBudgetSeconds + c.safetyMarginSeconds) * 1000;
    return at > Date.now() ? new Date(at) : undefined;
  }

  /** Keep serving (health passing, nothing written) until `startsAt` or an earlier reason, then drain. */
  private serveUntilDrain(event: InterruptionEvent, startsAt: Date): void {
    const serving: ServingThrough = { event, startsAt, abort: new AbortController(), reason: 'the drain must start: notice deadline less drain budget and safety margin' };
    this.serving = serving;
    void sleep(startsAt.getTime() - Date.now(), serving.abort.signal).then(() => {
      this.serving = undefined;
      if (this.stopping) return;
      const drainFor = serving.drainFor ?? event;
      this.log.warn('serving through the notice ended: draining', { kind: drainFor.kind, reason: serving.reason, drainStartsAt: startsAt.toISOString(), noticeDeadline: drainFor.deadline.toISOString() });
      this.startDrain(drainFor, new Date());
    });
  }

  /** Ends serving through the notice now: the drain starts at once, for the notice with the earlier deadline. */
  private drainNow(reason: string, event?: InterruptionEvent): void {
    const s = this.serving;
    if (!s) return;
    s.reason = reason;
    if (event && event.deadline.getTime() < s.event.deadline.getTime()) s.drainFor = event;
    s.abort.abort();
  }

  private noticeWhileServing(event: InterruptionEvent, fields: Record<string, unknown>): void {
    const s = this.serving!;
    if (event.kind === s.event.kind) {
      this.log.info('interruption notice while serving through an earlier one', { ...fields, drainStartsAt: s.startsAt.toISOString() });
    } else if (event.kind === InterruptionKind.LIFECYCLE_TERMINATION) {
      // The group reacts to the same interruption; it keeps the instance in Terminating:Wait until the drain
      // completes the lifecycle action.
      this.log.info('the Auto Scaling group is terminating the interrupted instance: still serving until the drain must start', { ...fields, drainStartsAt: s.startsAt.toISOString() });
    } else {
      this.log.warn(`${event.kind} notice while serving through a ${s.event.kind} notice: draining now`, fields);
      this.drainNow(`${event.kind} notice`, event);
    }
  }

  private loadPendingNotice(): void {
    const dir = this.config.stateDirectory;
    const loaded = loadNoticeState(dir, this.bootId, this.config.cloud);
    if (loaded.status === 'none') return;
    if (loaded.status === 'stale') {
      this.log.info('ignoring the notice state of an earlier boot', { stateDirectory: dir, reason: loaded.reason });
      return;
    }
    if (loaded.status === 'unreadable') {
      this.log.error('cannot read the notice state; relying on the metadata service to repeat a pending notice', { stateDirectory: dir, reason: loaded.reason });
      return;
    }
    this.resumed = loaded.state;
    this.health.setDraining(new Date(loaded.state.healthFailingAt));
  }

  /** Restarted on a doomed instance: keep failing, and finish the drain the previous process started. */
  private resume(state: NoticeState): void {
    const event = eventOf(state);
    const fields = { kind: event.kind, deadline: event.deadline.toISOString(), healthFailingAt: state.healthFailingAt, drainedAt: state.drainedAt };
    if (state.drainedAt) {
      this.log.warn('restarted after the drain finished: the health endpoint keeps failing until the instance goes', fields);
      this.draining = new Promise<AgentResult>(() => undefined); // never drains again; stop() or the instance ends it
      this.drainedBeforeRestart = true;
      return;
    }
    this.log.warn('restarted while a notice was pending: the health endpoint keeps failing; resuming the drain', fields);
    this.draining = this.drain(event, state);
    void this.draining.then(
      (result) => this.finish(result),
      (err) => {
        this.log.error('drain failed', { error: describeError(err) });
        return this.finish(undefined);
      },
    );
  }

  private saveState(state: NoticeState): void {
    try {
      writeNoticeState(this.config.stateDirectory, state);
    } catch (err) {
      this.log.error('could not save the notice state: an agent restarted during this drain would not know of it', {
        stateDirectory: this.config.stateDirectory,
        error: describeError(err),
      });
    }
  }

  private onSigterm(): void {
    if (this.drainedBeforeRestart) {
      // Nothing left to drain: the OS is shutting the doomed instance down, do not hold it up.
      this.log.info('SIGTERM after the drain finished: stopping');
      void this.stop();
      return;
    }
    if (this.draining) {
      this.log.info('SIGTERM while draining: finishing the drain first');
      return;
    }
    if (this.serving) {
      this.log.warn('SIGTERM while serving through a notice: draining now');
      this.drainNow('SIGTERM');
      return;
    }
    if (!this.config.drainOnSigterm) {
      this.log.warn('SIGTERM: stopping without draining (drainOnSigterm is false)');
      void this.stop();
      return;
    }
    // Google Cloud's ACPI soft-off gives the 30 s preemption notice; elsewhere the unit's TimeoutStopSec
    // (drain budget + 5 s) is what systemd allows.
    const seconds = this.config.cloud === Cloud.GCP ? CLOUD_LIMITS[Cloud.GCP].noticeSeconds : this.config.drainBudgetSeconds + this.config.safetyMarginSeconds;
    this.notify({
      cloud: this.config.cloud,
      kind: InterruptionKind.SHUTDOWN,
      instanceId: instanceIdOf(this.watcher),
      deadline: new Date(Date.now() + seconds * 1000),
      detectedAt: new Date(),
      detail: 'SIGTERM',
    });
  }

  private async finish(result: AgentResult | undefined): Promise<void> {
    this.stopWatching.abort();
    await this.watching;
    this.removeSignalHandlers();
    await this.health.close();
    this.resolveFinished(result);
  }

  private removeSignalHandlers(): void {
    for (const [sig, fn] of this.signalHandlers.splice(0)) process.off(sig, fn);
  }

  private async drain(event: InterruptionEvent, resumed?: NoticeState, servedUntil?: Date): Promise<AgentResult> {
    const c = this.config;
    // A resumed drain keeps the first process's clock: the notice did not move.
    const start = resumed ? Date.parse(resumed.healthFailingAt) : Date.now();
    const drainDeadline = resumed
      ? new Date(resumed.drainDeadline)
      : new Date(Math.max(start, Math.min(start + c.drainBudgetSeconds * 1000, event.deadline.getTime() - c.safetyMarginSeconds * 1000)));
    // 1. The load balancer stops routing here.
    this.health.setDraining();
    const healthFailingAt = this.health.failingSince ?? new Date();
    const pending = () => noticeState(event, this.bootId, healthFailingAt, drainDeadline);
    if (!resumed) this.saveState(pending());
    this.log.info('drain deadline set', {
      drainDeadline: drainDeadline.toISOString(),
      noticeDeadline: event.deadline.toISOString(),
      budgetSeconds: c.drainBudgetSeconds,
      safetyMarginSeconds: c.safetyMarginSeconds,
    });
    // 2 + 3. The server stops taking work; in-flight work finishes or the deadline comes.
    const lbDetectedAt = Math.min(drainDeadline.getTime(), start + c.loadBalancerDetectionSeconds * 1000);
    let inFlightAtEnd: number;
    if (this.deps.server) {
      await sleep(lbDetectedAt - Date.now());
      const r = await drainHttpServer(this.deps.server, { deadline: drainDeadline, log: this.log });
      inFlightAtEnd = r.cut.length;
    } else if (c.drainMode === DrainMode.SIGNAL) {
      inFlightAtEnd = await this.drainBySignal(drainDeadline, pending);
    } else {
      if (c.drainMode === DrainMode.HTTP) await this.callDrainEndpoint(drainDeadline, event);
      const offset = serverSigtermOffsetSeconds(c);
      if (offset !== undefined) {
        // The server's own graceful shutdown, once the load balancer has stopped routing here, and late enough
        // that the server's shutdown timeout ends at the drain deadline, not before (it is whole seconds, so
        // `budget - detection` rarely fits exactly). Until then the server finishes what it has; idle, it goes now.
        const timeout = c.serverShutdownTimeoutSeconds ?? this.preset.defaultShutdownTimeoutSeconds;
        const earliest = Math.min(lbDetectedAt, start + offset * 1000);
        const sigtermAt = timeout !== undefined && timeout > 0 ? Math.max(earliest, drainDeadline.getTime() - timeout * 1000) : earliest;
        if (sigtermAt > earliest && this.preset.metricsProveIdle && this.config.metricsUrl) {
          await this.waitForIdleMetrics(earliest, new Date(sigtermAt), true);
        } else {
          await sleep(sigtermAt - Date.now());
        }
        inFlightAtEnd = await this.drainBySignal(drainDeadline, pending);
      } else {
        inFlightAtEnd = await this.waitForIdle(lbDetectedAt, drainDeadline);
      }
    }
    const drainedAt = new Date();
    // 4. The user hook (checkpoint upload, ...).
    const hook = c.hookCommand ? await this.runHook(c.hookCommand, event) : undefined;
    // 5. Tell the cloud it may proceed.
    const acknowledged = await this.acknowledge(event);
    const lifecycleAction = await this.completeLifecycle(event);
    const result: AgentResult = { event, ...(servedUntil ? { servedUntil } : {}), healthFailingAt, drainDeadline, drainedAt, inFlightAtEnd, hook, acknowledged, lifecycleAction };
    this.saveState({ ...noticeState(event, this.bootId, healthFailingAt, drainDeadline, new Date()), ...(this.resumed?.signalledPid !== undefined ? { signalledPid: this.resumed.signalledPid } : {}) });
    this.log.info('drained; exiting', {
      kind: event.kind,
      drainSeconds: (drainedAt.getTime() - start) / 1000,
      inFlightAtEnd,
      acknowledged,
      lifecycleAction,
      hookExitCode: hook?.exitCode,
      secondsBeforeNoticeDeadline: (event.deadline.getTime() - Date.now()) / 1000,
      peakRssMiB: Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10,
    });
    return result;
  }

  private async callDrainEndpoint(until: Date, event: InterruptionEvent): Promise<void> {
    const body = JSON.stringify({ deadline: until.toISOString(), kind: event.kind, noticeDeadline: event.deadline.toISOString() });
    const backoff = new Backoff(100, 1000);
    let lastError = '';
    while (Date.now() < until.getTime()) {
      try {
        const res = await httpRequest(this.config.drainUrl, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body,
          timeoutMs: Math.max(100, Math.min(2000, until.getTime() - Date.now())),
        });
        if (res.status >= 200 && res.status < 300) {
          this.log.info('inference server accepted the drain request', { drainUrl: this.config.drainUrl, status: res.status });
          return;
        }
        lastError = `status ${res.status}`;
      } catch (err) {
        lastError = describeError(err);
      }
      await sleep(Math.min(backoff.next(), until.getTime() - Date.now()));
    }
    this.log.error('inference server drain endpoint did not accept the drain request; relying on the failing health endpoint', {
      drainUrl: this.config.drainUrl,
      error: lastError,
    });
  }

  private async drainBySignal(until: Date, state?: () => NoticeState): Promise<number> {
    const { pidFile, drainSignal } = this.config;
    let pid: number;
    try {
      const already = this.resumed?.signalledPid;
      if (already !== undefined) {
        // The previous process signalled it: a second SIGTERM makes some servers abort their requests.
        pid = already;
        this.log.info('the inference server was signalled before the restart: not signalling it again', { pid, alive: isAlive(pid) });
      } else {
        pid = parseInt(readFileSync(pidFile!, 'utf8').trim(), 10);
        if (!(pid > 0)) throw new Error(`no PID in ${pidFile}`);
        process.kill(pid, drainSignal as NodeJS.Signals);
        this.log.info('sent the drain signal to the inference server', { pid, signal: drainSignal, server: this.config.server });
        if (state) this.saveState({ ...state(), signalledPid: pid });
      }
    } catch (err) {
      this.log.error('could not signal the inference server; relying on the failing health endpoint', { pidFile, signal: drainSignal, error: describeError(err) });
      return this.waitForIdle(Date.now(), until);
    }
    while (Date.now() < until.getTime()) {
      if (!isAlive(pid)) {
        this.log.info('inference server exited after the drain signal', { pid, server: this.config.server });
        return 0;
      }
      await sleep(Math.min(100, until.getTime() - Date.now()));
    }
    if (!isAlive(pid)) return 0;
    const reading = await this.readServerInFlight();
    if (reading !== undefined && reading >= 0) {
      this.log.warn(`inference server still running at the drain deadline with ${reading} request(s) in flight: they are cut when the instance goes`, { pid, deadline: until.toISOString() });
      return reading;
    }
    this.log.warn('inference server still running at the drain deadline: its in-flight requests are cut when the instance goes', { pid, deadline: until.toISOString() });
    return -1;
  }

  /** Waits until the server reports idle (after `notBefore`) or the deadline; returns the in-flight count at the end (-1 unknown). */
  private async waitForIdle(notBefore: number, until: Date): Promise<number> {
    const idleUrl = this.config.idleUrl;
    if (!idleUrl && this.preset.metricsProveIdle && this.config.metricsUrl) return this.waitForIdleMetrics(notBefore, until);
    if (!idleUrl) {
      await sleep(until.getTime() - Date.now());
      this.log.info('drain budget spent (an external server\'s requests are not visible to the agent; set idleUrl to finish as soon as it is idle)', {
        deadline: until.toISOString(),
      });
      return -1;
    }
    await sleep(notBefore - Date.now());
    let last = -1;
    for (;;) {
      last = await queryInFlight(idleUrl);
      if (last === 0) {
        this.log.info('inference server is idle', { idleUrl });
        return 0;
      }
      if (Date.now() >= until.getTime()) break;
      await sleep(Math.min(200, until.getTime() - Date.now()));
    }
    this.log.warn(`drain deadline reached with ${last < 0 ? 'an unknown number of' : last} request(s) still in flight: they are cut when the instance goes`, {
      inFlight: last,
      deadline: until.toISOString(),
    });
    return last;
  }

  /** The server's running + waiting requests from its own Prometheus gauges; undefined without a preset. */
  private async readServerInFlight(): Promise<number | undefined> {
    const url = this.config.metricsUrl;
    if (!url || this.preset.runningMetrics.length + this.preset.waitingMetrics.length === 0) return undefined;
    try {
      const res = await httpRequest(url, { timeoutMs: 1000, maxBodyBytes: 4 * 1024 * 1024 });
      if (res.status !== 200) {
        this.metricsError(`status ${res.status}`);
        return -1;
      }
      const reading = readInFlight(this.preset, res.body);
      if (reading.inFlight < 0) this.metricsError(reading.error ?? 'no gauges');
      return reading.inFlight;
    } catch (err) {
      this.metricsError(describeError(err));
      return -1;
    }
  }

  private lastMetricsError = '';
  private metricsError(error: string): void {
    if (error === this.lastMetricsError) return;
    this.lastMetricsError = error;
    this.log.warn(`cannot read ${this.preset.displayName}'s in-flight requests from its metrics; waiting until they can be read or the deadline`, {
      metricsUrl: this.config.metricsUrl,
      gauges: [...this.preset.runningMetrics, ...this.preset.waitingMetrics],
      error,
    });
  }

  private async waitForIdleMetrics(notBefore: number, until: Date, beforeSignal = false): Promise<number> {
    await sleep(notBefore - Date.now());
    let last = -1;
    for (;;) {
      last = (await this.readServerInFlight()) ?? -1;
      if (last === 0) {
        this.log.info(`${this.preset.displayName} reports no running or waiting request: idle`, { metricsUrl: this.config.metricsUrl });
        return 0;
      }
      if (Date.now() >= until.getTime()) break;
      await sleep(Math.min(200, until.getTime() - Date.now()));
    }
    if (beforeSignal) return last;
    this.log.warn(`drain deadline reached with ${last < 0 ? 'an unknown number of' : last} request(s) still in flight: they are cut when the instance goes`, {
      inFlight: last,
      deadline: until.toISOString(),
    });
    return last;
  }

  private runHook(command: string, event: InterruptionEvent): Promise<HookResult> {
    const c = this.config;
    const budgetMs = c.hookTimeoutSeconds !== undefined ? c.hookTimeoutSeconds * 1000 : Math.max(1000, event.deadline.getTime() - Date.now() - 1000);
    const started = Date.now();
    this.log.info('running hook', { command, timeoutSeconds: budgetMs / 1000 });
    return new Promise((resolve) => {
      const child = spawn('/bin/sh', ['-c', command], {
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
        env: {
          ...process.env,
          SPOT_AGENT_CLOUD: event.cloud,
          SPOT_AGENT_KIND: event.kind,
          SPOT_AGENT_INSTANCE_ID: event.instanceId,
          SPOT_AGENT_DEADLINE: event.deadline.toISOString(),
        },
      });
      let output = '';
      const collect = (b: Buffer) => {
        if (output.length < 4096) output += b.toString('utf8');
      };
      child.stdout!.on('data', collect);
      child.stderr!.on('data', collect);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        this.log.warn('hook ran past its time; killing it', { command, timeoutSeconds: budgetMs / 1000 });
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }, budgetMs);
      const done = (exitCode: number | null) => {
        clearTimeout(timer);
        const result = { exitCode, timedOut, durationMs: Date.now() - started };
        const log = exitCode === 0 ? this.log.info : this.log.warn;
        log('hook finished', { ...result, output: output.slice(0, 4096).trim() });
        resolve(result);
      };
      child.on('error', (err) => {
        this.log.error('hook could not start', { command, error: describeError(err) });
        done(null);
      });
      child.on('close', (code) => done(code));
    });
  }

  private async acknowledge(event: InterruptionEvent): Promise<boolean> {
    if (!(this.watcher instanceof AzureInterruptionWatcher) || !event.eventId) return false;
    const until = new Date(Math.max(event.deadline.getTime(), Date.now() + 5000));
    const ok = await this.watcher.acknowledge([event.eventId], until);
    if (ok) this.log.info('acknowledged the scheduled event (StartRequests): the platform may proceed', { eventId: event.eventId });
    else this.log.error('could not acknowledge the scheduled event; the platform proceeds at NotBefore', { eventId: event.eventId });
    return ok;
  }

  private async completeLifecycle(event: InterruptionEvent): Promise<AgentResult['lifecycleAction']> {
    const c = this.config;
    if (!(this.watcher instanceof AwsInterruptionWatcher) || !c.lifecycleHookName || !c.autoScalingGroupName) return undefined;
    const imds = this.watcher.imds;
    try {
      let state = event.kind === InterruptionKind.LIFECYCLE_TERMINATION ? 'Terminated' : undefined;
      state ??= (await imds.get('/latest/meta-data/autoscaling/target-lifecycle-state'))?.trim();
      if (state !== 'Terminated') {
        this.log.info('instance is not terminating in its Auto Scaling group: no lifecycle action to complete', { targetLifecycleState: state ?? 'unknown' });
        return 'not-terminating';
      }
      const instanceId = this.watcher.instanceId || event.instanceId || ((await imds.get('/latest/meta-data/instance-id')) ?? '').trim();
      const region = this.deps.autoScalingClient ? undefined : (await imds.get('/latest/meta-data/placement/region'))?.trim();
      let lastErr: unknown;
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          const outcome = await completeLifecycleAction({
            autoScalingGroupName: c.autoScalingGroupName,
            lifecycleHookName: c.lifecycleHookName,
            instanceId,
            region,
            client: this.deps.autoScalingClient,
          });
          this.log.info(outcome === 'completed' ? 'completed the lifecycle action (CONTINUE)' : 'no active lifecycle action (already completed)', {
            autoScalingGroupName: c.autoScalingGroupName,
            lifecycleHookName: c.lifecycleHookName,
            instanceId,
          });
          return outcome;
        } catch (err) {
          lastErr = err;
          await sleep(200 * (attempt + 1));
        }
      }
      throw lastErr;
    } catch (err) {
      this.log.error('could not complete the lifecycle action; Auto Scaling proceeds at the heartbeat timeout', { error: describeError(err) });
      return 'failed';
    }
  }
}

/**
 * Run the agent until it has drained the instance (or is stopped); resolves with what it did.
 *
 * @example
 * await runAgent({ cloud: Cloud.AZURE, servingPort: 8080, healthPath: '/health', healthPort: 9901,
 *   drainBudgetSeconds: 10, drainMode: DrainMode.HEALTH });
 */
export async function runAgent(config: AgentConfig, deps: AgentDependencies = {}): Promise<AgentResult | undefined> {
  const agent = new SpotAgent(config, deps);
  await agent.start();
  return agent.finished;
}

/** A notice the agent serves through until its drain must start. */
interface ServingThrough {
  readonly event: InterruptionEvent;
  readonly startsAt: Date;
  readonly abort: AbortController;
  /** Why the wait ended (logged). */
  reason: string;
  /** A later notice with an earlier deadline that ended the wait: the drain is for it. */
  drainFor?: InterruptionEvent;
}

function instanceIdOf(watcher: InterruptionWatcher): string {
  if (watcher instanceof AwsInterruptionWatcher || watcher instanceof GcpInterruptionWatcher) return watcher.instanceId;
  if (watcher instanceof AzureInterruptionWatcher) return watcher.instanceName;
  return '';
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reads the in-flight count from an idle URL; -1 when it cannot tell. */
export async function queryInFlight(url: string): Promise<number> {
  try {
    const res = await httpRequest(url, { timeoutMs: 1000, maxBodyBytes: 16 * 1024 });
    const text = res.body.trim();
    if (/^\d+$/.test(text)) return parseInt(text, 10);
    try {
      const doc = JSON.parse(text) as Record<string, unknown>;
      for (const key of ['inFlight', 'in_flight', 'inflight', 'active']) {
        if (typeof doc[key] === 'number') return doc[key] as number;
      }
    } catch {
      // not JSON: fall back to the status
    }
    if (res.status >= 200 && res.status < 300) return 0;
    if (res.status === 503 || res.status === 429) return 1;
    return -1;
  } catch {
    return -1;
  }
}
