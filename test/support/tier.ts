/**
 * A test file's tier is where it lives, so no list of files is kept by hand:
 *   test/lab/**            lab     the whole lab, brought up once per run (test/support/labSetup.ts)
 *   test/engine/**         engine  the real Pulumi CLI
 *   *.daemon.test.ts       daemon  the Debian 13 root and its daemons (test/support/debian13.ts)
 *   any other *.test.ts    fast    pure code and Pulumi mocks
 */
import { join, relative, sep } from "node:path";

export const TIERS = ["fast", "daemon", "engine", "lab"] as const;
export type Tier = (typeof TIERS)[number];

export const REPO_DIR = join(__dirname, "..", "..");

/** The tier of a test file, from its path relative to the repo. */
export function tierOf(path: string): Tier {
  const p = path.split(sep).join("/");
  if (p.startsWith("test/lab/")) return "lab";
  if (p.startsWith("test/engine/")) return "engine";
  if (p.endsWith(".daemon.test.ts")) return "daemon";
  return "fast";
}

/**
 * Throws unless the running test file's tier is one of `tiers`: a test that needs the Debian 13
 * root or the lab says so by where it lives, and the fast tier runs without either. node:test runs
 * each file as `node … <file>`, so the file is process.argv[1]; outside a test file nothing is refused.
 */
export function requireTier(tiers: readonly Tier[], what: string, running = process.argv[1] ?? ""): void {
  const file = relative(REPO_DIR, running);
  if (!file.endsWith(".test.ts") || tiers.includes(tierOf(file))) return;
  throw new Error(`${file} (tier ${tierOf(file)}) uses ${what}, which only tier ${tiers.join(" or ")} has: move the test (see test/support/tier.ts)`);
}
