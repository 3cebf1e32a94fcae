/**
 * The lab tier's shared labs: the runner (test/run.ts) brings each up once before the first lab
 * suite and takes it down after the last, whatever happened; the suites run in child processes that
 * see MAILFLEET_LAB=shared (useLab in test/support/lab.ts) and their lab's MAILFLEET_LAB_INSTANCE,
 * and each leaves its lab as it found it. A lab is named by its instance (scripts/lab/plan.ts), so
 * its bring-up runs in a process of its own that sees that name from the start.
 */
import { spawn } from "node:child_process";
import { REPO_DIR } from "./tier";

export const SHARED_LAB = "shared";

/** `./mf lab <command>` for one instance, its output on this process's stderr; whether it succeeded. */
function labCommand(instance: string, command: "up" | "down"): Promise<boolean> {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/lab/cli.ts", command], {
    cwd: REPO_DIR,
    env: { ...process.env, MAILFLEET_LAB_INSTANCE: instance },
    stdio: ["ignore", process.stderr, "inherit"],
  });
  return new Promise((resolve) => child.on("close", (code) => resolve(code === 0)));
}

/** Brings one whole lab up (down again if that fails); returns what takes it down. */
export async function shareLab(instance: string): Promise<() => Promise<void>> {
  const down = async () => {
    if (!(await labCommand(instance, "down"))) throw new Error(`lab ${instance || "(default)"}: down failed`);
  };
  if (!(await labCommand(instance, "up"))) {
    await down().catch(() => undefined);
    throw new Error(`lab ${instance || "(default)"}: bring-up failed (its output is above)`);
  }
  return down;
}
