/**
 * The whole pure pipeline in one call: spec + addresses + keys → topology, the DNS record set,
 * every host's files and, for the zone backend, the authoritative server's files. The Pulumi
 * layer calls it inside one `pulumi.all(...).apply`, the offline render and the lab call it
 * directly: the same function, so what a cloud stack gets is what the lab tests.
 */
import { checkFleetConfig, ConfigError, firstPerPath, ParseOptions, readStackConfig, StackFileOptions } from "./config";
import { FleetSpec } from "./config/spec";
import { daneKeys, FleetKeys } from "./keys/material";
import { recordNameProblems, RecordSet, recordSetOf, ZoneFile, zoneBackend, zoneFiles } from "./records";
import { renderHost, renderInput } from "./render";
import { RenderedFile } from "./render/file";
import { renderNameserverFirewall } from "./render/firewall";
import { renderKnotServer } from "./render/knot";
import { renderNameserverExporters } from "./render/monitoring";
import { AddressBook, placeHosts } from "./topology/addresses";
import { buildTopology, Host, hostsOf, Topology, topologyProblems } from "./topology";
export { givenAddresses } from "./topology/addresses";

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
   * program, tests). Rendered each time an entry is read and not kept: read each
   * entry once (Object.entries renders every host).
   */
  hostFiles: Record<string, RenderedFile[]>;
  /** Forward and reverse zones (dns: zone only). */
  zoneFiles: ZoneFile[];
  /** The authoritative server's config and zones (dns: zone only). */
  dnsServerFiles: RenderedFile[];
}

/**
 * Raw stack config → FleetSpec, with every problem of every stage in one ConfigError: the keys
 * (config's schema and rules), the names topology gives (hosts, mailbox stores) and the names the
 * record set would publish. What buildTopology and buildRecordSet would refuse later is refused here.
 */
export function parseFleet(raw: Record<string, unknown>, options: ParseOptions = {}): FleetSpec {
  const { spec, placement, problems: keys } = checkFleetConfig(raw, options);
  const problems = firstPerPath([...keys, ...(placement ? topologyProblems(placement) : [])]);
  // The record names need a topology, which only a spec without problems makes.
  if (spec && problems.length === 0) problems.push(...recordNameProblems(buildTopology(spec)));
  if (problems.length > 0 || !spec) throw new ConfigError(problems);
  return spec;
}

/** A stack file read and validated in full (parseFleet): the one way the render, the check, the engine and the lab get a spec. */
export function readStackSpec(stack: string, options: StackFileOptions = {}): { spec: FleetSpec; redacted: boolean } {
  const { raw, redacted } = readStackConfig(stack, options);
  return { spec: parseFleet(raw, { allowRedacted: (options.allowRedacted ?? false) && redacted }), redacted };
}

/** backupRepositoryBase: where the stack's own backup storage keeps the stores' repositories (RenderInput). */
export function buildFleet(spec: FleetSpec, addresses: AddressBook, keys: FleetKeys, backupRepositoryBase?: string): FleetBuild {
  const topology = buildTopology(spec);
  // The one join of hosts and addresses: the records and the files are made from the same placed hosts.
  const placed = placeHosts(topology, addresses);
  const recordSet = recordSetOf(topology, placed, [...keys.dkim, keys.arc], spec.dnssec ? daneKeys(spec, hostsOf(topology, "edge"), keys) : []);
  const input = renderInput(topology, placed, keys, recordSet.mtaSts.policy, backupRepositoryBase);
  function* eachHostFiles(): Generator<HostFiles> {
    for (const host of topology.hosts) yield { host, files: renderHost(input, host) };
  }
  const hostFiles: Record<string, RenderedFile[]> = {};
  for (const h of topology.hosts) Object.defineProperty(hostFiles, h.name, { enumerable: true, get: () => renderHost(input, h) });
  const zones = spec.dns === "zone" ? zoneFiles(recordSet, spec) : [];
  const dnsServerFiles =
    spec.dns === "zone"
      ? [renderNameserverFirewall(topology, input.hosts, zoneBackend(spec).nameservers[0].name), ...renderKnotServer(zones, topology, keys.tsig), ...renderNameserverExporters(topology)]
      : [];
  return { topology, recordSet, eachHostFiles, hostFiles, zoneFiles: zones, dnsServerFiles };
}
