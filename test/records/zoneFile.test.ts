/**
 * Zone files: hand-written expectations for the master-file details (Knot's own zone checker runs
 * on every forward and reverse zone in zoneFile.daemon.test.ts).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { reverseName, reverseZone, zoneFiles } from "../../components/records";
import { CLIENT, EXT, labZones } from "../../scripts/lab/peers";
import { EXT_DOMAIN } from "../../scripts/lab/plan";
import { lab } from "../support/labRecords";
import { delegatedZones } from "./zoneFile.fixtures";

describe("zone files", () => {
  // The lab stack with a TTL of its own (the lab's is a minute), so the lines below read plainly.
  const LAB = lab((raw) => (raw.dnsTtl = 300));
  const zones = zoneFiles(LAB.set, LAB.spec);

  it("one forward zone per DNS zone, reverse zones per IPv4 /24 and IPv6 /64", () => {
    assert.deepEqual(
      zones.map((z) => `${z.kind} ${z.origin}`),
      ["forward example.com", "forward example.org", "reverse 2.0.192.in-addr.arpa", "reverse 1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"],
    );
  });

  it("SOA, NS and in-zone nameserver addresses, absolute names", () => {
    const lines = zones[0].content.split("\n");
    assert.ok(lines.includes("$ORIGIN example.com."));
    assert.ok(lines.includes("$TTL 300"));
    assert.ok(lines.includes("example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 1 3600 900 1209600 300"));
    assert.ok(lines.includes("example.com. 300 IN NS ns1.example.com."));
    assert.ok(lines.includes("ns1.example.com. 300 IN A 192.0.2.53"));
    assert.ok(lines.includes("ns1.example.com. 300 IN AAAA 2001:db8:0:1::53"));
    assert.ok(lines.includes("example.com. 300 IN MX 10 mx1.mail.example.com."));
    assert.ok(lines.includes("_imap._tcp.example.com. 300 IN SRV 0 0 0 ."));
    // The nameserver is not inside example.org: no address there, only its NS.
    assert.ok(!zones[1].content.includes("ns1.example.com. 300 IN A"));
    assert.ok(zones[1].content.includes("example.org. 300 IN NS ns1.example.com."));
  });

  it("PTR owner names (RFC 1035 §3.5, RFC 3596 §2.5)", () => {
    assert.equal(reverseName("192.0.2.21"), "21.2.0.192.in-addr.arpa");
    assert.equal(reverseZone("198.51.100.7"), "100.51.198.in-addr.arpa");
    assert.equal(reverseName("2001:db8:0:1::21"), "1.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    assert.equal(reverseZone("2001:db8::1"), "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    assert.equal(reverseName("::ffff:192.0.2.1"), "1.0.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa");
    const v6 = zones.find((z) => z.origin.endsWith("ip6.arpa"))!;
    assert.ok(v6.content.includes("1.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 300 IN PTR out1.mail.example.com."));
  });

  it("TXT: quoted strings of at most 255 bytes, with \" and \\ escaped", () => {
    const set = { ...LAB.set, records: [...LAB.set.records, { name: "quoted.example.com", zone: "example.com", ttl: 300, owner: { domain: "example.com" }, type: "TXT" as const, text: `a"b\\c${"x".repeat(300)}` }] };
    const line = zoneFiles(set, LAB.spec)[0].content.split("\n").find((l) => l.startsWith("quoted.example.com."))!;
    assert.equal(line, `quoted.example.com. 300 IN TXT "a\\"b\\\\c${"x".repeat(250)}" "${"x".repeat(50)}"`);
  });

  it("a hostmaster with a dot in the local part keeps it escaped in the SOA RNAME", () => {
    const spec = { ...LAB.spec, zone: { ...LAB.spec.zone!, hostmaster: "dns.admin@example.org" } };
    assert.ok(zoneFiles(LAB.set, spec)[0].content.includes(" IN SOA ns1.example.com. dns\\.admin.example.org. 1 "));
  });

  it("without mailfleet:zone there is nothing to write and the error says so", () => {
    assert.throws(() => zoneFiles(LAB.set, { ...LAB.spec, zone: undefined }), /zone files need mailfleet:zone/);
  });

  it("a zone below another is delegated, with glue for a nameserver inside it", () => {
    const zs = delegatedZones();
    const parent = zs.find((z) => z.origin === "example.com")!.content.split("\n");
    assert.ok(parent.includes("mail.example.com. 300 IN NS ns1.mail.example.com."));
    assert.ok(parent.includes("mail.example.com. 300 IN NS ns2.example.net."));
    assert.ok(parent.includes("ns1.mail.example.com. 300 IN A 192.0.2.53"), "glue");
    assert.ok(!parent.some((l) => l.startsWith("mx1.mail.example.com.")), "the child's records live in the child");
  });
});

describe("the lab's peer zones (scripts/lab/peers.ts), through the same writer", () => {
  const ns = { name: "ns1.example.com", ipv4: "192.0.2.53", ipv6: "2001:db8:0:1::53" };
  const zones = labZones(ns);

  it("example.net with its MX, SPF and hosts, and a reverse zone per peer address, every PTR naming its host", () => {
    assert.deepEqual(zones.map((z) => z.origin), [EXT_DOMAIN, ...[CLIENT.ipv4, CLIENT.ipv6, EXT.ipv4, EXT.ipv6].map(reverseZone)]);
    const forward = zones[0].content.split("\n");
    assert.ok(forward.includes(`${EXT_DOMAIN}. 300 IN MX 10 ${EXT.fqdn}.`));
    assert.ok(forward.includes(`${EXT_DOMAIN}. 300 IN TXT "v=spf1 a:${CLIENT.fqdn} a:${EXT.fqdn} -all"`));
    assert.ok(forward.includes(`${EXT_DOMAIN}. 300 IN NS ${ns.name}.`));
    for (const host of [CLIENT, EXT]) {
      assert.ok(forward.includes(`${host.fqdn}. 300 IN A ${host.ipv4}`) && forward.includes(`${host.fqdn}. 300 IN AAAA ${host.ipv6}`));
      for (const address of [host.ipv4, host.ipv6]) {
        const zone = zones.find((z) => z.origin === reverseZone(address))!;
        assert.ok(zone.content.includes(`${reverseName(address)}. 300 IN PTR ${host.fqdn}.`), address);
      }
    }
  });
});
