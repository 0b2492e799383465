import type { Logger } from '../logger.js';
import type { EventStore } from '../types.js';

/** Resolves after `ms` milliseconds, or right away when `signal` aborts. Never rejects. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Waits for new events: until the store's `waitForEvents` wakes it, `ms` pass, or `signal`
 * aborts, whichever comes first. Without `waitForEvents` it only sleeps. Never rejects: a failing
 * `waitForEvents` is logged and the rest of the interval is slept instead, since polling still
 * finds every event.
 */
export async function waitForNewEvents(
  store: EventStore<any>,
  ms: number,
  signal: AbortSignal,
  logger: Logger | undefined,
  fields: Record<string, unknown>,
): Promise<void> {
  if (signal.aborted) return;
  if (typeof store.waitForEvents !== 'function') return sleep(ms, signal);

  const started = Date.now();
  // Our own controller: aborted when the run stops and after the wake-up, so the store can drop
  // its listener. The sleep is a safety net for a store that overstays `timeoutMs`.
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.race([
      store.waitForEvents({ signal: stop.signal, timeoutMs: ms }),
      sleep(ms, stop.signal),
    ]);
  } catch (error) {
    logger?.warn('waitForEvents failed; polling instead', { ...fields, error });
    const remaining = ms - (Date.now() - started);
    if (remaining > 0 && !signal.aborted) await sleep(remaining, signal);
  } finally {
    signal.removeEventListener('abort', onAbort);
    stop.abort();
  }
}
