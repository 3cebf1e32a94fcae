/**
 * The main job without a cloud account: render a stack offline.
 *   ./mf start [--stack dev] [--stacks stacks] [--out out/<stack>]
 * Reads <stacks>/Pulumi.<stack>.yaml (secrets decrypted with PULUMI_CONFIG_PASSPHRASE when set,
 * redacted otherwise), validates it, and writes every host's files, the zone files and a plan.
 * Keys are kept in <out>/keys and reused, so a re-render never rotates them.
 */
// First, before anything that needs a newer Node: says which Node this needs on an older one.
import "../components/nodeVersion";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { buildFleet, FleetBuild, givenAddresses, readStackSpec } from "../components/build";
import { ConfigError } from "../components/config";
import { FleetSpec } from "../components/config/spec";
import { createMissingKeys, loadOrCreateKeys } from "../components/keys/offline";
import { formatPlan } from "../components/plan";
import { standInAddresses } from "../components/topology/addresses";
import { grafanaDashboard } from "../components/render/monitoring/dashboard";
import { buildTopology } from "../components/topology";

/** The fleet's Grafana dashboard, beside the plan. */
export const DASHBOARD_FILE = "grafana-dashboard.json";

/**
 * Replaces <out>/hosts (one tree per host, each file with its mode) and <out>/zones. One host at a
 * time: a host's files are rendered, written and let go before the next host is rendered.
 */
function writeBuild(outDir: string, build: FleetBuild): void {
  for (const dir of ["hosts", "zones"]) rmSync(join(outDir, dir), { recursive: true, force: true });
  for (const { host, files } of build.eachHostFiles()) {
    for (const f of files) {
      const target = join(outDir, "hosts", host.name, f.path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, f.content, { mode: f.mode });
      chmodSync(target, f.mode);
    }
  }
  for (const zone of build.zoneFiles) {
    mkdirSync(join(outDir, "zones"), { recursive: true });
    writeFileSync(join(outDir, "zones", `${zone.origin}.zone`), zone.content);
  }
}

export interface RenderOptions {
  stack: string;
  /** The folder of the stack files (default: stacks). */
  stacksDir?: string;
  outDir: string;
}

/** The render's steps, in order: the benchmark times each (scripts/bench/renderScale.ts). */
export type RenderPhase = "read" | "keys" | "build" | "write";

export interface Rendered {
  spec: FleetSpec;
  build: FleetBuild;
  /** The plan, as written to <out>/plan.txt. */
  plan: string;
}

/**
 * The whole offline render. `phase` runs each step, so a caller can time it (the default just
 * runs it).
 */
export async function renderStack(options: RenderOptions, phase = <T>(_name: RenderPhase, step: () => T): T => step()): Promise<Rendered> {
  const { stack, outDir } = options;
  // Offline: secrets this run could not decrypt may stand as placeholders (and are shown as such).
  const { spec, redacted } = phase("read", () =>
    readStackSpec(stack, { dir: options.stacksDir, passphrase: process.env.PULUMI_CONFIG_PASSPHRASE, allowRedacted: true }),
  );
  const topology = buildTopology(spec);
  // The cloud allocates its addresses at deploy time: stand-ins of the same shape, private ones included.
  const placeholders = spec.compute === "aws";
  const addresses = placeholders ? standInAddresses(topology) : givenAddresses(spec);
  const keyDir = join(outDir, "keys");
  const keys = await phase("keys", async () => {
    await createMissingKeys(keyDir, topology);
    return loadOrCreateKeys(keyDir, topology);
  });
  const build = phase("build", () => buildFleet(spec, addresses, keys));
  const plan = phase("write", () => {
    writeBuild(outDir, build);
    writeFileSync(join(outDir, DASHBOARD_FILE), `${JSON.stringify(grafanaDashboard(topology), null, 2)}\n`);
    const text = formatPlan(build, addresses, { stack, placeholderAddresses: placeholders, redactedSecrets: redacted, outDir });
    writeFileSync(join(outDir, "plan.txt"), text);
    return text;
  });
  return { spec, build, plan };
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { stack: { type: "string", default: "dev" }, stacks: { type: "string" }, out: { type: "string" } } });
  const stack = values.stack!;
  try {
    process.stdout.write((await renderStack({ stack, stacksDir: values.stacks, outDir: values.out ?? join("out", stack) })).plan);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

// Run as a script (./mf start), not when the scale benchmark or a test imports renderStack.
if (require.main === module) void main().then((code) => (process.exitCode = code));
