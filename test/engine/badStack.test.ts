/**
 * A bad stack file stops the driver before the engine is started: the operator reads the same
 * ConfigError the offline render prints, and the state backend never sees the stack.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LAB_PASSPHRASE, labSandbox, runScript, Sandbox } from "../support/engineSandbox";

describe("engine: bad stack file", () => {
  let box: Sandbox;
  before(() => {
    box = labSandbox();
    // Two typos in one file: a host name in upper case and a misspelt DMARC policy.
    const broken = readFileSync(box.stackFile, "utf8").replace("{name: mx2,", "{name: MX2,").replace("policy: reject", "policy: rejekt");
    writeFileSync(box.stackFile, broken);
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
