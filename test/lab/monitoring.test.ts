/**
 * The fleet watches itself (issue 22), in the lab: the monitoring host `mon` runs Debian's
 * Prometheus, Alertmanager and blackbox exporter as pushed; Alertmanager posts to the lab's webhook
 * receiver on the admin host, outside the fleet. After bring-up every target is up and only the
 * Watchdog fires; then faults made with real tools (nft, openssl with the fleet's own certificate
 * hook, the backup script), side by side on different hosts, each post their named alert within
 * 90 s and its resolution within 90 s of the repair, and mail both to ext's user through the lab's
 * relay provider (monitoring.email); then a destination answering 4xx (ext's Postfix) leaves mail
 * stuck in out1's queue; out1's addresses listed on the lab's blocklist (rbldnsd on rbl, asked
 * through mon's own unbound) post SendingAddressListed; and every panel of the fleet's Grafana
 * dashboard returns data. From the lab's Internet no exporter,
 * Prometheus or Alertmanager port answers; inside the fleet only mon reaches the exporters. The
 * nameserver dns1 is watched like a fleet host (node exporter, knot-exporter with Knot's mod-stats):
 * kdig queries from client show up in mon's Prometheus as Knot's query counter growing.
 * mon's Prometheus counts rspamd's scans through the metrics path, which refuses every controller command.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { DASHBOARD_PANELS } from "../../components/render/monitoring/dashboard";
import { LISTED_METRIC } from "../../components/render/monitoring/rules";
import { watchedNameserver } from "../../components/render/monitoring/targets";
import { ALERTMANAGER_PORT, BLACKBOX_PORT, DNS_PORT, KNOT_EXPORTER_PORT, MTAIL_PORT, NODE_EXPORTER_PORT, POSTFIX_EXPORTER_PORT, PROMETHEUS_PORT, RSPAMD_CONTROLLER_PORT, RSPAMD_METRICS_PORT, SUBMISSION_PORT } from "../../components/topology";
import { CA_FILE, CLIENT, EXT, EXT_DOMAIN, EXT_USER, execOk, extMessages, listAddress, MAILTOOL, labHost, LabFleet, labPassword, openPorts, queueSize, RBL_ZONES, RELAY, sendByMx, smtpSend, startService, unlistAddress, waitUntil, webhookReceiver } from "../../scripts/lab";
import { useLab } from "../support/lab";

let fleet: LabFleet;
useLab((up) => (fleet = up));

const LIMIT_MS = 90_000;
const mon = () => labHost(fleet, "mon");
const dns1 = () => labHost(fleet, "dns1");
/** The nameserver's `host` label (its short name, ns1), as the fleet's targets give it. */
const nameserverLabel = () => watchedNameserver(fleet.build.topology)!.host;

/** A GET from the admin host (the networks the monitoring host's firewall admits), as JSON. */
function getJson<T>(url: string): T {
  return JSON.parse(execOk("admin", ["curl", "-sS", "--fail", "--max-time", "5", url])) as T;
}
const prometheus = <T>(path: string) => getJson<{ data: T }>(`http://${mon().ipv4}:${PROMETHEUS_PORT}/api/v1/${path}`).data;

interface Target {
  labels: Record<string, string>;
  health: string;
  lastError: string;
}
interface PromAlert {
  labels: Record<string, string>;
  state: string;
}
interface Notification {
  status: string;
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string }[];
}

const notifications = () => getJson<Notification[]>(webhookReceiver(fleet.spec)!.url);
const firing = () => prometheus<{ alerts: PromAlert[] }>("alerts").alerts.filter((a) => a.state === "firing");
/** Every probe's latest outcome: a target can be up (the blackbox exporter answered) while its probe fails. */
const failedProbes = () => prometheus<{ result: { metric: Record<string, string> }[] }>("query?query=probe_success%3D%3D0").result.map((r) => r.metric.instance);

/** The webhook's posts of this alert on this host, as `status` (firing, resolved), since `since`. */
function posted(alertname: string, host: string, status: "firing" | "resolved", since: number): Notification["alerts"] {
  return notifications()
    .flatMap((n) => n.alerts)
    .filter((a) => a.labels.alertname === alertname && a.labels.host === host && a.status === status)
    .filter((a) => Date.parse(status === "firing" ? a.startsAt : a.endsAt) >= since - 1000);
}

/** Alert mail at ext's user (monitoring.email, through the lab's relay provider) with this subject; Alertmanager's subject is `[FIRING:n] <alertname> <host> …`. */
const alertMails = (subject: RegExp) => extMessages().filter((m) => subject.test(m)).length;
const mailSubject = (status: "firing" | "resolved", alertname: string, host: string) =>
  new RegExp(`^Subject: \\[${status === "firing" ? "FIRING:\\d+" : "RESOLVED"}\\] ${alertname} ${host}\\b`, "m");

/** Waits until more alert mails with this subject than `before` arrived at ext, within LIMIT_MS. */
async function mailed(subject: RegExp, before: number, what: string): Promise<void> {
  const count = await waitUntil(() => alertMails(subject), (n) => n > before, LIMIT_MS, 2000);
  assert.ok(count > before, `no alert mail for ${what} reached ext through the relay within ${LIMIT_MS / 1000} s`);
}

/**
 * Makes a fault, waits for its alert (posted and mailed), repairs it, waits for the resolution: each
 * within LIMIT_MS; it returns the firing posts. `all`: whether the posts so far are all the fault
 * should bring (default: any one). A fault that holds up the alert mail too (ext refusing its user)
 * has `mail` checked after the repair: queued, not lost.
 */
async function faultAlerts(
  alertname: string,
  host: string,
  fault: () => unknown,
  repair: () => unknown,
  { all = (a: Notification["alerts"]) => a.length > 0, mail = "at once" }: { all?: (posts: Notification["alerts"]) => boolean; mail?: "at once" | "after the repair" } = {},
): Promise<Notification["alerts"]> {
  const start = Date.now();
  const [firingMail, resolvedMail] = [mailSubject("firing", alertname, host), mailSubject("resolved", alertname, host)];
  const mailsBefore = { firing: alertMails(firingMail), resolved: alertMails(resolvedMail) };
  let repaired = false;
  try {
    await fault();
    const fired = await waitUntil(() => posted(alertname, host, "firing", start), all, LIMIT_MS, 2000);
    assert.ok(all(fired), `${alertname} on ${host} was not posted within ${LIMIT_MS / 1000} s`);
    assert.match(fired[0].annotations.summary, new RegExp(host), "the summary names the host");
    assert.ok(fired[0].annotations.description.length > 40, "the description says what to do");
    if (mail === "at once") await mailed(firingMail, mailsBefore.firing, `${alertname} on ${host}`);
    const fixedAt = Date.now();
    await repair();
    repaired = true;
    const resolved = await waitUntil(() => posted(alertname, host, "resolved", fixedAt), all, LIMIT_MS, 2000);
    assert.ok(all(resolved), `${alertname} on ${host} was not resolved within ${LIMIT_MS / 1000} s of the repair`);
    if (mail === "after the repair") await mailed(firingMail, mailsBefore.firing, `${alertname} on ${host}`);
    await mailed(resolvedMail, mailsBefore.resolved, `${alertname} on ${host} resolved`);
    return fired;
  } finally {
    // A fault that failed halfway may leave nothing to repair: its own error is the one to see.
    if (!repaired) {
      try {
        await repair();
      } catch {
        // reported by the fault's error above
      }
    }
  }
}

/** Each [method, url]'s HTTP status from a lab host, side by side; 000 where nothing answers within 3 s (a firewall's drop). */
function httpStatuses(from: string, requests: [string, string][]): string[] {
  const script = 'd=$(mktemp -d); i=0; while [ $# -gt 0 ]; do curl -s -o /dev/null -w "%{http_code}" --max-time 3 -X "$1" "$2" >"$d/$i" & i=$((i+1)); shift 2; done; wait; for j in $(seq 0 $((i-1))); do cat "$d/$j"; echo; done; rm -rf "$d"';
  return execOk(from, ["bash", "-c", script, "statuses", ...requests.flat()]).trim().split("\n");
}

/** A rule set of the lab's own beside the fleet's table: dropped packets, removed by deleting the table. */
const FAULT_TABLE = "inet labfault";
function dropOn(host: string, rules: string[]): void {
  const chain = (hook: string) => ` chain ${hook} { type filter hook ${hook} priority -10; ${rules.map((r) => `${r}; `).join("")}}\n`;
  execOk(host, ["nft", "-f", "-"], { input: `table ${FAULT_TABLE} {\n${chain("input")}${chain("output")}}\n` });
}
const undrop = (host: string) => execOk(host, ["nft", "delete", "table", ...FAULT_TABLE.split(" ")]);

describe("the fleet watches itself", () => {
  test("after bring-up every target is up, every probe succeeds and only the Watchdog fires", async () => {
    const healthy = () => {
      const targets = prometheus<{ activeTargets: Target[] }>("targets").activeTargets;
      return { down: targets.filter((t) => t.health !== "up").map((t) => `${t.labels.instance}: ${t.lastError}`), failed: failedProbes(), alerts: firing().map((a) => a.labels.alertname) };
    };
    const state = await waitUntil(healthy, (s) => s.down.length === 0 && s.failed.length === 0 && s.alerts.join() === "Watchdog", LIMIT_MS, 2000);
    assert.deepEqual(state, { down: [], failed: [], alerts: ["Watchdog"] });
    const targets = prometheus<{ activeTargets: Target[] }>("targets").activeTargets;
    const exporters = targets.filter((t) => t.labels.job === "node").map((t) => t.labels.host).sort();
    assert.deepEqual(exporters, [...fleet.hosts.filter((h) => h.kind === "fleet").map((h) => h.name), nameserverLabel()].sort(), "every fleet host's exporter and the nameserver's are scraped");
    const knot = targets.filter((t) => t.labels.job === "knot").map((t) => `${t.labels.host} ${t.labels.role} ${t.labels.instance}`);
    assert.deepEqual(knot, [`${nameserverLabel()} dns ${dns1().ipv4}:${KNOT_EXPORTER_PORT}`], "the nameserver's knot-exporter is scraped");
    const watchdog = await waitUntil(() => notifications().flatMap((n) => n.alerts).filter((a) => a.labels.alertname === "Watchdog"), (w) => w.length > 0, LIMIT_MS, 2000);
    assert.ok(watchdog.length > 0, "the Watchdog reached the webhook outside the fleet");
  });

  test("from the Internet no monitoring port answers; inside, only the monitoring host reaches the exporters", () => {
    const fleetHosts = fleet.hosts.filter((h) => h.kind === "fleet");
    const ports = [NODE_EXPORTER_PORT, POSTFIX_EXPORTER_PORT, MTAIL_PORT, RSPAMD_METRICS_PORT, PROMETHEUS_PORT, ALERTMANAGER_PORT, BLACKBOX_PORT];
    // The nameserver has public addresses only, and its exporters listen on one: its firewall admits the scrapers (mon) alone.
    const nameserverPorts = (address: string) => [NODE_EXPORTER_PORT, KNOT_EXPORTER_PORT].map((p) => `${address}:${p}`);
    const nameserver = nameserverPorts(dns1().ipv4);
    const everywhere = [
      ...fleetHosts.flatMap((h) => [h.ipv4, `[${h.ipv6}]`].flatMap((a) => ports.map((p) => `${a}:${p}`))),
      ...nameserver,
      ...nameserverPorts(`[${dns1().ipv6}]`),
    ];
    for (const outside of [EXT.name, CLIENT.name]) assert.deepEqual(openPorts(outside, everywhere), [], `from ${outside}`);
    // A host reaches its own address over the loopback, which every firewall admits.
    const exporters = (but?: string) => [...fleetHosts.filter((h) => h.name !== but).map((h) => `${h.ipv4}:${NODE_EXPORTER_PORT}`), ...nameserver];
    for (const inside of ["mx1", "out1", "store1"]) assert.deepEqual(openPorts(inside, exporters(inside)), [], `${inside} reaches no other host's exporter, nor the nameserver's`);
    assert.deepEqual(openPorts("mon", exporters()), exporters().sort(), "the monitoring host reaches every exporter, the nameserver's too");
    // The MTAs' postfix exporter, mtail and rspamd's metrics path: the monitoring host reaches them, another fleet host does not.
    const mtaExporters = (but?: string) => fleetHosts.filter((h) => h.name !== but && (h.role === "edge" || h.role === "outbound")).flatMap((h) => [POSTFIX_EXPORTER_PORT, MTAIL_PORT, RSPAMD_METRICS_PORT].map((p) => `${h.ipv4}:${p}`));
    assert.deepEqual(openPorts("mon", mtaExporters()), mtaExporters().sort(), "the monitoring host reaches every MTA's exporters");
    for (const inside of ["mx1", "store1"]) assert.deepEqual(openPorts(inside, mtaExporters(inside)), [], `${inside} reaches no MTA's exporters`);
  });

  test("kdig queries from the Internet show up in mon's Prometheus as Knot's query counter of the zone", async () => {
    // HINFO: a type no host of the lab asks for, so the counter grows by the queries sent here.
    const counted = `sum(knot_query_type_total{host="${nameserverLabel()}", zone="example.com.", type="HINFO"}) or vector(0)`;
    const count = () => Number(prometheus<{ result: { value: [number, string] }[] }>(`query?query=${encodeURIComponent(counted)}`).result[0].value[1]);
    const before = count();
    const queries = 25;
    const names = Array.from({ length: queries }, (_, i) => `q${i}.example.com`);
    const answer = execOk(CLIENT.name, ["kdig", `@${dns1().ipv4}`, "-t", "HINFO", ...names]);
    assert.equal(answer.match(/status: NXDOMAIN/g)?.length, queries, answer);
    assert.ok((await waitUntil(count, (n) => n >= before + queries, LIMIT_MS, 2000)) >= before + queries, `the counter did not grow by ${queries} from ${before}`);
  });

  test("faults on separate hosts post their named alert within 90 s, and its resolution within 90 s of the repair", async () => {
    const short = "/root/short-lived";
    const subject = `monitoring ${randomBytes(4).toString("hex")}`;
    await Promise.all([
      // A store's LMTP blocked while mail for it arrives: the edges queue it.
      faultAlerts(
        "StoreLmtpDown",
        "store1",
        () => {
          dropOn("store1", ["tcp dport 24 drop"]);
          sendByMx("bob@example.net", "alice@example.com", subject);
        },
        () => {
          undrop("store1");
          for (const edge of ["mx1", "mx2"]) execOk(edge, ["postqueue", "-f"]);
        },
      ),
      // A certificate two days from its end, installed by the fleet's own certbot hook as a renewal would be.
      faultAlerts(
        "CertificateExpiresSoon",
        "mon",
        () => {
          execOk("mon", [
            "sh", "-ec",
            'mkdir -p "$0/mon" && cd "$0/mon" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=mon.mail.example.com -keyout privkey.pem -out fullchain.pem 2>/dev/null && RENEWED_LINEAGE="$0/mon" mailfleet-cert-deploy',
            short,
          ]);
        },
        () => execOk("mon", ["sh", "-ec", 'RENEWED_LINEAGE=/etc/letsencrypt/live/mon mailfleet-cert-deploy && rm -rf "$0"', short]),
      ),
      // A burst of failed IMAP logins from the Internet (wrong passwords, side by side); it repairs itself by ending.
      faultAlerts(
        "AuthFailureSpike",
        "store2",
        () => {
          const burst = fleet.spec.monitoring.thresholds.authFailuresPerMinute + 5;
          const out = execOk(CLIENT.name, [
            "bash", "-c",
            'for i in $(seq "$1"); do python3 "$2" imap --host "$3" --user carol@example.com --password "wrong-$i" --subject x --cafile "$4" & done; wait',
            "burst", String(burst), MAILTOOL, labHost(fleet, "store2").fqdn, CA_FILE,
          ], { timeoutMs: 60_000 });
          assert.equal(out.match(/"stage": "login"/g)?.length, burst, `every login fails: ${out}`);
        },
        () => undefined,
      ),
      // Backups that stop: the store cannot reach its repository, its backup fails; then one succeeds.
      faultAlerts(
        "BackupFailing",
        "store2",
        () => {
          dropOn("store2", [`ip daddr ${labHost(fleet, "backup").ipv4} drop`, `ip6 daddr ${labHost(fleet, "backup").ipv6} drop`]);
          const r = execOk("store2", ["sh", "-c", "MAILFLEET_BACKUP_PROBE_SECONDS=3 MAILFLEET_BACKUP_NO_RESYNC=1 mailfleet-backup run; echo rc=$?"], { timeoutMs: 60_000 });
          assert.match(r, /rc=[1-9]/, "the backup fails while its repository is unreachable");
        },
        () => {
          undrop("store2");
          execOk("store2", ["mailfleet-backup", "run"], { timeoutMs: 120_000 });
        },
      ),
    ]);
    // The Watchdog fired all along, and its mails would have come with the first alert's: it repeats
    // every 5 minutes, the webhook's job, not a mailbox's.
    assert.equal(alertMails(/^Subject: .*Watchdog/m), 0, "the Watchdog is not mailed");
  });

  test("a destination that answers 4xx leaves mail stuck in out1's queue: QueueStuck, resolved once it takes the mail", async () => {
    const bob = `${EXT_USER}@${EXT_DOMAIN}`;
    const subject = `stuck ${randomBytes(4).toString("hex")}`;
    // ext's Postfix turns bob away with a temporary error, as a receiver that is full or greylisting does.
    const refuse = `inline:{ { ${bob} = 450 4.2.1 mailbox busy, try later } }`;
    await faultAlerts(
      "QueueStuck",
      "out1",
      () => {
        execOk(EXT.name, ["sh", "-ec", 'postconf -e "smtpd_recipient_restrictions = check_recipient_access $0" && postfix reload', refuse]);
        const r = smtpSend({ server: labHost(fleet, "out1").fqdn, port: SUBMISSION_PORT, mode: "starttls", auth: { user: "alice@example.com", password: labPassword("alice@example.com") }, from: "alice@example.com", to: [bob], subject });
        assert.equal(r.ok, true, JSON.stringify(r));
      },
      () => {
        execOk(EXT.name, ["sh", "-ec", "postconf -X smtpd_recipient_restrictions && postfix reload"]);
        // The alert mail to bob waited at the relay meanwhile.
        for (const queued of ["out1", RELAY.name]) execOk(queued, ["postqueue", "-f"]);
      },
      { mail: "after the repair" },
    );
    assert.equal(queueSize("out1"), 0, "the stuck message left once ext took it");
  });

  test("out1's IPv4 and IPv6 listed on the lab's blocklist: SendingAddressListed for each, resolved once delisted; the resolver asked answers on loopback only", async () => {
    const out1 = labHost(fleet, "out1");
    const addresses = [out1.ipv4, out1.ipv6];
    const zone = RBL_ZONES.block;
    const each = (posts: Notification["alerts"]) => addresses.every((a) => posts.some((p) => p.labels.address === a && p.labels.zone === zone));
    const fired = await faultAlerts(
      "SendingAddressListed",
      "out1",
      async () => {
        for (const address of addresses) await listAddress(address);
      },
      async () => {
        for (const address of addresses) await unlistAddress(address);
      },
      { all: each },
    );
    for (const alert of fired) assert.ok(alert.annotations.summary.includes(alert.labels.address) && alert.annotations.summary.includes(zone), alert.annotations.summary);
    // Delisted, nothing reads as listed: mx1's and mx2's addresses never were.
    const listed = prometheus<{ result: { metric: Record<string, string> }[] }>(`query?query=${encodeURIComponent(`${LISTED_METRIC} == 1`)}`).result;
    assert.deepEqual(listed, [], "nothing listed after the delisting");
    // mon's unbound, which the probes ask, is no open resolver: it listens on loopback, and nothing answers on 53 from outside or inside.
    const dns = [`${mon().ipv4}:${DNS_PORT}`, `[${mon().ipv6}]:${DNS_PORT}`];
    for (const from of [EXT.name, "mx1"]) assert.deepEqual(openPorts(from, dns), [], `from ${from}`);
  });

  test("every panel of the fleet's Grafana dashboard returns data from the lab's Prometheus", async () => {
    // A recipient the edge refuses, so the rejects panel has something to show.
    const r = smtpSend({ server: labHost(fleet, "mx1").fqdn, from: "carol@example.net", to: ["nobody@example.com"], subject: "refused" });
    assert.equal(r.ok, false, JSON.stringify(r));
    // All hosts, as the dashboard's "All" asks.
    const query = (expr: string) => prometheus<{ result: unknown[] }>(`query?query=${encodeURIComponent(expr.replaceAll("$host", ".*"))}`).result;
    const empty = () => DASHBOARD_PANELS.filter((p) => query(p.expr).length === 0).map((p) => p.title);
    assert.deepEqual(await waitUntil(empty, (e) => e.length === 0, LIMIT_MS, 2000), [], "panels without data");
  });

  test("mon's Prometheus counts rspamd's scan of a message ext sends to an edge", async () => {
    const scanned = () => prometheus<{ result: { value: [number, string] }[] }>(`query?query=${encodeURIComponent('rspamd_scanned_total{host="mx1"}')}`).result.map((r) => Number(r.value[1]))[0];
    const before = scanned();
    assert.ok(before !== undefined, "mon scrapes mx1's rspamd");
    const r = smtpSend({ on: EXT.name, server: labHost(fleet, "mx1").fqdn, from: `${EXT_USER}@${EXT_DOMAIN}`, to: ["alice@example.com"], subject: `scanned ${randomBytes(4).toString("hex")}` });
    assert.equal(r.ok, true, JSON.stringify(r));
    const after = await waitUntil(scanned, (n) => n > before, LIMIT_MS, 2000);
    assert.ok(after > before, `rspamd_scanned_total{host="mx1"} stayed at ${before}`);
  });

  test("no rspamd controller command reaches an edge's or outbound host's controller from mon or ext: the metrics path answers GET /metrics only", () => {
    const at = (host: string, port: number, path: string) => `http://${labHost(fleet, host).ipv4}:${port}${path}`;
    const mtas = ["mx1", "out1"];
    const writes = ["/learnspam", "/learnham", "/saveactions", "/statreset"];
    const fromMon = httpStatuses("mon", [
      ...mtas.map((host): [string, string] => ["GET", at(host, RSPAMD_METRICS_PORT, "/metrics")]),
      ...mtas.flatMap((host) => writes.map((path): [string, string] => ["POST", at(host, RSPAMD_METRICS_PORT, path)])),
      // The controller's own port: on an edge for the stores only, on an outbound host on loopback only.
      ...mtas.map((host): [string, string] => ["POST", at(host, RSPAMD_CONTROLLER_PORT, "/learnspam")]),
    ]);
    assert.deepEqual(fromMon, [...mtas.map(() => "200"), ...mtas.flatMap(() => writes.map(() => "404")), ...mtas.map(() => "000")], "from mon");
    const fromExt = httpStatuses(EXT.name, mtas.flatMap((host) => [RSPAMD_METRICS_PORT, RSPAMD_CONTROLLER_PORT].map((port): [string, string] => ["POST", at(host, port, "/learnspam")])));
    assert.deepEqual(fromExt, ["000", "000", "000", "000"], "from ext nothing answers");
  });

  test("rspamd stopped on an edge: RspamdNotScanning names it within 90 s, and is resolved within 90 s of its start", async () => {
    // By its pid file: the lab's hosts share this machine's process table.
    const pid = "/run/rspamd/rspamd.pid";
    await faultAlerts(
      "RspamdNotScanning",
      "mx2",
      () => execOk("mx2", ["sh", "-c", 'p=$(cat "$0") && kill -TERM "$p" && while kill -0 "$p" 2>/dev/null; do sleep 0.2; done', pid], { timeoutMs: 30_000 }),
      () => {
        startService("mx2", ["rspamd", "-u", "_rspamd", "-g", "_rspamd", "-c", "/etc/rspamd/rspamd.conf"]);
        execOk("mx2", ["sh", "-c", 'for i in $(seq 100); do [ -s "$0" ] && kill -0 "$(cat "$0")" 2>/dev/null && exit 0; sleep 0.2; done; exit 1', pid]);
      },
    );
  });
});
