/**
 * What the edge MX and the outbound MTA share: who the host is, no local mailboxes, TLS, how it
 * sends to the Internet, limits. The role files add their own policy on top.
 */
import { FleetSpec } from "../../config/spec";
import { Host } from "../../topology";
import { HostAddresses, internalIpv4 } from "../../topology/addresses";
import { liveTls, placed, RenderInput, RSPAMD_MILTER } from "../input";
import { tlsPolicyMaps } from "../outboundTls";
import { Service, Setting, setting, TableEntries, texthash } from "./format";

export const CONFIG_DIR = "/etc/postfix";
export const VIRTUAL_TABLE = "virtual";
/** Postfix's own log (postlogd): Debian's postfix exporter and mtail read it; the deploy script makes it root:adm 0640. */
export const POSTFIX_LOG = "/var/log/postfix.log";

export function hostAddresses(input: RenderInput, host: Host): HostAddresses {
  return placed(input, host).addresses;
}

export function assertRole(host: Host, role: Host["role"]): void {
  if (host.role !== role) throw new Error(`${host.name} is a ${host.role} host, not ${role}`);
}

/**
 * Host-local addresses: postmaster@<host> must exist (RFC 5321 §4.5.1) and receives Postfix's
 * own problem reports; root@<host> gets cron and system mail. Both go to the fleet's admin.
 */
export function hostAliases(spec: FleetSpec, host: Host): TableEntries {
  return [
    [`postmaster@${host.fqdn}`, [spec.admin]],
    [`root@${host.fqdn}`, [spec.admin]],
  ];
}

export function baseSettings(input: RenderInput, host: Host): Setting[] {
  const spec = input.topology.spec;
  const own = hostAddresses(input, host);
  return [
    setting("compatibility_level", "3.10", "Postfix 3.10 defaults (Debian 13); without it Postfix runs with the pre-3.0 defaults and warns."),
    setting(
      "myhostname",
      host.fqdn,
      "The name in the banner and in HELO: it must equal the PTR of the host's addresses (FCrDNS), or receivers score the mail as spam.",
    ),
    setting("myorigin", "$myhostname"),
    setting(
      "maillog_file",
      POSTFIX_LOG,
      "Postfix writes its own log (postlogd) where Debian's postfix exporter and mtail read it: Debian 13 keeps syslog in the journal, which that exporter cannot read.",
    ),
    setting(
      "mydestination",
      ["$myhostname", "localhost"],
      "Only the host's own names are local, so that postmaster@ and double-bounce@ of this host resolve here: " +
        "Postfix discards mail to double-bounce only when it is local, which ends bounce loops.",
    ),
    setting(
      "local_transport",
      "error:5.1.1 this host keeps no mailboxes",
      "No mail is stored on this host; the host-local addresses are aliased to the admin mailbox.",
    ),
    setting(
      "local_recipient_maps",
      "$virtual_alias_maps",
      "A host-local address exists only if it is aliased; anything else is rejected at RCPT instead of bounced later.",
    ),
    setting("alias_maps", "", "Nothing is delivered by local(8), so /etc/aliases (and its newaliases step) is not used."),
    setting("alias_database", ""),
    setting("virtual_alias_maps", texthash(VIRTUAL_TABLE)),
    setting("inet_protocols", spec.ipv6 ? "all" : "ipv4"),
    setting(
      "recipient_delimiter",
      spec.recipientDelimiter,
      "alice+news@ is looked up as alice@ (aliases, mailboxes, sender logins) and delivered with its extension.",
    ),
    setting("message_size_limit", spec.messageSizeLimitMb * 1024 * 1024),
    setting("smtpd_banner", "$myhostname ESMTP", "Do not tell scanners the software and version."),
    setting("smtpd_helo_required", "yes", "Spamware often skips HELO; RFC 5321 requires it."),
    setting("disable_vrfy_command", "yes", "VRFY lets spammers harvest valid addresses."),
    setting("default_process_limit", 100, "At most 100 smtpd/smtp processes: a flood queues at the door instead of exhausting the host's memory."),
    setting("smtpd_client_connection_count_limit", 10, "One client (address) may hold at most 10 of them, and open at most 60 connections a minute."),
    setting("smtpd_client_connection_rate_limit", 60),
    // Server TLS.
    setting(
      "smtpd_tls_chain_files",
      liveTls(host.name).chain,
      "Key and chain in one file, which a renewal replaces by one rename: an smtpd starting mid-renewal never pairs a new key with an old certificate.",
    ),
    setting("smtpd_tls_protocols", ">=TLSv1.2", "SSLv3, TLS 1.0 and 1.1 are broken or deprecated (RFC 8996)."),
    setting("smtpd_tls_mandatory_protocols", ">=TLSv1.2"),
    setting("smtpd_tls_loglevel", 1),
    // Client side: mail to the Internet.
    setting(
      "smtp_bind_address",
      internalIpv4(own),
      "Send from the address whose PTR, A record and SPF entry the fleet publishes (or, behind a cloud's 1:1 NAT, " +
        "the private address that maps to it); any other address of the host would fail FCrDNS and SPF.",
    ),
    ...(sendsOverIpv6(spec) && own.ipv6 ? [setting("smtp_bind_address6", own.ipv6)] : []),
    setting("smtp_helo_name", "$myhostname", "HELO must match the PTR (FCrDNS) and the HELO SPF record."),
    setting("smtp_tls_loglevel", 1, "Logs which peers spoke TLS: what a TLS-RPT report needs to be acted on."),
    setting("smtp_tls_mandatory_protocols", ">=TLSv1.2"),
    setting(
      "smtp_dns_support_level",
      "dnssec",
      "Lookups ask the host's own validating unbound (render/resolver.ts) and tell signed answers apart: what DANE's TLSA lookups need.",
    ),
    setting("smtpd_milters", RSPAMD_MILTER),
  ];
}

/** Clients trusted without AUTH: loopback plus the given networks (main.cf writes IPv6 as [2001:db8::]/32). */
export function mynetworks(spec: FleetSpec, extra: readonly string[], why: string): Setting {
  const loopback = ["127.0.0.0/8", ...(spec.ipv6 ? ["::1/128"] : [])];
  const bracketed = [...loopback, ...extra].map((cidr) => {
    const [address, bits] = cidr.split("/");
    return address.includes(":") ? `[${address}]/${bits}` : cidr;
  });
  return setting("mynetworks", bracketed, why);
}

/** Debian's bundle of the public roots (ca-certificates). */
export const SYSTEM_TRUST = "/etc/ssl/certs/ca-certificates.crt";

/**
 * TLS to other MTAs (render/outboundTls.ts): by DANE (RFC 7672) where the receiver's MX has signed TLSA
 * records, else by its MTA-STS policy (RFC 8461) where it publishes one in enforce mode, else
 * opportunistic (encrypt when offered), since requiring TLS would bounce mail to the many MTAs without
 * it. Where DANE or STS applies, a certificate that does not match defers the mail; it never goes in
 * clear. `leadingMaps` are asked before DANE and STS (the domain relays' own policies).
 */
export function outboundTls(leadingMaps: string[] = []): Setting[] {
  return [
    setting("smtp_tls_security_level", "dane"),
    setting(
      "smtp_tls_policy_maps",
      [...leadingMaps, ...tlsPolicyMaps()],
      "The first table that answers wins: DANE first (a receiver with validated TLSA gets dane or dane-only), then its MTA-STS policy (secure, matched against the policy's MX names).",
    ),
    setting("smtp_tls_CAfile", SYSTEM_TRUST, "An MTA-STS receiver's certificate must chain to a public root (RFC 8461 §4.2); DANE-EE ignores the chain."),
  ];
}

/** The services every Postfix instance needs for its own queue, whatever it receives. */
/**
 * Whether mail may leave over IPv6: only where the host's IPv6 address can carry a PTR. EC2 sets no
 * custom PTR for IPv6, and receivers reject or spam-folder mail from an address without FCrDNS.
 */
export function sendsOverIpv6(spec: FleetSpec): boolean {
  return spec.ipv6 && spec.compute !== "aws";
}

export function coreServices(spec: FleetSpec): Service[] {
  const ipv4Only = sendsOverIpv6(spec)
    ? {}
    : { options: [setting("inet_protocols", "ipv4")], why: "Mail leaves over IPv4 only: this host's IPv6 address has no PTR." };
  return [
    { service: "pickup", type: "unix", private: "n", wakeup: "60", maxproc: "1", command: "pickup" },
    { service: "cleanup", type: "unix", private: "n", maxproc: "0", command: "cleanup" },
    { service: "qmgr", type: "unix", private: "n", wakeup: "300", maxproc: "1", command: "qmgr" },
    { service: "tlsmgr", type: "unix", wakeup: "1000?", maxproc: "1", command: "tlsmgr" },
    { service: "rewrite", type: "unix", command: "trivial-rewrite" },
    { service: "bounce", type: "unix", maxproc: "0", command: "bounce" },
    { service: "defer", type: "unix", maxproc: "0", command: "bounce" },
    { service: "trace", type: "unix", maxproc: "0", command: "bounce" },
    { service: "verify", type: "unix", maxproc: "1", command: "verify" },
    { service: "flush", type: "unix", private: "n", wakeup: "1000?", maxproc: "0", command: "flush" },
    { service: "proxymap", type: "unix", command: "proxymap" },
    { service: "proxywrite", type: "unix", maxproc: "1", command: "proxymap" },
    { service: "smtp", type: "unix", command: "smtp", ...ipv4Only },
    { service: "showq", type: "unix", private: "n", command: "showq" },
    { service: "error", type: "unix", command: "error" },
    { service: "retry", type: "unix", command: "error" },
    { service: "discard", type: "unix", command: "discard" },
    { service: "anvil", type: "unix", maxproc: "1", command: "anvil" },
    { service: "scache", type: "unix", maxproc: "1", command: "scache" },
    { service: "postlog", type: "unix-dgram", private: "n", maxproc: "1", command: "postlogd" },
  ];
}
