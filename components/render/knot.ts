/**
 * The primary nameserver of the `zone` DNS backend: a Knot DNS 3.4 configuration serving the
 * rendered zone files, authoritative only.
 */
import { FleetSpec } from "../config/spec";
import { zoneBackend, ZoneFile } from "../records/zoneFile";
import { file, RenderedFile } from "./file";

export const KNOT_CONF = "/etc/knot/knot.conf";
export const KNOT_ZONE_DIR = "/var/lib/knot/zones";

export function knotZonePath(origin: string): string {
  return `${KNOT_ZONE_DIR}/${origin}.zone`;
}

/** A zone file as Knot reads it: root's, readable by the knot group only (Knot never writes it). */
export function knotZoneFile(origin: string, content: string): RenderedFile {
  return file(knotZonePath(origin), content, { mode: 0o640, group: "knot" });
}

/** A Knot `zone:` section serving each origin from its file (Knot accepts repeated sections). */
export function knotZoneSection(origins: string[]): string[] {
  return ["zone:", ...origins.flatMap((origin) => [`  - domain: ${origin}`, `    file: "${knotZonePath(origin)}"`])];
}

export function renderKnotServer(zones: ZoneFile[], spec: FleetSpec): RenderedFile[] {
  const primary = zoneBackend(spec).nameservers[0];
  const listen = [primary.ipv4, ...(spec.ipv6 && primary.ipv6 ? [primary.ipv6] : [])].map((a) => `${a}@53`);
  const conf = [
    "# Rendered by mailfleet: the authoritative server for the fleet's zones.",
    "server:",
    '    rundir: "/run/knot"',
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
    "",
    "# No acl anywhere: Knot refuses every zone transfer, NOTIFY and dynamic update, so the",
    "# zones change only through the push of new zone files.",
    "template:",
    "  - id: default",
    "    semantic-checks: on",
    "    # The push owns the zone files; Knot never writes them back.",
    "    zonefile-sync: -1",
    "    # Knot applies the difference between the served zone and a changed file and numbers",
    "    # the new version itself, so rendered files need no serial bookkeeping; the journal",
    "    # keeps the zone (and its serial) across restarts, which this mode needs.",
    "    zonefile-load: difference-no-serial",
    "    journal-content: all",
    "    serial-policy: unixtime",
    "",
    ...knotZoneSection(zones.map((z) => z.origin)),
    "",
  ].join("\n");
  return [
    file(KNOT_CONF, conf, { mode: 0o640, group: "knot" }),
    // Knot only reads them (zonefile-sync: -1): root's, readable by its group (deploy.sh keeps the directory root:knot 0750).
    ...zones.map((z) => knotZoneFile(z.origin, z.content)),
  ];
}
