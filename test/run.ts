/**
 * The test runner behind `./mf test` (every tier) and `./mf test --unit` (the fast tier): the files
 * of the chosen tiers (test/support/tier.ts), each group in one `node --test`:
 *   fast and daemon files two at a time: each daemon check has its own throwaway host;
 *   engine files one at a time, after them: each runs whole `pulumi up`s;
 *   lab files one at a time on one lab, last. This process brings the lab up while the groups before
 *   run, and down after the last lab suite, even on a failure or Ctrl-C. The lab's suites run alone:
 *   beside the daemon files, IMAP reads through a store's proxy stalled past 90 s in the backup suite.
 * Usage: node --import tsx test/run.ts [tier…] [node --test option…], e.g. `lab --test-reporter=spec`.
 */
import { spawn } from "node:child_process";
import { globSync } from "node:fs";
import { shareLab, SHARED_LAB } from "./support/labSetup";
import { REPO_DIR, Tier, tierOf, TIERS } from "./support/tier";

export interface Group {
  tiers: Tier[];
  concurrency: number;
  /** What the group's files share, set up once before them: returns what undoes it, and the environment they see. */
  shared?: { setUp: () => Promise<() => Promise<void>>; env: Record<string, string> };
}

export const GROUPS: Group[] = [
  { tiers: ["fast", "daemon"], concurrency: 2 },
  { tiers: ["engine"], concurrency: 1 },
  { tiers: ["lab"], concurrency: 1, shared: { setUp: shareLab, env: { MAILFLEET_LAB: SHARED_LAB } } },
];

/** Every test file of the repo, sorted (paths relative to the repo). */
export function testFiles(): string[] {
  return globSync("test/**/*.test.ts", { cwd: REPO_DIR }).sort();
}

/** The `node --test` runs for the chosen tiers: each group's files of those tiers, empty groups left out. */
export function plan(files: string[], tiers: readonly Tier[]): { group: Group; files: string[] }[] {
  return GROUPS.map((group) => ({ group, files: files.filter((f) => tiers.includes(tierOf(f)) && group.tiers.includes(tierOf(f))) })).filter((run) => run.files.length > 0);
}

/** `node --test` over argv, its output passed on; whether all passed. */
function nodeTest(argv: string[], env: NodeJS.ProcessEnv): Promise<boolean> {
  const child = spawn(process.execPath, argv, { cwd: REPO_DIR, env, stdio: ["ignore", "inherit", "inherit"] });
  return new Promise((resolve) => child.on("close", (code) => resolve(code === 0)));
}

async function main(args: string[]): Promise<number> {
  const chosen = args.filter((a): a is Tier => (TIERS as readonly string[]).includes(a));
  const options = args.filter((a) => !chosen.includes(a as Tier));
  const unknown = options.find((o) => !o.startsWith("--"));
  if (unknown) throw new Error(`test/run.ts: ${unknown} is no tier (${TIERS.join(", ")}) and no --option`);
  const runs = plan(testFiles(), chosen.length > 0 ? chosen : TIERS);
  // What a group shares (the lab's bring-up, mostly waiting on its daemons and the ACME CA) is set
  // up from the start, so it overlaps the groups before it; the group's files still run after them.
  const setUps = new Map(runs.flatMap(({ group }) => (group.shared ? [[group, group.shared.setUp()] as const] : [])));
  for (const setUp of setUps.values()) setUp.catch(() => undefined);
  // Ctrl-C ends the tests (they share the terminal's process group); this process stops starting
  // groups and still tears down what it set up.
  let interrupted = false;
  const stop = () => void (interrupted = true);
  process.on("SIGINT", stop).on("SIGTERM", stop);
  const passed: boolean[] = [];
  try {
    for (const { group, files } of runs) {
      if (interrupted) return 1;
      const start = Date.now();
      const argv = ["--import", "tsx", "--test", `--test-concurrency=${group.concurrency}`, ...options, ...files];
      const ok = await (setUps.get(group) ?? Promise.resolve())
        .then(() => nodeTest(argv, { ...process.env, ...group.shared?.env }))
        .catch((error: Error) => {
          console.error(error);
          return false;
        });
      console.log(`tests: ${[...new Set(files.map(tierOf))].join(" and ")}: ${files.length} files in ${Math.round((Date.now() - start) / 1000)} s${ok ? "" : ", FAILED"}`);
      passed.push(ok);
    }
    return passed.every(Boolean) ? 0 : 1;
  } finally {
    for (const setUp of setUps.values()) await (await setUp.catch(() => undefined))?.();
    process.off("SIGINT", stop).off("SIGTERM", stop);
  }
}

if (require.main === module) void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
