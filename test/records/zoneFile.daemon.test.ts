/**
 * Knot's own zone checker (kzonecheck, the same semantic checks knotd runs at load) on every forward
 * and reverse zone the records write (their content: zoneFile.test.ts).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ZoneFile, zoneFiles } from "../../components/records";
import { file } from "../../components/render/file";
import { labZones } from "../../scripts/lab/peers";
import { withDebian13Host } from "../support/debian13";
import { lab } from "../support/labRecords";
import { delegatedZones } from "./zoneFile.fixtures";

/** Runs kzonecheck on each zone; returns "origin: exit code + output" per zone, "" output when clean. */
function kzonecheck(zones: ZoneFile[]): string[] {
  const files = zones.map((z) => file(`/zones/${z.origin}.zone`, z.content));
  return withDebian13Host(files, (host) =>
    zones.map((z) => {
      const r = host.run(["kzonecheck", "-o", z.origin, `/zones/${z.origin}.zone`]);
      return `${z.origin}: ${r.code} ${(r.stdout + r.stderr).trim()}`.trim();
    }),
  );
}

describe("zone files", () => {
  const LAB = lab();
  const zones = zoneFiles(LAB.set, LAB.spec);

  it("kzonecheck: every lab zone loads clean, no errors and no warnings", () => {
    assert.deepEqual(kzonecheck(zones), zones.map((z) => `${z.origin}: 0`));
  });

  it("kzonecheck: a zone below another is delegated, with glue for a nameserver inside it", () => {
    const zs = delegatedZones();
    assert.deepEqual(kzonecheck(zs), zs.map((z) => `${z.origin}: 0`));
  });
});

describe("the lab's peer zones (scripts/lab/peers.ts), through the same writer", () => {
  const ns = { name: "ns1.example.com", ipv4: "192.0.2.53", ipv6: "2001:db8:0:1::53" };
  const zones = labZones(ns);

  it("kzonecheck: every peer zone loads clean", () => {
    assert.deepEqual(kzonecheck(zones), zones.map((z) => `${z.origin}: 0`));
  });
});
