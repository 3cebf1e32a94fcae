/** The store's backup files (render/backup.ts): present only with a backup block, repository per store, secrets kept secret. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parseFleetConfig } from "../../components/config";
import { BACKUP_INTERVALS } from "../../components/config/schema";
import { givenAddresses } from "../../components/build";
import { BACKUP_PATHS, BACKUP_SCRIPT_SOURCE, backupSchedule, renderStoreBackup } from "../../components/render/backup";
import { RenderedFile } from "../../components/render/file";
import { buildTopology, hostNamed } from "../../components/topology";
import { VMAIL } from "../../components/topology/vmail";
import { TEST_FORWARDING_KEYS, TEST_STATE_PASSWORDS, validRaw } from "../support/fixtures";
import { testRenderInput } from "../support/renderInput";
import { loadOrCreateKeys } from "../../components/keys/offline";
import { buildFleet } from "../../components/build";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The backup files embed no key material. */
/** The backup files use no key. */
const NO_KEYS = { dkim: [], caCertPem: "", hosts: {}, tsig: {}, dane: {}, state: TEST_STATE_PASSWORDS, ...TEST_FORWARDING_KEYS };

const PASSWORD = "a long enough repository password";

function storeFiles(backup: Record<string, unknown> | undefined, host = "store1", backupRepositoryBase?: string): RenderedFile[] {
  const raw = validRaw();
  if (backup) raw.backup = backup;
  const spec = parseFleetConfig(raw);
  const topology = buildTopology(spec);
  const input = testRenderInput(topology, givenAddresses(spec), NO_KEYS, "", backupRepositoryBase);
  return renderStoreBackup(input, hostNamed(topology, host));
}
const byPath = (files: RenderedFile[]) => Object.fromEntries(files.map((f) => [f.path, f]));

test("no backup block: no backup file on any store", () => {
  assert.deepEqual(storeFiles(undefined), []);
});

test("each store backs up to <base>/<its name>, with the password only in its own 0600 file", () => {
  const backup = { repository: "rest:https://backup.example.com:8000/mail/", password: PASSWORD, intervalMinutes: 30, retention: { hourly: 6, daily: 7, weekly: 0 } };
  for (const store of ["store1", "store2"]) {
    const f = byPath(storeFiles(backup, store));
    assert.deepEqual(Object.keys(f).sort(), Object.values(BACKUP_PATHS).sort());
    const env = f[BACKUP_PATHS.env];
    assert.match(env.content, new RegExp(`^RESTIC_REPOSITORY='rest:https://backup\\.example\\.com:8000/mail/${store}'$`, "m"));
    assert.match(env.content, /^MAILFLEET_BACKUP_BASE='rest:https:\/\/backup\.example\.com:8000\/mail'$/m);
    assert.match(env.content, new RegExp(`^MAILFLEET_STORE='${store}'$`, "m"));
    assert.match(env.content, new RegExp(`^MAIL_BASE='${VMAIL.home}'$`, "m"));
    assert.match(env.content, /^KEEP_HOURLY='6'\nKEEP_DAILY='7'\nKEEP_WEEKLY='0'$/m);
    assert.match(env.content, /^RESTIC_PASSWORD_FILE='\/etc\/mailfleet\/backup\/password'$/m);
    assert.ok(!env.content.includes(PASSWORD));
    assert.equal(f[BACKUP_PATHS.password].content, `${PASSWORD}\n`);
    for (const p of [BACKUP_PATHS.env, BACKUP_PATHS.password]) assert.deepEqual([f[p].mode, f[p].owner, f[p].secret], [0o600, "root", true], p);
    assert.deepEqual([f[BACKUP_PATHS.script].mode, f[BACKUP_PATHS.script].secret], [0o755, false]);
    assert.equal(f[BACKUP_PATHS.script].content, readFileSync(BACKUP_SCRIPT_SOURCE, "utf8"));
    assert.match(f[BACKUP_PATHS.service].content, /^Type=oneshot$/m);
    assert.match(f[BACKUP_PATHS.service].content, /^ExecStart=\/usr\/local\/sbin\/mailfleet-backup run$/m);
    assert.match(f[BACKUP_PATHS.timer].content, /^OnCalendar=\*-\*-\* \*:00\/30:00$/m);
    assert.match(f[BACKUP_PATHS.timer].content, /^Persistent=true$/m);
    assert.match(f[BACKUP_PATHS.timer].content, /^RandomizedDelaySec=180$/m);
  }
});

test("renderHost gives the backup files to stores only", () => {
  const raw = validRaw();
  raw.backup = { repository: "sftp:backup@backup.example.com:/srv/restic", password: PASSWORD };
  const spec = parseFleetConfig(raw);
  const build = buildFleet(spec, givenAddresses(spec), loadOrCreateKeys(mkdtempSync(join(tmpdir(), "mailfleet-keys-")), buildTopology(spec)));
  for (const host of build.topology.hosts) {
    const has = build.hostFiles[host.name].some((f) => f.path === BACKUP_PATHS.script);
    assert.equal(has, host.role === "store", host.name);
  }
});

test("aws without backup.repository backs up under the backend's bucket; a given repository wins", () => {
  const bucket = "s3:s3.eu-central-1.amazonaws.com/mailfleet-prod-backups";
  const env = (files: RenderedFile[]) => byPath(files)[BACKUP_PATHS.env].content;
  assert.match(env(storeFiles({ repository: "rest:http://10.0.0.5:8000", password: PASSWORD }, "store2", bucket)), /^RESTIC_REPOSITORY='rest:http:\/\/10\.0\.0\.5:8000\/store2'$/m);
  // A byo spec stands in for aws here: the renderer reads only the repository and the base it is given.
  const raw = validRaw();
  raw.backup = { repository: "rest:http://10.0.0.5:8000", password: PASSWORD };
  const spec = parseFleetConfig(raw);
  const { repository: _repository, ...noRepository } = spec.backup!;
  const topology = buildTopology({ ...spec, backup: noRepository });
  const input = testRenderInput(topology, givenAddresses(spec), NO_KEYS, "");
  assert.match(env(renderStoreBackup({ ...input, backupRepositoryBase: bucket }, hostNamed(topology, "store1"))), new RegExp(`^RESTIC_REPOSITORY='${bucket}/store1'$`, "m"));
  assert.throws(() => renderStoreBackup(input, hostNamed(topology, "store1")), /no repository/);
});

test("every allowed interval has a schedule that fires on the clock", () => {
  assert.equal(backupSchedule(5), "*-*-* *:00/5:00");
  assert.equal(backupSchedule(60), "*-*-* 00/1:00:00");
  assert.equal(backupSchedule(360), "*-*-* 00/6:00:00");
  assert.equal(backupSchedule(1440), "*-*-* 00:00:00");
  for (const m of BACKUP_INTERVALS) assert.doesNotThrow(() => backupSchedule(m));
  assert.throws(() => backupSchedule(45), /divides neither/);
});
