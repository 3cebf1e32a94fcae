/**
 * The operator's way onto the stores for `./mf backup|backups|restore` and the check's backup
 * line: OpenSSH as the stack's ssh.user (sudo -n unless root) with --ssh-key or the stack's own
 * decrypted ssh.privateKey, to each store's address (byo: sshHost or ipv4 from the stack file; aws:
 * the stack outputs). The only remote command is the store's mailfleet-backup, so the timer and
 * the operator run the same code.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FleetSpec, REDACTED_SECRET } from "../../components/config";
import { BACKUP_PATHS } from "../../components/render/backup";
import { hostsOf, buildTopology } from "../../components/topology";
import { AddressBook } from "../../components/topology/addresses";

export interface SshAccess {
  user: string;
  keyFile: string;
  /** OpenSSH's UserKnownHostsFile; its default (~/.ssh/known_hosts) when absent. */
  knownHosts?: string;
  /** Store name -> where SSH connects. */
  stores: Record<string, string>;
}

/** The command-line options of the operator's SSH commands (./mf backup, ./mf lock …), for parseArgs. */
export const SSH_COMMAND_OPTIONS = {
  stack: { type: "string" },
  outputs: { type: "string" },
  "ssh-key": { type: "string" },
  "known-hosts": { type: "string" },
  "ssh-user": { type: "string" },
  dir: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;
export const SSH_COMMAND_USAGE = "[--outputs <json>] [--ssh-key <file>] [--ssh-user <user>] [--known-hosts <file>] [--dir <folder>]";

export interface AccessOptions {
  /** --ssh-key: a private key file; else the stack's decrypted ssh.privateKey. */
  sshKey?: string;
  knownHosts?: string;
  /** --ssh-user: log in as this user instead of ssh.user (the lab's hosts take root). */
  sshUser?: string;
}

/** SSH access to the stack's stores, or why there is none (no key given and none decrypted). */
export function storeAccess(spec: FleetSpec, addresses: AddressBook, options: AccessOptions): SshAccess | { missing: string } {
  if (options.sshUser !== undefined && !/^[a-z_][a-z0-9_-]{0,31}$/.test(options.sshUser)) throw new Error(`--ssh-user ${options.sshUser} is not a Unix user name`);
  let keyFile = options.sshKey;
  if (!keyFile) {
    const key = spec.ssh.privateKey;
    if (!key || key === REDACTED_SECRET) {
      return { missing: "no SSH key: pass --ssh-key <file>, or set PULUMI_CONFIG_PASSPHRASE so the stack's ssh.privateKey decrypts" };
    }
    const dir = mkdtempSync(join(tmpdir(), "mailfleet-ssh-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    keyFile = join(dir, "key");
    writeFileSync(keyFile, key.endsWith("\n") ? key : `${key}\n`, { mode: 0o600 });
  }
  const stores: Record<string, string> = {};
  for (const store of hostsOf(buildTopology(spec), "store")) {
    const address = store.sshHost ?? addresses[store.name]?.ipv4;
    if (address) stores[store.name] = address;
  }
  return { user: options.sshUser ?? spec.ssh.user, keyFile, ...(options.knownHosts ? { knownHosts: options.knownHosts } : {}), stores };
}

/** The remote command line: every argument is a store name, a snapshot id, a login or a fixed word, quoted all the same. */
export function storeCommand(script: string, user: string, args: string[]): string {
  for (const a of args) if (!/^[A-Za-z0-9._@+-]+$/.test(a)) throw new Error(`not an argument for ${script}: ${a}`);
  const argv = [script, ...args].map((a) => `'${a}'`).join(" ");
  return user === "root" ? argv : `sudo -n ${argv}`;
}

export function sshArgv(access: SshAccess, store: string, command: string): string[] {
  const address = access.stores[store];
  if (!address) throw new Error(`${store} has no address to connect to: is it a store of this stack (and --outputs given for aws)?`);
  return [
    "-i", access.keyFile,
    "-o", "IdentitiesOnly=yes",
    "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=10",
    "-o", "StrictHostKeyChecking=accept-new",
    ...(access.knownHosts ? ["-o", `UserKnownHostsFile=${access.knownHosts}`] : []),
    "-o", "LogLevel=ERROR",
    "-l", access.user,
    "--", address,
    command,
  ];
}

export interface RemoteResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `mailfleet-backup <args>` on a store over SSH; onLine sees each line of its stdout as it
 * comes (restic's JSON with --progress), onError each line of its stderr (its messages).
 */
export function runBackupCommand(
  access: SshAccess,
  store: string,
  args: string[],
  on: { line?: (line: string) => void; error?: (line: string) => void } = {},
): Promise<RemoteResult> {
  return runStoreScript(access, store, BACKUP_PATHS.script, args, on);
}

/** Runs one of the push's scripts on a store over SSH (mailfleet-backup, mailfleet-lock), line by line as runBackupCommand. */
export function runStoreScript(
  access: SshAccess,
  store: string,
  script: string,
  args: string[],
  on: { line?: (line: string) => void; error?: (line: string) => void } = {},
): Promise<RemoteResult> {
  const argv = sshArgv(access, store, storeCommand(script, access.user, args));
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", argv, { stdio: ["ignore", "pipe", "pipe"] });
    const out = { stdout: "", stderr: "" };
    const lines = (stream: "stdout" | "stderr", handler?: (line: string) => void) => {
      let pending = "";
      child[stream].setEncoding("utf8").on("data", (chunk: string) => {
        out[stream] += chunk;
        pending += chunk;
        const parts = pending.split("\n");
        pending = parts.pop()!;
        for (const l of parts) handler?.(l);
      });
      child[stream].on("end", () => pending && handler?.(pending));
    };
    lines("stdout", on.line);
    lines("stderr", on.error);
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, ...out }));
  });
}
