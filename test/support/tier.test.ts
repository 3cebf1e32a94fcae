/** The tiers (test/support/tier.ts) and the runner's plan of them (test/run.ts). */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { batches, LAB_SECONDS, LAB_SEQUENCE, plan, spread, testFiles } from "../run";
import { REPO_DIR, requireTier, tierOf } from "./tier";

describe("a test file's tier is where it lives", () => {
  it("lab and engine by folder, daemon by name, everything else fast", () => {
    assert.equal(tierOf("test/lab/mail.test.ts"), "lab");
    assert.equal(tierOf("test/engine/lifecycle.test.ts"), "engine");
    assert.equal(tierOf("test/render/postfix.daemon.test.ts"), "daemon");
    assert.equal(tierOf("test/render/postfix.test.ts"), "fast");
    assert.equal(tierOf("test/render/lab.test.ts"), "fast");
  });

  it("a fast file that asks for the Debian 13 root or the lab is refused, naming the file", () => {
    const at = (path: string) => join(REPO_DIR, path);
    assert.throws(() => requireTier(["daemon"], "the Debian 13 root", at("test/render/web.test.ts")), /test\/render\/web\.test\.ts \(tier fast\) uses the Debian 13 root/);
    assert.throws(() => requireTier(["lab"], "the lab", at("test/render/web.daemon.test.ts")), /tier daemon\) uses the lab/);
    assert.doesNotThrow(() => requireTier(["daemon"], "the Debian 13 root", at("test/render/web.daemon.test.ts")));
    assert.doesNotThrow(() => requireTier(["lab"], "the lab", at("test/lab/mail.test.ts")));
    // A script (no test file) is not a tier's business.
    assert.doesNotThrow(() => requireTier(["lab"], "the lab", at("scripts/lab/cli.ts")));
  });
});

describe("the runner's plan", () => {
  const files = ["test/a/x.test.ts", "test/a/x.daemon.test.ts", "test/engine/e.test.ts", "test/lab/l.test.ts", "test/lab/m.test.ts"];

  it("the fast tier alone runs the fast files and nothing else", () => {
    assert.deepEqual(plan(files, ["fast"]).map((r) => r.files), [["test/a/x.test.ts"]]);
  });

  it("every tier: fast and daemon two at a time, then engine beside the lab files, which are spread over two labs, one at a time on each", () => {
    const size = (f: string) => ({ "test/lab/l.test.ts": 30, "test/lab/m.test.ts": 20, "test/lab/n.test.ts": 15 })[f] ?? 1;
    const runs = plan([...files, "test/lab/n.test.ts"], ["fast", "daemon", "engine", "lab"], size);
    assert.deepEqual(
      runs.map((r) => ({ files: r.files, concurrency: r.group.concurrency, lab: r.lab, stage: r.group.stage })),
      [
        { files: ["test/a/x.test.ts", "test/a/x.daemon.test.ts"], concurrency: 2, lab: undefined, stage: 1 },
        { files: ["test/engine/e.test.ts"], concurrency: 1, lab: undefined, stage: 2 },
        { files: ["test/lab/l.test.ts"], concurrency: 1, lab: "", stage: 2 },
        { files: ["test/lab/m.test.ts", "test/lab/n.test.ts"], concurrency: 1, lab: "2", stage: 2 },
      ],
    );
  });

  it("spreads files over parts of about equal weight, each part in path order", () => {
    const weights: Record<string, number> = { a: 5, b: 4, c: 3, d: 3, e: 1 };
    const parts = spread(Object.keys(weights), 2, (f) => weights[f]);
    assert.deepEqual(parts, [["a", "d"], ["b", "c", "e"]]);
    assert.deepEqual(spread(["x"], 2, () => 1), [["x"], []]);
  });

  it("the lab sequence's suites share a lab and run alone, in its order, before the rest of that lab's (node orders the files of one call by path)", () => {
    const [first, second] = LAB_SEQUENCE;
    const files = ["test/lab/a.test.ts", second, first, "test/lab/z.test.ts"];
    assert.deepEqual(batches(files), [[first], [second], ["test/lab/a.test.ts", "test/lab/z.test.ts"]]);
    assert.deepEqual(batches(["test/lab/a.test.ts"]), [["test/lab/a.test.ts"]]);
    // Light as they are, the two stay together: one part gets both.
    const parts = spread([...files, "test/lab/heavy.test.ts"], 2, (f) => (f.includes("heavy") ? 10 : 1));
    assert.deepEqual(parts.map((p) => p.filter((f) => LAB_SEQUENCE.includes(f)).length).sort(), [0, 2]);
  });

  it("every lab suite of the repo has its measured seconds, and a suite without them is refused, naming it", () => {
    const labFiles = testFiles().filter((f) => tierOf(f) === "lab");
    assert.deepEqual(Object.keys(LAB_SECONDS).sort(), labFiles);
    assert.ok(LAB_SEQUENCE.every((f) => labFiles.includes(f)));
    assert.throws(() => plan(["test/lab/new.test.ts"], ["lab"]), /test\/lab\/new\.test\.ts has no entry in LAB_SECONDS/);
  });

  it("finds this file among the repo's test files", () => {
    assert.ok(testFiles().includes("test/support/tier.test.ts"));
  });
});
