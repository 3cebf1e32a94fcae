/**
 * The record set of the lab stack against expectations written by hand from the RFCs.
 * Lab: serverDomain mail.example.com; domains example.com, example.org; edge mx1, mx2; outbound
 * out1; stores store1, store2; IPv6 on; DMARC reports to dmarc-reports@example.com.
 */
import assert from "node:assert/strict";
import { createHash, createPublicKey, generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import { ConfigError, spfIncludes, spfLookups as countedLookups } from "../../components/config";
import { buildRecordSet, DnsRecord, recordNames, txtStrings } from "../../components/records";
import { buildTopology, domainWebNames, hostCertificateNames, hostsOf } from "../../components/topology";
import { fakeDane, fakeDkim, lab } from "../support/labRecords";
import { daneGenerations, daneKeys, publishedKeyNames } from "../../components/keys/material";

const S = "mail.example.com";
const DOMAINS = ["example.com", "example.org"];
const LAB = lab();

const at = (records: DnsRecord[], name: string, type?: DnsRecord["type"]) => records.filter((r) => r.name === name && (!type || r.type === type));
const texts = (records: DnsRecord[], name: string) => at(records, name, "TXT").map((r) => (r.type === "TXT" ? r.text : ""));
const spfOf = (records: DnsRecord[], domain: string) => {
  const spf = texts(records, domain).filter((t) => t.startsWith("v=spf1 "));
  // RFC 7208 §4.5: more than one SPF record is a permerror.
  assert.equal(spf.length, 1, `${domain} must have exactly one SPF record`);
  return spf[0];
};
/** RFC 7208 §4.6.4: include, a, mx, ptr, exists and redirect each cost a DNS lookup. */
const spfLookups = (spf: string) => spf.split(" ").filter((term) => /^[+?~-]?(include:|a\b|mx\b|ptr\b|exists:)|^redirect=/.test(term)).length;

describe("MX: every edge host, one priority", () => {
  for (const D of DOMAINS) {
    it(`${D} has one MX per edge host, all at the same priority`, () => {
      const mx = at(LAB.set.records, D, "MX").map((r) => (r.type === "MX" ? r : assert.fail()));
      assert.deepEqual(mx.map((r) => r.exchange).sort(), ["mx1.mail.example.com", "mx2.mail.example.com"]);
      assert.equal(new Set(mx.map((r) => r.priority)).size, 1, "equal priority, so senders spread over all MX (RFC 5321 §5.1)");
    });
  }
  it("every MX target has A and AAAA records of its own and is no CNAME (RFC 2181 §10.3)", () => {
    for (const [host, addrs] of [["mx1", ["192.0.2.11", "2001:db8:0:1::11"]], ["mx2", ["192.0.2.12", "2001:db8:0:1::12"]]] as const) {
      const name = `${host}.${S}`;
      assert.deepEqual(at(LAB.set.records, name, "A").map((r) => (r.type === "A" ? r.address : "")), [addrs[0]]);
      assert.deepEqual(at(LAB.set.records, name, "AAAA").map((r) => (r.type === "AAAA" ? r.address : "")), [addrs[1]]);
      assert.equal(at(LAB.set.records, name, "CNAME").length, 0);
    }
  });
  it("a third edge host is a third MX at the same priority", () => {
    const bigger = lab((raw) => raw.hosts.edge.push({ name: "mx3", ipv4: "192.0.2.13", ipv6: "2001:db8:0:1::13" }));
    const mx = at(bigger.set.records, "example.org", "MX").map((r) => (r.type === "MX" ? [r.priority, r.exchange] : []));
    assert.deepEqual(mx, [[10, "mx1.mail.example.com"], [10, "mx2.mail.example.com"], [10, "mx3.mail.example.com"]]);
  });
});

describe("SPF (RFC 7208)", () => {
  it("each hosted domain: mx for the edge, every outbound address, then -all", () => {
    for (const D of DOMAINS) assert.equal(spfOf(LAB.set.records, D), "v=spf1 mx ip4:192.0.2.21 ip6:2001:db8:0:1::21 -all");
  });
  it("covers every outbound address and stays within 10 lookups with includes", () => {
    const { set, spec } = lab((raw) => {
      raw.spfIncludes = ["_spf.newsletter.example.net", "_spf.tickets.example.net"];
      raw.smarthost = { host: "relay.example.net", username: "fleet", password: "relay-secret-1234", spfInclude: "_spf.relay.example.net" };
      raw.hosts.outbound.push({ name: "out2", ipv4: "198.51.100.22", ipv6: "2001:db8:0:2::22" });
    });
    const spf = spfOf(set.records, "example.com");
    assert.equal(spfLookups(spf), 4, spf);
    for (const h of buildTopology(spec).hosts.filter((h) => h.role === "outbound")) {
      assert.ok(spf.split(" ").includes(`ip4:${h.ipv4}`), `${h.name} ipv4 in ${spf}`);
      assert.ok(spf.split(" ").includes(`ip6:${h.ipv6}`), `${h.name} ipv6 in ${spf}`);
    }
    assert.ok(spf.includes("include:_spf.relay.example.net") && spf.endsWith(" -all"));
    for (const s of txtStrings(spf)) assert.ok(Buffer.byteLength(s) <= 255);
  });
  it("more than 10 edge hosts: addresses instead of mx, which would be a permerror (RFC 7208 §4.6.4)", () => {
    const { set } = lab((raw) => {
      for (let n = 3; n <= 11; n++) raw.hosts.edge.push({ name: `mx${n}`, ipv4: `192.0.2.${100 + n}`, ipv6: `2001:db8:0:1::${100 + n}` });
    });
    const spf = spfOf(set.records, "example.com").split(" ");
    assert.ok(!spf.includes("mx"));
    assert.ok(spf.includes("ip4:192.0.2.111") && spf.includes("ip6:2001:db8:0:1::111") && spf.includes("ip4:192.0.2.21"));
  });
  it("costs the lookups config counts (config/spf.ts), with mx and past 10 edges without it", () => {
    for (const edges of [2, 11]) {
      const { set, spec } = lab((raw) => {
        for (let n = 3; n <= edges; n++) raw.hosts.edge.push({ name: `mx${n}`, ipv4: `192.0.2.${100 + n}`, ipv6: `2001:db8:0:1::${100 + n}` });
        raw.spfIncludes = ["_spf.newsletter.example.net", "_spf.tickets.example.net"];
      });
      const spf = spfOf(set.records, "example.com");
      assert.equal(spfLookups(spf), countedLookups(edges, spfIncludes(spec).length), `${edges} edges: ${spf}`);
    }
  });
  it("every sending host has a HELO SPF record; stores send nothing and get none", () => {
    for (const host of ["mx1", "mx2", "out1"]) assert.deepEqual(texts(LAB.set.records, `${host}.${S}`), ["v=spf1 a -all"]);
    for (const host of ["store1", "store2"]) assert.deepEqual(texts(LAB.set.records, `${host}.${S}`), []);
  });
});

describe("DKIM (RFC 6376)", () => {
  const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048, publicKeyEncoding: { type: "spki", format: "der" }, privateKeyEncoding: { type: "pkcs8", format: "pem" } });
  const p = publicKey.toString("base64");
  const rotating = lab((raw) => (raw.dkim = { selectors: ["lab1", "lab2"], active: "lab2" }));
  const keys = publishedKeyNames(rotating.spec).map((name) => ({ ...name, publicKey: p }));
  const set = buildRecordSet(rotating.topology, rotating.addresses, keys);

  it("a 2048-bit key splits into character-strings of at most 255 bytes that rejoin to the record", () => {
    const [text] = texts(set.records, "lab2._domainkey.example.org");
    assert.equal(text, `v=DKIM1; k=rsa; p=${p}`);
    const strings = txtStrings(text);
    assert.ok(strings.length >= 2, "a 2048-bit key does not fit one string");
    for (const s of strings) assert.ok(Buffer.byteLength(s) <= 255, `${Buffer.byteLength(s)} bytes`);
    assert.equal(strings.join(""), text);
    const key = createPublicKey({ key: Buffer.from(text.split("p=")[1], "base64"), format: "der", type: "spki" });
    assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
  });
  it("every selector is published during a rotation, for every domain", () => {
    for (const D of DOMAINS) for (const sel of ["lab1", "lab2"]) assert.equal(texts(set.records, `${sel}._domainkey.${D}`).length, 1, `${sel} ${D}`);
  });
  it("a missing key is an error, not a silently missing record", () => {
    assert.throws(() => buildRecordSet(rotating.topology, rotating.addresses, keys.slice(1)), /no DKIM key for lab1\._domainkey\.example\.com/);
  });
});

describe("DMARC (RFC 7489)", () => {
  it("v first, p second, rua and alignment", () => {
    for (const D of DOMAINS) {
      assert.deepEqual(texts(LAB.set.records, `_dmarc.${D}`), ["v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com; adkim=r; aspf=r"]);
    }
  });
  it("strict alignment and no rua", () => {
    const { set } = lab((raw) => (raw.dmarc = { policy: "quarantine", alignment: "strict" }));
    assert.deepEqual(texts(set.records, "_dmarc.example.org"), ["v=DMARC1; p=quarantine; adkim=s; aspf=s"]);
    assert.equal(set.records.filter((r) => r.name.includes("._report._dmarc.")).length, 0);
  });
  it("§7.1: example.com authorizes reports about example.org, and only that", () => {
    assert.deepEqual(
      LAB.set.records.filter((r) => r.name.includes("._report._dmarc.")).map((r) => [r.name, r.zone, r.type === "TXT" ? r.text : ""]),
      [["example.org._report._dmarc.example.com", "example.com", "v=DMARC1"]],
    );
  });
});

describe("MTA-STS (RFC 8461)", () => {
  it("policy: CRLF-separated lines, a wildcard mx under the server domain", () => {
    assert.equal(LAB.set.mtaSts.policy, "version: STSv1\r\nmode: testing\r\nmx: *.mail.example.com\r\nmax_age: 86400\r\n");
    assert.match(LAB.set.mtaSts.id, /^[a-zA-Z0-9]{1,32}$/);
  });
  it("the wildcard matches every edge host (§4.1: * matches one leftmost label)", () => {
    const suffix = LAB.set.mtaSts.policy.match(/mx: \*\.(\S+)/)![1];
    for (const mx of ["mx1", "mx2"].map((h) => `${h}.${S}`)) assert.ok(mx.endsWith(`.${suffix}`) && !mx.slice(0, -suffix.length - 1).includes("."));
  });
  it("TXT id and the policy host per domain", () => {
    for (const D of DOMAINS) {
      assert.deepEqual(texts(LAB.set.records, `_mta-sts.${D}`), [`v=STSv1; id=${LAB.set.mtaSts.id}`]);
      assert.deepEqual(at(LAB.set.records, `mta-sts.${D}`).map((r) => (r.type === "CNAME" ? r.target : r.type)), [`mta-sts.${S}`]);
    }
    assert.deepEqual(at(LAB.set.records, `mta-sts.${S}`, "A").map((r) => (r.type === "A" ? r.address : "")), ["192.0.2.11", "192.0.2.12"]);
  });
  it("the id changes with mode and with max_age, not when an edge host is added", () => {
    const id = LAB.set.mtaSts.id;
    // enforce needs publicly trusted certificates (the lab stack is fleet-ca).
    assert.notEqual(lab((raw) => Object.assign(raw, { mtaSts: { mode: "enforce", maxAge: 86400 }, tls: { mode: "acme" } })).set.mtaSts.id, id);
    assert.notEqual(lab((raw) => (raw.mtaSts = { mode: "testing", maxAge: 604800 })).set.mtaSts.id, id);
    const bigger = lab((raw) => raw.hosts.edge.push({ name: "mx3", ipv4: "192.0.2.13", ipv6: "2001:db8:0:1::13" }));
    assert.equal(bigger.set.mtaSts.id, id);
    assert.equal(bigger.set.mtaSts.policy, LAB.set.mtaSts.policy);
  });
});

describe("TLS-RPT (RFC 8460) and client discovery (RFC 6186, RFC 8314)", () => {
  it("TLS-RPT record", () => {
    for (const D of DOMAINS) assert.deepEqual(texts(LAB.set.records, `_smtp._tls.${D}`), ["v=TLSRPTv1; rua=mailto:tls-reports@example.com"]);
  });
  const srvOf = (set: typeof LAB.set, D: string) =>
    set.records.filter((r) => r.type === "SRV" && r.name.endsWith(`._tcp.${D}`)).map((r) => (r.type === "SRV" ? `${r.name} ${r.priority} ${r.weight} ${r.port} ${r.target}` : ""));
  it("SRV targets: submission and IMAPS offered, plain IMAP and POP3 declared absent with target .", () => {
    assert.deepEqual(srvOf(LAB.set, "example.org"), [
      "_submission._tcp.example.org 0 1 587 smtp.mail.example.com",
      "_submissions._tcp.example.org 0 1 465 smtp.mail.example.com",
      "_imaps._tcp.example.org 0 1 993 imap.mail.example.com",
      "_imap._tcp.example.org 0 0 0 .",
      "_pop3s._tcp.example.org 0 0 0 .",
      "_pop3._tcp.example.org 0 0 0 .",
      "_autodiscover._tcp.example.org 0 1 443 mail.mail.example.com",
    ]);
  });
  it("POP3S is offered when pop3 is on", () => {
    assert.ok(srvOf(lab((raw) => (raw.pop3 = true)).set, "example.com").includes("_pop3s._tcp.example.com 0 1 995 imap.mail.example.com"));
  });
  it("SRV targets resolve to the hosts of their role", () => {
    const a = (name: string) => at(LAB.set.records, name, "A").map((r) => (r.type === "A" ? r.address : ""));
    assert.deepEqual(a(`smtp.${S}`), ["192.0.2.21"]);
    assert.deepEqual(a(`imap.${S}`), ["192.0.2.31", "192.0.2.32"]);
    assert.deepEqual(a(`mail.${S}`), ["192.0.2.11", "192.0.2.12"]);
  });
  it("autoconfig and autodiscover point at the edge's web name", () => {
    for (const D of DOMAINS) {
      for (const label of ["autoconfig", "autodiscover"]) {
        assert.deepEqual(at(LAB.set.records, `${label}.${D}`).map((r) => (r.type === "CNAME" ? r.target : r.type)), [`mail.${S}`]);
      }
    }
  });
});

describe("PTR wishes (FCrDNS)", () => {
  it("every published host address, v4 and v6, maps back to the name whose A/AAAA holds it", () => {
    const forward = LAB.set.records
      .filter((r) => (r.type === "A" || r.type === "AAAA") && LAB.topology.hosts.some((h) => h.fqdn === r.name))
      .map((r) => `${r.type === "A" || r.type === "AAAA" ? r.address : ""} ${r.name}`);
    assert.deepEqual(LAB.set.ptr.map((p) => `${p.address} ${p.name}`).sort(), forward.sort());
    assert.deepEqual(LAB.set.ptr.find((p) => p.address === "2001:db8:0:1::21"), { address: "2001:db8:0:1::21", name: `out1.${S}`, host: "out1" });
    assert.equal(LAB.set.ptr.length, 12);
  });
  it("ipv6 off: no AAAA and no IPv6 PTR", () => {
    const { set } = lab((raw) => {
      raw.ipv6 = "false";
      for (const role of ["edge", "outbound", "store", "monitoring"]) for (const h of raw.hosts[role]) delete h.ipv6;
      delete raw.zone.nameservers[0].ipv6;
    });
    assert.equal(set.records.filter((r) => r.type === "AAAA").length, 0);
    assert.ok(set.ptr.every((p) => !p.address.includes(":")));
    assert.equal(spfOf(set.records, "example.com"), "v=spf1 mx ip4:192.0.2.21 -all");
  });
});

describe("the set as a whole", () => {
  it("each record sits in its longest matching zone, with the stack's TTL", () => {
    const split = lab((raw) => (raw.dnsZones = ["example.com", "example.org", "mail.example.com"]));
    for (const r of split.set.records) {
      const expected = r.name === "mail.example.com" || r.name.endsWith(".mail.example.com") ? "mail.example.com" : r.name.endsWith("example.org") ? "example.org" : "example.com";
      assert.equal(r.zone, expected, r.name);
      assert.equal(r.ttl, split.spec.dnsTtl);
    }
  });
  it("no duplicates, and the same input gives the same records in the same order", () => {
    const keys = LAB.set.records.map((r) => JSON.stringify(r));
    assert.equal(new Set(keys).size, keys.length);
    assert.deepEqual(buildRecordSet(LAB.topology, LAB.addresses, fakeDkim(LAB.spec), fakeDane(LAB.topology)), LAB.set);
  });
  it("every record sits at a name records/labels.ts knows, so its checks see every name", () => {
    for (const set of [LAB, lab((raw) => ((raw.serverDomain = "example.com"), (raw.pop3 = true), (raw.dkim = { selectors: ["a1", "b2"] })))]) {
      assert.deepEqual(new Set(set.set.records.map((r) => r.name)), new Set(recordNames(set.topology)));
    }
  });
  it("a name with a CNAME has no other records (RFC 1034 §3.6.2)", () => {
    for (const c of LAB.set.records.filter((r) => r.type === "CNAME")) assert.deepEqual(at(LAB.set.records, c.name).length, 1, c.name);
    // Server domain = hosted domain: mta-sts.example.com holds the edge addresses itself, no CNAME.
    const sameDomain = lab((raw) => (raw.serverDomain = "example.com"));
    assert.deepEqual(at(sameDomain.set.records, "mta-sts.example.com").map((r) => r.type), ["A", "AAAA", "A", "AAAA"]);
    // …and a host labelled like a per-domain CNAME would collide with it.
    assert.throws(
      () => lab((raw) => ((raw.serverDomain = "example.com"), raw.hosts.store.push({ name: "autoconfig", ipv4: "192.0.2.33", ipv6: "2001:db8:0:1::33" }))),
      /autoconfig\.example\.com would be a CNAME and also have A, AAAA records/,
    );
    assert.throws(
      () => lab((raw) => ((raw.serverDomain = "example.com"), raw.hosts.store.push({ name: "autoconfig", ipv4: "192.0.2.33", ipv6: "2001:db8:0:1::33" }))),
      (e: unknown) => e instanceof ConfigError && e.problems.length === 1 && e.problems[0].path === "hosts.store[2].name",
      "a ConfigError at the host's label",
    );
  });
});

describe("txtStrings", () => {
  it("splits at 255 bytes and never inside a UTF-8 sequence", () => {
    assert.deepEqual(txtStrings(""), [""]);
    assert.deepEqual(txtStrings("a".repeat(600)).map((s) => s.length), [255, 255, 90]);
    const mixed = "a".repeat(254) + "é" + "b";
    assert.deepEqual(txtStrings(mixed), ["a".repeat(254), "éb"]);
  });
});

describe("a domain's web names, one home for every reader", () => {
  it("are mta-sts., autoconfig. and autodiscover. of the domain, each a CNAME to the edge's service name that serves it", () => {
    for (const D of DOMAINS) {
      const names = domainWebNames(D);
      assert.deepEqual(names, { mtaSts: `mta-sts.${D}`, autoconfig: `autoconfig.${D}`, autodiscover: `autodiscover.${D}` });
      const cname = (name: string) => at(LAB.set.records, name, "CNAME").map((r) => (r.type === "CNAME" ? r.target : ""));
      assert.deepEqual(cname(names.mtaSts), [LAB.topology.services.mtaSts.fqdn]);
      assert.deepEqual(cname(names.autoconfig), [LAB.topology.services.web.fqdn]);
      assert.deepEqual(cname(names.autodiscover), [LAB.topology.services.web.fqdn]);
    }
  });

  it("are every name an edge's certificates carry besides its own and its services'", () => {
    const edge = hostsOf(LAB.topology, "edge")[0];
    const services = Object.values(LAB.topology.services).filter((s) => s.role === "edge").map((s) => s.fqdn);
    const extra = hostCertificateNames(LAB.topology, edge).filter((n) => n !== edge.fqdn && !services.includes(n));
    assert.deepEqual(extra.sort(), DOMAINS.flatMap((d) => Object.values(domainWebNames(d))).sort());
  });
});

describe("DANE", () => {
  const tlsaOf = (set: { records: readonly DnsRecord[] }) =>
    set.records.flatMap((r) => (r.type === "TLSA" ? [{ name: r.name, zone: r.zone, usage: r.usage, selector: r.selector, matchingType: r.matchingType, digest: r.digest }] : []));
  const keyPair = () => {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    return { keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), hash: createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("hex") };
  };
  const edges = hostsOf(LAB.topology, "edge");

  it("acme: each edge publishes _25._tcp.<edge> TLSA 3 1 1 for the SPKI SHA-256 of each DANE key it holds (RFC 7672); unsigned zones: none", () => {
    const generation = 4;
    assert.deepEqual(daneGenerations(generation), [3, 4, 5], "the previous, the served and the next generation");
    assert.deepEqual(daneGenerations(1), [1, 2], "generation 1 has no previous one");
    const held = Object.fromEntries(edges.map((h) => [h.name, daneGenerations(generation).map((g) => ({ generation: g, ...keyPair() }))]));
    const spec = { ...LAB.spec, tls: { ...LAB.spec.tls, mode: "acme" as const, daneKeyGeneration: generation } };
    const set = buildRecordSet(LAB.topology, LAB.addresses, fakeDkim(LAB.spec), daneKeys(spec, edges, { hosts: {}, dane: held }));
    assert.deepEqual(
      tlsaOf(set),
      edges.flatMap((h) => held[h.name].map((k) => ({ name: `_25._tcp.${h.name}.mail.example.com`, zone: "example.com", usage: 3, selector: 1, matchingType: 1, digest: k.hash }))),
    );
    const unsigned = lab((raw) => (raw.dnssec = false));
    assert.equal(tlsaOf(unsigned.set).length, 0);
  });
  it("fleet-ca: each edge's one TLSA pins the host key its certificate carries", () => {
    const { keyPem, hash } = keyPair();
    const hosts = Object.fromEntries(edges.map((h) => [h.name, { certPem: "", keyPem }]));
    const spec = { ...LAB.spec, tls: { ...LAB.spec.tls, mode: "fleet-ca" as const } };
    assert.deepEqual(
      tlsaOf(buildRecordSet(LAB.topology, LAB.addresses, fakeDkim(LAB.spec), daneKeys(spec, edges, { hosts, dane: {} }))).map((r) => [r.name, r.digest]),
      edges.map((h) => [`_25._tcp.${h.name}.mail.example.com`, hash]),
    );
  });
});

describe("BIMI: default._bimi for the domains with a logo", () => {
  it("example.com points at its logo and mark certificate on its MTA-STS name, which the edges' certificates cover", () => {
    assert.deepEqual(texts(LAB.set.records, "default._bimi.example.com"), [
      "v=BIMI1; l=https://mta-sts.example.com/bimi/logo.svg; a=https://mta-sts.example.com/bimi/certificate.pem",
    ]);
    const edge = hostsOf(LAB.topology, "edge")[0];
    assert.ok(hostCertificateNames(LAB.topology, edge).includes("mta-sts.example.com"));
    assert.deepEqual(at(LAB.set.records, "default._bimi.example.org"), [], "example.org has no logo: no record");
    assert.ok(recordNames(LAB.topology).includes("default._bimi.example.com"));
  });
  it("a logo without a mark certificate gets an empty a= tag", () => {
    const noMark = lab((raw) => delete raw.bimi["example.com"].certificate);
    assert.deepEqual(texts(noMark.set.records, "default._bimi.example.com"), ["v=BIMI1; l=https://mta-sts.example.com/bimi/logo.svg; a="]);
  });
});
