/**
 * The whole check over the lab's fleet: every check present and passing on a correct fleet, a
 * nameserver that does not answer, and the table an operator reads; how a check makes its lines.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runChecks } from "../../scripts/check/checks";
import { each, fail, formatTable, merge, pass, perDomain, warn } from "../../scripts/check/result";
import { check, EXPECTED, failures, fakeDns, goodPolicy, goodTls, NOW, onlyFailure, publishedZone } from "./fixtures";

describe("check runs over the lab fleet", () => {
  it("passes a correctly published fleet, every check present", async () => {
    const results = await check();
    assert.deepEqual(failures(results), [], formatTable(results));
    assert.deepEqual(results.filter((r) => r.status === "warn"), []);
    const checks = new Set(results.map((r) => r.check));
    assert.deepEqual([...checks].sort(), ["address", "cname", "dkim", "dmarc", "dnsbl", "mta-sts", "mx", "ptr", "spf", "srv", "starttls", "tls", "tls-rpt"]);
    // 2 domains x (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT); 6 hosts (mx1, mx2, out1, store1, store2, mon) x 2 addresses of PTR; 4 MX addresses.
    assert.equal(results.filter((r) => r.check === "ptr").length, 12);
    assert.equal(results.filter((r) => r.check === "starttls").length, 4);
    assert.equal(results.filter((r) => r.check === "dnsbl").length, 6);
    const spf = results.find((r) => r.check === "spf" && r.subject === "example.com")!;
    assert.match(spf.detail, /1 lookups, authorises 192\.0\.2\.11, 2001:db8:0:1::11, 192\.0\.2\.12, 2001:db8:0:1::12, 192\.0\.2\.21, 2001:db8:0:1::21/);
  });

  it("reports a nameserver that does not answer as a failed query, not as a missing record", async () => {
    const zone = publishedZone();
    const results = await runChecks(EXPECTED, { dns: fakeDns(zone, new Set(["_dmarc.example.com"])), starttls: async (h) => goodTls(h), tls: async (ep) => goodTls(ep.name), policy: async () => goodPolicy, now: NOW });
    const r = onlyFailure(results, "dmarc", "example.com");
    assert.equal(r.detail, "query failed: TXT _dmarc.example.com: ETIMEOUT");
  });

  it("prints a table with each fix under its failure", async () => {
    const table = formatTable(await check((z) => delete z["_smtp._tls.example.com"]));
    const lines = table.split("\n");
    const at = lines.findIndex((l) => l.startsWith("FAIL") && l.includes("tls-rpt"));
    assert.ok(at > 0, table);
    assert.match(lines[at + 1], /^\s+fix: publish _smtp\._tls\.example\.com TXT/);
    assert.match(lines[lines.length - 1], /^checks: \d+ pass, 0 warn, 1 fail$/);
  });
});

describe("result lines", () => {
  it("judges each item on its own, in order: a query that fails fails that item's line only", async () => {
    const judged: string[] = [];
    const lines = await each("dkim", ["a", "b", "c"], (x) => `${x}._domainkey`, async (x) => {
      judged.push(x);
      if (x === "b") throw new Error("TXT b._domainkey: ETIMEOUT");
      return x === "a" ? pass("fine") : warn("weak", "rotate");
    });
    assert.deepEqual(judged, ["a", "b", "c"]);
    assert.deepEqual(lines, [
      { check: "dkim", subject: "a._domainkey", status: "pass", detail: "fine" },
      { check: "dkim", subject: "b._domainkey", status: "fail", detail: "query failed: TXT b._domainkey: ETIMEOUT", fix: "make the zone's nameservers answer (and --dns point at one of them)" },
      { check: "dkim", subject: "c._domainkey", status: "warn", detail: "weak", fix: "rotate" },
    ]);
    // --json prints the lines as they are: the keys in this order, no fix key without a fix.
    assert.deepEqual(lines.map((l) => Object.keys(l).join(",")), ["check,subject,status,detail", "check,subject,status,detail,fix", "check,subject,status,detail,fix"]);
    assert.deepEqual((await perDomain("mx", EXPECTED, async (d) => pass(d))).map((l) => [l.subject, l.detail]), [["example.com", "example.com"], ["example.org", "example.org"]]);
  });

  it("merges findings into one verdict: the worst status, the texts and fixes of the bad ones, or the pass text", () => {
    assert.deepEqual(merge([warn("w", "fix 1"), fail("f", "fix 1"), fail("g", "fix 2"), pass("fine")], "all good"), { status: "fail", text: "w; f; g", fix: "fix 1; fix 2" });
    assert.deepEqual(merge([warn("unknown")], "x"), { status: "warn", text: "unknown" });
    assert.deepEqual(merge([pass("and this")], "all good"), { status: "pass", text: "all good; and this" });
    assert.deepEqual(merge([], ""), { status: "pass", text: "" });
  });
});
