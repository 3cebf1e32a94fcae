/**
 * Backups end to end (issue 14): the stores back up with their rendered restic script to the lab's
 * backup host (restic's REST server on the lab's "Internet"), driven by the operator's own commands
 * (`./mf backup|backups|restore`, run from the admin host the push runs from, with the lab's SSH key).
 * A lost disk and a store lost for good are both brought back, checked over IMAPS through both
 * stores' proxy; a wrong repository password and an unreachable repository fail loudly and
 * `./mf check` names them.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { buildFleet, givenAddresses } from "../../components/build";
import { FleetSpec } from "../../components/config/spec";
import {
  BACKUP,
  deployFiles,
  execOk,
  fileMessages,
  imapMessages,
  labHost,
  LabFleet,
  labPassword,
  mailboxState,
  MailboxState,
  push,
  queueSize,
  REST_SERVER_PORT,
  sendByMx,
  startRestServer,
  stopRestServer,
  startService,
  waitForPort,
  waitUntil,
} from "../../scripts/lab";
import { CheckResult } from "../../scripts/check/result";
import { useLab } from "../support/lab";
import { mf, mfAsync, REPO, Run } from "../support/operator";

const ALICE = "alice@example.com";
const CAROL = "carol@example.com";
const tag = (what: string) => `${what} ${randomBytes(4).toString("hex")}`;

let fleet: LabFleet;
let dir: string;
const fqdn = (host: string) => labHost(fleet, host).fqdn;

useLab((up) => {
  fleet = up;
  dir = mkdtempSync(join(tmpdir(), "mailfleet-backup-"));
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const backupCli = (args: string[], dir?: string) => mf([join(REPO, "scripts/backup.ts"), ...args], dir);

/** What the two mailboxes hold, as IMAP shows it through a store (a user on the other store is proxied). */
function mailboxes(through: string): Record<string, MailboxState["folders"]> {
  return Object.fromEntries(
    [ALICE, CAROL].map((user) => {
      const state = mailboxState(fqdn(through), user, labPassword(user));
      assert.equal(state.ok, true, `${user} through ${through}: ${state.message}`);
      return [user, state.folders];
    }),
  );
}

/** Every message of every folder exactly once: Message-IDs per folder. */
function assertNoDuplicates(state: Record<string, MailboxState["folders"]>): void {
  for (const [user, folders] of Object.entries(state)) {
    for (const [folder, messages] of Object.entries(folders!)) {
      const ids = messages.map((m) => m.message_id);
      assert.equal(new Set(ids).size, ids.length, `${user} ${folder}: a message twice`);
    }
  }
}

const received = (user: string, store: string, subject: string, count: number) =>
  waitUntil(() => imapMessages(fqdn(store), user, labPassword(user), subject), (m) => m.length >= count, 180_000, 2000);

/** A folder whose stacks/ holds the lab stack changed by `edit` (its text), for the commands that read it. */
function changedStacks(name: string, edit: (yaml: string) => string): string {
  const stacks = join(dir, name, "stacks");
  cpSync(join(REPO, "stacks"), stacks, { recursive: true });
  const file = join(stacks, "Pulumi.lab.yaml");
  const before = readFileSync(file, "utf8");
  const after = edit(before);
  assert.notEqual(after, before, `the ${name} edit changed nothing`);
  writeFileSync(file, after);
  return join(dir, name);
}

/** Pushes the fleet as rendered from a changed spec (the lab's `pulumi up`). */
async function pushSpec(spec: FleetSpec, hosts: string[]): Promise<void> {
  const build = buildFleet(spec, givenAddresses(spec), fleet.keys);
  const changed: LabFleet = { ...fleet, spec, build };
  for (const name of hosts) {
    const host = labHost(fleet, name);
    const r = await push(host, deployFiles(changed, host));
    assert.equal(r.code, 0, `push to ${name}: ${r.stderr}`);
  }
}

describe("backups to the lab's backup host", () => {
  let subject: string;
  let before: Record<string, MailboxState["folders"]>;

  test("50 messages to alice and carol, a folder and flags; `./mf backup` snapshots both stores, `./mf backups` lists them", async () => {
    subject = tag("kept");
    sendByMx("dave@example.net", ALICE, subject, 25);
    sendByMx("dave@example.net", CAROL, subject, 25);
    await received(ALICE, "store1", subject, 25);
    await received(CAROL, "store2", subject, 25);
    assert.equal(fileMessages(fqdn("store1"), ALICE, labPassword(ALICE), `${subject}`, "Projects"), 25);
    assert.equal(fileMessages(fqdn("store2"), CAROL, labPassword(CAROL), `${subject}`, "Archive"), 25);
    before = mailboxes("store1");
    assert.equal(before[ALICE]!.Projects.length, 25);
    assert.ok(before[ALICE]!.Projects.every((m) => m.flags.includes("\\Flagged")));

    const backup = backupCli(["backup", "--stack", "lab"]);
    assert.equal(backup.status, 0, backup.stdout + backup.stderr);
    for (const store of ["store1", "store2"]) assert.match(backup.stdout + backup.stderr, new RegExp(`${store}.*rest:http://${BACKUP.fqdn}`));
    const list = backupCli(["backups", "--stack", "lab"]);
    assert.equal(list.status, 0, list.stdout + list.stderr);
    for (const store of ["store1", "store2"]) assert.match(list.stdout, new RegExp(`^${store}\\b.*\\d`, "m"));
  });

  test("store1's disk is lost: `./mf restore --store store1` brings back every message, folder and flag, and mail queued meanwhile arrives, nothing twice", async () => {
    // The disk dies with the store: Dovecot stops, the mail directory is gone.
    execOk("store1", ["doveadm", "stop"]);
    execOk("store1", ["sh", "-c", "rm -rf /var/vmail/* && ls -A /var/vmail | wc -l"]);
    const meanwhile = tag("meanwhile");
    sendByMx("dave@example.net", ALICE, meanwhile, 5);
    await waitUntil(() => queueSize("mx1") + queueSize("mx2"), (n) => n >= 5, 120_000);
    // The disk is replaced (empty) and the store comes back; then the operator restores.
    startService("store1", ["dovecot"]);
    const restore = backupCli(["restore", "--stack", "lab", "--store", "store1"]);
    assert.equal(restore.status, 0, restore.stdout + restore.stderr);
    for (const mx of ["mx1", "mx2"]) execOk(mx, ["postqueue", "-f"]);
    await received(ALICE, "store1", meanwhile, 5);

    for (const through of ["store1", "store2"]) {
      const now = mailboxes(through);
      assertNoDuplicates(now);
      assert.deepEqual(now[ALICE]!.Projects, before[ALICE]!.Projects, `alice's Projects through ${through}`);
      const inbox = now[ALICE]!.INBOX;
      assert.deepEqual(inbox.filter((m) => m.subject.startsWith(subject)), before[ALICE]!.INBOX.filter((m) => m.subject.startsWith(subject)));
      assert.equal(inbox.filter((m) => m.subject.startsWith(meanwhile)).length, 5, "the mail queued while store1 was down");
      assert.deepEqual(now[CAROL], before[CAROL], "carol's mailbox on store2 is untouched");
    }
  });

  test("store1 lost for good: its users move to store2, `./mf restore --store store1 --to store2` brings their mail there; inbound and IMAP work through either MX and either store", async () => {
    const moved = changedStacks("moved", (yaml) => yaml.replace(/(address: alice@example\.com\n(?:.*\n)*?\s+store: )store1/, "$1store2"));
    const spec = { ...fleet.spec, mailboxes: fleet.spec.mailboxes.map((m) => (m.store === "store1" ? { ...m, store: "store2" } : m)) };
    // The operator's `pulumi up`: the edges route alice to store2, both stores' user lists change.
    await pushSpec(spec, ["mx1", "mx2", "store1", "store2", "out1"]);
    // store1 comes back as a new, empty machine.
    execOk("store1", ["sh", "-c", "doveadm stop; rm -rf /var/vmail/*"]);
    startService("store1", ["dovecot"]);
    const restore = backupCli(["restore", "--stack", "lab", "--store", "store1", "--to", "store2"], moved);
    assert.equal(restore.status, 0, restore.stdout + restore.stderr);

    const after = tag("after-move");
    sendByMx("dave@example.net", ALICE, after, 4);
    await received(ALICE, "store2", after, 4);
    for (const through of ["store1", "store2"]) {
      const now = mailboxes(through);
      assertNoDuplicates(now);
      assert.deepEqual(now[ALICE]!.Projects, before[ALICE]!.Projects, `alice's Projects on store2, through ${through}`);
      assert.equal(now[ALICE]!.INBOX.filter((m) => m.subject.startsWith(after)).length, 4);
      assert.ok(
        imapMessages(fqdn(through), ALICE, labPassword(ALICE), after).every((m) => m.received.some((r) => r.includes(`by ${fqdn("store2")} with LMTP`))),
        "delivered on store2",
      );
    }
    // Back to the lab stack as committed, for the tests after this one.
    await pushSpec(fleet.spec, ["mx1", "mx2", "store1", "store2", "out1"]);
  });

  /** `./mf check` from the admin host, with SSH to the stores: its backup results. */
  const backupChecks = () => backupResults(mf([join(REPO, "scripts/check.ts"), "--stack", "lab", "--dns", "192.0.2.53", "--json"]));
  function backupResults(run: { stdout: string; stderr: string }): CheckResult[] {
    assert.ok(run.stdout.trim().startsWith("["), `the check printed no results:\n${run.stdout}\n${run.stderr}`);
    return (JSON.parse(run.stdout) as CheckResult[]).filter((r) => r.check === "backup");
  }

  test("a wrong repository password fails loudly, and `./mf check` says so with the fix", async () => {
    const spec = { ...fleet.spec, backup: { ...fleet.spec.backup!, password: "not-the-repository-password" } };
    await pushSpec(spec, ["store2"]);
    try {
      const backup = backupCli(["backup", "--stack", "lab", "--store", "store2"]);
      assert.notEqual(backup.status, 0);
      assert.match(backup.stdout + backup.stderr, /store2.*(wrong password|password is incorrect)/is);
      const [store2] = backupChecks().filter((r) => r.subject.includes("store2"));
      assert.equal(store2?.status, "fail", JSON.stringify(store2));
    } finally {
      await pushSpec(fleet.spec, ["store2"]);
    }
  });

  test("an unreachable repository fails loudly, and `./mf check` says so", async () => {
    stopRestServer();
    let backup: Run;
    let results: CheckResult[];
    try {
      // Each waits out the stores' bound on the first contact (MAILFLEET_BACKUP_PROBE_SECONDS, 120 s): side by side.
      [backup, results] = await Promise.all([
        mfAsync([join(REPO, "scripts/backup.ts"), "backup", "--stack", "lab", "--store", "store1"]),
        mfAsync([join(REPO, "scripts/check.ts"), "--stack", "lab", "--dns", "192.0.2.53", "--json"]).then(backupResults),
      ]);
    } finally {
      // The repositories are still on disk: the server started again serves them as before.
      startRestServer();
      await waitForPort(BACKUP.ipv4, REST_SERVER_PORT, 30_000);
    }
    assert.notEqual(backup.status, 0);
    assert.match(backup.stdout + backup.stderr, /store1.*unreachable/s);
    assert.ok(results.length >= 2, JSON.stringify(results));
    assert.ok(results.every((r) => r.status === "fail"), JSON.stringify(results, null, 2));
  });
});
