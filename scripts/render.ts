/**
 * The main job without a cloud account: render a stack offline.
 *   ./mf start [--stack dev] [--out out/<stack>]
 * Reads stacks/Pulumi.<stack>.yaml (secrets decrypted with PULUMI_CONFIG_PASSPHRASE when set,
 * redacted otherwise), validates it, and writes every host's files, the zone files and a plan.
 * Keys are kept in <out>/keys and reused, so a re-render never rotates them.
 */
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { buildFleet, FleetBuild, givenAddresses, readStackSpec } from "../components/build";
import { ConfigError } from "../components/config";
import { loadOrCreateKeys } from "../components/keys/offline";
import { formatPlan } from "../components/plan";
import { standInAddresses } from "../components/topology/addresses";
import { buildTopology } from "../components/topology";

/** Replaces <out>/hosts (one tree per host, each file with its mode) and <out>/zones. */
export function writeBuild(outDir: string, build: FleetBuild): void {
  for (const dir of ["hosts", "zones"]) rmSync(join(outDir, dir), { recursive: true, force: true });
  // One host at a time: each host's files are rendered as they are read (FleetBuild.hostFiles).
  for (const host of Object.keys(build.hostFiles)) {
    for (const f of build.hostFiles[host]) {
      const target = join(outDir, "hosts", host, f.path);
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

function main(): number {
  const { values } = parseArgs({ options: { stack: { type: "string", default: "dev" }, out: { type: "string" } } });
  const stack = values.stack!;
  const outDir = values.out ?? join("out", stack);
  try {
    // Offline: secrets this run could not decrypt may stand as placeholders (and are shown as such).
    const { spec, redacted } = readStackSpec(stack, { passphrase: process.env.PULUMI_CONFIG_PASSPHRASE, allowRedacted: true });
    const topology = buildTopology(spec);
    // The cloud allocates its addresses at deploy time: stand-ins of the same shape, private ones included.
    const placeholders = spec.compute === "aws";
    const addresses = placeholders ? standInAddresses(topology) : givenAddresses(spec);
    const keys = loadOrCreateKeys(join(outDir, "keys"), topology);
    const build = buildFleet(spec, addresses, keys);

    writeBuild(outDir, build);
    const plan = formatPlan(build, addresses, { stack, placeholderAddresses: placeholders, redactedSecrets: redacted, outDir });
    writeFileSync(join(outDir, "plan.txt"), plan);
    process.stdout.write(plan);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

// Run as a script (./mf start), not when the scale benchmark imports writeBuild.
if (require.main === module) process.exitCode = main();
