/** The lab stack as the record tests see it: spec, topology, the given addresses, stand-in DKIM keys. */
import { parseFleetConfig, readStackConfig } from "../../components/config";
import { FleetSpec } from "../../components/config/spec";
import { pinnedGenerations, publishedKeyNames } from "../../components/keys/material";
import { buildRecordSet, RecordSet } from "../../components/records";
import { buildTopology, hostsOf, Topology } from "../../components/topology";
import { AddressBook } from "../../components/topology/addresses";

export interface Lab {
  spec: FleetSpec;
  topology: Topology;
  addresses: AddressBook;
  set: RecordSet;
}

/** The lab stack's raw config; change may edit it before it is parsed. */
export function lab(change: (raw: Record<string, any>) => void = () => {}): Lab {
  const raw = structuredClone(readStackConfig("lab", { passphrase: "mailfleet-lab" }).raw) as Record<string, any>;
  change(raw);
  const spec = parseFleetConfig(raw);
  const topology = buildTopology(spec);
  const addresses: AddressBook = Object.fromEntries(topology.hosts.map((h) => [h.name, { ipv4: h.ipv4!, ...(h.ipv6 ? { ipv6: h.ipv6 } : {}) }]));
  return { spec, topology, addresses, set: buildRecordSet(topology, addresses, fakeDkim(spec), fakeDane(topology)) };
}

/**
 * A stand-in SPKI hash per edge and DANE key generation when the zones are signed, as the build pins
 * them: "ab"… for the generation served, another per other generation.
 */
export function fakeDane(topology: Topology) {
  const { spec } = topology;
  return spec.dnssec ? hostsOf(topology, "edge").flatMap((h) => pinnedGenerations(spec).map((generation) => ({ host: h.name, generation, spkiSha256: generation === spec.tls.daneKeyGeneration ? "ab".repeat(32) : `${generation}`.padStart(64, "0") }))) : [];
}

/** A stand-in public key per domain and selector: the record tests check placement, not key material. */
export function fakeDkim(spec: FleetSpec) {
  return publishedKeyNames(spec).map(({ domain, selector }) => ({ domain, selector, publicKey: `FAKE${selector}${domain.length}` }));
}
