/** Learning from users (render/dovecot/learn.ts, the edges' controller in render/rspamd): the rendered files. Dovecot and sievec check them in dovecot.daemon.test.ts, the lab drives them in test/lab/learning.test.ts. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LEARN_PATHS } from "../../components/render/dovecot";
import { RenderedFile } from "../../components/render/file";
import { renderEdgeRspamd } from "../../components/render/rspamd";
import { hostNamed, hostsOf, RSPAMD_CONTROLLER_PORT } from "../../components/topology";
import { filesOf, LAB, labInput } from "./dovecot.fixtures";

const password = LAB.keys.state.learn;
const edges = hostsOf(LAB.topology, "edge").map((h) => `${LAB.addresses[h.name]!.ipv4}:${RSPAMD_CONTROLLER_PORT}`);
const fileAt = (files: RenderedFile[], path: string) => files.find((f) => f.path === path);

describe("learning from users", () => {
  it("the pipe program tries every edge's controller on its private address in turn, and the password is only in the mail group's header file", () => {
    const files = filesOf(LAB, "store1");
    const program = fileAt(files, LEARN_PATHS.program)!;
    assert.equal(program.mode, 0o755);
    assert.ok(edges.length >= 2);
    assert.match(program.content, new RegExp(`^for controller in ${edges.join(" ")}; do$`, "m"));
    assert.match(program.content, new RegExp(`-H @${LEARN_PATHS.passwordHeader} `), "curl reads the header from the file");
    for (const f of files.filter((f) => f.path !== LEARN_PATHS.passwordHeader)) assert.ok(!f.content.includes(password), `${f.path} holds no learn password`);
    const header = fileAt(files, LEARN_PATHS.passwordHeader)!;
    assert.equal(header.content, `Password: ${password}\n`);
    assert.equal(header.secret, true);
    assert.equal(header.mode, 0o640);
  });

  it("a move into Junk reports spam; a move out of Junk reports ham unless it goes to Trash", () => {
    const files = filesOf(LAB, "store1");
    assert.match(fileAt(files, LEARN_PATHS.reportSpam)!.content, /pipe :copy "mailfleet-learn" \["spam"\];/);
    const ham = fileAt(files, LEARN_PATHS.reportHam)!.content;
    assert.match(ham, /if string :is "\$\{mailbox\}" \["Trash", "Junk"\] \{ stop; \}\npipe :copy "mailfleet-learn" \["ham"\];/);
  });

  it("spam.junkFolder: on by default (a global Sieve before the user's files marked spam into Junk); off, no filing, learning stays", () => {
    const conf = (input: typeof LAB) => fileAt(filesOf(input, "store1"), "/etc/dovecot/dovecot.conf")!.content;
    assert.equal(LAB.topology.spec.spam.junkFolder, true);
    assert.match(conf(LAB), /sieve_script file-junk \{/);
    assert.ok(fileAt(filesOf(LAB, "store1"), LEARN_PATHS.fileJunk));
    const off = labInput((raw) => (raw.spam = { ...raw.spam, junkFolder: false }));
    assert.doesNotMatch(conf(off), /file-junk/);
    assert.equal(fileAt(filesOf(off, "store1"), LEARN_PATHS.fileJunk), undefined);
    assert.match(conf(off), /imapsieve_from Junk \{/);
    assert.throws(() => labInput((raw) => (raw.spam = { ...raw.spam, junkFolder: "yes" })), /spam\.junkFolder/);
  });

  it("the edge's controller listens on loopback and its private address behind the learn password (the outbound's stays on loopback: rspamd.daemon.test.ts)", () => {
    const edge = fileAt(renderEdgeRspamd(LAB, hostNamed(LAB.topology, "mx1")), "/etc/rspamd/local.d/worker-controller.inc")!;
    const lines = edge.content.split("\n").filter((l) => l && !l.startsWith("#"));
    assert.deepEqual(lines, [
      `bind_socket = "127.0.0.1:${RSPAMD_CONTROLLER_PORT}";`,
      `bind_socket = "${LAB.addresses.mx1!.ipv4}:${RSPAMD_CONTROLLER_PORT}";`,
      `password = "${password}";`,
      `enable_password = "${password}";`,
    ]);
    assert.deepEqual([edge.secret, edge.mode, edge.group], [true, 0o640, "_rspamd"]);
  });

  it("the controller port is open on the edges to the stores only", () => {
    for (const edge of hostsOf(LAB.topology, "edge")) {
      assert.deepEqual(edge.ports.filter((p) => p.port === RSPAMD_CONTROLLER_PORT), [{ port: RSPAMD_CONTROLLER_PORT, service: "rspamd-controller", from: "store" }]);
    }
    for (const host of LAB.topology.hosts.filter((h) => h.role !== "edge")) assert.ok(!host.ports.some((p) => p.port === RSPAMD_CONTROLLER_PORT), host.name);
  });
});
