/**
 * The node-forge key makers: DKIM keys checked with node:crypto (certificates are checked by
 * OpenSSL in the Debian 13 root in generate.daemon.test.ts).
 */
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { test } from "node:test";
import { generateDkimKey } from "../../components/keys/generate";

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
