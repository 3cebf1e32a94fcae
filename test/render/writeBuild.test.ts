/**
 * The offline render streams hosts out (scripts/render.ts renderStack: each host rendered,
 * written and let go): what it writes must be exactly the files buildFleet gives each host.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { buildFleet, givenAddresses } from "../../components/build";
import { readStackSpec } from "../../components/config";
import { loadOrCreateKeys } from "../../components/keys/offline";
import { standInAddresses } from "../../components/topology/addresses";
import { buildTopology } from "../../components/topology";
import { renderStack } from "../../scripts/render";

/** path -> [content, mode] of every file under dir, paths from dir's root (as on the host). */
function filesUnder(dir: string): Map<string, [string, number]> {
  const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
  return new Map(files.map((f) => [`/${relative(dir, f)}`, [readFileSync(f, "utf8"), statSync(f).mode & 0o7777]]));
}

for (const stack of ["lab", "dev"]) {
  describe(`the offline render of the ${stack} stack`, () => {
    it("writes each host exactly buildFleet's files, with their modes, and every zone", async () => {
      const outDir = mkdtempSync(join(tmpdir(), "mailfleet-render-"));
      await renderStack({ stack, outDir });
      // Built again on its own, with the keys the render made (read, not made again).
      const { spec } = readStackSpec(stack, { passphrase: process.env.PULUMI_CONFIG_PASSPHRASE, allowRedacted: true });
      const topology = buildTopology(spec);
      const addresses = spec.compute === "aws" ? standInAddresses(topology) : givenAddresses(spec);
      const build = buildFleet(spec, addresses, loadOrCreateKeys(join(outDir, "keys"), topology));

      assert.deepEqual(readdirSync(join(outDir, "hosts")).sort(), topology.hosts.map((h) => h.name).sort());
      for (const host of topology.hosts) {
        const expected = new Map(build.hostFiles[host.name].map((f) => [f.path, [f.content, f.mode]]));
        assert.deepEqual(filesUnder(join(outDir, "hosts", host.name)), expected, host.name);
      }
      const zones = spec.dns === "zone" ? [...filesUnder(join(outDir, "zones"))].map(([path, [content]]) => [path, content]) : [];
      assert.deepEqual(new Map(zones as [string, string][]), new Map(build.zoneFiles.map((z) => [`/${z.origin}.zone`, z.content])));
      assert.ok(readFileSync(join(outDir, "plan.txt"), "utf8").length > 0);
    });
  });
}

describe("eachHostFiles", () => {
  it("yields every host once, in the topology's order, with the files its hostFiles entry has", () => {
    const { spec } = readStackSpec("lab", { allowRedacted: true });
    const topology = buildTopology(spec);
    const build = buildFleet(spec, givenAddresses(spec), loadOrCreateKeys(mkdtempSync(join(tmpdir(), "mailfleet-keys-")), topology));
    const yielded = [...build.eachHostFiles()];
    assert.deepEqual(yielded.map((h) => h.host), topology.hosts);
    for (const { host, files } of yielded) assert.deepEqual(files, build.hostFiles[host.name]);
  });
});
