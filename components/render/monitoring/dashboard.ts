/**
 * The fleet's Grafana dashboard (stack output `monitoring.dashboard`, and `grafana-dashboard.json`
 * beside an offline render): one panel per question an operator asks, each split by host, with a
 * `host` variable listing the fleet's hosts. Import it into Grafana and pick the Prometheus that
 * scrapes the fleet.
 */
import { createHash } from "node:crypto";
import { Topology } from "../../topology";
import { LISTED_METRIC } from "./rules";
import { watchedNameserver } from "./targets";

export interface DashboardPanel {
  title: string;
  /** PromQL; `$host` is the dashboard's host variable (a regex of the chosen hosts). */
  expr: string;
  legend: string;
  unit: string;
  description: string;
}

/** Counters as increases over five minutes: what happened lately, per host. */
export const DASHBOARD_PANELS: readonly DashboardPanel[] = [
  {
    title: "Queued messages",
    expr: 'sum by (host, queue) (postfix_showq_message_age_seconds_count{host=~"$host"})',
    legend: "{{host}} {{queue}}",
    unit: "short",
    description: "Messages in each MTA's Postfix queues (QueueLarge, QueueStuck).",
  },
  {
    title: "Deliveries by status (5 min)",
    expr: 'sum by (host, transport, status) (increase(postfix_deliveries_total{host=~"$host"}[5m]))',
    legend: "{{host}} {{transport}} {{status}}",
    unit: "short",
    description: "Delivery attempts by agent (smtp to the Internet, lmtp to the stores) and outcome, from mtail.",
  },
  {
    title: "SMTP rejects (5 min)",
    expr: 'sum by (host, code) (increase(postfix_smtpd_messages_rejected_total{host=~"$host"}[5m]))',
    legend: "{{host}} {{code}}",
    unit: "short",
    description: "Mail refused at the door (unknown recipients, policy, blocklists), by SMTP code.",
  },
  {
    title: "rspamd actions (5 min)",
    expr: 'sum by (host, type) (increase(rspamd_actions_total{host=~"$host"}[5m]))',
    legend: "{{host}} {{type}}",
    unit: "short",
    description: "What rspamd did with the mail it scanned on each edge and outbound host: no action, greylist, add header, soft reject, reject (RspamdRejectRateHigh, RspamdNotScanning).",
  },
  {
    title: "Failed logins (5 min)",
    expr: 'sum by (host) (increase(dovecot_auth_failures_total{host=~"$host"}[5m])) or sum by (host) (increase(postfix_smtpd_sasl_authentication_failures_total{host=~"$host"}[5m]))',
    legend: "{{host}}",
    unit: "short",
    description: "IMAP and LMTP logins refused by the stores' Dovecot, SMTP AUTH refused by the outbound hosts (AuthFailureSpike).",
  },
  {
    title: "Certificates: days left",
    expr: 'min by (host, lineage) (mailfleet_certificate_not_after_seconds{host=~"$host"} - time()) / 86400',
    legend: "{{host}} {{lineage}}",
    unit: "d",
    description: "Each lineage on disk; certbot renews at 30 days (CertificateExpiresSoon).",
  },
  {
    title: "Last good backup: hours ago",
    expr: '(time() - max by (host) (mailfleet_backup_last_success_timestamp_seconds{host=~"$host"})) / 3600',
    legend: "{{host}}",
    unit: "h",
    description: "Each store's last successful restic backup (BackupTooOld).",
  },
  {
    title: "Sending addresses on blocklists",
    expr: `sum by (host, address) (${LISTED_METRIC}{host=~"$host"})`,
    legend: "{{host}} {{address}}",
    unit: "short",
    description: "In how many lists of spam.dnsbls each sending address is listed, 0 when in none (SendingAddressListed); a gap is a list that gave no verdict (BlocklistCheckFailing).",
  },
  {
    title: "DNS queries by zone (5 min)",
    expr: 'sum by (host, zone) (increase(knot_server_operation_total{type="query", host=~"$host"}[5m]))',
    legend: "{{host}} {{zone}}",
    unit: "short",
    description: "Queries the primary nameserver's Knot answered for each zone (mod-stats, via knot-exporter; by type: knot_query_type_total).",
  },
];

/** The dashboard as Grafana imports it: a Prometheus data source to pick, the fleet's hosts, the panels two abreast. */
export function grafanaDashboard(topology: Topology): object {
  const { serverDomain } = topology.spec;
  const datasource = { type: "prometheus", uid: "${datasource}" };
  const nameserver = watchedNameserver(topology);
  const hosts = [...topology.hosts.map((h) => h.name), ...(nameserver ? [nameserver.host] : [])];
  return {
    title: `mailfleet ${serverDomain}`,
    // Stable per fleet, so a re-import replaces the dashboard instead of adding another.
    uid: `mailfleet-${createHash("sha256").update(serverDomain).digest("hex").slice(0, 12)}`,
    tags: ["mailfleet"],
    schemaVersion: 39,
    time: { from: "now-6h", to: "now" },
    refresh: "1m",
    templating: {
      list: [
        { name: "datasource", label: "Prometheus", type: "datasource", query: "prometheus" },
        {
          name: "host",
          label: "Host",
          type: "custom",
          query: hosts.join(","),
          options: hosts.map((h) => ({ text: h, value: h, selected: false })),
          current: { text: "All", value: "$__all" },
          includeAll: true,
          allValue: ".*",
          multi: true,
        },
      ],
    },
    panels: DASHBOARD_PANELS.map((p, i) => ({
      id: i + 1,
      type: "timeseries",
      title: p.title,
      description: p.description,
      datasource,
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
      targets: [{ refId: "A", datasource, expr: p.expr, legendFormat: p.legend }],
    })),
  };
}
