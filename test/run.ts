/**
 * The test runner behind `./mf test` (every tier) and `./mf test --unit` (the fast tier): the files
 * of the chosen tiers (test/support/tier.ts), each group in one `node --test`:
 *   fast and daemon files two at a time: each daemon check has its own throwaway host;
 *   engine files one at a time, after them: each runs whole `pulumi up`s;
 *   lab files one at a time on one lab, last. This process brings the lab up before the first lab
 *   suite and down after the last, even on a failure or Ctrl-C. The lab runs alone: beside the
 *   daemon files, IMAP reads through a store's proxy stalled past 90 s in the backup suite.
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

/** Runs one group's files in one `node --test`, inside what they share; whether all passed. */
async function runGroup(group: Group, files: string[], options: string[]): Promise<boolean> {
  const argv = ["--import", "tsx", "--test", `--test-concurrency=${group.concurrency}`, ...options, ...files];
  if (!group.shared) return nodeTest(argv, process.env);
  const tearDown = await group.shared.setUp();
  // Ctrl-C ends the tests (they share the terminal's process group); this process still tears down.
  const stay = () => undefined;
  process.on("SIGINT", stay).on("SIGTERM", stay);
  try {
    return await nodeTest(argv, { ...process.env, ...group.shared.env });
  } finally {
    await tearDown();
    process.off("SIGINT", stay).off("SIGTERM", stay);
  }
}

async function main(args: string[]): Promise<number> {
  const chosen = args.filter((a): a is Tier => (TIERS as readonly string[]).includes(a));
  const options = args.filter((a) => !chosen.includes(a as Tier));
  const unknown = options.find((o) => !o.startsWith("--"));
  if (unknown) throw new Error(`test/run.ts: ${unknown} is no tier (${TIERS.join(", ")}) and no --option`);
  const runs = plan(testFiles(), chosen.length > 0 ? chosen : TIERS);
  const passed: boolean[] = [];
  for (const { group, files } of runs) {
    const start = Date.now();
    const ok = await runGroup(group, files, options).catch((error: Error) => {
      console.error(error);
      return false;
    });
    console.log(`tests: ${[...new Set(files.map(tierOf))].join(" and ")}: ${files.length} files in ${Math.round((Date.now() - start) / 1000)} s${ok ? "" : ", FAILED"}`);
    passed.push(ok);
  }
  return passed.every(Boolean) ? 0 : 1;
}

if (require.main === module) void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
