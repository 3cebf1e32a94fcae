/** Which zone a name lives in, forward and reverse. */
import ipaddr from "ipaddr.js";
import { oncePer } from "../memo";

/** Zone lists as sets, made once per list: a fleet looks up thousands of names in one list. */
const zoneSet = oncePer((zones: readonly string[]): ReadonlySet<string> => new Set(zones));

/** The spec.dnsZones entry with the longest suffix match for name, if any. */
export function findZone(zones: readonly string[], name: string): string | undefined {
  const listed = zoneSet(zones);
  // The name itself, then each parent: the first one listed is the longest match.
  for (let suffix = name; ; suffix = suffix.slice(suffix.indexOf(".") + 1)) {
    if (listed.has(suffix)) return suffix;
    if (!suffix.includes(".")) return undefined;
  }
}

/** The zone a record of the fleet goes to; config validation puts every fleet name in one. */
export function zoneOf(zones: readonly string[], name: string): string {
  const zone = findZone(zones, name);
  if (!zone) throw new Error(`${name} is in none of the DNS zones (${zones.join(", ")})`);
  return zone;
}

/** An address's labels under in-addr.arpa or ip6.arpa, most specific first: its octets or nibbles, reversed. */
export function reverseLabels(address: string): string[] {
  const bytes = ipaddr.parse(address).toByteArray();
  const labels = bytes.length === 4 ? bytes.map(String) : bytes.flatMap((b) => [b >> 4, b & 15].map((n) => n.toString(16)));
  return labels.reverse();
}

/** The reverse tree of a full label list: 4 octets are IPv4, 32 nibbles IPv6. */
const arpa = (labels: string[]) => (labels.length === 4 ? "in-addr.arpa" : "ip6.arpa");

/** The reverse zone an address belongs to: its IPv4 /24 or its IPv6 /64. */
export function reverseZone(address: string): string {
  const labels = reverseLabels(address);
  return `${labels.slice(labels.length === 4 ? 1 : 16).join(".")}.${arpa(labels)}`;
}

/** The name that asks a DNS list about an address: its reversed octets, or reversed nibbles for IPv6, under the zone (RFC 5782 §2.1, §2.4). */
export function dnsblQuery(address: string, zone: string): string {
  return `${reverseLabels(address).join(".")}.${zone}`;
}

/** The PTR owner name of an address (RFC 1035 §3.5, RFC 3596 §2.5). */
export function reverseName(address: string): string {
  const labels = reverseLabels(address);
  return `${labels.join(".")}.${arpa(labels)}`;
}
