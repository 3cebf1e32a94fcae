/**
 * What Prometheus watches, from the topology alone: every host's exporter (the zone backend's
 * primary nameserver's too) and every probe of a service, each labelled with its `host` and `role`.
 * The monitoring host's own prometheus.yml and the stack outputs for an operator's own Prometheus
 * (file_sd lists) are both made from these.
 */
import { Role } from "../../config/spec";
import { zoneBackend } from "../../records/zoneFile";
import { DOVECOT_METRICS_PORT, domainWebNames, HostRole, hostsOf, IMAPS_PORT, LMTP_PORT, NODE_EXPORTER_PORT, SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT, Topology } from "../../topology";
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

/** The edge and outbound hosts' MTA exporters at `port` (the postfix exporter, mtail). */
export function mtaTargets(topology: Topology, hosts: PlacedHosts, port: number): TargetGroup[] {
  return topology.hosts.filter((h) => h.sends).map((h) => ({ targets: [`${internalIpv4(hosts[h.name].addresses)}:${port}`], labels: { host: h.name, role: h.role } }));
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
