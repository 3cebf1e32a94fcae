/**
 * The lab tier's shared lab (`node --test --test-global-setup`, see test/run.ts): up once before
 * the first lab suite, down after the last whatever happened. The suites run in child processes and
 * see MAILFLEET_LAB=shared (test/support/lab.ts); each leaves the lab as it found it.
 */
import { down, up } from "../../scripts/lab";

export const SHARED_LAB = "shared";

export async function globalSetup(): Promise<void> {
  try {
    const timings = await up({ log: (line) => console.error(line) });
    console.error(`lab: up in ${timings.total.toFixed(0)} s for the lab suites`);
  } catch (error) {
    // The runner tears down only after a setup that succeeded.
    await down().catch(() => undefined);
    throw error;
  }
  process.env.MAILFLEET_LAB = SHARED_LAB;
}

export async function globalTeardown(): Promise<void> {
  await down();
}
