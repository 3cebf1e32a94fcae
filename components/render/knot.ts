/**
 * The primary nameserver of the `zone` DNS backend: a Knot DNS 3.4 configuration serving the
 * rendered zone files, authoritative only. With tls.mode acme it also takes RFC 2136 updates,
 * each host's signed with its own TSIG key and limited to TXT at its own `_acme-challenge` names.
 */
import { zoneBackend, ZoneFile } from "../records/zoneFile";
import { certificateLineages, Host, Topology } from "../topology";
import { file, RenderedFile } from "./file";

/** The TSIG key name a host signs its DNS-01 updates with (certbot's dns_rfc2136_name). */
export function tsigKeyName(host: Host): string {
  return `acme-${host.name}`;
}

/** The names a host may put a DNS-01 TXT at: `_acme-challenge.` of each name its certificates carry. */
export function acmeChallengeNames(topology: Topology, host: Host): string[] {
  return [...new Set(certificateLineages(topology, host).flatMap((l) => l.names))].map((n) => `_acme-challenge.${n}.`);
}

/** One key and one ACL per host; the ACL lets that key add and remove TXT at its own challenge names only. */
function acmeUpdateSections(topology: Topology, tsig: Record<string, string>): { conf: string[]; acls: string[] } {
  const hosts = topology.hosts;
  const secret = (h: Host) => {
    const value = tsig[h.name];
    if (!value || !/^[A-Za-z0-9+/]+=*$/.test(value)) throw new Error(`no TSIG key for host ${h.name}`);
    return value;
  };
  const conf = [
    "key:",
    ...hosts.flatMap((h) => [`  - id: ${tsigKeyName(h)}`, "    algorithm: hmac-sha256", `    secret: ${secret(h)}`]),
    "",
    "# update-owner-match: equal, so a key can touch no name below or beside its own challenge",
    "# names; update-type: TXT, so not even there anything but the challenge.",
    "acl:",
    ...hosts.flatMap((h) => [
      `  - id: ${tsigKeyName(h)}`,
      `    key: ${tsigKeyName(h)}`,
      "    action: update",
      "    update-type: [TXT]",
      "    update-owner: name",
      "    update-owner-match: equal",
      `    update-owner-name: [ ${acmeChallengeNames(topology, h).join(", ")} ]`,
    ]),
    "",
  ];
  return { conf, acls: hosts.map(tsigKeyName) };
}

export const KNOT_CONF = "/etc/knot/knot.conf";
/** knotd's run directory: its pid file and its control socket, knot.sock, which knotc and knot-exporter talk to. */
export const KNOT_RUNDIR = "/run/knot";
/** Knot's key store (the KASP database and the private keys): never in a bundle, so no push removes or replaces it. */
export const KNOT_KEY_DIR = "/var/lib/knot/keys";
/** The signing policy every zone follows (dnssec: true). */
export const DNSSEC_POLICY = "mailfleet";

/**
 * Knot's automatic signing: ECDSA P-256 (algorithm 13, what the root and most TLDs accept), a ZSK
 * Knot rolls itself every 30 days, a KSK it never rolls on its own (its DS sits at the parent: a roll
 * is the operator's, see README), CDS/CDNSKEY always published so a parent that reads them (RFC 8078)
 * can follow. Knot makes the keys at the zone's first load, in its key store on this host.
 */
export function dnssecPolicy(): string[] {
  return [
    "policy:",
    `  - id: ${DNSSEC_POLICY}`,
    "    algorithm: ecdsap256sha256",
    "    ksk-lifetime: 0",
    "    zsk-lifetime: 30d",
    "    cds-cdnskey-publish: always",
    "",
  ];
}
export const KNOT_ZONE_DIR = "/var/lib/knot/zones";
/** The statistics every zone keeps (mod-stats). */
const STATS_MODULE = "mailfleet";

export function knotZonePath(origin: string): string {
  return `${KNOT_ZONE_DIR}/${origin}.zone`;
}

/** The zones a Knot server's files serve: one zone file each. */
export function servedZones(files: RenderedFile[]): string[] {
  const prefix = `${KNOT_ZONE_DIR}/`;
  return files.filter((f) => f.path.startsWith(prefix) && f.path.endsWith(".zone")).map((f) => f.path.slice(prefix.length, -".zone".length));
}

/** A zone file as Knot reads it: root's, readable by the knot group only (Knot never writes it). */
export function knotZoneFile(origin: string, content: string): RenderedFile {
  return file(knotZonePath(origin), content, { mode: 0o640, group: "knot" });
}

/** A Knot `zone:` section serving each origin from its file (Knot accepts repeated sections). */
export function knotZoneSection(origins: string[]): string[] {
  return ["zone:", ...origins.flatMap((origin) => [`  - domain: ${origin}`, `    file: "${knotZonePath(origin)}"`])];
}

export function renderKnotServer(zones: ZoneFile[], topology: Topology, tsig: Record<string, string>): RenderedFile[] {
  const { spec } = topology;
  const acme = spec.tls.mode === "acme" ? acmeUpdateSections(topology, tsig) : undefined;
  const primary = zoneBackend(spec).nameservers[0];
  const listen = [primary.ipv4, ...(spec.ipv6 && primary.ipv6 ? [primary.ipv6] : [])].map((a) => `${a}@53`);
  const conf = [
    "# Rendered by mailfleet: the authoritative server for the fleet's zones.",
    "server:",
    `    rundir: "${KNOT_RUNDIR}"`,
    "    user: knot:knot",
    "    # Only the nameserver's published addresses.",
    `    listen: [ ${listen.join(", ")} ]`,
    "",
    "log:",
    "  - target: syslog",
    "    any: info",
    "",
    "database:",
    '    storage: "/var/lib/knot"',
    `    kasp-db: "${KNOT_KEY_DIR}"`,
    "",
    ...(spec.dnssec ? dnssecPolicy() : []),
    ...(acme?.conf ?? []),
    "# Counters of each zone's queries and answers for knot-exporter: mod-stats' defaults (protocol,",
    "# operation, bytes, rcode) and the queries by type.",
    "mod-stats:",
    `  - id: ${STATS_MODULE}`,
    "    query-type: on",
    "",
    acme
      ? "# No acl but the hosts' DNS-01 updates: Knot refuses every zone transfer, NOTIFY and other update."
      : "# No acl anywhere: Knot refuses every zone transfer, NOTIFY and dynamic update, so the zones change only through the push of new zone files.",
    "template:",
    "  - id: default",
    "    semantic-checks: on",
    `    module: mod-stats/${STATS_MODULE}`,
    "    # The push owns the zone files; Knot never writes them back.",
    "    zonefile-sync: -1",
    "    # Knot applies the difference between the served zone and a changed file and numbers",
    "    # the new version itself, so rendered files need no serial bookkeeping; the journal",
    "    # keeps the zone (and its serial) across restarts, which this mode needs. The difference",
    "    # drops dynamic updates (DNS-01 TXT records): deploy.sh puts pending ones back.",
    "    zonefile-load: difference-no-serial",
    "    journal-content: all",
    "    serial-policy: unixtime",
    ...(acme ? [`    acl: [ ${acme.acls.join(", ")} ]`] : []),
    // Signing keeps its state (keys, timers) in the key store and the signed zone in the journal, so a
    // changed zone file is signed as a difference, never from scratch.
    ...(spec.dnssec ? ["    dnssec-signing: on", `    dnssec-policy: ${DNSSEC_POLICY}`] : []),
    "",
    ...knotZoneSection(zones.map((z) => z.origin)),
    "",
  ].join("\n");
  return [
    // With the TSIG keys in it, a secret: exported only as a Pulumi secret, still readable by knotd's group.
    file(KNOT_CONF, conf, { mode: 0o640, group: "knot", secret: acme !== undefined }),
    // Knot only reads them (zonefile-sync: -1): root's, readable by its group (deploy.sh keeps the directory root:knot 0750).
    ...zones.map((z) => knotZoneFile(z.origin, z.content)),
  ];
}
