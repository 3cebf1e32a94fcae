/** The Knot servers both halves of the Knot tests render (knot.test.ts, knot.daemon.test.ts). */
import { generateTsigSecret } from "../../components/keys/generate";
import { zoneFiles } from "../../components/records";
import { renderKnotServer } from "../../components/render/knot";
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
