/**
 * A throwaway place for the real engine: a work folder holding copies of Pulumi.yaml and the lab
 * stack file (so no test touches the repo's files) and a file state backend beside it.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../../scripts/engine";

export const LAB_PASSPHRASE = "mailfleet-lab";

export interface Sandbox {
  /** Holds Pulumi.yaml and stacks/Pulumi.lab.yaml. */
  workDir: string;
  /** The file backend's folder (the engine's state, as it lands on disk). */
  stateDir: string;
  backendUrl: string;
  stackFile: string;
  remove(): void;
}

export function labSandbox(): Sandbox {
  const root = mkdtempSync(join(tmpdir(), "mailfleet-engine-"));
  const workDir = join(root, "work");
  const stateDir = join(root, "state");
  mkdirSync(join(workDir, "stacks"), { recursive: true });
  copyFileSync(join(REPO_ROOT, "Pulumi.yaml"), join(workDir, "Pulumi.yaml"));
  const stackFile = join(workDir, "stacks", "Pulumi.lab.yaml");
  copyFileSync(join(REPO_ROOT, "stacks", "Pulumi.lab.yaml"), stackFile);
  return { workDir, stateDir, backendUrl: `file://${stateDir}`, stackFile, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** Every file under a folder, with its content: the whole state backend as it lies on disk. */
export function filesUnder(dir: string): { path: string; content: string }[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())
    .map((path) => ({ path, content: readFileSync(path, "utf8") }));
}

/** Runs one of the repo's TypeScript scripts as an operator would (tsx, Node 24), in `cwd`. */
export function runScript(script: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [join(REPO_ROOT, "node_modules/tsx/dist/cli.mjs"), join(REPO_ROOT, script), ...args], {
    cwd,
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 10 * 60 * 1000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
