/** DS records for the parents: Knot's keymgr output and Cloudflare's fields in one form. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cloudflareDsLine } from "../../components/dns/cloudflare";
import { dsLine, keymgrDsScript, parseKeymgrDs } from "../../components/dns/ds";

/** What Knot 3.4's `keymgr example.com ds` printed for a key of the lab's example.com (test/render/knotDnssec.daemon.test.ts). */
const KEYMGR = [
  "example.com. DS 1261 13 2 9090e3b8344113f52c12a4ab140d472157a05abe1cbdd9e66880706adb678328",
  "example.com. DS 1261 13 4 2af49ffd7dbdb5dfb7d7aff4f889538abc6c38ff0a71b5acb51b7e29442ee9ab015be01f5cf7393bd888673e2892048f",
  "2.0.192.in-addr.arpa. DS 40000 13 2 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
].join("\n");

describe("DS records", () => {
  it("keeps keymgr's SHA-256 lines, by zone, in presentation form", () => {
    assert.deepEqual(parseKeymgrDs(`${KEYMGR}\nnoise\n`), {
      "example.com": ["example.com. IN DS 1261 13 2 9090E3B8344113F52C12A4AB140D472157A05ABE1CBDD9E66880706ADB678328"],
      "2.0.192.in-addr.arpa": ["2.0.192.in-addr.arpa. IN DS 40000 13 2 00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"],
    });
  });

  it("gives Cloudflare's DS fields for the same key the same line as Knot's", () => {
    const fromCloudflare = cloudflareDsLine("example.com", { keyTag: 1261, algorithm: "13", digestType: "2", digest: "9090e3b8344113f52c12a4ab140d472157a05abe1cbdd9e66880706adb678328" });
    assert.equal(fromCloudflare, parseKeymgrDs(KEYMGR)["example.com"][0]);
    assert.equal(dsLine({ zone: "example.com.", keyTag: 1, algorithm: 13, digestType: 2, digest: "ab" }), "example.com. IN DS 1 13 2 AB");
  });

  it("names only zones in the keymgr script", () => {
    assert.match(keymgrDsScript("/etc/knot/knot.conf", ["example.com", "2.0.192.in-addr.arpa"]), /^for z in example\.com 2\.0\.192\.in-addr\.arpa; do/);
    assert.throws(() => keymgrDsScript("/etc/knot/knot.conf", ["example.com; rm -rf /"]), /not a zone name/);
  });
});
