/**
 * `pulumi up` as the README tells operators to run it: the real CLI and its Node.js language host
 * run the project's own index.ts, Pulumi.yaml (stackConfigDir: stacks) and lab stack file, on a
 * file backend in a temp folder, in a network namespace with loopback only. One stack through the
 * steps an operator takes, each building on the one before.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RenderedFile } from "../../components/render/file";
import { HASH } from "../support/fixtures";
import { CliRun, filesUnder, labStackShape, projectSandbox, pulumi, reveal, Sandbox } from "../support/engineSandbox";

const { hosts: HOSTS, resources: RESOURCES } = labStackShape();
const DAVE_HASH = HASH;

/** The step succeeded; its output is the assertion message otherwise. */
function ok(run: CliRun): string {
  assert.equal(run.status, 0, run.stdout + run.stderr);
  return run.stdout;
}

/**
 * The engine's summary: `+ 20 created`, `20 unchanged`, … as the CLI prints it under its last
 * `Resources:` (`up --yes` prints the preview's first).
 */
function summary(stdout: string): string[] {
  const block = stdout.split(/^Resources:\n/m).pop() ?? "";
  return block.split(/\n\s*\n/)[0].split("\n").map((l) => l.trim()).filter(Boolean);
}

describe("engine: the pulumi CLI and its Node.js language host on the project", () => {
  let box: Sandbox;
  let outputs: Record<string, any>;
  const cli = (args: string[], input?: string) => pulumi(box, args, { input });

  before(() => {
    box = projectSandbox();
  });
  after(() => {
    // A failed step must not leave a stack behind (the temp folder goes with it anyway).
    cli(["destroy", "--yes", "--stack", "lab"]);
    box.remove();
  });

  it("stack init, and a secret set from stdin lands encrypted in stacks/Pulumi.lab.yaml", () => {
    ok(cli(["stack", "init", "lab", "--secrets-provider", "passphrase"]));
    ok(cli(["config", "set", "--stack", "lab", "--path", "mailboxes[3].address", "dave@example.com"]));
    ok(cli(["config", "set", "--stack", "lab", "--path", "mailboxes[3].store", "store1"]));
    // No value on the command line: the CLI reads it from stdin, so it never shows in a process list.
    ok(cli(["config", "set", "--stack", "lab", "--path", "--secret", "mailboxes[3].passwordHash"], DAVE_HASH));
    const stackFile = filesUnder(`${box.workDir}/stacks`).find((f) => f.path === box.stackFile)!;
    assert.ok(!stackFile.content.includes(DAVE_HASH), "the hash is in the stack file in plain text");
    assert.match(stackFile.content, /- address: dave@example\.com\n\s+store: store1\n\s+passwordHash:\n\s+secure: v1:/);
    const shown = ok(cli(["config", "get", "--stack", "lab", "--path", "mailboxes[3].passwordHash"]));
    assert.equal(shown.trim(), DAVE_HASH);
  });

  it("preview shows the diff: every resource to create, the outputs to come, no warning", () => {
    const run = cli(["preview", "--stack", "lab", "--diff"]);
    const stdout = ok(run);
    assert.match(stdout, /^Previewing update \(lab\):/m);
    assert.match(stdout, /\+ pulumi-nodejs:dynamic\/mailfleet:DkimKey: \(create\)\n\s+\[urn=.*dkim-lab1-example\.com\]/);
    assert.deepEqual(summary(stdout), [`+ ${RESOURCES} to create`]);
    // The CLI finds its language host beside itself: no "found on PATH" warning, no Node warning.
    // (The diff itself may say "warning": the alert rules' severity label.)
    assert.doesNotMatch(stdout + run.stderr, /^\s*warning:|\(node:\d+\)|found on PATH/im);
  });

  it("up creates the fleet; its outputs name the MX hosts and hold every host's files, dave's among them", () => {
    const stdout = ok(cli(["up", "--yes", "--stack", "lab"]));
    assert.deepEqual(summary(stdout), [`+ ${RESOURCES} created`]);
    outputs = JSON.parse(ok(cli(["stack", "output", "--stack", "lab", "--json", "--show-secrets"])));
    assert.deepEqual(outputs.mxHosts, ["mx1.mail.example.com", "mx2.mail.example.com"]);
    assert.deepEqual(Object.keys(outputs.hostFiles).sort(), HOSTS);
    const users = (outputs.hostFiles.store1 as RenderedFile[]).find((f) => f.path === "/etc/dovecot/users");
    assert.ok(users?.content.includes(`dave@example.com:${DAVE_HASH}`), users?.content);
    // Without --show-secrets the files stay hidden.
    const masked = JSON.parse(ok(cli(["stack", "output", "--stack", "lab", "--json"])));
    assert.equal(masked.hostFiles, "[secret]");
  });

  it("a second up --expect-no-changes changes nothing", () => {
    const stdout = ok(cli(["up", "--yes", "--stack", "lab", "--expect-no-changes"]));
    assert.deepEqual(summary(stdout), [`${RESOURCES} unchanged`]);
  });

  it("the state on disk holds no private key and not the secret set from stdin", () => {
    const exported = JSON.parse(ok(cli(["stack", "export", "--stack", "lab", "--show-secrets"])));
    const keys: string[] = reveal(exported.deployment.resources)
      .flatMap((r: any) => [r.outputs?.privateKeyPem, r.outputs?.keyPem])
      .filter(Boolean);
    assert.ok(keys.length >= 2 + 1 + HOSTS.length, "the export holds the keys it should");
    const files = filesUnder(box.stateDir);
    assert.ok(files.some((f) => f.path.endsWith("/stacks/mailfleet/lab.json")), "no state file where the file backend keeps it");
    for (const file of files) {
      assert.doesNotMatch(file.content, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, file.path);
      assert.ok(!file.content.includes(DAVE_HASH), `${file.path} holds dave's hash in plain text`);
      for (const pem of keys) assert.ok(!file.content.includes(pem.split(/\r?\n/)[1]), `${file.path} holds a key in plain text`);
    }
  });

  it("renaming one host replaces that host's certificate and TSIG key and touches nothing else", () => {
    ok(cli(["config", "set", "--stack", "lab", "--path", "hosts.outbound[0].name", "out9"]));
    const preview = ok(cli(["preview", "--stack", "lab", "--json"]));
    const steps = (JSON.parse(preview).steps as { op: string; urn: string }[]).map((s) => `${s.op} ${s.urn.split("::").pop()}`);
    assert.deepEqual(steps.filter((s) => !s.startsWith("same ")).sort(), ["create cert-out9", "create tsig-out9", "delete cert-out1", "delete tsig-out1"]);
    const stdout = ok(cli(["up", "--yes", "--stack", "lab"]));
    assert.deepEqual(summary(stdout), ["+ 2 created", "- 2 deleted", `4 changes. ${RESOURCES - 2} unchanged`]);
    const now = JSON.parse(ok(cli(["stack", "output", "--stack", "lab", "--json", "--show-secrets"])));
    assert.deepEqual(Object.keys(now.hostFiles).sort(), HOSTS.map((h) => (h === "out1" ? "out9" : h)).sort());
  });

  it("destroy leaves no resource and stack rm removes the stack", () => {
    const stdout = ok(cli(["destroy", "--yes", "--stack", "lab"]));
    assert.deepEqual(summary(stdout), [`- ${RESOURCES} deleted`]);
    // --preserve-config: stacks/Pulumi.lab.yaml is the operator's committed config, not the engine's.
    ok(cli(["stack", "rm", "--yes", "--preserve-config", "lab"]));
    assert.deepEqual(JSON.parse(ok(cli(["stack", "ls", "--json"]))), []);
    assert.ok(filesUnder(`${box.workDir}/stacks`).some((f) => f.path === box.stackFile));
  });
});
