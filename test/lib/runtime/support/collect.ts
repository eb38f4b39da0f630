import { InterruptionEvent } from '../../../../lib/runtime/events';
import { jsonLogger, Logger } from '../../../../lib/runtime/log';
import { InterruptionWatcher } from '../../../../lib/runtime/watcher';

/** A logger that keeps its lines, parsed. */
export function memoryLogger(): { log: Logger; lines: Array<Record<string, unknown>>; messages: () => string[] } {
  const lines: Array<Record<string, unknown>> = [];
  const log = jsonLogger({ level: 'debug', sink: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  return { log, lines, messages: () => lines.map((l) => String(l.msg)) };
}

/** Runs a watcher in the background, collecting what it emits. */
export function runWatcher(watcher: InterruptionWatcher) {
  const events: InterruptionEvent[] = [];
  const { log, lines, messages } = memoryLogger();
  const controller = new AbortController();
  let crashed: unknown;
  const running = watcher.run({ signal: controller.signal, log, emit: (e) => events.push(e) }).catch((err) => (crashed = err));
  return {
    events,
    lines,
    messages,
    get crashed() {
      return crashed;
    },
    async stop() {
      controller.abort();
      await running;
    },
  };
}
