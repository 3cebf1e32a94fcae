/**
 * The backup line per store: the age of its newest restic snapshot, read over SSH with the store's
 * own `mailfleet-backup status`. A backup that fails (wrong password, unreachable repository, a
 * timer that stopped) leaves the newest snapshot behind; past twice the interval the line fails.
 */
import { hostsOf } from "../../components/topology";
import { runBackupCommand, SshAccess } from "../backup/remote";
import { newest, parseSnapshotList, formatAge } from "../backup/snapshots";
import { Expected } from "./expect";
import { BackupStatus, Probes } from "./probes";
import { CheckResult, fail, line, pass } from "./result";

/** The backupStatus probe: `mailfleet-backup status` on a store over SSH, a failure in words. */
export async function backupStatus(access: SshAccess, store: string): Promise<BackupStatus> {
  try {
    const r = await runBackupCommand(access, store, ["status"]);
    if (r.code === 0) return { stdout: r.stdout };
    const said = r.stderr.trim().split("\n").pop() ?? "";
    return { error: r.code === 255 ? `SSH to ${access.stores[store]} failed: ${said}` : said.replace(/^mailfleet-backup: /, "") || `exit ${r.code}` };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

export function backupVerdict(stack: string, store: string, status: BackupStatus, intervalMinutes: number, now: Date): CheckResult {
  const failed = (detail: string, fix: string) => line("backup", store, fail(detail, fix));
  const rerun = `run \`./mf backup --stack ${stack} --store ${store}\` and read its error`;
  if ("error" in status) return failed(`mailfleet-backup status failed: ${status.error}`, `${rerun}; check backup.repository and backup.password`);
  let list;
  try {
    list = parseSnapshotList(status.stdout);
  } catch (error) {
    return failed((error as Error).message, `push the stack again (\`pulumi up\`) so the store has the current mailfleet-backup`);
  }
  const last = newest(list);
  const timer = `on ${store}: systemctl status mailfleet-backup.timer, journalctl -u mailfleet-backup.service`;
  if (!last) return failed(`no snapshot in ${list.repository} yet`, `${rerun}; is the timer running (${timer})?`);
  const age = now.getTime() - last.time.getTime();
  const text = `newest snapshot ${last.id} is ${formatAge(age)} old (backups every ${intervalMinutes} min)`;
  if (age > 2 * intervalMinutes * 60_000) return failed(`${text}: more than twice the interval`, `${rerun}; ${timer}`);
  return line("backup", store, pass(text));
}

/** Each store's newest snapshot, when the stack backs up and the check has SSH access to the stores. */
export async function checkBackup(e: Expected, p: Probes): Promise<CheckResult[]> {
  const backup = e.topology.spec.backup;
  const status = p.backupStatus;
  if (!backup || !status) return [];
  // All stores at once: a store whose repository does not answer takes the whole probe time.
  const stores = hostsOf(e.topology, "store");
  const statuses = await Promise.all(stores.map((store) => status(store.name)));
  return stores.map((store, i) => backupVerdict(e.stack, store.name, statuses[i], backup.intervalMinutes, p.now));
}
