/**
 * A store's restic backups: the script that runs them (mailfleet-backup.sh, the same for the timer
 * and the operator's `./mf backup|backups|restore`), its settings, the repository password, and the
 * systemd timer that runs it every backup.intervalMinutes. Nothing when the stack has no backup block.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BackupSpec } from "../config/spec";
import { Host } from "../topology";
import { VMAIL } from "../topology/vmail";
import { USERS_PATH } from "./dovecot/users";
import { file, RenderedFile } from "./file";
import { RenderInput } from "./input";
import { TEXTFILE_DIR } from "./monitoring";

/** Where a store keeps its backup files; the store's deploy allowlist names these (push/roles.ts). */
export const BACKUP_PATHS = {
  env: "/etc/mailfleet/backup/env",
  password: "/etc/mailfleet/backup/password",
  script: "/usr/local/sbin/mailfleet-backup",
  service: "/etc/systemd/system/mailfleet-backup.service",
  timer: "/etc/systemd/system/mailfleet-backup.timer",
} as const;
/** restic's cache and the script's lock; systemd's CacheDirectory= makes it for the service. */
const CACHE_DIR = "/var/cache/mailfleet-backup";
export const BACKUP_SCRIPT_SOURCE = join(__dirname, "mailfleet-backup.sh");

/** The base every store's repository lies under: backup.repository, else (aws) the stack's bucket. */
export function backupRepositoryBase(backup: BackupSpec, input: Pick<RenderInput, "backupRepositoryBase">): string {
  const base = backup.repository ?? input.backupRepositoryBase;
  if (!base) throw new Error("backup: no repository — backup.repository is not set and the backend gave no bucket (backupRepositoryBase)");
  return base.replace(/\/+$/, "");
}

/** A store's own repository: always `<base>/<store>`, so a restore onto another store finds it by name. */
export function storeRepository(base: string, store: string): string {
  return `${base.replace(/\/+$/, "")}/${store}`;
}

/** systemd OnCalendar for a run every `minutes` (one of BACKUP_INTERVALS: it divides an hour or a day). */
export function backupSchedule(minutes: number): string {
  if (minutes < 60 && 60 % minutes === 0) return `*-*-* *:00/${minutes}:00`;
  // systemd takes no repetition of 24 hours: once a day is midnight.
  if (minutes === 1440) return "*-*-* 00:00:00";
  if (minutes % 60 === 0 && 1440 % minutes === 0) return `*-*-* 00/${minutes / 60}:00:00`;
  throw new Error(`backup interval ${minutes} min divides neither an hour nor a day`);
}

/** Shell-sourced by the script: every value passed config validation (no quote, space or `$` in any). */
function envFile(backup: BackupSpec, base: string, host: Host): string {
  const values: [string, string | number][] = [
    ["MAILFLEET_STORE", host.name],
    ["MAILFLEET_BACKUP_BASE", base],
    ["RESTIC_REPOSITORY", storeRepository(base, host.name)],
    ["RESTIC_PASSWORD_FILE", BACKUP_PATHS.password],
    ["RESTIC_CACHE_DIR", CACHE_DIR],
    // Mail and sieve scripts both live in the mail homes under it (render/dovecot/conf.ts).
    ["MAIL_BASE", VMAIL.home],
    ["MAIL_USER", VMAIL.user],
    ["DOVECOT_USERS", USERS_PATH],
    ["KEEP_HOURLY", backup.retention.hourly],
    ["KEEP_DAILY", backup.retention.daily],
    ["KEEP_WEEKLY", backup.retention.weekly],
    // Where the script leaves its outcome for the node exporter (render/monitoring).
    ["METRICS_DIR", TEXTFILE_DIR],
  ];
  for (const [name, value] of values) if (!/^[A-Za-z0-9@:/._~\[\]-]+$/.test(String(value))) throw new Error(`backup: ${name} ${value} cannot go into a shell file`);
  return [`# Rendered by mailfleet for ${host.fqdn}: where its backups go (read by ${BACKUP_PATHS.script}).`, ...values.map(([n, v]) => `${n}='${v}'`), ""].join("\n");
}

function serviceUnit(host: Host): string {
  return `# Rendered by mailfleet for ${host.fqdn}.
[Unit]
Description=mailfleet: back up this store's mail with restic
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=${BACKUP_PATHS.script} run
CacheDirectory=${CACHE_DIR.slice("/var/cache/".length)}
CacheDirectoryMode=0700
# Reads the mail, writes only its cache; sftp: repositories use root's SSH key and known_hosts.
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
NoNewPrivileges=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
LockPersonality=yes
Nice=10
IOSchedulingClass=idle
`;
}

function timerUnit(backup: BackupSpec, host: Host): string {
  // Spreads the stores' runs a little, never by more than a tenth of the interval.
  const delay = Math.min(300, backup.intervalMinutes * 6);
  return `# Rendered by mailfleet for ${host.fqdn}.
[Unit]
Description=mailfleet: back up this store's mail every ${backup.intervalMinutes} minutes

[Timer]
OnCalendar=${backupSchedule(backup.intervalMinutes)}
# A run missed while the host was down happens at the next boot.
Persistent=true
RandomizedDelaySec=${delay}

[Install]
WantedBy=timers.target
`;
}

export function renderStoreBackup(input: RenderInput, host: Host): RenderedFile[] {
  const backup = input.topology.spec.backup;
  if (!backup) return [];
  if (host.role !== "store") throw new Error(`${host.name} is a ${host.role} host, not a store: only stores hold mail to back up`);
  const base = backupRepositoryBase(backup, input);
  return [
    file(BACKUP_PATHS.env, envFile(backup, base, host), { secret: true }),
    file(BACKUP_PATHS.password, `${backup.password}\n`, { secret: true }),
    file(BACKUP_PATHS.script, readFileSync(BACKUP_SCRIPT_SOURCE, "utf8"), { mode: 0o755 }),
    file(BACKUP_PATHS.service, serviceUnit(host)),
    file(BACKUP_PATHS.timer, timerUnit(backup, host)),
  ];
}
