/** The Knot servers both halves of the Knot tests render (knot.test.ts, knot.daemon.test.ts). */
import { generateTsigSecret } from "../../components/keys/generate";
import { zoneFiles } from "../../components/records";
import { KNOT_CONF, renderKnotServer } from "../../components/render/knot";
import { lab } from "../support/labRecords";

/** The lab fleet with the fleet CA's certificates (no DNS-01 updates); ACME below. */
export const LAB = lab((raw) => (raw.tls = { mode: "fleet-ca" }));
export const QUOTED = `say "hi" \\ ${"x".repeat(300)}`;
const set = { ...LAB.set, records: [...LAB.set.records, { name: "quoted.example.com", zone: "example.com", ttl: 300, owner: { domain: "example.com" }, type: "TXT" as const, text: QUOTED }] };
export const zones = zoneFiles(set, LAB.spec);
export const files = renderKnotServer(zones, LAB.topology, {});
/** The same zones served unsigned (`dnssec: false`). */
export const unsignedFiles = renderKnotServer(zones, { ...LAB.topology, spec: { ...LAB.spec, dnssec: false } }, {});

/** The example.com zone after a third edge host joined: rendered again, serial 1 again. */
const grown = lab((raw) => raw.hosts.edge.push({ name: "mx3", ipv4: "192.0.2.13", ipv6: "2001:db8:0:1::13" }));
export const grownZone = zoneFiles(grown.set, grown.spec).find((z) => z.origin === "example.com")!;

/** The lab fleet with tls.mode acme: Knot takes each host's DNS-01 updates, signed with its TSIG key. */
export const ACME = lab((raw) => (raw.tls = { mode: "acme" }));
const acmeZones = zoneFiles(ACME.set, ACME.spec);
export const TSIG = Object.fromEntries(ACME.topology.hosts.map((h) => [h.name, generateTsigSecret()]));
export const acmeFiles = renderKnotServer(acmeZones, ACME.topology, TSIG);

/** A test script's output by its "== <label>" section headers. */
export function sections(stdout: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let current = "";
  for (const line of stdout.split("\n")) {
    if (line.startsWith("== ")) out[(current = line.slice(3))] = [];
    else if (line && current) out[current].push(line);
  }
  return out;
}

/** knotd on 127.0.0.1 only (the rendered listen line adapted to loopback), ended with the script; waits until example.com answers. */
export const KNOTD_ON_LOOPBACK = `set -e
sed -i 's/^    listen: .*/    listen: [ 127.0.0.1@53 ]/' ${KNOT_CONF}
mkdir -p /run/knot && chown knot:knot /run/knot /var/lib/knot
knotd -c ${KNOT_CONF} &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT INT TERM
for i in $(seq 100); do [ -n "$(kdig +tcp @127.0.0.1 SOA example.com +short 2>/dev/null)" ] && break; sleep 0.1; done`;

/**
 * Waits (bounded) until the knotd started as $pid answers `type` for every zone at `server`; ends the
 * script if knotd exits. TCP: before knotd binds, a connection is refused at once (UDP would time out).
 */
export function awaitZones(server: string, type: string): string {
  return `for zone in ${zones.map((z) => z.origin).join(" ")}; do
  for i in $(seq 100); do
    [ -n "$(kdig +tcp @${server} ${type} $zone +short 2>/dev/null)" ] && break
    kill -0 $pid 2>/dev/null || { echo "knotd exited" >&2; exit 1; }
    sleep 0.1
  done
done`;
}
