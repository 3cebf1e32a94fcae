/**
 * One DNS resource per record needs a name for each record that is known before the addresses
 * and keys are (the resource graph is fixed before any Output resolves) and that stays the same
 * when the fleet changes around it (a new host must not rename, and so re-create, every record).
 * A record's key says what it is, never what it holds: an address record is named for the host
 * it points at, a TXT record for its kind (`v=spf1`, `v=DKIM1` …).
 */
import { pinnedGenerations, publishedKeyNames } from "../keys/material";
import { buildRecordSet, DnsRecord } from "../records";
import { hostsOf, Topology } from "../topology";
import { AddressBook, standInAddresses } from "../topology/addresses";

export function recordKeys(records: readonly DnsRecord[], addresses: AddressBook): string[] {
  const keys = records.map((r) => {
    switch (r.type) {
      case "A":
      case "AAAA": {
        // The record names its host; an address that is not that host's would publish the wrong one.
        const a = addresses[r.host];
        if (!a || (r.type === "A" ? a.ipv4 : a.ipv6) !== r.address) {
          throw new Error(`${r.type} ${r.name} points at ${r.address}, which is no host's address (the record names ${r.host})`);
        }
        return `${r.type} ${r.name} ${r.host}`;
      }
      case "MX":
        return `MX ${r.name} ${r.exchange}`;
      case "SRV":
        return `SRV ${r.name} ${r.target}`;
      case "CNAME":
        return `CNAME ${r.name}`;
      case "TXT":
        return `TXT ${r.name} ${r.text.split(/[ ;]/)[0]}`;
      case "TLSA":
        // One resource per key: a rollover adds the next key's record and deletes the oldest one.
        return `TLSA ${r.name} ${r.generation}`;
    }
  });
  // Two records of one kind at one name (never made today) are told apart by their order.
  const seen = new Map<string, number>();
  return keys.map((k) => {
    const before = seen.get(k) ?? 0;
    seen.set(k, before + 1);
    return before === 0 ? k : `${k} #${before + 1}`;
  });
}

/** A resource name from a record key: `dns-MX-example.com-mx1.mail.example.com`. */
export function recordResourceName(key: string): string {
  return `dns-${key.replace(/ /g, "-")}`;
}

/** What a record is, known before what it holds: one DNS resource each. */
export type PlannedRecord = Pick<DnsRecord, "name" | "zone" | "type" | "ttl" | "owner"> & { key: string };

/**
 * The records a fleet publishes, by key, from its topology alone: which records exist never
 * depends on the addresses (placeHosts gives every host IPv6 when ipv6 is on and none when it is
 * off) nor on the DKIM keys, so stand-ins fill what the keys never read. Made once per fleet, for
 * the DNS backend's resources.
 */
export function recordPlan(topology: Topology): PlannedRecord[] {
  const { spec } = topology;
  const addresses = standInAddresses(topology);
  const dkim = publishedKeyNames(spec).map((name) => ({ ...name, publicKey: "planned" }));
  const dane = spec.dnssec ? hostsOf(topology, "edge").flatMap((h) => pinnedGenerations(spec).map((generation) => ({ host: h.name, generation, spkiSha256: "planned" }))) : [];
  const { records } = buildRecordSet(topology, addresses, dkim, dane);
  const keys = recordKeys(records, addresses);
  return records.map(({ name, zone, type, ttl, owner }, i) => ({ key: keys[i], name, zone, type, ttl, owner }));
}

/**
 * The real records in the plan's order. A record set that is not the plan exactly is refused:
 * a record would be published without a resource, or a resource left without a record.
 */
export function recordsAsPlanned(plan: readonly PlannedRecord[], records: readonly DnsRecord[], addresses: AddressBook): DnsRecord[] {
  const keys = recordKeys(records, addresses);
  const byKey = new Map(keys.map((k, i) => [k, records[i]]));
  const missing = plan.filter((p) => !byKey.has(p.key)).map((p) => p.key);
  const planned = new Set(plan.map((p) => p.key));
  const extra = keys.filter((k) => !planned.has(k));
  if (missing.length || extra.length) {
    throw new Error(`the record set differs from its plan: missing ${missing.join(", ") || "none"}; unplanned ${extra.join(", ") || "none"}`);
  }
  return plan.map((p) => byKey.get(p.key)!);
}
