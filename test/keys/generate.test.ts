/**
 * The key makers: DKIM keys checked with node:crypto and against the format node-forge wrote,
 * certificates checked by OpenSSL in the Debian 13 root (`openssl verify`, `openssl x509`).
 */
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { test } from "node:test";
import { file } from "../../components/render/file";
import * as forge from "node-forge";
import { createFleetCa, generateDkimKey, generateDkimKeyAsync, issueHostCertificate } from "../../components/keys/generate";
import { DkimKey } from "../../components/keys/material";
import { withDebian13Host } from "../support/debian13";

test("a DKIM key is RSA 2048 and its DNS public key verifies what the private key signs", () => {
  const key = generateDkimKey("example.com", "s1");
  assert.equal(key.domain, "example.com");
  assert.equal(key.selector, "s1");
  assert.match(key.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\r?\n/);
  const privateKey = createPrivateKey(key.privateKeyPem);
  assert.equal(privateKey.asymmetricKeyType, "rsa");
  assert.equal(privateKey.asymmetricKeyDetails?.modulusLength, 2048);

  // p= is the base64 of the DER SubjectPublicKeyInfo (RFC 6376 §3.6.1) of this very key.
  const publicKey = createPublicKey({ key: Buffer.from(key.publicKey, "base64"), format: "der", type: "spki" });
  assert.equal(publicKey.export({ type: "spki", format: "der" }).toString("base64"), key.publicKey);
  const data = Buffer.from("header fields and body hash");
  const signature = sign("sha256", data, privateKey);
  assert.ok(verify("sha256", data, publicKey, signature));
  assert.ok(!verify("sha256", data, createPublicKey({ key: Buffer.from(generateDkimKey("example.com", "s1").publicKey, "base64"), format: "der", type: "spki" }), signature));
});

/**
 * The key as node-forge wrote every DKIM key before (PKCS#8 PEM with CRLF line ends, base64 SPKI
 * DER): key folders and stack states made then must read the same as keys made now.
 */
function assertForgeFormat(key: DkimKey): void {
  const forgeKey = forge.pki.privateKeyFromPem(key.privateKeyPem) as forge.pki.rsa.PrivateKey;
  assert.equal(key.privateKeyPem, forge.pki.privateKeyInfoToPem(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(forgeKey))));
  const forgePublic = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  assert.equal(key.publicKey, forge.util.encode64(forge.asn1.toDer(forge.pki.publicKeyToAsn1(forgePublic)).getBytes()));
}

test("DKIM keys made many at once on the thread pool are distinct RSA 2048 pairs in node-forge's format", async () => {
  const keys = await Promise.all(["s1", "s2", "s3", "s4"].map((selector) => generateDkimKeyAsync("example.org", selector)));
  assert.deepEqual(keys.map((k) => [k.domain, k.selector]), ["s1", "s2", "s3", "s4"].map((s) => ["example.org", s]));
  assert.equal(new Set(keys.map((k) => k.publicKey)).size, keys.length, "four different keys");
  for (const key of keys) {
    const privateKey = createPrivateKey(key.privateKeyPem);
    assert.equal(privateKey.asymmetricKeyType, "rsa");
    assert.equal(privateKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(privateKey.asymmetricKeyDetails?.publicExponent, 0x10001n);
    assert.equal(createPublicKey(privateKey).export({ type: "spki", format: "der" }).toString("base64"), key.publicKey, "p= is this key's");
    assertForgeFormat(key);
  }
  assertForgeFormat(generateDkimKey("example.org", "s5"));
});

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
