/**
 * The lab's own test peers, pure: the DNS data of the foreign domain (example.net with its MX
 * host `ext` and the user's machine `client`, their reverse zones) served by dns1 beside the
 * fleet's zones, and the configs of ext's and client's Postfix and ext's rspamd. None of this
 * is fleet config: the fleet's hosts get only what the project renders.
 */
import { NameserverSpec } from "../../components/config/spec";
import { DnsRecord, RecordData, RecordOwner, ZoneFile, zoneFiles } from "../../components/records";
import { KNOT_CONF, knotZoneFile, knotZoneSection } from "../../components/render/knot";
import { file, RenderedFile } from "../../components/render/file";
import { EXT_DOMAIN, LAB_PEERS, LabHost } from "./plan";

const peer = (name: string): LabHost => LAB_PEERS.find((h) => h.name === name)!;
export const CLIENT = peer("client");
export const EXT = peer("ext");
export const ACME = peer("acme");
export const BACKUP = peer("backup");
export const RBL = peer("rbl");
/** The lab's DNS blocklist and allowlist zones, served by rbldnsd on RBL (scripts/lab/rbl.ts). */
export const RBL_ZONES = { block: "bl.example.net", allow: "wl.example.net" } as const;
/** The mailbox on ext that outbound tests write to: a Unix user, Maildir in its home. */
export const EXT_USER = "bob";

/** The TTL of the lab's peer zones. */
const PEER_TTL = 300;

/** The lab's peer zones (example.net and the reverse zones of client and ext), written by the project's own zone writer. */
export function labZones(nameserver: NameserverSpec): ZoneFile[] {
  const hosts = [CLIENT, EXT, ACME, BACKUP, RBL];
  const record = (name: string, data: RecordData, owner: RecordOwner = { domain: EXT_DOMAIN }): DnsRecord => ({
    name,
    zone: EXT_DOMAIN,
    ttl: PEER_TTL,
    owner,
    ...data,
  });
  const records = [
    record(EXT_DOMAIN, { type: "MX", priority: 10, exchange: EXT.fqdn }),
    // Mail the client sends as example.net passes SPF at the fleet's edge, like a real sender's.
    record(EXT_DOMAIN, { type: "TXT", text: `v=spf1 a:${CLIENT.fqdn} a:${EXT.fqdn} -all` }),
    ...hosts.flatMap((h) => [
      record(h.fqdn, { type: "A", address: h.ipv4, host: h.name }, { host: h.name }),
      record(h.fqdn, { type: "AAAA", address: h.ipv6, host: h.name }, { host: h.name }),
    ]),
  ];
  const ptr = hosts.flatMap((h) => [h.ipv4, h.ipv6].map((address) => ({ address, name: h.fqdn, host: h.name })));
  const zone = { nameservers: [nameserver], hostmaster: `hostmaster@${EXT_DOMAIN}` };
  return zoneFiles({ records, ptr }, { dnsZones: [EXT_DOMAIN], dnsTtl: PEER_TTL, ipv6: true, zone });
}

/**
 * dns1's bundle: the project's Knot server files, plus the lab zones appended to knot.conf as a
 * second `zone:` section (Knot reads repeated sections as one list) and their zone files.
 */
export function labDnsFiles(dnsServerFiles: RenderedFile[], dns1: Pick<LabHost, "fqdn" | "ipv4" | "ipv6">): RenderedFile[] {
  const zones = labZones({ name: dns1.fqdn, ipv4: dns1.ipv4, ipv6: dns1.ipv6 });
  const conf = dnsServerFiles.find((f) => f.path === KNOT_CONF);
  if (!conf) throw new Error(`the project's DNS server files have no ${KNOT_CONF}`);
  const extra = [
    "",
    "# mailfleet lab: zones of the lab's own peers (a foreign domain, the reverse DNS of its hosts).",
    ...knotZoneSection(zones.map((z) => z.origin)),
    "",
  ].join("\n");
  return [
    ...dnsServerFiles.map((f) => (f === conf ? { ...f, content: `${f.content.trimEnd()}\n${extra}` } : f)),
    ...zones.map((z) => knotZoneFile(z.origin, z.content)),
  ];
}

/** ext's Postfix: a strict foreign receiver for example.net that has every message judged by its rspamd. */
export function extPostfixMainCf(): string {
  return [
    "# The lab's foreign mail server (not fleet config).",
    "compatibility_level = 3.6",
    `myhostname = ${EXT.fqdn}`,
    `mydomain = ${EXT_DOMAIN}`,
    `myorigin = ${EXT_DOMAIN}`,
    `mydestination = ${EXT_DOMAIN}, localhost`,
    "inet_interfaces = all",
    "inet_protocols = all",
    "mynetworks = 127.0.0.0/8 [::1]/128",
    "alias_maps =",
    "alias_database =",
    "home_mailbox = Maildir/",
    "smtpd_helo_required = yes",
    // Like a strict receiver: a client without forward-confirmed reverse DNS is turned away.
    "smtpd_client_restrictions = reject_unknown_client_hostname",
    "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination",
    "smtpd_milters = inet:127.0.0.1:11332",
    "milter_default_action = tempfail",
    "maillog_file = /var/log/postfix.log",
    "",
  ].join("\n");
}

/** client's Postfix: a user's machine that sends by MX lookup (Postfix picks among equal-priority MX at random). */
export function clientPostfixMainCf(): string {
  return [
    "# The lab's user machine (not fleet config): sends straight to the MX of the recipient's domain.",
    "compatibility_level = 3.6",
    `myhostname = ${CLIENT.fqdn}`,
    `myorigin = ${EXT_DOMAIN}`,
    "mydestination =",
    "inet_interfaces = loopback-only",
    "inet_protocols = all",
    "alias_maps =",
    "alias_database =",
    "smtp_tls_security_level = may",
    // A stopped MX must make the next one take the message at once, not after a 30 s timeout.
    "smtp_connect_timeout = 5s",
    "maillog_file = /var/log/postfix.log",
    "",
  ].join("\n");
}

/**
 * A lab resolver: the caching recursive resolver of a user's machine (client) or of an edge (which
 * the README tells operators to give the edges, for blocklists), unbound on 127.0.0.1, asking the
 * lab's nameserver for each of the zones it serves (the lab has no root) and rbldnsd on RBL for the
 * list zones, so CNAMEs into another zone resolve (mta-sts.example.org -> mta-sts.<serverDomain>) as
 * they do on the Internet. No cache, no DNSSEC: a test sees every change at once (a listing too),
 * and the lab's zones are unsigned.
 */
export function labUnboundConf(nameserver: string, zones: string[]): string {
  const stubs: [string, string][] = [...zones.map((zone): [string, string] => [zone, nameserver]), ...Object.values(RBL_ZONES).map((zone): [string, string] => [zone, RBL.ipv4])];
  return [
    "# A lab resolver (not fleet config).",
    "server:",
    "  interface: 127.0.0.1",
    "  interface: ::1",
    "  do-daemonize: yes",
    "  username: unbound",
    '  chroot: ""',
    '  module-config: "iterator"',
    "  cache-max-ttl: 0",
    "  cache-max-negative-ttl: 0",
    "  # The lab's documentation ranges are its Internet: answers there are not rebinding.",
    "  do-not-query-localhost: no",
    // unbound answers the documentation ranges' reverse zones itself (RFC 6303; 2001:db8::/32 as a whole) unless told not to.
    ...[...zones, "8.b.d.0.1.0.0.2.ip6.arpa"].map((zone) => `  local-zone: "${zone}" nodefault`),
    ...stubs.flatMap(([zone, address]) => ["stub-zone:", `  name: "${zone}"`, `  stub-addr: ${address}`]),
    "",
  ].join("\n");
}

/** ext's rspamd: add its verdicts (DKIM, SPF, DMARC) to every message instead of acting on them. */
export const EXT_RSPAMD_FILES: Record<string, string> = {
  "/etc/rspamd/local.d/milter_headers.conf": [
    'use = ["authentication-results", "x-spamd-result"];',
    "skip_local = false;",
    "skip_authenticated = false;",
    "",
  ].join("\n"),
  // ext only reports; a test reads the verdicts from the delivered message.
  "/etc/rspamd/local.d/actions.conf": "reject = 1000;\nadd_header = 999;\ngreylist = 998;\n",
  "/etc/rspamd/local.d/options.inc": 'local_addrs = "127.0.0.0/8, ::1";\n',
};
