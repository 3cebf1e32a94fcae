/**
 * RFC 1035 master files for the `zone` DNS backend: one forward zone per spec.dnsZones entry and
 * reverse zones (IPv4 per /24, IPv6 per /64) holding the PTR wishes, for an authoritative server
 * the operator runs (render/knot.ts renderKnotServer) or any other that reads master files.
 */
import { FleetSpec, NameserverSpec, ZONE_EXPIRE_SECONDS, ZoneBackendSpec } from "../config/spec";
import { txtStrings } from "./txt";
import { findZone, reverseName, reverseZone } from "./zones";
import { DnsRecord, RecordSet } from "./types";

export interface ZoneFile {
  /** The zone's name, no trailing dot (example.com, 2.0.192.in-addr.arpa). */
  origin: string;
  kind: "forward" | "reverse";
  content: string;
}

/** SOA timers. Refresh/retry matter only to secondaries; expire (ZONE_EXPIRE_SECONDS) is long so they ride out an outage of the primary. */
const SOA_REFRESH = 3600;
const SOA_RETRY = 900;

/** What zone files are written from besides the records: the zones, their TTL and the nameservers (the fleet's spec, or the lab's peer zones). */
export type ZoneSettings = Pick<FleetSpec, "dnsZones" | "dnsTtl" | "ipv6" | "zone">;

export function zoneBackend(spec: Pick<FleetSpec, "zone">): ZoneBackendSpec {
  if (!spec.zone) throw new Error("zone files need mailfleet:zone (nameservers and hostmaster); set zone.nameservers in the stack config");
  return spec.zone;
}

export function zoneFiles(set: Pick<RecordSet, "records" | "ptr">, spec: ZoneSettings): ZoneFile[] {
  const backend = zoneBackend(spec);
  // Grouped in one pass: a filter per zone would be zones × records.
  const recordsByZone = Map.groupBy(set.records, (r) => r.zone);
  const forward = spec.dnsZones.map((origin): ZoneFile => {
    const lines = [
      ...apex(origin, backend, spec),
      ...nameserverAddresses(origin, backend, spec),
      ...delegations(origin, backend, spec),
      ...(recordsByZone.get(origin) ?? []).map(recordLine),
    ];
    return { origin, kind: "forward", content: master(origin, spec.dnsTtl, lines) };
  });

  const reverse = [...Map.groupBy(set.ptr, (p) => reverseZone(p.address))].map(([origin, ptrs]): ZoneFile => {
    const lines = [...apex(origin, backend, spec), ...ptrs.map((p) => line(reverseName(p.address), spec.dnsTtl, "PTR", absolute(p.name)))];
    return { origin, kind: "reverse", content: master(origin, spec.dnsTtl, lines) };
  });
  return [...forward, ...reverse];
}

function master(origin: string, ttl: number, lines: string[]): string {
  return [
    "; Rendered by mailfleet from its DNS record set; edits here are overwritten by the next push.",
    "; The SOA serial stays 1: it is served only on the server's first load, after which the",
    "; server numbers each changed version itself (Knot: zonefile-load difference-no-serial),",
    "; so a re-render never has to know or guess the serial being served.",
    `$ORIGIN ${absolute(origin)}`,
    `$TTL ${ttl}`,
    ...lines,
    "",
  ].join("\n");
}

function apex(origin: string, backend: ZoneBackendSpec, spec: ZoneSettings): string[] {
  // The SOA minimum is the negative-caching TTL (RFC 2308 §4): kept at the record TTL so a newly
  // added name (another MX) is not cached as nonexistent for longer than a change takes anyway.
  const soa = `${absolute(backend.nameservers[0].name)} ${mailboxName(backend.hostmaster)} 1 ${SOA_REFRESH} ${SOA_RETRY} ${ZONE_EXPIRE_SECONDS} ${spec.dnsTtl}`;
  return [line(origin, spec.dnsTtl, "SOA", soa), ...nsRecords(origin, backend, spec)];
}

function nsRecords(owner: string, backend: ZoneBackendSpec, spec: ZoneSettings): string[] {
  return backend.nameservers.map((ns) => line(owner, spec.dnsTtl, "NS", absolute(ns.name)));
}

function nsAddressLines(ns: NameserverSpec, spec: ZoneSettings): string[] {
  return [
    line(ns.name, spec.dnsTtl, "A", ns.ipv4),
    ...(spec.ipv6 && ns.ipv6 ? [line(ns.name, spec.dnsTtl, "AAAA", ns.ipv6)] : []),
  ];
}

/** Addresses of the nameservers named inside this zone: without them the NS records cannot be followed. */
function nameserverAddresses(origin: string, backend: ZoneBackendSpec, spec: ZoneSettings): string[] {
  return backend.nameservers.filter((ns) => findZone(spec.dnsZones, ns.name) === origin).flatMap((ns) => nsAddressLines(ns, spec));
}

/**
 * A zone in spec.dnsZones below another one (mail.example.com under example.com) must be
 * delegated from its parent, or resolvers that ask the parent's servers get NXDOMAIN for it;
 * a nameserver named inside the child needs glue in the parent.
 */
function delegations(origin: string, backend: ZoneBackendSpec, spec: ZoneSettings): string[] {
  const children = spec.dnsZones.filter((z) => z.endsWith(`.${origin}`) && findZone(spec.dnsZones, z.slice(z.indexOf(".") + 1)) === origin);
  return children.flatMap((child) => [
    ...nsRecords(child, backend, spec),
    ...backend.nameservers.filter((ns) => ns.name === child || ns.name.endsWith(`.${child}`)).flatMap((ns) => nsAddressLines(ns, spec)),
  ]);
}

/** One record as a master-file line with absolute names (also how the offline plan lists records). */
export function recordLine(r: DnsRecord): string {
  return line(r.name, r.ttl, r.type, rdata(r));
}

function line(owner: string, ttl: number, type: string, data: string): string {
  return `${absolute(owner)} ${ttl} IN ${type} ${data}`;
}

function absolute(name: string): string {
  return name === "." ? "." : `${name}.`;
}

function rdata(r: DnsRecord): string {
  switch (r.type) {
    case "A":
    case "AAAA":
      return r.address;
    case "MX":
      return `${r.priority} ${absolute(r.exchange)}`;
    case "TXT":
      return txtStrings(r.text).map(quoted).join(" ");
    case "CNAME":
      return absolute(r.target);
    case "SRV":
      return `${r.priority} ${r.weight} ${r.port} ${absolute(r.target)}`;
    case "TLSA":
      return `${r.usage} ${r.selector} ${r.matchingType} ${r.digest.toUpperCase()}`;
  }
}

/** RFC 1035 §5.1 character-string: `"` and `\` escaped, bytes outside printable ASCII as \DDD. */
function quoted(s: string): string {
  let out = "";
  for (const byte of Buffer.from(s)) {
    const c = String.fromCharCode(byte);
    if (c === '"' || c === "\\") out += `\\${c}`;
    else if (byte < 0x20 || byte > 0x7e) out += `\\${byte.toString().padStart(3, "0")}`;
    else out += c;
  }
  return `"${out}"`;
}

/** SOA RNAME (RFC 1035 §8): the mailbox's `@` becomes a dot, so dots in the local part are escaped. */
function mailboxName(address: string): string {
  const at = address.lastIndexOf("@");
  return `${address.slice(0, at).replaceAll(".", "\\.")}.${absolute(address.slice(at + 1))}`;
}
