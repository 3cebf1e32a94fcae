/**
 * The fast tier (`./mf test --unit`, package.json test:unit): preloaded into every test process
 * with MAILFLEET_TEST_TIER=unit. A test that asks for the Debian 13 root (withDebian13Host)
 * stops there and is reported as skipped, with the reason; every assertion before that point has
 * run. So a file mixing pure checks and daemon checks keeps its pure half in the fast tier.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createRequire, syncBuiltinESMExports } from "node:module";
import type { TestContext } from "node:test";

export const UNIT_TIER = process.env.MAILFLEET_TEST_TIER === "unit";

const current = new AsyncLocalStorage<TestContext>();

/** Thrown to end a test body that the fast tier skips; the wrapper below swallows it. */
class Skipped extends Error {}

/** Skips the running test (fast tier only): marks it skipped and ends its body here. */
export function skipInUnitTier(reason: string): void {
  if (!UNIT_TIER) return;
  const t = current.getStore();
  if (!t) throw new Error(`${reason}: only a test body may ask for it in the fast tier (not a hook)`);
  t.skip(reason);
  throw new Skipped(reason);
}

type Body = (t: TestContext, done?: (error?: unknown) => void) => unknown;

function wrapped(body: Body): Body {
  const swallow = (error: unknown) => {
    if (!(error instanceof Skipped)) throw error;
  };
  const run = (t: TestContext, done?: (error?: unknown) => void) =>
    current.run(t, () => {
      try {
        const result = body(t, done);
        return result instanceof Promise ? result.catch(swallow) : result;
      } catch (error) {
        return swallow(error);
      }
    });
  // node:test passes a done callback only to a body that declares two parameters.
  return body.length >= 2 ? (t, done) => run(t, done) : (t) => run(t);
}

if (UNIT_TIER) {
  const nodeTest = createRequire(`${process.cwd()}/`)("node:test") as Record<"it" | "test", (...args: unknown[]) => unknown>;
  for (const name of ["it", "test"] as const) {
    const original = nodeTest[name];
    const replacement = (...args: unknown[]) => original(...args.map((a) => (typeof a === "function" ? wrapped(a as Body) : a)));
    nodeTest[name] = Object.assign(replacement, original);
  }
  syncBuiltinESMExports();
}
