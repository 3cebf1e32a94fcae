/**
 * Knot's automatic signing in a Debian 13 host: knotd signs every rendered zone with ECDSA P-256,
 * publishes CDS/CDNSKEY, keymgr prints the DS for the parent, kzonecheck's DNSSEC checks accept
 * the signed zone, and the keys survive a restart and a pushed zone file (no re-signing from scratch).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KNOT_CONF, KNOT_KEY_DIR, knotZonePath } from "../../components/render/knot";
import { withDebian13Host } from "../support/debian13";
import { awaitZones, files, grownZone, KNOTD_ON_LOOPBACK, sections, unsignedFiles } from "./knot.fixtures";

const START = `
start() {
  knotd -c ${KNOT_CONF} &
  pid=$!
  ${awaitZones("127.0.0.1", "DNSKEY")}
}
stop() { kill $pid; wait $pid || true; }
`;

const SIGN = `
set -e
sed -i 's/^    listen: .*/    listen: [ 127.0.0.1@53 ]/' ${KNOT_CONF}
mkdir -p /run/knot && chown knot:knot /run/knot /var/lib/knot
${START}
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT INT TERM
start
q() { echo "== $*"; kdig @127.0.0.1 "$@" +short; }
echo "== DNSKEY first"; kdig @127.0.0.1 DNSKEY example.com +short
q CDS example.com
q +dnssec MX example.com
q +dnssec -x 192.0.2.12
echo "== DS"; keymgr -c ${KNOT_CONF} example.com ds
echo "== kzonecheck"
knotc -c ${KNOT_CONF} zone-read example.com | sed 's/^\\[[^]]*\\] //' > /tmp/signed.zone
kzonecheck -v -d on -o example.com /tmp/signed.zone 2>&1 && echo VALID
echo "== keys"; ls -ld ${KNOT_KEY_DIR} | cut -d' ' -f1,3,4
# A restart, then a push of a changed zone file: the same keys sign the new records.
stop
start
echo "== DNSKEY restarted"; kdig @127.0.0.1 DNSKEY example.com +short
cat > ${knotZonePath("example.com")}
knotc -c ${KNOT_CONF} -b zone-reload example.com >/dev/null
q +dnssec A mx3.mail.example.com
echo "== DNSKEY pushed"; kdig @127.0.0.1 DNSKEY example.com +short
`;

const UNSIGNED = `
${KNOTD_ON_LOOPBACK}
echo "== DNSKEY first"; kdig @127.0.0.1 DNSKEY example.com +short
`;

describe("Knot DNSSEC signing", () => {
  it("signs every zone with ECDSA P-256, publishes CDS, prints the DS; kzonecheck's DNSSEC checks pass; keys survive a restart and a push", () => {
    const r = withDebian13Host(files, (host) => host.run(["sh", "-c", SIGN], grownZone.content));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const s = sections(r.stdout);
    // Two first-listed keys for one zone: the KSK (flags 257) and the ZSK (256), both algorithm 13.
    const dnskeys = s["DNSKEY first"].map((l) => l.split(" ").slice(0, 3).join(" ")).sort();
    assert.deepEqual(dnskeys, ["256 3 13", "257 3 13"], s["DNSKEY first"].join("\n"));
    assert.match(s["CDS example.com"].join("\n"), /^\d+ 13 2 [0-9A-F]{64}$/m);
    assert.ok(s["+dnssec MX example.com"].some((l) => l.startsWith("MX 13 ")), "the MX set is signed");
    assert.ok(s["+dnssec -x 192.0.2.12"].some((l) => l.startsWith("PTR 13 ")), "the reverse zone is signed");
    assert.match(s.DS.join("\n"), /^example\.com\. DS \d+ 13 2 [0-9a-f]{64}$/im);
    assert.ok(s.kzonecheck.includes("VALID"), s.kzonecheck.join("\n"));
    assert.match(s.keys.join(""), / knot knot$/, "Knot made its key store itself");
    // The same DNSKEYs after the restart and after the pushed zone file; the new record is signed.
    const keys = (k: string) => [...s[k]].sort();
    assert.deepEqual(keys("DNSKEY restarted"), keys("DNSKEY first"));
    assert.deepEqual(keys("DNSKEY pushed"), keys("DNSKEY first"));
    assert.ok(s["+dnssec A mx3.mail.example.com"].some((l) => l.startsWith("A 13 ")), s["+dnssec A mx3.mail.example.com"].join("\n"));
  });

  it("dnssec: false serves the zones unsigned", () => {
    const r = withDebian13Host(unsignedFiles, (host) => host.run(["sh", "-c", UNSIGNED]));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(sections(r.stdout)["DNSKEY first"], []);
  });
});
