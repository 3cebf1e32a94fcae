/**
 * DNS blocklists at the door, driven from the lab's foreign mail server `ext` against mx1 (its
 * postscreen and rspamd asking rbldnsd on the rbl host through the edge's own resolver): a listed
 * client is turned away naming the list, an unlisted one's mail arrives, warnOnly lets the listed
 * client in and logs what would have happened, an allowlisting outweighs a listing, and with the
 * blocklist server down mail still flows. ext sends from extra addresses of its own, so its main
 * address (other suites' mail) is never listed; postscreen remembers a passed client (its cache is
 * emptied first), so each case that lets a listed client pass uses an address of its own.
 */
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { buildFleet, givenAddresses } from "../../components/build";
import { POSTFIX_LOG } from "../../components/render/postfix/common";
import {
  EXT,
  execOk,
  hostRoot,
  labHost,
  LabFleet,
  labPassword,
  listAddress,
  mailboxState,
  push,
  RBL_ZONES,
  smtpSend,
  startRbldnsd,
  stopRbldnsd,
  unlistAddress,
  waitUntil,
} from "../../scripts/lab";
import { restoreHosts, useLab } from "../support/lab";

const ALICE = "alice@example.com";
/** ext's extra addresses: listed and refused (never passed), let in by warnOnly, allowlisted, sent from in an outage. */
const SOURCES = { refused: "203.0.113.125", warnOnly: "203.0.113.126", allowed: "203.0.113.127", outage: "203.0.113.128" };
/** postscreen's and dnsblog's lines are in Postfix's own log (maillog_file). */
const POSTFIX_LOG_FILE = POSTFIX_LOG.slice(1);
const RSPAMD_LOG = "var/log/rspamd/rspamd.log";

describe("DNS blocklists at the edge", { timeout: 8 * 60_000 }, () => {
  let fleet: LabFleet;
  // Registered before useLab's: hooks run in that order, and a suite's own lab goes down in useLab's.
  after(() => {
    // A fresh rbldnsd starts with empty lists: the lab as the bring-up left it.
    stopRbldnsd();
    startRbldnsd();
    for (const address of Object.values(SOURCES)) execOk(EXT.name, ["ip", "addr", "del", `${address}/32`, "dev", "eth0"]);
  });
  // What needs the lab goes in onUp: a suite that brings up its own lab runs hooks without waiting for it.
  useLab((f) => {
    fleet = f;
    for (const address of Object.values(SOURCES)) execOk(EXT.name, ["ip", "addr", "replace", `${address}/32`, "dev", "eth0"]);
    // postscreen skips the lists for a client it passed before (its cache): an earlier run's must not count.
    execOk("mx1", ["sh", "-c", "postfix stop && rm -f /var/lib/postfix/postscreen_cache.* && postfix start"]);
  });
  const mx1 = () => labHost(fleet, "mx1");
  const run = Math.random().toString(36).slice(2, 8);

  /** A log of mx1 from `offset` bytes on. */
  const logSince = (path: string, offset: number) => readFileSync(join(hostRoot("mx1"), path), "utf8").slice(offset);
  const logEnd = (path: string) => statSync(join(hostRoot("mx1"), path)).size;
  const send = (source: string, subject: string) =>
    smtpSend({ server: mx1().ipv4, on: EXT.name, source, from: `someone@${EXT.fqdn.split(".").slice(1).join(".")}`, to: [ALICE], subject });
  /** As a real MTA sends: a try greylisted by the edges' shared greylisting (451) is tried again after the lab's short delay. */
  const sendPastGreylisting = (source: string, subject: string) => waitUntil(() => send(source, subject), (r) => r.ok || r.code !== 451, 30_000, 2000);
  /**
   * The folder a message arrived in. ext's extra addresses have no PTR and are outside example.net's
   * SPF, so rspamd marks their mail as spam whatever the lists say, and the stores file it into Junk.
   */
  const arrives = async (subject: string) => {
    const inFolders = () => Object.entries(mailboxState(labHost(fleet, "store1").fqdn, ALICE, labPassword(ALICE)).folders ?? {}).filter(([, messages]) => messages.some((m) => m.subject.includes(subject)));
    const found = await waitUntil(inFolders, (f) => f.length > 0, 60_000, 1000);
    assert.equal(found.length, 1, `${subject} did not arrive`);
    return found[0][0];
  };
  /** rspamd's one log line for a message, by its Message-ID (written once the message is scanned). */
  /** rspamd's verdict line for a message (its "(default: …)" result; other lines name the message too, such as Bayes's). */
  const rspamdLine = (offset: number, messageId: string) =>
    waitUntil(() => logSince(RSPAMD_LOG, offset).split("\n").find((l) => l.includes(messageId.replace(/^<|>$/g, "")) && l.includes("(default: ")) ?? "", (l) => l !== "", 30_000, 500);

  test("a listed client is refused by postscreen naming the list; an unlisted client's mail arrives", async () => {
    await listAddress(SOURCES.refused);
    const offset = logEnd(POSTFIX_LOG_FILE);
    const refused = send(SOURCES.refused, `listed ${run}`);
    assert.equal(refused.ok, false, "a listed client's mail was accepted");
    assert.equal(refused.code, 550);
    assert.match(refused.message!, /Service unavailable; client \[203\.0\.113\.125\] blocked using bl\.example\.net/);
    assert.match(logSince(POSTFIX_LOG_FILE, offset), /postfix\/postscreen\[\d+\]: NOQUEUE: reject: RCPT from \[203\.0\.113\.125\]:\d+: 550 5\.7\.1 .*blocked using bl\.example\.net/);

    const subject = `unlisted ${run}`;
    const accepted = send(EXT.ipv4, subject);
    assert.ok(accepted.ok, JSON.stringify(accepted));
    await arrives(subject);
  });

  test("warnOnly: the listed client's mail arrives, and postscreen's and rspamd's logs say what would have happened", async () => {
    const spec = { ...fleet.spec, spam: { ...fleet.spec.spam, warnOnly: true } };
    const pushed = await push(mx1(), buildFleet(spec, givenAddresses(spec), fleet.keys).hostFiles.mx1);
    assert.equal(pushed.code, 0, pushed.stderr);
    try {
      await listAddress(SOURCES.warnOnly);
      const offsets = { postfix: logEnd(POSTFIX_LOG_FILE), rspamd: logEnd(RSPAMD_LOG) };
      const subject = `warn-only ${run}`;
      // postscreen restarts after the reload: the first connection may still meet the old one.
      const accepted = await waitUntil(() => send(SOURCES.warnOnly, subject), (r) => r.ok, 30_000, 2000);
      assert.ok(accepted.ok, JSON.stringify(accepted));
      assert.equal(await arrives(subject), "Junk", "marked as spam, filed into Junk");
      const postfixLog = logSince(POSTFIX_LOG_FILE, offsets.postfix);
      assert.match(postfixLog, /dnsblog\[\d+\]: addr 203\.0\.113\.126 listed by domain bl\.example\.net as 127\.0\.0\.2/);
      assert.match(postfixLog, /postscreen\[\d+\]: DNSBL rank 3 for \[203\.0\.113\.126\]/);
      // rspamd counts the same listing: marked as spam (add header), never rejected.
      const line = await rspamdLine(offsets.rspamd, accepted.message_id!);
      assert.match(line, /MAILFLEET_DNSBL_BLEXAMPLENET\(6\.00\)/);
      assert.match(line, /\(add header\)/);
    } finally {
      await restoreHosts(fleet, [mx1()]);
    }
  });

  test("an allowlisting outweighs a listing, at postscreen and in rspamd", async () => {
    await listAddress(SOURCES.allowed);
    await listAddress(SOURCES.allowed, RBL_ZONES.allow);
    const offsets = { postfix: logEnd(POSTFIX_LOG_FILE), rspamd: logEnd(RSPAMD_LOG) };
    const subject = `allowlisted ${run}`;
    const accepted = await sendPastGreylisting(SOURCES.allowed, subject);
    assert.ok(accepted.ok, JSON.stringify(accepted));
    await arrives(subject);
    const postfixLog = logSince(POSTFIX_LOG_FILE, offsets.postfix);
    assert.match(postfixLog, /addr 203\.0\.113\.127 listed by domain bl\.example\.net as 127\.0\.0\.2/);
    assert.match(postfixLog, /addr 203\.0\.113\.127 listed by domain wl\.example\.net as 127\.0\.0\.2/);
    assert.match(postfixLog, /postscreen\[\d+\]: PASS NEW \[203\.0\.113\.127\]/);
    const line = await rspamdLine(offsets.rspamd, accepted.message_id!);
    assert.match(line, /MAILFLEET_DNSBL_BLEXAMPLENET\(6\.00\)/);
    assert.match(line, /MAILFLEET_DNSWL_WLEXAMPLENET\(-6\.00\)/);
    await unlistAddress(SOURCES.allowed, RBL_ZONES.allow);
  });

  test("with the blocklist server down, a listed client's mail still flows", async () => {
    await listAddress(SOURCES.outage);
    stopRbldnsd();
    const subject = `outage ${run}`;
    const accepted = await sendPastGreylisting(SOURCES.outage, subject);
    assert.ok(accepted.ok, JSON.stringify(accepted));
    await arrives(subject);
  });
});
