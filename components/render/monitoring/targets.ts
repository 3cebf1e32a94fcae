/**
 * What Prometheus watches, from the topology alone: every host's exporter (the zone backend's
 * primary nameserver's too) and every probe of a service, each labelled with its `host` and `role`.
 * The monitoring host's own prometheus.yml and the stack outputs for an operator's own Prometheus
 * (file_sd lists) are both made from these.
 */
import { blocklistZones } from "../../config/dnsList";
import { Role } from "../../config/spec";
import { dnsblQuery } from "../../records";
import { zoneBackend } from "../../records/zoneFile";
import { DNS_PORT, DOVECOT_METRICS_PORT, domainWebNames, HostRole, hostsOf, IMAPS_PORT, KNOT_EXPORTER_PORT, LMTP_PORT, MTAIL_PORT, NODE_EXPORTER_PORT, POSTFIX_EXPORTER_PORT, RSPAMD_METRICS_PORT, SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT, Topology } from "../../topology";
import { internalIpv4, PlacedHosts } from "../../topology/addresses";

/** One file_sd entry: targets and the labels they share. */
export interface TargetGroup {
  targets: string[];
  labels: { host: string; role: HostRole };
}

/** The blackbox modules the probes use (blackbox.ts defines each). */
export type ProbeModule = "smtp_starttls" | "tls_connect" | "lmtp_banner" | "mta_sts";

export interface ProbeJob {
  /** The Prometheus job name; alert rules match on it. */
  job: string;
  module: ProbeModule;
  groups: TargetGroup[];
}

/**
 * The zone backend's primary nameserver (dns: zone) as Prometheus knows it: labelled by its short
 * name and role dns, its exporters on its first address, the only one the stack gives it.
 */
export function watchedNameserver(topology: Topology): { host: string; address: string } | undefined {
  if (topology.spec.dns !== "zone") return undefined;
  const primary = zoneBackend(topology.spec).nameservers[0];
  return { host: primary.name.split(".")[0], address: primary.ipv4 };
}

/** The primary nameserver's exporter at `port`, if the stack has one. */
export function nameserverTargets(topology: Topology, port: number): TargetGroup[] {
  const ns = watchedNameserver(topology);
  return ns ? [{ targets: [`${ns.address}:${port}`], labels: { host: ns.host, role: "dns" } }] : [];
}

/** node_exporter on every host, at the address it binds (the private one), and on the primary nameserver. */
export function exporterTargets(topology: Topology, hosts: PlacedHosts): TargetGroup[] {
  return [
    ...topology.hosts.map((h) => ({ targets: [`${internalIpv4(hosts[h.name].addresses)}:${NODE_EXPORTER_PORT}`], labels: { host: h.name, role: h.role } })),
    ...nameserverTargets(topology, NODE_EXPORTER_PORT),
  ];
}

/** Each store's Dovecot OpenMetrics endpoint (auth and delivery counters). */
export function dovecotTargets(topology: Topology, hosts: PlacedHosts): TargetGroup[] {
  return hostsOf(topology, "store").map((h) => ({ targets: [`${internalIpv4(hosts[h.name].addresses)}:${DOVECOT_METRICS_PORT}`], labels: { host: h.name, role: h.role } }));
}

/** The edge and outbound hosts' metrics at `port` (the postfix exporter, mtail, rspamd's metrics path). */
export function mtaTargets(topology: Topology, hosts: PlacedHosts, port: number): TargetGroup[] {
  return topology.hosts.filter((h) => h.sends).map((h) => ({ targets: [`${internalIpv4(hosts[h.name].addresses)}:${port}`], labels: { host: h.name, role: h.role } }));
}

/** The fleet's exporters by Prometheus job name (alert rules match on it). */
export interface ExporterJobs {
  node: TargetGroup[];
  dovecot: TargetGroup[];
  postfix: TargetGroup[];
  mtail: TargetGroup[];
  rspamd: TargetGroup[];
  /** The primary nameserver's knot-exporter (dns: zone), none otherwise. */
  knot: TargetGroup[];
}

/** Every exporter Prometheus scrapes: a monitoring host's scrape jobs and the stack's file_sd lists alike. */
export function exporterJobs(topology: Topology, hosts: PlacedHosts): ExporterJobs {
  return {
    node: exporterTargets(topology, hosts),
    dovecot: dovecotTargets(topology, hosts),
    postfix: mtaTargets(topology, hosts, POSTFIX_EXPORTER_PORT),
    mtail: mtaTargets(topology, hosts, MTAIL_PORT),
    rspamd: mtaTargets(topology, hosts, RSPAMD_METRICS_PORT),
    knot: nameserverTargets(topology, KNOT_EXPORTER_PORT),
  };
}

/**
 * The probes of the services users and senders reach, by name as they do (so the certificate is
 * checked for the name it must carry), and the stores' LMTP banner from inside the fleet.
 */
export function probeJobs(topology: Topology, hosts: PlacedHosts): ProbeJob[] {
  const byName = (role: Role, port: number): TargetGroup[] => hostsOf(topology, role).map((h) => ({ targets: [`${h.fqdn}:${port}`], labels: { host: h.name, role } }));
  const edges = hostsOf(topology, "edge");
  return [
    { job: "smtp", module: "smtp_starttls", groups: [...byName("edge", SMTP_PORT), ...byName("outbound", SUBMISSION_PORT)] },
    { job: "tls", module: "tls_connect", groups: [...byName("outbound", SUBMISSIONS_PORT), ...byName("store", IMAPS_PORT)] },
    {
      job: "lmtp",
      module: "lmtp_banner",
      groups: hostsOf(topology, "store").map((h) => ({ targets: [`${internalIpv4(hosts[h.name].addresses)}:${LMTP_PORT}`], labels: { host: h.name, role: "store" } })),
    },
    // Every edge serves every domain's policy; the probe asks by name, as a sender does (any edge may answer).
    {
      job: "mta_sts",
      module: "mta_sts",
      groups: edges.length === 0 ? [] : topology.spec.domains.map((d) => ({ targets: [`https://${domainWebNames(d).mtaSts}/.well-known/mta-sts.txt`], labels: { host: edges[0].name, role: "edge" } })),
    },
  ];
}

/** The blocklist probes' job; alert rules match on it. */
export const BLOCKLIST_JOB = "dnsbl";

/**
 * Where a blocklist probe asks: the prober's own resolver on loopback (render/resolver.ts on a
 * monitoring host). Lists refuse queries that come through public resolvers.
 */
export const BLOCKLIST_RESOLVER = `127.0.0.1:${DNS_PORT}`;

/** One sending address asked about in one list: the blackbox exporter's dns prober has a fixed query, so each is a module of its own. */
export interface BlocklistProbe {
  /** `dnsbl_<host>_<ipv4|ipv6>_<zone>`: a host label and a validated DNS name, so letters, digits, `-`, `_` and `.` only. */
  module: string;
  /** The A query that asks the list: `<reversed address>.<zone>`. */
  query: string;
  labels: { host: string; role: Role; address: string; zone: string };
}

/** A blocklist probe's file_sd entry: the resolver as target, and its module as `__param_module`, which sets the probe's module per target. */
export interface BlocklistTargetGroup {
  targets: string[];
  labels: BlocklistProbe["labels"] & { __param_module: string };
}

/** Every sending address (IPv4, and IPv6 when on) of the hosts that send to the Internet, in every zone of spam.dnsbls. */
export function blocklistProbes(topology: Topology, hosts: PlacedHosts): BlocklistProbe[] {
  const zones = blocklistZones(topology.spec.spam.dnsbls);
  return topology.hosts
    .filter((h) => h.sends)
    .flatMap((h) => {
      const { ipv4, ipv6 } = hosts[h.name].addresses;
      const addresses: [family: string, address: string][] = [["ipv4", ipv4], ...(ipv6 ? [["ipv6", ipv6] as [string, string]] : [])];
      return addresses.flatMap(([family, address]) =>
        zones.map((zone) => ({ module: `dnsbl_${h.name}_${family}_${zone}`, query: dnsblQuery(address, zone), labels: { host: h.name, role: h.role, address, zone } })),
      );
    });
}

export function blocklistTargets(probes: BlocklistProbe[]): BlocklistTargetGroup[] {
  return probes.map((p) => ({ targets: [BLOCKLIST_RESOLVER], labels: { ...p.labels, __param_module: p.module } }));
}
