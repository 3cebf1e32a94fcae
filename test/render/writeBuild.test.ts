/**
 * The offline render streams hosts out (scripts/render.ts renderStack: each host rendered,
 * written and let go, FleetBuild.eachHostFiles): what it writes must be exactly the files the
 * renderers make of each host, which buildFleet's hostFiles (the Pulumi program's shape) holds too.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { buildFleet, givenAddresses, readStackSpec } from "../../components/build";
import { loadOrCreateKeys } from "../../components/keys/offline";
import { renderHost, renderInput } from "../../components/render";
import { placeHosts, standInAddresses } from "../../components/topology/addresses";
import { buildTopology } from "../../components/topology";
import { renderStack } from "../../scripts/render";

/** path -> [content, mode] of every file under dir, paths from dir's root (as on the host). */
function filesUnder(dir: string): Map<string, [string, number]> {
  const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
  return new Map(files.map((f) => [`/${relative(dir, f)}`, [readFileSync(f, "utf8"), statSync(f).mode & 0o7777]]));
}

/** Renders the stack as `./mf start` does, then builds it again on its own with the keys the render made. */
async function renderAndBuild(stack: string) {
  const outDir = mkdtempSync(join(tmpdir(), "mailfleet-render-"));
  await renderStack({ stack, outDir });
  const { spec } = readStackSpec(stack, { passphrase: process.env.PULUMI_CONFIG_PASSPHRASE, allowRedacted: true });
  const topology = buildTopology(spec);
  const addresses = spec.compute === "aws" ? standInAddresses(topology) : givenAddresses(spec);
  // Read, not made again: the render made every key.
  const keys = loadOrCreateKeys(join(outDir, "keys"), topology);
  const build = buildFleet(spec, addresses, keys);
  // What the renderers make of each host, asked directly (not through the build's own streaming).
  const input = renderInput(topology, placeHosts(topology, addresses), keys, build.recordSet.mtaSts.policy);
  const rendered = new Map(topology.hosts.map((h) => [h.name, renderHost(input, h)]));
  return { outDir, spec, topology, build, rendered };
}

for (const stack of ["lab", "dev"]) {
  describe(`the offline render of the ${stack} stack`, () => {
    const rendered = renderAndBuild(stack);

    it("writes each host exactly the files its renderers make, with their modes, and every zone", async () => {
      const { outDir, spec, topology, build, rendered: files } = await rendered;
      assert.deepEqual(readdirSync(join(outDir, "hosts")).sort(), topology.hosts.map((h) => h.name).sort());
      for (const host of topology.hosts) {
        const expected = new Map(files.get(host.name)!.map((f) => [f.path, [f.content, f.mode]]));
        assert.deepEqual(filesUnder(join(outDir, "hosts", host.name)), expected, host.name);
      }
      const zones = spec.dns === "zone" ? [...filesUnder(join(outDir, "zones"))].map(([path, [content]]) => [path, content]) : [];
      assert.deepEqual(new Map(zones as [string, string][]), new Map(build.zoneFiles.map((z) => [`/${z.origin}.zone`, z.content])));
      assert.ok(readFileSync(join(outDir, "plan.txt"), "utf8").length > 0);
    });

    it("yields every host once (eachHostFiles), in the topology's order; a hostFiles entry holds the same files", async () => {
      const { topology, build, rendered: files } = await rendered;
      const yielded = [...build.eachHostFiles()];
      assert.deepEqual(yielded.map((h) => h.host), topology.hosts);
      for (const { host, files: yieldedFiles } of yielded) {
        assert.deepEqual(yieldedFiles, files.get(host.name));
        assert.deepEqual(build.hostFiles[host.name], files.get(host.name));
      }
    });
  });
}
