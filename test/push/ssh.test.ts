/**
 * The SSH push under mocks: what its resources carry (the state keeps their inputs), the trigger
 * (the content hash of a host's files, so that `up` runs a host's deploy exactly when its files
 * changed), and the remote wrapper around deploy.sh, run by a real shell.
 */
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, existsSync, writeFileSync, symlinkSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { FleetSpec } from "../../components/config";
import { MailFleet } from "../../components/fleet";
import { bundleFiles, deployCommand } from "../../components/push/bundle";
import { PREPARE_COMMAND, remoteDeploy, sshPush } from "../../components/push/ssh";
import { RenderedFile } from "../../components/render/file";
import { buildTopology } from "../../components/topology";
import { DS_COMMAND } from "../../components/dns/zone";
import { asStored } from "../../scripts/bench/pushState";
import { HASH } from "../support/fixtures";
import { exampleSpec, isSecretValue, labSpec, ofType, Registered, reveal, underMocks } from "../support/harness";

const COMMAND = "command:remote:Command";
const UPLOAD = "command:remote:CopyToRemote";
const deployKey = () => generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();

/** The deploy commands (not their upload-directory commands), by name, with their triggers. */
async function triggers(run: () => unknown): Promise<Record<string, unknown>> {
  const { resources } = await underMocks(run);
  return Object.fromEntries(ofType(resources, COMMAND).filter((c) => !c.name.endsWith("-dir")).map((c) => [c.name, c.inputs.triggers]));
}

/** Pushes the given files the way MailFleet does, one push per host. */
function pushAll(spec: FleetSpec, files: Record<string, RenderedFile[]>): void {
  for (const host of buildTopology(spec).hosts) {
    sshPush(spec, `push-${host.name}`, { role: host.role, host: host.ipv4!, files: pulumi.output(files[host.name]) }, {});
  }
}

const pushResources = (resources: Registered[]) => resources.filter((r) => (r.type === COMMAND && r.name !== DS_COMMAND) || r.type === UPLOAD);

describe("push resources", () => {
  it("keep the bundle out of their inputs: it travels as a private local file, and the SSH key stays secret", async () => {
    const spec: FleetSpec = { ...labSpec(), push: "ssh", ssh: { user: "admin", privateKey: deployKey() } };
    const users = { path: "/etc/dovecot/users", content: `alice@example.com:${HASH}`, mode: 0o640, owner: "root", group: "dovecot", secret: true };
    const files: RenderedFile[] = [users];
    const { resources } = await underMocks(() => sshPush(spec, "push-store1", { role: "store", host: "192.0.2.31", files: pulumi.secret(files) }, {}));
    assert.deepEqual(pushResources(resources).map((r) => r.name), ["push-store1-dir", "push-store1-upload", "push-store1"]);
    for (const r of pushResources(resources)) {
      assert.ok(isSecretValue(r.rawInputs.connection), `${r.name}: the connection (with the SSH key) is secret`);
      const stored = JSON.stringify(await asStored(r.rawInputs));
      assert.ok(!stored.includes(HASH) && !stored.includes("PRIVATE KEY"), `${r.name}: no hash or key in plain text`);
    }
    const upload = resources.find((r) => r.type === UPLOAD)!;
    const path: string = await upload.rawInputs.source.path;
    assert.equal(readFileSync(path, "utf8"), bundleFiles(files), "the staged file is the bundle");
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(dirname(path)).mode & 0o777, 0o700);
    const sha256 = createHash("sha256").update(bundleFiles(files)).digest("hex");
    const deploy = resources.find((r) => r.name === "push-store1")!;
    assert.deepEqual(deploy.inputs.triggers, [sha256]);
    assert.ok(!isSecretValue(deploy.rawInputs.triggers[0]), "the content hash stays readable for previews");
    assert.equal(deploy.inputs.create, remoteDeploy("push-store1", sha256, deployCommand("store")));
  });

  it("stay small for a stack with many mailboxes: what the state keeps grows with the hosts, not with the mailboxes", async () => {
    const stored = async (mailboxes: number) => {
      const spec = labSpec((raw) => {
        raw.push = "ssh";
        raw.ssh = { user: "admin", privateKey: deployKey() };
        raw.mailboxes = [
          ...raw.mailboxes,
          ...Array.from({ length: mailboxes }, (_, i) => ({
            address: `user${i}@example.com`,
            passwordHash: `${HASH.slice(0, -6)}${i.toString().padStart(6, "0")}`,
            store: "store2",
          })),
        ];
      });
      const { resources } = await underMocks(() => new MailFleet("mailfleet", { spec }));
      const pushes = pushResources(resources);
      const text = JSON.stringify(await Promise.all(pushes.map((r) => asStored(r.rawInputs))));
      const staged = await Promise.all(ofType(resources, UPLOAD).map(async (r) => readFileSync(await r.rawInputs.source.path, "utf8").length));
      return { spec, text, bundles: staged.reduce((a, b) => a + b, 0), count: pushes.length };
    };
    const few = await stored(0);
    const many = await stored(5000);
    assert.equal(many.count, 3 * (many.spec.hosts.length + 1), "three push resources per host and for the nameserver");
    assert.ok(many.bundles > few.bundles + 5000 * 100, `the bundles grew with the mailboxes (${few.bundles} -> ${many.bundles} bytes)`);
    // Only a bundle's hash and staging path change, never their length.
    assert.ok(Math.abs(many.text.length - few.text.length) < 200, `push inputs ${few.text.length} -> ${many.text.length} bytes`);
    // Each host's deploy command carries deploy.sh itself; beyond those, little.
    const commands = (many.spec.hosts.length + 1) * deployCommand("store").length;
    assert.ok(many.text.length < commands + 20_000, `${many.text.length} bytes of push inputs, ${commands} of them deploy commands`);
    for (const m of many.spec.mailboxes.slice(-3)) assert.ok(!many.text.includes(m.passwordHash.slice(-20)), `no trace of ${m.address}'s hash`);
    assert.ok(!many.text.includes(many.spec.ssh.privateKey!.split("\n")[1]), "nor of the SSH key");
  });
});

describe("the remote deploy", () => {
  /** Runs `script` with sh in a fresh home directory, as the SSH session on the host would. */
  function inHome(script: string, home = mkdtempSync(join(tmpdir(), "mailfleet-home-"))) {
    const run = spawnSync("sh", ["-c", script], { encoding: "utf8", env: { PATH: process.env.PATH, HOME: home } });
    return { home, code: run.status, out: run.stdout + run.stderr };
  }
  const bundle = "mailfleet-bundle 1 0\n";
  const sha256 = createHash("sha256").update(bundle).digest("hex");
  // Stands in for deployCommand(role): records what deploy.sh would read on its stdin.
  const fake = (code: number) => `cat > "$HOME/stdin"; exit ${code}`;
  const upload = (home: string, content = bundle) => {
    mkdirSync(join(home, ".mailfleet-push"), { recursive: true });
    writeFileSync(join(home, ".mailfleet-push", "push-mx1.bundle"), content);
  };

  it("makes the upload directory private, and refuses one that is a symlink", () => {
    const made = inHome(PREPARE_COMMAND);
    assert.equal(made.code, 0, made.out);
    assert.equal(statSync(join(made.home, ".mailfleet-push")).mode & 0o777, 0o700);
    const home = mkdtempSync(join(tmpdir(), "mailfleet-home-"));
    symlinkSync(tmpdir(), join(home, ".mailfleet-push"));
    assert.notEqual(inHome(PREPARE_COMMAND, home).code, 0);
  });

  it("feeds the uploaded bundle to deploy.sh, removes it once deployed, and a re-run without a new upload does nothing", () => {
    const { home } = inHome("true");
    upload(home);
    const first = inHome(remoteDeploy("push-mx1", sha256, fake(0)), home);
    assert.equal(first.code, 0, first.out);
    assert.equal(readFileSync(join(home, "stdin"), "utf8"), bundle);
    assert.equal(existsSync(join(home, ".mailfleet-push", "push-mx1.bundle")), false, "the bundle is removed");
    const again = inHome(remoteDeploy("push-mx1", sha256, fake(1)), home);
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /is deployed already/);
  });

  it("keeps the bundle when deploy.sh fails (the next up retries), and refuses a bundle that is not the one pushed", () => {
    const { home } = inHome("true");
    upload(home);
    const failed = inHome(remoteDeploy("push-mx1", sha256, fake(3)), home);
    assert.equal(failed.code, 3);
    assert.ok(existsSync(join(home, ".mailfleet-push", "push-mx1.bundle")), "kept for the retry");
    upload(home, "mailfleet-bundle 1 1\n");
    const wrong = inHome(remoteDeploy("push-mx1", sha256, fake(0)), home);
    assert.equal(wrong.code, 1);
    assert.match(wrong.out, /the uploaded bundle is not/);
    assert.equal(existsSync(join(home, "stdin")), true, "from the failed run only");
    assert.equal(readFileSync(join(home, "stdin"), "utf8"), bundle);
  });
});

describe("push triggers", () => {
  it("are the same for the same stack, run after run", async () => {
    const first = await triggers(() => new MailFleet("mailfleet", { spec: exampleSpec("prod") }));
    const second = await triggers(() => new MailFleet("mailfleet", { spec: exampleSpec("prod") }));
    assert.equal(Object.keys(first).length, exampleSpec("prod").hosts.length);
    assert.deepEqual(second, first);
  });

  it("change for one host alone when one of its files changes", async () => {
    const lab = labSpec();
    const { result: fleet } = await underMocks(() => new MailFleet("mailfleet", { spec: lab }));
    const files = (await reveal(fleet.hostFiles!)).value;
    const spec: FleetSpec = { ...lab, push: "ssh", ssh: { ...lab.ssh, privateKey: deployKey() } };

    const before = await triggers(() => pushAll(spec, files));
    const [first, ...rest] = files.mx1;
    const changed = { ...files, mx1: [{ ...first, content: `${first.content}\n` }, ...rest] };
    const after = await triggers(() => pushAll(spec, changed));

    assert.notDeepEqual(after["push-mx1"], before["push-mx1"]);
    for (const host of buildTopology(spec).hosts.filter((h) => h.name !== "mx1")) assert.deepEqual(after[`push-${host.name}`], before[`push-${host.name}`], host.name);

    const mode = { ...files, store1: files.store1.map((f, i) => (i === 0 ? { ...f, mode: 0o640 } : f)) };
    assert.notDeepEqual((await triggers(() => pushAll(spec, mode)))["push-store1"], before["push-store1"], "a mode change is a change");
  });
});
