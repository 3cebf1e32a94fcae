/** The DNS record set: one source of truth for the Cloudflare backend and the zone files. */

/** What a record says, apart from where it lives. */
export type RecordData =
  /** `host`: whose address it is (AddressBook key), kept from where the record is made. */
  | { type: "A" | "AAAA"; address: string; host: string }
  | { type: "MX"; priority: number; exchange: string }
  /** One logical string; writers split it into <=255-byte character-strings (txtStrings). */
  | { type: "TXT"; text: string }
  | { type: "CNAME"; target: string }
  /** target "." = the service is decidedly not offered (RFC 2782, RFC 6186 §4). */
  | { type: "SRV"; priority: number; weight: number; port: number; target: string }
  /**
   * DANE (RFC 6698, RFC 7672): usage 3 DANE-EE, selector 1 SPKI, matching 1 SHA-256 of the server's key.
   * `generation`: which of the MX's DANE keys it pins (not published; names the record's resource).
   */
  | { type: "TLSA"; usage: 3; selector: 1; matchingType: 1; digest: string; generation: number };

/**
 * What a record is made for: a host's own name (its addresses and HELO SPF: what the host's PTR
 * waits for), or a domain (a hosted domain's records, the server domain's service names).
 */
export type RecordOwner = { host: string } | { domain: string };

/** One record. `name` is an FQDN without the trailing dot; `zone` is the spec.dnsZones entry it belongs to. */
export type DnsRecord = { name: string; zone: string; ttl: number; owner: RecordOwner } & RecordData;

/** A reverse DNS wish: `address` should resolve back to the host's name (FCrDNS for sending hosts). */
export interface PtrRecord {
  address: string;
  /** The host's FQDN. */
  name: string;
  /** The host's label (AddressBook key). */
  host: string;
}

export interface RecordSet {
  records: DnsRecord[];
  ptr: PtrRecord[];
  /** The policy file served at https://mta-sts.<domain>/.well-known/mta-sts.txt and its TXT id. */
  mtaSts: { policy: string; id: string };
}
