/**
 * The monitoring host's files for the lab stack, checked by Debian 13's own tools: `promtool check
 * config` (with the rules), `amtool check-config`, the blackbox exporter's `--config.check`, every
 * unit's flags; `promtool test rules` proving each alert fires on its series and stays quiet on
 * healthy ones; and the blocklist probes' modules run by the real blackbox exporter against rbldnsd.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { describe, it } from "node:test";
import { stringify } from "yaml";
import { file, RenderedFile } from "../../components/render/file";
import { KNOT_CONF } from "../../components/render/knot";
import { argsPath, EXPORTER_UNITS, KNOT_EXPORTER_UNIT, MONITORING_PATHS, MTAIL_PROGRAM, renderMonitoringHost, renderMtaExporters, renderNameserverExporters, renderNodeExporter } from "../../components/render/monitoring";
import { blocklistProbes } from "../../components/render/monitoring/targets";
import { alertRules, probeIntervalSeconds } from "../../components/render/monitoring/rules";
import { hostNamed } from "../../components/topology";
import { Debian13Host, withDebian13Host } from "../support/debian13";
import { labInput } from "../support/lab";
import { awaitZones, LAB as KNOT_LAB, sections, unsignedFiles, zones } from "./knot.fixtures";

const input = labInput();
const mon = hostNamed(input.topology, "mon");
const files = [...renderMonitoringHost(input, mon), ...renderNodeExporter(input, mon)];
const { thresholds } = input.topology.spec.monitoring;
const FOR = 3 * Math.max(input.topology.spec.monitoring.scrapeIntervalSeconds, probeIntervalSeconds(input.topology));

function flags(unit: string, from = files): string {
  const args = from.find((f) => f.path === argsPath(unit))!.content;
  return /^ARGS="(.*)"$/m.exec(args)![1];
}

/** Each unit's own check, as deploy.sh's check_exporter runs it. */
const CHECKS = [
  `promtool check config ${MONITORING_PATHS.prometheusConfig}`,
  `amtool check-config ${MONITORING_PATHS.alertmanagerConfig}`,
  `prometheus-blackbox-exporter ${flags(EXPORTER_UNITS.blackbox)} --config.check`,
  ...[EXPORTER_UNITS.node, EXPORTER_UNITS.prometheus, EXPORTER_UNITS.alertmanager, EXPORTER_UNITS.blackbox].map((unit) => `/usr/bin/${unit} ${flags(unit)} --help >/dev/null`),
].join(" && ");

describe("monitoring host files in Debian 13", () => {
  it("pass promtool, amtool, the blackbox exporter's check and every unit's flag parser", () => {
    const r = withDebian13Host(files, (h) => h.run(["sh", "-ec", CHECKS]));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS: 1 rule files found/);
  });

  it("are refused when a rule does not parse", () => {
    const broken = files.map((f) => (f.path === MONITORING_PATHS.rules ? { ...f, content: f.content.replace("vector(1)", "vector(1") } : f));
    const r = withDebian13Host(broken, (h) => h.run(["promtool", "check", "config", MONITORING_PATHS.prometheusConfig]));
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /Watchdog|parse error/);
  });
});

/** Postfix's own log as an edge and an outbound host write it (maillog_file): deliveries, and lines that are none. */
const SAMPLE_LOG = [
  "Dec  6 22:00:00 mx1 postfix/lmtp[123]: 4ABC: to=<alice@example.com>, relay=192.0.2.31[192.0.2.31]:24, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 <alice@example.com> ok)",
  "Dec  6 22:00:01 mx1 postfix/lmtp[123]: 4ABD: to=<alice@example.com>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to 192.0.2.31[192.0.2.31]:24: Connection timed out)",
  "Dec  6 22:00:02 out1 postfix/smtp[124]: 4ABE: to=<bob@example.net>, orig_to=<b@example.net>, relay=mx.example.net[198.51.100.2]:25, delay=1, delays=0/0/0.5/0.5, dsn=4.2.0, status=deferred (host mx.example.net said: 450 4.2.0 try later)",
  "Dec  6 22:00:03 out1 postfix/smtp[124]: 4ABF: to=<carol@example.net>, relay=mx.example.net[198.51.100.2]:25, delay=1, dsn=5.1.1, status=bounced (host mx.example.net said: 550 5.1.1 no such user)",
  "Dec  6 22:00:04 out1 postfix/relay/smtp[125]: 4AC0: to=<dave@example.net>, relay=mx.example.net[198.51.100.2]:25, delay=1, dsn=2.0.0, status=sent (250 ok)",
  "Dec  6 22:00:05 mx1 postfix/smtpd[126]: NOQUEUE: reject: RCPT from unknown[198.51.100.9]: 550 5.1.1 <x@example.com>: Recipient address rejected: User unknown; from=<a@example.net> to=<x@example.com> proto=ESMTP helo=<x>",
  "Dec  6 22:00:06 mx1 postfix/cleanup[127]: 4AC1: message-id=<1@example.net>",
  "Dec  6 22:00:07 mx1 postfix/qmgr[128]: 4AC1: from=<a@example.net>, size=300, nrcpt=1 (queue active)",
  "",
].join("\n");

describe("an MTA's exporters in Debian 13", () => {
  const mx1Files = renderMtaExporters(input, hostNamed(input.topology, "mx1"));
  const sample = file("/var/log/postfix-sample.log", SAMPLE_LOG);
  const oneShot = (program: RenderedFile[]) =>
    withDebian13Host([...program, sample], (h) => h.run(["mtail", "--one_shot", "--one_shot_format", "prometheus", "--progs", "/etc/mtail", "--logs", sample.path, "--logtostderr"]));

  const compiles = (program: RenderedFile[]) => withDebian13Host(program, (h) => h.run(["timeout", "30", "mtail", "--progs", dirname(MTAIL_PROGRAM), "--compile_only", "--address", "127.0.0.1", "--port", "0"]));

  it("the postfix exporter takes its flags, and mtail compiles the program (deploy.sh's checks)", () => {
    const r = withDebian13Host(mx1Files, (h) => h.run(["sh", "-ec", `/usr/bin/${EXPORTER_UNITS.postfix} ${flags(EXPORTER_UNITS.postfix, mx1Files)} --help >/dev/null`]));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const c = compiles(mx1Files);
    assert.equal(c.code, 0, c.stdout + c.stderr);
  });

  it("mtail counts a sample log's deliveries by transport and status, and nothing else", () => {
    const r = oneShot(mx1Files);
    assert.equal(r.code, 0, r.stderr);
    const counts = [...r.stdout.matchAll(/^postfix_deliveries_total\{prog="postfix.mtail",status="(\w+)",transport="(\w+)"\} (\d+)$/gm)].map((m) => `${m[2]} ${m[1]} ${m[3]}`);
    assert.deepEqual(counts.sort(), ["lmtp deferred 1", "lmtp sent 1", "smtp bounced 1", "smtp deferred 1", "smtp sent 1"]);
  });

  it("a program that does not compile is refused (the check can fail)", () => {
    const broken = mx1Files.map((f) => (f.path === MTAIL_PROGRAM ? { ...f, content: f.content.replace("counter postfix_deliveries_total", "counter") } : f));
    const r = compiles(broken);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /compile failed for postfix.mtail/);
  });
});

describe("the nameserver's exporters in Debian 13", () => {
  const nsFiles = [...unsignedFiles, ...renderNameserverExporters(KNOT_LAB.topology)];
  const knotFlags = flags(EXPORTER_UNITS.knot, nsFiles);
  /** deploy.sh's check_exporter for knot-exporter: with its flags it gets as far as knotd's (missing) socket; its unit verifies. */
  const check = (extra = "") =>
    withDebian13Host(nsFiles, (h) =>
      h.run(["sh", "-c", `knot-exporter ${knotFlags} ${extra} --knot-socket-path /nonexistent/knot.sock; echo "rc=$?"; systemd-analyze verify --man=no ${KNOT_EXPORTER_UNIT} && echo verified`]),
    );

  it("knot-exporter parses its flags and its unit verifies; a bad flag is refused (deploy.sh's check)", () => {
    const good = check();
    assert.match(good.stdout, /rc=1\nverified/, good.stdout + good.stderr);
    assert.match(good.stderr, /KnotCtlErrorConnect/);
    const bad = check("--web-listen-prot 1");
    assert.match(bad.stdout, /rc=2\n/, bad.stdout + bad.stderr);
    assert.match(bad.stderr, /unrecognized arguments: --web-listen-prot/);
    assert.doesNotMatch(bad.stderr, /KnotCtlErrorConnect/);
    const node = withDebian13Host(nsFiles, (h) => h.run(["sh", "-c", `/usr/bin/${EXPORTER_UNITS.node} ${flags(EXPORTER_UNITS.node, nsFiles)} --help >/dev/null`]));
    assert.equal(node.code, 0, node.stdout + node.stderr);
  });

  /**
   * knotd serving the lab's zones (mod-stats on), knot-exporter as the knot user as its unit runs
   * it, queried over HTTP after kdig queries; then a zone added whose file does not load: the series
   * ZoneNotServed compares (zones known, zones with a serial).
   */
  const SCRAPE = `
set -e
ip addr add 192.0.2.53/32 dev lo
mkdir -p /run/knot && chown knot:knot /run/knot /var/lib/knot
knotd -c ${KNOT_CONF} &
pid=$!
. ${argsPath(EXPORTER_UNITS.knot)}
setpriv --reuid knot --regid knot --init-groups knot-exporter $ARGS 2>/dev/null &
exporter=$!
trap 'kill $pid $exporter 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
${awaitZones("192.0.2.53", "SOA")}
kdig @192.0.2.53 -t HINFO q1.example.com q2.example.com q3.example.com >/dev/null
scrape() { for i in $(seq 50); do curl -sf http://192.0.2.53:9433/metrics && return; sleep 0.2; done; return 1; }
echo "== served"; scrape | grep -E '^knot_(zone_count|zone_serial|query_type_total)[{ ]' 
echo 'not a zone' > /var/lib/knot/zones/broken.example.zone
printf 'zone:\n  - domain: broken.example\n    file: "/var/lib/knot/zones/broken.example.zone"\n' >> ${KNOT_CONF}
knotc -c ${KNOT_CONF} -b reload >/dev/null
echo "== broken"; scrape | grep -E '^knot_(zone_count|zone_serial)[{ ]'
`;

  it("knot-exporter serves Knot's zone serials and mod-stats query counters; a zone that does not load has no serial", () => {
    const r = withDebian13Host(nsFiles, (h) => h.run(["sh", "-c", SCRAPE]));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const s = sections(r.stdout);
    const serials = (lines: string[]) => lines.filter((l) => l.startsWith("knot_zone_serial{")).map((l) => /zone="([^"]+)"/.exec(l)![1]).sort();
    const served = zones.map((z) => `${z.origin}.`).sort();
    assert.deepEqual(serials(s.served), served, "a serial for every zone");
    assert.ok(s.served.includes('knot_zone_count{section="server"} 4.0'), s.served.join("\n"));
    assert.ok(s.served.includes('knot_query_type_total{section="mod-stats",type="HINFO",zone="example.com."} 3.0'), s.served.join("\n"));
    // ZoneNotServed's inputs: five zones known, four with a serial.
    assert.deepEqual(serials(s.broken), served);
    assert.ok(s.broken.includes('knot_zone_count{section="server"} 5.0'), s.broken.join("\n"));
  });
});

/** The labels every node-exporter series of a host carries (prometheus.yml's static labels). */
const node = (host: string, role: string, port = 9100) => ({ job: "node", host, role, instance: `192.0.2.${host === "mx1" ? 11 : 31}:${port}` });
const series = (name: string, labels: Record<string, string>) => `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(",")}}`;

/** The annotations as Prometheus expands them for these labels and this rendered $value. */
function expanded(alert: string, labels: Record<string, string>, value = ""): Record<string, string> {
  const rule = alertRules(input.topology).groups[0].rules.find((r) => r.alert === alert)!;
  const expand = (t: string) => t.replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, (_, k: string) => labels[k]).replace(/\{\{ \$value[^}]*\}\}/g, value);
  return { summary: expand(rule.annotations.summary), description: expand(rule.annotations.description) };
}

interface AlertCase {
  alert: string;
  /** Input series, fault and healthy ones, one sample a minute. */
  input: { series: string; values: string }[];
  /** Minutes after the start at which to look. */
  at: number;
  /** The firing alerts' own labels (severity is added) and their $value as rendered; none: quiet. */
  fires: { labels: Record<string, string>; value?: string }[];
}

const DAY = 86400;
const healthyDisk = { device: "/dev/vda1", fstype: "ext4", mountpoint: "/" };
const mx1 = node("mx1", "edge");
const store1 = node("store1", "store");
const probe = (job: string, host: string, instance: string) => ({ job, host, role: job === "lmtp" || job === "tls" ? "store" : "edge", instance });
const lmtp = probe("lmtp", "store1", "192.0.2.31:24");
const smtp = probe("smtp", "mx1", "mx1.mail.example.com:25");
const tls = probe("tls", "store1", "store1.mail.example.com:993");
const sts = probe("mta_sts", "mx1", "https://mta-sts.example.com/.well-known/mta-sts.txt");
/** An MTA's exporter series (job postfix; mtail's add transport and status). */
const mta = (host: string, role: string) => ({ job: "postfix", host, role, instance: `${host}:9154` });
const delivered = (host: string, role: string, transport: string) => ({ job: "mtail", host, role, instance: `${host}:3903`, prog: "postfix.mtail", transport });
/** A nameserver's knot-exporter series. */
const knot = (host: string) => ({ job: "knot", host, role: "dns", instance: `${host}:9433` });
/** rspamd's series, through the metrics path (job rspamd). */
const scanner = (host: string, role: string) => ({ job: "rspamd", host, role, instance: `${host}:11336` });
/** Minutes past the first hour without a delivery after which NoDeliveries fires, and some. */
const NO_DELIVERIES = thresholds.noDeliveriesHours * 60 + 70;
const down = (minutes: number) => `1 ${"0 ".repeat(minutes).trim()}`;
const PERIOD = Math.ceil(FOR / 60) + 2;

/** For each alert: the fault series next to a healthy twin, which must not fire. */
const CASES: AlertCase[] = [
  { alert: "Watchdog", input: [], at: 1, fires: [{ labels: {} }] },
  {
    alert: "ExporterDown",
    input: [
      { series: series("up", mx1), values: down(PERIOD) },
      { series: series("up", store1), values: `1x${PERIOD}` },
    ],
    at: PERIOD,
    fires: [{ labels: mx1 }],
  },
  ...(
    [
      ["StoreLmtpDown", lmtp],
      ["SmtpProbeFailed", smtp],
      ["TlsProbeFailed", tls],
      ["MtaStsPolicyUnreachable", sts],
    ] as const
  ).map(([alert, labels]): AlertCase => ({
    alert,
    input: [
      { series: series("probe_success", labels), values: down(PERIOD) },
      { series: series("probe_success", { ...labels, host: "healthy", instance: "healthy:1" }), values: `1x${PERIOD}` },
    ],
    at: PERIOD,
    fires: [{ labels }],
  })),
  {
    alert: "MtaExporterDown",
    input: [
      { series: series("up", { ...mta("mx1", "edge"), job: "postfix" }), values: down(PERIOD) },
      { series: series("up", { ...mta("mx1", "edge"), job: "mtail" }), values: `1x${PERIOD}` },
    ],
    at: PERIOD,
    fires: [{ labels: { ...mta("mx1", "edge"), job: "postfix" } }],
  },
  {
    alert: "QueueLarge",
    input: [
      { series: series("postfix_showq_message_age_seconds_count", { ...mta("mx1", "edge"), queue: "other" }), values: `${thresholds.queueMessages + 500}x${PERIOD}` },
      { series: series("postfix_showq_message_age_seconds_count", { ...mta("mx2", "edge"), queue: "other" }), values: `5x${PERIOD}` },
    ],
    at: PERIOD,
    fires: [{ labels: { host: "mx1", role: "edge" }, value: String(thresholds.queueMessages + 500) }],
  },
  {
    alert: "QueueStuck",
    // out1: three messages, one younger than the threshold; mx2: old mail in the hold queue (the operator's own).
    input: [
      { series: series("postfix_showq_message_age_seconds_count", { ...mta("out1", "outbound"), queue: "other" }), values: `3x${PERIOD}` },
      { series: series("postfix_showq_message_age_seconds_bucket", { ...mta("out1", "outbound"), queue: "other", le: String(thresholds.queueStuckSeconds) }), values: `1x${PERIOD}` },
      { series: series("postfix_showq_message_age_seconds_count", { ...mta("mx2", "edge"), queue: "hold" }), values: `4x${PERIOD}` },
      { series: series("postfix_showq_message_age_seconds_bucket", { ...mta("mx2", "edge"), queue: "hold", le: String(thresholds.queueStuckSeconds) }), values: `0x${PERIOD}` },
    ],
    at: PERIOD,
    fires: [{ labels: { host: "out1", role: "outbound" }, value: "2" }],
  },
  {
    alert: "EdgeDeferringToStore",
    // mx1 defers one LMTP delivery a minute; mx2 delivers five a minute.
    input: [
      { series: series("postfix_deliveries_total", { ...delivered("mx1", "edge", "lmtp"), status: "deferred" }), values: "0+1x10" },
      { series: series("postfix_deliveries_total", { ...delivered("mx2", "edge", "lmtp"), status: "sent" }), values: "0+5x10" },
    ],
    at: 6,
    fires: [{ labels: { host: "mx1", role: "edge" }, value: "5" }],
  },
  {
    alert: "DeferralRateHigh",
    // out1: as many deferred as sent; mx1: one deferral for ten sent.
    input: [
      { series: series("postfix_deliveries_total", { ...delivered("out1", "outbound", "smtp"), status: "sent" }), values: "0+1x40" },
      { series: series("postfix_deliveries_total", { ...delivered("out1", "outbound", "smtp"), status: "deferred" }), values: "0+1x40" },
      { series: series("postfix_deliveries_total", { ...delivered("mx1", "edge", "lmtp"), status: "sent" }), values: "0+10x40" },
      { series: series("postfix_deliveries_total", { ...delivered("mx1", "edge", "lmtp"), status: "deferred" }), values: "0+1x40" },
    ],
    at: 35,
    fires: [{ labels: { host: "out1", role: "outbound" }, value: "50" }],
  },
  {
    alert: "NoDeliveries",
    // out1 stops sending after the first hour; mx1 delivers a message a minute throughout.
    input: [
      { series: series("postfix_deliveries_total", { ...delivered("out1", "outbound", "smtp"), status: "sent" }), values: `0+1x60 60x${NO_DELIVERIES}` },
      { series: series("postfix_deliveries_total", { ...delivered("mx1", "edge", "lmtp"), status: "sent" }), values: `0+1x${NO_DELIVERIES + 60}` },
    ],
    at: NO_DELIVERIES + 60,
    fires: [{ labels: { host: "out1", role: "outbound" } }],
  },
  {
    alert: "RspamdNotScanning",
    // mx1 takes a message a minute and rspamd's count stands still; out1's rspamd metrics are gone.
    // mx2 takes and scans a message a minute, its metrics answer.
    input: [
      { series: series("postfix_smtpd_messages_processed_total", { ...mta("mx1", "edge"), sasl_method: "" }), values: `0+1x${PERIOD}` },
      { series: series("rspamd_scanned_total", scanner("mx1", "edge")), values: `5x${PERIOD}` },
      { series: series("up", scanner("out1", "outbound")), values: down(PERIOD) },
      { series: series("postfix_smtpd_messages_processed_total", { ...mta("mx2", "edge"), sasl_method: "" }), values: `0+1x${PERIOD}` },
      { series: series("rspamd_scanned_total", scanner("mx2", "edge")), values: `0+1x${PERIOD}` },
      { series: series("up", scanner("mx2", "edge")), values: `1x${PERIOD}` },
    ],
    at: PERIOD,
    fires: [{ labels: { host: "mx1", role: "edge" } }, { labels: { host: "out1", role: "outbound" } }],
  },
  {
    alert: "RspamdRejectRateHigh",
    // mx1 rejects three of every four messages it scans; mx2 one of ten.
    input: [
      { series: series("rspamd_scanned_total", scanner("mx1", "edge")), values: "0+4x40" },
      { series: series("rspamd_actions_total", { ...scanner("mx1", "edge"), type: "reject" }), values: "0+3x40" },
      { series: series("rspamd_scanned_total", scanner("mx2", "edge")), values: "0+10x40" },
      { series: series("rspamd_actions_total", { ...scanner("mx2", "edge"), type: "reject" }), values: "0+1x40" },
    ],
    at: 35,
    fires: [{ labels: { host: "mx1", role: "edge" }, value: "75" }],
  },
  {
    alert: "CertificateExpiresSoon",
    // At minute 1, time() is 60: the lineage ends in 5 days, the healthy one in 60.
    input: [
      { series: series("mailfleet_certificate_not_after_seconds", { ...mx1, lineage: "mx1" }), values: String(60 + 5 * DAY) },
      { series: series("mailfleet_certificate_not_after_seconds", { ...mx1, lineage: "mx1-web-1" }), values: String(60 + 60 * DAY) },
    ],
    at: 1,
    fires: [{ labels: { ...mx1, lineage: "mx1" }, value: "5d 0h 0m 0s" }],
  },
  {
    alert: "ServedCertificateExpiresSoon",
    input: [
      { series: series("probe_ssl_earliest_cert_expiry", smtp), values: String(60 + 2 * DAY) },
      { series: series("probe_ssl_earliest_cert_expiry", tls), values: String(60 + 80 * DAY) },
    ],
    at: 1,
    fires: [{ labels: smtp, value: "2d 0h 0m 0s" }],
  },
  {
    alert: "AuthFailureSpike",
    // store1: 20 more failed logins every minute; store2 one a minute.
    input: [
      { series: series("dovecot_auth_failures_total", { job: "dovecot", host: "store1", role: "store", instance: "192.0.2.31:9900" }), values: "0+20x10" },
      { series: series("dovecot_auth_failures_total", { job: "dovecot", host: "store2", role: "store", instance: "192.0.2.32:9900" }), values: "0+1x10" },
    ],
    at: 5,
    fires: [{ labels: { host: "store1", role: "store" }, value: "20" }],
  },
  {
    alert: "DiskSpaceLow",
    input: [
      { series: series("node_filesystem_avail_bytes", { ...mx1, ...healthyDisk }), values: `5x${PERIOD}` },
      { series: series("node_filesystem_size_bytes", { ...mx1, ...healthyDisk }), values: `100x${PERIOD}` },
      { series: series("node_filesystem_avail_bytes", { ...store1, ...healthyDisk }), values: `50x${PERIOD}` },
      { series: series("node_filesystem_size_bytes", { ...store1, ...healthyDisk }), values: `100x${PERIOD}` },
    ],
    at: PERIOD,
    fires: [{ labels: { ...mx1, ...healthyDisk }, value: "5" }],
  },
  {
    alert: "InodesLow",
    input: [
      { series: series("node_filesystem_files_free", { ...store1, ...healthyDisk }), values: `2x${PERIOD}` },
      { series: series("node_filesystem_files", { ...store1, ...healthyDisk }), values: `100x${PERIOD}` },
      { series: series("node_filesystem_files_free", { ...mx1, ...healthyDisk }), values: `90x${PERIOD}` },
      { series: series("node_filesystem_files", { ...mx1, ...healthyDisk }), values: `100x${PERIOD}` },
    ],
    at: PERIOD,
    fires: [{ labels: { ...store1, ...healthyDisk }, value: "2" }],
  },
  {
    alert: "DiskFillingUp",
    // 30 % free and falling 1 % a minute on mx1; store1 steady at 30 %.
    input: [
      { series: series("node_filesystem_avail_bytes", { ...mx1, ...healthyDisk }), values: "30-0.1x120" },
      { series: series("node_filesystem_size_bytes", { ...mx1, ...healthyDisk }), values: "100x120" },
      { series: series("node_filesystem_avail_bytes", { ...store1, ...healthyDisk }), values: "30x120" },
      { series: series("node_filesystem_size_bytes", { ...store1, ...healthyDisk }), values: "100x120" },
    ],
    at: 90,
    fires: [{ labels: { ...mx1, ...healthyDisk } }],
  },
  {
    alert: "BackupFailing",
    input: [
      { series: series("mailfleet_backup_last_run_success", store1), values: "0" },
      { series: series("mailfleet_backup_last_run_success", { ...store1, host: "store2" }), values: "1" },
    ],
    at: 1,
    fires: [{ labels: store1 }],
  },
  {
    alert: "BackupTooOld",
    // At minute 600 time() is 36000: store1's last good backup ended at 0, store2's at 35000.
    input: [
      { series: series("mailfleet_backup_last_success_timestamp_seconds", store1), values: "0x600" },
      { series: series("mailfleet_backup_last_success_timestamp_seconds", { ...store1, host: "store2" }), values: "35000x600" },
    ],
    at: 600,
    fires: [{ labels: store1, value: "10h 0m 0s" }],
  },
  {
    alert: "BackupNeverSucceeded",
    input: [
      { series: series("up", store1), values: `1x${thresholds.backupAgeHours * 60 + 10}` },
      { series: series("up", { ...store1, host: "store2" }), values: `1x${thresholds.backupAgeHours * 60 + 10}` },
      { series: series("mailfleet_backup_last_success_timestamp_seconds", { ...store1, host: "store2" }), values: `100x${thresholds.backupAgeHours * 60 + 10}` },
    ],
    at: thresholds.backupAgeHours * 60 + 5,
    fires: [{ labels: store1 }],
  },
  {
    alert: "KnotDown",
    input: [
      { series: series("up", knot("ns1")), values: down(PERIOD) },
      { series: series("up", knot("ns2")), values: `1x${PERIOD}` },
    ],
    at: PERIOD,
    fires: [{ labels: knot("ns1") }],
  },
  {
    alert: "ZoneNotServed",
    // ns1 knows three zones and has a serial for two; ns2 serves both it knows.
    input: [
      { series: series("knot_zone_count", { ...knot("ns1"), section: "server" }), values: `3x${PERIOD}` },
      { series: series("knot_zone_serial", { ...knot("ns1"), zone: "example.com." }), values: `7x${PERIOD}` },
      { series: series("knot_zone_serial", { ...knot("ns1"), zone: "example.org." }), values: `7x${PERIOD}` },
      { series: series("knot_zone_count", { ...knot("ns2"), section: "server" }), values: `2x${PERIOD}` },
      { series: series("knot_zone_serial", { ...knot("ns2"), zone: "example.com." }), values: `7x${PERIOD}` },
      { series: series("knot_zone_serial", { ...knot("ns2"), zone: "example.org." }), values: `7x${PERIOD}` },
    ],
    at: PERIOD,
    fires: [{ labels: { host: "ns1", role: "dns", instance: "ns1:9433" } }],
  },
  {
    alert: "ZoneExpiresSoon",
    // A secondary with an hour left of example.com, and of example.org the whole SOA expire.
    input: [
      { series: series("knot_zone_stats_expiration", { ...knot("ns2"), zone: "example.com." }), values: "3600" },
      { series: series("knot_zone_stats_expiration", { ...knot("ns2"), zone: "example.org." }), values: String(14 * DAY) },
    ],
    at: 1,
    fires: [{ labels: { ...knot("ns2"), zone: "example.com." }, value: "1h 0m 0s" }],
  },
];

/** A blocklist probe's series: the lab's list, asked through the prober's own resolver. */
const dnsbl = (host: string, role: string, address: string) => ({ job: "dnsbl", host, role, address, zone: "bl.example.net", instance: "127.0.0.1:53" });
const listedOut1 = dnsbl("out1", "outbound", "192.0.2.21");
const refusedMx1 = dnsbl("mx1", "edge", "192.0.2.11");
const cleanMx2 = dnsbl("mx2", "edge", "192.0.2.12");
CASES.push(
  {
    alert: "SendingAddressListed",
    // out1 listed (an answer, a verdict); mx1's list answered an error code (an answer, no verdict); mx2 clean (NXDOMAIN).
    input: [
      { series: series("probe_dns_answer_rrs", listedOut1), values: "1x5" },
      { series: series("probe_success", listedOut1), values: "1x5" },
      { series: series("probe_dns_answer_rrs", refusedMx1), values: "1x5" },
      { series: series("probe_success", refusedMx1), values: "0x5" },
      { series: series("probe_dns_answer_rrs", cleanMx2), values: "0x5" },
      { series: series("probe_success", cleanMx2), values: "1x5" },
    ],
    at: 3,
    fires: [{ labels: listedOut1 }],
  },
  {
    alert: "BlocklistCheckFailing",
    input: [
      { series: series("probe_success", refusedMx1), values: "0x15" },
      { series: series("probe_success", cleanMx2), values: "1x15" },
    ],
    at: 12,
    fires: [{ labels: refusedMx1 }],
  },
);

/** A promtool test: fires as expected at `at`, and is quiet a minute before any fault began. */
function promtoolTest(c: AlertCase): object {
  const rule = alertRules(input.topology).groups[0].rules.find((r) => r.alert === c.alert)!;
  return {
    interval: "1m",
    input_series: c.input,
    alert_rule_test: [
      {
        eval_time: `${c.at}m`,
        alertname: c.alert,
        exp_alerts: c.fires.map((f) => ({ exp_labels: { ...f.labels, severity: rule.labels.severity }, exp_annotations: expanded(c.alert, f.labels, f.value) })),
      },
    ],
  };
}

const RULES_TEST = "/etc/prometheus/mailfleet.rules.test.yml";
function runRuleTests(cases: AlertCase[], rules: RenderedFile[] = files): { code: number; out: string } {
  const test = file(RULES_TEST, stringify({ rule_files: [MONITORING_PATHS.rules], evaluation_interval: "1m", tests: cases.map(promtoolTest) }));
  const r = withDebian13Host([...rules, test], (h) => h.run(["promtool", "test", "rules", RULES_TEST]));
  return { code: r.code, out: r.stdout + r.stderr };
}

describe("alert rules under promtool test rules", () => {
  it("has a case for every alert the fleet renders", () => {
    assert.deepEqual(CASES.map((c) => c.alert).sort(), alertRules(input.topology).groups[0].rules.map((r) => r.alert).sort());
  });

  it("fire each alert on its fault, with the host named, and not on its healthy twin", () => {
    const r = runRuleTests(CASES);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS/);
  });

  it("are quiet on a healthy fleet", () => {
    // The same series with every fault left out: no alert but the Watchdog may fire.
    const quiet = CASES.filter((c) => c.alert !== "Watchdog").map((c) => ({ ...c, input: c.input.slice(c.input.length / 2), fires: [] }));
    const r = runRuleTests(quiet);
    assert.equal(r.code, 0, r.out);
  });

  it("fail a test whose alert does not fire (the tests can fail)", () => {
    const wrong = CASES.filter((c) => c.alert === "StoreLmtpDown").map((c) => ({ ...c, input: c.input.map((s) => ({ ...s, values: `1x${PERIOD}` })) }));
    const r = runRuleTests(wrong);
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /StoreLmtpDown/);
  });
});

describe("blocklist probes against a real list in Debian 13", () => {
  const probes = blocklistProbes(input.topology, input.hosts);
  const probe = (host: string, family: "ipv4" | "ipv6") => probes.find((p) => p.labels.host === host && p.module.includes(`_${family}_`))!;
  const listed = [probe("out1", "ipv4"), probe("out1", "ipv6")];
  const clean = probe("mx1", "ipv6");
  // A list's error code (Spamhaus's answer to a query through a public resolver), and a resolver that rewrites NXDOMAIN.
  const refused = probe("mx1", "ipv4");
  const rewritten = probe("mx2", "ipv4");
  /** rbldnsd in the place of the monitoring host's unbound (127.0.0.1:53): the lab's list zone from one file, loaded as ip4set and ip6trie as the lab's rbl host does. */
  const LIST = "/var/lib/rbldnsd/list";
  const answers = [...listed.map((p) => `${p.labels.address} :127.0.0.2:listed`), `${refused.labels.address} :127.255.255.254:public resolver`, `${rewritten.labels.address} :198.51.100.1:ads`];
  const PROBE = [
    'zone=$1; shift',
    `rbldnsd -u rbldns -r ${dirname(LIST)} -b 127.0.0.1/53 "$zone:ip4set:list" "$zone:ip6trie:list" >/var/log/rbldnsd.log 2>&1`,
    `prometheus-blackbox-exporter --config.file=${MONITORING_PATHS.blackboxConfig} --web.listen-address=127.0.0.1:9115 >/var/log/blackbox.log 2>&1 </dev/null &`,
    "for i in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:9115/ && break; sleep 0.1; done",
    'for m in "$@"; do echo "$m $(curl -sf "http://127.0.0.1:9115/probe?module=$m&target=127.0.0.1:53" | grep -E "^probe_(success|dns_answer_rrs) " | sort | tr "\\n" " ")"; done',
  ].join("\n");

  /** What each probe says as the recording rule reads it: listed (a verdict and an answer), clean (a verdict, no answer), or no verdict. */
  function verdicts(): Record<string, string> {
    const host = new Debian13Host([...files, file(LIST, `${answers.join("\n")}\n`)]).boot();
    try {
      const r = host.exec(["sh", "-ec", PROBE, "probe", listed[0].labels.zone, ...[...listed, clean, refused, rewritten].map((p) => p.module)]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      return Object.fromEntries(
        r.stdout.trim().split("\n").map((line) => {
          const [module, ...metrics] = line.trim().split(/\s+/);
          const value = (name: string) => Number(metrics[metrics.indexOf(name) + 1]);
          return [module, value("probe_success") !== 1 ? "no verdict" : value("probe_dns_answer_rrs") > 0 ? "listed" : "clean"];
        }),
      );
    } finally {
      host.dispose();
    }
  }

  it("read a listing (IPv4 and IPv6) as listed and NXDOMAIN as clean; a list's error code or a rewritten NXDOMAIN gives no verdict", () => {
    assert.deepEqual(verdicts(), {
      [listed[0].module]: "listed",
      [listed[1].module]: "listed",
      [clean.module]: "clean",
      [refused.module]: "no verdict",
      [rewritten.module]: "no verdict",
    });
  });
});
