/**
 * The whole check over the lab's fleet: every check present and passing on a correct fleet, a
 * nameserver that does not answer, and the table an operator reads.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runChecks } from "../../scripts/check/checks";
import { formatTable } from "../../scripts/check/result";
import { check, EXPECTED, failures, fakeDns, goodPolicy, goodTls, NOW, onlyFailure, publishedZone } from "./fixtures";

describe("check runs over the lab fleet", () => {
  it("passes a correctly published fleet, every check present", async () => {
    const results = await check();
    assert.deepEqual(failures(results), [], formatTable(results));
    assert.deepEqual(results.filter((r) => r.status === "warn"), []);
    const checks = new Set(results.map((r) => r.check));
    assert.deepEqual([...checks].sort(), ["address", "cname", "dkim", "dmarc", "dnsbl", "mta-sts", "mx", "ptr", "spf", "srv", "starttls", "tls", "tls-rpt"]);
    // 2 domains x (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT); 5 hosts x 2 addresses of PTR; 4 MX addresses.
    assert.equal(results.filter((r) => r.check === "ptr").length, 10);
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
