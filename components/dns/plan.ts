/**
 * One DNS resource per record needs a name for each record that is known before the addresses
 * and keys are (the resource graph is fixed before any Output resolves) and that stays the same
 * when the fleet changes around it (a new host must not rename, and so re-create, every record).
 * A record's key says what it is, never what it holds: an address record is named for the host
 * it points at, a TXT record for its kind (`v=spf1`, `v=DKIM1` …).
 */
import { DnsRecord } from "../records";
import { AddressBook } from "../topology/addresses";

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
    }
  });
  // Two records of one kind at one name (never made today) are told apart by their order.
  return keys.map((k, i) => {
    const before = keys.slice(0, i).filter((x) => x === k).length;
    return before === 0 ? k : `${k} #${before + 1}`;
  });
}

/** A resource name from a record key: `dns-MX-example.com-mx1.mail.example.com`. */
export function recordResourceName(key: string): string {
  return `dns-${key.replace(/ /g, "-")}`;
}
