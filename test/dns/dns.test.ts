/**
 * The DNS backends' pure parts: a record as Cloudflare's arguments (RFC 1035 TXT strings, MX
 * preference, RFC 2782 SRV fields), and the record keys that name one resource per record.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cloudflareRecordArgs, cloudflareTxtContent } from "../../components/dns/cloudflare";
import { recordKeys } from "../../components/dns/plan";
import { DnsRecord } from "../../components/records";

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

  it("refuses an address record that points at no host", () => {
    assert.throws(() => recordKeys([{ name: "x.example.com", type: "A", address: "203.0.113.9", host: "mx1", ...at }], addresses), /no host's address/);
  });
});
