/** The offline key folder: keys are made once and reused; a new selector adds exactly one key per domain. */
import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createMissingKeys, loadOrCreateKeys } from "../../components/keys/offline";
import { buildTopology } from "../../components/topology";
import { labSpec } from "../support/lab";

const spec = labSpec();
const topology = buildTopology(spec);

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

test("a second run returns the same keys; every file is 0600", () => {
  const dir = mkdtempSync(join(tmpdir(), "mailfleet-keys-test-"));
  const first = loadOrCreateKeys(dir, topology);
  const second = loadOrCreateKeys(dir, topology);
  assert.deepEqual(second, first);
  assert.equal(first.dkim.length, spec.domains.length * spec.dkim.selectors.length);
  assert.deepEqual(Object.keys(first.hosts).sort(), topology.hosts.map((h) => h.name).sort());
  for (const f of filesUnder(dir)) assert.equal(statSync(f).mode & 0o777, 0o600, f);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
});

test("the keys made ahead on the thread pool are the ones loadOrCreateKeys reads; only missing keys are made", async () => {
  const dir = mkdtempSync(join(tmpdir(), "mailfleet-keys-test-"));
  const dkimKeys = spec.domains.length * spec.dkim.selectors.length;
  assert.equal(await createMissingKeys(dir, topology), dkimKeys + topology.hosts.length, "every DKIM key and host certificate");
  const made = filesUnder(dir).sort();
  const contents = made.map((f) => readFileSync(f, "utf8"));
  for (const f of made) assert.equal(statSync(f).mode & 0o777, 0o600, f);
  for (const sub of [dir, join(dir, "dkim"), join(dir, "hosts")]) assert.equal(statSync(sub).mode & 0o777, 0o700, sub);
  const keys = loadOrCreateKeys(dir, topology);
  assert.deepEqual(
    made.map((f) => readFileSync(f, "utf8")),
    contents,
    "no key made again",
  );
  assert.deepEqual(keys.dkim.map((k) => k.privateKeyPem).sort(), filesUnder(join(dir, "dkim")).map((f) => readFileSync(f, "utf8")).sort());
  for (const k of keys.dkim) assert.equal(createPrivateKey(k.privateKeyPem).asymmetricKeyDetails?.modulusLength, 2048);
  for (const h of topology.hosts) {
    assert.equal(keys.hosts[h.name].certPem, readFileSync(join(dir, "hosts", `${h.name}.crt`), "utf8"));
    assert.ok(new X509Certificate(keys.hosts[h.name].certPem).checkPrivateKey(createPrivateKey(keys.hosts[h.name].keyPem)), `${h.name}'s key`);
  }
  assert.equal(await createMissingKeys(dir, topology), 0, "a second run makes none");
  const rotated = buildTopology({ ...spec, dkim: { selectors: [...spec.dkim.selectors, "next1"], active: spec.dkim.active } });
  assert.equal(await createMissingKeys(dir, rotated), spec.domains.length, "a new selector: one key per domain");
  const more = buildTopology({ ...spec, domains: [...spec.domains, "example.net"] });
  const edges = more.hosts.filter((h) => h.role === "edge").length;
  assert.equal(await createMissingKeys(dir, more), spec.dkim.selectors.length + edges, "a new domain: its DKIM keys and the edges' certificates");
  assert.deepEqual(readFileSync(join(dir, "ca.crt"), "utf8"), contents[made.indexOf(join(dir, "ca.crt"))], "the CA kept");
});

test("adding a selector creates exactly one new DKIM key per domain and rotates nothing", () => {
  const dir = mkdtempSync(join(tmpdir(), "mailfleet-keys-test-"));
  const before = loadOrCreateKeys(dir, topology);
  const rotated = buildTopology({ ...spec, dkim: { selectors: [...spec.dkim.selectors, "next1"], active: spec.dkim.active } });
  const after = loadOrCreateKeys(dir, rotated);
  const added = after.dkim.filter((k) => !before.dkim.some((b) => b.domain === k.domain && b.selector === k.selector));
  assert.deepEqual(added.map((k) => `${k.domain}/${k.selector}`).sort(), spec.domains.map((d) => `${d}/next1`).sort());
  for (const old of before.dkim) assert.deepEqual(after.dkim.find((k) => k.domain === old.domain && k.selector === old.selector), old);
  assert.deepEqual(after.hosts, before.hosts);
  assert.equal(after.caCertPem, before.caCertPem);
  assert.equal(new Set(after.dkim.map((k) => k.publicKey)).size, after.dkim.length, "two DKIM keys are the same key");
});

test("host certificates name the host and its role's service names; edge hosts every domain's web names", () => {
  const keys = loadOrCreateKeys(mkdtempSync(join(tmpdir(), "mailfleet-keys-test-")), topology);
  const sans = (name: string) =>
    new X509Certificate(keys.hosts[name].certPem).subjectAltName!.split(", ").map((s) => s.replace(/^DNS:/, "")).sort();
  assert.deepEqual(
    sans("mx1"),
    [
      "mx1.mail.example.com",
      "mail.mail.example.com",
      "mta-sts.mail.example.com",
      "mta-sts.example.com",
      "autoconfig.example.com",
      "autodiscover.example.com",
      "mta-sts.example.org",
      "autoconfig.example.org",
      "autodiscover.example.org",
    ].sort(),
  );
  assert.deepEqual(sans("out1"), ["out1.mail.example.com", "smtp.mail.example.com"].sort());
  assert.deepEqual(sans("store2"), ["imap.mail.example.com", "store2.mail.example.com"]);
  assert.ok(new X509Certificate(keys.hosts.store2.certPem).checkIssued(new X509Certificate(keys.caCertPem)));
});

test("a host certificate is issued anew when its names change (a domain is added), the CA and DKIM keys stay", () => {
  const dir = mkdtempSync(join(tmpdir(), "mailfleet-keys-test-"));
  const before = loadOrCreateKeys(dir, topology);
  const more = buildTopology({ ...spec, domains: [...spec.domains, "example.net"] });
  const after = loadOrCreateKeys(dir, more);
  assert.notEqual(after.hosts.mx1.certPem, before.hosts.mx1.certPem);
  assert.match(new X509Certificate(after.hosts.mx1.certPem).subjectAltName!, /DNS:autoconfig\.example\.net/);
  assert.equal(after.hosts.store1.certPem, before.hosts.store1.certPem);
  assert.equal(after.caCertPem, before.caCertPem);
  for (const old of before.dkim) assert.deepEqual(after.dkim.find((k) => k.domain === old.domain && k.selector === old.selector), old);
});

test("a key folder made before TSIG keys gets one per host, once, and nothing else changes; a damaged one is made anew", () => {
  const dir = mkdtempSync(join(tmpdir(), "mailfleet-keys-test-"));
  const before = loadOrCreateKeys(dir, topology);
  assert.deepEqual(Object.keys(before.tsig).sort(), topology.hosts.map((h) => h.name).sort());
  for (const secret of Object.values(before.tsig)) assert.equal(Buffer.from(secret, "base64").length, 32);
  assert.equal(new Set(Object.values(before.tsig)).size, topology.hosts.length, "a key per host");
  // An older folder: no tsig/ at all.
  rmSync(join(dir, "tsig"), { recursive: true });
  const upgraded = loadOrCreateKeys(dir, topology);
  assert.deepEqual({ ...upgraded, tsig: {} }, { ...before, tsig: {} });
  assert.notDeepEqual(upgraded.tsig, before.tsig);
  assert.deepEqual(loadOrCreateKeys(dir, topology).tsig, upgraded.tsig, "kept from then on");
  for (const f of filesUnder(join(dir, "tsig"))) assert.equal(statSync(f).mode & 0o777, 0o600, f);
  writeFileSync(join(dir, "tsig", "mx1.key"), "not base64\n");
  const repaired = loadOrCreateKeys(dir, topology);
  assert.match(repaired.tsig.mx1, /^[A-Za-z0-9+/]{43}=$/);
  assert.notEqual(repaired.tsig.mx1, upgraded.tsig.mx1);
  assert.equal(repaired.tsig.store1, upgraded.tsig.store1);
  // Only the zone backend's Knot checks them.
  assert.deepEqual(loadOrCreateKeys(dir, buildTopology({ ...spec, dns: "cloudflare", zone: undefined })).tsig, {});
});
