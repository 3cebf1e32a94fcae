/**
 * What Prometheus watches, from the topology alone: every host's exporter and every probe of a
 * service, each labelled with its `host` and `role`. The monitoring host's own prometheus.yml and
 * the stack outputs for an operator's own Prometheus (file_sd lists) are both made from these.
 */
import { Role } from "../../config/spec";
import { DOVECOT_METRICS_PORT, domainWebNames, hostsOf, IMAPS_PORT, LMTP_PORT, MTAIL_PORT, NODE_EXPORTER_PORT, POSTFIX_EXPORTER_PORT, RSPAMD_METRICS_PORT, SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT, Topology } from "../../topology";
import { internalIpv4, PlacedHosts } from "../../topology/addresses";

/** One file_sd entry: targets and the labels they share. */
export interface TargetGroup {
  targets: string[];
  labels: { host: string; role: Role };
}

/** The blackbox modules the probes use (blackbox.ts defines each). */
export type ProbeModule = "smtp_starttls" | "tls_connect" | "lmtp_banner" | "mta_sts";

export interface ProbeJob {
  /** The Prometheus job name; alert rules match on it. */
  job: string;
  module: ProbeModule;
  groups: TargetGroup[];
}

/** node_exporter on every host, at the address it binds (the private one). */
export function exporterTargets(topology: Topology, hosts: PlacedHosts): TargetGroup[] {
  return topology.hosts.map((h) => ({ targets: [`${internalIpv4(hosts[h.name].addresses)}:${NODE_EXPORTER_PORT}`], labels: { host: h.name, role: h.role } }));
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
}

/** Every exporter Prometheus scrapes: a monitoring host's scrape jobs and the stack's file_sd lists alike. */
export function exporterJobs(topology: Topology, hosts: PlacedHosts): ExporterJobs {
  return {
    node: exporterTargets(topology, hosts),
    dovecot: dovecotTargets(topology, hosts),
    postfix: mtaTargets(topology, hosts, POSTFIX_EXPORTER_PORT),
    mtail: mtaTargets(topology, hosts, MTAIL_PORT),
    rspamd: mtaTargets(topology, hosts, RSPAMD_METRICS_PORT),
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
