/**
 * The lab's own test peers, pure: the DNS data of the foreign domain (example.net with its MX
 * host `ext` and the user's machine `client`, their reverse zones) served by dns1 beside the
 * fleet's zones, and the configs of ext's and client's Postfix and ext's rspamd. None of this
 * is fleet config: the fleet's hosts get only what the project renders.
 */
import { NameserverSpec } from "../../components/config/spec";
import { DnsRecord, RecordData, RecordOwner, ZoneFile, zoneFiles } from "../../components/records";
import { smtpTlsaName } from "../../components/records/labels";
import { DNSSEC_POLICY, dnssecPolicy, KNOT_CONF, knotZoneFile, knotZoneSection } from "../../components/render/knot";
import { file, RenderedFile } from "../../components/render/file";
import { EXT_DOMAIN, LAB_PEERS, LabHost, ROOT_ANCHOR } from "./plan";

const peer = (name: string): LabHost => LAB_PEERS.find((h) => h.name === name)!;
export const CLIENT = peer("client");
export const EXT = peer("ext");
export const ACME = peer("acme");
export const BACKUP = peer("backup");
export const RBL = peer("rbl");
/** The lab's DNS blocklist and allowlist zones, served by rbldnsd on RBL (scripts/lab/rbl.ts). */
export const RBL_ZONES = { block: "bl.example.net", allow: "wl.example.net" } as const;
export const ROOT = peer("root");
export const RELAY = peer("relay");
/** The mailbox on ext that outbound tests write to: a Unix user, Maildir in its home. */
export const EXT_USER = "bob";
/** An address ext accepts and bounces: the far end of a forward whose bounce must find its way back. */
export const EXT_GONE = `gone@${EXT_DOMAIN}`;

/**
 * Two receiver domains of ext's for the fleet's outbound MTA-STS (test/lab/dnssec.test.ts), each
 * with an `enforce` policy that ext serves over HTTPS at mta-sts.<domain> (STS_POLICY):
 * - STS_DOMAIN's MX, STS_MX, has no TLSA record: its policy alone decides, and ext's certificate
 *   (from the lab's peer CA, which the fleet's hosts trust) matches it;
 * - DANE_STS_DOMAIN's MX is ext's own name, which has TLSA: DANE decides, and its policy names
 *   another MX, so a sender that let STS override DANE would refuse to deliver there.
 */
export const STS_DOMAIN = `sts.${EXT_DOMAIN}`;
export const DANE_STS_DOMAIN = `dane.${EXT_DOMAIN}`;
export const STS_MX = `mx-sts.${EXT_DOMAIN}`;
/** The policy both domains publish (RFC 8461 §3.2). */
export const STS_POLICY = `version: STSv1\nmode: enforce\nmx: ${STS_MX}\nmax_age: 86400\n`;
/** ext's nginx, which serves STS_POLICY: its key and certificate (from the peer CA) for both policy hosts, in one PEM file. */
export const EXT_WEB_CHAIN = "/etc/nginx/mta-sts-chain.pem";
export const STS_POLICY_HOSTS = [STS_DOMAIN, DANE_STS_DOMAIN].map((d) => `mta-sts.${d}`);

/** The TTL of the lab's peer zones. */
const PEER_TTL = 300;

/** ext's own key and certificate for STARTTLS on port 25 (self-signed: DANE-EE pins the key alone), one PEM file. */
export const EXT_TLS_CHAIN = "/etc/postfix/ext-chain.pem";

/**
 * The lab's peer zones (example.net and the reverse zones of client and ext), written by the project's
 * own zone writer. With `extTlsa` (the SHA-256 of ext's key), ext's MX publishes `TLSA 3 1 1` for it,
 * as a DANE receiver does: the fleet's outbound hosts then send to it only over verified TLS.
 */
export function labZones(nameserver: NameserverSpec, extTlsa?: string): ZoneFile[] {
  const hosts = [CLIENT, EXT, ACME, BACKUP, RBL, RELAY];
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
    ...(extTlsa ? [record(smtpTlsaName(EXT.fqdn), { type: "TLSA", usage: 3, selector: 1, matchingType: 1, digest: extTlsa, generation: 1 })] : []),
    record(STS_DOMAIN, { type: "MX", priority: 10, exchange: STS_MX }),
    record(DANE_STS_DOMAIN, { type: "MX", priority: 10, exchange: EXT.fqdn }),
    ...[STS_DOMAIN, DANE_STS_DOMAIN].map((d) => record(`_mta-sts.${d}`, { type: "TXT", text: "v=STSv1; id=lab1" })),
    ...[STS_MX, ...STS_POLICY_HOSTS].flatMap((name) => [
      record(name, { type: "A", address: EXT.ipv4, host: EXT.name }, { host: EXT.name }),
      record(name, { type: "AAAA", address: EXT.ipv6, host: EXT.name }, { host: EXT.name }),
    ]),
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
export function labDnsFiles(dnsServerFiles: RenderedFile[], dns1: Pick<LabHost, "fqdn" | "ipv4" | "ipv6">, extTlsa: string): RenderedFile[] {
  const zones = labZones({ name: dns1.fqdn, ipv4: dns1.ipv4, ipv6: dns1.ipv6 }, extTlsa);
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
    `mydestination = ${EXT_DOMAIN}, ${STS_DOMAIN}, ${DANE_STS_DOMAIN}, localhost`,
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
    // A recipient ext accepts and then cannot deliver (.invalid never resolves): its bounce goes to the
    // envelope sender, which for a forward is the fleet's SRS address (test/lab/forwarding.test.ts).
    `virtual_alias_maps = inline:{ {${EXT_GONE}=${EXT_GONE.split("@")[0]}@nowhere.invalid} }`,
    "smtpd_milters = inet:127.0.0.1:11332",
    "milter_default_action = tempfail",
    // Receiving over STARTTLS with the key its TLSA record pins.
    `smtpd_tls_chain_files = ${EXT_TLS_CHAIN}`,
    "smtpd_tls_security_level = may",
    "smtpd_tls_loglevel = 1",
    // Sending, like a DANE-enforcing receiver of the Internet (RFC 7672): DNSSEC-validated lookups
    // through its own unbound, TLS verified against the MX's TLSA records where they exist.
    "smtp_dns_support_level = dnssec",
    "smtp_tls_security_level = dane",
    "smtp_tls_loglevel = 1",
    "maillog_file = /var/log/postfix.log",
    "",
  ].join("\n");
}

/** ext's nginx: STS_POLICY over HTTPS for both policy hosts, as a receiver publishes its MTA-STS policy. */
export function extStsWebFiles(): Record<string, string> {
  return {
    "/etc/nginx/conf.d/mta-sts.conf": [
      "# The lab's receiver's MTA-STS policy (not fleet config).",
      "server {",
      "  listen 443 ssl;",
      "  listen [::]:443 ssl;",
      `  server_name ${STS_POLICY_HOSTS.join(" ")};`,
      `  ssl_certificate ${EXT_WEB_CHAIN};`,
      `  ssl_certificate_key ${EXT_WEB_CHAIN};`,
      "  location = /.well-known/mta-sts.txt {",
      "    default_type text/plain;",
      "    root /srv/mta-sts;",
      "  }",
      "}",
      "",
    ].join("\n"),
    "/srv/mta-sts/.well-known/mta-sts.txt": STS_POLICY,
  };
}

/** The relay's key and self-signed certificate (a fleet pins it as the relay's CA), one PEM file. */
export const RELAY_TLS_CHAIN = "/etc/postfix/relay-chain.pem";
/** The relay's Dovecot passwd-file: its one customer login. */
export const RELAY_USERS = "/etc/dovecot/relay-users";
/** The login a fleet's domain has at the relay. */
export const RELAY_LOGIN = "fleet-org";

/**
 * The relay's Postfix: a provider's smarthost on port 587 that relays for its logged-in customers
 * only, offers AUTH only after STARTTLS, and delivers by MX lookup (to ext).
 */
export function relayPostfixMainCf(): string {
  return [
    "# The lab's relay provider (not fleet config).",
    "compatibility_level = 3.6",
    `myhostname = ${RELAY.fqdn}`,
    "mydestination =",
    "inet_interfaces = all",
    "inet_protocols = all",
    "mynetworks = 127.0.0.0/8 [::1]/128",
    "alias_maps =",
    "alias_database =",
    `smtpd_tls_chain_files = ${RELAY_TLS_CHAIN}`,
    "smtpd_tls_security_level = may",
    "smtpd_tls_auth_only = yes",
    "smtpd_tls_loglevel = 1",
    "smtpd_sasl_auth_enable = yes",
    "smtpd_sasl_type = dovecot",
    "smtpd_sasl_path = private/auth",
    "smtpd_relay_restrictions = permit_sasl_authenticated, reject",
    "smtp_tls_security_level = may",
    "maillog_file = /var/log/postfix.log",
    "",
  ].join("\n");
}

/** The relay's Dovecot 2.4: authentication only, for its Postfix (the customers' logins). */
export function relayDovecotConf(): string {
  return [
    "# The lab's relay provider (not fleet config).",
    "dovecot_config_version = 2.4.0",
    "dovecot_storage_version = 2.4.0",
    "protocols =",
    "log_path = /var/log/dovecot.log",
    "auth_mechanisms = plain login",
    "passdb passwd-file {",
    `  passwd_file_path = ${RELAY_USERS}`,
    "}",
    "service auth {",
    "  unix_listener /var/spool/postfix/private/auth {",
    "    mode = 0660",
    "    user = postfix",
    "    group = postfix",
    "  }",
    "}",
    "",
  ].join("\n");
}

/** The relay's passwd-file line for a login (the lab's test password, in Dovecot's PLAIN scheme). */
export function relayUsers(login: string, password: string): string {
  return `${login}:{PLAIN}${password}\n`;
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
 * A lab resolver (unbound on 127.0.0.1), as a user's machine or a DANE-checking mail server has. No
 * cache: a test sees every change at once (a listing too). It iterates from the lab's root (its hints
 * name the root host) and validates every answer from the root's DS, its trust anchor, so a signed
 * zone's answers are checked as on the Internet and CNAMEs into another zone resolve
 * (mta-sts.example.org -> …). It asks rbldnsd on RBL for the list zones, which are unsigned test
 * data (domain-insecure).
 */
export function labUnboundConf(zones: string[]): string {
  return [
    "# A lab resolver (not fleet config).",
    "server:",
    "  interface: 127.0.0.1",
    "  interface: ::1",
    "  do-daemonize: yes",
    "  username: unbound",
    '  chroot: ""',
    ...labResolverSettings(zones),
    "",
  ].join("\n");
}

/** What every lab resolver is told beside its own listeners: the lab's root, no cache, the lab's zones and lists. */
function labResolverSettings(zones: string[]): string[] {
  const lists = Object.values(RBL_ZONES);
  return [
    '  module-config: "validator iterator"',
    `  root-hints: "${LAB_ROOT_HINTS}"`,
    `  trust-anchor-file: "${ROOT_ANCHOR}"`,
    "  val-bogus-ttl: 0",
    ...lists.map((zone) => `  domain-insecure: "${zone}"`),
    "  cache-max-ttl: 0",
    "  cache-max-negative-ttl: 0",
    "  # The lab's documentation ranges are its Internet: answers there are not rebinding.",
    "  do-not-query-localhost: no",
    // unbound answers the documentation ranges' reverse zones itself (RFC 6303; 2001:db8::/32 as a whole) unless told not to.
    ...[...zones, "8.b.d.0.1.0.0.2.ip6.arpa"].map((zone) => `  local-zone: "${zone}" nodefault`),
    ...lists.flatMap((zone) => ["stub-zone:", `  name: "${zone}"`, `  stub-addr: ${RBL.ipv4}`]),
  ];
}

/**
 * The drop-in of Debian's unbound that names the root's trust anchor (the IANA root's, from
 * dns-root-data). On the fleet's resolvers (render/resolver.ts) the lab puts its own in its place, as
 * it puts Pebble's root in the hosts' trust store: the lab's root, its DS as the anchor, no cache.
 */
export const DEBIAN_ROOT_ANCHOR_DROP_IN = "/etc/unbound/unbound.conf.d/root-auto-trust-anchor-file.conf";

export function labFleetResolverDropIn(zones: string[]): string {
  return ["# The lab's root instead of the Internet's (not fleet config).", "server:", ...labResolverSettings(zones), ""].join("\n");
}

/** Where the lab's resolvers find the root server. */
export const LAB_ROOT_HINTS = "/etc/unbound/lab-root.hints";

export function labRootHints(): string {
  return [`. 3600000 NS ${ROOT.fqdn}.`, `${ROOT.fqdn}. 3600000 A ${ROOT.ipv4}`, `${ROOT.fqdn}. 3600000 AAAA ${ROOT.ipv6}`, ""].join("\n");
}

/** The root zone's file on the root host. */
export const ROOT_ZONE_FILE = "/var/lib/knot/zones/root.zone";

/**
 * The root host's Knot: the root zone, signed with the fleet's own signing policy (so the lab's chain of
 * trust starts at a key made like the fleet's), answering on the root's addresses only.
 */
export function rootKnotConf(): string {
  return [
    "# The lab's DNS root (not fleet config).",
    "server:",
    '    rundir: "/run/knot"',
    "    user: knot:knot",
    `    listen: [ ${ROOT.ipv4}@53, ${ROOT.ipv6}@53 ]`,
    "database:",
    '    storage: "/var/lib/knot"',
    "",
    ...dnssecPolicy(),
    "template:",
    "  - id: default",
    "    zonefile-sync: -1",
    "    zonefile-load: difference-no-serial",
    "    journal-content: all",
    "    dnssec-signing: on",
    `    dnssec-policy: ${DNSSEC_POLICY}`,
    "zone:",
    "  - domain: .",
    `    file: "${ROOT_ZONE_FILE}"`,
    "",
  ].join("\n");
}

/** A zone the root delegates to dns1, with the DS records dns1's Knot gives for it (none: an insecure delegation). */
export interface RootDelegation {
  zone: string;
  ds: string[];
}

/** The root zone: its own NS, then per zone an NS to dns1 (glue beside it) and its DS. */
export function rootZone(dns1: Pick<LabHost, "fqdn" | "ipv4" | "ipv6">, delegations: RootDelegation[]): string {
  const ttl = PEER_TTL;
  return [
    `. ${ttl} IN SOA ${ROOT.fqdn}. hostmaster.${EXT_DOMAIN}. 1 3600 600 86400 ${ttl}`,
    `. ${ttl} IN NS ${ROOT.fqdn}.`,
    `${ROOT.fqdn}. ${ttl} IN A ${ROOT.ipv4}`,
    `${ROOT.fqdn}. ${ttl} IN AAAA ${ROOT.ipv6}`,
    `${dns1.fqdn}. ${ttl} IN A ${dns1.ipv4}`,
    `${dns1.fqdn}. ${ttl} IN AAAA ${dns1.ipv6}`,
    ...delegations.flatMap((d) => [`${d.zone}. ${ttl} IN NS ${dns1.fqdn}.`, ...d.ds.map((ds) => ds.replace(/^(\S+) IN DS /, `$1 ${ttl} IN DS `))]),
    "",
  ].join("\n");
}

/** The root's DS as delv's trust anchor (BIND's trust-anchors syntax). */
export function delvAnchor(rootDs: string[]): string {
  const anchors = rootDs.map((line) => {
    const [, keyTag, algorithm, digestType, digest] = /^\. IN DS (\d+) (\d+) (\d+) ([0-9A-F]+)$/.exec(line) ?? [];
    if (!digest) throw new Error(`not a root DS: ${line}`);
    return `  . static-ds ${keyTag} ${algorithm} ${digestType} "${digest}";`;
  });
  return ["trust-anchors {", ...anchors, "};", ""].join("\n");
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
