/**
 * The Pulumi program: this stack's `mailfleet:` config -> FleetSpec -> one MailFleet -> its
 * outputs. `index.ts` runs it under `pulumi up` (cliProgram); the Automation API driver runs the same function
 * as an inline program.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseFleet } from "./build";
import { CONFIG_NAMESPACE, ConfigError } from "./config";
import { MailFleet } from "./fleet";

/**
 * The `mailfleet:` keys of the stack's config, prefix stripped. Pulumi hands structured values
 * (lists, maps) over as JSON text and scalars as their text; parseFleet reads scalar text
 * itself, so only what parses as JSON is decoded (a PEM key or a domain name stays as it is).
 */
export function fleetConfig(all: Record<string, string>): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(all)) {
    if (!key.startsWith(`${CONFIG_NAMESPACE}:`)) continue;
    let parsed: unknown = value;
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = value;
    }
    raw[key.slice(CONFIG_NAMESPACE.length + 1)] = parsed;
  }
  return raw;
}

export async function mailfleetProgram(): Promise<Record<string, unknown>> {
  // Parsed before anything is created: bad config fails with every problem listed and nothing registered.
  const spec = parseFleet(fleetConfig(pulumi.runtime.allConfig()));
  return new MailFleet("mailfleet", { spec }).outputs();
}

/**
 * Runs work under the engine: bad config becomes a RunError, which the CLI prints (every problem
 * with its key path and fix, as `./mf start` does) without a stack trace. subject names what was read.
 */
export async function configErrorsAsRunError<T>(work: () => Promise<T>, subject?: string): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ConfigError) throw new pulumi.RunError(new ConfigError(error.problems, subject).message);
    throw error;
  }
}

/** What `pulumi up` runs (index.ts). */
export function cliProgram(): Promise<Record<string, unknown>> {
  return configErrorsAsRunError(mailfleetProgram);
}
