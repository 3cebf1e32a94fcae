/**
 * The lab tier's shared lab: the runner (test/run.ts) brings it up once before the first lab suite
 * and takes it down after the last, whatever happened; the suites run in child processes that see
 * MAILFLEET_LAB=shared (useLab in test/support/lab.ts), and each leaves the lab as it found it.
 */
import { down, up } from "../../scripts/lab";

export const SHARED_LAB = "shared";

/** Brings the whole lab up (down again if that fails); returns what takes it down. */
export async function shareLab(): Promise<() => Promise<void>> {
  try {
    const timings = await up({ log: (line) => console.error(line) });
    console.error(`lab: up in ${timings.total.toFixed(0)} s for the lab suites`);
  } catch (error) {
    await down().catch(() => undefined);
    throw error;
  }
  return down;
}
