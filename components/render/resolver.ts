/**
 * The edges' and outbound hosts' own validating resolver (issue 24): Debian's unbound on loopback,
 * which Postfix's DANE lookups and rspamd ask through /etc/resolv.conf. A TLSA record counts only
 * when a resolver the host trusts says it validated (the AD bit), so the resolver must be on the
 * host itself: an AD bit from across a network proves nothing. The monitoring hosts run it too:
 * their blocklist probes ask through it, since the lists refuse queries from public resolvers.
 */
import { FleetSpec } from "../config/spec";
import { file, RenderedFile } from "./file";

export const RESOLVER_PATHS = {
  /** Debian's /etc/unbound/unbound.conf reads every file of unbound.conf.d (with its root trust anchor drop-in). */
  conf: "/etc/unbound/unbound.conf.d/mailfleet.conf",
  resolvConf: "/etc/resolv.conf",
  /** The IANA root's DS records, which deploy.sh seeds ROOT_KEY with when it is missing. */
  rootAnchorSeed: "/etc/mailfleet/unbound-root.ds",
} as const;
/**
 * The root's trust anchor Debian's drop-in (root-auto-trust-anchor-file.conf) names, which unbound
 * keeps current itself (RFC 5011). Debian's unit seeds it from dns-root-data, a recommends that an
 * install without recommends (the push's) lacks; deploy.sh seeds it from rootAnchorSeed instead.
 */
export const ROOT_KEY = "/var/lib/unbound/root.key";

/** The IANA root zone's KSKs as DS records (KSK-2017 and KSK-2024, https://data.iana.org/root-anchors/). */
const IANA_ROOT_DS = [
  ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
  ". IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16",
];

export function renderResolver(spec: FleetSpec): RenderedFile[] {
  const { forwarders } = spec.resolver;
  const conf = [
    "# mailfleet: this host's validating resolver; the root's trust anchor is Debian's (root-auto-trust-anchor-file.conf).",
    "server:",
    // Loopback only: an open resolver on a public address would be abused for amplification.
    "  interface: 127.0.0.1",
    "  interface: ::1",
    // Why an answer was bogus goes to the log: what an operator needs when a receiver's DNSSEC breaks.
    "  val-log-level: 2",
    // Queries carry only as much of a name as each server needs (RFC 9156).
    "  qname-minimisation: yes",
    ...(forwarders.length > 0
      ? [
          // Forwarders only fetch: the answers and their signatures are still validated here.
          "forward-zone:",
          '  name: "."',
          ...forwarders.map((address) => `  forward-addr: ${address}`),
        ]
      : []),
    "",
  ].join("\n");
  const resolvConf = [
    "# mailfleet: the host's own validating unbound (unbound.conf.d/mailfleet.conf).",
    "nameserver 127.0.0.1",
    "nameserver ::1",
    // glibc passes the resolver's AD bit on only when told to trust it; Postfix's DANE needs it.
    "options trust-ad",
    "",
  ].join("\n");
  return [file(RESOLVER_PATHS.conf, conf), file(RESOLVER_PATHS.resolvConf, resolvConf), file(RESOLVER_PATHS.rootAnchorSeed, `${IANA_ROOT_DS.join("\n")}\n`)];
}
