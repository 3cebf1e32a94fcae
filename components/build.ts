/**
 * The whole pure pipeline in one call: spec + addresses + keys → topology, the DNS record set,
 * every host's files and, for the zone backend, the authoritative server's files. The Pulumi
 * layer calls it inside one `pulumi.all(...).apply`, the offline render and the lab call it
 * directly: the same function, so what a cloud stack gets is what the lab tests.
 */
import { FleetSpec } from "./config/spec";
import { FleetKeys } from "./keys/material";
import { buildRecordSet, RecordSet, ZoneFile, zoneBackend, zoneFiles } from "./records";
import { renderHost, renderInput } from "./render";
import { RenderedFile } from "./render/file";
import { renderNameserverFirewall } from "./render/firewall";
import { renderKnotServer } from "./render/knot";
import { AddressBook } from "./topology/addresses";
import { buildTopology, Host, Topology } from "./topology";
export { hostCertificateNames } from "./topology";

export interface HostFiles {
  host: Host;
  files: RenderedFile[];
}

export interface FleetBuild {
  topology: Topology;
  recordSet: RecordSet;
  /**
   * Every host with its files, one host at a time: each host is rendered when the loop reaches it
   * and its files are let go when the loop moves on, so a large fleet's files (hundreds of MB at
   * 50 000 mailboxes) are never all in memory at once. The offline render writes them this way.
   */
  eachHostFiles(): Generator<HostFiles>;
  /**
   * Host name -> the files that host needs, for callers that look hosts up by name (the Pulumi
   * program, tests). Rendered by eachHostFiles each time an entry is read and not kept: read each
   * entry once (Object.entries renders every host).
   */
  hostFiles: Record<string, RenderedFile[]>;
  /** Forward and reverse zones (dns: zone only). */
  zoneFiles: ZoneFile[];
  /** The authoritative server's config and zones (dns: zone only). */
  dnsServerFiles: RenderedFile[];
}

/** backupRepositoryBase: where the stack's own backup storage keeps the stores' repositories (RenderInput). */
export function buildFleet(spec: FleetSpec, addresses: AddressBook, keys: FleetKeys, backupRepositoryBase?: string): FleetBuild {
  const topology = buildTopology(spec);
  const recordSet = buildRecordSet(topology, addresses, keys.dkim);
  const input = renderInput(topology, addresses, keys, recordSet.mtaSts.policy, backupRepositoryBase);
  function* eachHostFiles(hosts: readonly Host[] = topology.hosts): Generator<HostFiles> {
    for (const host of hosts) yield { host, files: renderHost(input, host) };
  }
  const hostFiles: Record<string, RenderedFile[]> = {};
  for (const h of topology.hosts) Object.defineProperty(hostFiles, h.name, { enumerable: true, get: () => eachHostFiles([h]).next().value!.files });
  const zones = spec.dns === "zone" ? zoneFiles(recordSet, spec) : [];
  const dnsServerFiles =
    spec.dns === "zone"
      ? [renderNameserverFirewall(topology, input.hosts, zoneBackend(spec).nameservers[0].name), ...renderKnotServer(zones, topology, keys.tsig)]
      : [];
  return { topology, recordSet, eachHostFiles: () => eachHostFiles(), hostFiles, zoneFiles: zones, dnsServerFiles };
}

/** The addresses of existing servers (compute: byo), as the stack gives them. */
export function givenAddresses(spec: FleetSpec): AddressBook {
  return Object.fromEntries(
    spec.hosts
      .filter((h) => h.ipv4)
      .map((h) => [h.name, { ipv4: h.ipv4!, ...(h.ipv6 ? { ipv6: h.ipv6 } : {}), ...(h.privateIpv4 ? { privateIpv4: h.privateIpv4 } : {}) }]),
  );
}
