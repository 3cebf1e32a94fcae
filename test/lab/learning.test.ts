/**
 * Learning from users (issue 23), driven from the lab's "Internet": ext sends alice mail through the
 * edges, her IMAP client on `client` moves it into and out of Junk, and the store's IMAPSieve reports
 * each move to an edge's rspamd controller. Bayes lives in the shared Valkey, so `rspamc stat` on
 * every edge shows the learned counts rise, and once enough is learned a message like the learned spam
 * scores as spam at every edge. Mail the edges mark as spam is filed into Junk, and the
 * controller's port answers the stores only.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { RSPAMD_CONTROLLER_PORT } from "../../components/topology";
import { CLIENT, exec, execOk, EXT, imapMessages, labHost, LabFleet, labPassword, mailboxState, moveMessages, openPorts, waitUntil } from "../../scripts/lab";
import { useLab } from "../support/lab";

const ALICE = "alice@example.com";
const tag = () => randomBytes(4).toString("hex");
let fleet: LabFleet;
useLab((up) => (fleet = up));

const edges = () => fleet.hosts.filter((h) => h.role === "edge").map((h) => h.name);
const store = () => labHost(fleet, "store1").fqdn;
const address = (name: string) => labHost(fleet, name).ipv4;

/** rspamc stat's learned count of a statfile on an edge. */
function learned(edge: string, statfile: "BAYES_SPAM" | "BAYES_HAM"): number {
  const line = execOk(edge, ["rspamc", "-h", "127.0.0.1:11334", "stat"]).split("\n").find((l) => l.startsWith(`Statfile: ${statfile} `));
  return Number(/learned: (\d+)/.exec(line ?? "")?.[1] ?? NaN);
}
/** Waits until every edge counts at least `atLeast` learns of the statfile; returns each edge's count. */
async function learnedEverywhere(statfile: "BAYES_SPAM" | "BAYES_HAM", atLeast: number): Promise<number[]> {
  return Promise.all(edges().map((edge) => waitUntil(() => learned(edge, statfile), (n) => n >= atLeast, 30_000, 1000)));
}

/** Words no other message has: what Bayes learns from a message and recognises in another. */
const words = (count = 40) => Array.from({ length: count }, () => `w${tag()}`).join(" ");
/** A message from ext to alice through `mx` (swaks, a whole message), with enough words for Bayes (fresh ones unless given); swaks's transcript. */
function sendToAlice(mx: string, subject: string, o: { from?: string; source?: string; body?: string } = {}): string {
  const body = o.body ?? words();
  const from = o.from ?? `news-${tag()}@example.net`;
  return exec(EXT.name, ["swaks", "--server", address(mx), ...(o.source ? ["--local-interface", o.source] : []), "--from", from, "--to", ALICE, "--helo", EXT.fqdn, "--h-Subject", subject, "--body", body, "--timeout", "20"]).stdout;
}
const QUEUED = /^<- +250 2\.0\.0 Ok: queued/m;

test("moved into Junk: learned as spam on every edge; out of Junk to INBOX: as ham; to Trash: not as ham", async () => {
  const t = tag();
  const subjects = ["a", "b", "c"].map((m) => `learn ${t} ${m}`);
  for (const [i, subject] of subjects.entries()) assert.match(sendToAlice(edges()[i % edges().length], subject), QUEUED);
  await waitUntil(() => imapMessages(store(), ALICE, labPassword(ALICE), `learn ${t}`), (m) => m.length === 3, 60_000, 1000);

  const spam = learned(edges()[0], "BAYES_SPAM");
  assert.equal(moveMessages(store(), ALICE, labPassword(ALICE), `learn ${t}`, "INBOX", "Junk"), 3);
  const spamAfter = await learnedEverywhere("BAYES_SPAM", spam + 3);
  assert.equal(new Set(spamAfter).size, 1, `one count on every edge: ${spamAfter}`);

  // b to Trash (no ham), then c back to INBOX (ham): the moves report as they happen, so c's is the only one.
  const ham = learned(edges()[0], "BAYES_HAM");
  assert.equal(moveMessages(store(), ALICE, labPassword(ALICE), subjects[1], "Junk", "Trash"), 1);
  assert.equal(moveMessages(store(), ALICE, labPassword(ALICE), subjects[2], "Junk", "INBOX"), 1);
  const hamAfter = await learnedEverywhere("BAYES_HAM", ham + 1);
  await new Promise((r) => setTimeout(r, 6000)); // one more recount (classifier monitor_timeout 5 s) to catch a late learn
  assert.deepEqual(edges().map((e) => learned(e, "BAYES_HAM")), hamAfter.map(() => ham + 1), "one ham learn: c's, not b's (Trash)");
});

/** An edge's verdict on a message (rspamc to its scanner): the score and the symbols. */
function verdict(edge: string, message: string): { score: number; symbols: string[] } {
  const out = execOk(edge, ["rspamc", "symbols"], { input: message });
  return { score: Number(/^Score: (-?[\d.]+) \//m.exec(out)?.[1] ?? NaN), symbols: [...out.matchAll(/^Symbol: (\w+)/gm)].map((m) => m[1]) };
}

test("trained by users' Junk moves (a few of each class: spam.bayesMinLearns), Bayes scores a message like the learned spam BAYES_SPAM, higher than before, at every edge", async () => {
  const n = fleet.spec.spam.bayesMinLearns;
  const t = tag();
  const [spamText, hamText] = [words(), words()];
  const probe = `From: <offers-${t}@example.net>\nTo: <${ALICE}>\nSubject: probe ${t}\nDate: ${new Date().toUTCString()}\nMessage-ID: <probe-${t}@example.net>\n\n${spamText}\n`;
  const before = edges().map((edge) => verdict(edge, probe));
  for (const v of before) assert.ok(!v.symbols.includes("BAYES_SPAM"), `not spam to Bayes before: ${v.symbols}`);

  // n messages of each kind, through either edge; the users' moves teach Bayes what each is.
  for (let i = 0; i < n; i++) {
    assert.match(sendToAlice(edges()[i % edges().length], `bayes ${t} ham ${i}`, { body: hamText }), QUEUED);
    assert.match(sendToAlice(edges()[(i + 1) % edges().length], `bayes ${t} spam ${i}`, { body: spamText }), QUEUED);
  }
  await waitUntil(() => imapMessages(store(), ALICE, labPassword(ALICE), `bayes ${t} `), (m) => m.length === 2 * n, 60_000, 1000);
  // Ham: wrongly thought spam, then moved back out of Junk (learned as ham), so the farm has n learns of each class.
  assert.equal(moveMessages(store(), ALICE, labPassword(ALICE), `bayes ${t} ham`, "INBOX", "Junk"), n);
  assert.equal(moveMessages(store(), ALICE, labPassword(ALICE), `bayes ${t} ham`, "Junk", "INBOX"), n);
  assert.equal(moveMessages(store(), ALICE, labPassword(ALICE), `bayes ${t} spam`, "INBOX", "Junk"), n);

  // Each edge counts the learns anew every few seconds (monitor_timeout): then Bayes scores the probe.
  const after = await Promise.all(edges().map((edge) => waitUntil(() => verdict(edge, probe), (v) => v.symbols.includes("BAYES_SPAM"), 60_000, 1000)));
  for (const [i, edge] of edges().entries()) {
    assert.ok(after[i].symbols.includes("BAYES_SPAM"), `${edge}: BAYES_SPAM (${after[i].symbols})`);
    assert.ok(after[i].score > before[i].score, `${edge} scores it higher: ${before[i].score} -> ${after[i].score}`);
  }
});

/**
 * An address of ext's own with no reverse name, outside example.net's SPF: mail from it scores past
 * add_header (RDNS_NONE, HFILTER_HOSTNAME_UNKNOWN, SPF fail), below reject. Blocklist-free (blocklists.test.ts uses .125-.128).
 */
const UNNAMED = "203.0.113.129";

test("mail the edges mark as spam is filed into Junk; clean mail stays in INBOX", async (t) => {
  execOk(EXT.name, ["ip", "addr", "replace", `${UNNAMED}/32`, "dev", "eth0"]);
  t.after(() => execOk(EXT.name, ["ip", "addr", "del", `${UNNAMED}/32`, "dev", "eth0"]));
  const run = tag();
  const from = `unnamed-${run}@example.net`;
  // Greylisted first (its score is past the greylist threshold), taken on a retry after the delay, as an MTA would.
  await waitUntil(() => sendToAlice("mx1", `marked ${run}`, { from, source: UNNAMED }), (r) => QUEUED.test(r), 30_000, 2000);
  assert.match(sendToAlice("mx2", `clean ${run}`), QUEUED);
  const where = (subject: string, folders: Record<string, { subject: string }[]>) => Object.keys(folders).filter((f) => folders[f].some((m) => m.subject === subject));
  const state = await waitUntil(
    () => mailboxState(store(), ALICE, labPassword(ALICE)),
    (s) => !!s.folders && where(`marked ${run}`, s.folders).length + where(`clean ${run}`, s.folders).length === 2,
    60_000,
    1000,
  );
  assert.deepEqual(where(`marked ${run}`, state.folders!), ["Junk"]);
  assert.deepEqual(where(`clean ${run}`, state.folders!), ["INBOX"]);
});

test("the controller port answers the stores only (not ext, client, the outbound host or another edge), and learns nothing without the password", () => {
  const targets = edges().map((e) => `${address(e)}:${RSPAMD_CONTROLLER_PORT}`).sort();
  for (const outside of [EXT.name, CLIENT.name, "out1", "mx2"]) assert.deepEqual(openPorts(outside, targets.filter((t) => !t.startsWith(`${address(outside)}:`))), [], `nothing answers ${outside}`);
  assert.deepEqual(openPorts("store2", targets), targets, "a store reaches every edge's controller");
  const noPassword = exec("store1", ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "Subject: x\n\nx\n", `http://${targets[0]}/learnspam`]).stdout;
  assert.equal(noPassword, "401", "learn_spam without the password is refused");
  const readOnly = exec("store1", ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", `http://${targets[0]}/stat`]).stdout;
  assert.equal(readOnly, "401", "so is reading the statistics");
});
