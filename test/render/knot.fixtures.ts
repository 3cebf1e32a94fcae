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

/** The lab fleet with tls.mode acme: Knot takes each host's DNS-01 updates, signed with its TSIG key. */
export const ACME = lab((raw) => (raw.tls = { mode: "acme" }));
const acmeZones = zoneFiles(ACME.set, ACME.spec);
export const TSIG = Object.fromEntries(ACME.topology.hosts.map((h) => [h.name, generateTsigSecret()]));
export const acmeFiles = renderKnotServer(acmeZones, ACME.topology, TSIG);
