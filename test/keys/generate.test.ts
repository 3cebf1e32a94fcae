/**
 * The key makers: DKIM keys checked with node:crypto and against the format node-forge wrote
 * (certificates are checked by OpenSSL in the Debian 13 root in generate.daemon.test.ts).
 */
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { test } from "node:test";
import * as forge from "node-forge";
import { generateDkimKey, generateDkimKeyAsync } from "../../components/keys/generate";
import { DkimKey } from "../../components/keys/material";

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
