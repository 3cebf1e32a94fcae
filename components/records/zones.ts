/** Which zone a name lives in, forward and reverse. */

/** The spec.dnsZones entry with the longest suffix match for name, if any. */
export function findZone(zones: readonly string[], name: string): string | undefined {
  const matches = zones.filter((z) => name === z || name.endsWith(`.${z}`));
  return matches.length === 0 ? undefined : matches.reduce((a, b) => (b.length > a.length ? b : a));
}

/** The zone a record of the fleet goes to; config validation puts every fleet name in one. */
export function zoneOf(zones: readonly string[], name: string): string {
  const zone = findZone(zones, name);
  if (!zone) throw new Error(`${name} is in none of the DNS zones (${zones.join(", ")})`);
  return zone;
}

/** The 32 hex nibbles of an IPv6 address. */
function ipv6Nibbles(address: string): string[] {
  let text = address.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    text = text.slice(0, v4.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  if (groups.length !== 8) throw new Error(`not an IPv6 address: ${address}`);
  return groups.flatMap((g) => g.padStart(4, "0").split(""));
}

/** The reverse zone an address belongs to: its IPv4 /24 or its IPv6 /64. */
export function reverseZone(address: string): string {
  if (address.includes(":")) return `${ipv6Nibbles(address).slice(0, 16).reverse().join(".")}.ip6.arpa`;
  return `${address.split(".").slice(0, 3).reverse().join(".")}.in-addr.arpa`;
}

/** The PTR owner name of an address (RFC 1035 §3.5, RFC 3596 §2.5). */
export function reverseName(address: string): string {
  if (address.includes(":")) return `${ipv6Nibbles(address).reverse().join(".")}.ip6.arpa`;
  return `${address.split(".").reverse().join(".")}.in-addr.arpa`;
}
