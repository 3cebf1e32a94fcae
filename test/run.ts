/**
 * The test runner behind `./mf test` (every tier) and `./mf test --unit` (the fast tier): the files
 * of the chosen tiers (test/support/tier.ts), each group in one `node --test`:
 *   first, fast and daemon files two at a time: each daemon check has its own throwaway host;
 *   then, side by side: engine files one at a time (each runs whole `pulumi up`s, on the CPU), and
 *   lab files spread over two labs by their measured time (LAB_SECONDS), one at a time on each. This
 *   process brings the labs up (one after the other) while the first stage runs, and down after
 *   their last suite, even on a failure or Ctrl-C.
 *   The lab suites mostly wait (on queues, certificates, timers), so two labs halve their time and the
 *   engine files fit beside them; they run after the daemon files: beside those, IMAP reads through a
 *   store's proxy stalled past 90 s.
 * Usage: node --import tsx test/run.ts [tier…] [node --test option…], e.g. `lab --test-reporter=spec`.
 */
import { spawn } from "node:child_process";
import { globSync } from "node:fs";
import { shareLab, SHARED_LAB } from "./support/labSetup";
import { REPO_DIR, Tier, tierOf, TIERS } from "./support/tier";

export interface Group {
  tiers: Tier[];
  concurrency: number;
  /** The labs (instances, scripts/lab/plan.ts) the group's files are spread over, side by side, each brought up once. */
  labs?: string[];
  /** The groups of a stage run side by side; the stages one after the other. */
  stage: number;
}

export const GROUPS: Group[] = [
  { tiers: ["fast", "daemon"], concurrency: 2, stage: 1 },
  { tiers: ["engine"], concurrency: 1, stage: 2 },
  { tiers: ["lab"], concurrency: 1, labs: ["", "2"], stage: 2 },
];

/** One `node --test` run: a group's files, or its share of them on one lab. */
export interface Run {
  group: Group;
  files: string[];
  lab?: string;
}

/** Every test file of the repo, sorted (paths relative to the repo). */
export function testFiles(): string[] {
  return globSync("test/**/*.test.ts", { cwd: REPO_DIR }).sort();
}

/**
 * What each lab suite took, in seconds, in a fresh-clone CI run (2026-12-07): the weights the runner
 * balances the labs by (a suite's size says little: engine.test.ts is short and runs whole
 * `pulumi up`s). A new lab suite is refused until it has its figure here.
 */
export const LAB_SECONDS: Record<string, number> = {
  "test/lab/backup.test.ts": 334,
  "test/lab/bimi.test.ts": 1,
  "test/lab/blocklists.test.ts": 97,
  "test/lab/certificates.test.ts": 155,
  "test/lab/check.test.ts": 10,
  "test/lab/deploy.test.ts": 30,
  "test/lab/dnssec.test.ts": 290,
  "test/lab/engine.test.ts": 260,
  "test/lab/forwarding.test.ts": 70,
  "test/lab/learning.test.ts": 48,
  "test/lab/mail.test.ts": 101,
  "test/lab/monitoring.test.ts": 300,
  "test/lab/smarthost.test.ts": 128,
  "test/lab/state.test.ts": 118,
};

/**
 * Suites that run on one lab, in this order, before its others:
 * - the monitoring suite first: it asserts that nothing but the Watchdog fires, while the mail and
 *   backup suites' deliberate faults (a store's LMTP stopped, a failed backup) rightly keep alerts
 *   firing for the length of the rules' windows (30 min);
 * - the backup suite after it, not beside it on the other lab: its proxied IMAP reads right after a
 *   restore stalled past two tries twice in CI while the monitoring suite's faults ran beside them
 *   (Dovecot's login proxy, README: Known issues), and passed alone.
 */
export const LAB_SEQUENCE = ["test/lab/monitoring.test.ts", "test/lab/backup.test.ts"];

/**
 * A run's files as the `node --test` calls that run them, one after the other: node runs the files
 * it is given in path order, whatever their order on its command line, so each LAB_SEQUENCE file
 * gets a call of its own, in that order, before the rest.
 */
export function batches(files: string[]): string[][] {
  const sequence = LAB_SEQUENCE.filter((f) => files.includes(f));
  const rest = files.filter((f) => !sequence.includes(f));
  return [...sequence.map((f) => [f]), ...(rest.length > 0 ? [rest] : [])];
}

function labSeconds(file: string): number {
  const seconds = LAB_SECONDS[file];
  if (seconds === undefined) throw new Error(`test/run.ts: ${file} has no entry in LAB_SECONDS: run it once (./mf test lab --test-reporter=spec prints each suite's time) and add its seconds`);
  return seconds;
}

/** The `node --test` runs for the chosen tiers: each group's files of those tiers (spread over its labs), empty runs left out. */
export function plan(files: string[], tiers: readonly Tier[], weight: (file: string) => number = labSeconds): Run[] {
  return GROUPS.flatMap((group) => {
    const mine = files.filter((f) => tiers.includes(tierOf(f)) && group.tiers.includes(tierOf(f)));
    const parts = group.labs ? spread(mine, group.labs.length, weight) : [mine];
    return parts.map((part, i) => ({ group, files: part, lab: group.labs?.[i] })).filter((run) => run.files.length > 0);
  });
}

/**
 * Files in `n` parts of about equal weight: the LAB_SEQUENCE files as one unit, then the heaviest
 * first, each into the lightest part so far; every part in path order.
 */
export function spread(files: string[], n: number, weight: (file: string) => number): string[][] {
  const sequence = LAB_SEQUENCE.filter((f) => files.includes(f));
  const units = [...(sequence.length > 0 ? [sequence] : []), ...files.filter((f) => !sequence.includes(f)).map((f) => [f])];
  const unitWeight = (unit: string[]) => unit.reduce((sum, f) => sum + weight(f), 0);
  const parts = Array.from({ length: n }, () => ({ weight: 0, files: [] as string[] }));
  for (const unit of units.sort((a, b) => unitWeight(b) - unitWeight(a) || a[0].localeCompare(b[0]))) {
    const lightest = parts.reduce((a, b) => (b.weight < a.weight ? b : a));
    lightest.weight += unitWeight(unit);
    lightest.files.push(...unit);
  }
  return parts.map((p) => p.files.sort());
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
  // A run's lab (mostly waiting on its daemons and the ACME CA) is brought up from the start, so it
  // overlaps the groups before it; the run's files still run after them.
  // One bring-up at a time: two at once beside the daemon files starved a lab's start past its timeouts.
  let previous: Promise<unknown> = Promise.resolve();
  const setUps = new Map(
    runs.flatMap((run) => {
      if (run.lab === undefined) return [];
      const setUp = previous.catch(() => undefined).then(() => shareLab(run.lab!));
      previous = setUp;
      return [[run, setUp] as const];
    }),
  );
  for (const setUp of setUps.values()) setUp.catch(() => undefined);
  // Ctrl-C ends the tests (they share the terminal's process group); this process stops starting
  // groups and still tears down what it set up.
  let interrupted = false;
  const stop = () => void (interrupted = true);
  process.on("SIGINT", stop).on("SIGTERM", stop);
  const passed: boolean[] = [];
  const execute = async (run: Run): Promise<boolean> => {
    const start = Date.now();
    const argv = ["--import", "tsx", "--test", `--test-concurrency=${run.group.concurrency}`, ...options];
    const env = { ...process.env, ...(run.lab !== undefined ? { MAILFLEET_LAB: SHARED_LAB, MAILFLEET_LAB_INSTANCE: run.lab } : {}) };
    const ok = await (setUps.get(run) ?? Promise.resolve())
      .then(async () => {
        let passed = true;
        // A failed batch does not stop the next: every suite reports.
        for (const files of batches(run.files)) passed = (await nodeTest([...argv, ...files], env)) && passed;
        return passed;
      })
      .catch((error: Error) => {
        console.error(error);
        return false;
      });
    const where = run.lab !== undefined ? ` on lab ${run.lab || "(default)"}` : "";
    console.log(`tests: ${[...new Set(run.files.map(tierOf))].join(" and ")}: ${run.files.length} files${where} in ${Math.round((Date.now() - start) / 1000)} s${ok ? "" : ", FAILED"}`);
    return ok;
  };
  try {
    for (const stage of [...new Set(GROUPS.map((g) => g.stage))].sort((a, b) => a - b)) {
      const mine = runs.filter((run) => run.group.stage === stage);
      if (mine.length === 0) continue;
      if (interrupted) return 1;
      passed.push(...(await Promise.all(mine.map(execute))));
    }
    return passed.every(Boolean) ? 0 : 1;
  } finally {
    for (const setUp of setUps.values()) await (await setUp.catch(() => undefined))?.().catch((error: Error) => console.error(error.message));
    process.off("SIGINT", stop).off("SIGTERM", stop);
  }
}

if (require.main === module) void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
