import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../errors.js';
import {
  assertRejectsWith,
  callAsync,
  itIf,
  NO_WAIT_FOR_EVENTS_REASON,
  requireWaitForEvents,
  sleep,
  supportsWaitForEvents,
  useGroupStore,
} from '../helpers.js';
import { limitTime, promptLimit, withinTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';

/** Something that is not what the type says, on purpose. */
type Untyped = any;

/** Longest timeout `setTimeout` honours; a wait asking for more is capped to it. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** How long a wait with a huge timeout must stay pending to show it did not fire at once. */
const STILL_PENDING_MS = 150;

/** Options `waitForEvents` must reject, with a label for the assertion message. */
function badOptions(): [string, unknown][] {
  const signal = new AbortController().signal;
  return [
    ['no options', undefined],
    ['null', null],
    ['a number', 42],
    ['a string', 'soon'],
    ['an empty object', {}],
    ['no signal', { timeoutMs: 10 }],
    ['a null signal', { signal: null, timeoutMs: 10 }],
    ['a signal that is a plain object', { signal: {}, timeoutMs: 10 }],
    ['a signal that is a string', { signal: 'abort', timeoutMs: 10 }],
    ['no timeoutMs', { signal }],
    ['a null timeoutMs', { signal, timeoutMs: null }],
    ['a negative timeoutMs', { signal, timeoutMs: -1 }],
    ['timeoutMs -Infinity', { signal, timeoutMs: Number.NEGATIVE_INFINITY }],
    ['timeoutMs NaN', { signal, timeoutMs: Number.NaN }],
    ['timeoutMs as a string', { signal, timeoutMs: '10' }],
    ['timeoutMs as a bigint', { signal, timeoutMs: 10n }],
  ];
}

/**
 * Registers the `waitForEvents` group (skipped with a reason unless
 * `capabilities.waitForEvents`):
 *
 * - bad options (missing or invalid signal, negative or NaN or non-number timeout, options that
 *   are not an object) reject with {@link InvalidArgumentError} (`INVALID_ARGUMENT`), at once,
 *   never throwing synchronously;
 * - a huge timeout (2^31 ms, 2^40 ms, `Number.MAX_SAFE_INTEGER`, `Infinity`) is capped at
 *   2^31-1 ms, so the wait does not end at once (a larger `setTimeout` fires immediately), and an
 *   abort still ends it;
 * - a wait with an aborted signal or a zero timeout resolves at once.
 *
 * Spurious wake-ups are allowed by the contract, so "does not end at once" is checked over a few
 * waits: a timer that overflows ends every one of them.
 */
export function describeWaitForEventsConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(
    testApi,
    harness,
    'If the store has no waitForEvents that wakes on commits, set capabilities.waitForEvents = false in the harness.',
  );
  const supported = supportsWaitForEvents(harness);
  api.describe('waitForEvents', () => {
    const subject = useGroupStore(api, harness);

    itIf(
      api,
      supported,
      'bad options reject with InvalidArgumentError at once, never throwing synchronously',
      NO_WAIT_FOR_EVENTS_REASON,
      async () => {
        const wait = requireWaitForEvents(subject().store);
        const limit = promptLimit(harness);
        for (const [label, options] of badOptions()) {
          const what = `waitForEvents(${label})`;
          await withinTime(
            assertRejectsWith(
              callAsync(what, () => wait(options as Untyped)),
              InvalidArgumentError,
              'INVALID_ARGUMENT',
            ),
            limit,
            `${what} did not settle within ${limit} ms: it must reject at once`,
          );
        }
      },
    );

    itIf(
      api,
      supported,
      'a huge timeout is capped, so the wait does not end at once; an abort ends it',
      NO_WAIT_FOR_EVENTS_REASON,
      async () => {
        const wait = requireWaitForEvents(subject().store);
        const limit = promptLimit(harness);
        const huge: [string, number][] = [
          ['2^31', MAX_TIMER_MS + 1],
          ['2^40', 2 ** 40],
          ['Number.MAX_SAFE_INTEGER', Number.MAX_SAFE_INTEGER],
          ['Infinity', Number.POSITIVE_INFINITY],
        ];
        for (const [label, timeoutMs] of huge) {
          let stayedPending = false;
          for (let attempt = 0; attempt < 3 && !stayedPending; attempt++) {
            const controller = new AbortController();
            let ended = false;
            const waiting = wait({ signal: controller.signal, timeoutMs }).finally(() => {
              ended = true;
            });
            await sleep(STILL_PENDING_MS);
            stayedPending = !ended;
            controller.abort();
            await withinTime(
              waiting,
              limit,
              `waitForEvents({ timeoutMs: ${label} }) did not resolve within ${limit} ms of an abort`,
            );
          }
          assert.ok(
            stayedPending,
            `waitForEvents({ timeoutMs: ${label} }) ended within ${STILL_PENDING_MS} ms three times: cap the timeout at 2^31-1 ms (a longer setTimeout fires at once)`,
          );
        }
      },
    );

    itIf(
      api,
      supported,
      'a wait with an aborted signal or a zero timeout resolves at once',
      NO_WAIT_FOR_EVENTS_REASON,
      async () => {
        const wait = requireWaitForEvents(subject().store);
        const limit = promptLimit(harness);
        await withinTime(
          wait({ signal: AbortSignal.abort(), timeoutMs: Number.POSITIVE_INFINITY }),
          limit,
          `waitForEvents with an aborted signal did not resolve within ${limit} ms`,
        );
        await withinTime(
          wait({ signal: new AbortController().signal, timeoutMs: 0 }),
          limit,
          `waitForEvents({ timeoutMs: 0 }) did not resolve within ${limit} ms`,
        );
      },
    );
  });
}
