/**
 * Authentication records, with hand-written DNS answers: SPF syntax, lookup counting and check_host
 * per RFC 7208, the DKIM, DMARC, TLS-RPT and MTA-STS TXT readers, and whole runs over the lab's
 * fleet where each fault in these records is named with its fix.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDkimRecord, parseDmarc, parseMtaStsTxt, parseTlsRpt } from "../../scripts/check/parse";
import { runChecks } from "../../scripts/check/checks";
import { checkHost, countSpfLookups, parseSpf } from "../../scripts/check/spf";
import { check, EXPECTED, failures, fakeDns, goodPolicy, goodTls, NOW, onlyFailure, publishedZone, RSA1024, RSA2048, RSA512, Zone } from "./fixtures";

describe("SPF syntax (RFC 7208)", () => {
  it("accepts the fleet's kind of record", () => {
    const parsed = parseSpf("v=spf1 mx ip4:192.0.2.21 ip6:2001:db8:0:1::21 include:_spf.relay.example -all");
    assert.deepEqual(parsed.errors, []);
    assert.deepEqual(parsed.warnings, []);
    assert.deepEqual(parsed.terms.map((t) => t.text), ["mx", "ip4:192.0.2.21", "ip6:2001:db8:0:1::21", "include:_spf.relay.example", "-all"]);
  });

  it("names each syntax error", () => {
    const cases: [string, RegExp][] = [
      ["v=spf2 -all", /does not start with "v=spf1"/],
      ["v=spf1 mx includ:x.example -all", /"includ:x.example" is not an SPF mechanism/],
      ["v=spf1 ip4:192.0.2.300 -all", /"ip4:192.0.2.300" is not a valid ip4 network/],
      ["v=spf1 ip4:192.0.2.0/33 -all", /is not a valid ip4 network/],
      ["v=spf1 ip6:192.0.2.1 -all", /is not a valid ip6 network/],
      ["v=spf1 include -all", /"include" needs a domain/],
      ["v=spf1 a/33 -all", /invalid prefix length/],
      ["v=spf1 redirect=a.example redirect=b.example", /"redirect=" appears twice/],
      ["v=spf1 +all", /"\+all" authorises every host/],
      ["v=spf1 all", /"\+all" authorises every host/],
    ];
    for (const [record, error] of cases) assert.ok(parseSpf(record).errors.some((e) => error.test(e)), `${record}: ${parseSpf(record).errors}`);
  });

  it("warns about legal but harmful records", () => {
    assert.match(parseSpf("v=spf1 mx").warnings.join(), /no "all" term/);
    assert.match(parseSpf("v=spf1 -all mx").warnings.join(), /terms after "all" are never evaluated/);
    assert.match(parseSpf("v=spf1 ptr -all").warnings.join(), /ptr SHOULD NOT be used/);
    assert.match(parseSpf("v=spf1 mx -all redirect=x.example").warnings.join(), /"redirect=" is ignored/);
    assert.deepEqual(parseSpf("v=spf1 redirect=_spf.example.net").warnings, []);
  });
});

describe("SPF lookup counting (RFC 7208 §4.6.4)", () => {
  it("counts include, a, mx, ptr, exists and redirect through the whole tree; ip4/ip6/all cost nothing", async () => {
    const dns = fakeDns({
      "example.com": { TXT: ["v=spf1 mx a ip4:192.0.2.1 include:_spf.one.example include:_spf.two.example -all", "unrelated=text"] },
      "_spf.one.example": { TXT: ["v=spf1 ip4:198.51.100.0/24 include:_spf.three.example ~all"] },
      "_spf.two.example": { TXT: ["v=spf1 exists:%{i}.rbl.two.example redirect=_spf.four.example"] },
      "_spf.three.example": { TXT: ["v=spf1 a:relay.three.example ip6:2001:db8::/32 -all"] },
      "_spf.four.example": { TXT: ["v=spf1 ptr -all"] },
    });
    const counted = await countSpfLookups(dns, "example.com");
    // mx, a, include one, include three (inside one), a:relay (inside three), include two,
    // exists (macro: counted, not followed), redirect four, ptr (inside four) = 9
    assert.equal(counted.count, 9);
    assert.deepEqual(counted.errors, []);
    assert.ok(counted.trail.includes("example.com → _spf.one.example → _spf.three.example: a:relay.three.example"));
  });

  it("finds a tree over the limit of 10", async () => {
    const zone: Zone = { "example.com": { TXT: ["v=spf1 include:l1.example include:l2.example include:l3.example -all"] } };
    for (const l of ["l1", "l2", "l3"]) zone[`${l}.example`] = { TXT: [`v=spf1 a mx include:${l}x.example -all`] };
    for (const l of ["l1", "l2", "l3"]) zone[`${l}x.example`] = { TXT: ["v=spf1 ip4:203.0.113.1 -all"] };
    assert.equal((await countSpfLookups(fakeDns(zone), "example.com")).count, 12);
  });

  it("reports loops, missing and duplicate records in the tree", async () => {
    const dns = fakeDns({
      "example.com": { TXT: ["v=spf1 include:a.example include:gone.example include:two.example -all"] },
      "a.example": { TXT: ["v=spf1 include:example.com -all"] },
      "two.example": { TXT: ["v=spf1 -all", "v=spf1 mx -all"] },
    });
    const { errors } = await countSpfLookups(dns, "example.com");
    assert.ok(errors.includes("loop: example.com → a.example → example.com"), errors.join("\n"));
    assert.ok(errors.some((e) => /gone\.example: gone\.example has no SPF record/.test(e)));
    assert.ok(errors.some((e) => /two\.example has 2 SPF records/.test(e)));
  });
});

describe("SPF check_host (RFC 7208 §4)", () => {
  const dns = fakeDns({
    "example.com": { TXT: ["v=spf1 mx ip4:198.51.100.0/24 ip6:2001:db8:5::/48 include:relay.example ~all"], MX: ["10 mx1.example.com"] },
    "mx1.example.com": { A: ["192.0.2.11"], AAAA: ["2001:db8:0:1::11"] },
    "relay.example": { TXT: ["v=spf1 a:out.relay.example -all"] },
    "out.relay.example": { A: ["203.0.113.9"] },
    "strict.example": { TXT: ["v=spf1 ip4:192.0.2.21 -all"] },
    "broken.example": { TXT: ["v=spf1 include:nothing.example -all"] },
    "redirected.example": { TXT: ["v=spf1 redirect=strict.example"] },
  });
  const cases: [string, string, string][] = [
    ["192.0.2.11", "example.com", "pass"], // via mx
    ["2001:db8:0:1::11", "example.com", "pass"], // via mx, AAAA
    ["198.51.100.77", "example.com", "pass"], // ip4 /24
    ["2001:db8:5:ffff::1", "example.com", "pass"], // ip6 /48
    ["203.0.113.9", "example.com", "pass"], // via include → a:
    ["203.0.113.10", "example.com", "softfail"], // ~all
    ["192.0.2.21", "strict.example", "pass"],
    ["192.0.2.22", "strict.example", "fail"],
    ["192.0.2.21", "redirected.example", "pass"],
    ["192.0.2.21", "broken.example", "permerror"], // include of a name without SPF
    ["192.0.2.21", "nospf.example", "none"],
  ];
  for (const [ip, domain, result] of cases) {
    it(`${ip} at ${domain} is ${result}`, async () => assert.equal((await checkHost(dns, ip, domain)).result, result));
  }

  it("stops at the 11th lookup with permerror, and a DNS failure is a temperror", async () => {
    const zone: Zone = { "many.example": { TXT: [`v=spf1 ${Array.from({ length: 11 }, (_, i) => `a:h${i}.example`).join(" ")} ip4:192.0.2.21 -all`] } };
    assert.deepEqual(await checkHost(fakeDns(zone), "192.0.2.21", "many.example"), { result: "permerror", why: "more than 10 DNS lookups" });
    assert.equal((await checkHost(fakeDns(zone, new Set(["many.example"])), "192.0.2.21", "many.example")).result, "temperror");
  });

  it("expands macros (mailauth), where the hand-written evaluator skipped the term", async () => {
    const zone: Zone = {
      "macro.example": { TXT: ["v=spf1 exists:%{i}._spf.macro.example -all"] },
      "192.0.2.21._spf.macro.example": { A: ["127.0.0.2"] },
    };
    assert.equal((await checkHost(fakeDns(zone), "192.0.2.21", "macro.example")).result, "pass");
    assert.deepEqual(await checkHost(fakeDns(zone), "192.0.2.22", "macro.example"), { result: "fail", why: "macro.example: -all" });
  });
});

describe("record readers", () => {
  it("DKIM (RFC 6376 §3.6.1, RFC 8301)", () => {
    assert.deepEqual(parseDkimRecord(`v=DKIM1; k=rsa; p=${RSA2048}`), { key: { publicKey: RSA2048, bits: 2048 } });
    assert.equal((parseDkimRecord(`p=${RSA1024.slice(0, 40)} ${RSA1024.slice(40)}`) as { key: { bits: number } }).key.bits, 1024);
    assert.deepEqual(parseDkimRecord("v=DKIM1; k=rsa; p="), { problem: "p= is empty: the key is revoked" });
    assert.deepEqual(parseDkimRecord("v=DKIM1; k=rsa"), { problem: "no p= (public key)" });
    assert.deepEqual(parseDkimRecord(`k=rsa; v=DKIM1; p=${RSA2048}`), { problem: "v= must be the first tag" });
    assert.deepEqual(parseDkimRecord("v=DKIM1; k=ed25519; p=abc"), { problem: "k=ed25519: the fleet signs with RSA keys" });
    assert.deepEqual(parseDkimRecord("v=DKIM1; p=not*base64"), { problem: "p= is not base64" });
    assert.deepEqual(parseDkimRecord("v=DKIM1; p=AAAA"), { problem: "p= is not an RSA public key (SubjectPublicKeyInfo)" });
    assert.equal((parseDkimRecord(`p=${RSA512}`) as { key: { bits: number } }).key.bits, 512);
  });

  it("DMARC (RFC 7489 §6.3)", () => {
    assert.deepEqual(parseDmarc("v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com; adkim=r; aspf=r"), {
      dmarc: { p: "reject", rua: ["dmarc-reports@example.com"], adkim: "r", aspf: "r", pct: 100 },
    });
    assert.deepEqual((parseDmarc("v=DMARC1;p=quarantine;rua=mailto:a@x.example!10m,mailto:b@y.example") as { dmarc: { rua: string[] } }).dmarc.rua, ["a@x.example", "b@y.example"]);
    assert.deepEqual(parseDmarc("p=reject; v=DMARC1"), { problem: 'does not start with "v=DMARC1"' });
    assert.deepEqual(parseDmarc("v=DMARC1; rua=mailto:a@example.com"), { problem: "has no p= policy" });
    assert.deepEqual(parseDmarc("v=DMARC1; p=block"), { problem: "p=block is not none, quarantine or reject" });
    assert.deepEqual(parseDmarc("v=DMARC1; p=none; rua=a@example.com"), { problem: 'rua "a@example.com" is not a mailto: URI' });
  });

  it("TLS-RPT (RFC 8460 §3) and the MTA-STS TXT (RFC 8461 §3.1)", () => {
    assert.deepEqual(parseTlsRpt("v=TLSRPTv1; rua=mailto:tls-reports@example.com"), { rua: ["tls-reports@example.com"] });
    assert.deepEqual(parseTlsRpt("v=TLSRPTv1; rua=https://reports.example/tls"), { rua: ["https://reports.example/tls"] });
    assert.deepEqual(parseTlsRpt("v=TLSRPTv1"), { problem: "has no rua=" });
    assert.deepEqual(parseTlsRpt("v=TLSRPTv1; rua=ftp://x"), { problem: 'rua "ftp://x" is neither mailto: nor https:' });
    assert.deepEqual(parseMtaStsTxt("v=STSv1; id=20260310T120000"), { id: "20260310T120000" });
    assert.deepEqual(parseMtaStsTxt("v=STSv1; id=2026-03-10"), { problem: 'id "2026-03-10" is not 1-32 letters and digits' });
    assert.deepEqual(parseMtaStsTxt("v=STSv1"), { problem: "has no id=" });
  });
});

describe("authentication records over the lab fleet", () => {
  it("names an SPF record that leaves out the outbound host", async () => {
    const r = onlyFailure(await check((z) => (z["example.com"].TXT = ["v=spf1 mx -all"])), "spf", "example.com");
    assert.match(r.detail, /does not authorise 192\.0\.2\.21 \(fail: example\.com: -all\)/);
    assert.match(r.detail, /does not authorise 2001:db8:0:1::21/);
    assert.equal(r.fix, 'publish example.com TXT "v=spf1 mx ip4:192.0.2.21 ip6:2001:db8:0:1::21 -all"');
  });

  it("names an SPF record over the lookup limit and a second SPF record", async () => {
    const zone = (z: Zone) => {
      z["example.com"].TXT = [`v=spf1 mx ip4:192.0.2.21 ip6:2001:db8:0:1::21 ${Array.from({ length: 10 }, (_, i) => `include:s${i}.example.net`).join(" ")} -all`];
      for (let i = 0; i < 10; i++) z[`s${i}.example.net`] = { TXT: ["v=spf1 ip4:203.0.113.0/24 -all"] };
      z["example.org"].TXT = [...z["example.org"].TXT!, "v=spf1 -all"];
    };
    const bad = failures(await check(zone));
    assert.deepEqual(bad.map((r) => r.subject), ["example.com", "example.org"]);
    assert.match(bad[0].detail, /11 DNS lookups, over the limit of 10: receivers return permerror/);
    assert.equal(bad[0].fix, "drop includes or replace them with ip4:/ip6: terms");
    assert.match(bad[1].detail, /example\.org has 2 SPF records; receivers treat that as a permerror/);
  });

  it("names a HELO name without its own SPF record", async () => {
    const r = onlyFailure(await check((z) => delete z["mx2.mail.example.com"].TXT), "spf", "mx2.mail.example.com (HELO)");
    assert.equal(r.detail, "mx2.mail.example.com has no SPF record");
    assert.equal(r.fix, 'publish mx2.mail.example.com TXT "v=spf1 a -all"');
  });

  it("names a DKIM key that is not the signing key, and a missing one", async () => {
    const results = await check((z) => {
      z["lab1._domainkey.example.com"].TXT = [`v=DKIM1; k=rsa; p=${RSA1024}`];
      delete z["lab1._domainkey.example.org"];
    });
    const bad = failures(results);
    assert.deepEqual(bad.map((r) => [r.subject, r.detail]), [
      ["lab1._domainkey.example.com", "the published key is not the key the outbound MTA signs with: signatures fail"],
      ["lab1._domainkey.example.org", "no TXT record: every signature with this selector fails"],
    ]);
    assert.equal(bad[1].fix, `publish lab1._domainkey.example.org TXT "v=DKIM1; k=rsa; p=${RSA2048}"`);
  });

  it("judges a DKIM key by its form when the signing key is not known", async () => {
    const zone = publishedZone();
    zone["lab1._domainkey.example.com"].TXT = [`v=DKIM1; k=rsa; p=${RSA1024}`];
    zone["lab1._domainkey.example.org"].TXT = [`v=DKIM1; k=rsa; p=${RSA512}`];
    const results = await runChecks({ ...EXPECTED, dkimKeysKnown: false }, { dns: fakeDns(zone), starttls: async (h) => goodTls(h), tls: async (ep) => goodTls(ep.name), policy: async () => goodPolicy, now: NOW });
    const dkim = results.filter((r) => r.check === "dkim");
    assert.deepEqual(dkim.map((r) => r.status), ["warn", "fail"]);
    assert.match(dkim[0].detail, /1024-bit RSA, a well-formed key \(signing key not given/);
    assert.match(dkim[1].detail, /512-bit key: RFC 8301/);
  });

  it("names a DMARC policy weaker than the stack's", async () => {
    const r = onlyFailure(await check((z) => (z["_dmarc.example.org"].TXT = ["v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com"])), "dmarc", "example.org");
    assert.match(r.detail, /p=none, the stack says p=reject/);
    assert.equal(r.fix, 'publish _dmarc.example.org TXT "v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com; adkim=r; aspf=r"');
  });

  it("warns when the report domain does not accept another domain's DMARC reports", async () => {
    const results = await check((z) => delete z["example.org._report._dmarc.example.com"]);
    assert.deepEqual(failures(results), []);
    const warn = results.find((r) => r.status === "warn")!;
    assert.match(warn.detail, /example\.com does not accept reports for example\.org/);
    assert.equal(warn.fix, 'publish example.org._report._dmarc.example.com TXT "v=DMARC1"');
  });

  it("names a missing TLS-RPT record", async () => {
    const r = onlyFailure(await check((z) => delete z["_smtp._tls.example.com"]), "tls-rpt", "example.com");
    assert.match(r.detail, /no TLS-RPT record at _smtp\._tls\.example\.com/);
    assert.equal(r.fix, 'publish _smtp._tls.example.com TXT "v=TLSRPTv1; rua=mailto:tls-reports@example.com"');
  });
});
