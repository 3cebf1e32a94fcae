/**
 * The dnssec check: delv's output read into verdicts, each verdict judged against the stack's dnssec
 * setting, one line per published zone, and a machine without delv.
 *
 * The files in test/check/delv/ are real outputs of Debian 13's delv 9.20 in the lab (client's
 * namespace, `./mf lab up`), made with the check's own argv, stderr then stdout:
 *   delv +cd -a <client>/usr/local/share/mailfleet-lab/root-anchor.conf @127.0.0.1 SOA <zone>
 * valid.txt (example.org), valid-reverse.txt (2.0.192.in-addr.arpa) as the lab deploys them;
 * wrong-ds.txt with the lab root publishing a wrong DS for example.org (publishWrongDs), no-ds.txt with
 * the root delegating example.org without a DS; not-delegated.txt for nothere.example (no such zone
 * under the lab root); no-resolver.txt with @192.0.2.254 (no host there).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { runChecks } from "../../scripts/check/checks";
import { Chain, chainFinding, parseDelv, publishedZones } from "../../scripts/check/dnssec";
import { DelvRun, delvArgv, runDelv } from "../../scripts/check/probes";
import { CHECKS } from "../../scripts/check/result";
import { EXPECTED, fakeDns, goodPolicy, goodTls, NOW, publishedZone } from "./fixtures";

const delvOutput = (name: string) => readFileSync(join(__dirname, "delv", `${name}.txt`), "utf8");

/** Only the dnssec check, over the lab fleet, delv answering with `run` per zone. */
function dnssecLines(run: (zone: string) => Promise<DelvRun>, dnssec = true) {
  const expected = { ...EXPECTED, topology: { ...EXPECTED.topology, spec: { ...EXPECTED.topology.spec, dnssec } } };
  const probes = { dns: fakeDns(publishedZone()), starttls: async (h: string) => goodTls(h), tls: async () => goodTls("x"), policy: async () => goodPolicy, now: NOW, delv: run };
  return runChecks(expected, probes, new Set(CHECKS.filter((c) => c !== "dnssec")));
}

describe("delv's output read into a verdict", () => {
  it("reads each real delv output the lab gave", () => {
    assert.deepEqual(parseDelv(delvOutput("valid")), { verdict: "valid" });
    assert.deepEqual(parseDelv(delvOutput("valid-reverse")), { verdict: "valid" });
    // delv says "no valid signature found" on stderr too: the answer line decides.
    assert.deepEqual(parseDelv(delvOutput("no-ds")), { verdict: "insecure" });
    assert.deepEqual(parseDelv(delvOutput("wrong-ds")), {
      verdict: "bogus",
      said: "validating example.org/DNSKEY: no valid signature found (DS); resolution failed: broken trust chain",
    });
    assert.deepEqual(parseDelv(delvOutput("not-delegated")), { verdict: "absent", said: "negative response, fully validated" });
    assert.deepEqual(parseDelv(delvOutput("no-resolver")), {
      verdict: "unresolved",
      said: "host unreachable resolving 'example.org/SOA/IN': 192.0.2.254#53; resolution failed: failure",
    });
  });

  it("takes what it cannot read as unresolved, in delv's words", () => {
    assert.deepEqual(parseDelv("delv: Unable to read key file '/nonexistent'\n"), { verdict: "unresolved", said: "delv: Unable to read key file '/nonexistent'" });
    assert.deepEqual(parseDelv(""), { verdict: "unresolved", said: "no output" });
  });
});

describe("a zone's verdict judged against the dnssec setting", () => {
  const bogus: Chain = { verdict: "bogus", said: "validating example.org/DNSKEY: no valid signature found (DS); resolution failed: broken trust chain" };
  const status = (zone: string, chain: Chain, dnssec: boolean) => chainFinding(zone, chain, dnssec).status;

  it("dnssec: true: a valid chain passes; no DS fails a forward zone (DANE rests on it) and warns a reverse one; bogus fails", () => {
    assert.equal(status("example.org", { verdict: "valid" }, true), "pass");
    assert.equal(status("example.org", { verdict: "insecure" }, true), "fail");
    assert.equal(status("2.0.192.in-addr.arpa", { verdict: "insecure" }, true), "warn");
    assert.equal(status("example.org", bogus, true), "fail");
    assert.equal(status("example.org", { verdict: "absent", said: "negative response, fully validated" }, true), "fail");
    assert.equal(status("example.org", { verdict: "unresolved", said: "resolution failed: failure" }, true), "fail");
  });

  it("dnssec: false: unsigned without a DS passes; a DS at the parent fails, validating or bogus", () => {
    assert.equal(status("example.org", { verdict: "insecure" }, false), "pass");
    assert.equal(status("example.org", { verdict: "valid" }, false), "fail");
    assert.equal(status("example.org", bogus, false), "fail");
  });

  it("names the fix: the DS from the dnssecDs output at the registrar, or the DS removed first", () => {
    const noDs = chainFinding("example.org", { verdict: "insecure" }, true);
    assert.match(noDs.text, /the parent has no DS for example\.org/);
    assert.match(noDs.fix!, /^publish the DS from the stack output `dnssecDs` .* at example\.org's registrar; with dns: zone then run `knotc zone-ksk-submitted example\.org`/);
    const wrong = chainFinding("example.org", bogus, true);
    assert.equal(wrong.text, `bogus: ${bogus.said}`);
    assert.match(wrong.fix!, /^the parent's DS does not match example\.org's key: replace the DS at example\.org's registrar with the DS from the stack output `dnssecDs`/);
    assert.match(chainFinding("2.0.192.in-addr.arpa", { verdict: "insecure" }, true).fix!, /at whoever delegates 2\.0\.192\.in-addr\.arpa to you/);
    assert.match(chainFinding("example.org", { verdict: "valid" }, false).fix!, /^remove example\.org's DS at example\.org's registrar and let its TTL pass twice/);
    assert.match(chainFinding("example.org", bogus, false).fix!, /^remove example\.org's DS at example\.org's registrar now/);
  });
});

describe("the dnssec lines of a fleet", () => {
  it("one line per published zone, forward and reverse (dns: zone), each from delv's own run", async () => {
    const asked: string[] = [];
    const results = await dnssecLines(async (zone) => {
      asked.push(zone);
      return { output: delvOutput(zone === "example.org" ? "wrong-ds" : "valid") };
    });
    const zones = publishedZones(EXPECTED);
    assert.deepEqual(zones, ["example.com", "example.org", "2.0.192.in-addr.arpa", "1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"]);
    assert.deepEqual(asked, zones);
    assert.deepEqual(results.map((r) => [r.subject, r.status]), zones.map((z) => [z, z === "example.org" ? "fail" : "pass"]));
    assert.equal(results[0].detail, "signed, chain of trust valid from the trust anchor");
  });

  it("without delv on the machine: one warning naming the package, nothing else tried", async () => {
    const asked: string[] = [];
    const results = await dnssecLines(async (zone) => (asked.push(zone), { missing: true }));
    assert.deepEqual(asked, ["example.com"]);
    assert.equal(results.length, 1);
    assert.equal(results[0].status, "warn");
    assert.match(results[0].fix!, /bind9-dnsutils/);
  });

  it("a delv that gives no verdict fails that zone's line, naming it", async () => {
    const results = await dnssecLines(async (zone) => (zone === "example.com" ? { error: "delv gave no verdict within 30 s" } : { output: delvOutput("valid") }));
    assert.deepEqual(results.find((r) => r.status !== "pass"), {
      check: "dnssec",
      subject: "example.com",
      status: "fail",
      detail: "delv could not resolve example.com: delv gave no verdict within 30 s",
      fix: "give delv a recursive resolver that answers (--resolver <ip>, else the system's); with --trust-anchor, a readable trust-anchors file",
    });
  });
});

describe("running delv", () => {
  it("an argument array: +cd (delv validates, not the resolver), the trust anchor file, the resolver, the zone's SOA", () => {
    assert.deepEqual(delvArgv("example.org", {}), ["+cd", "SOA", "example.org"]);
    assert.deepEqual(delvArgv("example.org", { trustAnchor: "/etc/anchor.conf", resolver: "2001:db8::53" }), ["+cd", "-a", "/etc/anchor.conf", "@2001:db8::53", "SOA", "example.org"]);
  });

  it("says delv is missing when no delv is on PATH, never throws", async () => {
    const empty = mkdtempSync(join(tmpdir(), "mailfleet-nodelv-"));
    const path = process.env.PATH;
    process.env.PATH = empty;
    try {
      assert.deepEqual(await runDelv("example.org"), { missing: true });
    } finally {
      process.env.PATH = path;
      rmSync(empty, { recursive: true });
    }
  });

  it("./mf check refuses a --resolver that is not an address and a --trust-anchor that is not a file, before anything runs", () => {
    const repo = resolve(__dirname, "../..");
    const cli = (...args: string[]) => spawnSync(process.execPath, [join(repo, "node_modules/tsx/dist/cli.mjs"), join(repo, "scripts/check.ts"), "--stack", "lab", ...args], { cwd: repo, encoding: "utf8", timeout: 60_000 });
    const resolver = cli("--resolver", "127.0.0.1 +vtrace");
    assert.equal(resolver.status, 2, resolver.stderr);
    assert.match(resolver.stderr, /^--resolver: 127\.0\.0\.1 \+vtrace is not an IP address\nusage:/);
    const anchor = cli("--trust-anchor", "/nonexistent/anchor.conf");
    assert.equal(anchor.status, 2, anchor.stderr);
    assert.match(anchor.stderr, /^--trust-anchor: no file \/nonexistent\/anchor\.conf\nusage:/);
  });
});
