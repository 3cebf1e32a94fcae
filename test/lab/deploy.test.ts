/**
 * deploy.sh for real: over SSH into lab hosts (mx1: Postfix, rspamd, nginx; store1: Dovecot),
 * with the exact command and bundle the Pulumi push sends.
 */
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { buildFleet, givenAddresses } from "../../components/build";
import { RenderedFile } from "../../components/render/file";
import { execOk, hostRoot, labHost, LabFleet, push, runningDaemons } from "../../scripts/lab";
import { useLab } from "../support/lab";

let fleet: LabFleet;
const files = (host: string) => fleet.build.hostFiles[host];
const live = (host: string, path: string) => readFileSync(join(hostRoot(host), path), "utf8");
/** The host's files with one file's content changed. */
const withContent = (host: string, path: string, change: (content: string) => string): RenderedFile[] =>
  files(host).map((f) => (f.path === path ? { ...f, content: change(f.content) } : f));

useLab((up) => (fleet = up));

test("pushing the same files again changes nothing", async () => {
  const mtime = statSync(join(hostRoot("mx1"), "etc/postfix/main.cf")).mtimeMs;
  const r = await push(labHost(fleet, "mx1"), files("mx1"));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /no change \(\d+ files as they are\)/);
  assert.equal(statSync(join(hostRoot("mx1"), "etc/postfix/main.cf")).mtimeMs, mtime);
});

test("a Postfix config with a misspelt parameter is refused and the live config stays", async () => {
  const master = live("mx1", "var/spool/postfix/pid/master.pid");
  const r = await push(labHost(fleet, "mx1"), withContent("mx1", "/etc/postfix/main.cf", (c) => `${c}smtpd_tls_security_levle = may\n`));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unused parameter: smtpd_tls_security_levle/);
  assert.match(r.stderr, /validation failed: nothing was changed/);
  assert.equal(live("mx1", "etc/postfix/main.cf"), files("mx1").find((f) => f.path === "/etc/postfix/main.cf")!.content);
  assert.equal(live("mx1", "var/spool/postfix/pid/master.pid"), master, "Postfix was not restarted");
});

test("a regexp table with a line Postfix would skip is refused, though postfix check passes it", async () => {
  const table = "/etc/postfix/srs_addresses";
  const r = await push(labHost(fleet, "mx1"), withContent("mx1", table, (c) => c.replace("SRS[01]", "SRS[01")));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /regexp map \/etc\/postfix\/srs_addresses, line \d+: /);
  assert.match(r.stderr, /validation failed: nothing was changed/);
  assert.equal(live("mx1", table.slice(1)), files("mx1").find((f) => f.path === table)!.content);
});

test("an nginx config that cannot bind is refused by nginx -t", async () => {
  const r = await push(labHost(fleet, "mx1"), withContent("mx1", "/etc/nginx/nginx.conf", (c) => c.replace(/}\s*$/, "server { listen 203.0.113.99:8443; }\n}\n")));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bind\(\) to 203\.0\.113\.99:8443 failed/);
  assert.ok(!live("mx1", "etc/nginx/nginx.conf").includes("203.0.113.99"));
});

test("a Dovecot config with an unknown setting is refused by doveconf", async () => {
  const r = await push(labHost(fleet, "store1"), withContent("store1", "/etc/dovecot/dovecot.conf", (c) => `${c}\nmail_plugins_typo = yes\n`));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /mail_plugins_typo/);
  assert.ok(!live("store1", "etc/dovecot/dovecot.conf").includes("mail_plugins_typo"));
});

test("a config that validates but cannot start is rolled back and the old one started again", async () => {
  execOk("store1", ["doveadm", "stop"]);
  assert.ok(!runningDaemons("store1").includes("dovecot"));
  // doveconf accepts any listen address; only the starting daemon finds it cannot bind.
  const r = await push(labHost(fleet, "store1"), withContent("store1", "/etc/dovecot/dovecot.conf", (c) => `${c}\nlisten = 203.0.113.99\n`));
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /reload failed: previous files restored/);
  assert.ok(!live("store1", "etc/dovecot/dovecot.conf").includes("203.0.113.99"));
  assert.ok(runningDaemons("store1").includes("dovecot"), "Dovecot runs again with the previous config");
});

test("private keys and password files land with the bundle's owner and mode", () => {
  const stat = (host: string, path: string) => execOk(host, ["stat", "-c", "%a %U %G", path]).trim();
  assert.equal(stat("mx1", "/etc/mailfleet/tls/host.key"), "600 root root");
  const users = files("store1").find((f) => f.path === "/etc/dovecot/users")!;
  assert.equal(stat("store1", users.path), `${users.mode.toString(8)} ${users.owner} ${users.group}`);
  assert.equal(users.mode & 0o007, 0, "the password file is not world-readable");
});

test("a firewall that would shut out the push's own address is refused over SSH; the host keeps its rules and its SSH", async () => {
  const rules = () => execOk("mx1", ["nft", "list", "table", "inet", "mailfleet"]);
  const before = rules();
  const spec = { ...fleet.spec, adminSshCidrs: ["198.51.100.0/24"] };
  const lockedOut = buildFleet(spec, givenAddresses(spec), fleet.keys).hostFiles.mx1;
  const r = await push(labHost(fleet, "mx1"), lockedOut);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, new RegExp(`would lock out the push from ${labHost(fleet, "admin").ipv4.replace(/\./g, "\\.")}`));
  assert.equal(rules(), before);
  assert.equal((await push(labHost(fleet, "mx1"), files("mx1"))).code, 0, "the push still gets in");
});
