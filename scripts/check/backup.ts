/**
 * The backup line per store: the age of its newest restic snapshot, read over SSH with the store's
 * own `mailfleet-backup status`. A backup that fails (wrong password, unreachable repository, a
 * timer that stopped) leaves the newest snapshot behind; past twice the interval the line fails.
 */
import { newest, parseSnapshotList, formatAge } from "../backup/snapshots";
import { CheckResult } from "./result";

/** What `mailfleet-backup status` gave: its stdout, or why it failed. */
export type BackupStatus = { stdout: string } | { error: string };

export function backupVerdict(stack: string, store: string, status: BackupStatus, intervalMinutes: number, now: Date): CheckResult {
  const fail = (detail: string, fix: string): CheckResult => ({ check: "backup", subject: store, status: "fail", detail, fix });
  const rerun = `run \`./mf backup --stack ${stack} --store ${store}\` and read its error`;
  if ("error" in status) return fail(`mailfleet-backup status failed: ${status.error}`, `${rerun}; check backup.repository and backup.password`);
  let list;
  try {
    list = parseSnapshotList(status.stdout);
  } catch (error) {
    return fail((error as Error).message, `push the stack again (\`pulumi up\`) so the store has the current mailfleet-backup`);
  }
  const last = newest(list);
  const timer = `on ${store}: systemctl status mailfleet-backup.timer, journalctl -u mailfleet-backup.service`;
  if (!last) return fail(`no snapshot in ${list.repository} yet`, `${rerun}; is the timer running (${timer})?`);
  const age = now.getTime() - last.time.getTime();
  const text = `newest snapshot ${last.id} is ${formatAge(age)} old (backups every ${intervalMinutes} min)`;
  if (age > 2 * intervalMinutes * 60_000) return fail(`${text}: more than twice the interval`, `${rerun}; ${timer}`);
  return { check: "backup", subject: store, status: "pass", detail: text };
}
