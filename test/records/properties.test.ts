/**
 * Properties of the record set over generated fleets (fast-check): any number of hosts per role,
 * any set of hosted domains, IPv6 on or off, a few host labels that collide with service names.
 * Each property is one the DNS backends rely on: Cloudflare's resource names come from record keys,
 * a sending host needs forward-confirmed reverse DNS, a CNAME name holds no other data.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConfigError, parseFleetConfig, readStackConfig } from "../../components/config";
import { FleetSpec } from "../../components/config/spec";
import { recordKeys } from "../../components/dns/plan";
import { buildRecordSet, DnsRecord, RecordSet } from "../../components/records";
import { buildTopology } from "../../components/topology";
import { AddressBook } from "../../components/topology/addresses";
import { fakeDkim } from "../support/labRecords";

/** The lab stack's raw config, decrypted once (its passphrase costs a second per read). */
const LAB_RAW = readStackConfig("lab", { passphrase: "mailfleet-lab" }).raw as Record<string, any>;
const HASH: string = LAB_RAW.mailboxes[0].passwordHash;
/** Besides example.com (the admin's domain, whose zone holds the server names), any of these may be hosted. */
const EXTRA_DOMAINS = ["example.org", "example.net", "shop.example", "news.example"];
const ROLE_BASE = { edge: 10, outbound: 20, store: 30 } as const;
const ROLE_PREFIX = { edge: "mx", outbound: "out", store: "store" } as const;

interface Fleet {
  hosts: { edge: number; outbound: number; store: number };
  domains: string[];
  ipv6: boolean;
  serverDomain: string;
  /** A label for the first edge host instead of mx1 (some collide with service names). */
  edgeLabel?: string;
}

const fleetArb: fc.Arbitrary<Fleet> = fc.record(
  {
    hosts: fc.record({ edge: fc.integer({ min: 1, max: 5 }), outbound: fc.integer({ min: 1, max: 3 }), store: fc.integer({ min: 1, max: 3 }) }),
    domains: fc.subarray(EXTRA_DOMAINS),
    ipv6: fc.boolean(),
    serverDomain: fc.constantFrom("mail.example.com", "example.com", "mx.example.com"),
    edgeLabel: fc.constantFrom("mta-sts", "autoconfig", "autodiscover", "mail", "imap", "smtp", "edge-a"),
  },
  { requiredKeys: ["hosts", "domains", "ipv6", "serverDomain"] },
);

function hostsOf(f: Fleet, role: keyof Fleet["hosts"]) {
  return Array.from({ length: f.hosts[role] }, (_, i) => {
    const n = ROLE_BASE[role] + i + 1;
    const name = role === "edge" && i === 0 && f.edgeLabel ? f.edgeLabel : `${ROLE_PREFIX[role]}${i + 1}`;
    return { name, ipv4: `192.0.2.${n}`, ...(f.ipv6 ? { ipv6: `2001:db8:0:1::${n}` } : {}) };
  });
}

/** The lab stack with the generated hosts and domains: one mailbox per extra domain, reports to alice. */
function rawOf(f: Fleet): Record<string, unknown> {
  const domains = ["example.com", ...f.domains];
  return {
    ...structuredClone(LAB_RAW),
    serverDomain: f.serverDomain,
    domains,
    dnsZones: domains,
    ipv6: String(f.ipv6),
    hosts: { edge: hostsOf(f, "edge"), outbound: hostsOf(f, "outbound"), store: hostsOf(f, "store") },
    zone: { nameservers: [{ name: "ns1.example.com", ipv4: "192.0.2.53", ...(f.ipv6 ? { ipv6: "2001:db8:0:1::53" } : {}) }] },
    mailboxes: [
      { address: "alice@example.com", passwordHash: HASH, store: "store1" },
      ...f.domains.map((d, i) => ({ address: `user@${d}`, passwordHash: HASH, store: `store${(i % f.hosts.store) + 1}` })),
    ],
    aliases: { "dmarc-reports@example.com": "alice@example.com", "tls-reports@example.com": "alice@example.com" },
    catchAll: {},
  };
}

interface Built {
  spec: FleetSpec;
  addresses: AddressBook;
  set: RecordSet;
}

/** buildRecordSet's refusal of a host named like a per-domain CNAME (the config lets that label through). */
const CNAME_CLASH = /would be a CNAME and also have .* records; rename the host that uses this label/;

/** The record set of a generated fleet, or undefined when it is refused: by the config, or by the CNAME check. */
function build(f: Fleet): Built | undefined {
  try {
    const spec = parseFleetConfig(rawOf(f));
    const addresses: AddressBook = Object.fromEntries(buildTopology(spec).hosts.map((h) => [h.name, { ipv4: h.ipv4!, ...(h.ipv6 ? { ipv6: h.ipv6 } : {}) }]));
    return { spec, addresses, set: buildRecordSet(buildTopology(spec), addresses, fakeDkim(spec)) };
  } catch (error) {
    if (error instanceof ConfigError || CNAME_CLASH.test(String(error))) return undefined;
    throw error;
  }
}

/** Fleets that build (a label that collides with a per-domain CNAME is refused, see the CNAME property). */
const accepted = (f: Fleet): Built => {
  const built = build(f);
  fc.pre(built !== undefined);
  return built!;
};

const RUNS = { numRuns: 60 };

describe("record set properties", () => {
  it("adding a host never renames an existing record's key", () => {
    fc.assert(
      fc.property(fleetArb, fc.constantFrom("edge", "outbound", "store") as fc.Arbitrary<keyof Fleet["hosts"]>, (f, role) => {
        const before = accepted(f);
        const after = build({ ...f, hosts: { ...f.hosts, [role]: f.hosts[role] + 1 } });
        assert.ok(after, "one more host is still a valid fleet");
        const had = recordKeys(before.set.records, before.addresses);
        const has = new Set(recordKeys(after.set.records, after.addresses));
        assert.deepEqual(had.filter((k) => !has.has(k)), [], `keys gone after adding a ${role} host`);
      }),
      RUNS,
    );
  });

  it("every PTR round-trips to an A/AAAA record of its name with its address", () => {
    fc.assert(
      fc.property(fleetArb, (f) => {
        const { set, spec } = accepted(f);
        assert.ok(set.ptr.length > 0);
        for (const p of set.ptr) {
          const type = p.address.includes(":") ? "AAAA" : "A";
          assert.ok(
            set.records.some((r) => r.name === p.name && r.type === type && r.address === p.address),
            `${p.address} -> ${p.name} has no ${type} ${p.name} -> ${p.address}`,
          );
        }
        // Every address of a sending host has its PTR: receivers check FCrDNS on whatever address the host sends from.
        const ptrAddresses = new Set(set.ptr.map((p) => p.address));
        for (const h of buildTopology(spec).hosts.filter((h) => h.role !== "store")) {
          for (const a of [h.ipv4!, ...(h.ipv6 ? [h.ipv6] : [])]) assert.ok(ptrAddresses.has(a), `${h.name} ${a} has a PTR`);
        }
      }),
      RUNS,
    );
  });

  it("no CNAME shares its name with another record; a host label that would is refused", () => {
    let refused = 0;
    fc.assert(
      fc.property(fleetArb, (f) => {
        const built = build(f);
        if (!built) {
          refused++;
          return;
        }
        const byName = new Map<string, DnsRecord[]>();
        for (const r of built.set.records) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
        for (const r of built.set.records.filter((r) => r.type === "CNAME")) {
          assert.deepEqual(byName.get(r.name)!.map((o) => o.type), ["CNAME"], `${r.name}: a CNAME and more`);
        }
      }),
      { ...RUNS, numRuns: 150 },
    );
    assert.ok(refused > 0, "some generated labels collide with service names and are refused");
  });

  it("removing a domain removes every record of it and changes no other", () => {
    fc.assert(
      fc.property(fleetArb.filter((f) => f.domains.length > 0), fc.nat(), (f, pick) => {
        const gone = f.domains[pick % f.domains.length];
        const before = accepted(f);
        const after = build({ ...f, domains: f.domains.filter((d) => d !== gone) });
        assert.ok(after, `the fleet without ${gone} is still valid`);
        // A record of the domain: at it or under it, or the DMARC report authorization naming it (RFC 7489 §7.1).
        const ofGone = (r: DnsRecord) => r.name === gone || r.name.endsWith(`.${gone}`) || r.name.startsWith(`${gone}._report._dmarc.`);
        const text = (records: DnsRecord[]) => records.map((r) => JSON.stringify(r)).sort();
        assert.deepEqual(text(after.set.records), text(before.set.records.filter((r) => !ofGone(r))));
        assert.ok(before.set.records.some(ofGone), `${gone} had records`);
      }),
      RUNS,
    );
  });
});
