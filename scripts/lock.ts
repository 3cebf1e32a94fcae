/**
 * The operator's lock on a login (issue 23), for a stolen password: at once, without an `up`.
 *   ./mf lock   --stack S LOGIN     refuse the login's AUTH (submission) and IMAP/POP3/ManageSieve logins
 *   ./mf unlock --stack S LOGIN     let it in again
 *   ./mf locked --stack S           the locked logins, per store
 * each with [--outputs <json>] [--ssh-key <file>] [--ssh-user <user>] [--known-hosts <file>] [--dir <folder>]
 * as ./mf backup. Every store gets the change (components/render/lock.ts: each store's Dovecot reads
 * the list on every authentication); the stores that did not are named and the exit code is 1.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { readStackSpec } from "../components/build";
import { ConfigError } from "../components/config";
import { LOCK_PATHS } from "../components/render/lock";
import { readOutputs, stackAddresses } from "./check/expect";
import { runStoreScript, SSH_COMMAND_OPTIONS, SSH_COMMAND_USAGE, storeAccess } from "./backup/remote";

const COMMON = SSH_COMMAND_USAGE;
const USAGE: Record<string, string> = {
  lock: `usage: ./mf lock --stack <env> <login> ${COMMON}\n  refuses the login at once on every store: SASL AUTH for sending, IMAP, POP3 and ManageSieve; open IMAP sessions end`,
  unlock: `usage: ./mf unlock --stack <env> <login> ${COMMON}\n  lets a locked login in again`,
  locked: `usage: ./mf locked --stack <env> ${COMMON}\n  lists the locked logins of every store`,
};

async function main(): Promise<number> {
  const command = process.argv[2] ?? "";
  if (!(command in USAGE)) return (console.error(Object.values(USAGE).join("\n")), 2);
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(3),
      allowPositionals: true,
      options: SSH_COMMAND_OPTIONS,
    });
  } catch (error) {
    return (console.error(`${(error as Error).message}\n${USAGE[command]}`), 2);
  }
  const { values, positionals } = parsed;
  const usage = (why: string) => (console.error(`${why}\n${USAGE[command]}`), 2);
  if (values.help) return (console.log(USAGE[command]), 0);
  if (!values.stack) return usage("--stack is required");
  if (positionals.length !== (command === "locked" ? 0 : 1)) return usage(command === "locked" ? "no login is taken" : "give exactly one login");
  const login = positionals[0]?.toLowerCase();
  if (login !== undefined && !/^[a-z0-9._+-]+@[a-z0-9.-]+$/.test(login)) return usage(`${login} is not a login (a mailbox address)`);
  try {
    const { spec } = readStackSpec(values.stack, {
      ...(values.dir ? { dir: join(values.dir, "stacks") } : {}),
      passphrase: process.env.PULUMI_CONFIG_PASSPHRASE,
      allowRedacted: true,
    });
    if (login !== undefined && !spec.mailboxes.some((m) => m.address === login)) console.error(`warning: ${login} is no mailbox of stack ${values.stack}`);
    const outputs = values.outputs === undefined ? {} : readOutputs(readFileSync(values.outputs, "utf8"));
    const access = storeAccess(spec, stackAddresses(values.stack, spec, outputs), { sshKey: values["ssh-key"], knownHosts: values["known-hosts"], sshUser: values["ssh-user"] });
    if ("missing" in access) throw new Error(access.missing);
    const args = command === "locked" ? ["list"] : [command, login!];
    // Every store at once: a lock is only as quick as its slowest store.
    const results = await Promise.all(Object.keys(access.stores).map(async (store) => ({ store, r: await runStoreScript(access, store, LOCK_PATHS.script, args) })));
    for (const { store, r } of results) {
      if (r.code !== 0) console.error(`${store}: FAILED: ${r.stderr.trim().split("\n").pop() ?? `exit ${r.code}`}`);
      else if (command === "locked") console.log(`${store}: ${r.stdout.trim().split("\n").filter(Boolean).join(", ") || "none"}`);
      else console.log(r.stdout.trim());
    }
    return results.every(({ r }) => r.code === 0) ? 0 : 1;
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : `${command}: ${(error as Error).message}`);
    return 1;
  }
}

main().then((code) => process.exit(code));
