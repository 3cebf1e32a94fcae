/**
 * The DS records a parent zone needs for the fleet's signed zones, in one presentation form whichever
 * backend signs: `<zone>. IN DS <key tag> <algorithm> <digest type> <DIGEST>` (RFC 4034 §5.3), SHA-256
 * digests only (digest type 2: what every registrar takes). Pure: the backends hand in what their signer
 * says (Knot's keymgr output, Cloudflare's ZoneDnssec fields).
 */

export interface DsRecord {
  zone: string;
  keyTag: number;
  algorithm: number;
  digestType: number;
  digest: string;
}

/** Zone -> its DS lines for the parent. */
export type DsByZone = Record<string, string[]>;

/** SHA-256 (RFC 4509): the digest type the fleet hands to parents. */
export const DS_DIGEST_SHA256 = 2;

export function dsLine(ds: DsRecord): string {
  return `${ds.zone.replace(/\.$/, "")}. IN DS ${ds.keyTag} ${ds.algorithm} ${ds.digestType} ${ds.digest.toUpperCase()}`;
}

const KEYMGR_DS = /^(\S+?)\.? (?:\d+ )?(?:IN )?DS (\d+) (\d+) (\d+) ([0-9A-Fa-f]+)$/;

/** The SHA-256 DS records in `keymgr <zone> ds` output (one line per KSK and digest type), by zone. */
export function parseKeymgrDs(output: string): DsByZone {
  const byZone: DsByZone = {};
  for (const line of output.split("\n")) {
    const m = KEYMGR_DS.exec(line.trim());
    if (!m) continue;
    const ds: DsRecord = { zone: m[1], keyTag: Number(m[2]), algorithm: Number(m[3]), digestType: Number(m[4]), digest: m[5] };
    if (ds.digestType === DS_DIGEST_SHA256) (byZone[ds.zone] ??= []).push(dsLine(ds));
  }
  return byZone;
}

/**
 * A shell script for the primary nameserver that prints each zone's DS with keymgr, waiting (bounded)
 * for Knot to have made the keys of a zone it has just loaded; as root (Knot's key store is knot's).
 */
export function keymgrDsScript(knotConf: string, zones: string[]): string {
  for (const zone of zones) if (!/^[a-z0-9.-]+$/.test(zone)) throw new Error(`not a zone name: ${zone}`);
  return [
    `for z in ${zones.join(" ")}; do`,
    "  for i in $(seq 30); do",
    `    out=$(keymgr -c ${knotConf} "$z" ds 2>/dev/null) && [ -n "$out" ] && break`,
    "    sleep 1",
    "  done",
    '  [ -n "$out" ] || { echo "no DNSSEC key for $z yet" >&2; exit 1; }',
    '  echo "$out"',
    "done",
  ].join("\n");
}
