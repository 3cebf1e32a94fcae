/**
 * The test runner behind `./mf test` (every tier) and `./mf test --unit` (the fast tier): the files
 * of the chosen tiers (test/support/tier.ts), each group in one `node --test`:
 *   fast and daemon files two at a time: each daemon check has its own throwaway host;
 *   engine files one at a time: each runs whole `pulumi up`s;
 *   lab files one at a time on one lab, up before the first and down after the last, even on failure.
 * Usage: node --import tsx test/run.ts [tier…] [node --test option…], e.g. `lab --test-reporter=spec`.
 */
import { spawnSync } from "node:child_process";
import { globSync } from "node:fs";
import { join } from "node:path";
import { REPO_DIR, Tier, tierOf, TIERS } from "./support/tier";

export interface Group {
  tiers: Tier[];
  concurrency: number;
  /** A --test-global-setup module: what the group's files share, set up once. */
  setup?: string;
}

export const GROUPS: Group[] = [
  { tiers: ["fast", "daemon"], concurrency: 2 },
  { tiers: ["engine"], concurrency: 1 },
  { tiers: ["lab"], concurrency: 1, setup: "test/support/labSetup.ts" },
];

/** Every test file of the repo, sorted (paths relative to the repo). */
export function testFiles(): string[] {
  return globSync("test/**/*.test.ts", { cwd: REPO_DIR }).sort();
}

/** The `node --test` runs for the chosen tiers: each group's files of those tiers, empty groups left out. */
export function plan(files: string[], tiers: readonly Tier[]): { group: Group; files: string[] }[] {
  return GROUPS.map((group) => ({ group, files: files.filter((f) => tiers.includes(tierOf(f)) && group.tiers.includes(tierOf(f))) })).filter((run) => run.files.length > 0);
}

function main(args: string[]): number {
  const chosen = args.filter((a): a is Tier => (TIERS as readonly string[]).includes(a));
  const options = args.filter((a) => !chosen.includes(a as Tier));
  const unknown = options.find((o) => !o.startsWith("--"));
  if (unknown) throw new Error(`test/run.ts: ${unknown} is no tier (${TIERS.join(", ")}) and no --option`);
  let failed = false;
  for (const { group, files } of plan(testFiles(), chosen.length > 0 ? chosen : TIERS)) {
    const start = Date.now();
    const setup = group.setup ? [`--test-global-setup=${group.setup}`] : [];
    const argv = ["--import", "tsx", "--test", `--test-concurrency=${group.concurrency}`, ...setup, ...options, ...files];
    const run = spawnSync(process.execPath, argv, { cwd: REPO_DIR, stdio: "inherit" });
    failed ||= run.status !== 0;
    console.log(`tests: ${[...new Set(files.map(tierOf))].join(" and ")}: ${files.length} files in ${Math.round((Date.now() - start) / 1000)} s${run.status === 0 ? "" : ", FAILED"}`);
  }
  return failed ? 1 : 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
