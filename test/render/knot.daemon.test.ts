/**
 * The rendered Knot server in a Debian 13 host: `knotc conf-check`, then knotd itself serving the
 * lab zones on the nameserver's documentation addresses (inside the host's own network
 * namespace), queried with kdig.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { zoneFiles } from "../../components/records";
import { KNOT_CONF, knotZonePath } from "../../components/render/knot";
import { withDebian13Host } from "../support/debian13";
import { lab } from "../support/labRecords";
import { ACME, acmeFiles, awaitZones, files, grownZone, KNOTD_ON_LOOPBACK, QUOTED, sections, TSIG, unsignedFiles } from "./knot.fixtures";


/**
 * Starts knotd, waits until every zone answers, runs the queries, replaces example.com's zone file
 * with stdin and reloads it, queries again; always stops knotd.
 */
const SERVE = `
set -e
ip addr add 192.0.2.53/32 dev lo
ip addr add 2001:db8:0:1::53/128 dev lo
# The knot package owns its state directory; the host's overlay created it as root for the zone files.
mkdir -p /run/knot && chown knot:knot /run/knot /var/lib/knot
knotd -c ${KNOT_CONF} &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid' EXIT INT TERM
${awaitZones("192.0.2.53", "SOA")}
q() { echo "== $*"; kdig "$@" +short; }
q @192.0.2.53 MX example.com
q @2001:db8:0:1::53 MX example.org
q @192.0.2.53 TXT quoted.example.com
q @192.0.2.53 SOA example.com
q @192.0.2.53 -x 2001:db8:0:1::21
q @192.0.2.53 -x 192.0.2.12
echo "== AXFR"; kdig @192.0.2.53 AXFR example.com 2>&1 || true
cat > ${knotZonePath("example.com")}
knotc -c ${KNOT_CONF} -b zone-reload example.com >/dev/null
echo "== reloaded MX"; kdig @192.0.2.53 MX example.com +short
echo "== reloaded SOA"; kdig @192.0.2.53 SOA example.com +short
`;

describe("Knot server", () => {
  it("knotc conf-check accepts the rendered config", () => {
    const r = withDebian13Host(files, (host) => host.run(["knotc", "-c", KNOT_CONF, "conf-check"]));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Configuration is valid/);
  });

  it("knotd serves the zones: equal-priority MX, split TXT, PTRs, no transfers; a re-rendered zone gets Knot's serial", () => {
    // Unsigned, so the first load serves the file's own serial (signing gives the signed zone Knot's: knotDnssec.daemon.test.ts).
    const r = withDebian13Host(unsignedFiles, (host) => host.run(["sh", "-c", SERVE], grownZone.content));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const s = sections(r.stdout);
    const mx = (lines: string[]) => lines.map((l) => l.split(" ")).sort((a, b) => a[1].localeCompare(b[1]));
    assert.deepEqual(mx(s["@192.0.2.53 MX example.com"]), [["10", "mx1.mail.example.com."], ["10", "mx2.mail.example.com."]]);
    assert.deepEqual(mx(s["@2001:db8:0:1::53 MX example.org"]), [["10", "mx1.mail.example.com."], ["10", "mx2.mail.example.com."]]);
    // Two character-strings (the second is the tail past 255 bytes) that rejoin to the logical value.
    const [txt] = s["@192.0.2.53 TXT quoted.example.com"];
    const strings = [...txt.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\(.)/g, "$1"));
    assert.equal(strings.length, 2, txt);
    assert.equal(strings.join(""), QUOTED);
    assert.deepEqual(s["@192.0.2.53 -x 2001:db8:0:1::21"], ["out1.mail.example.com."]);
    assert.deepEqual(s["@192.0.2.53 -x 192.0.2.12"], ["mx2.mail.example.com."]);
    // No ACL allows a transfer: Knot denies it as not authorized.
    assert.match(s["AXFR"].join("\n"), /error 'NOTAUTH'/);
    assert.doesNotMatch(s["AXFR"].join("\n"), /IN\s+MX/);
    // The first load serves the file's serial; the re-rendered file carries the same serial 1,
    // yet Knot applies it (difference-no-serial) and numbers the new version (serial-policy unixtime).
    assert.equal(s["@192.0.2.53 SOA example.com"][0].split(" ")[2], "1");
    assert.deepEqual(mx(s["reloaded MX"]), [["10", "mx1.mail.example.com."], ["10", "mx2.mail.example.com."], ["10", "mx3.mail.example.com."]]);
    const serial = Number(s["reloaded SOA"][0].split(" ")[2]);
    assert.ok(serial > 1_700_000_000, `serial ${serial}`);
  });
});

const grownAcme = zoneFiles(lab((raw) => {
  raw.tls = { mode: "acme" };
  raw.hosts.edge.push({ name: "mx3", ipv4: "192.0.2.13", ipv6: "2001:db8:0:1::13" });
}).set, ACME.spec).find((z) => z.origin === "example.com")!;

/**
 * knotd on 127.0.0.1 only (the rendered listen line adapted to loopback) in the host's own network
 * namespace; `update HOST TYPE NAME` sends one signed RFC 2136 update with knsupdate and prints
 * what Knot answered. Then the zone file is replaced from stdin and `knotc reload` applied.
 */
const UPDATES = `
${KNOTD_ON_LOOPBACK}
update() {
  key=$1 type=$2 name=$3 data=$4
  echo "== $key $type $name"
  {
    echo "server 127.0.0.1 53"
    echo "zone $(echo "$name" | grep -o 'example\\.[a-z]*\\.$')"
    [ "$key" = none ] || echo "key hmac-sha256:$key $(cat /root/$key)"
    echo "update add $name 60 $type $data"
    echo "send"
  } | knsupdate 2>&1 && echo OK || echo FAILED
}
${ACME.topology.hosts.map((h) => `printf %s '${TSIG[h.name]}' > /root/acme-${h.name}`).join("\n")}
update acme-mx1 TXT _acme-challenge.mx1.mail.example.com. '"own-name"'
update acme-mx1 TXT _acme-challenge.mta-sts.example.com. '"domain-web-name"'
update acme-mx1 TXT _acme-challenge.autoconfig.example.org. '"other-zone"'
update acme-out1 TXT _acme-challenge.smtp.mail.example.com. '"service-name"'
update acme-mx1 A _acme-challenge.mx1.mail.example.com. 192.0.2.99
update acme-mx1 TXT _acme-challenge.out1.mail.example.com. '"another-host"'
update acme-mx1 TXT mx1.mail.example.com. '"not-a-challenge"'
update acme-mx1 TXT x._acme-challenge.mx1.mail.example.com. '"below-its-name"'
update none TXT _acme-challenge.mx1.mail.example.com. '"unsigned"'
q() { echo "== $*"; kdig @127.0.0.1 "$@" +short; }
q TXT _acme-challenge.mx1.mail.example.com
q TXT _acme-challenge.mta-sts.example.com
q A _acme-challenge.mx1.mail.example.com
q TXT _acme-challenge.out1.mail.example.com
q TXT mx1.mail.example.com
# A push that changes no zone file (deploy.sh rewrites only changed files), then knotc reload.
knotc -c ${KNOT_CONF} -b reload >/dev/null
q TXT _acme-challenge.smtp.mail.example.com
# A push that changes example.com's file.
cat > ${knotZonePath("example.com")}
knotc -c ${KNOT_CONF} -b reload >/dev/null
knotc -c ${KNOT_CONF} -b zone-reload example.com >/dev/null
pushed() { echo "== pushed $*"; kdig @127.0.0.1 "$@" +short; }
pushed MX example.com
pushed TXT _acme-challenge.mx1.mail.example.com
pushed TXT _acme-challenge.smtp.mail.example.com
pushed TXT _acme-challenge.autoconfig.example.org
`;

describe("Knot server with ACME updates", () => {
  it("knotc conf-check accepts it", () => {
    const r = withDebian13Host(acmeFiles, (host) => host.run(["knotc", "-c", KNOT_CONF, "conf-check"]));
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it("a host's key adds TXT at its own challenge names only; the TXT survives knotc reload and pushes of other zones", () => {
    const r = withDebian13Host(acmeFiles, (host) => host.run(["sh", "-c", UPDATES], grownAcme.content));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const s = sections(r.stdout);
    const verdict = (key: string) => s[key].join("\n");
    assert.match(verdict("acme-mx1 TXT _acme-challenge.mx1.mail.example.com."), /^OK$/m);
    assert.match(verdict("acme-mx1 TXT _acme-challenge.mta-sts.example.com."), /^OK$/m);
    assert.match(verdict("acme-mx1 TXT _acme-challenge.autoconfig.example.org."), /^OK$/m);
    assert.match(verdict("acme-out1 TXT _acme-challenge.smtp.mail.example.com."), /^OK$/m);
    for (const refused of [
      "acme-mx1 A _acme-challenge.mx1.mail.example.com.",
      "acme-mx1 TXT _acme-challenge.out1.mail.example.com.",
      "acme-mx1 TXT mx1.mail.example.com.",
      "acme-mx1 TXT x._acme-challenge.mx1.mail.example.com.",
    ]) {
      // Knot answers an update its ACLs deny with NOTAUTH (unsigned, so knsupdate also says it cannot verify the reply).
      assert.match(verdict(refused), /status: NOTAUTH/, refused);
      assert.match(verdict(refused), /^FAILED$/m, refused);
    }
    assert.match(verdict("none TXT _acme-challenge.mx1.mail.example.com."), /status: NOTAUTH/);
    assert.deepEqual(s["TXT _acme-challenge.mx1.mail.example.com"], ['"own-name"']);
    assert.deepEqual(s["TXT _acme-challenge.mta-sts.example.com"], ['"domain-web-name"']);
    assert.deepEqual(s["A _acme-challenge.mx1.mail.example.com"], []);
    assert.deepEqual(s["TXT _acme-challenge.out1.mail.example.com"], []);
    assert.deepEqual(s["TXT mx1.mail.example.com"], ['"v=spf1 a -all"'], "only the rendered HELO SPF record");
    // knotc reload with the zone files unchanged keeps every update.
    assert.deepEqual(s["TXT _acme-challenge.smtp.mail.example.com"], ['"service-name"']);
    // A changed zone file is served; the updates in the other zones stay. Knot 3.4's
    // difference-no-serial diffs the new file against the served zone, so the challenges pending
    // in the changed zone are dropped: deploy.sh puts them back (test/push/deployCerts.daemon.test.ts).
    assert.equal(s["pushed MX example.com"].length, 3);
    assert.deepEqual(s["pushed TXT _acme-challenge.autoconfig.example.org"], ['"other-zone"']);
    assert.deepEqual(s["pushed TXT _acme-challenge.mx1.mail.example.com"], []);
    assert.deepEqual(s["pushed TXT _acme-challenge.smtp.mail.example.com"], []);
  });
});
