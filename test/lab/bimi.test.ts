/**
 * BIMI in the lab (issue 25): example.com (DMARC p=reject) has a logo and a stand-in mark certificate
 * in the lab stack. From the client host, as a receiver would: mailauth's BIMI lookup finds the
 * record through the client's validating resolver (DMARC checked by mailauth too), curl fetches
 * the logo and the certificate from the URLs the record names over HTTPS trusting Pebble's root
 * alone, the bytes are the configured ones, and mailauth's logo validation accepts them. The
 * other ways in serve no logo.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bimi, validateVMC } from "mailauth/lib/bimi";
import { CA_FILE, CLIENT, exec, execOk, LabFleet, txtValue } from "../../scripts/lab";
import { useLab } from "../support/lab";

let fleet: LabFleet;
useLab((up) => (fleet = up));

/** A DNS resolver for mailauth that asks the client's own (validating) resolver with kdig. */
async function clientResolver(name: string, type: string): Promise<string[][] | string[]> {
  const answers = execOk(CLIENT.name, ["kdig", "+short", name, type]).split("\n").filter((l) => l.trim() !== "");
  if (answers.length === 0) throw Object.assign(new Error(`${name} ${type}: no answer`), { code: "ENOTFOUND" });
  return type === "TXT" ? answers.map((a) => [txtValue(a)]) : answers;
}

/** A URL fetched by curl on the client, trusting the lab's CA alone. */
function fetchOnClient(url: string): { status: string; body: string } {
  const r = exec(CLIENT.name, ["curl", "-sS", "--cacert", CA_FILE, "--max-time", "10", "-o", "-", "-w", "\n%{http_code}", url]);
  assert.equal(r.code, 0, `${url}: ${r.stderr}`);
  const cut = r.stdout.lastIndexOf("\n");
  return { body: r.stdout.slice(0, cut), status: r.stdout.slice(cut + 1) };
}

describe("BIMI from the client", { timeout: 120_000 }, () => {
  test("mailauth finds example.com's record under its p=reject DMARC; curl fetches the logo and certificate it names, byte for byte, and mailauth accepts the logo", async () => {
    const { logo, certificate } = fleet.spec.bimi["example.com"];
    // What a receiver has after DMARC passed for a message from alice@example.com; mailauth looks up the policy itself.
    const found = await bimi({ dmarc: { status: { result: "pass", header: { from: "example.com" } }, domain: "example.com", policy: "reject" } as never, resolver: clientResolver });
    assert.ok(found, "mailauth made no BIMI lookup");
    assert.equal(found.status.result, "pass", JSON.stringify(found.status));
    assert.equal(found.location, "https://mta-sts.example.com/bimi/logo.svg");
    assert.equal(found.authority, "https://mta-sts.example.com/bimi/certificate.pem");
    // The record is in the signed zone: the client's validating resolver vouches for it (AD).
    assert.match(execOk(CLIENT.name, ["kdig", "+dnssec", "default._bimi.example.com", "TXT"]), /;; Flags: [^;]*\bad\b/);

    const [svg, pem] = [found.location!, found.authority!].map(fetchOnClient);
    assert.deepEqual(svg, { status: "200", body: logo });
    assert.deepEqual(pem, { status: "200", body: certificate });

    // The bytes fetched over the lab's HTTPS go to mailauth's own checks: the logo passes the
    // profile; the stand-in certificate is no VMC (no CA in the lab issues marks), so it fails as such.
    const vmc = await validateVMC({ ...found, locationPath: Buffer.from(svg.body), authorityPath: Buffer.from(pem.body) });
    assert.ok(vmc, "mailauth validated nothing");
    assert.equal(vmc.location?.success, true, JSON.stringify(vmc.location));
    assert.equal(vmc.authority?.success, false, "a self-signed stand-in must not pass as a VMC");
  });

  test("no logo elsewhere: not for example.org (no record), not over plain HTTP, not on another web name", async () => {
    const none = await bimi({ dmarc: { status: { result: "pass", header: { from: "example.org" } }, domain: "example.org", policy: "reject" } as never, resolver: clientResolver });
    assert.ok(none);
    assert.equal(none.status.result, "none");
    for (const url of ["https://mta-sts.example.org/bimi/logo.svg", "https://autoconfig.example.com/bimi/logo.svg", "https://mail.mail.example.com/bimi/logo.svg"]) {
      assert.equal(fetchOnClient(url).status, "404", url);
    }
    const plain = exec(CLIENT.name, ["curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", "http://mta-sts.example.com/bimi/logo.svg"]);
    assert.equal(plain.stdout, "404", "the logo is served over HTTPS only");
  });
});
