import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import fc from "fast-check";
import { bundleFiles, contentHash, deployCommand, DEPLOY_SCRIPT_PATH, parseBundle } from "../../components/push/bundle";
import { file, RenderedFile } from "../../components/render/file";

const files: RenderedFile[] = [
  file("/etc/postfix/main.cf", "myhostname = mx1.mail.example.com\n"),
  file("/etc/mailfleet/tls/host.key", "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n", { secret: true }),
  file("/etc/dovecot/users", "alice@example.com:{SHA512-CRYPT}$6$x$y\n", { mode: 0o640, group: "dovecot", secret: true }),
  file("/var/lib/rspamd/dkim/example.com.lab1.key", "k", { mode: 0o600, owner: "_rspamd", group: "_rspamd", secret: true }),
];

test("a bundle is one header line and one line per file, read back to the same files", () => {
  const bundle = bundleFiles(files);
  const lines = bundle.trimEnd().split("\n");
  assert.equal(lines[0], "mailfleet-bundle 1 4");
  assert.equal(lines.length, 5);
  assert.match(lines[2], /^0600 root root \/etc\/mailfleet\/tls\/host\.key [A-Za-z0-9+/=]+$/);
  assert.match(lines[3], /^0640 root dovecot \/etc\/dovecot\/users /);
  assert.deepEqual(parseBundle(bundle), files.map(({ secret: _secret, ...f }) => f));
});

test("any content survives the bundle unchanged and stays on its own line", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), fc.constantFrom(0o600, 0o640, 0o644, 0o755), (content, mode) => {
      const f = file("/etc/x/y.conf", content, { mode });
      const bundle = bundleFiles([f]);
      assert.equal(bundle.split("\n").length, 3);
      const [back] = parseBundle(bundle);
      assert.equal(back.content, content);
      assert.equal(back.mode, mode);
    }),
  );
});

test("paths, owners and modes that could escape or inject are refused", () => {
  const bad: RenderedFile[] = [
    file("relative/path", "x"),
    file("/etc/../root/.ssh/authorized_keys", "x"),
    file("/etc/a b", "x"),
    file("/etc/x\n0644 root root /etc/y", "x"),
    file("/etc/x;reboot", "x"),
    file("/etc/x", "x", { owner: "root root" }),
    file("/etc/x", "x", { group: "$(id)" }),
    file("/etc/x", "x", { mode: 0o4755 }),
  ];
  for (const f of bad) assert.throws(() => bundleFiles([f]), /cannot deploy/, JSON.stringify(f.path));
  assert.throws(() => bundleFiles([files[0], files[0]]), /twice/);
});

test("the content hash is stable and changes with content, mode or owner", () => {
  assert.equal(contentHash(files), contentHash(files.map((f) => ({ ...f }))));
  assert.match(contentHash(files), /^[0-9a-f]{64}$/);
  const changed = (patch: Partial<RenderedFile>) => contentHash([{ ...files[0], ...patch }, ...files.slice(1)]);
  const hashes = new Set([contentHash(files), changed({ content: "myhostname = mx2\n" }), changed({ mode: 0o640 }), changed({ group: "postfix" })]);
  assert.equal(hashes.size, 4);
});

test("the deploy command carries deploy.sh verbatim and runs it for the role as root", () => {
  const command = deployCommand("edge");
  const encoded = /echo ([A-Za-z0-9+/=]+) \| base64 -d/.exec(command)![1];
  assert.equal(Buffer.from(encoded, "base64").toString("utf8"), readFileSync(DEPLOY_SCRIPT_PATH, "utf8"));
  assert.match(command, /bash "\$f" edge; else sudo bash "\$f" edge; fi/);
  assert.throws(() => deployCommand("mail" as never), /no deploy role/);
  // The command is one valid POSIX shell line, and deploy.sh is valid bash.
  assert.equal(spawnSync("sh", ["-n", "-c", command]).status, 0);
  assert.equal(spawnSync("bash", ["-n", DEPLOY_SCRIPT_PATH]).status, 0);
});

test("deploy.sh refuses a bundle that is not one, before touching anything", () => {
  for (const [input, message] of [
    ["", /empty bundle/],
    ["hello\n", /not a mailfleet bundle/],
    ["mailfleet-bundle 1 2\n0644 root root /etc/x eA==\n", /truncated bundle/],
    ["mailfleet-bundle 1 1\n0644 root root /etc/../x eA==\n", /bad path/],
    ["mailfleet-bundle 1 1\n0644 root root /etc/x $(reboot)\n", /bad content/],
  ] as const) {
    const r = spawnSync("bash", [DEPLOY_SCRIPT_PATH, "store"], { input, encoding: "utf8" });
    assert.equal(r.status, 1, input);
    assert.match(r.stderr, message);
  }
});
