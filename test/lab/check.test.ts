/**
 * The deliverability check against the live lab: run as an operator would (`npm run check`) from
 * the lab's client namespace, against the lab's authoritative DNS server, every TLS endpoint (STARTTLS
 * on 25, submission, IMAPS, the edges' HTTPS names) and nginx (the MTA-STS policy), trusting
 * Pebble's root alone, as the lab's clients do (the hosts' certificates come from the lab's ACME CA). First
 * the lab as deployed: every check passes. Then a zone broken by hand in eight ways, pushed to the
 * DNS server the way the lab deploys it: each fault must be named, with its fix.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { givenAddresses } from "../../components/build";
import { CLIENT, clientTrustFile, debianToolDir, DELV_ANCHOR, deployFiles, hostRoot, LAB_PASSPHRASE, netnsName, push } from "../../scripts/lab";
import { publishWrongDs, restoreHosts, restoreRoot, useLab } from "../support/lab";
import { CheckName, CHECKS, CheckResult } from "../../scripts/check/result";
import { RenderedFile } from "../../components/render/file";

const REPO = resolve(__dirname, "../..");
const DNS_SERVER = "192.0.2.53";
const DNSBL = "bl.example.net";

describe("check against the live lab", { timeout: 20 * 60_000 }, () => {
  // The whole lab: the tls check reaches every endpoint, the outbound host and stores included.
  const lab = useLab();
  let dir: string;
  let outputs: string;
  let delvDir: string;
  let tampered = false;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "mailfleet-check-"));
    // The stack outputs the check compares with, as `pulumi stack output --json` gives them.
    const dkimTxt = Object.fromEntries(lab().build.recordSet.records.flatMap((r) => (r.type === "TXT" && r.name.includes("._domainkey.") ? [[r.name, r.text]] : [])));
    outputs = join(dir, "outputs.json");
    writeFileSync(outputs, JSON.stringify({ hostAddresses: givenAddresses(lab().spec), dkimTxt }));
    delvDir = debianToolDir(["delv"]);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (tampered) restoreRoot(lab());
  });

  /**
   * `npm run check` inside the client namespace; its exit status and its --json results. Its delv is
   * Debian 13's (this machine may have none), trusting the lab root's DS (--trust-anchor) and asking
   * client's resolver (--resolver).
   */
  function check(only?: CheckName): { status: number | null; results: CheckResult[]; stderr: string } {
    const skip = only ? ["--skip", CHECKS.filter((c) => c !== only).join(",")] : [];
    const run = spawnSync(
      "ip",
      [
        "netns", "exec", netnsName("client"),
        process.execPath, join(REPO, "node_modules/tsx/dist/cli.mjs"), join(REPO, "scripts/check.ts"),
        "--stack", "lab", "--dns", DNS_SERVER, "--ca", clientTrustFile(), "--outputs", outputs, "--dnsbl", DNSBL, "--json",
        "--trust-anchor", join(hostRoot(CLIENT.name), DELV_ANCHOR), "--resolver", "127.0.0.1", ...skip,
      ],
      { cwd: REPO, encoding: "utf8", env: { ...process.env, PULUMI_CONFIG_PASSPHRASE: LAB_PASSPHRASE, PATH: `${delvDir}:${process.env.PATH}` }, timeout: 5 * 60_000 },
    );
    assert.ok(run.stdout.trim().startsWith("["), `the check printed no results:\n${run.stdout}\n${run.stderr}`);
    return { status: run.status, results: JSON.parse(run.stdout), stderr: run.stderr };
  }

  const show = (results: CheckResult[]) => results.filter((r) => r.status !== "pass").map((r) => `${r.status} ${r.check} ${r.subject}: ${r.detail}\n  fix: ${r.fix}`).join("\n");

  it("passes every check against the lab as deployed", () => {
    const { status, results, stderr } = check();
    // Not even a warning: the lab can do everything the check asks. Its DNSBL zone bl.example.net
    // lives in the lab's own example.net zone (an answer, NXDOMAIN, not an unreachable list), the
    // certificates chain to Pebble's root given with --ca, and each STARTTLS probe sits out
    // postscreen's greet wait (a "220-" line, ~6 s, then smtpd's "220 ") within its 15 s.
    assert.deepEqual(results.filter((r) => r.status !== "pass"), [], show(results) + stderr);
    assert.equal(status, 0);
    const count = (c: string) => results.filter((r) => r.check === c).length;
    // 2 domains; each fleet host (the nameserver aside) x 2 addresses; 2 MX x 2 addresses; 3 sending hosts x 2 addresses; TLS at
    // 2 addresses each: out1 on 587 and 465, 2 stores on 993, 2 edges on 443 for mta-sts. and autoconfig. of 2 domains.
    assert.deepEqual(
      {
        mx: count("mx"),
        ptr: count("ptr"),
        spf: count("spf"),
        dkim: count("dkim"),
        dmarc: count("dmarc"),
        mtaSts: count("mta-sts"),
        tlsRpt: count("tls-rpt"),
        starttls: count("starttls"),
        tls: count("tls"),
        dnsbl: count("dnsbl"),
      },
      { mx: 2, ptr: 2 * lab().hosts.filter((h) => h.role !== undefined && h.role !== "dns").length, spf: 5, dkim: 2, dmarc: 2, mtaSts: 2, tlsRpt: 2, starttls: 4, tls: 2 * (2 + 2 + 2 * 4), dnsbl: 6 },
    );
    assert.match(results.find((r) => r.check === "tls" && r.subject.startsWith("imap."))!.detail, /^TLSv1\.3, certificate for .*imap\.mail\.example\.com/);
    assert.match(results.find((r) => r.check === "starttls")!.detail, /^TLSv1\.3, certificate for mx1\.mail\.example\.com/);
    assert.match(results.find((r) => r.check === "mta-sts")!.detail, /served by 192\.0\.2\.11, 192\.0\.2\.12, 2001:db8:0:1::11, 2001:db8:0:1::12/);
  });

  it("names each fault of a deliberately broken zone, with its fix", async () => {
    const fleet = lab();
    const dns = fleet.hosts.find((h) => h.role === "dns")!;
    const ttl = fleet.spec.dnsTtl;
    const edits: Record<string, [string | RegExp, string][]> = {
      "example.com.zone": [
        // Anchored: the forwarding domain's MX (fwd.mail.example.com., in this zone too) ends the same way.
        [new RegExp(`^example\\.com\\. ${ttl} IN MX 10 mx2\\.mail\\.example\\.com\\.$`, "m"), `example.com. ${ttl} IN MX 20 mx2.mail.example.com.`],
        [/id=[0-9a-f]+"/, 'id=stale1"'],
        [" ip4:192.0.2.21 ip6:2001:db8:0:1::21 -all", " ip6:2001:db8:0:1::21 -all"],
      ],
      "example.org.zone": [
        [/^lab1\._domainkey\.example\.org\. .*\n/m, ""],
        [/^_smtp\._tls\.example\.org\. .*\n/m, ""],
        [`_dmarc.example.org. ${ttl} IN TXT "v=DMARC1; p=reject;`, `_dmarc.example.org. ${ttl} IN TXT "v=DMARC1; p=none;`],
      ],
      "2.0.192.in-addr.arpa.zone": [["IN PTR out1.mail.example.com.", "IN PTR host-21.provider.example."]],
    };
    const broken: RenderedFile[] = deployFiles(fleet, dns).map((f) => {
      const name = f.path.slice(f.path.lastIndexOf("/") + 1);
      let content = f.content;
      for (const [from, to] of edits[name] ?? []) {
        const next = content.replace(from, to);
        assert.notEqual(next, content, `${name}: ${from} not found`);
        content = next;
      }
      // A DNSBL that lists the outbound host's address, in the lab's foreign zone.
      if (name === "example.net.zone") content += `21.2.0.192.${DNSBL}. A 127.0.0.2\n21.2.0.192.${DNSBL}. TXT "listed in the lab"\n`;
      return { ...f, content };
    });
    const pushed = await push(dns, broken);
    try {
      assert.equal(pushed.code, 0, pushed.stderr);

      const { status, results } = check();
      assert.equal(status, 1);
      const failed = results.filter((r) => r.status === "fail");
      const find = (check: string, subject: string) => {
        const r = failed.find((x) => x.check === check && x.subject === subject);
        assert.ok(r, `no failure of ${check} ${subject} in:\n${show(results)}`);
        assert.ok(r.fix, `${check} ${subject} has no fix`);
        return r;
      };
      assert.match(find("mx", "example.com").detail, /priorities differ \(10 mx1\.mail\.example\.com, 20 mx2\.mail\.example\.com\)/);
      assert.match(find("mx", "example.com").fix!, /publish exactly: example\.com MX 10 mx1\.mail\.example\.com, example\.com MX 10 mx2\.mail\.example\.com/);
      assert.match(find("mta-sts", "example.com").detail, /TXT id=stale1 is not the policy's id/);
      assert.match(find("mta-sts", "example.com").fix!, /publish _mta-sts\.example\.com TXT "v=STSv1; id=[0-9a-f]+"/);
      assert.match(find("spf", "example.com").detail, /does not authorise 192\.0\.2\.21 \(fail: example\.com: -all\)/);
      assert.equal(find("spf", "example.com").fix, 'publish example.com TXT "v=spf1 mx ip4:192.0.2.21 ip6:2001:db8:0:1::21 -all"');
      assert.equal(find("dkim", "lab1._domainkey.example.org").detail, "no TXT record: every signature with this selector fails");
      assert.match(find("dkim", "lab1._domainkey.example.org").fix!, /^publish lab1\._domainkey\.example\.org TXT "v=DKIM1; k=rsa; p=MII/);
      assert.match(find("tls-rpt", "example.org").detail, /no TLS-RPT record at _smtp\._tls\.example\.org/);
      assert.match(find("dmarc", "example.org").detail, /p=none, the stack says p=reject/);
      assert.match(find("ptr", "192.0.2.21").detail, /PTR is host-21\.provider\.example, not the HELO name out1\.mail\.example\.com/);
      assert.match(find("ptr", "192.0.2.21").fix!, /publish the PTR 192\.0\.2\.21 → out1\.mail\.example\.com in the reverse zone/);
      assert.match(find("dnsbl", "192.0.2.21").detail, /listed in bl\.example\.net \(127\.0\.0\.2: listed in the lab\)/);
      // Nothing else broke: exactly these eight lines fail.
      assert.deepEqual(
        failed.map((r) => `${r.check} ${r.subject}`).sort(),
        ["dkim lab1._domainkey.example.org", "dmarc example.org", "dnsbl 192.0.2.21", "mta-sts example.com", "mx example.com", "ptr 192.0.2.21", "spf example.com", "tls-rpt example.org"],
      );
    } finally {
      await restoreHosts(fleet, [dns]);
    }
  });
  it("validates every zone's chain of trust from the root's DS; a wrong DS at the root fails that zone, naming the fix", () => {
    const zones = ["example.com", "example.org", "2.0.192.in-addr.arpa", "1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"];
    const valid = check("dnssec");
    assert.deepEqual(valid.results.map((r) => [r.subject, r.status, r.detail]), zones.map((z) => [z, "pass", "signed, chain of trust valid from the trust anchor"]), show(valid.results) + valid.stderr);
    assert.equal(valid.status, 0);

    tampered = true;
    publishWrongDs(lab(), "example.org");
    try {
      const broken = check("dnssec");
      assert.equal(broken.status, 1);
      assert.deepEqual(broken.results.filter((r) => r.status !== "pass").map((r) => r.subject), ["example.org"], show(broken.results));
      const line = broken.results.find((r) => r.subject === "example.org")!;
      assert.match(line.detail, /^bogus: validating example\.org\/DNSKEY: no valid signature found \(DS\); resolution failed: broken trust chain/);
      assert.match(line.fix!, /the parent's DS does not match example\.org's key: replace the DS at example\.org's registrar with the DS from the stack output `dnssecDs`/);
    } finally {
      restoreRoot(lab());
      tampered = false;
    }
    assert.equal(check("dnssec").status, 0, "the root's right DS back, the chain is valid again");
  });
});
