/**
 * The operator's lock on a login (issue 23, `./mf lock`): a list of locked logins on every store,
 * which Dovecot reads first on every authentication and refuses (render/dovecot: passdb locked), and
 * the script that edits it. The list is the operator's, not the stack's: no bundle carries it, so an
 * `up` never unlocks anyone (deploy.sh only makes it, empty, where it is missing).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { file, RenderedFile } from "./file";

export const LOCK_PATHS = {
  list: "/etc/dovecot/locked-logins",
  script: "/usr/local/sbin/mailfleet-lock",
} as const;

export function renderLockScript(): RenderedFile {
  const script = readFileSync(join(__dirname, "mailfleet-lock.sh"), "utf8").replace("set -euo pipefail\n", `set -euo pipefail\nLOCK_LIST=${LOCK_PATHS.list}\n`);
  return file(LOCK_PATHS.script, script, { mode: 0o755 });
}
