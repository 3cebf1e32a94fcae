/**
 * The deliverability check's logic, with hand-written DNS answers: SPF syntax, lookup counting and
 * check_host per RFC 7208, the record readers (DKIM, DMARC, TLS-RPT, MTA-STS, DNSBL), and whole
 * runs over the lab's fleet where each deliberate fault must be named with its fix.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import { parseFleetConfig, readStackConfig } from "../../components/config";
import { buildRecordSet } from "../../components/records";
import { buildTopology } from "../../components/topology";
import { givenAddresses } from "../../components/build";
import { parseSnapshotList, readResticLine } from "../../scripts/backup/snapshots";
import { backupVerdict } from "../../scripts/check/backup";
import { Expected, Probes, runChecks } from "../../scripts/check/checks";
import { Dns } from "../../scripts/check/dns";
import {
  dnsblQuery,
  dnsblVerdict,
  dnsblZone,
  nameMatches,
  parseDkimRecord,
  parseDmarc,
  parseMtaStsPolicy,
  parseMtaStsTxt,
  parseTlsRpt,
} from "../../scripts/check/parse";
import { PolicyFetch, TlsProbe } from "../../scripts/check/probes";
import { CheckResult, formatTable } from "../../scripts/check/result";
import { checkHost, countSpfLookups, parseSpf } from "../../scripts/check/spf";

/** A resolver over a hand-written zone: name -> type -> answers. CNAMEs are followed for A/AAAA/TXT. */
type Zone = Record<string, Partial<Record<"A" | "AAAA" | "TXT" | "MX" | "CNAME" | "SRV" | "PTR", string[]>>>;
function fakeDns(zone: Zone, failing: Set<string> = new Set()): Dns & { queries: string[] } {
  const queries: string[] = [];
  const get = (type: keyof Zone[string], name: string, depth = 0): string[] => {
    queries.push(`${type} ${name}`);
    if (failing.has(name)) throw new Error(`${type} ${name}: ETIMEOUT`);
    const node = zone[name.toLowerCase()];
    if (!node) return [];
    if (type !== "CNAME" && node.CNAME && depth < 8) return get(type, node.CNAME[0], depth + 1);
    return node[type] ?? [];
  };
  return {
    queries,
    txt: async (n) => get("TXT", n),
    a: async (n) => get("A", n),
    aaaa: async (n) => get("AAAA", n),
    mx: async (n) => get("MX", n).map((m) => ({ priority: Number(m.split(" ")[0]), exchange: m.split(" ")[1] })),
    ptr: async (ip) => get("PTR", ip),
    cname: async (n) => get("CNAME", n),
    srv: async (n) => get("SRV", n).map((s) => {
      const [priority, weight, port, target] = s.split(" ");
      return { priority: Number(priority), weight: Number(weight), port: Number(port), target };
    }),
  };
}

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

const RSA2048 = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "der" }).toString("base64");
const RSA1024 = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "der" }).toString("base64");
const RSA512 = generateKeyPairSync("rsa", { modulusLength: 512 }).publicKey.export({ type: "spki", format: "der" }).toString("base64");

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

  it("DNSBL query names (RFC 5782 §2.1, §2.4) and answers", () => {
    assert.equal(dnsblQuery("192.0.2.99", "zen.spamhaus.org"), "99.2.0.192.zen.spamhaus.org");
    assert.equal(dnsblQuery("2001:db8:1:2:3:4:567:89ab", "bl.example"), "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example");
    assert.equal(dnsblQuery("2001:db8::21", "bl.example"), `1.2.0.0.${"0.".repeat(20)}8.b.d.0.1.0.0.2.bl.example`);
    assert.equal(dnsblZone("zen.spamhaus.org=127.0.0.[2..11]*3"), "zen.spamhaus.org");
    assert.equal(dnsblZone("bl.spamcop.net"), "bl.spamcop.net");
    assert.deepEqual(dnsblVerdict([]), { listed: false });
    assert.deepEqual(dnsblVerdict(["127.0.0.2", "127.0.0.4"]), { listed: true, codes: ["127.0.0.2", "127.0.0.4"] });
    assert.match((dnsblVerdict(["127.255.255.254"]) as { unknown: string }).unknown, /refused the query/);
    assert.match((dnsblVerdict(["198.51.100.1"]) as { unknown: string }).unknown, /rewrites NXDOMAIN/);
  });
});

// ---- whole runs over the lab fleet ------------------------------------------------------------

const spec = parseFleetConfig(readStackConfig("lab", { passphrase: "mailfleet-lab" }).raw);
const topology = buildTopology(spec);
const keys = spec.domains.flatMap((domain) => spec.dkim.selectors.map((selector) => ({ domain, selector, publicKey: RSA2048 })));
const recordSet = buildRecordSet(topology, givenAddresses(spec), keys);
const EXPECTED: Expected = { stack: "test", topology, recordSet, dkimKeysKnown: true, dnsbls: ["bl.example.net"] };
const NOW = new Date("2026-03-10T12:00:00Z");

/** The lab zone as it should be published: the record set, plus the PTRs of the reverse zones. */
function publishedZone(): Zone {
  const zone: Zone = {};
  const add = (name: string, type: keyof Zone[string], value: string) => {
    const node = (zone[name] ??= {});
    (node[type] ??= []).push(value);
  };
  for (const r of recordSet.records) {
    if (r.type === "A" || r.type === "AAAA") add(r.name, r.type, r.address);
    if (r.type === "MX") add(r.name, "MX", `${r.priority} ${r.exchange}`);
    if (r.type === "TXT") add(r.name, "TXT", r.text);
    if (r.type === "CNAME") add(r.name, "CNAME", r.target);
    if (r.type === "SRV") add(r.name, "SRV", `${r.priority} ${r.weight} ${r.port} ${r.target}`);
  }
  for (const p of recordSet.ptr) add(p.address, "PTR", p.name);
  return zone;
}

const goodTls = (host: string): TlsProbe => ({
  banner: `220 ${host} ESMTP`,
  starttls: true,
  tls: { protocol: "TLSv1.3", names: [host, "smtp.mail.example.com"], validTo: new Date("2027-01-01T00:00:00Z"), trusted: true },
});
const goodPolicy: PolicyFetch = { status: 200, contentType: "text/plain", body: recordSet.mtaSts.policy };

async function check(
  edit: (zone: Zone) => void = () => {},
  probes: Partial<Probes> = {},
): Promise<CheckResult[]> {
  const zone = publishedZone();
  edit(zone);
  return runChecks(EXPECTED, { dns: fakeDns(zone), starttls: async (h) => goodTls(h), tls: async (ep) => goodTls(ep.name), policy: async () => goodPolicy, now: NOW, ...probes });
}
const failures = (results: CheckResult[]) => results.filter((r) => r.status === "fail");
/** Exactly one failing line, of this check and subject; its detail and fix. */
function onlyFailure(results: CheckResult[], check: string, subject: string): CheckResult {
  const bad = failures(results);
  assert.deepEqual(bad.map((r) => [r.check, r.subject]), [[check, subject]], formatTable(bad));
  assert.ok(bad[0].fix, "a failure carries its fix");
  return bad[0];
}

describe("check runs over the lab fleet", () => {
  it("passes a correctly published fleet, every check present", async () => {
    const results = await check();
    assert.deepEqual(failures(results), [], formatTable(results));
    assert.deepEqual(results.filter((r) => r.status === "warn"), []);
    const checks = new Set(results.map((r) => r.check));
    assert.deepEqual([...checks].sort(), ["address", "cname", "dkim", "dmarc", "dnsbl", "mta-sts", "mx", "ptr", "spf", "srv", "starttls", "tls", "tls-rpt"]);
    // 2 domains x (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT); 5 hosts x 2 addresses of PTR; 4 MX addresses.
    assert.equal(results.filter((r) => r.check === "ptr").length, 10);
    assert.equal(results.filter((r) => r.check === "starttls").length, 4);
    assert.equal(results.filter((r) => r.check === "dnsbl").length, 6);
    const spf = results.find((r) => r.check === "spf" && r.subject === "example.com")!;
    assert.match(spf.detail, /1 lookups, authorises 192\.0\.2\.11, 2001:db8:0:1::11, 192\.0\.2\.12, 2001:db8:0:1::12, 192\.0\.2\.21, 2001:db8:0:1::21/);
  });

  it("names an MX at a different priority", async () => {
    const r = onlyFailure(await check((z) => (z["example.com"].MX = ["10 mx1.mail.example.com", "20 mx2.mail.example.com"])), "mx", "example.com");
    assert.match(r.detail, /priorities differ \(10 mx1\.mail\.example\.com, 20 mx2\.mail\.example\.com\)/);
    assert.equal(r.fix, "publish exactly: example.com MX 10 mx1.mail.example.com, example.com MX 10 mx2.mail.example.com");
  });

  it("names a missing and a foreign MX, and the SPF `mx` term that no longer covers the dropped edge host", async () => {
    const bad = failures(await check((z) => (z["example.org"].MX = ["10 mx1.mail.example.com", "10 mx.other.example"])));
    assert.deepEqual(bad.map((r) => [r.check, r.subject]), [["mx", "example.org"], ["spf", "example.org"]]);
    assert.match(bad[0].detail, /missing mx2\.mail\.example\.com; unexpected 10 mx\.other\.example/);
    assert.match(bad[1].detail, /does not authorise 192\.0\.2\.12 \(fail: example\.org: -all\)/);
  });

  it("names a wrong PTR of a sending host with the fix of its backend", async () => {
    const r = onlyFailure(await check((z) => (z["192.0.2.21"].PTR = ["host-21.provider.example"])), "ptr", "192.0.2.21");
    assert.match(r.detail, /PTR is host-21\.provider\.example, not the HELO name out1\.mail\.example\.com/);
    assert.match(r.fix!, /publish the PTR 192\.0\.2\.21 → out1\.mail\.example\.com in the reverse zone/);
    const aws = await runChecks({ ...EXPECTED, topology: { ...topology, spec: { ...spec, compute: "aws" } } }, {
      dns: fakeDns({ ...publishedZone(), "192.0.2.21": {} }),
      starttls: async (h) => goodTls(h), tls: async (ep) => goodTls(ep.name),
      policy: async () => goodPolicy,
      now: NOW,
    });
    const awsPtr = failures(aws).find((f) => f.check === "ptr")!;
    assert.match(awsPtr.detail, /no PTR \(should be out1\.mail\.example\.com\)/);
    assert.match(awsPtr.fix!, /reverse DNS of Elastic IP 192\.0\.2\.21 to out1\.mail\.example\.com/);
  });

  it("on AWS, expects no PTR for IPv6 addresses, which EC2 cannot set and the hosts do not send from", async () => {
    const zone = publishedZone();
    for (const p of recordSet.ptr.filter((w) => w.address.includes(":"))) delete zone[p.address];
    const aws = await runChecks({ ...EXPECTED, topology: { ...topology, spec: { ...spec, compute: "aws" } } }, {
      dns: fakeDns(zone),
      starttls: async (h) => goodTls(h), tls: async (ep) => goodTls(ep.name),
      policy: async () => goodPolicy,
      now: NOW,
    });
    assert.deepEqual(failures(aws), [], formatTable(aws));
    const ptr = aws.find((r) => r.check === "ptr" && r.subject === "2001:db8:0:1::21")!;
    assert.equal(ptr.status, "pass");
    assert.match(ptr.detail, /no PTR expected: EC2 offers no custom PTR for IPv6 addresses/);
    // The same zone on byo (the lab) fails: there the address owner can set them.
    assert.ok(failures(await check((z) => delete z["2001:db8:0:1::21"])).some((r) => r.check === "ptr" && r.subject === "2001:db8:0:1::21"));
  });

  it("warns only about a wrong PTR of a store, which never sends", async () => {
    const results = await check((z) => (z["192.0.2.31"].PTR = ["elsewhere.example"]));
    assert.deepEqual(failures(results), []);
    assert.deepEqual(results.filter((r) => r.status === "warn").map((r) => r.subject), ["192.0.2.31"]);
  });

  it("names a broken FCrDNS: the PTR is right but the name does not resolve back", async () => {
    const results = await check((z) => (z["out1.mail.example.com"].AAAA = ["2001:db8:0:1::99"]));
    const ptr = failures(results).find((r) => r.check === "ptr")!;
    assert.equal(ptr.subject, "2001:db8:0:1::21");
    assert.match(ptr.detail, /out1\.mail\.example\.com does not resolve back to 2001:db8:0:1::21 \(FCrDNS fails\)/);
    assert.equal(ptr.fix, "publish out1.mail.example.com AAAA 2001:db8:0:1::21");
    const address = failures(results).find((r) => r.check === "address")!;
    assert.equal(address.fix, "publish out1.mail.example.com AAAA 2001:db8:0:1::21; remove out1.mail.example.com AAAA 2001:db8:0:1::99");
  });

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

  it("names a missing TLS-RPT record", async () => {
    const r = onlyFailure(await check((z) => delete z["_smtp._tls.example.com"]), "tls-rpt", "example.com");
    assert.match(r.detail, /no TLS-RPT record at _smtp\._tls\.example\.com/);
    assert.equal(r.fix, 'publish _smtp._tls.example.com TXT "v=TLSRPTv1; rua=mailto:tls-reports@example.com"');
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

  it("names a listed sending address and warns about a refused DNSBL query", async () => {
    const results = await check((z) => {
      z["21.2.0.192.bl.example.net"] = { A: ["127.0.0.2"], TXT: ["listed for spam, see https://bl.example.net/192.0.2.21"] };
      z["11.2.0.192.bl.example.net"] = { A: ["127.255.255.254"] };
    });
    const r = onlyFailure(results, "dnsbl", "192.0.2.21");
    assert.match(r.detail, /listed in bl\.example\.net \(127\.0\.0\.2: listed for spam, see https:\/\/bl\.example\.net\/192\.0\.2\.21\): receivers using it reject mail from out1\.mail\.example\.com/);
    assert.match(results.find((x) => x.subject === "192.0.2.11" && x.check === "dnsbl")!.detail, /refused the query/);
  });

  it("reports a nameserver that does not answer as a failed query, not as a missing record", async () => {
    const zone = publishedZone();
    const results = await runChecks(EXPECTED, { dns: fakeDns(zone, new Set(["_dmarc.example.com"])), starttls: async (h) => goodTls(h), tls: async (ep) => goodTls(ep.name), policy: async () => goodPolicy, now: NOW });
    const r = onlyFailure(results, "dmarc", "example.com");
    assert.equal(r.detail, "query failed: TXT _dmarc.example.com: ETIMEOUT");
  });

  it("prints a table with each fix under its failure", async () => {
    const table = formatTable(await check((z) => delete z["_smtp._tls.example.com"]));
    const lines = table.split("\n");
    const at = lines.findIndex((l) => l.startsWith("FAIL") && l.includes("tls-rpt"));
    assert.ok(at > 0, table);
    assert.match(lines[at + 1], /^\s+fix: publish _smtp\._tls\.example\.com TXT/);
    assert.match(lines[lines.length - 1], /^checks: \d+ pass, 0 warn, 1 fail$/);
  });
});

// ---- backups ------------------------------------------------------------------------------------

describe("the backup check", () => {
  const snapshot = (time: string, id = "1a2b3c4d") => ({ time, short_id: id, id: `${id}${"0".repeat(56)}`, summary: { total_bytes_processed: 2048, total_files_processed: 3 } });
  const status = (...snapshots: object[]) => ({ stdout: JSON.stringify({ store: "store1", repository: "rest:http://10.0.0.5:8000/store1", snapshots }) });

  it("passes a snapshot younger than twice the interval, fails an older one, none, or a failed status", () => {
    const fresh = backupVerdict("lab", "store1", status(snapshot("2026-03-10T10:05:00Z")), 60, NOW);
    assert.equal(fresh.status, "pass");
    assert.equal(fresh.detail, "newest snapshot 1a2b3c4d is 1 h 55 min old (backups every 60 min)");
    const stale = backupVerdict("lab", "store1", status(snapshot("2026-03-10T09:59:00Z")), 60, NOW);
    assert.equal(stale.status, "fail");
    assert.match(stale.detail, /is 2 h 1 min old .*: more than twice the interval/);
    assert.match(stale.fix!, /\.\/mf backup --stack lab --store store1.*journalctl -u mailfleet-backup\.service/);
    // The newest counts, whatever order the list comes in.
    assert.equal(backupVerdict("lab", "store1", status(snapshot("2026-03-10T11:50:00Z", "ffffffff"), snapshot("2026-03-01T00:00:00Z")), 15, NOW).status, "pass");
    const none = backupVerdict("lab", "store1", status(), 60, NOW);
    assert.deepEqual([none.status, none.detail], ["fail", "no snapshot in rest:http://10.0.0.5:8000/store1 yet"]);
    const failed = backupVerdict("lab", "store2", { error: "wrong password for rest:http://10.0.0.5:8000/store2" }, 60, NOW);
    assert.deepEqual([failed.status, failed.subject], ["fail", "store2"]);
    assert.match(failed.detail, /status failed: wrong password/);
    assert.match(failed.fix!, /backup\.repository and backup\.password/);
    assert.equal(backupVerdict("lab", "store1", { stdout: "Fatal: x" }, 60, NOW).status, "fail");
  });

  it("runs per store only with SSH access and a backup block", async () => {
    const backup = { repository: "rest:http://10.0.0.5:8000", password: "a long enough repository password", intervalMinutes: 60, retention: { hourly: 1, daily: 1, weekly: 1 } };
    const withBackup: Expected = { ...EXPECTED, topology: { ...topology, spec: { ...spec, backup } } };
    const asked: string[] = [];
    const probes: Probes = {
      dns: fakeDns(publishedZone()),
      starttls: async (h) => goodTls(h),
      tls: async (ep) => goodTls(ep.name),
      policy: async () => goodPolicy,
      now: NOW,
      backupStatus: async (store) => (asked.push(store), store === "store1" ? status(snapshot("2026-03-10T11:30:00Z")) : { error: "unreachable" }),
    };
    const lines = (await runChecks(withBackup, probes)).filter((r) => r.check === "backup");
    assert.deepEqual(asked, ["store1", "store2"]);
    assert.deepEqual(lines.map((r) => [r.subject, r.status]), [["store1", "pass"], ["store2", "fail"]]);
    const { backupStatus: _ssh, ...noSsh } = probes;
    assert.deepEqual((await runChecks(withBackup, noSsh)).filter((r) => r.check === "backup"), []);
    const withoutBackup: Expected = { ...EXPECTED, topology: { ...topology, spec: { ...spec, backup: undefined } } };
    assert.deepEqual((await runChecks(withoutBackup, probes)).filter((r) => r.check === "backup"), []);
  });

  it("reads restic's progress and summary lines, and the snapshot list with sizes", () => {
    assert.deepEqual(
      readResticLine('{"message_type":"status","percent_done":0.5,"total_files":10,"files_done":5,"total_bytes":2097152,"bytes_done":1048576,"seconds_elapsed":3}'),
      { kind: "progress", text: "50%  1.0 MiB of 2.0 MiB, 5 of 10 files, 3 s" },
    );
    assert.deepEqual(
      readResticLine('{"message_type":"status","percent_done":1,"total_files":4,"files_restored":4,"total_bytes":100,"bytes_restored":100}'),
      { kind: "progress", text: "100%  100 B of 100 B, 4 of 4 files, 0 s" },
    );
    assert.deepEqual(
      readResticLine('{"message_type":"summary","snapshot_id":"0123456789abcdef","total_files_processed":7,"total_bytes_processed":4096,"data_added":512}'),
      { kind: "summary", snapshot: "01234567", files: 7, bytes: 4096, added: 512 },
    );
    assert.deepEqual(readResticLine('{"message_type":"error","error":{"message":"permission denied"},"item":"/var/vmail/x"}'), {
      kind: "error",
      text: "/var/vmail/x: permission denied",
    });
    assert.deepEqual(readResticLine('{"message_type":"exit_error","code":1,"message":"Fatal: unable to save snapshot"}'), {
      kind: "error",
      text: "Fatal: unable to save snapshot",
    });
    assert.deepEqual(readResticLine("plain words"), { kind: "other", text: "plain words" });
    const list = parseSnapshotList(status(snapshot("2026-03-10T11:00:00Z", "bbbbbbbb"), snapshot("2026-03-10T10:00:00Z", "aaaaaaaa")).stdout);
    assert.deepEqual(list.snapshots.map((s) => [s.id, s.bytes, s.files]), [["aaaaaaaa", 2048, 3], ["bbbbbbbb", 2048, 3]]);
    assert.throws(() => parseSnapshotList('{"store":"store1"}'), /without store, repository and snapshots/);
    assert.throws(() => parseSnapshotList(""), /printed no JSON: nothing/);
  });
});
