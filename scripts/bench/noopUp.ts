/**
 * Wall time of a no-op `up` of the lab stack through the engine, as an operator runs it:
 *   node --import tsx scripts/bench/noopUp.ts [runs]
 * One `./mf stack up --stack lab` on a throwaway file backend creates the stack, then each timed run
 * finds nothing to change. Prints the minimum, median and maximum seconds (whole process: Node start,
 * module load, the Automation API's CLI calls and the engine). Bounded: 60 s per run.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const REPO = join(__dirname, "../..");
const state = mkdtempSync(join(tmpdir(), "mailfleet-noop-up-"));
const env = { ...process.env, PULUMI_BACKEND_URL: `file://${state}`, PULUMI_CONFIG_PASSPHRASE: "mailfleet-lab" };

function up(noop = true): number {
  const start = performance.now();
  const r = spawnSync(join(REPO, "mf"), ["stack", "up", "--stack", "lab"], { env, encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`up failed: ${r.stderr}${r.stdout}`);
  if (noop && !/unchanged/.test(r.stdout)) throw new Error(`not a no-op: ${r.stdout}`);
  return (performance.now() - start) / 1000;
}

try {
  const runs = Number(process.argv[2] ?? 5);
  up(false); // creates the stack and its keys
  const seconds = Array.from({ length: runs }, () => up()).sort((a, b) => a - b);
  const f = (s: number) => s.toFixed(2);
  console.log(`no-op up of the lab stack, ${runs} runs: min ${f(seconds[0])} s, median ${f(seconds[Math.floor(runs / 2)])} s, max ${f(seconds[runs - 1])} s`);
} finally {
  rmSync(state, { recursive: true, force: true });
}
