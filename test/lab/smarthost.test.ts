/**
 * A domain's own smarthost (issue 25 item 3): out1 sends example.org's mail through the lab's relay
 * provider (relay.example.net: Postfix on 587, SASL by Dovecot, AUTH only after STARTTLS), verified
 * against the relay's pinned certificate and logged in as example.org's own customer; example.com's
 * mail leaves as before. A relay that is down, that refuses the login or that shows another
 * certificate gets no mail and no password: the mail waits in out1's queue and arrives once the
 * relay is back. The password is in no log. The suite pushes out1 with the relay and puts it back.
 */
import { POSTFIX_LOG } from "../../components/render/postfix/common";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { buildFleet, givenAddresses } from "../../components/build";
import { RelaySpec } from "../../components/config/spec";
import { SUBMISSION_PORT } from "../../components/topology";
import { exec, execOk, EXT, EXT_USER, extMessages, headers, hostRoot, labHost, LabFleet, labPassword, push, RELAY, RELAY_LOGIN, smtpEhlo, smtpSend, waitForPort, waitUntil } from "../../scripts/lab";
import { restoreHosts, useLab } from "../support/lab";

const ORG_USER = "bob@example.org";
const COM_USER = "alice@example.com";
const TO = `${EXT_USER}@example.net`;
const PASSWORD = labPassword(RELAY_LOGIN);
const WRONG_PASSWORD = "not-the-relay-password-42";
const RELAY_LOG = "/var/log/postfix.log";
const tag = () => randomBytes(4).toString("hex");
let fleet: LabFleet;
useLab((up) => (fleet = up));

/** Pushes out1 with example.org relayed through the lab's relay, logging in with `password`, its certificate pinned as `ca`. */
async function relayOrg(password: string, ca = fleet.relay.certPem): Promise<void> {
  const relay: RelaySpec = { host: RELAY.fqdn, port: SUBMISSION_PORT, username: RELAY_LOGIN, password, caCertificate: ca };
  const spec = { ...fleet.spec, domainSmarthosts: { "example.org": relay } };
  const pushed = await push(labHost(fleet, "out1"), buildFleet(spec, givenAddresses(spec), fleet.keys).hostFiles.out1);
  assert.equal(pushed.code, 0, pushed.stderr);
}

/** Submission as a user through out1 (STARTTLS on 587, AUTH), as a mail client does; the message must be taken. */
function submit(user: string, subject: string): void {
  const r = smtpSend({ server: labHost(fleet, "out1").fqdn, port: SUBMISSION_PORT, mode: "starttls", auth: { user, password: labPassword(user) }, from: user, to: [TO], subject });
  assert.equal(r.ok, true, JSON.stringify(r));
}

/** The message ext received with this subject, waiting for it (bounded). */
async function arrived(subject: string, timeoutMs = 60_000): Promise<string> {
  const found = await waitUntil(() => extMessages().find((m) => m.includes(`Subject: ${subject}`)), (m) => m !== undefined, timeoutMs, 500);
  return found ?? assert.fail(`"${subject}" did not reach ext within ${timeoutMs / 1000} s`);
}

interface QueueEntry {
  queue_name: string;
  sender: string;
  recipients: { address: string; delay_reason?: string }[];
}
const queue = (): QueueEntry[] =>
  exec("out1", ["postqueue", "-j"]).stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as QueueEntry);

/** Waits (bounded) until out1 holds a deferred message of example.org's user; returns why it was deferred. */
async function deferredOnOut1(): Promise<string> {
  const deferred = () => queue().find((e) => e.sender === ORG_USER && e.queue_name === "deferred");
  const entry = await waitUntil(deferred, (e) => e !== undefined, 60_000, 500);
  return entry?.recipients[0]?.delay_reason ?? assert.fail(`no deferred message of ${ORG_USER} on out1: ${JSON.stringify(queue())}`);
}

/** Delivers out1's queue now (the relay is back) and waits for the message. */
async function flushed(subject: string): Promise<void> {
  execOk("out1", ["postqueue", "-f"]);
  await arrived(subject);
  assert.equal(queue().filter((e) => e.sender === ORG_USER).length, 0, "nothing of example.org's left in out1's queue");
}

const relayLog = () => readFileSync(join(hostRoot(RELAY.name), RELAY_LOG), "utf8");
const bounces = () => (readFileSync(join(hostRoot("out1"), POSTFIX_LOG), "utf8").match(/status=bounced/g) ?? []).length;

/** Every file under a host's /var/log that holds `text`. */
function logsHolding(host: string, text: string): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : readFileSync(path).includes(text) ? [path] : [];
    });
  return walk(join(hostRoot(host), "var/log"));
}

test("a domain's smarthost on out1: relayed after STARTTLS with its own login, pinned, queued while the relay is down or refuses", async (t) => {
  const start = relayLog().length;
  const bounced = bounces();
  await relayOrg(PASSWORD);
  try {
    await t.test("example.org's mail leaves through the relay, logged in after STARTTLS; example.com's does not", async () => {
      const [org, com] = [`relayed ${tag()}`, `direct ${tag()}`];
      submit(ORG_USER, org);
      submit(COM_USER, com);
      const received = (m: string) => headers(m).filter((h) => h.name === "received").map((h) => h.value);
      assert.match(received(await arrived(org))[0], new RegExp(`^from ${RELAY.fqdn.replace(/\./g, "\\.")} `), "ext took example.org's mail from the relay");
      assert.doesNotMatch(received(await arrived(com)).join("\n"), new RegExp(RELAY.fqdn.replace(/\./g, "\\.")), "example.com's mail never passed the relay");
      // The relay's smtpd that took the login had established TLS first (one process per session).
      const lines = relayLog().slice(start).split("\n");
      const login = lines.findIndex((l) => l.includes(`sasl_username=${RELAY_LOGIN}`));
      assert.ok(login >= 0, "the relay logged example.org's login");
      const pid = /smtpd\[(\d+)\]/.exec(lines[login])?.[1];
      assert.ok(lines.slice(0, login).some((l) => l.includes(`smtpd[${pid}]`) && /TLS connection established from out1/.test(l)), lines.slice(0, login + 1).join("\n"));
      assert.ok(!lines.some((l) => /authentication not enabled/.test(l)), "no AUTH was ever sent before STARTTLS");
    });

    await t.test("the relay offers AUTH only after STARTTLS (from the Internet)", () => {
      const clear = smtpEhlo(RELAY.fqdn, SUBMISSION_PORT, "plain", EXT.name);
      assert.ok(clear.ehlo?.includes("starttls"), JSON.stringify(clear));
      assert.equal(clear.auth_before_tls, null, "no AUTH before STARTTLS");
    });

    await t.test("a relay showing another certificate than the pinned one gets no login: the mail is deferred", async () => {
      await relayOrg(PASSWORD, fleet.ext.certPem);
      const subject = `unpinned ${tag()}`;
      const before = relayLog().length;
      submit(ORG_USER, subject);
      assert.match(await deferredOnOut1(), /certificate|verif/i);
      assert.ok(!relayLog().slice(before).includes("sasl_username="), "no login reached the relay");
      await relayOrg(PASSWORD);
      await flushed(subject);
    });

    await t.test("relay down: the mail waits in out1's queue, and arrives once the relay is back", async () => {
      execOk(RELAY.name, ["postfix", "stop"]);
      const subject = `relay down ${tag()}`;
      try {
        submit(ORG_USER, subject);
        assert.match(await deferredOnOut1(), /connect|refused/i);
      } finally {
        execOk(RELAY.name, ["postfix", "start"]);
        await waitForPort(RELAY.ipv4, SUBMISSION_PORT, 30_000);
      }
      await flushed(subject);
    });

    await t.test("a relay refusing the login: the mail is deferred, not bounced, and arrives with the right login", async () => {
      await relayOrg(WRONG_PASSWORD);
      const subject = `refused ${tag()}`;
      submit(ORG_USER, subject);
      assert.match(await deferredOnOut1(), /authentication failed/i);
      await relayOrg(PASSWORD);
      await flushed(subject);
      assert.equal(bounces(), bounced, "out1 bounced nothing");
    });

    await t.test("the relay passwords are in no log of out1 or the relay", () => {
      for (const host of ["out1", RELAY.name]) {
        for (const secret of [PASSWORD, WRONG_PASSWORD]) assert.deepEqual(logsHolding(host, secret), [], `${host}'s logs`);
      }
    });
  } finally {
    if (exec(RELAY.name, ["postfix", "status"]).code !== 0) execOk(RELAY.name, ["postfix", "start"]);
    await restoreHosts(fleet, [labHost(fleet, "out1")]);
  }
});
