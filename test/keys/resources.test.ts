/**
 * The key resources' providers: when a stored key is kept and when it is made anew. The diff is
 * what keeps keys stable across `up`, so it is tested on the outputs the engine stores.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { describe, it } from "node:test";
import { createFleetCa } from "../../components/keys/generate";
import { dkimKeyProvider, hostCertificateProvider, RENEW_BEFORE_DAYS } from "../../components/keys/resources";

const DAY = 24 * 60 * 60 * 1000;

describe("DKIM key provider", () => {
  it("keeps a key whatever happens to the provider's code, and replaces it only for another domain or selector", async () => {
    const made = await dkimKeyProvider.create({ domain: "example.com", selector: "s1" });
    const stored = { ...made.outs!, __provider: "code of an older version" };
    assert.deepEqual(await dkimKeyProvider.diff!(made.id, stored, { domain: "example.com", selector: "s1" }), { changes: false, replaces: [] });
    assert.deepEqual((await dkimKeyProvider.diff!(made.id, stored, { domain: "example.com", selector: "s2" })).replaces, ["selector"]);
    assert.deepEqual((await dkimKeyProvider.diff!(made.id, stored, { domain: "example.org", selector: "s1" })).replaces, ["domain"]);
  });
});

describe("host certificate provider", () => {
  const ca = createFleetCa("mail.example.com");
  const inputs = { fqdn: "mx1.mail.example.com", altNames: ["mx1.mail.example.com", "mail.mail.example.com"], caCertPem: ca.certPem, caKeyPem: ca.keyPem };

  it("issues from the fleet CA for the names asked, and keeps the CA key out of its outputs", async () => {
    const made = await hostCertificateProvider.create(inputs);
    const cert = new X509Certificate(made.outs!.certPem);
    assert.ok(cert.verify(new X509Certificate(ca.certPem).publicKey));
    assert.equal(cert.subjectAltName, "DNS:mx1.mail.example.com, DNS:mail.mail.example.com");
    assert.equal(made.outs!.notAfter, new Date(cert.validTo).toISOString());
    assert.ok(!JSON.stringify(made.outs).includes(ca.keyPem.split("\n")[1]), "no CA key in the outputs");
  });

  it("is kept while names and CA stay, re-issued for new names, a new CA, or when it nears its end", async () => {
    const made = await hostCertificateProvider.create(inputs);
    const stored = made.outs!;
    assert.equal((await hostCertificateProvider.diff!(made.id, stored, inputs)).changes, false);
    assert.deepEqual((await hostCertificateProvider.diff!(made.id, stored, { ...inputs, altNames: [...inputs.altNames, "mta-sts.example.com"] })).replaces, ["altNames"]);
    assert.deepEqual((await hostCertificateProvider.diff!(made.id, stored, { ...inputs, caCertPem: createFleetCa("mail.example.com").certPem })).replaces, ["caCertPem"]);
    const nearEnd = { ...stored, notAfter: new Date(Date.now() + (RENEW_BEFORE_DAYS - 1) * DAY).toISOString() };
    assert.equal((await hostCertificateProvider.diff!(made.id, nearEnd, inputs)).changes, true);
    const wellInside = { ...stored, notAfter: new Date(Date.now() + (RENEW_BEFORE_DAYS + 1) * DAY).toISOString() };
    assert.equal((await hostCertificateProvider.diff!(made.id, wellInside, inputs)).changes, false);
  });
});
