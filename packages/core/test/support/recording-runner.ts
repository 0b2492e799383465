// A minimal runner implementing ConformanceTestApi: it records the tests a group registers, runs
// them one by one (hooks included) and reports each outcome, so tests of the suite itself can
// assert what the suite makes of a store.
import type { ConformanceTestApi, TestFn } from '../../src/conformance/types.js';

/** What became of one test. */
export type Outcome = 'pass' | 'fail' | 'skip';

/** One test's outcome, its error when it failed, and how long it took. */
export interface TestResult {
  outcome: Outcome;
  error?: unknown;
  durationMs: number;
}

interface Suite {
  name: string;
  beforeAll: TestFn[];
  afterAll: TestFn[];
  beforeEach: TestFn[];
  afterEach: TestFn[];
  children: (Suite | { test: string; fn?: TestFn; skip: boolean })[];
}

function newSuite(name: string): Suite {
  return { name, beforeAll: [], afterAll: [], beforeEach: [], afterEach: [], children: [] };
}

/**
 * Registers what `register` registers on a recording test API, runs it, and returns the outcome
 * of each test by its full name (`group > subgroup > test`). A failing hook fails the tests it
 * guards (`beforeAll`: every test of its block) and is reported under `<block> > <hook>`.
 */
export async function runGroups(
  register: (api: ConformanceTestApi) => void,
): Promise<Map<string, TestResult>> {
  const root = newSuite('');
  const stack = [root];
  const top = () => stack[stack.length - 1]!;
  const it = (name: string, fn: TestFn) => {
    top().children.push({ test: name, fn, skip: false });
  };
  it.skip = (name: string, fn?: TestFn) => {
    top().children.push({ test: name, fn, skip: true });
  };
  const api: ConformanceTestApi = {
    describe(name, fn) {
      const suite = newSuite(name);
      top().children.push(suite);
      stack.push(suite);
      fn();
      stack.pop();
    },
    it,
    beforeAll: (fn) => top().beforeAll.push(fn),
    afterAll: (fn) => top().afterAll.push(fn),
    beforeEach: (fn) => top().beforeEach.push(fn),
    afterEach: (fn) => top().afterEach.push(fn),
  };
  register(api);

  const results = new Map<string, TestResult>();
  const hook = async (name: string, fn: TestFn): Promise<boolean> => {
    const started = Date.now();
    try {
      await fn();
      return true;
    } catch (error) {
      results.set(name, { outcome: 'fail', error, durationMs: Date.now() - started });
      return false;
    }
  };
  const run = async (suite: Suite, path: string[], each: Suite[]) => {
    let ready = true;
    for (const fn of suite.beforeAll) ready &&= await hook([...path, 'beforeAll'].join(' > '), fn);
    for (const child of suite.children) {
      if ('test' in child) {
        const name = [...path, child.test].join(' > ');
        const started = Date.now();
        if (child.skip || !child.fn) {
          results.set(name, { outcome: 'skip', durationMs: 0 });
          continue;
        }
        try {
          if (!ready) throw new Error('beforeAll failed');
          for (const s of [...each, suite]) for (const fn of s.beforeEach) await fn();
          await child.fn();
          results.set(name, { outcome: 'pass', durationMs: Date.now() - started });
        } catch (error) {
          results.set(name, { outcome: 'fail', error, durationMs: Date.now() - started });
        } finally {
          for (const s of [suite, ...each].reverse()) {
            for (const fn of s.afterEach) await hook(`${name} > afterEach`, fn);
          }
        }
      } else {
        await run(child, [...path, child.name], [...each, suite]);
      }
    }
    for (const fn of suite.afterAll) await hook([...path, 'afterAll'].join(' > '), fn);
  };
  await run(root, [], []);
  return results;
}

/** The names of the tests with `outcome`. */
export function outcomes(results: Map<string, TestResult>, outcome: Outcome): string[] {
  return [...results].filter(([, r]) => r.outcome === outcome).map(([name]) => name);
}

/** `name: message` of every failed test, for a readable assertion when none should fail. */
export function failures(results: Map<string, TestResult>): string[] {
  return [...results]
    .filter(([, r]) => r.outcome === 'fail')
    .map(([name, r]) => `${name}: ${r.error instanceof Error ? r.error.message : String(r.error)}`);
}
