/**
 * One memory for the MX farm (issue 23): Valkey with replicas and a Sentinel quorum on the state
 * hosts, rspamd on both edges and the outbound host reaching it through the Sentinels. Driven from
 * the lab's "Internet": swaks and ext's own Postfix send, the user's IMAP client reads. Greylisting
 * holds across equal-priority MX, Bayes statistics are one set, the primary's loss (SIGKILL while
 * mail flows) is survived with nothing lost or twice, and the state ports answer only the fleet.
 * Outbound: a login past its hourly messages or recipients is held off with a 4xx, and `./mf lock` shuts a login out.
 * Replies: what a user sends through out1 is remembered, so an answer to it from ext scores REPLY at either edge.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { SENTINEL_PORT, VALKEY_PORT } from "../../components/topology";
import { STATE_MASTER, VALKEY_PATHS } from "../../components/render/valkey";
import { buildFleet, givenAddresses } from "../../components/build";
import { CLIENT, exec, execOk, EXT, EXT_USER, imapMessages, labHost, LabFleet, labPassword, openPorts, push, smtpSend, startOn, waitUntil } from "../../scripts/lab";
import { restoreHosts, useLab } from "../support/lab";
import { mf, REPO } from "../support/operator";
import { join } from "node:path";

const ALICE = "alice@example.com";
const tag = () => randomBytes(4).toString("hex");
let fleet: LabFleet;
useLab((up) => (fleet = up));

const stateHosts = () => fleet.build.topology.state.hosts;
const address = (name: string) => labHost(fleet, name).ipv4;
const hostAt = (ip: string) => fleet.hosts.find((h) => h.ipv4 === ip)!.name;

/** valkey-cli on a lab host; the password goes on stdin (REDISCLI_AUTH), never into argv or a log. */
function cli(on: string, target: string, port: number, user: "rspamd" | "sentinel" | undefined, args: string[]) {
  const login = user ? ["--user", user] : [];
  return exec(on, ["sh", "-c", 'REDISCLI_AUTH=$(cat) exec valkey-cli --no-auth-warning -h "$@"', "cli", target, "-p", String(port), ...login, ...args], {
    input: user ? fleet.keys.state[user] : "",
  });
}
const sentinel = (on: string, args: string[]) => cli(on, address(on), SENTINEL_PORT, "sentinel", args).stdout.trim();
/** The primary as the Sentinel on `on` sees it (a host name). */
const primaryFrom = (on: string) => hostAt(sentinel(on, ["sentinel", "get-master-addr-by-name", STATE_MASTER]).split("\n")[0]);
/** `INFO replication` of the Valkey on a host, as a record. */
function replication(name: string): Record<string, string> {
  const out = cli(name, address(name), VALKEY_PORT, "rspamd", ["info", "replication"]).stdout;
  return Object.fromEntries(out.split(/\r?\n/).filter((l) => l.includes(":")).map((l) => l.split(":", 2) as [string, string]));
}

/** One SMTP transaction from ext straight to an MX, with a message rspamd scores into the greylisting range (no To, Date or Message-ID). */
function greylistProbe(mx: string, sender: string, subject: string): string {
  const data = `From: <${sender}>\nSubject: ${subject}\n\nA greylisting probe.\n`;
  const r = exec(EXT.name, ["swaks", "--server", address(mx), "--from", sender, "--to", ALICE, "--helo", EXT.fqdn, "--data", data, "--timeout", "20"]);
  // The first refusal, or the acceptance of the message (swaks marks a refusal <**).
  const answer = r.stdout.split("\n").find((l) => /^<\*\* +[45]\d\d /.test(l) || /^<- +250 2\.0\.0 Ok: queued/.test(l)) ?? r.stdout;
  return answer.replace(/^<(\*\*|-) +/, "");
}
/** A first try at `first`, the retry after the delay at `second`, and how often the message arrived. */
async function greylistRound(first: string, second: string): Promise<{ first: string; retry: string; arrived: number }> {
  const t = tag();
  const sender = `grey-${t}@example.net`;
  const subject = `greylist ${t}`;
  const answer = greylistProbe(first, sender, subject);
  await new Promise((r) => setTimeout(r, (fleet.spec.spam.greylist.delaySeconds + 1) * 1000));
  const retry = greylistProbe(second, sender, subject);
  const inbox = /^250 /.test(retry) ? await waitUntil(() => imapMessages(labHost(fleet, "store1").fqdn, ALICE, labPassword(ALICE), subject), (m) => m.length >= 1, 60_000, 1000) : [];
  return { first: answer, retry, arrived: inbox.length };
}
/** Greylisted by `first`, the retry at `second` taken (it sees the same entry), the message delivered once. */
function assertGreylistedAcross(round: { first: string; retry: string; arrived: number }, first: string, second: string): void {
  assert.match(round.first, /^451 4\.7\.1 /, `${first} greylists a first-time sender`);
  assert.match(round.retry, /^250 /, `${second} takes the retry: it sees ${first}'s greylist entry`);
  assert.equal(round.arrived, 1, "the retried message arrives once");
}

/** rspamc stat's learned count of a statfile on an edge. */
function learned(edge: string, statfile: "BAYES_SPAM" | "BAYES_HAM"): number {
  const line = execOk(edge, ["rspamc", "-h", "127.0.0.1:11334", "stat"]).split("\n").find((l) => l.startsWith(`Statfile: ${statfile} `));
  return Number(/learned: (\d+)/.exec(line ?? "")?.[1] ?? NaN);
}

test("Valkey runs as one primary with replicas on the other state hosts, and every Sentinel names the same primary", () => {
  // mx1 at bring-up; whichever state host the Sentinels promoted since.
  const primary = primaryFrom(stateHosts()[0]);
  assert.ok(stateHosts().includes(primary), `the primary, ${primary}, is a state host`);
  for (const host of stateHosts()) {
    assert.equal(primaryFrom(host), primary, `the Sentinel on ${host} names ${primary}`);
    const master = sentinel(host, ["sentinel", "master", STATE_MASTER]).split("\n");
    const field = (name: string) => master[master.indexOf(name) + 1];
    assert.equal(field("num-slaves"), String(stateHosts().length - 1), `${host}: every other state host is a replica`);
    assert.equal(field("num-other-sentinels"), String(stateHosts().length - 1), `${host}: knows the other Sentinels`);
  }
  assert.equal(replication(primary).role, "master");
  for (const replica of stateHosts().filter((h) => h !== primary)) {
    const info = replication(replica);
    assert.equal(info.role, "slave");
    assert.equal(info.master_link_status, "up", `${replica} replicates`);
  }
});

test("Bayes: what one edge learns, rspamc stat shows on every edge", async () => {
  const edges = fleet.hosts.filter((h) => h.role === "edge").map((h) => h.name);
  const before = learned(edges[0], "BAYES_SPAM");
  const words = Array.from({ length: 40 }, () => `w${tag()}`).join(" ");
  const message = `From: <spam-${tag()}@example.net>\nTo: <${ALICE}>\nSubject: offer ${tag()}\nMessage-ID: <${tag()}@example.net>\n\n${words}\n`;
  assert.match(execOk(edges[0], ["rspamc", "-h", "127.0.0.1:11334", "learn_spam"], { input: message }), /success = true/);
  for (const edge of edges) {
    const count = await waitUntil(() => learned(edge, "BAYES_SPAM"), (n) => n > before, 30_000, 1000);
    assert.ok(count > before, `${edge} counts the learn made on ${edges[0]}`);
  }
  assert.equal(new Set(edges.map((e) => learned(e, "BAYES_SPAM"))).size, 1, "the same learned count on each edge");
});

test("greylisting holds across the farm: greylisted by mx1, the retry to mx2 is taken, the message arrives once", async () => {
  assertGreylistedAcross(await greylistRound("mx1", "mx2"), "mx1", "mx2");
});

test("no Valkey or Sentinel port answers from the Internet (ext, client) or from a fleet host that does not use them; the users need their login", () => {
  const targets = stateHosts().flatMap((h) => [`${address(h)}:${VALKEY_PORT}`, `${address(h)}:${SENTINEL_PORT}`]);
  for (const outside of [EXT.name, CLIENT.name, "store2"]) assert.deepEqual(openPorts(outside, targets), [], `nothing answers ${outside}`);
  assert.deepEqual(openPorts("mx2", targets), [...targets].sort(), "an edge reaches every state port");
  const primary = primaryFrom(stateHosts()[0]);
  assert.match(cli("mx2", address(primary), VALKEY_PORT, undefined, ["get", "x"]).stdout, /NOAUTH/, "no access without a login");
  assert.match(cli("mx2", address(primary), VALKEY_PORT, "rspamd", ["flushall"]).stdout, /NOPERM/, "rspamd's user cannot wipe the state");
  assert.match(cli("mx2", address(primary), VALKEY_PORT, "rspamd", ["config", "get", "requirepass"]).stdout, /NOPERM/, "nor read or change the config");
  assert.match(cli("mx2", address(primary), SENTINEL_PORT, undefined, ["sentinel", "failover", STATE_MASTER]).stdout, /NOPERM/, "without a login a Sentinel only says where the primary is");
});

test("failover: the primary SIGKILLed while mail flows from ext; a replica takes over, greylisting goes on, nothing is lost or doubled, the old primary rejoins as a replica", async () => {
  const old = primaryFrom(stateHosts()[1]);
  const t = tag();
  const count = 12;
  // ext's own Postfix sends by MX (either edge), one message every 0.3 s, across the failover.
  const flow = startOn(
    EXT.name,
    ["bash", "-c", 'for i in $(seq 1 "$1"); do printf "From: <bob@example.net>\\nTo: <%s>\\nSubject: flow %s %s\\n\\nSent across a failover.\\n" "$2" "$3" "$i" | sendmail -f bob@example.net "$2"; sleep 0.3; done', "flow", String(count), ALICE, t],
    60_000,
  );
  await new Promise((r) => setTimeout(r, 1000));
  const killed = Date.now();
  execOk(old, ["sh", "-c", 'kill -KILL "$(cat /run/valkey/valkey-server.pid)"']);
  const watcher = stateHosts().find((h) => h !== old)!;
  const promoted = await waitUntil(() => primaryFrom(watcher), (p) => p !== old, 30_000, 250);
  const took = (Date.now() - killed) / 1000;
  assert.notEqual(promoted, old, "a replica is promoted");
  // The Sentinels' budget: down-after, then an election and the promotion (a few seconds here).
  assert.ok(took <= fleet.spec.state.failoverAfterSeconds + 15, `promoted within the Sentinel timeout (${took} s)`);
  assert.equal((await flow.done).code, 0, "ext handed every message to its Postfix");

  // The old primary comes back (as deploy.sh or its unit starts it) and the Sentinels make it a replica.
  execOk(old, ["setpriv", "--reuid=valkey", "--regid=valkey", "--init-groups", "valkey-server", VALKEY_PATHS.server]);
  const rejoined = await waitUntil(() => replication(old), (i) => i.role === "slave" && i.master_link_status === "up", 30_000, 500);
  assert.equal(hostAt(rejoined.master_host), promoted, "the old primary replicates from the new one");

  // rspamd 3.12 asks the Sentinels again after write errors and every minute (its fixed watch time,
  // render/rspamd redis.conf): until each edge has, a sender may pass ungreylisted, never be lost.
  let round = await greylistRound("mx2", "mx1");
  for (const until = Date.now() + 75_000; !(/^451 /.test(round.first) && /^250 /.test(round.retry)) && Date.now() < until; ) round = await greylistRound("mx2", "mx1");
  assertGreylistedAcross(round, "mx2", "mx1");
  const inbox = await waitUntil(() => imapMessages(labHost(fleet, "store1").fqdn, ALICE, labPassword(ALICE), `flow ${t} `), (m) => m.length >= count, 90_000, 1000);
  const subjects = inbox.map((m) => m.subject);
  assert.equal(subjects.length, count, "every message sent across the failover arrived");
  assert.equal(new Set(subjects).size, count, "none twice");
});

/** Empties rspamd's rate-limit buckets (its RL* keys) on the current primary, as rspamd's own user may. */
function emptyRateBuckets(): void {
  const primary = primaryFrom(stateHosts()[0]);
  const keys = cli(primary, address(primary), VALKEY_PORT, "rspamd", ["--scan", "--pattern", "RL*"]).stdout.split("\n").filter(Boolean);
  if (keys.length) assert.match(cli(primary, address(primary), VALKEY_PORT, "rspamd", ["del", ...keys]).stdout, /^\d+/);
}

/** Submission as a user through out1 (STARTTLS on 587, AUTH), as a mail client does. */
const submit = (user: string, subject: string, to = [`${EXT_USER}@example.net`]) =>
  smtpSend({ server: labHost(fleet, "out1").fqdn, port: 587, mode: "starttls", auth: { user, password: labPassword(user) }, from: user, to, subject });

test("outbound: a login past its hourly messages, another past its hourly recipients (summed over its messages), gets a 4xx naming the limit from out1 while another login's mail goes on", async () => {
  const out1 = labHost(fleet, "out1");
  // Above alice's two messages, so hers is the recipients' limit; carol's four recipients stay within that.
  const messages = 3;
  const recipients = 5;
  const ratelimits = { ...fleet.spec.spam.ratelimits, perLoginPerHour: messages, perLoginRecipientsPerHour: recipients };
  const spec = { ...fleet.spec, spam: { ...fleet.spec.spam, ratelimits } };
  const pushed = await push(out1, buildFleet(spec, givenAddresses(spec), fleet.keys).hostFiles.out1);
  assert.equal(pushed.code, 0, pushed.stderr);
  /** The first refused of a login's tries: a temporary refusal of the message (the client keeps it and retries). */
  const heldOff = (tries: ReturnType<typeof submit>[], what: string) => {
    const held = tries.find((r) => !r.ok);
    assert.ok(held, `${what}: ${JSON.stringify(tries)}`);
    assert.equal(held.stage, "data");
    assert.equal(Math.floor((held.code ?? 0) / 100), 4, "a temporary refusal: the client keeps the message and retries");
    return held.message ?? "";
  };
  const logged = (login: string) => execOk("out1", ["sh", "-c", `grep -F 'user: ${login}' /var/log/rspamd/rspamd.log | tail -1`]);
  try {
    // The counts live in the shared state for an hour: each login's hour starts afresh here, whatever ran before.
    emptyRateBuckets();
    const t = tag();
    const carol = Array.from({ length: messages + 1 }, (_, i) => submit("carol@example.com", `rate ${t} ${i}`));
    assert.match(heldOff(carol, `past ${messages} messages an hour carol is held off`), /Sending limit of 3 messages per hour reached for this login/);
    assert.match(logged("carol@example.com"), /\(soft reject\).*RATELIMITED\(\S*\)\{mailfleet_login\(/, "rspamd's log names the login and the limit");
    // Three recipients a message: the second message brings alice's hour to 6 recipients, past 5, in 2 messages (within her message limit).
    const three = [`${EXT_USER}@example.net`, "bob@example.org", "carol@example.com"];
    const alice = Array.from({ length: 2 }, (_, i) => submit("alice@example.com", `recipients ${t} ${i}`, three));
    assert.match(heldOff(alice, `past ${recipients} recipients an hour alice is held off`), /Sending limit of 5 recipients per hour reached for this login/);
    assert.match(logged("alice@example.com"), /\(soft reject\).*RATELIMITED\(\S*\)\{mailfleet_login_recipients\(/, "rspamd's log names the login and the limit");
    const other = submit("bob@example.org", `rate ${t} other`);
    assert.equal(other.ok, true, `another login's mail goes on: ${JSON.stringify(other)}`);
  } finally {
    await restoreHosts(fleet, [out1]);
  }
});

test("./mf lock refuses a login's AUTH at once, on every store; ./mf unlock lets it in again", () => {
  const lock = (command: string) => mf([join(REPO, "scripts/lock.ts"), command, "--stack", "lab", "alice@example.com"]);
  const locked = lock("lock");
  try {
    assert.equal(locked.status, 0, locked.stderr);
    assert.match(locked.stdout, /^store1\S*: locked alice@example\.com$/m);
    assert.match(locked.stdout, /^store2\S*: locked alice@example\.com$/m);
    const refused = submit("alice@example.com", `locked ${tag()}`);
    assert.deepEqual([refused.stage, refused.code], ["auth", 535], "AUTH refused at once");
    assert.equal(submit("bob@example.org", `not locked ${tag()}`).ok, true, "other logins go on");
    assert.match(mf([join(REPO, "scripts/lock.ts"), "locked", "--stack", "lab"]).stdout, /store1: alice@example\.com/);
  } finally {
    const unlocked = lock("unlock");
    assert.equal(unlocked.status, 0, unlocked.stderr);
  }
  assert.equal(submit("alice@example.com", `unlocked ${tag()}`).ok, true, "unlocked, she sends again");
});

/** rspamd's result line for a message on a host (it names the Message-ID), once rspamd has written it. */
const scanned = (host: string, messageId: string) =>
  waitUntil(() => exec(host, ["grep", "-F", `id: ${messageId},`, "/var/log/rspamd/rspamd.log"]).stdout, (line) => line !== "", 30_000, 500);
/** A message from ext's user to alice straight to an MX (swaks), answering `inReplyTo` if given; its Message-ID. */
function fromExt(mx: string, inReplyTo?: string): string {
  const id = `<reply-${tag()}@example.net>`;
  const headers = ["--header", `Message-Id: ${id}`, ...(inReplyTo ? ["--header", `In-Reply-To: ${inReplyTo}`] : [])];
  exec(EXT.name, ["swaks", "--server", address(mx), "--from", `${EXT_USER}@example.net`, "--to", ALICE, "--helo", EXT.fqdn, ...headers, "--timeout", "20"]);
  return id;
}

test("replies: ext's answer to what alice sent through out1 is a reply (REPLY) at either edge; the same mail answering nothing of hers is not", async () => {
  const sent = submit(ALICE, `question ${tag()}`);
  assert.equal(sent.ok, true, JSON.stringify(sent));
  const asked = sent.message_id!;
  for (const mx of ["mx1", "mx2"]) {
    const [reply, other, unknown] = await Promise.all([fromExt(mx, asked), fromExt(mx), fromExt(mx, `<never-${tag()}@example.com>`)].map((id) => scanned(mx, id)));
    assert.match(reply, /[[,]REPLY\(/, `${mx} finds out1's record of alice's message in the shared state: ${reply}`);
    assert.doesNotMatch(other, /[[,]REPLY\(/, `${mx}: no In-Reply-To, no REPLY`);
    assert.doesNotMatch(unknown, /[[,]REPLY\(/, `${mx}: an answer to a message no user sent is no reply`);
  }
});
