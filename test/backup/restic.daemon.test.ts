/**
 * The rendered mailfleet-backup script for real: Debian 13's restic against Debian 13's
 * restic-rest-server on 127.0.0.1, in a booted Debian 13 host of its own (private mount, network and
 * pid namespaces). Backup of a small Maildir, its snapshots listed, the mail wiped and restored with
 * the mail user's ownership, and a wrong password and an unreachable repository failing loudly.
 * Dovecot runs with the store's rendered config (its listeners moved to loopback), so the restore's
 * `doveadm force-resync` is the real one and the restored mail is what Dovecot serves. Then the
 * operator's `./mf backup|backups|restore` (scripts/backup.ts) over SSH to the host's own sshd,
 * run in the host's network namespace.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { buildFleet, givenAddresses } from "../../components/build";
import { parseFleetConfig } from "../../components/config";
import { loadOrCreateKeys } from "../../components/keys/offline";
import { BACKUP_INTERVALS } from "../../components/config/schema";
import { BACKUP_PATHS, backupSchedule } from "../../components/render/backup";
const DOVECOT_CONF = "/etc/dovecot/dovecot.conf";
import { RenderedFile } from "../../components/render/file";
import { buildTopology, hostNamed } from "../../components/topology";
import { VMAIL } from "../../components/topology/vmail";
import { CheckResult, CHECKS } from "../../scripts/check/result";
import { beforeVmail, Debian13Host, RunResult } from "../support/debian13";
import { validRaw } from "../support/fixtures";
import { testRenderInput } from "../support/renderInput";
import { bootstrapLiveFiles } from "../support/tlsLive";

const PASSWORD = "correct horse battery staple 42";
const BASE = "rest:http://127.0.0.1:8000/fleet";
const ALICE = `${VMAIL.home}/example.com/alice`;
const MESSAGE = `${ALICE}/Maildir/cur/1700000000.M1P1.store1:2,S`;
const SIEVE = `${ALICE}/sieve/filters.sieve`;

/** The stack: store1 reached over SSH on the host's loopback (as root: the commands take --ssh-user). */
function stackRaw(): Record<string, any> {
  const raw = validRaw();
  raw.backup = { repository: BASE, password: PASSWORD, intervalMinutes: 30 };
  raw.hosts.store[0].sshHost = "127.0.0.1";
  raw.ssh = { user: "mailfleet" };
  return raw;
}

function storeFiles(): RenderedFile[] {
  const raw = stackRaw();
  const spec = parseFleetConfig(raw);
  const keys = loadOrCreateKeys(mkdtempSync(join(tmpdir(), "mailfleet-keys-")), buildTopology(spec));
  const build = buildFleet(spec, givenAddresses(spec), keys);
  // Dovecot on loopback only: no protocol listeners, and the auth store's Postfix listener and the metrics listener moved.
  const loopback =
    "\nprotocols =\nservice auth {\n  inet_listener auth-postfix {\n    listen = 127.0.0.1\n  }\n}\nservice stats {\n  inet_listener http {\n    listen = 127.0.0.1\n  }\n}\n";
  const input = testRenderInput(build.topology, givenAddresses(spec), keys, "");
  return [
    ...beforeVmail(build.hostFiles.store1).map((f) => (f.path === DOVECOT_CONF ? { ...f, content: f.content + loopback } : f)),
    // The certificate files deploy.sh would install before Dovecot first reads them.
    ...bootstrapLiveFiles(input, hostNamed(build.topology, "store1")),
  ];
}

let host: Debian13Host;
const sh = (script: string, env: string[] = []): RunResult => host.exec(["env", ...env, "bash", "-c", script]);
const ok = (script: string, env: string[] = []): string => {
  const r = sh(script, env);
  assert.equal(r.code, 0, `${script}: ${r.stderr}`);
  return r.stdout;
};
const backup = (args: string, env: string[] = []) => sh(`${BACKUP_PATHS.script} ${args}`, ["MAILFLEET_BACKUP_NO_RESYNC=1", ...env]);
const snapshots = (command: "status" | "snapshots") => JSON.parse(ok(`${BACKUP_PATHS.script} ${command}`)) as { store: string; repository: string; snapshots: { time: string; short_id: string }[] };

before(() => {
  host = new Debian13Host(storeFiles()).boot();
  ok(`groupadd -g ${VMAIL.gid} ${VMAIL.group} && useradd -u ${VMAIL.uid} -g ${VMAIL.group} -d ${VMAIL.home} -M ${VMAIL.user}`);
  ok("mkdir -p /srv/restic && (restic-rest-server --path /srv/restic --listen 127.0.0.1:8000 --no-auth </dev/null >/var/log/rest-server.log 2>&1 &)");
  ok("for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/8000) 2>/dev/null && exit 0; sleep 0.1; done; exit 1");
  ok(
    `mkdir -p ${ALICE}/Maildir/cur ${ALICE}/Maildir/new ${ALICE}/sieve && printf 'Subject: hello\\n\\nbody\\n' > '${MESSAGE}' && ` +
      `printf 'keep;\\n' > ${SIEVE} && chown -R ${VMAIL.user}:${VMAIL.group} ${VMAIL.home}`,
  );
  ok("dovecot </dev/null >/var/log/dovecot-start.log 2>&1 && for i in $(seq 50); do [ -S /run/dovecot/auth-userdb ] && exit 0; sleep 0.1; done; exit 1");
});

after(() => host?.dispose());

test("the first run creates the store's repository under the base and backs the Maildir up", () => {
  const r = backup("run");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /store1: creating the repository rest:http:\/\/127\.0\.0\.1:8000\/fleet\/store1/);
  assert.match(r.stderr, /store1: backed up/);
  const status = snapshots("status");
  assert.equal(status.store, "store1");
  assert.equal(status.repository, `${BASE}/store1`);
  assert.equal(status.snapshots.length, 1);
  assert.ok(Math.abs(Date.parse(status.snapshots[0].time) - Date.now()) < 120_000, status.snapshots[0].time);
});

test("a second run adds a snapshot; status shows only the newest, snapshots all of them", () => {
  const r = backup("run --progress");
  assert.equal(r.code, 0, r.stderr);
  // --progress: restic's JSON lines on stdout, the summary among them.
  const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { message_type: string });
  assert.ok(lines.some((l) => l.message_type === "summary"), r.stdout);
  assert.equal(snapshots("snapshots").snapshots.length, 2);
  const newest = snapshots("status").snapshots;
  assert.equal(newest.length, 1);
});

test("restore brings wiped mail and sieve scripts back, owned by the mail user, merged with newer mail", () => {
  ok(`rm -rf ${VMAIL.home}/example.com`);
  ok(`mkdir -p ${ALICE}/Maildir/new && echo new > ${ALICE}/Maildir/new/1800000000.M2P2.store1 && chown -R 0:0 ${VMAIL.home}`);
  const r = sh(`${BACKUP_PATHS.script} restore store1`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(ok(`cat '${MESSAGE}'`), "Subject: hello\n\nbody\n");
  assert.equal(ok(`cat ${SIEVE}`), "keep;\n");
  assert.equal(ok(`cat ${ALICE}/Maildir/new/1800000000.M2P2.store1`), "new\n", "mail the snapshot lacks stays");
  assert.equal(ok(`stat -c '%U:%G' '${MESSAGE}' ${ALICE}/Maildir/new/1800000000.M2P2.store1 ${SIEVE}`), `${VMAIL.user}:${VMAIL.group}\n`.repeat(3));
  assert.match(r.stderr, /resyncing Dovecot's indexes of 1 mailboxes/);
  // Dovecot serves both, the restored message with its \Seen flag and the one that arrived since.
  assert.equal(ok("doveadm -f flow mailbox status -u alice@example.com 'messages unseen' INBOX"), "INBOX messages=2 unseen=1\n");
  // Only the mailboxes this store holds were resynced: bob@example.org lives on store2 (proxy=y).
  assert.equal(sh(`test -e ${VMAIL.home}/example.org/bob`).code, 1, "no mailbox made for a user of another store");
});

test("another store restores a lost store's snapshot from the lost store's repository", () => {
  // This host now plays store2, which took over store1's users (a store lost for good).
  ok(`cp ${BACKUP_PATHS.env} /tmp/env && sed -i "s/^MAILFLEET_STORE=.*/MAILFLEET_STORE='store2'/; s|^RESTIC_REPOSITORY=.*|RESTIC_REPOSITORY='${BASE}/store2'|" ${BACKUP_PATHS.env}`);
  try {
    ok(`rm -rf ${VMAIL.home}/example.com`);
    const r = backup("restore store1");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /store2: restoring store1's snapshot latest from rest:http:\/\/127\.0\.0\.1:8000\/fleet\/store1 into \/var\/vmail/);
    assert.equal(ok(`cat '${MESSAGE}'`), "Subject: hello\n\nbody\n");
    // store2's own repository has no backups yet: its status says so, and there is nothing of it to restore.
    assert.deepEqual(snapshots("status").snapshots, []);
    assert.match(backup("restore store2").stderr, /no backups of store2/);
  } finally {
    ok(`cp /tmp/env ${BACKUP_PATHS.env}`);
  }
});

test("restore of a store with no backups, or of a bad snapshot id, fails with a message", () => {
  const none = backup("restore store9");
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no backups of store9: there is no repository at rest:http:\/\/127\.0\.0\.1:8000\/fleet\/store9/);
  const bad = backup("restore store1 'latest;id'");
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /not a snapshot id/);
});

test("a wrong repository password fails the backup and the status loudly", () => {
  ok(`cp ${BACKUP_PATHS.password} /tmp/password && echo 'another password entirely' > ${BACKUP_PATHS.password}`);
  try {
    for (const command of ["run", "status"]) {
      const r = backup(command);
      assert.equal(r.code, 1, command);
      assert.match(r.stderr, /wrong password for rest:http:\/\/127\.0\.0\.1:8000\/fleet\/store1/, command);
    }
  } finally {
    ok(`cp /tmp/password ${BACKUP_PATHS.password}`);
  }
});

test("an unreachable repository fails the backup and the status loudly, within the probe's bound", () => {
  ok(`cp ${BACKUP_PATHS.env} /tmp/env && sed -i 's/127.0.0.1:8000/127.0.0.1:8001/' ${BACKUP_PATHS.env}`);
  try {
    for (const command of ["run", "status"]) {
      const started = Date.now();
      const r = backup(command, ["MAILFLEET_BACKUP_PROBE_SECONDS=3"]);
      assert.equal(r.code, 1, command);
      assert.match(r.stderr, /rest:http:\/\/127\.0\.0\.1:8001\/fleet\/store1 is unreachable: no answer within 3 s/, command);
      assert.ok(Date.now() - started < 30_000);
    }
  } finally {
    ok(`cp /tmp/env ${BACKUP_PATHS.env}`);
  }
  assert.equal(backup("status").code, 0);
});

test("systemd reads every interval's schedule and fires it that often", () => {
  for (const minutes of BACKUP_INTERVALS) {
    const out = ok(`systemd-analyze calendar --iterations=3 '${backupSchedule(minutes)}'`);
    const times = [...out.matchAll(/(?:Next elapse|Iteration #\d): \w+ (\S+ \S+) UTC/g)].map((m) => Date.parse(`${m[1].replace(" ", "T")}Z`));
    assert.equal(times.length, 3, out);
    assert.deepEqual([times[1] - times[0], times[2] - times[1]], [minutes * 60_000, minutes * 60_000], `${minutes} min: ${out}`);
  }
});

// ---- the operator's commands over SSH ------------------------------------------------------------

const work = mkdtempSync(join(tmpdir(), "mailfleet-backup-cli-"));
const KEY = join(work, "id_ed25519");

/** Runs scripts/backup.ts (or another script) in the booted host's network namespace, where 127.0.0.1:22 is its sshd. */
function mf(command: string, ...args: string[]): RunResult {
  const script = command === "check" ? ["scripts/check.ts"] : ["scripts/backup.ts", command];
  const r = spawnSync(
    "nsenter",
    ["-t", String(host.pid()), "-n", "--", process.execPath, "--import", "tsx", ...script, "--stack", "cli", "--dir", work, "--ssh-key", KEY, "--known-hosts", "/dev/null", "--ssh-user", "root", ...args],
    { encoding: "utf8", timeout: 300_000 },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test("./mf backup, backups and restore reach the store over SSH and run its mailfleet-backup", () => {
  mkdirSync(join(work, "stacks"));
  const config = Object.fromEntries(Object.entries(stackRaw()).map(([k, v]) => [`mailfleet:${k}`, v]));
  writeFileSync(join(work, "stacks", "Pulumi.cli.yaml"), JSON.stringify({ config }));
  assert.equal(spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", KEY]).status, 0);
  ok("mkdir -p -m 0700 /root/.ssh /run/sshd && ssh-keygen -A >/dev/null && /usr/sbin/sshd -o ListenAddress=127.0.0.1");
  const authorized = host.exec(["sh", "-c", "cat > /root/.ssh/authorized_keys && chmod 0600 /root/.ssh/authorized_keys"], readFileSync(`${KEY}.pub`, "utf8"));
  assert.equal(authorized.code, 0, authorized.stderr);

  const made = mf("backup", "--store", "store1");
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stderr, /^store1: backing up to rest:http:\/\/127\.0\.0\.1:8000\/fleet\/store1$/m);
  assert.match(made.stdout, /^STORE\s+REPOSITORY\s+SNAPSHOT\s+FILES\s+SIZE\s+ADDED\s+RESULT\nstore1\s+rest:\S+\/store1\s+[0-9a-f]{8}\s+\d+\s+\d.*\s+ok$/m);
  const snapshot = /store1\s+\S+\s+([0-9a-f]{8})/.exec(made.stdout)![1];

  const listed = mf("backups", "--store", "store1");
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^STORE\s+SNAPSHOT\s+TIME\s+AGE\s+SIZE\s+FILES$/m);
  assert.match(listed.stdout, new RegExp(`^store1\\s+${snapshot}\\s+\\S+Z\\s+0 min\\s+\\d`, "m"));

  ok(`rm -rf ${VMAIL.home}/example.com`);
  const back = mf("restore", "--store", "store1", "--snapshot", snapshot);
  assert.equal(back.code, 0, back.stderr);
  assert.match(back.stderr, new RegExp(`store1: restoring store1's snapshot ${snapshot} from rest:http://127\\.0\\.0\\.1:8000/fleet/store1`));
  assert.match(back.stdout, new RegExp(`^store1\\s+store1\\s+${snapshot}\\s+\\d+\\s+\\S+ \\S+\\s+ok, indexes resynced$`, "m"));
  assert.equal(ok(`stat -c '%U' '${MESSAGE}'`), `${VMAIL.user}\n`);
  // store2 stands at a documentation address nothing answers on in here.
  assert.deepEqual(backupLines(), [["store1", "pass"], ["store2", "fail"]]);
});

/** ./mf check with only its backup check: [store, status] per store. */
function backupLines(): string[][] {
  const skip = CHECKS.filter((c) => c !== "backup").join(",");
  const r = mf("check", "--skip", skip, "--json");
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  return (JSON.parse(r.stdout) as CheckResult[]).map((l) => [l.subject, l.status, ...(l.status === "fail" && l.subject === "store1" ? [l.detail] : [])]);
}

test("./mf backup fails with the store's own message when its repository password is wrong", () => {
  ok(`cp ${BACKUP_PATHS.password} /tmp/password && echo 'another password entirely' > ${BACKUP_PATHS.password}`);
  try {
    const r = mf("backup", "--store", "store1");
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^store1\s+.*FAILED: wrong password for rest:http:\/\/127\.0\.0\.1:8000\/fleet\/store1/m);
    assert.match(backupLines()[0].join(" "), /^store1 fail mailfleet-backup status failed: wrong password for rest:http:\/\/127\.0\.0\.1:8000\/fleet\/store1/);
    const unknown = mf("restore", "--store", "store1", "--to", "store9");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /store9 is not a store of stack cli \(stores: store1, store2\)/);
  } finally {
    ok(`cp /tmp/password ${BACKUP_PATHS.password}`);
  }
});

test("systemd reads the rendered service and timer without a complaint", () => {
  const r = sh(`systemd-analyze verify ${BACKUP_PATHS.service} ${BACKUP_PATHS.timer}`);
  assert.deepEqual([r.code, r.stdout + r.stderr], [0, ""]);
});
