/**
 * The teardown tool under the real engine: a throwaway test stack made from the lab stack (push
 * none, so only the key resources exist) in a file backend of its own, beside a stack the tool
 * must never touch. Runs the CLI as an operator or the nightly workflow does.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openStack, REPO_ROOT } from "../../scripts/engine";
import { creationTags, TAG_CREATED } from "../../scripts/teardown/select";
import { createTestStack, listStacks } from "../../scripts/teardown/stacks";
import { filesUnder, LAB_PASSPHRASE, labSandbox, runScript, Sandbox } from "../support/engineSandbox";

const THROWAWAY = "test-throwaway";
const HOUR = 3_600_000;

describe("teardown with the engine", { timeout: 15 * 60_000 }, () => {
  let sandbox: Sandbox;
  let env: Record<string, string>;
  const options = () => ({ workDir: sandbox.workDir, backendUrl: sandbox.backendUrl, passphrase: LAB_PASSPHRASE });
  const teardown = (args: string[]) => runScript("scripts/teardown.ts", args, sandbox.workDir, env);

  before(async () => {
    sandbox = labSandbox();
    // The CLI the engine uses, first on PATH for the listing workspace (as ./mf teardown does).
    const bin = execFileSync("bash", [join(REPO_ROOT, "scripts/setup/pulumi-cli.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop()!;
    env = { PATH: `${bin}:${process.env.PATH}`, PULUMI_BACKEND_URL: sandbox.backendUrl, PULUMI_CONFIG_PASSPHRASE: LAB_PASSPHRASE };
    process.env.PATH = env.PATH;
    // Created two hours ago with a TTL of one hour: expired.
    const stack = await createTestStack({ ...options(), from: "lab", stack: THROWAWAY, ttlHours: 1, now: new Date(Date.now() - 2 * HOUR) });
    await stack.up();
    // A real stack (never deployed here) and an expired prefixed stack with a protected name.
    await openStack("lab", options());
    const prodLike = await openStack("test-prod", options());
    for (const [k, v] of Object.entries(creationTags(new Date(Date.now() - 2 * HOUR), 1))) await prodLike.setTag(k, v);
  });
  after(() => sandbox?.remove());

  it("created the test stack from the lab's settings, tagged, with resources", async () => {
    const stacks = await listStacks(options());
    const throwaway = stacks.find((s) => s.name === THROWAWAY)!;
    assert.ok(throwaway, stacks.map((s) => s.name).join(", "));
    assert.match(throwaway.tags[TAG_CREATED], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(throwaway.tags["mailfleet:ttl-hours"], "1");
    const outputs = await (await openStack(THROWAWAY, options())).outputs();
    assert.deepEqual(outputs.mxHosts.value, ["mx1.test-throwaway.mail.example.com", "mx2.test-throwaway.mail.example.com"]);
  });

  it("--dry-run says what it would do and changes nothing", () => {
    const before = filesUnder(sandbox.stateDir).map((f) => f.path).sort();
    const run = teardown(["--dry-run"]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /destroy\s+test-throwaway\s+expired 1\.0 h ago/);
    assert.match(run.stdout, /refuse\s+test-prod\s+the name contains "prod"/);
    assert.match(run.stdout, /would destroy and remove test-throwaway/);
    assert.doesNotMatch(run.stdout, /\blab\b/);
    assert.deepEqual(filesUnder(sandbox.stateDir).map((f) => f.path).sort(), before);
  });

  it("refuses a named real stack and touches nothing", () => {
    const run = teardown(["--stack", "lab"]);
    assert.equal(run.status, 1);
    assert.match(run.stdout, /refuse\s+lab\s+does not start with the test prefix "test-"/);
  });

  it("destroys and removes the expired test stack, even without its stack file (as the nightly run has none)", async () => {
    rmSync(join(sandbox.workDir, "stacks", `Pulumi.${THROWAWAY}.yaml`));
    const run = teardown([]);
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /destroying test-throwaway/);
    assert.match(run.stdout, /destroyed and removed test-throwaway/);
    // The engine's own summary: the key resources the up created are gone.
    assert.match(run.stdout, /\b[1-9][0-9]* deleted\b/);
    assert.deepEqual((await listStacks(options())).map((s) => s.name).sort(), ["lab", "test-prod"]);
    const left = filesUnder(sandbox.stateDir).filter((f) => f.path.includes(`stacks/mailfleet/${THROWAWAY}.json`));
    // `stack rm` keeps only a .bak of the final checkpoint, which the destroy left without resources.
    assert.deepEqual(left.map((f) => f.path.slice(f.path.lastIndexOf("/") + 1)).filter((n) => !n.endsWith(".attrs")), [`${THROWAWAY}.json.bak`]);
    assert.equal(JSON.parse(left.find((f) => f.path.endsWith(".bak"))!.content).checkpoint.latest.resources, undefined);
  });
});
