/**
 * The DNS backends' pure parts: a record as Cloudflare's arguments (RFC 1035 TXT strings, MX
 * preference, RFC 2782 SRV fields), and the record keys that name one resource per record.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cloudflareRecordArgs, cloudflareTxtContent } from "../../components/dns/cloudflare";
import { recordKeys, recordPlan, recordsAsPlanned } from "../../components/dns/plan";
import { buildRecordSet, DnsRecord } from "../../components/records";
import { buildTopology } from "../../components/topology";
import { AddressBook } from "../../components/topology/addresses";
import { exampleSpec } from "../support/harness";
import { fakeDane, fakeDkim, lab as labRecords } from "../support/labRecords";

const at = { zone: "example.com", ttl: 300, owner: { domain: "example.com" } };

describe("cloudflareRecordArgs", () => {
  it("maps each record type to Cloudflare's fields, never proxied", () => {
    assert.deepEqual(cloudflareRecordArgs({ name: "mx1.mail.example.com", type: "A", address: "192.0.2.11", host: "mx1", ...at }), {
      name: "mx1.mail.example.com", type: "A", ttl: 300, proxied: false, content: "192.0.2.11",
    });
    assert.deepEqual(cloudflareRecordArgs({ name: "example.com", type: "MX", priority: 10, exchange: "mx1.mail.example.com", ...at }), {
      name: "example.com", type: "MX", ttl: 300, proxied: false, content: "mx1.mail.example.com", priority: 10,
    });
    assert.deepEqual(cloudflareRecordArgs({ name: "_submission._tcp.example.com", type: "SRV", priority: 0, weight: 1, port: 587, target: "smtp.mail.example.com", ...at }), {
      name: "_submission._tcp.example.com", type: "SRV", ttl: 300, proxied: false, data: { priority: 0, weight: 1, port: 587, target: "smtp.mail.example.com" },
    });
    assert.deepEqual(cloudflareRecordArgs({ name: "autoconfig.example.com", type: "CNAME", target: "mail.mail.example.com", ...at }), {
      name: "autoconfig.example.com", type: "CNAME", ttl: 300, proxied: false, content: "mail.mail.example.com",
    });
  });

  it("writes TXT values as quoted character-strings of at most 255 bytes (RFC 1035 §3.3.14)", () => {
    assert.equal(cloudflareTxtContent("v=spf1 mx -all"), '"v=spf1 mx -all"');
    const key = `v=DKIM1; k=rsa; p=${"A".repeat(392)}`;
    const content = cloudflareTxtContent(key);
    const strings = [...content.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
    assert.deepEqual(strings.map((s) => s.length), [255, key.length - 255]);
    assert.equal(strings.join(""), key, "receivers concatenate the strings back (RFC 6376 §3.6.2.2)");
    assert.equal(content, `"${strings[0]}" "${strings[1]}"`);
    assert.equal(cloudflareTxtContent('a"b\\c'), '"a\\"b\\\\c"');
  });
});

describe("recordKeys", () => {
  const addresses = { mx1: { ipv4: "192.0.2.11", ipv6: "2001:db8::11" }, mx2: { ipv4: "192.0.2.12" } };
  const records: DnsRecord[] = [
    { name: "mail.mail.example.com", type: "A", address: "192.0.2.11", host: "mx1", ...at },
    { name: "mail.mail.example.com", type: "A", address: "192.0.2.12", host: "mx2", ...at },
    { name: "mail.mail.example.com", type: "AAAA", address: "2001:db8::11", host: "mx1", ...at },
    { name: "example.com", type: "MX", priority: 10, exchange: "mx1.mail.example.com", ...at },
    { name: "example.com", type: "TXT", text: "v=spf1 mx -all", ...at },
    { name: "s1._domainkey.example.com", type: "TXT", text: "v=DKIM1; k=rsa; p=AAAA", ...at },
  ];

  it("names a record for what it is, not for what it holds", () => {
    assert.deepEqual(recordKeys(records, addresses), [
      "A mail.mail.example.com mx1",
      "A mail.mail.example.com mx2",
      "AAAA mail.mail.example.com mx1",
      "MX example.com mx1.mail.example.com",
      "TXT example.com v=spf1",
      "TXT s1._domainkey.example.com v=DKIM1",
    ]);
    const moved = { mx1: { ipv4: "198.51.100.1", ipv6: "2001:db8::99" }, mx2: { ipv4: "198.51.100.2" } };
    const renumbered = records.map((r) => (r.type === "A" || r.type === "AAAA" ? { ...r, address: r.type === "A" ? moved[r.address.endsWith("11") ? "mx1" : "mx2"].ipv4 : moved.mx1.ipv6 } : r));
    assert.deepEqual(recordKeys(renumbered, moved), recordKeys(records, addresses), "new addresses, same keys");
  });

  it("tells two records of one kind at one name apart by their order", () => {
    const txt = (text: string): DnsRecord => ({ name: "example.com", type: "TXT", text, ...at });
    assert.deepEqual(recordKeys([txt("v=spf1 -all"), txt("google-site-verification=a"), txt("v=spf1 mx -all"), txt("v=spf1 a -all")], addresses), [
      "TXT example.com v=spf1",
      "TXT example.com google-site-verification=a",
      "TXT example.com v=spf1 #2",
      "TXT example.com v=spf1 #3",
    ]);
  });

  it("refuses an address record that points at no host", () => {
    assert.throws(() => recordKeys([{ name: "x.example.com", type: "A", address: "203.0.113.9", host: "mx1", ...at }], addresses), /no host's address/);
  });
});

describe("the record plan", () => {
  const lab = labRecords();

  it("plans one resource per record the fleet publishes, by the same keys, from the topology alone", () => {
    const plan = recordPlan(lab.topology);
    assert.deepEqual(plan.map((p) => p.key), recordKeys(lab.set.records, lab.addresses));
    assert.deepEqual(
      plan.map(({ key: _, ...identity }) => identity),
      lab.set.records.map(({ name, zone, type, ttl, owner }) => ({ name, zone, type, ttl, owner })),
    );
  });

  it("plans the same keys whatever addresses a cloud gives later, IPv6 or not", () => {
    for (const ipv6 of [true, false]) {
      const topology = buildTopology(exampleSpec("dev", (raw) => (raw.ipv6 = ipv6)));
      const given: AddressBook = Object.fromEntries(
        topology.hosts.map((h, i) => [h.name, { ipv4: `198.51.100.${i + 1}`, privateIpv4: `10.77.0.${i + 10}`, ...(ipv6 ? { ipv6: `2001:db8:77::${i + 1}` } : {}) }]),
      );
      const { records } = buildRecordSet(topology, given, fakeDkim(topology.spec), fakeDane(topology));
      const plan = recordPlan(topology);
      assert.deepEqual(plan.map((p) => p.key), recordKeys(records, given), `ipv6 ${ipv6}`);
      assert.equal(plan.some((p) => p.type === "AAAA"), ipv6, `ipv6 ${ipv6}: AAAA records planned only with IPv6`);
    }
  });

  it("lines the real records up in the plan's order", () => {
    const plan = recordPlan(lab.topology);
    const shuffled = [...lab.set.records].reverse();
    assert.deepEqual(recordsAsPlanned(plan, shuffled, lab.addresses), lab.set.records);
  });

  it("refuses a record set that is not the plan, naming what is missing and what was not planned", () => {
    const plan = recordPlan(lab.topology);
    const withoutMx = lab.set.records.filter((r) => !(r.type === "MX" && r.exchange.startsWith("mx2.")));
    assert.throws(() => recordsAsPlanned(plan, withoutMx, lab.addresses), /missing MX fwd\.mail\.example\.com mx2\.mail\.example\.com, MX example\.com mx2\.mail\.example\.com, MX example\.org mx2\.mail\.example\.com; unplanned none/);
    const extra: DnsRecord = { name: "extra.example.com", type: "CNAME", target: "mail.mail.example.com", ...at };
    assert.throws(() => recordsAsPlanned(plan, [...lab.set.records, extra], lab.addresses), /missing none; unplanned CNAME extra\.example\.com/);
  });
});
