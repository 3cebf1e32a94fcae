/**
 * deploy.sh with a store's backup files, as root in a booted Debian 13 host that looks like a
 * systemd host (/run/systemd/system) with a stand-in systemctl that records its calls: the files
 * land with their modes in a root-only directory, the timer is enabled and restarted, and a stack
 * that drops its backup block removes the files and stops the timer. No daemon binds anything: under
 * "systemd" the units are started through the stand-in.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { buildFleet, givenAddresses } from "../../components/build";
import { parseFleetConfig } from "../../components/config";
import { loadOrCreateKeys } from "../../components/keys/offline";
import { BACKUP_PATHS } from "../../components/render/backup";
import { RenderedFile } from "../../components/render/file";
import { buildTopology } from "../../components/topology";
import { bootSystemdHost, SystemdHost } from "../support/systemdHost";
import { validRaw } from "../support/fixtures";

const keys = mkdtempSync(join(tmpdir(), "mailfleet-keys-"));
function store1(backup: boolean): RenderedFile[] {
  const raw = validRaw();
  if (backup) raw.backup = { repository: "rest:http://127.0.0.1:8000/fleet", password: "a long enough repository password" };
  const spec = parseFleetConfig(raw);
  return buildFleet(spec, givenAddresses(spec), loadOrCreateKeys(keys, buildTopology(spec))).hostFiles.store1;
}

let lab: SystemdHost;
const sh = (script: string) => lab.sh(script);
const deploy = (files: RenderedFile[]) => lab.deploy("store", files);
const calls = () => lab.calls();

before(() => {
  // is-active answers "active" for the backup timer once it was started, as systemd would.
  lab = bootSystemdHost(
    [
      'case "$*" in',
      '  "restart mailfleet-backup.timer") touch /tmp/timer.active ;;',
      '  "stop mailfleet-backup.timer") rm -f /tmp/timer.active ;;',
      '  "is-active --quiet mailfleet-backup.timer") [ -e /tmp/timer.active ] ;;',
      "esac",
    ].join("\n"),
  );
});

after(() => lab?.host.dispose());

test("a store's first push with backups writes the files and enables and starts the timer", () => {
  deploy(store1(true));
  const stat = sh(`stat -c '%n %a %U:%G' /etc/mailfleet/backup ${Object.values(BACKUP_PATHS).join(" ")}`);
  assert.equal(stat.code, 0, stat.stderr);
  assert.deepEqual(stat.stdout.trim().split("\n"), [
    "/etc/mailfleet/backup 700 root:root",
    `${BACKUP_PATHS.env} 600 root:root`,
    `${BACKUP_PATHS.password} 600 root:root`,
    `${BACKUP_PATHS.script} 755 root:root`,
    `${BACKUP_PATHS.service} 644 root:root`,
    `${BACKUP_PATHS.timer} 644 root:root`,
  ]);
  const made = calls();
  // Right after systemd reloaded its units (Valkey's and the certificates' reload it too).
  const at = made.indexOf("enable --quiet mailfleet-backup.timer");
  assert.ok(at > 0, made.join("\n"));
  assert.deepEqual(made.slice(at - 1, at + 2), ["daemon-reload", "enable --quiet mailfleet-backup.timer", "restart mailfleet-backup.timer"]);
});

test("a push without the backup block removes the files and stops the timer", () => {
  deploy(store1(false));
  assert.equal(sh(`ls ${Object.values(BACKUP_PATHS).join(" ")} 2>/dev/null | wc -l`).stdout.trim(), "0");
  const made = calls();
  assert.ok(made.includes("stop mailfleet-backup.timer"), made.join("\n"));
  assert.ok(!made.some((c) => c.startsWith("enable") && c.includes("backup")), made.join("\n"));
  // Nothing to stop the next time.
  deploy(store1(false).map((f) => (f.path === "/etc/dovecot/dovecot.conf" ? { ...f, content: `${f.content}\n` } : f)));
  const again = calls();
  assert.ok(again.includes("daemon-reload"), again.join("\n"));
  assert.ok(!again.some((c) => /^(stop|enable|restart|disable) .*mailfleet-backup/.test(c)), again.join("\n"));
});
