/**
 * The fleet watching itself: Debian's prometheus-node-exporter on every host, bound to its private
 * address (the firewall admits only the scrapers), and on monitoring hosts Debian's Prometheus,
 * Alertmanager and blackbox exporter. Every Debian unit starts `/usr/bin/<unit> $ARGS` from
 * /etc/default/<unit>; the deploy script does the same on a host without systemd (daemons.sh).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { ALERTMANAGER_PORT, BLACKBOX_PORT, Host, MTAIL_PORT, NODE_EXPORTER_PORT, POSTFIX_EXPORTER_PORT, PROMETHEUS_PORT, Topology } from "../../topology";
import { internalIpv4, PlacedHosts } from "../../topology/addresses";
import { file, RenderedFile } from "../file";
import { placed, RenderInput } from "../input";
import { POSTFIX_LOG } from "../postfix/common";
import { blackboxModules } from "./blackbox";
import { grafanaDashboard } from "./dashboard";
import { alertRules, probeIntervalSeconds, seconds } from "./rules";
import { ExporterJobs, exporterJobs, ProbeModule, probeJobs, TargetGroup } from "./targets";

/** The Debian units, each with its own /etc/default file; the deploy script's daemon names. */
export const EXPORTER_UNITS = {
  node: "prometheus-node-exporter",
  prometheus: "prometheus",
  alertmanager: "prometheus-alertmanager",
  blackbox: "prometheus-blackbox-exporter",
  postfix: "prometheus-postfix-exporter",
  mtail: "mtail",
} as const;

export const MONITORING_PATHS = {
  prometheusConfig: "/etc/prometheus/prometheus.yml",
  rules: "/etc/prometheus/mailfleet.rules.yml",
  alertmanagerConfig: "/etc/prometheus/alertmanager.yml",
  blackboxConfig: "/etc/prometheus/blackbox.yml",
} as const;

/** mtail's program for the deliveries by transport and status, in the directory Debian's unit reads (--progs /etc/mtail). */
export const MTAIL_PROGRAM = "/etc/mtail/postfix.mtail";

/** The mtail program, kept as mtail source beside this module (a daemon test runs it on a sample log). */
export const MTAIL_PROGRAM_SOURCE = join(__dirname, "postfix.mtail");

/** The user and group Debian's Prometheus packages run as. */
export const PROMETHEUS_GROUP = "prometheus";

/** Where the deploy script, the certificate hook and the backup script leave what no exporter tells. */
export const TEXTFILE_DIR = "/var/lib/prometheus/node-exporter";

export function argsPath(unit: string): string {
  return `/etc/default/${unit}`;
}

/** The /etc/default file Debian's unit reads: every flag is a fixed path or a validated address. */
function argsFile(unit: string, flags: string[]): RenderedFile {
  return file(argsPath(unit), `# Rendered by mailfleet: the flags of ${unit}.\nARGS="${flags.join(" ")}"\n`);
}

/** Every host's node exporter: on its private address only, with the textfile collector for mailfleet's own facts. */
export function renderNodeExporter(input: RenderInput, host: Host): RenderedFile[] {
  const address = internalIpv4(placed(input, host).addresses);
  return [argsFile(EXPORTER_UNITS.node, [`--web.listen-address=${address}:${NODE_EXPORTER_PORT}`, `--collector.textfile.directory=${TEXTFILE_DIR}`])];
}

/**
 * An MTA's own metrics, on its private address: Debian's postfix exporter (queues by age and size
 * from showq, smtpd and SASL counters from Postfix's own log) and mtail with a short program for
 * the deliveries by transport and status, which that exporter does not count.
 */
export function renderMtaExporters(input: RenderInput, host: Host): RenderedFile[] {
  const address = internalIpv4(placed(input, host).addresses);
  return [
    argsFile(EXPORTER_UNITS.postfix, [`--web.listen-address=${address}:${POSTFIX_EXPORTER_PORT}`, `--postfix.logfile_path=${POSTFIX_LOG}`]),
    // Debian's mtail unit reads these four variables, not ARGS.
    file(argsPath(EXPORTER_UNITS.mtail), `# Rendered by mailfleet: what mtail reads and where it answers.\nLOGS=${POSTFIX_LOG}\nHOST=${address}\nPORT=${MTAIL_PORT}\nEXTRA_ARGS=""\n`),
    file(MTAIL_PROGRAM, readFileSync(MTAIL_PROGRAM_SOURCE, "utf8")),
  ];
}

/** prometheus.yml: the fleet's exporters, the probes through the local blackbox exporter, the rules, the local Alertmanager. */
export function prometheusConfig(topology: Topology, hosts: PlacedHosts, own: string): string {
  const interval = seconds(topology.spec.monitoring.scrapeIntervalSeconds);
  const blackbox = `127.0.0.1:${BLACKBOX_PORT}`;
  const probeInterval = probeIntervalSeconds(topology);
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval },
    rule_files: [MONITORING_PATHS.rules],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [`${own}:${ALERTMANAGER_PORT}`] }] }] },
    scrape_configs: [
      ...Object.entries(exporterJobs(topology, hosts)).map(([job, groups]) => ({ job_name: job, static_configs: groups })),
      { job_name: "prometheus", static_configs: [{ targets: [`${own}:${PROMETHEUS_PORT}`] }] },
      { job_name: "alertmanager", static_configs: [{ targets: [`${own}:${ALERTMANAGER_PORT}`] }] },
      ...probeJobs(topology, hosts)
        .filter((p) => p.groups.length > 0)
        .map((p) => ({
          job_name: p.job,
          scrape_interval: seconds(probeInterval),
          scrape_timeout: seconds(probeInterval - 1),
          metrics_path: "/probe",
          params: { module: [p.module] },
          static_configs: p.groups,
          // The standard blackbox relabelling: the target becomes a parameter, the exporter the address.
          relabel_configs: [
            { source_labels: ["__address__"], target_label: "__param_target" },
            { source_labels: ["__param_target"], target_label: "instance" },
            { target_label: "__address__", replacement: blackbox },
          ],
        })),
    ],
  };
  return `# Rendered by mailfleet: what this monitoring host watches.\n${stringify(config)}`;
}

/** alertmanager.yml: every alert to the operator's webhook (outside the fleet), resolved ones too. */
export function alertmanagerConfig(topology: Topology): string {
  const { webhookUrl, scrapeIntervalSeconds } = topology.spec.monitoring;
  const config = {
    route: {
      receiver: "operator",
      group_by: ["alertname", "host"],
      group_wait: seconds(scrapeIntervalSeconds),
      group_interval: seconds(2 * scrapeIntervalSeconds),
      repeat_interval: "4h",
      // The Watchdog repeats often: a receiver that stops hearing it knows the alerting is down.
      routes: [{ matchers: ['alertname="Watchdog"'], receiver: "operator", repeat_interval: "5m" }],
    },
    receivers: [{ name: "operator", ...(webhookUrl ? { webhook_configs: [{ url: webhookUrl, send_resolved: true }] } : {}) }],
  };
  return `# Rendered by mailfleet: where alerts go (monitoring.webhookUrl).\n${stringify(config)}`;
}

export function renderMonitoringHost(input: RenderInput, host: Host): RenderedFile[] {
  const own = internalIpv4(placed(input, host).addresses);
  const { topology } = input;
  const header = (what: string) => `# Rendered by mailfleet: ${what}.\n`;
  return [
    argsFile(EXPORTER_UNITS.prometheus, [
      `--config.file=${MONITORING_PATHS.prometheusConfig}`,
      `--web.listen-address=${own}:${PROMETHEUS_PORT}`,
      "--storage.tsdb.path=/var/lib/prometheus/metrics2/",
    ]),
    file(MONITORING_PATHS.prometheusConfig, prometheusConfig(topology, input.hosts, own)),
    file(MONITORING_PATHS.rules, header("the fleet's alert rules") + stringify(alertRules(topology))),
    // No cluster port: each monitoring host's Alertmanager stands alone, and nothing listens on 0.0.0.0:9094.
    argsFile(EXPORTER_UNITS.alertmanager, [
      `--config.file=${MONITORING_PATHS.alertmanagerConfig}`,
      `--web.listen-address=${own}:${ALERTMANAGER_PORT}`,
      "--storage.path=/var/lib/prometheus/alertmanager/",
      "--cluster.listen-address=",
    ]),
    // The webhook URL may hold a token: readable by Alertmanager's user only.
    file(MONITORING_PATHS.alertmanagerConfig, alertmanagerConfig(topology), { secret: true, mode: 0o640, group: PROMETHEUS_GROUP }),
    argsFile(EXPORTER_UNITS.blackbox, [`--config.file=${MONITORING_PATHS.blackboxConfig}`, `--web.listen-address=127.0.0.1:${BLACKBOX_PORT}`]),
    file(MONITORING_PATHS.blackboxConfig, header("how each probe talks to the fleet") + stringify({ modules: blackboxModules(host.fqdn) })),
  ];
}

/** What an operator's own Prometheus needs to watch the fleet (stack output `monitoring`). */
export interface MonitoringOutputs {
  /** file_sd lists: each exporter job's targets (targets.ts), and each probe job's targets (scrape them through your blackbox exporter with `module`). */
  fileSd: ExporterJobs & { probes: { job: string; module: ProbeModule; targets: TargetGroup[] }[] };
  /** The alert rule file, as a monitoring host loads it. */
  rules: string;
  /** The blackbox exporter's modules the probes use. */
  blackboxModules: string;
  /** The fleet's Grafana dashboard (JSON to import). */
  dashboard: string;
}

export function monitoringOutputs(topology: Topology, hosts: PlacedHosts): MonitoringOutputs {
  return {
    fileSd: { ...exporterJobs(topology, hosts), probes: probeJobs(topology, hosts).map((p) => ({ job: p.job, module: p.module, targets: p.groups })) },
    rules: stringify(alertRules(topology)),
    // Your prober greets the MX hosts with a name of the fleet's: give it one that resolves if your edges check it.
    blackboxModules: stringify({ modules: blackboxModules(`monitoring.${topology.spec.serverDomain}`) }),
    dashboard: JSON.stringify(grafanaDashboard(topology), null, 2),
  };
}
