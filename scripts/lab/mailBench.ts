/**
 * The mail benchmark, on a running lab (`./mf lab bench`): for a burst to one mailbox and a burst
 * over 100 mailboxes, at 8 KB and 256 KB, side by side in one run:
 * - raw LMTP: smtp-source on mx1 straight into store1's Dovecot (port 24), the store's own speed;
 * - smtp-sink: smtp-source into Postfix's smtp-sink on mx1 (loopback), SMTP without any work;
 * - the fleet: smtp-source on ext (the lab's Internet) into mx1:25 with 8 sessions, through
 *   postscreen, rspamd and LMTP, timed until every message is in its mailbox.
 * Each burst runs twice: with every lab host on every CPU (shared), and with the store on a CPU of
 * its own and every other host (edge, senders, DNS) on the rest, as separate machines would be:
 * sharing, the edge's scanning takes the store's CPU, and raw LMTP has both CPUs to itself.
 * It prints each rate, the ratio fleet/raw and the edge's deferrals (must be 0). Bounded: every
 * run has a time limit, and only lab addresses are used. The bench mailboxes are added to the lab
 * stack's files for the run and removed afterwards, with their mail.
 */
import { cpus } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { buildFleet, givenAddresses } from "../../components/build";
import { MailboxSpec } from "../../components/config/spec";
import { VMAIL_BASE } from "../../components/render/dovecot/conf";
import { markdownTable } from "../../components/table";
import { LMTP_PORT, SMTP_PORT } from "../../components/topology";
import { logLinesSince, logSize, waitUntil } from "./clients";
import { exec, execOk, labNamespaces, pinNamespaces, startOn } from "./host";
import { deployFiles, labHost, LabFleet, loadLabFleet, push } from "./index";
import { netnsName } from "./plan";
import { EXT } from "./peers";

const SESSIONS = 8;
const RUN_LIMIT_MS = 180_000;
const BURST = "burst@example.com";
/** smtp-source -r N sends each message to bench0@ … bench<N-1>@ (a number appended to the local part). */
const LIST = "bench@example.com";
const LIST_SIZE = 100;
const STORE = "store1";
const EDGE = "mx1";
/** smtp-sink listens on the edge's loopback only: the firewall admits nobody else to it anyway. */
const SINK_PORT = 2525;

export interface Scenario {
  name: string;
  sizeKb: number;
  /** Deliveries (messages × recipients). */
  deliveries: number;
  recipients: 1 | typeof LIST_SIZE;
}

export const SCENARIOS: Scenario[] = [
  { name: "1 mailbox, 8 KB", sizeKb: 8, deliveries: 1000, recipients: 1 },
  { name: "100 mailboxes, 8 KB", sizeKb: 8, deliveries: 1000, recipients: LIST_SIZE },
  { name: "1 mailbox, 256 KB", sizeKb: 256, deliveries: 200, recipients: 1 },
  { name: "100 mailboxes, 256 KB", sizeKb: 256, deliveries: 200, recipients: LIST_SIZE },
];

/** Which CPUs (taskset lists) the store and everything else run on. */
export interface Placement {
  name: string;
  store: string;
  /** The other lab hosts and the load generators. */
  rest: string;
}

const CPUS = cpus().length;
/** Every lab process on every CPU: the lab as it runs outside the bench. */
const SHARED: Placement = { name: "shared", store: `0-${CPUS - 1}`, rest: `0-${CPUS - 1}` };
const PLACEMENTS: Placement[] = CPUS < 2 ? [SHARED] : [SHARED, { name: "store apart", store: String(CPUS - 1), rest: `0-${CPUS - 2}` }];

function place(p: Placement): void {
  const store = netnsName(STORE);
  pinNamespaces([store], p.store);
  pinNamespaces(labNamespaces().filter((ns) => ns !== store), p.rest);
}

export interface Result {
  scenario: Scenario;
  placement: string;
  rawLmtp: number;
  sink: number;
  accepted: number;
  delivered: number;
  deferred: number;
  seconds: number;
}

const benchMailboxes = (hash: string): MailboxSpec[] =>
  [BURST, ...Array.from({ length: LIST_SIZE }, (_, i) => LIST.replace("@", `${i}@`))].map((address) => ({
    address,
    passwordHash: hash,
    quotaMb: 2048,
    store: STORE,
  }));

/** The lab's files with the bench mailboxes added, for the hosts whose files that changes. */
function withBenchMailboxes(fleet: LabFleet): LabFleet {
  const spec = { ...fleet.spec, mailboxes: [...fleet.spec.mailboxes, ...benchMailboxes(fleet.spec.mailboxes[0].passwordHash)] };
  return { ...fleet, spec, build: buildFleet(spec, givenAddresses(spec), fleet.keys) };
}

async function pushAll(fleet: LabFleet): Promise<void> {
  for (const host of fleet.hosts.filter((h) => h.kind === "fleet")) {
    const r = await push(host, deployFiles(fleet, host));
    if (r.code !== 0) throw new Error(`bench: push to ${host.name} failed:\n${r.stderr}`);
  }
}

function smtpSource(s: Scenario, target: string, lmtp = false): string[] {
  const common = [...(lmtp ? ["-L"] : []), "-l", String(s.sizeKb * 1024), "-f", "sender@example.net"];
  if (s.recipients === 1) return ["smtp-source", ...common, "-d", "-s", String(SESSIONS), "-m", String(s.deliveries), "-t", BURST, target];
  // -r numbers recipients across all of one process's messages (bench0@ … bench<n-1>@), so each
  // message to the list is its own process, SESSIONS of them at a time.
  const one = ["smtp-source", ...common, "-m", "1", "-r", String(s.recipients), "-t", LIST, target];
  // With -I and no {} in the command, xargs runs it once per input line and appends nothing.
  return ["sh", "-c", `seq ${s.deliveries / s.recipients} | xargs -P ${SESSIONS} -I{} ${one.join(" ")}`];
}

/** Messages in the INBOXes of the scenario's mailboxes on the store. */
function inboxCount(s: Scenario): number {
  const mask = s.recipients === 1 ? BURST : "bench*@example.com";
  const out = execOk(STORE, ["doveadm", "-f", "flow", "mailbox", "status", "-u", mask, "messages", "INBOX"]);
  return [...out.matchAll(/messages=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

function emptyInboxes(): void {
  for (const mask of [BURST, "bench*@example.com"]) execOk(STORE, ["doveadm", "expunge", "-u", mask, "mailbox", "INBOX", "all"]);
}

/** A load generator, on the CPUs of the hosts that are not the store. */
const generator = (p: Placement, argv: string[]) => ["taskset", "-c", p.rest, ...argv];

async function timed(host: string, argv: string[]): Promise<number> {
  const start = Date.now();
  const r = await startOn(host, argv, RUN_LIMIT_MS).done;
  if (r.code !== 0) throw new Error(`bench: ${argv.join(" ")} on ${host} failed (${r.code}): ${r.stdout}${r.stderr}`);
  return (Date.now() - start) / 1000;
}

async function measure(fleet: LabFleet, s: Scenario, p: Placement): Promise<Result> {
  const store = labHost(fleet, STORE);
  emptyInboxes();
  const raw = await timed(EDGE, generator(p, smtpSource(s, `${store.ipv4}:${LMTP_PORT}`, true)));
  if (inboxCount(s) !== s.deliveries) throw new Error(`bench: raw LMTP stored ${inboxCount(s)} of ${s.deliveries}`);

  const sink = startOn(EDGE, generator(p, ["smtp-sink", "-u", "postfix", `127.0.0.1:${SINK_PORT}`, "256"]), RUN_LIMIT_MS);
  await sleep(500);
  const sinkSeconds = await timed(EDGE, generator(p, smtpSource(s, `127.0.0.1:${SINK_PORT}`))).finally(sink.stop);

  emptyInboxes();
  const offset = logSize(EDGE);
  const start = Date.now();
  const accepted = await timed(EXT.name, generator(p, smtpSource(s, `${labHost(fleet, EDGE).ipv4}:${SMTP_PORT}`)));
  const delivered = await waitUntil(() => inboxCount(s), (n) => n >= s.deliveries, RUN_LIMIT_MS - (Date.now() - start), 200);
  if (delivered < s.deliveries) throw new Error(`bench: only ${delivered} of ${s.deliveries} delivered in ${RUN_LIMIT_MS / 1000} s`);
  const seconds = (Date.now() - start) / 1000;
  const rate = (t: number) => s.deliveries / t;
  return {
    scenario: s,
    placement: p.name,
    rawLmtp: rate(raw),
    sink: rate(sinkSeconds),
    accepted: rate(accepted),
    delivered: rate(seconds),
    deferred: logLinesSince(EDGE, offset),
    seconds,
  };
}

export function formatResults(results: Result[]): string {
  const rows = results.map((r) =>
    [r.scenario.name, r.placement, r.scenario.deliveries, r.rawLmtp, r.sink, r.accepted, r.delivered, r.delivered / r.rawLmtp, r.seconds, r.deferred]
      .map((v) => (typeof v === "number" && !Number.isInteger(v) ? v.toFixed(v < 10 ? 2 : 0) : String(v))),
  );
  const head = ["burst", "CPUs", "deliveries", "raw LMTP/s", "smtp-sink/s", "fleet accepted/s", "fleet delivered/s", "delivered/raw", "all in (s)", "deferred"];
  return markdownTable(head, rows);
}

export async function mailBench(log: (line: string) => void = console.log): Promise<Result[]> {
  if (labNamespaces().length === 0) throw new Error("bench: the lab is not up; run `./mf lab up` first");
  const lab = loadLabFleet();
  const bench = withBenchMailboxes(lab);
  log("bench: adding 101 bench mailboxes to the lab");
  await pushAll(bench);
  const results: Result[] = [];
  try {
    for (const s of SCENARIOS) {
      // Side by side: the same burst under each placement, one after the other.
      for (const p of PLACEMENTS) {
        log(`bench: ${s.name} (${s.deliveries} deliveries), ${p.name}…`);
        place(p);
        results.push(await measure(bench, s, p));
      }
    }
  } finally {
    place(SHARED);
    emptyInboxes();
    log("bench: removing the bench mailboxes");
    await pushAll(lab);
    exec(STORE, ["sh", "-c", `rm -rf ${VMAIL_BASE}/example.com/burst ${VMAIL_BASE}/example.com/bench*`]);
  }
  return results;
}
