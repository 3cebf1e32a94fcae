/**
 * An operator command (`./mf <command> …`) run from the lab's admin host, where the push runs from:
 * the only address the hosts' firewalls let reach SSH (as root with the lab's key; the lab's host
 * keys are new at each bring-up). `dir`: a folder with another stacks/ (a changed stack).
 */
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { join, resolve } from "node:path";
import { LAB_PASSPHRASE, netnsName, SSH_KEY } from "../../scripts/lab";

export const REPO = resolve(__dirname, "../..");

function mfArgv(args: string[], dir?: string): string[] {
  const ssh = ["--ssh-key", SSH_KEY, "--ssh-user", "root", "--known-hosts", "/dev/null", ...(dir ? ["--dir", dir] : [])];
  return ["netns", "exec", netnsName("admin"), process.execPath, join(REPO, "node_modules/tsx/dist/cli.mjs"), ...args, ...ssh];
}
const MF_OPTIONS = { cwd: REPO, env: { ...process.env, PULUMI_CONFIG_PASSPHRASE: LAB_PASSPHRASE } };
export type Run = { status: number | null; stdout: string; stderr: string };

export function mf(args: string[], dir?: string): Run {
  const run = spawnSync("ip", mfArgv(args, dir), { ...MF_OPTIONS, encoding: "utf8", timeout: 10 * 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** mf without blocking this process, so two commands run side by side. */
export async function mfAsync(args: string[]): Promise<Run> {
  const child = spawn("ip", mfArgv(args), MF_OPTIONS);
  const run = { stdout: "", stderr: "" };
  child.stdout.on("data", (d) => (run.stdout += d));
  child.stderr.on("data", (d) => (run.stderr += d));
  const [status] = (await once(child, "close")) as [number | null];
  return { status, ...run };
}
