/**
 * The fleet's alert rules, from the topology and monitoring.thresholds: each alert's summary names
 * the host, its description says what to do. test/render/monitoringRules.daemon.test.ts proves each
 * with `promtool test rules`: it fires on its series and stays quiet on healthy ones.
 */
import { RSPAMD_METRICS_PORT, Topology } from "../../topology";
import { BLOCKLIST_JOB, watchedNameserver } from "./targets";

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: "page" | "warning" | "none" };
  annotations: { summary: string; description: string };
}

export interface RecordingRule {
  record: string;
  expr: string;
}

/** The alerts first, then the series they read that rules record. */
export interface RuleFile {
  groups: [{ name: string; rules: AlertRule[] }, ...{ name: string; rules: RecordingRule[] }[]];
}

/**
 * 1 while a list names a sending address, 0 while it does not, absent while its probe has no
 * verdict (labels host, role, address, zone): a probe succeeds with a verdict, and a listed address
 * has an answer (blackbox.ts).
 */
export const LISTED_METRIC = "mailfleet:sending_address_listed";

/** Prometheus' duration syntax for a number of seconds. */
export function seconds(n: number): string {
  return `${n}s`;
}

/** How long a failed scrape lasts before it alerts: three intervals, so one lost packet is no page. */
function faultFor(topology: Topology): string {
  return seconds(3 * topology.spec.monitoring.scrapeIntervalSeconds);
}

/**
 * Probes run at least every PROBE_MIN_INTERVAL seconds, whatever the scrape interval: an SMTP probe
 * waits out postscreen's greeting delay (6 s by default) and must fit in the scrape's timeout.
 */
export const PROBE_MIN_INTERVAL = 15;
export function probeIntervalSeconds(topology: Topology): number {
  return Math.max(PROBE_MIN_INTERVAL, topology.spec.monitoring.scrapeIntervalSeconds);
}

/** RspamdNotScanning compares the mail Postfix took with rspamd's scans over this window. */
const RSPAMD_SCAN_WINDOW = "10m";

/** The postfix exporter's age bucket a threshold names: its `le` as the exporter prints it, or as Prometheus 3 normalizes it (100.0). */
function exporterBucket(seconds: number): string {
  return `${seconds}(\\\\.0)?`;
}

export function alertRules(topology: Topology): RuleFile {
  const { thresholds } = topology.spec.monitoring;
  const soon = faultFor(topology);
  // Two failed probes in a row.
  const probeSoon = seconds(2 * probeIntervalSeconds(topology));
  const fs = 'fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|fuse.*"';
  const page = "page" as const;
  const warning = "warning" as const;
  const rules: AlertRule[] = [
    {
      alert: "Watchdog",
      expr: "vector(1)",
      labels: { severity: "none" },
      annotations: {
        summary: "The fleet's alerting works (always firing)",
        description: "This alert always fires. If your receiver stops getting it, Prometheus or Alertmanager on the monitoring host is down or cut off: look there first.",
      },
    },
    {
      alert: "ExporterDown",
      expr: 'up{job="node"} == 0',
      for: soon,
      labels: { severity: page },
      annotations: {
        summary: "{{ $labels.host }} does not answer the monitoring host",
        description:
          "prometheus-node-exporter on {{ $labels.host }} ({{ $labels.instance }}) gives no metrics: the host is down, unreachable from the monitoring host, or the exporter stopped. Check the host, `systemctl status prometheus-node-exporter`, and its firewall.",
      },
    },
    {
      alert: "MtaExporterDown",
      expr: 'up{job=~"postfix|mtail"} == 0',
      for: soon,
      labels: { severity: warning },
      annotations: {
        summary: "The {{ $labels.job }} metrics of {{ $labels.host }} do not answer",
        description:
          "Without them the queue and delivery alerts of {{ $labels.host }} are blind. Check `systemctl status prometheus-postfix-exporter` (job postfix) or `systemctl status mtail` (job mtail) on {{ $labels.host }}, and that /var/log/postfix.log exists and is readable by group adm.",
      },
    },
    {
      alert: "QueueLarge",
      expr: `sum by (host, role) (postfix_showq_message_age_seconds_count) > ${thresholds.queueMessages}`,
      for: soon,
      labels: { severity: warning },
      annotations: {
        summary: "{{ $value | printf \"%.0f\" }} messages wait in the Postfix queue of {{ $labels.host }}",
        description: `More than ${thresholds.queueMessages} queued messages (monitoring.thresholds.queueMessages): a destination is away or slow, or the host is sending a flood. \`postqueue -p\` on {{ $labels.host }} shows who waits for what; \`qshape deferred\` by destination.`,
      },
    },
    {
      // Messages older than the threshold: all queued ones minus those in the age bucket below it (held mail is the operator's own).
      alert: "QueueStuck",
      expr: `sum by (host, role) (postfix_showq_message_age_seconds_count{queue!="hold"}) - sum by (host, role) (postfix_showq_message_age_seconds_bucket{queue!="hold", le=~"${exporterBucket(thresholds.queueStuckSeconds)}"}) > 0`,
      for: soon,
      labels: { severity: page },
      annotations: {
        summary: "{{ $value | printf \"%.0f\" }} messages on {{ $labels.host }} have waited more than ${thresholds.queueStuckSeconds} s",
        description: `Messages older than ${thresholds.queueStuckSeconds} s (monitoring.thresholds.queueStuckSeconds) in the queue of {{ $labels.host }}: their destination keeps answering 4xx or cannot be reached. \`postqueue -p\` on {{ $labels.host }} shows each one's reason; fix the destination (a store: see StoreLmtpDown) and run \`postqueue -f\`, or remove mail that can never go (\`postsuper -d\`).`,
      },
    },
    {
      alert: "EdgeDeferringToStore",
      expr: 'sum by (host, role) (increase(postfix_deliveries_total{role="edge", transport="lmtp", status="deferred"}[5m])) > 0',
      labels: { severity: page },
      annotations: {
        summary: "{{ $labels.host }} could not hand {{ $value | printf \"%.0f\" }} messages to a store in the last 5 minutes",
        description:
          "The edge defers LMTP deliveries: a store is down, full or refuses it. `postqueue -p` on {{ $labels.host }} names the store and the reason; look at StoreLmtpDown and Dovecot's log on that store. The mail waits on the edge and goes once the store takes it.",
      },
    },
    {
      alert: "DeferralRateHigh",
      expr: `sum by (host, role) (increase(postfix_deliveries_total{status=~"deferred|bounced"}[30m])) / sum by (host, role) (increase(postfix_deliveries_total[30m])) * 100 > ${thresholds.deferralPercent} and sum by (host, role) (increase(postfix_deliveries_total[30m])) >= 10`,
      labels: { severity: warning },
      annotations: {
        summary: "{{ $value | printf \"%.0f\" }}% of the delivery attempts of {{ $labels.host }} were deferred or bounced in the last 30 minutes",
        description: `More than ${thresholds.deferralPercent}% (monitoring.thresholds.deferralPercent) of at least 10 attempts: receivers refuse or delay this host's mail (a blocklist, a bad reputation, DNS or TLS trouble) or a destination is away. Read the reasons in /var/log/postfix.log on {{ $labels.host }} (\`grep status=deferred\`).`,
      },
    },
    {
      // An hour without a message sent, for the whole threshold: an MTA that has stopped delivering.
      alert: "NoDeliveries",
      expr: 'sum by (host, role) (increase(postfix_deliveries_total{status="sent"}[1h])) == 0',
      for: `${thresholds.noDeliveriesHours}h`,
      labels: { severity: warning },
      annotations: {
        summary: `{{ $labels.host }} has delivered no message for ${thresholds.noDeliveriesHours} hours`,
        description: `Nothing left {{ $labels.host }} (monitoring.thresholds.noDeliveriesHours): mail does not reach it (DNS, the MX records, a firewall, its users), or every delivery fails (see DeferralRateHigh). Send a test message through it and follow it in /var/log/postfix.log on {{ $labels.host }}.`,
      },
    },
    {
      // Mail Postfix took (smtpd made a queue file) while rspamd's scanned counter stood still, or rspamd's metrics are gone.
      alert: "RspamdNotScanning",
      expr: `(sum by (host, role) (increase(postfix_smtpd_messages_processed_total[${RSPAMD_SCAN_WINDOW}])) > 0 unless on (host) sum by (host) (increase(rspamd_scanned_total[${RSPAMD_SCAN_WINDOW}])) > 0) or sum by (host, role) (up{job="rspamd"}) == 0`,
      for: soon,
      labels: { severity: page },
      annotations: {
        summary: "rspamd on {{ $labels.host }} scans no mail",
        description: `Postfix on {{ $labels.host }} took mail in the last ${RSPAMD_SCAN_WINDOW} that rspamd did not scan, or rspamd's metrics (nginx on port ${RSPAMD_METRICS_PORT}, from the controller on loopback) do not answer. With rspamd down an edge lets mail in unscanned (no spam verdict, no ARC seal) and an outbound host answers its users with a 4xx (nothing would be signed); with nginx down only rspamd's alerts are blind. Check \`systemctl status rspamd nginx\` and /var/log/rspamd/rspamd.log on {{ $labels.host }}.`,
      },
    },
    {
      alert: "RspamdRejectRateHigh",
      expr: `sum by (host, role) (increase(rspamd_actions_total{type="reject"}[30m])) / sum by (host, role) (increase(rspamd_scanned_total[30m])) * 100 > ${thresholds.rspamdRejectPercent} and sum by (host, role) (increase(rspamd_scanned_total[30m])) >= 10`,
      labels: { severity: warning },
      annotations: {
        summary: "rspamd on {{ $labels.host }} rejected {{ $value | printf \"%.0f\" }}% of the mail it scanned in the last 30 minutes",
        description: `More than ${thresholds.rspamdRejectPercent}% (monitoring.thresholds.rspamdRejectPercent) of at least 10 scanned messages were rejected. \`grep '(reject)' /var/log/rspamd/rspamd.log\` on {{ $labels.host }} names the symbols. On an edge: a spam wave, or a blocklist or rule that turns good mail away (spam.warnOnly turns rejects into headers while you look). On an outbound host: users sending with a From they may not use (MAILFLEET_FROM_NOT_OWNED), a misconfigured client or a stolen login.`,
      },
    },
    {
      alert: "SmtpProbeFailed",
      expr: 'probe_success{job="smtp"} == 0',
      for: probeSoon,
      labels: { severity: page },
      annotations: {
        summary: "SMTP with STARTTLS fails on {{ $labels.host }} ({{ $labels.instance }})",
        description: "The monitoring host cannot get a STARTTLS session with a valid certificate at {{ $labels.instance }}. Check Postfix on {{ $labels.host }} (`postfix status`, the mail log) and its certificate.",
      },
    },
    {
      alert: "TlsProbeFailed",
      expr: 'probe_success{job="tls"} == 0',
      for: probeSoon,
      labels: { severity: page },
      annotations: {
        summary: "Implicit TLS fails on {{ $labels.host }} ({{ $labels.instance }})",
        description: "The monitoring host cannot open a TLS session with a valid certificate at {{ $labels.instance }} (submissions 465 or IMAPS 993). Check Postfix or Dovecot on {{ $labels.host }} and its certificate.",
      },
    },
    {
      alert: "StoreLmtpDown",
      expr: 'probe_success{job="lmtp"} == 0',
      for: probeSoon,
      labels: { severity: page },
      annotations: {
        summary: "Store {{ $labels.host }} does not answer LMTP",
        description:
          "The edges cannot hand mail to {{ $labels.host }}: it queues on them until the store answers again. Check Dovecot on {{ $labels.host }} (`doveadm service status lmtp`, its log) and that its firewall admits the edges on port 24.",
      },
    },
    {
      alert: "MtaStsPolicyUnreachable",
      expr: 'probe_success{job="mta_sts"} == 0',
      for: probeSoon,
      labels: { severity: warning },
      annotations: {
        summary: "The MTA-STS policy at {{ $labels.instance }} cannot be fetched",
        description: "Senders that enforce MTA-STS keep their cached policy for a while, then send without it. Check nginx on the edges and the certificate for the mta-sts name.",
      },
    },
    {
      alert: "CertificateExpiresSoon",
      expr: `(mailfleet_certificate_not_after_seconds - time()) < ${thresholds.certificateDays} * 86400`,
      labels: { severity: page },
      annotations: {
        summary: "Certificate {{ $labels.lineage }} on {{ $labels.host }} ends in {{ $value | humanizeDuration }}",
        description: `certbot renews 30 days before the end; this one is within ${thresholds.certificateDays} days (monitoring.thresholds.certificateDays). Look at /var/log/mailfleet-certs.log and \`certbot certificates\` on {{ $labels.host }}, then run mailfleet-certs there.`,
      },
    },
    {
      alert: "ServedCertificateExpiresSoon",
      expr: `(probe_ssl_earliest_cert_expiry - time()) < ${thresholds.certificateDays} * 86400`,
      labels: { severity: page },
      annotations: {
        summary: "{{ $labels.instance }} on {{ $labels.host }} serves a certificate that ends in {{ $value | humanizeDuration }}",
        description:
          "The certificate clients get ends soon. If CertificateExpiresSoon does not fire too, a renewed certificate is on disk but the daemon was not reloaded: reload it on {{ $labels.host }} (`postfix reload`, `doveadm reload`, `nginx -s reload`).",
      },
    },
    {
      alert: "AuthFailureSpike",
      expr: `sum by (host, role) (increase(dovecot_auth_failures_total[1m])) > ${thresholds.authFailuresPerMinute}`,
      labels: { severity: warning },
      annotations: {
        summary: "{{ $value | printf \"%.0f\" }} logins failed on {{ $labels.host }} within a minute",
        description: `More than ${thresholds.authFailuresPerMinute} failed logins a minute (monitoring.thresholds.authFailuresPerMinute): password guessing, or a client with an old password. Find the source in Dovecot's log on {{ $labels.host }} (\`doveadm log errors\`, "auth failed") and block it, or tell the user.`,
      },
    },
    {
      alert: "DiskSpaceLow",
      expr: `node_filesystem_avail_bytes{${fs}} / node_filesystem_size_bytes{${fs}} * 100 < ${thresholds.diskFreePercent}`,
      for: soon,
      labels: { severity: page },
      annotations: {
        summary: "{{ $labels.mountpoint }} on {{ $labels.host }} has {{ $value | printf \"%.0f\" }}% space left",
        description: `Below ${thresholds.diskFreePercent}% free (monitoring.thresholds.diskFreePercent). A full disk stops Postfix's queue and Dovecot's deliveries: free space or grow the volume on {{ $labels.host }}.`,
      },
    },
    {
      alert: "InodesLow",
      expr: `node_filesystem_files_free{${fs}} / node_filesystem_files{${fs}} * 100 < ${thresholds.diskFreePercent}`,
      for: soon,
      labels: { severity: page },
      annotations: {
        summary: "{{ $labels.mountpoint }} on {{ $labels.host }} has {{ $value | printf \"%.0f\" }}% inodes left",
        description: "Every message is a file (Maildir, the Postfix queue): without inodes no mail is stored. Find the directory with the most files on {{ $labels.host }} (a stuck queue, a runaway mailbox).",
      },
    },
    {
      alert: "DiskFillingUp",
      expr: `predict_linear(node_filesystem_avail_bytes{${fs}}[6h], 24 * 3600) < 0 and node_filesystem_avail_bytes{${fs}} / node_filesystem_size_bytes{${fs}} * 100 < 40`,
      for: "1h",
      labels: { severity: warning },
      annotations: {
        summary: "{{ $labels.mountpoint }} on {{ $labels.host }} fills up within a day at this rate",
        description: "The last six hours' growth fills the file system within 24 hours. Find what grows on {{ $labels.host }} (a queue, a mailbox, logs) before it is full.",
      },
    },
    {
      alert: "SendingAddressListed",
      expr: `${LISTED_METRIC} == 1`,
      labels: { severity: page },
      annotations: {
        summary: "{{ $labels.address }} of {{ $labels.host }} is listed on {{ $labels.zone }}",
        description:
          "Receivers that use {{ $labels.zone }} refuse or junk mail from {{ $labels.address }}. The list's TXT record for the address says why (`dig +short TXT` of the reversed address under {{ $labels.zone }}, as the blackbox module's query_name spells it). Find and stop the cause on {{ $labels.host }} (a compromised login or a flood: `postqueue -p`, /var/log/postfix.log), then ask {{ $labels.zone }} for delisting on its site. If it stays listed, move the host's sending to a clean address (a new address with its PTR, or a new host) and retire this one.",
      },
    },
    {
      alert: "BlocklistCheckFailing",
      expr: `probe_success{job="${BLOCKLIST_JOB}"} == 0`,
      for: "10m",
      labels: { severity: warning },
      annotations: {
        summary: "{{ $labels.address }} of {{ $labels.host }} cannot be checked on {{ $labels.zone }}",
        description:
          "The monitoring host's own resolver gets no verdict from {{ $labels.zone }}: no answer, or an error code (127.255.255.x: the list refuses queries that come through a public resolver, which resolver.forwarders may be, or over its free limit) or an address outside 127.0.0.0/8 (a resolver rewriting NXDOMAIN). A listing would go unseen. Check unbound on the monitoring host (`unbound-checkconf`, its log) and ask it yourself: `dig @127.0.0.1` the probe's query_name.",
      },
    },
  ];
  if (topology.spec.backup) {
    const { backupAgeHours } = thresholds;
    rules.push(
      {
        alert: "BackupFailing",
        expr: "mailfleet_backup_last_run_success == 0",
        labels: { severity: page },
        annotations: {
          summary: "The last backup of {{ $labels.host }} failed",
          description: "mailfleet-backup exited with an error. Run `./mf backup` for {{ $labels.host }} to see the message (repository unreachable, password, full target) and fix it.",
        },
      },
      {
        alert: "BackupTooOld",
        expr: `time() - mailfleet_backup_last_success_timestamp_seconds > ${backupAgeHours} * 3600`,
        labels: { severity: page },
        annotations: {
          summary: "The last good backup of {{ $labels.host }} is {{ $value | humanizeDuration }} old",
          description: `Older than ${backupAgeHours} hours (monitoring.thresholds.backupAgeHours). Check the backup timer on {{ $labels.host }} (\`systemctl status mailfleet-backup.timer\`) and run \`./mf backup\`.`,
        },
      },
      {
        alert: "BackupNeverSucceeded",
        expr: 'up{job="node", role="store"} unless on (host) mailfleet_backup_last_success_timestamp_seconds',
        for: `${backupAgeHours}h`,
        labels: { severity: page },
        annotations: {
          summary: "{{ $labels.host }} has no successful backup",
          description: `No backup of {{ $labels.host }} has succeeded for ${backupAgeHours} hours since it was first watched. Run \`./mf backup\` for it and read its message.`,
        },
      },
    );
  }
  if (watchedNameserver(topology)) rules.push(...knotRules(soon, thresholds.zoneExpiryHours));
  const records: RecordingRule[] = [{ record: LISTED_METRIC, expr: `probe_dns_answer_rrs{job="${BLOCKLIST_JOB}"} > bool 0 and probe_success{job="${BLOCKLIST_JOB}"} == 1` }];
  return { groups: [{ name: "mailfleet", rules }, { name: "mailfleet-records", rules: records }] };
}

/** The nameserver's (dns: zone) alerts, from knot-exporter's metrics; the node exporter's alerts cover the host. */
function knotRules(soon: string, zoneExpiryHours: number): AlertRule[] {
  return [
    {
      // knot-exporter fails the whole scrape when knotd's control socket does not answer.
      alert: "KnotDown",
      expr: 'up{job="knot"} == 0',
      for: soon,
      labels: { severity: "page" },
      annotations: {
        summary: "Knot on {{ $labels.host }} does not answer its exporter",
        description:
          "knot-exporter on {{ $labels.host }} ({{ $labels.instance }}) gives no metrics: knotd is down or its control socket does not answer, or the exporter stopped. The fleet's zones are served by the secondaries only until they expire. Check `knotc status` and `systemctl status knot knot-exporter` on {{ $labels.host }}, and `journalctl -u knot` for the reason.",
      },
    },
    {
      // A zone knotd knows (knot_zone_count) without a serial is one it failed to load.
      alert: "ZoneNotServed",
      expr: "sum by (host, role, instance) (knot_zone_count) > count by (host, role, instance) (knot_zone_serial)",
      for: soon,
      labels: { severity: "page" },
      annotations: {
        summary: "Knot on {{ $labels.host }} does not serve every zone it is configured with",
        description:
          "Knot on {{ $labels.host }} knows more zones than it serves: a zone did not load (a bad zone file, its signing keys, its journal), so that zone answers SERVFAIL. `knotc zone-status` on {{ $labels.host }} shows the zone without a serial; its log (`journalctl -u knot`) says why. Fix it and run `knotc zone-reload <zone>`, or push again.",
      },
    },
    {
      alert: "ZoneExpiresSoon",
      expr: `knot_zone_stats_expiration < ${zoneExpiryHours} * 3600`,
      labels: { severity: "page" },
      annotations: {
        summary: "Zone {{ $labels.zone }} on {{ $labels.host }} expires in {{ $value | humanizeDuration }}",
        description: `{{ $labels.host }} ({{ $labels.instance }}) is a secondary of {{ $labels.zone }} that has not refreshed it from the primary (monitoring.thresholds.zoneExpiryHours: ${zoneExpiryHours}). When it expires the secondary answers SERVFAIL for the zone. Check that it reaches the primary (TCP 53, the primary's acl for its transfers), read \`knotc zone-status {{ $labels.zone }}\` there, and run \`knotc zone-refresh {{ $labels.zone }}\` once mended.`,
      },
    },
  ];
}
