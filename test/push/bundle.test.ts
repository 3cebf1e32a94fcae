import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { buildFleet, givenAddresses } from "../../components/build";
import { parseFleetConfig, readStackConfig } from "../../components/config";
import { loadOrCreateKeys } from "../../components/keys/offline";
import { bundleFiles, contentHash, deployCommand, DeployRole, parseBundle } from "../../components/push/bundle";
import { deployScript } from "../../components/push/deployScript";
import { file, RenderedFile } from "../../components/render/file";
import { buildTopology } from "../../components/topology";
import { labDnsFiles } from "../../scripts/lab/peers";

/** The joined deploy script as the host gets it, in a file bash can run. */
const DEPLOY_SCRIPT_PATH = join(mkdtempSync(join(tmpdir(), "mailfleet-deploy-")), "deploy.sh");
writeFileSync(DEPLOY_SCRIPT_PATH, deployScript());

const files: RenderedFile[] = [
  file("/etc/postfix/main.cf", "myhostname = mx1.mail.example.com\n"),
  file("/etc/mailfleet/tls/host.key", "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n", { secret: true }),
  file("/etc/dovecot/users", "alice@example.com:{SHA512-CRYPT}$6$x$y\n", { mode: 0o640, group: "dovecot", secret: true }),
  file("/var/lib/rspamd/dkim/example.com.lab1.key", "k", { mode: 0o640, group: "_rspamd", secret: true }),
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
  const hashOf = (fs: RenderedFile[]) => contentHash(bundleFiles(fs));
  assert.equal(hashOf(files), hashOf(files.map((f) => ({ ...f }))));
  assert.match(hashOf(files), /^[0-9a-f]{64}$/);
  const changed = (patch: Partial<RenderedFile>) => hashOf([{ ...files[0], ...patch }, ...files.slice(1)]);
  const hashes = new Set([hashOf(files), changed({ content: "myhostname = mx2\n" }), changed({ mode: 0o640 }), changed({ group: "postfix" })]);
  assert.equal(hashes.size, 4);
});

test("the deploy command carries deploy.sh verbatim and runs it for the role as root", () => {
  const command = deployCommand("edge");
  const encoded = /echo ([A-Za-z0-9+/=]+) \| base64 -d/.exec(command)![1];
  assert.equal(Buffer.from(encoded, "base64").toString("utf8"), deployScript());
  // The push's address goes through sudo as an argument (env_reset drops SSH_CONNECTION).
  assert.match(command, /from="\$\{SSH_CONNECTION%% \*\}"; if .* then bash "\$f" edge "\$from"; else sudo bash "\$f" edge "\$from"; fi/);
  const echo = command.replace(/echo [A-Za-z0-9+/=]+ \| base64 -d > "\$f"/, 'echo \'printf "[%s]" "$@"\' > "$f"');
  const run = (env: Record<string, string>) => spawnSync("sh", ["-c", echo], { env: { PATH: process.env.PATH, ...env }, encoding: "utf8" }).stdout;
  assert.equal(run({ SSH_CONNECTION: "192.0.2.99 50022 192.0.2.11 22" }), "[edge][192.0.2.99]");
  assert.equal(run({}), "[edge][]");
  assert.throws(() => deployCommand("mail" as never), /no deploy role/);
  // The command is one valid POSIX shell line, and deploy.sh is valid bash.
  assert.equal(spawnSync("sh", ["-n", "-c", command]).status, 0);
  assert.equal(spawnSync("bash", ["-n", DEPLOY_SCRIPT_PATH]).status, 0);
});

/** deploy.sh --check: reads the bundle as the host would (fields, allowlist), changes nothing. */
function check(role: DeployRole, input: string | Buffer) {
  return spawnSync("bash", [DEPLOY_SCRIPT_PATH, "--check", role], { input, encoding: "utf8" });
}

test("deploy.sh refuses a bundle that is not one, or a file its role may not write, before touching anything", () => {
  for (const [input, message] of [
    ["", /empty bundle/],
    ["hello\n", /not a mailfleet bundle/],
    ["mailfleet-bundle 1 2\n0644 root root /etc/postfix/main.cf eA==\n", /truncated bundle/],
    ["mailfleet-bundle 1 1\n0644 root root /etc/../x eA==\n", /bad path/],
    ["mailfleet-bundle 1 1\n0644 root root /etc/postfix/main.cf $(reboot)\n", /a byte outside its alphabet/],
    ["mailfleet-bundle 1 1\n0644 root root /etc/postfix/main.cf eA\n", /bad content/],
    ["mailfleet-bundle 1 1\n0644 root root /etc/shadow eA==\n", /not a file the store role may write/],
    ["mailfleet-bundle 1 1\n0644 root root /etc/dovecot/users eA==\n", /owner root:root is not allowed/],
    ["mailfleet-bundle 1 1\n0644 root dovecot /etc/dovecot/users eA==\n", /mode 0644 is above the 0640/],
  ] as const) {
    for (const argv of [["--check", "store"], ["store"]]) {
      const r = spawnSync("bash", [DEPLOY_SCRIPT_PATH, ...argv], { input, encoding: "utf8" });
      assert.equal(r.status, 1, input);
      assert.match(r.stderr, message);
    }
  }
  assert.match(spawnSync("bash", [DEPLOY_SCRIPT_PATH, "--check", "store", "192.0.2.1;reboot"], { input: "mailfleet-bundle 1 0\n", encoding: "utf8" }).stderr, /bad push address/);
});

/** Every file a byte-level change of a good bundle can produce, read by parseBundle and by deploy.sh. */
test("parseBundle and deploy.sh read every bundle alike: both refuse it, or both see the same files", () => {
  const good = bundleFiles([file("/etc/dovecot/dovecot.conf", "a = b\n".repeat(8)), file("/etc/dovecot/users", "u\n", { mode: 0o640, group: "dovecot" })]);
  const nasty = fc.constantFrom(" ", "  ", "\t", "\r", "\0", "\n", "=", "/", "..", "0", "7", "A", "-", "é", "\u00a0", "\v", "$", "*");
  // Edits land anywhere, and often at a field separator, where a reader's leniency shows.
  const separators = [...good].flatMap((c, i) => (c === " " || c === "\n" ? [i, i + 1] : []));
  const at = fc.oneof(fc.nat(good.length), fc.constantFrom(...separators));
  fc.assert(
    fc.property(fc.array(fc.tuple(at, fc.nat(2), nasty), { minLength: 1, maxLength: 3 }), (edits) => {
      let bundle = good;
      for (const [at, cut, text] of edits) bundle = bundle.slice(0, at) + text + bundle.slice(Math.min(bundle.length, at + cut));
      let parsed: ReturnType<typeof parseBundle> | undefined;
      try {
        parsed = parseBundle(bundle);
      } catch {
        parsed = undefined;
      }
      const r = check("store", Buffer.from(bundle, "utf8"));
      if (!parsed) {
        assert.equal(r.status, 1, `deploy.sh accepted what parseBundle refuses: ${JSON.stringify(bundle)}`);
        return;
      }
      // What parseBundle accepts, deploy.sh reads to the same fields (or refuses by its allowlist only).
      if (r.status !== 0) {
        assert.match(r.stderr, /may write|is not allowed|is above/, JSON.stringify(bundle));
        return;
      }
      const base64 = bundle.trimEnd().split("\n").slice(1).map((l) => l.split(" ")[4]);
      const expected = parsed.map((f, i) => `0${f.mode.toString(8)} ${f.owner} ${f.group} ${f.path} ${createHash("sha256").update(Buffer.from(base64[i], "base64")).digest("hex")}\n`);
      assert.equal(r.stdout, expected.join(""), JSON.stringify(bundle));
    }),
    { numRuns: 200 },
  );
});

/** Every host of every example stack (and the lab with a smarthost, with a domain's pinned relay), as buildFleet renders it. */
function exampleBundles(): { name: string; role: DeployRole; files: RenderedFile[] }[] {
  const stacks = readdirSync("stacks").flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? []);
  assert.ok(stacks.length >= 4, stacks.join(" "));
  const specs = stacks.map((stack) => [stack, parseFleetConfig(readStackConfig(stack, { passphrase: stack === "lab" ? "mailfleet-lab" : "mailfleet-example" }).raw)] as const);
  const lab = specs.find(([stack]) => stack === "lab")![1];
  specs.push(["lab+smarthost", { ...lab, smarthost: { host: "relay.example.net", port: 587, username: "u@example.com", password: "pw" } }]);
  const pinned = lab.tls.acme.caBundle!;
  specs.push(["lab+domain relays", { ...lab, domainSmarthosts: { "example.org": { host: "relay.example.net", port: 587, username: "org", password: "pw", caCertificate: pinned } } }]);
  const retention = { hourly: 24, daily: 14, weekly: 8 };
  specs.push(["lab+backup", { ...lab, backup: { repository: "rest:http://192.0.2.99:8000/mail", password: "a long enough repository password", intervalMinutes: 60, retention } }]);
  const keys = mkdtempSync(join(tmpdir(), "mailfleet-keys-"));
  return specs.flatMap(([stack, spec]) => {
    const topology = buildTopology(spec);
    // The cloud allocates addresses at deploy time: stand-ins from a documentation range.
    const addresses = spec.compute === "byo" ? givenAddresses(spec) : Object.fromEntries(buildTopology(spec).hosts.map((h, i) => [h.name, { ipv4: `192.0.2.${10 + i}`, ...(spec.ipv6 ? { ipv6: `2001:db8::${10 + i}` } : {}) }]));
    const build = buildFleet(spec, addresses, loadOrCreateKeys(join(keys, stack), topology));
    return [
      ...topology.hosts.map((h) => ({ name: `${stack}/${h.name}`, role: h.role as DeployRole, files: build.hostFiles[h.name] })),
      ...(build.dnsServerFiles.length ? [{ name: `${stack}/zone server`, role: "dns" as const, files: build.dnsServerFiles }] : []),
      // The lab's nameserver also serves the lab's own peer zones.
      ...(stack === "lab" ? [{ name: "lab/dns1 with peer zones", role: "dns" as const, files: labDnsFiles(build.dnsServerFiles, { fqdn: spec.zone!.nameservers[0].name, ipv4: spec.zone!.nameservers[0].ipv4, ipv6: spec.zone!.nameservers[0].ipv6! }, "00".repeat(32)) }] : []),
    ];
  });
}

test("deploy.sh's own allowlist admits every file every example stack renders for each role", () => {
  const bundles = exampleBundles();
  for (const role of ["edge", "outbound", "store", "dns"]) assert.ok(bundles.some((b) => b.role === role), `no ${role} host in the examples`);
  assert.ok(bundles.some((b) => b.files.some((f) => f.path === "/etc/postfix/sasl_passwd")));
  assert.ok(bundles.some((b) => b.files.some((f) => f.path === "/usr/local/sbin/mailfleet-backup")));
  for (const { name, role, files } of bundles) {
    const r = check(role, bundleFiles(files));
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    assert.equal(r.stdout.trimEnd().split("\n").length, files.length, name);
  }
});
