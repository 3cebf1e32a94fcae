/**
 * The lab stack as render input, with keys from a fresh key folder (made once per test process):
 * the real config path (stack file -> readStackSpec -> buildTopology), addresses from the spec.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { givenAddresses } from "../../components/build";
import { readStackSpec } from "../../components/config";
import { FleetSpec } from "../../components/config/spec";
import { loadOrCreateKeys } from "../../components/keys/offline";
import { mtaStsPolicy } from "../../components/records";
import { RenderInput, renderInput } from "../../components/render/input";
import { buildTopology } from "../../components/topology";

export function labSpec(): FleetSpec {
  return readStackSpec("lab", { passphrase: "mailfleet-lab" }).spec;
}

let keyDir: string | undefined;

/** Render input for the lab spec, optionally changed; keys are reused across calls. */
export function labInput(change: (spec: FleetSpec) => FleetSpec = (s) => s): RenderInput {
  const topology = buildTopology(change(labSpec()));
  keyDir ??= mkdtempSync(join(tmpdir(), "mailfleet-keys-"));
  return renderInput(topology, givenAddresses(topology.spec), loadOrCreateKeys(keyDir, topology), mtaStsPolicy(topology).policy);
}
