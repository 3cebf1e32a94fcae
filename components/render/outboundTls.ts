/**
 * How the hosts that send to the Internet (outbound hosts, and edges, which forward) choose TLS per
 * receiver: DANE where the receiver's MX hosts publish signed TLSA records, else the receiver's
 * MTA-STS policy, else opportunistic TLS. Postfix's own `dane` level does the first and the last;
 * Debian's mta-sts-daemon (postfix-mta-sts-resolver) answers the second as a TLS policy table. Its
 * answer (`secure match=…`) would override DANE (RFC 8461 §2 forbids that; the resolver's own docs
 * say to list a DANE policy table before it), and Debian ships none, so a small socketmap of ours
 * (dane-first.py) is asked first: it answers `dane`/`dane-only` for a domain whose MX hosts have
 * validated TLSA records, and nothing otherwise.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DANE_FIRST_PORT, MTA_STS_RESOLVER_PORT } from "../topology";
import { file, RenderedFile } from "./file";

export const OUTBOUND_TLS_PATHS = {
  /** Debian's path for mta-sts-daemon's config (its unit and init script read it). */
  stsConf: "/etc/mta-sts-daemon.yml",
  /** The policy cache: Debian's directory, which its package makes for the daemon's user (_mta-sts). */
  stsCache: "/var/lib/mta-sts/cache.db",
  daneFirst: "/usr/local/lib/mailfleet/dane-first.py",
  /** The DANE-first socketmap's unit, for hosts with systemd (Debian ships none: it is ours). */
  daneFirstUnit: "/etc/systemd/system/mailfleet-dane-first.service",
} as const;
export const STS_USER = "_mta-sts";
export const DANE_FIRST_SOURCE = join(__dirname, "dane-first.py");

/** The socketmap names Postfix asks under: mta-sts-daemon's zone is the default one. */
const socketmap = (port: number, name: string) => `socketmap:inet:127.0.0.1:${port}:${name}`;

/** Postfix's TLS policy tables, in the order they are asked (the first that answers wins): DANE first, then MTA-STS. */
export function tlsPolicyMaps(): string[] {
  return [socketmap(DANE_FIRST_PORT, "dane"), socketmap(MTA_STS_RESOLVER_PORT, "postfix")];
}

function stsConf(): string {
  return [
    "# Rendered by mailfleet: Debian's mta-sts-daemon, the MTA-STS policy table of this host's Postfix.",
    "# Loopback only: the policies it fetched are nobody else's business.",
    "host: 127.0.0.1",
    `port: ${MTA_STS_RESOLVER_PORT}`,
    "# A policy outlives a restart: STS protects only a sender that remembers a policy (max_age) when",
    "# an attacker later hides it. Local to this host, in Debian's directory for the daemon.",
    "cache:",
    "  type: sqlite",
    "  options:",
    `    filename: "${OUTBOUND_TLS_PATHS.stsCache}"`,
    "default_zone:",
    "  # A policy in testing mode is reported on, not enforced (RFC 8461 §5).",
    "  strict_testing: false",
    "  timeout: 4",
    "  # The MX's name goes in SNI, so a server with several certificates shows the one the policy names.",
    "  require_sni: true",
    "  # The policy's MX patterns go to Postfix as attributes: Postfix 3.10 then connects only to MX hosts",
    "  # that match them and checks each certificate against that MX's name (smtp_tls_enforce_sts_mx_patterns).",
    "  tlsrpt: true",
    "",
  ].join("\n");
}

function daneFirstUnit(): string {
  return [
    "# Rendered by mailfleet: DANE before MTA-STS in Postfix's TLS policy lookups (dane-first.py).",
    "[Unit]",
    "Description=mailfleet DANE-first TLS policy socketmap",
    "After=unbound.service",
    "Before=postfix.service",
    "",
    "[Service]",
    `ExecStart=/usr/bin/python3 ${OUTBOUND_TLS_PATHS.daneFirst} ${DANE_FIRST_PORT}`,
    "DynamicUser=yes",
    "Restart=on-failure",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    // AF_UNIX: asyncio's event loop wakes itself through a socketpair.
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

export function renderOutboundTls(): RenderedFile[] {
  return [
    file(OUTBOUND_TLS_PATHS.stsConf, stsConf()),
    file(OUTBOUND_TLS_PATHS.daneFirst, readFileSync(DANE_FIRST_SOURCE, "utf8"), { mode: 0o755 }),
    file(OUTBOUND_TLS_PATHS.daneFirstUnit, daneFirstUnit()),
  ];
}
