/**
 * Forwarding to a foreign domain, SRS and ARC (issue 25), judged where it lands: ext's Postfix and
 * rspamd, a strict receiver that checks SPF, DKIM, DMARC and ARC. alice (a fleet user whose domain
 * publishes DMARC p=reject) writes to forward@example.org, an alias of bob@example.net on ext; the
 * edge forwards it with an SRS envelope sender under the server domain and an ARC seal. A forward to
 * gone@example.net is accepted by ext and then bounced: the bounce goes to the SRS address and comes
 * back, reversed, to alice. A made-up SRS address (bad hash) is refused at the edge. While postsrsd
 * is down, only the SRS addresses wait (451); hosted mail is taken in as ever.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { deployFiles, exec, execOk, EXT, EXT_GONE, EXT_USER, extMessages, headers, imapMessages, labHost, LabFleet, labPassword, push, smtpSend, waitUntil } from "../../scripts/lab";
import { SRS_ADDRESS_TABLE } from "../../components/render/postfix/forwarding";
import { SRS_REVERSE_PORT } from "../../components/topology";
import { forwardingDomain } from "../../components/topology/naming";
import { restoreHosts, useLab } from "../support/lab";

const ALICE = "alice@example.com";
const FORWARD = "forward@example.org";
const FORWARD_GONE = "forward-gone@example.org";
const BOUNCE_SUBJECT = "Undelivered Mail Returned to Sender";

describe("Forwarding with SRS and ARC", { timeout: 5 * 60_000 }, () => {
  let fleet: LabFleet;
  useLab((f) => (fleet = f));
  const run = Math.random().toString(36).slice(2, 8);
  const server = () => fleet.spec.serverDomain;
  const fwd = () => forwardingDomain(fleet.spec);
  const submit = (to: string, subject: string) =>
    smtpSend({ server: `smtp.${server()}`, port: 587, mode: "starttls", auth: { user: ALICE, password: labPassword(ALICE) }, from: ALICE, to: [to], subject });
  const field = (message: string, name: string) => headers(message).filter((f) => f.name === name).map((f) => f.value);

  test("a forward reaches ext with an SRS sender that passes SPF, a valid ARC chain and alice's DKIM and DMARC intact", async () => {
    const subject = `forward ${run}`;
    assert.equal(submit(FORWARD, subject).ok, true);
    const [message] = await waitUntil(() => extMessages().filter((m) => m.includes(`Subject: ${subject}`)), (m) => m.length > 0, 120_000, 1000);
    assert.ok(message, `ext got no forward of ${subject} for ${EXT_USER}`);
    const serverDomain = server().replace(/\./g, "\\.");
    const fwdDomain = fwd().replace(/\./g, "\\.");
    // SRS0=<hash>=<time>=<original domain>=<original local part>@<server domain>
    const [returnPath] = field(message, "return-path");
    assert.match(returnPath, new RegExp(`^<SRS0=[^=@]+=[^=@]+=example\\.com=alice@${fwdDomain}>$`));
    const [results] = field(message, "authentication-results");
    assert.match(results, new RegExp(`spf=pass .*smtp\\.mailfrom="SRS0=[^ ;]*@${fwdDomain}"`));
    assert.match(results, /dkim=pass header\.d=example\.com header\.s=lab1/);
    assert.match(results, /dmarc=pass \(policy=reject\) header\.from=example\.com/);
    assert.match(results, /arc=pass/);
    const [spamd] = field(message, "x-spamd-result");
    assert.match(spamd, /ARC_ALLOW\(/);
    const [seal] = field(message, "arc-seal");
    assert.match(seal, /^i=1;/);
    assert.match(seal, new RegExp(`; d=${fwdDomain};`));
    assert.match(seal, new RegExp(`; s=${fleet.spec.forwarding.arcSelector};`));
    // Left by an edge: its HELO name, which its PTR and the server domain's SPF agree on.
    const received = field(message, "received")[0];
    assert.match(received, new RegExp(`^from mx[12]\\.${serverDomain} `));
  });

  test("a foreign sender's mail (carol@example.net from ext) forwarded back to example.net passes SPF as the SRS address, not as example.net", async () => {
    const subject = `foreign forward ${run}`;
    const r = smtpSend({ on: EXT.name, server: labHost(fleet, "mx1").fqdn, from: "carol@example.net", to: [FORWARD], subject });
    assert.equal(r.ok, true, JSON.stringify(r));
    const [message] = await waitUntil(() => extMessages().filter((m) => m.includes(`Subject: ${subject}`)), (m) => m.length > 0, 120_000, 1000);
    assert.ok(message, `ext got no forward of ${subject}`);
    const fwdDomain = fwd().replace(/\./g, "\\.");
    // example.net's SPF names client and ext only: without SRS the edge's address would fail it.
    assert.match(field(message, "return-path")[0], new RegExp(`^<SRS0=[^=@]+=[^=@]+=example\\.net=carol@${fwdDomain}>$`));
    const [results] = field(message, "authentication-results");
    assert.match(results, new RegExp(`spf=pass .*smtp\\.mailfrom="SRS0=[^ ;]*@${fwdDomain}"`));
    assert.match(results, /arc=pass/);
  });

  test("ext's bounce of a forward comes back to the SRS address and reaches alice, reversed", async () => {
    const store = labHost(fleet, "store1").fqdn;
    // Postfix's bounces all have one subject: the new one is the one not there before.
    const bouncesNow = () => imapMessages(store, ALICE, labPassword(ALICE), BOUNCE_SUBJECT);
    const before = new Set(bouncesNow().map((b) => b.message_id));
    assert.equal(submit(FORWARD_GONE, `forward-gone ${run}`).ok, true);
    const bounces = await waitUntil(() => bouncesNow().filter((b) => !before.has(b.message_id)), (m) => m.length > 0, 120_000, 2000);
    assert.equal(bounces.length, 1, `no bounce of ${EXT_GONE} reached ${ALICE}`);
    // Written by ext to the SRS address (its To: header keeps it: Postfix rewrites no header of remote
    // mail); the edge reversed the envelope recipient to alice.
    const [bounce] = bounces;
    assert.match(bounce.to, new RegExp(`^SRS0=[^@]+=example\\.com=alice@${forwardingDomain(fleet.spec).replace(/\./g, "\\.")}$`));
    assert.deepEqual(bounce.delivered_to, [ALICE]);
    assert.ok(bounce.received.some((r) => r.includes(EXT.fqdn)), `the bounce did not come from ext: ${JSON.stringify(bounce.received)}`);
  });

  test("an SRS address with a bad hash is refused at the edge", () => {
    const forged = `SRS0=AAAA=ZZ=example.net=carol@${fwd()}`;
    const r = smtpSend({ server: labHost(fleet, "mx1").fqdn, from: "", to: [forged], subject: `forged ${run}` });
    assert.equal(r.ok, false, JSON.stringify(r));
    assert.equal(r.stage, "rcpt");
    assert.equal(r.code, 550);
  });

  test("while postsrsd is down a bounce to an SRS address is deferred (451) and hosted mail still goes in", async () => {
    const mx = labHost(fleet, "mx1");
    // Its process group, whose leader's pid the push keeps on a host without systemd (push/deploy/daemons.sh):
    // postsrsd serves each of Postfix's connections from a child of its own, which outlives the leader.
    execOk(mx.name, ["sh", "-c", 'kill -- "-$(cat /run/mailfleet-postsrsd/postsrsd.pid)"']);
    try {
      const answering = () => exec(mx.name, ["bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${SRS_REVERSE_PORT}`]).code === 0;
      await waitUntil(answering, (up) => !up, 10_000, 200);
      const bounce = smtpSend({ on: EXT.name, server: mx.fqdn, from: "", to: [`SRS0=AAAA=ZZ=example.com=alice@${fwd()}`], subject: `bounce ${run}` });
      assert.deepEqual({ stage: bounce.stage, code: bounce.code }, { stage: "rcpt", code: 451 }, JSON.stringify(bounce));
      const subject = `postsrsd down ${run}`;
      const sent = smtpSend({ on: EXT.name, server: mx.fqdn, from: "carol@example.net", to: [ALICE], subject });
      assert.equal(sent.ok, true, JSON.stringify(sent));
      const store = labHost(fleet, "store1").fqdn;
      const got = await waitUntil(() => imapMessages(store, ALICE, labPassword(ALICE), subject), (m) => m.length > 0, 60_000, 1000);
      assert.equal(got.length, 1, `${subject} did not reach ${ALICE}`);
    } finally {
      // A push starts postsrsd again only when a file changed: one with a line more, then the lab's own.
      const table = `/etc/postfix/${SRS_ADDRESS_TABLE}`;
      const r = await push(mx, deployFiles(fleet, mx).map((f) => (f.path === table ? { ...f, content: `${f.content}# restart\n` } : f)));
      assert.equal(r.code, 0, r.stderr);
      await restoreHosts(fleet, [mx]);
    }
  });
});
