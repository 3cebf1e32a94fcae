/**
 * The fleet watching itself: Debian's prometheus-node-exporter on every host, bound to its private
 * address (the firewall admits only the scrapers), and on monitoring hosts Debian's Prometheus,
 * Alertmanager and blackbox exporter. Every Debian unit starts `/usr/bin/<unit> $ARGS` from
 * /etc/default/<unit>; the deploy script does the same on a host without systemd (daemons.sh).
 * The primary nameserver (dns: zone) runs the node exporter and Debian's knot-exporter, which
 * ships no unit: the push installs one that reads its flags the same way.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { AlertMailSpec } from "../../config/spec";
import { ALERTMANAGER_PORT, BLACKBOX_PORT, Host, KNOT_EXPORTER_PORT, MTAIL_PORT, NODE_EXPORTER_PORT, POSTFIX_EXPORTER_PORT, PROMETHEUS_PORT, Topology } from "../../topology";
import { internalIpv4, PlacedHosts } from "../../topology/addresses";
import { file, RenderedFile } from "../file";
import { KNOT_RUNDIR } from "../knot";
import { placed, RenderInput } from "../input";
import { POSTFIX_LOG } from "../postfix/common";
import { blackboxModules } from "./blackbox";
import { grafanaDashboard } from "./dashboard";
import { alertRules, probeIntervalSeconds, seconds } from "./rules";
import { BLOCKLIST_JOB, blocklistProbes, blocklistTargets, BlocklistTargetGroup, ExporterJobs, exporterJobs, ProbeModule, probeJobs, TargetGroup, watchedNameserver } from "./targets";

/** The Debian units, each with its own /etc/default file; the deploy script's daemon names. */
export const EXPORTER_UNITS = {
  node: "prometheus-node-exporter",
  prometheus: "prometheus",
  alertmanager: "prometheus-alertmanager",
  blackbox: "prometheus-blackbox-exporter",
  postfix: "prometheus-postfix-exporter",
  mtail: "mtail",
  knot: "knot-exporter",
} as const;

export const MONITORING_PATHS = {
  prometheusConfig: "/etc/prometheus/prometheus.yml",
  rules: "/etc/prometheus/mailfleet.rules.yml",
  alertmanagerConfig: "/etc/prometheus/alertmanager.yml",
  blackboxConfig: "/etc/prometheus/blackbox.yml",
  /** The CA the alert mail relay's certificate must chain to (monitoring.email.relay.caCertificate). */
  alertRelayCa: "/etc/prometheus/alert-relay-ca.pem",
} as const;

/** mtail's program for the deliveries by transport and status, in the directory Debian's unit reads (--progs /etc/mtail). */
export const MTAIL_PROGRAM = "/etc/mtail/postfix.mtail";

/** The mtail program, kept as mtail source beside this module (a daemon test runs it on a sample log). */
export const MTAIL_PROGRAM_SOURCE = join(__dirname, "postfix.mtail");

/** knot-exporter's unit, which Debian does not ship (daemons.sh reloads systemd when the push changes it). */
export const KNOT_EXPORTER_UNIT = `/etc/systemd/system/${EXPORTER_UNITS.knot}.service`;

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

/** The node exporter on `address`, with the textfile collector for mailfleet's own facts. */
function nodeExporter(address: string): RenderedFile {
  return argsFile(EXPORTER_UNITS.node, [`--web.listen-address=${address}:${NODE_EXPORTER_PORT}`, `--collector.textfile.directory=${TEXTFILE_DIR}`]);
}

/** Every host's node exporter: on its private address only. */
export function renderNodeExporter(input: RenderInput, host: Host): RenderedFile[] {
  return [nodeExporter(internalIpv4(placed(input, host).addresses))];
}

/**
 * The primary nameserver's exporters (dns: zone): the node exporter and knot-exporter, which reads
 * knotd's statistics (mod-stats), zone serials and timers over its control socket. The stack gives
 * the nameserver its public addresses only, so they listen on its IPv4; its firewall admits the
 * scrapers alone. knot-exporter runs as knot, the account the control socket admits.
 */
export function renderNameserverExporters(topology: Topology): RenderedFile[] {
  const ns = watchedNameserver(topology);
  if (!ns) return [];
  const unit = [
    "# Rendered by mailfleet: Debian's knot-exporter ships no unit.",
    "[Unit]",
    "Description=Prometheus exporter for Knot DNS",
    "After=knot.service",
    "",
    "[Service]",
    "User=knot",
    "Group=knot",
    `EnvironmentFile=${argsPath(EXPORTER_UNITS.knot)}`,
    `ExecStart=/usr/sbin/${EXPORTER_UNITS.knot} $ARGS`,
    // It asks knotd at its start and exits if knotd does not answer yet: it tries again.
    "Restart=on-failure",
    "RestartSec=5",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
  return [
    nodeExporter(ns.address),
    argsFile(EXPORTER_UNITS.knot, [`--web-listen-addr ${ns.address}`, `--web-listen-port ${KNOT_EXPORTER_PORT}`, `--knot-socket-path ${KNOT_RUNDIR}/knot.sock`]),
    file(KNOT_EXPORTER_UNIT, unit),
  ];
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
  /** A probe job; without `module` each target names its own (label __param_module). */
  const probeScrape = (job: string, groups: TargetGroup[], module?: ProbeModule) => ({
    job_name: job,
    scrape_interval: seconds(probeInterval),
    scrape_timeout: seconds(probeInterval - 1),
    metrics_path: "/probe",
    ...(module ? { params: { module: [module] } } : {}),
    static_configs: groups,
    // The standard blackbox relabelling: the target becomes a parameter, the exporter the address.
    relabel_configs: [
      { source_labels: ["__address__"], target_label: "__param_target" },
      { source_labels: ["__param_target"], target_label: "instance" },
      { target_label: "__address__", replacement: blackbox },
    ],
  });
  const blocklists = blocklistTargets(blocklistProbes(topology, hosts));
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval },
    rule_files: [MONITORING_PATHS.rules],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [`${own}:${ALERTMANAGER_PORT}`] }] }] },
    scrape_configs: [
      // A job without targets (knot on a stack without a zone backend) is left out.
      ...Object.entries(exporterJobs(topology, hosts))
        .filter(([, groups]) => groups.length > 0)
        .map(([job, groups]) => ({ job_name: job, static_configs: groups })),
      { job_name: "prometheus", static_configs: [{ targets: [`${own}:${PROMETHEUS_PORT}`] }] },
      { job_name: "alertmanager", static_configs: [{ targets: [`${own}:${ALERTMANAGER_PORT}`] }] },
      ...probeJobs(topology, hosts)
        .filter((p) => p.groups.length > 0)
        .map((p) => probeScrape(p.job, p.groups, p.module)),
      ...(blocklists.length > 0 ? [probeScrape(BLOCKLIST_JOB, blocklists)] : []),
    ],
  };
  return `# Rendered by mailfleet: what this monitoring host watches.\n${stringify(config)}`;
}

/**
 * Alert mail through the relay provider, logged in after STARTTLS (or on 465 with TLS at once) with
 * the relay's certificate verified, greeting with the monitoring host's name.
 */
function emailConfig(mail: AlertMailSpec, hello: string) {
  const { relay } = mail;
  return {
    to: mail.to.join(", "),
    from: mail.from,
    smarthost: `${relay.host}:${relay.port}`,
    hello,
    auth_username: relay.username,
    auth_password: relay.password,
    require_tls: true,
    tls_config: { server_name: relay.host, ...(relay.caCertificate ? { ca_file: MONITORING_PATHS.alertRelayCa } : {}) },
    send_resolved: true,
  };
}

/**
 * alertmanager.yml: every alert to the operator's webhook and alert mail (both outside the fleet),
 * resolved ones too. The Watchdog, which repeats every 5 minutes, goes to the webhook only: a mailbox
 * would get 288 of them a day.
 */
export function alertmanagerConfig(topology: Topology, hello: string): string {
  const { webhookUrl, email, scrapeIntervalSeconds } = topology.spec.monitoring;
  // A fresh object for each receiver: a shared one would be written as a YAML alias.
  const webhook = () => (webhookUrl ? { webhook_configs: [{ url: webhookUrl, send_resolved: true }] } : {});
  const config = {
    route: {
      receiver: "operator",
      group_by: ["alertname", "host"],
      group_wait: seconds(scrapeIntervalSeconds),
      group_interval: seconds(2 * scrapeIntervalSeconds),
      repeat_interval: "4h",
      // The Watchdog repeats often: a receiver that stops hearing it knows the alerting is down.
      routes: [{ matchers: ['alertname="Watchdog"'], receiver: "watchdog", repeat_interval: "5m" }],
    },
    receivers: [
      { name: "operator", ...webhook(), ...(email ? { email_configs: [emailConfig(email, hello)] } : {}) },
      { name: "watchdog", ...webhook() },
    ],
  };
  return `# Rendered by mailfleet: where alerts go (monitoring.webhookUrl, monitoring.email).\n${stringify(config)}`;
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
    // The webhook URL may hold a token, the mail route a password: readable by Alertmanager's user only.
    file(MONITORING_PATHS.alertmanagerConfig, alertmanagerConfig(topology, host.fqdn), { secret: true, mode: 0o640, group: PROMETHEUS_GROUP }),
    ...(topology.spec.monitoring.email?.relay.caCertificate ? [file(MONITORING_PATHS.alertRelayCa, topology.spec.monitoring.email.relay.caCertificate)] : []),
    argsFile(EXPORTER_UNITS.blackbox, [`--config.file=${MONITORING_PATHS.blackboxConfig}`, `--web.listen-address=127.0.0.1:${BLACKBOX_PORT}`]),
    file(MONITORING_PATHS.blackboxConfig, header("how each probe talks to the fleet") + stringify({ modules: blackboxModules(host.fqdn, blocklistProbes(topology, input.hosts)) })),
  ];
}

/** What an operator's own Prometheus needs to watch the fleet (stack output `monitoring`). */
export interface MonitoringOutputs {
  /** file_sd lists: each exporter job's targets (targets.ts), and each probe job's targets (scrape them through your blackbox exporter with `module`). */
  fileSd: ExporterJobs & {
    probes: { job: string; module: ProbeModule; targets: TargetGroup[] }[];
    /**
     * Every sending address in every list of spam.dnsbls: each target is the resolver on your blackbox
     * exporter's own host (127.0.0.1:53, one that asks the lists itself, not a public one), each group
     * names its module in `__param_module`; scrape them as the job this names through your blackbox exporter.
     */
    blocklists: { job: string; targets: BlocklistTargetGroup[] };
  };
  /** The alert rule file, as a monitoring host loads it. */
  rules: string;
  /** The blackbox exporter's modules the probes use (one per blocklist probe). */
  blackboxModules: string;
  /** The fleet's Grafana dashboard (JSON to import). */
  dashboard: string;
}

export function monitoringOutputs(topology: Topology, hosts: PlacedHosts): MonitoringOutputs {
  const blocklists = blocklistProbes(topology, hosts);
  return {
    fileSd: {
      ...exporterJobs(topology, hosts),
      probes: probeJobs(topology, hosts).map((p) => ({ job: p.job, module: p.module, targets: p.groups })),
      blocklists: { job: BLOCKLIST_JOB, targets: blocklistTargets(blocklists) },
    },
    rules: stringify(alertRules(topology)),
    // Your prober greets the MX hosts with a name of the fleet's: give it one that resolves if your edges check it.
    blackboxModules: stringify({ modules: blackboxModules(`monitoring.${topology.spec.serverDomain}`, blocklists) }),
    dashboard: JSON.stringify(grafanaDashboard(topology), null, 2),
  };
}
