/**
 * The fast tier's one mechanism (test/support/unitTier.ts): a test that asks for the Debian 13 root
 * is skipped at that point, while what ran before it still counts, and the full run is untouched.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

const REPO = join(__dirname, "..", "..");
const SUPPORT = join(REPO, "test", "support");

const SAMPLE = `
import assert from "node:assert/strict";
import { describe, it, test } from "node:test";
import { withDebian13Host } from ${JSON.stringify(join(SUPPORT, "debian13"))};

describe("sample", () => {
  it("pure", () => assert.equal(1 + 1, 2));
  it("daemon after a passing check", () => {
    assert.ok(true);
    withDebian13Host([], (h) => assert.equal(h.run(["true"]).code, 0));
  });
  it("fails before it asks for the root", () => {
    assert.equal(1, 2);
    withDebian13Host([], () => undefined);
  });
});
test("async daemon", async () => {
  await Promise.resolve();
  withDebian13Host([], () => undefined);
});
`;

/** Runs the sample file under node:test, in the fast tier or the full one; its summary counts. */
function runSample(unit: boolean): Record<string, number> {
  const dir = mkdtempSync(join(tmpdir(), "mailfleet-tier-"));
  const file = join(dir, "sample.test.ts");
  writeFileSync(file, SAMPLE);
  const preload = unit ? ["--import", join(SUPPORT, "unitTier.ts")] : [];
  // Without the runner's own marker, or the inner run would report to this one instead of printing.
  const { NODE_TEST_CONTEXT: _, ...outer } = process.env;
  const env = { ...outer, MAILFLEET_TEST_TIER: unit ? "unit" : "" };
  const r = spawnSync(process.execPath, ["--import", "tsx", ...preload, "--test", "--test-reporter=spec", file], { cwd: REPO, env, encoding: "utf8" });
  const count = (name: string) => Number(new RegExp(`^ℹ ${name} (\\d+)$`, "m").exec(r.stdout)?.[1] ?? NaN);
  return { pass: count("pass"), fail: count("fail"), skipped: count("skipped") };
}

describe("the fast tier", () => {
  it("skips a test where it asks for the Debian 13 root, and still fails one that failed before", () => {
    assert.deepEqual(runSample(true), { pass: 1, fail: 1, skipped: 2 });
  });

  it("the full run skips nothing", () => {
    assert.deepEqual(runSample(false), { pass: 3, fail: 1, skipped: 0 });
  });
});
