/**
 * Signed zones, validated as the Internet's resolvers validate them: the lab's root (its own host, a
 * signed root zone) delegates the fleet's zones to dns1 with the DS records dns1's Knot gives, and
 * client's unbound and delv (BIND's validating lookup tool) trust the root's DS alone. Every record the
 * fleet publishes validates; a tampered chain (a wrong DS at the parent) makes the answers bogus.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { DnsRecord } from "../../components/records";
import { SMTP_PORT } from "../../components/topology";
import { CLIENT, DELV_ANCHOR, exec, execOk, knotDs, labHost, labServedZones, presentedCertificate, waitUntil, writeRootZone } from "../../scripts/lab";
import { forgetDns, useLab } from "../support/lab";

/** delv's verdict per query, run in one shell on client: `<query>\t<first line of delv's answer>`. */
function delv(queries: string[][]): Map<string, string> {
  const script = 'for q in "$@"; do printf "%s\\t%s\\n" "$q" "$(delv -a $0 @127.0.0.1 $q 2>&1 | head -n 1)"; done';
  const out = execOk(CLIENT.name, ["sh", "-c", script, DELV_ANCHOR, ...queries.map((q) => q.join(" "))], { timeoutMs: 120_000 });
  return new Map(out.trim().split("\n").map((line) => line.split("\t") as [string, string]));
}

const query = (r: Pick<DnsRecord, "type" | "name">) => [r.type, r.name];

describe("DNSSEC in the lab", { timeout: 10 * 60_000 }, () => {
  const lab = useLab();
  let tampered = false;

  /** The root zone as the bring-up wrote it: every zone dns1 serves delegated with its DS. */
  function rootDelegations(change: (zone: string, ds: string[]) => string[] = (_, ds) => ds) {
    const dns = labHost(lab(), "dns1");
    const all = labServedZones(lab(), dns);
    const ds = knotDs(dns.name, all);
    return all.map((zone) => ({ zone, ds: change(zone, ds[zone] ?? []) }));
  }

  /** The root as the bring-up left it, and a resolver that forgets what it judged meanwhile. */
  function restoreRoot() {
    writeRootZone(labHost(lab(), "dns1"), rootDelegations());
    forgetDns();
    tampered = false;
  }

  after(() => {
    if (tampered) restoreRoot();
  });

  it("delv validates every record the fleet publishes, forward and reverse, from the root's DS alone", () => {
    const { records, ptr } = lab().build.recordSet;
    const queries = [...new Map([...records.map(query), ...ptr.map((p) => ["-x", p.address])].map((q) => [q.join(" "), q])).values()];
    const verdicts = delv(queries);
    const failed = [...verdicts].filter(([, verdict]) => verdict !== "; fully validated");
    assert.deepEqual(failed, [], failed.map(([q, v]) => `${q}: ${v}`).join("\n"));
    assert.equal(verdicts.size, queries.length);
    // The resolver says so too: the AD bit, on a signed zone's answer through client's unbound.
    assert.match(execOk(CLIENT.name, ["kdig", "@127.0.0.1", "+dnssec", "MX", "example.com"]), /;; Flags: qr rd ra ad;/);
  });

  it("a wrong DS at the parent makes the zone bogus: unbound answers SERVFAIL, delv refuses", () => {
    tampered = true;
    writeRootZone(
      labHost(lab(), "dns1"),
      rootDelegations((zone, ds) => (zone === "example.org" ? ds.map((line) => line.replace(/[0-9A-F]{8}$/, "00000000")) : ds)),
    );
    const verdicts = delv([["MX", "example.org"], ["MX", "example.com"]]);
    assert.match(verdicts.get("MX example.org")!, /resolution failed|no valid|broken trust chain|insecurity proof failed/, verdicts.get("MX example.org"));
    assert.equal(verdicts.get("MX example.com"), "; fully validated", "the other zones stay valid");
    assert.match(exec(CLIENT.name, ["kdig", "@127.0.0.1", "MX", "example.org"]).stdout, /status: SERVFAIL/);
    restoreRoot();
    assert.equal(delv([["MX", "example.org"]]).get("MX example.org"), "; fully validated");
  });

  it("a forced renewal against the ACME CA keeps the MX's key (certbot --reuse-key): a new certificate, the same TLSA 3 1 1 hash", async () => {
    const mx1 = labHost(lab(), "mx1");
    const probe = () => presentedCertificate({ address: mx1.ipv4, port: SMTP_PORT, name: mx1.fqdn, starttls: "smtp" });
    const before = probe();
    assert.equal(before.verified, true, before.verifyResult);
    assert.match(before.spki, /^[0-9a-f]{64}$/);
    const r = exec(mx1.name, ["mailfleet-certs", "--force-renewal"], { timeoutMs: 180_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const after = await waitUntil(probe, (c) => c.serial !== before.serial, 60_000, 500);
    assert.notEqual(after.serial, before.serial, "renewed");
    assert.equal(after.verified, true, after.verifyResult);
    assert.equal(after.spki, before.spki, "the renewed certificate carries the same key");
  });
});
