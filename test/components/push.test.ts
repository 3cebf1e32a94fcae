/**
 * The SSH push's trigger: the content hash of a host's files, so that `up` runs a host's deploy
 * command exactly when that host's files changed.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { FleetSpec } from "../../components/config";
import { MailFleet } from "../../components/fleet";
import { pushCommandArgs, sshPush } from "../../components/push/ssh";
import { RenderedFile } from "../../components/render/file";
import { exampleSpec, labSpec, ofType, reveal, underMocks } from "./harness";

const COMMAND = "command:remote:Command";

async function triggers(run: () => unknown): Promise<Record<string, unknown>> {
  const { resources } = await underMocks(run);
  return Object.fromEntries(ofType(resources, COMMAND).map((c) => [c.name, c.inputs.triggers]));
}

/** Pushes the given files the way MailFleet does, one command per host. */
function pushAll(spec: FleetSpec, files: Record<string, RenderedFile[]>): void {
  for (const host of spec.hosts) {
    sshPush(spec, `push-${host.name}`, { role: host.role, host: host.ipv4!, files: pulumi.output(files[host.name]) }, {});
  }
}

describe("push arguments", () => {
  it("carry the files and the SSH key as secrets, even when the files came in plain", async () => {
    const spec: FleetSpec = { ...labSpec(), push: "ssh", ssh: { user: "admin", privateKey: generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString() } };
    const files: RenderedFile[] = [{ path: "/etc/dovecot/users", content: "alice@example.com:{SHA512-CRYPT}$6$x", mode: 0o640, owner: "root", group: "dovecot", secret: true }];
    const args = pushCommandArgs(spec, { role: "store", host: "192.0.2.31", files: pulumi.output(files) });
    assert.ok(await pulumi.isSecret(pulumi.output(args.stdin)), "the bundle");
    const connection = pulumi.output(args.connection);
    assert.ok(await pulumi.isSecret(connection.apply((c) => c.privateKey)), "the SSH key");
    assert.equal(await pulumi.isSecret(pulumi.output(args.triggers)), false, "the content hash stays readable for previews");
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
    const spec: FleetSpec = { ...lab, push: "ssh", ssh: { ...lab.ssh, privateKey: generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString() } };

    const before = await triggers(() => pushAll(spec, files));
    const [first, ...rest] = files.mx1;
    const changed = { ...files, mx1: [{ ...first, content: `${first.content}\n` }, ...rest] };
    const after = await triggers(() => pushAll(spec, changed));

    assert.notDeepEqual(after["push-mx1"], before["push-mx1"]);
    for (const host of spec.hosts.filter((h) => h.name !== "mx1")) assert.deepEqual(after[`push-${host.name}`], before[`push-${host.name}`], host.name);

    const mode = { ...files, store1: files.store1.map((f, i) => (i === 0 ? { ...f, mode: 0o640 } : f)) };
    assert.notDeepEqual((await triggers(() => pushAll(spec, mode)))["push-store1"], before["push-store1"], "a mode change is a change");
  });
});
