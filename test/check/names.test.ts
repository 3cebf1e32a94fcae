/**
 * Names and addresses over the lab's fleet: MX at one priority, A/AAAA, PTR with the fix of each
 * backend, FCrDNS; each fault named with its fix.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runChecks } from "../../scripts/check/checks";
import { formatTable } from "../../scripts/check/result";
import { check, EXPECTED, failures, fakeDns, goodPolicy, goodTls, NOW, onlyFailure, publishedZone, recordSet, spec, topology } from "./fixtures";

describe("names and addresses over the lab fleet", () => {
  it("names an MX at a different priority", async () => {
    const r = onlyFailure(await check((z) => (z["example.com"].MX = ["10 mx1.mail.example.com", "20 mx2.mail.example.com"])), "mx", "example.com");
    assert.match(r.detail, /priorities differ \(10 mx1\.mail\.example\.com, 20 mx2\.mail\.example\.com\)/);
    assert.equal(r.fix, "publish exactly: example.com MX 10 mx1.mail.example.com, example.com MX 10 mx2.mail.example.com");
  });

  it("names a missing and a foreign MX, and the SPF `mx` term that no longer covers the dropped edge host", async () => {
    const bad = failures(await check((z) => (z["example.org"].MX = ["10 mx1.mail.example.com", "10 mx.other.example"])));
    assert.deepEqual(bad.map((r) => [r.check, r.subject]), [["mx", "example.org"], ["spf", "example.org"]]);
    assert.match(bad[0].detail, /missing mx2\.mail\.example\.com; unexpected 10 mx\.other\.example/);
    assert.match(bad[1].detail, /does not authorise 192\.0\.2\.12 \(fail: example\.org: -all\)/);
  });

  it("names a wrong PTR of a sending host with the fix of its backend", async () => {
    const r = onlyFailure(await check((z) => (z["192.0.2.21"].PTR = ["host-21.provider.example"])), "ptr", "192.0.2.21");
    assert.match(r.detail, /PTR is host-21\.provider\.example, not the HELO name out1\.mail\.example\.com/);
    assert.match(r.fix!, /publish the PTR 192\.0\.2\.21 → out1\.mail\.example\.com in the reverse zone/);
    const aws = await runChecks({ ...EXPECTED, topology: { ...topology, spec: { ...spec, compute: "aws" } } }, {
      dns: fakeDns({ ...publishedZone(), "192.0.2.21": {} }),
      starttls: async (h) => goodTls(h), tls: async (ep) => goodTls(ep.name),
      policy: async () => goodPolicy,
      now: NOW,
    });
    const awsPtr = failures(aws).find((f) => f.check === "ptr")!;
    assert.match(awsPtr.detail, /no PTR \(should be out1\.mail\.example\.com\)/);
    assert.match(awsPtr.fix!, /reverse DNS of Elastic IP 192\.0\.2\.21 to out1\.mail\.example\.com/);
  });

  it("on AWS, expects no PTR for IPv6 addresses, which EC2 cannot set and the hosts do not send from", async () => {
    const zone = publishedZone();
    for (const p of recordSet.ptr.filter((w) => w.address.includes(":"))) delete zone[p.address];
    const aws = await runChecks({ ...EXPECTED, topology: { ...topology, spec: { ...spec, compute: "aws" } } }, {
      dns: fakeDns(zone),
      starttls: async (h) => goodTls(h), tls: async (ep) => goodTls(ep.name),
      policy: async () => goodPolicy,
      now: NOW,
    });
    assert.deepEqual(failures(aws), [], formatTable(aws));
    const ptr = aws.find((r) => r.check === "ptr" && r.subject === "2001:db8:0:1::21")!;
    assert.equal(ptr.status, "pass");
    assert.match(ptr.detail, /no PTR expected: EC2 offers no custom PTR for IPv6 addresses/);
    // The same zone on byo (the lab) fails: there the address owner can set them.
    assert.ok(failures(await check((z) => delete z["2001:db8:0:1::21"])).some((r) => r.check === "ptr" && r.subject === "2001:db8:0:1::21"));
  });

  it("warns only about a wrong PTR of a store, which never sends", async () => {
    const results = await check((z) => (z["192.0.2.31"].PTR = ["elsewhere.example"]));
    assert.deepEqual(failures(results), []);
    assert.deepEqual(results.filter((r) => r.status === "warn").map((r) => r.subject), ["192.0.2.31"]);
  });

  it("names a broken FCrDNS: the PTR is right but the name does not resolve back", async () => {
    const results = await check((z) => (z["out1.mail.example.com"].AAAA = ["2001:db8:0:1::99"]));
    const ptr = failures(results).find((r) => r.check === "ptr")!;
    assert.equal(ptr.subject, "2001:db8:0:1::21");
    assert.match(ptr.detail, /out1\.mail\.example\.com does not resolve back to 2001:db8:0:1::21 \(FCrDNS fails\)/);
    assert.equal(ptr.fix, "publish out1.mail.example.com AAAA 2001:db8:0:1::21");
    const address = failures(results).find((r) => r.check === "address")!;
    assert.equal(address.fix, "publish out1.mail.example.com AAAA 2001:db8:0:1::21; remove out1.mail.example.com AAAA 2001:db8:0:1::99");
  });
});
