/**
 * Key and certificate makers. The Pulumi dynamic resource calls these same functions, and Pulumi
 * serializes a dynamic provider's functions with everything they reference: so this module
 * requires node-forge and nothing else at its top (type imports vanish at compile time), and
 * requires Node built-ins inside the functions that use them.
 *
 * DKIM keys come from Node's native RSA generation: asynchronously on libuv's thread pool, so a
 * thousand domains' keys are made on every core (generateDkimKey is the one-at-a-time form for
 * callers that cannot wait). Certificates are built by node-forge and signed by Node (signSha256);
 * their keys come from forge's generateKeyPair, which hands the work to Node's generateKeyPair
 * (issueHostCertificateAsync) or generateKeyPairSync (issueHostCertificate).
 */
import type { RSAKeyPairOptions } from "node:crypto";
import * as forge from "node-forge";
import type { DkimKey, HostCertificate } from "./material";

/** The fleet CA: a pair of PEMs, certificate and PKCS#8 private key. */
export interface FleetCa {
  certPem: string;
  keyPem: string;
}

const RSA_BITS = 2048;
/**
 * The CA outlives many host certificates, so it gets a longer key (NIST SP 800-57: 2048-bit RSA
 * is acceptable only until 2030).
 */
const CA_RSA_BITS = 3072;
const CA_YEARS = 10;
/**
 * Apple clients refuse TLS server certificates valid for more than 825 days, whoever issued them;
 * a longer bootstrap certificate would lock iOS/macOS mail apps out.
 */
const HOST_CERT_DAYS = 825;

function rsaKeyPair(bits: number): forge.pki.rsa.KeyPair {
  return forge.pki.rsa.generateKeyPair({ bits, e: 0x10001 });
}

function pkcs8Pem(key: forge.pki.rsa.PrivateKey): string {
  return forge.pki.privateKeyInfoToPem(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(key)));
}

/**
 * node-forge builds the certificate; Node's native RSA signs it (sha256WithRSAEncryption, PKCS#1
 * v1.5: the very signature forge's JavaScript RSA would make, which took over a second per host
 * certificate with the 3072-bit CA key). forge's cert.sign hands the signer the digest after
 * setting cert.tbsCertificate, so the signer signs those bytes.
 */
function signSha256(cert: forge.pki.Certificate, keyPem: string): void {
  const { sign } = require("node:crypto") as typeof import("node:crypto");
  const signer = { sign: () => sign("sha256", Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), "binary"), keyPem).toString("binary") };
  cert.sign(signer as unknown as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
}

/** A random positive serial (RFC 5280 §4.1.2.2: unique per CA, at most 20 octets, positive). */
function serialNumber(): string {
  const bytes = forge.random.getBytesSync(16);
  // Clearing the top bit keeps the DER INTEGER positive.
  return (((bytes.charCodeAt(0) & 0x7f) | 0x01).toString(16).padStart(2, "0") + forge.util.bytesToHex(bytes.slice(1)));
}

/**
 * Starts an hour in the past, so a host whose clock lags slightly does not see a certificate that
 * is not yet valid.
 */
function validity(cert: forge.pki.Certificate, days: number): void {
  const notBefore = new Date(Date.now() - 60 * 60 * 1000);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(notBefore.getTime() + days * 24 * 60 * 60 * 1000);
}

/** A TSIG secret for HMAC-SHA256: 32 random bytes (RFC 8945 §6: at least the hash's output length), base64. */
export function generateTsigSecret(): string {
  return forge.util.encode64(forge.random.getBytesSync(32));
}

/** A service password: 32 random bytes in hex, safe in any config syntax and shell word without quoting. */
export function generatePassword(): string {
  return forge.util.bytesToHex(forge.random.getBytesSync(32));
}

/**
 * A DKIM signing key: RSA 2048 (RFC 8301 requires at least 1024, recommends 2048), written as
 * node-forge wrote it before (PKCS#8 PEM with CRLF line ends; the public key as base64 SPKI DER),
 * so keys made now and keys already in a key folder or a stack's state read the same.
 */
const DKIM_KEY_OPTIONS: RSAKeyPairOptions<"der", "pem"> = {
  modulusLength: RSA_BITS,
  publicExponent: 0x10001,
  publicKeyEncoding: { type: "spki", format: "der" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
};

function dkimKeyOf(domain: string, selector: string, pair: { publicKey: Buffer; privateKey: string }): DkimKey {
  return { domain, selector, publicKey: pair.publicKey.toString("base64"), privateKeyPem: pair.privateKey.replace(/\r?\n/g, "\r\n") };
}

/** A DKIM key made on the thread pool: many of them at once use every core. */
export function generateDkimKeyAsync(domain: string, selector: string): Promise<DkimKey> {
  const { generateKeyPair } = require("node:crypto") as typeof import("node:crypto");
  return new Promise((resolve, reject) =>
    generateKeyPair("rsa", DKIM_KEY_OPTIONS, (error, publicKey, privateKey) =>
      error ? reject(error) : resolve(dkimKeyOf(domain, selector, { publicKey, privateKey })),
    ),
  );
}

/** The same key made on this thread, for a caller that cannot wait (a lab or test render of a few domains). */
export function generateDkimKey(domain: string, selector: string): DkimKey {
  const { generateKeyPairSync } = require("node:crypto") as typeof import("node:crypto");
  return dkimKeyOf(domain, selector, generateKeyPairSync("rsa", DKIM_KEY_OPTIONS));
}

/**
 * An edge's DANE key (the key its port-25 certificate carries, pinned by TLSA 3 1 1): RSA 2048 like
 * the host keys, so every MX and every generation has one algorithm. PKCS#8 PEM.
 */
export function generateDaneKey(): string {
  const { generateKeyPairSync } = require("node:crypto") as typeof import("node:crypto");
  return generateKeyPairSync("rsa", { modulusLength: RSA_BITS, publicExponent: 0x10001 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}

/** The fleet's bootstrap CA (self-signed, 10 years), which issues every host certificate. */
export function createFleetCa(serverDomain: string): FleetCa {
  const keys = rsaKeyPair(CA_RSA_BITS);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  validity(cert, CA_YEARS * 365);
  const name = [{ name: "commonName", value: `mailfleet CA ${serverDomain}` }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  const keyPem = pkcs8Pem(keys.privateKey);
  signSha256(cert, keyPem);
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/**
 * A host certificate issued by the fleet CA: CN = fqdn, SANs = fqdn + altNames (clients match
 * SANs only, RFC 6125), good for TLS servers and clients (store-to-store proxy, SMTP between hosts).
 */
export function issueHostCertificate(ca: FleetCa, fqdn: string, altNames: string[]): HostCertificate {
  return hostCertificateWith(rsaKeyPair(RSA_BITS), ca, fqdn, altNames);
}

/** The same certificate with its key made on the thread pool: many of them at once use every core. */
export async function issueHostCertificateAsync(ca: FleetCa, fqdn: string, altNames: string[]): Promise<HostCertificate> {
  const keys = await new Promise<forge.pki.rsa.KeyPair>((resolve, reject) =>
    // With a callback, forge hands the work to Node's asynchronous crypto.generateKeyPair.
    forge.pki.rsa.generateKeyPair({ bits: RSA_BITS, e: 0x10001 }, (error, pair) => (error ? reject(error) : resolve(pair))),
  );
  return hostCertificateWith(keys, ca, fqdn, altNames);
}

function hostCertificateWith(keys: forge.pki.rsa.KeyPair, ca: FleetCa, fqdn: string, altNames: string[]): HostCertificate {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  validity(cert, HOST_CERT_DAYS);
  cert.setSubject([{ name: "commonName", value: fqdn }]);
  cert.setIssuer(caCert.subject.attributes);
  const names = [...new Set([fqdn, ...altNames])];
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true, clientAuth: true },
    { name: "subjectAltName", altNames: names.map((value) => ({ type: 2, value })) },
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  signSha256(cert, ca.keyPem);
  return { certPem: forge.pki.certificateToPem(cert), keyPem: pkcs8Pem(keys.privateKey) };
}
