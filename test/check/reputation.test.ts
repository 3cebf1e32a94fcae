/**
 * Reputation: DNSBL query names and answers (RFC 5782), and a run over the lab's fleet with a listed
 * sending address and a refused query.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dnsblQuery } from "../../components/records";
import { siteZone } from "../../components/config/dnsList";
import { dnsblVerdict } from "../../scripts/check/parse";
import { check, onlyFailure } from "./fixtures";

describe("record readers", () => {
  it("DNSBL query names (RFC 5782 §2.1, §2.4) and answers", () => {
    assert.equal(dnsblQuery("192.0.2.99", "zen.spamhaus.org"), "99.2.0.192.zen.spamhaus.org");
    assert.equal(dnsblQuery("2001:db8:1:2:3:4:567:89ab", "bl.example"), "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example");
    assert.equal(dnsblQuery("2001:db8::21", "bl.example"), `1.2.0.0.${"0.".repeat(20)}8.b.d.0.1.0.0.2.bl.example`);
    assert.equal(siteZone("zen.spamhaus.org=127.0.0.[2..11]*3"), "zen.spamhaus.org");
    assert.equal(siteZone("bl.spamcop.net"), "bl.spamcop.net");
    assert.deepEqual(dnsblVerdict([]), { listed: false });
    assert.deepEqual(dnsblVerdict(["127.0.0.2", "127.0.0.4"]), { listed: true, codes: ["127.0.0.2", "127.0.0.4"] });
    assert.match((dnsblVerdict(["127.255.255.254"]) as { unknown: string }).unknown, /refused the query/);
    assert.match((dnsblVerdict(["198.51.100.1"]) as { unknown: string }).unknown, /rewrites NXDOMAIN/);
  });
});

describe("reputation over the lab fleet", () => {
  it("names a listed sending address and warns about a refused DNSBL query", async () => {
    const results = await check((z) => {
      z["21.2.0.192.bl.example.net"] = { A: ["127.0.0.2"], TXT: ["listed for spam, see https://bl.example.net/192.0.2.21"] };
      z["11.2.0.192.bl.example.net"] = { A: ["127.255.255.254"] };
    });
    const r = onlyFailure(results, "dnsbl", "192.0.2.21");
    assert.match(r.detail, /listed in bl\.example\.net \(127\.0\.0\.2: listed for spam, see https:\/\/bl\.example\.net\/192\.0\.2\.21\): receivers using it reject mail from out1\.mail\.example\.com/);
    assert.match(results.find((x) => x.subject === "192.0.2.11" && x.check === "dnsbl")!.detail, /refused the query/);
  });
});
