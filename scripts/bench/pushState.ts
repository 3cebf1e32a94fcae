/**
 * What the Pulumi state keeps of the SSH push: every host's push resources registered under mocks
 * (pulumi.runtime.setMocks, no engine), their inputs serialized as the state stores them.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { FleetBuild } from "../../components/build";
import { FleetSpec } from "../../components/config/spec";
import { sshPush } from "../../components/push/ssh";

const isSecret = (value: any): boolean => typeof value === "object" && value !== null && value[specialSigKey] === specialSecretSig;

/**
 * Inputs as the state keeps them: a secret as a blank of its length (the state holds it encrypted,
 * no shorter), a file asset as its path and the content hash the engine records for it.
 */
export async function asStored(value: any): Promise<any> {
  if (isSecret(value)) return "*".repeat(JSON.stringify(await asStored(value.value)).length);
  if (value instanceof pulumi.asset.FileAsset) {
    const path = await value.path;
    return { asset: true, path, hash: createHash("sha256").update(readFileSync(path)).digest("hex") };
  }
  if (Array.isArray(value)) return Promise.all(value.map(asStored));
  if (value && typeof value === "object") return Object.fromEntries(await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await asStored(v)])));
  return value;
}

export interface PushState {
  resources: number;
  /** Bytes of the push resources' inputs as the state keeps them. */
  stateBytes: number;
  /** Bytes of the bundles uploaded (what the state kept before: each bundle was a command's stdin). */
  bundleBytes: number;
}

/** Registers every host's push (as MailFleet does, one host at a time) and measures what the state would keep. */
export async function measurePush(spec: FleetSpec, build: FleetBuild): Promise<PushState> {
  const inputs: { type: string; inputs: Record<string, any> }[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: async (args) => {
        inputs.push({ type: args.type, inputs: args.inputs });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: () => ({}),
    },
    "mailfleet",
    "bench",
    false,
  );
  const deploys = build.topology.hosts.map((h) =>
    sshPush(spec, `push-${h.name}`, { role: h.role, host: h.ipv4!, files: pulumi.output(() => build.hostFiles[h.name]) }, {}),
  );
  await new Promise<void>((resolve) => pulumi.all(deploys.map((d) => d.id)).apply(() => resolve()));
  let stateBytes = 0;
  let bundleBytes = 0;
  for (const r of inputs) {
    const stored = await asStored(r.inputs);
    stateBytes += JSON.stringify(stored).length;
    if (r.type === "command:remote:CopyToRemote") bundleBytes += readFileSync(stored.source.path).length;
  }
  return { resources: inputs.length, stateBytes, bundleBytes };
}
