/**
 * The lab stack as render input, with keys from a fresh key folder (made once per test process):
 * the real config path (stack file -> readStackSpec -> buildTopology), addresses from the spec.
 */
import { existsSync, mkdtempSync } from "node:fs";
import { after, before } from "node:test";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { givenAddresses } from "../../components/build";
import { readStackSpec } from "../../components/build";
import { FleetSpec } from "../../components/config/spec";
import { loadOrCreateKeys } from "../../components/keys/offline";
import { mtaStsPolicy } from "../../components/records";
import { buildTopology } from "../../components/topology";
import { CLIENT, deployFiles, down, execOk, EXT, hostRoot, LabFleet, LabHost, labHost, loadLabFleet, NS_PREFIX, push, rootDelegations, up, writeRootZone } from "../../scripts/lab";
import { labNamespaces } from "../../scripts/lab/host";
import { SHARED_LAB } from "./labSetup";
import { testRenderInput, TestRenderInput } from "./renderInput";
import { requireTier } from "./tier";

export function labSpec(): FleetSpec {
  return readStackSpec("lab", { passphrase: "mailfleet-lab" }).spec;
}

let keyDir: string | undefined;

/** Render input for the lab spec, optionally changed; keys are reused across calls. */
export function labInput(change: (spec: FleetSpec) => FleetSpec = (s) => s): TestRenderInput {
  const topology = buildTopology(change(labSpec()));
  keyDir ??= mkdtempSync(join(tmpdir(), "mailfleet-keys-"));
  return testRenderInput(topology, givenAddresses(topology.spec), loadOrCreateKeys(keyDir, topology), mtaStsPolicy(topology).policy);
}

/**
 * A lab suite's lab: the one the lab tier shares (test/support/labSetup.ts), or, for a suite run on
 * its own, the whole lab up before the file's tests (bounded) and down after them. `onUp` gets the
 * lab fleet once it is up, and so does the returned function. Node runs a file's top-level hooks
 * without waiting for each other, so what needs the lab goes in `onUp`.
 */
export function useLab(onUp: (fleet: LabFleet) => void = () => undefined): () => LabFleet {
  requireTier(["lab"], "the lab");
  const shared = process.env.MAILFLEET_LAB === SHARED_LAB;
  let fleet: LabFleet | undefined;
  // Why the bring-up failed, for every test that needs the lab (the runner reports a failed
  // root hook only through the tests it cancels).
  let failure: Error | undefined;
  before(async () => {
    try {
      if (!shared) await up();
      fleet = loadLabFleet();
      onUp(fleet);
    } catch (error) {
      failure = error as Error;
      throw error;
    }
  }, { timeout: 900_000 });
  if (!shared) after(() => down(), { timeout: 120_000 });
  return () => {
    if (!fleet) throw new Error(`the lab is not up${failure ? `: ${failure.stack ?? failure.message}` : ""}`);
    return fleet;
  };
}

/**
 * Puts hosts back as the lab deployed them (the lab's own render), for a suite that changed them, so
 * the next suite finds the lab as the bring-up left it.
 */
export async function restoreHosts(fleet: LabFleet, hosts: LabHost[]): Promise<void> {
  for (const host of hosts) {
    const r = await push(host, deployFiles(fleet, host));
    if (r.code !== 0) throw new Error(`lab: restoring ${host.name} failed: ${r.stderr}`);
  }
  forgetPublished();
}

/**
 * After a push that changed what the fleet publishes, the peers forget what they cached of it (a DNS
 * answer, a DKIM key): client's and ext's unbound drop their caches on SIGHUP, and ext's rspamd
 * starts its workers afresh.
 */
export function forgetPublished(): void {
  forgetDns();
  reload(EXT.name, "/run/rspamd/rspamd.pid");
}

/**
 * The lab's validating resolvers (client's, ext's and the fleet's own) drop what they cached (answers,
 * keys, the servers they judged): after a change to the DNS.
 */
export function forgetDns(): void {
  const resolvers = labNamespaces().map((ns) => ns.slice(NS_PREFIX.length)).filter((host) => existsSync(join(hostRoot(host), "run/unbound.pid")));
  for (const host of resolvers) reload(host, "/run/unbound.pid");
}

/**
 * The lab root publishes a wrong DS for `zone` (its digest's last 8 hex digits zeroed), as a tampered
 * or stale parent would, and the resolvers forget what they judged; restoreRoot puts it back.
 */
export function publishWrongDs(fleet: LabFleet, zone: string): void {
  writeRootZone(labHost(fleet, "dns1"), rootDelegations(fleet, labHost(fleet, "dns1"), (z, ds) => (z === zone ? ds.map((l) => l.replace(/[0-9A-F]{8}$/, "00000000")) : ds)));
  forgetDns();
}

/** The lab root as the bring-up left it, and resolvers that forget what they judged meanwhile. */
export function restoreRoot(fleet: LabFleet): void {
  writeRootZone(labHost(fleet, "dns1"), rootDelegations(fleet, labHost(fleet, "dns1")));
  forgetDns();
}

/** SIGHUP to one host's daemon, by its pid file: the lab's hosts share this machine's process table, so pkill would reach every host's. */
function reload(host: string, pidFile: string): void {
  execOk(host, ["sh", "-c", 'kill -HUP "$(cat "$1")"', "reload", pidFile]);
}
