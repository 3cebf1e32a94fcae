/**
 * The operator's backup commands (components/render/backup.ts renders what they run on the stores):
 *   ./mf backup  --stack S [--store NAME]                            back up now (every store, or one)
 *   ./mf backups --stack S [--store NAME]                            snapshots per store: age, size
 *   ./mf restore --stack S --store NAME [--snapshot ID] [--to NAME]  restore a store's mail
 * each with [--outputs <json>] (aws: the stack outputs, for the addresses) [--ssh-key <file>]
 * [--known-hosts <file>] [--dir <folder>] (the one holding stacks/; the repo by default). Secrets: PULUMI_CONFIG_PASSPHRASE (the stack's SSH key). Exit 1 on any
 * failure, 2 on a usage error.
 */
// First, before anything that needs a newer Node: says which Node this needs on an older one.
import "../components/nodeVersion";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { readStackSpec } from "../components/build";
import { ConfigError, FleetSpec } from "../components/config";
import { HOST_LABEL_RE } from "../components/config/formats";
import { storeRepository } from "../components/render/backup";
import { textTable } from "../components/table";
import { buildTopology } from "../components/topology";
import { readOutputs, stackAddresses } from "./check/expect";
import { runBackupCommand, SSH_COMMAND_OPTIONS, SSH_COMMAND_USAGE, SshAccess, storeAccess } from "./backup/remote";
import { formatAge, formatBytes, newest, parseSnapshotList, readResticLine } from "./backup/snapshots";

const COMMON = SSH_COMMAND_USAGE;
const USAGE: Record<string, string> = {
  backup: `usage: ./mf backup --stack <env> [--store <name>] ${COMMON}\n  backs up every store (or one) now, as its timer would`,
  backups: `usage: ./mf backups --stack <env> [--store <name>] ${COMMON}\n  lists each store's snapshots with their age and size`,
  restore:
    `usage: ./mf restore --stack <env> --store <name> [--snapshot <id>] [--to <name>] ${COMMON}\n` +
    "  restores <name>'s snapshot (default: the latest) into the mail of store --to (default: <name> itself), merging with\n" +
    "  what is there, then resyncs Dovecot's indexes; the mailboxes keep serving.\n" +
    "  --to another store: first move <name>'s users to it in the stack (mailboxes[].store) and run `pulumi up`.",
};

/** Where the repositories are, in words, before any store is reached. */
function repositoryOf(spec: FleetSpec, store: string): string {
  return spec.backup?.repository ? storeRepository(spec.backup.repository, store) : `the stack's S3 bucket (prefix ${store})`;
}

/** Draws restic's progress on one line (a terminal) or a line every 15 s (a log). */
function progressPrinter(store: string): { update: (text: string) => void; done: () => void } {
  const tty = process.stderr.isTTY;
  let last = 0;
  let drawn = false;
  return {
    update(text) {
      const now = Date.now();
      if (tty) {
        process.stderr.write(`\r\x1b[K${store}: ${text}`);
        drawn = true;
      } else if (now - last >= 15_000) {
        process.stderr.write(`${store}: ${text}\n`);
        last = now;
      }
    },
    done() {
      if (drawn) process.stderr.write("\r\x1b[K");
      drawn = false;
    },
  };
}

/** Runs mailfleet-backup with --progress on a store: its messages and a progress line on stderr. */
async function withProgress(access: SshAccess, store: string, args: string[]) {
  const progress = progressPrinter(store);
  let summary: ReturnType<typeof readResticLine> | undefined;
  const r = await runBackupCommand(access, store, args, {
    line(l) {
      const read = readResticLine(l);
      if (read.kind === "progress") progress.update(read.text);
      else if (read.kind === "summary") summary = read;
      else if (read.text.trim()) {
        progress.done();
        console.error(`${store}: ${read.text}`);
      }
    },
    error(l) {
      progress.done();
      if (l.trim()) console.error(`${store}: ${l.replace(/^mailfleet-backup: (\S+: )?/, "")}`);
    },
  });
  progress.done();
  return { code: r.code, summary: summary?.kind === "summary" ? summary : undefined, stderr: r.stderr };
}

/** The last line the store's script said on stderr, for the summary table. */
const lastWords = (stderr: string, code: number) =>
  code === 255 ? "SSH failed: " + (stderr.trim().split("\n").pop() ?? "") : (stderr.trim().split("\n").pop() ?? `exit ${code}`).replace(/^mailfleet-backup: (\S+: )?/, "");

async function backup(spec: FleetSpec, access: SshAccess, stores: string[]): Promise<boolean> {
  const rows = [["STORE", "REPOSITORY", "SNAPSHOT", "FILES", "SIZE", "ADDED", "RESULT"]];
  for (const store of stores) {
    console.error(`${store}: backing up to ${repositoryOf(spec, store)}`);
    const r = await withProgress(access, store, ["run", "--progress"]);
    const s = r.summary?.kind === "summary" ? r.summary : undefined;
    rows.push([
      store,
      repositoryOf(spec, store),
      s?.snapshot ?? "-",
      s ? String(s.files) : "-",
      s ? formatBytes(s.bytes) : "-",
      s?.added !== undefined ? formatBytes(s.added) : "-",
      r.code === 0 ? "ok" : `FAILED: ${lastWords(r.stderr, r.code)}`,
    ]);
  }
  console.log(textTable(rows));
  return rows.slice(1).every((r) => r[6] === "ok");
}

async function backups(access: SshAccess, stores: string[]): Promise<boolean> {
  const rows = [["STORE", "SNAPSHOT", "TIME", "AGE", "SIZE", "FILES"]];
  let ok = true;
  for (const store of stores) {
    console.error(`${store}: listing snapshots`);
    const r = await runBackupCommand(access, store, ["snapshots"]);
    if (r.code !== 0) {
      ok = false;
      rows.push([store, "FAILED", lastWords(r.stderr, r.code), "", "", ""]);
      continue;
    }
    const list = parseSnapshotList(r.stdout);
    if (list.snapshots.length === 0) rows.push([store, "none", `nothing in ${list.repository} yet`, "", "", ""]);
    for (const s of [...list.snapshots].reverse()) {
      rows.push([store, s.id, s.time.toISOString().replace(/\.\d+Z$/, "Z"), formatAge(Date.now() - s.time.getTime()),
        s.bytes !== undefined ? formatBytes(s.bytes) : "-", s.files !== undefined ? String(s.files) : "-"]);
    }
  }
  console.log(textTable(rows));
  return ok;
}

async function restore(spec: FleetSpec, access: SshAccess, from: string, to: string, snapshot: string): Promise<boolean> {
  if (to !== from) {
    const { mailboxStore } = buildTopology(spec);
    const still = Object.keys(mailboxStore).filter((address) => mailboxStore[address] === from);
    console.error(`${to}: restoring ${from}'s mail here — ${from}'s users must be on ${to} in the stack (mailboxes[].store) with \`pulumi up\` run`);
    if (still.length > 0) console.error(`warning: the stack still places ${still.length} mailbox(es) on ${from}: ${still.slice(0, 5).join(", ")}${still.length > 5 ? ", …" : ""}`);
  }
  console.error(`${to}: restoring ${from}'s snapshot ${snapshot} from ${repositoryOf(spec, from)}`);
  const r = await withProgress(access, to, ["restore", "--progress", from, ...(snapshot === "latest" ? [] : [snapshot])]);
  const s = r.summary?.kind === "summary" ? r.summary : undefined;
  console.log(textTable([
    ["STORE", "FROM", "SNAPSHOT", "FILES", "SIZE", "RESULT"],
    [to, from, snapshot, s ? String(s.files) : "-", s ? formatBytes(s.bytes) : "-", r.code === 0 ? "ok, indexes resynced" : `FAILED: ${lastWords(r.stderr, r.code)}`],
  ]));
  return r.code === 0;
}

async function main(): Promise<number> {
  const command = process.argv[2] ?? "";
  if (!(command in USAGE)) {
    console.error(Object.values(USAGE).join("\n"));
    return 2;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(3),
      options: {
        ...SSH_COMMAND_OPTIONS,
        store: { type: "string" },
        snapshot: { type: "string" },
        to: { type: "string" },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE[command]}`);
    return 2;
  }
  const usage = (why: string) => (console.error(`${why}\n${USAGE[command]}`), 2);
  if (values.help) return (console.log(USAGE[command]), 0);
  if (!values.stack) return usage("--stack is required");
  if (command === "restore" && !values.store) return usage("--store is required: the store whose backup to restore");
  if (command !== "restore" && (values.snapshot || values.to)) return usage("--snapshot and --to are for restore");
  for (const [flag, value] of [["--store", values.store], ["--to", values.to]] as const) {
    if (value !== undefined && !HOST_LABEL_RE.test(value)) return usage(`${flag} ${value} is not a store name`);
  }
  if (values.snapshot !== undefined && !/^(latest|[0-9a-f]{8,64})$/.test(values.snapshot)) return usage(`--snapshot ${values.snapshot} is not a snapshot id (8-64 hex digits)`);
  try {
    // Reading needs no secret but the SSH key: undecrypted ones may stand as placeholders.
    const { spec } = readStackSpec(values.stack, {
      ...(values.dir ? { dir: join(values.dir, "stacks") } : {}),
      passphrase: process.env.PULUMI_CONFIG_PASSPHRASE,
      allowRedacted: true,
    });
    if (!spec.backup) throw new Error(`stack ${values.stack} has no backup block: add mailfleet:backup (README, "Backups") and run \`pulumi up\``);
    const outputs = values.outputs === undefined ? {} : readOutputs(readFileSync(values.outputs, "utf8"));
    const access = storeAccess(spec, stackAddresses(values.stack, spec, outputs), { sshKey: values["ssh-key"], knownHosts: values["known-hosts"], sshUser: values["ssh-user"] });
    if ("missing" in access) throw new Error(access.missing);
    const all = Object.keys(access.stores);
    const target = command === "restore" ? (values.to ?? values.store!) : values.store;
    if (target !== undefined && !all.includes(target)) throw new Error(`${target} is not a store of stack ${values.stack} (stores: ${all.join(", ")})`);
    const stores = target ? [target] : all;
    const ok =
      command === "backup" ? await backup(spec, access, stores)
      : command === "backups" ? await backups(access, stores)
      : await restore(spec, access, values.store!, target!, values.snapshot ?? "latest");
    return ok ? 0 : 1;
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : `${command}: ${(error as Error).message}`);
    return 1;
  }
}

main().then((code) => process.exit(code));
