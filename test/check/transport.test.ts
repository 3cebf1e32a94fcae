/**
 * Transport and certificates: the MTA-STS policy reader and certificate name matching, and whole
 * runs over the lab's fleet: the MTA-STS policy served, STARTTLS on 25, every client TLS endpoint,
 * certificate trust and lifetimes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runChecks } from "../../scripts/check/checks";
import { nameMatches, parseMtaStsPolicy } from "../../scripts/check/parse";
import { formatTable } from "../../scripts/check/result";
import { check, EXPECTED, failures, fakeDns, goodPolicy, goodTls, NOW, onlyFailure, publishedZone, recordSet, spec, topology } from "./fixtures";

describe("record readers", () => {
  it("the MTA-STS policy (RFC 8461 §3.2)", () => {
    const good = "version: STSv1\r\nmode: enforce\r\nmx: *.mail.example.com\r\nmx: backup.example.net\r\nmax_age: 604800\r\n";
    assert.deepEqual(parseMtaStsPolicy(good), { policy: { version: "STSv1", mode: "enforce", mx: ["*.mail.example.com", "backup.example.net"], maxAge: 604800 }, warnings: [] });
    assert.deepEqual((parseMtaStsPolicy(good.replace(/\r\n/g, "\n")) as { warnings: string[] }).warnings, ["lines end in LF, not CRLF as RFC 8461 §3.2 says"]);
    assert.deepEqual(parseMtaStsPolicy("version: STSv1\r\nmode: enforce\r\nmax_age: 86400\r\n"), { problem: "has no mx: line" });
    assert.deepEqual(parseMtaStsPolicy("version: STSv1\r\nmode: strict\r\nmx: a.example\r\nmax_age: 86400\r\n"), { problem: "mode is strict" });
    assert.deepEqual(parseMtaStsPolicy("version: STSv1\r\nmode: testing\r\nmx: a.example\r\nmax_age: 31557601\r\n"), { problem: "max_age is 31557601, not 0-31557600 seconds" });
    assert.deepEqual(parseMtaStsPolicy("<html>not found</html>"), { problem: "version is missing, not STSv1" });
    // mailauth's strict parser refuses an mx line that is neither a host name nor *.<domain>.
    assert.deepEqual(parseMtaStsPolicy("version: STSv1\r\nmode: enforce\r\nmx: mx*.example.com\r\nmax_age: 86400\r\n"), {
      problem: "mx mx*.example.com: each must be a host name or *.<domain>",
    });
  });

  it("certificate names and mx patterns: a wildcard is one leftmost label (RFC 6125 §6.4.3, RFC 8461 §4.1)", () => {
    assert.ok(nameMatches("mx1.mail.example.com", "*.mail.example.com"));
    assert.ok(nameMatches("MX1.mail.example.com", "mx1.mail.EXAMPLE.com"));
    assert.ok(!nameMatches("a.mx1.mail.example.com", "*.mail.example.com"));
    assert.ok(!nameMatches("mail.example.com", "*.mail.example.com"));
    assert.ok(!nameMatches("mx1.mail.example.com", "mx2.mail.example.com"));
  });
});

describe("transport and certificates over the lab fleet", () => {
  it("names a stale MTA-STS id, a policy that differs and one that is not served", async () => {
    const stale = onlyFailure(await check((z) => (z["_mta-sts.example.com"].TXT = ["v=STSv1; id=old1"])), "mta-sts", "example.com");
    assert.match(stale.detail, new RegExp(`TXT id=old1 is not the policy's id ${recordSet.mtaSts.id}: senders keep a stale cached policy`));
    assert.equal(stale.fix, `publish _mta-sts.example.com TXT "v=STSv1; id=${recordSet.mtaSts.id}"`);

    const other = recordSet.mtaSts.policy.replace("mode: testing", "mode: enforce").replace("*.mail.example.com", "mx1.mail.example.com");
    const results = await check(undefined, { policy: async (d) => (d === "example.org" ? { status: 404, contentType: "text/html", body: "no" } : { ...goodPolicy, body: other }) });
    const [com, org] = failures(results);
    assert.match(com.detail, /serves mode enforce, mx mx1\.mail\.example\.com, max_age 86400; the stack's is mode testing, mx \*\.mail\.example\.com/);
    assert.match(com.detail, /MX mx2\.mail\.example\.com is not covered by the policy's mx lines/);
    assert.match(org.detail, /https:\/\/mta-sts\.example\.org\/\.well-known\/mta-sts\.txt via 192\.0\.2\.11: HTTP 404/);
    assert.match(org.fix!, /serve the policy at https:\/\/mta-sts\.example\.org\/\.well-known\/mta-sts\.txt from every edge host/);
  });

  it("does not ask a policy in mode none to cover the MX hosts: senders do not apply it (RFC 8461 §5)", async () => {
    const none = "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n";
    const results = await check(undefined, { policy: async () => ({ ...goodPolicy, body: none }) });
    const sts = results.filter((r) => r.check === "mta-sts");
    assert.deepEqual(sts.map((r) => r.status), ["fail", "fail"]);
    for (const r of sts) {
      assert.match(r.detail, /serves mode none, mx , max_age 86400; the stack's is mode testing/);
      assert.doesNotMatch(r.detail, /not covered/);
    }
  });

  it("names an MX without STARTTLS and one whose certificate is for another name", async () => {
    const results = await check(undefined, {
      starttls: async (host, address) =>
        host.startsWith("mx1") ? { banner: "220 mx1", starttls: false } : address.includes(":") ? { ...goodTls(host), tls: { ...goodTls(host).tls!, names: ["mx9.mail.example.com"] } } : goodTls(host),
    });
    const bad = failures(results).map((r) => [r.subject, r.detail]);
    assert.deepEqual(bad, [
      ["mx1.mail.example.com 192.0.2.11", "no STARTTLS in the EHLO reply: mail to it travels in clear text"],
      ["mx1.mail.example.com 2001:db8:0:1::11", "no STARTTLS in the EHLO reply: mail to it travels in clear text"],
      ["mx2.mail.example.com 2001:db8:0:1::12", "certificate names mx9.mail.example.com do not include mx2.mail.example.com: MTA-STS and DANE senders refuse it"],
    ]);
  });

  it("warns about an untrusted certificate in testing mode and fails it in enforce mode", async () => {
    const untrusted = async (h: string) => ({ ...goodTls(h), tls: { ...goodTls(h).tls!, trusted: false, trustError: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY" } });
    const testing = await check(undefined, { starttls: untrusted });
    assert.deepEqual(failures(testing), []);
    assert.equal(testing.filter((r) => r.status === "warn" && r.check === "starttls").length, 4);
    const enforce = await runChecks({ ...EXPECTED, topology: { ...topology, spec: { ...spec, mtaSts: { ...spec.mtaSts, mode: "enforce" } } } }, {
      dns: fakeDns(publishedZone()),
      starttls: untrusted,
      tls: async (ep) => goodTls(ep.name),
      policy: async () => goodPolicy,
      now: NOW,
    });
    // enforce mode also changes the policy the stack expects, so the served (testing) policy fails too
    assert.equal(failures(enforce).filter((r) => r.check === "starttls").length, 4);
  });

  it("probes every client-facing TLS endpoint by its name and port", async () => {
    const seen: string[] = [];
    const results = await check(undefined, { tls: async (ep) => (seen.push(`${ep.name}:${ep.port}${ep.starttls ? " starttls" : ""} ${ep.address}`), goodTls(ep.name)) });
    assert.deepEqual(failures(results), []);
    assert.deepEqual(seen.filter((s) => s.endsWith("192.0.2.21") || s.endsWith("192.0.2.31") || s.endsWith("192.0.2.11")).sort(), [
      "autoconfig.example.com:443 192.0.2.11",
      "autoconfig.example.org:443 192.0.2.11",
      "imap.mail.example.com:993 192.0.2.31",
      "mta-sts.example.com:443 192.0.2.11",
      "mta-sts.example.org:443 192.0.2.11",
      "smtp.mail.example.com:465 192.0.2.21",
      "smtp.mail.example.com:587 starttls 192.0.2.21",
    ]);
    // Both address families of every host: 2 edges x 4 names, 2 stores x 1, 1 outbound x 2; twice.
    assert.equal(results.filter((r) => r.check === "tls").length, 2 * (2 * 4 + 2 + 2));
  });

  it("warns under 20 days left, fails under 7, with the renewal fix; fails an untrusted or misnamed client endpoint", async () => {
    const days = (n: number) => new Date(NOW.getTime() + n * 86_400_000);
    const probe = (ep: { name: string; port: number; host: { name: string } }) => {
      const good = goodTls(ep.name);
      if (ep.port === 993 && ep.host.name === "store1") return { ...good, tls: { ...good.tls!, validTo: days(19) } };
      if (ep.port === 993) return { ...good, tls: { ...good.tls!, validTo: days(6) } };
      if (ep.port === 465) return { ...good, tls: { ...good.tls!, trusted: false, trustError: "SELF_SIGNED_CERT_IN_CHAIN" } };
      if (ep.name === "mta-sts.example.org") return { ...good, tls: { ...good.tls!, names: ["mx1.mail.example.com"] } };
      return good;
    };
    const results = (await check(undefined, { tls: async (ep) => probe(ep) })).filter((r) => r.check === "tls" && r.status !== "pass");
    const line = (subject: string) => results.find((r) => r.subject.startsWith(subject))!;
    assert.equal(line("imap.mail.example.com:993 store1 192.0.2.31").status, "warn");
    assert.match(line("imap.mail.example.com:993 store1 192.0.2.31").detail, /expires in 19 days/);
    assert.equal(line("imap.mail.example.com:993 store2 192.0.2.32").status, "fail");
    assert.match(line("imap.mail.example.com:993 store2 192.0.2.32").detail, /expires in 6 days/);
    // The lab takes ACME certificates: certbot on the host renews them.
    assert.match(line("imap.mail.example.com:993 store2").fix!, /certbot on store2\.mail\.example\.com has not renewed it: run `mailfleet-certs` there/);
    assert.equal(line("smtp.mail.example.com:465").status, "fail");
    assert.match(line("smtp.mail.example.com:465").detail, /not trusted \(SELF_SIGNED_CERT_IN_CHAIN\): mail clients and MTA-STS fetchers refuse it/);
    assert.equal(line("mta-sts.example.org:443 mx1").status, "fail");
    assert.match(line("mta-sts.example.org:443 mx1").detail, /do not include mta-sts\.example\.org/);
    assert.equal(results.length, 2 * 2 + 2 + 2 + 2, formatTable(results));
  });
});

describe("DANE: each MX's TLSA against the certificate it serves", () => {
  it("passes a TLSA that pins the served key; names the MX and the fix when it pins another key or is missing", async () => {
    assert.deepEqual(failures(await check()), []);
    const otherKey = await check(undefined, { starttls: async (host) => (host.startsWith("mx2") ? { ...goodTls(host), tls: { ...goodTls(host).tls!, spkiSha256: "cd".repeat(32) } } : goodTls(host)) });
    const bad = failures(otherKey);
    assert.ok(bad.length > 0 && bad.every((r) => r.check === "starttls" && r.subject.startsWith("mx2.mail.example.com ")), JSON.stringify(bad));
    assert.match(bad[0].detail, /no TLSA record at _25\._tcp\.mx2\.mail\.example\.com pins the key of the certificate mx2\.mail\.example\.com serves/);
    assert.match(bad[0].fix!, /on mx2\.mail\.example\.com, run mailfleet-certs/);
    const missing = failures(await check((zone) => delete zone["_25._tcp.mx1.mail.example.com"]));
    assert.ok(missing.length > 0 && missing.every((r) => r.subject.startsWith("mx1.mail.example.com ")), JSON.stringify(missing));
    assert.match(missing[0].detail, /no TLSA record at _25\._tcp\.mx1\.mail\.example\.com: DANE senders cannot verify/);
  });
  it("warns when an MX serves a pinned key of another generation than tls.daneKeyGeneration: its switch waits or was refused", async () => {
    const nextKey = "2".padStart(64, "0");
    const waiting = await check(undefined, { starttls: async (host) => (host.startsWith("mx1") ? { ...goodTls(host), tls: { ...goodTls(host).tls!, spkiSha256: nextKey } } : goodTls(host)) });
    assert.deepEqual(failures(waiting), []);
    const warned = waiting.filter((r) => r.status === "warn" && r.check === "starttls");
    assert.ok(warned.length > 0 && warned.every((r) => r.subject.startsWith("mx1.mail.example.com ")), JSON.stringify(warned));
    assert.match(warned[0].detail, /mx1\.mail\.example\.com serves a DANE key its TLSA pins, but not the one of tls\.daneKeyGeneration.*its key switch waits or was refused/);
    assert.match(warned[0].fix!, /read \/var\/log\/mailfleet-certs\.log on mx1\.mail\.example\.com/);
  });
});
