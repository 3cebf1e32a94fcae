/** The node-forge certificates checked by OpenSSL in the Debian 13 root (`openssl verify`, `openssl x509`). */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as forge from "node-forge";
import { createFleetCa, issueHostCertificate } from "../../components/keys/generate";
import { file } from "../../components/render/file";
import { withDebian13Host } from "../support/debian13";

test("a host certificate verifies against the fleet CA with OpenSSL and carries its names", () => {
  const ca = createFleetCa("mail.example.com");
  const host = issueHostCertificate(ca, "mx1.mail.example.com", ["mail.mail.example.com", "mta-sts.example.com", "mx1.mail.example.com"]);
  const other = createFleetCa("mail.example.com");
  // Signed by Node's RSA, checked by forge's as well as OpenSSL's.
  assert.ok(forge.pki.certificateFromPem(ca.certPem).verify(forge.pki.certificateFromPem(host.certPem)));
  assert.ok(forge.pki.certificateFromPem(ca.certPem).verify(forge.pki.certificateFromPem(ca.certPem)), "the CA is self-signed");
  const files = [file("/tmp/ca.crt", ca.certPem), file("/tmp/other.crt", other.certPem), file("/tmp/host.crt", host.certPem), file("/tmp/host.key", host.keyPem)];
  withDebian13Host(files, (h) => {
    const ok = h.run(["openssl", "verify", "-CAfile", "/tmp/ca.crt", "-purpose", "sslserver", "/tmp/host.crt"]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const client = h.run(["openssl", "verify", "-CAfile", "/tmp/ca.crt", "-purpose", "sslclient", "/tmp/host.crt"]);
    assert.equal(client.code, 0, client.stdout + client.stderr);
    const stranger = h.run(["openssl", "verify", "-CAfile", "/tmp/other.crt", "/tmp/host.crt"]);
    assert.notEqual(stranger.code, 0, "a certificate verified against a CA that did not issue it");

    const text = h.run(["openssl", "x509", "-in", "/tmp/host.crt", "-noout", "-subject", "-ext", "subjectAltName,basicConstraints"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /subject=CN\s*=\s*mx1\.mail\.example\.com/);
    assert.match(text.stdout, /DNS:mx1\.mail\.example\.com, DNS:mail\.mail\.example\.com, DNS:mta-sts\.example\.com\n/);
    assert.match(text.stdout, /CA:FALSE/);

    const caText = h.run(["openssl", "x509", "-in", "/tmp/ca.crt", "-noout", "-subject", "-dates", "-ext", "basicConstraints"]);
    assert.match(caText.stdout, /subject=CN\s*=\s*mailfleet CA mail\.example\.com/);
    assert.match(caText.stdout, /CA:TRUE/);
    const notAfter = new Date(/notAfter=(.*)/.exec(caText.stdout)![1]);
    const years = (notAfter.getTime() - Date.now()) / (365.25 * 24 * 3600 * 1000);
    assert.ok(years > 9.9 && years < 10.1, `CA valid for ${years} years`);

    // The key belongs to the certificate.
    const keyMod = h.run(["openssl", "pkey", "-in", "/tmp/host.key", "-pubout"]);
    const certMod = h.run(["openssl", "x509", "-in", "/tmp/host.crt", "-noout", "-pubkey"]);
    assert.equal(keyMod.stdout, certMod.stdout);
    assert.match(h.run(["openssl", "pkey", "-in", "/tmp/host.key", "-noout", "-text"]).stdout, /Private-Key: \(2048 bit/);
  });
});
