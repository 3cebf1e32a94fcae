/**
 * Key material the renderers and the record set consume. In a Pulumi stack it comes from the key
 * resources (made once, kept in state as secrets); offline it comes from a local key folder.
 */
import { createHash, createPublicKey } from "node:crypto";
import { FleetSpec } from "../config/spec";
import { oncePer } from "../memo";
import { forwardingDomain } from "../topology/naming";

/** SHA-256 of a key's SubjectPublicKeyInfo (DER), hex: what a TLSA 3 1 1 record pins. */
export function spkiSha256(keyPem: string): string {
  return createHash("sha256").update(createPublicKey(keyPem).export({ type: "spki", format: "der" })).digest("hex");
}

/** An MX host's key a TLSA record pins: the SPKI hash of the key its port-25 certificate carries. */
export interface DaneKey {
  host: string;
  spkiSha256: string;
}

/** dnssec: each edge pins its host key (the bootstrap certificate's, which certbot's lineage takes over). */
export function daneKeys(edges: readonly { name: string }[], hosts: Record<string, HostCertificate>): DaneKey[] {
  return edges.map((h) => {
    const cert = hosts[h.name];
    if (!cert) throw new Error(`no host key for ${h.name}`);
    return { host: h.name, spkiSha256: spkiSha256(cert.keyPem) };
  });
}

export interface DkimKey {
  domain: string;
  selector: string;
  /** base64 of the DER SubjectPublicKeyInfo: the `p=` of the DKIM TXT record. */
  publicKey: string;
  /** PKCS#8 PEM. Secret. */
  privateKeyPem: string;
}

type SelectorName = Pick<DkimKey, "domain" | "selector">;

/**
 * Every key published as a DKIM-style TXT record: each hosted domain's per selector, then the
 * edges' ARC key, which seals under the forwarding domain.
 */
export function publishedKeyNames(spec: Pick<FleetSpec, "domains" | "dkim" | "serverDomain" | "forwarding">): SelectorName[] {
  return [...spec.domains.flatMap((domain) => spec.dkim.selectors.map((selector) => ({ domain, selector }))), arcKeyName(spec)];
}

export function arcKeyName(spec: Pick<FleetSpec, "serverDomain" | "forwarding">): SelectorName {
  return { domain: forwardingDomain(spec), selector: spec.forwarding.arcSelector };
}

/** A key list by domain and selector, made once per list: a fleet looks up each of thousands of domains' keys. */
const dkimIndex = oncePer((keys: readonly SelectorName[]) => new Map(keys.map((k) => [`${k.selector}._domainkey.${k.domain}`, k])));

/** The key of `domain` with `selector`, if the list has it. */
export function findDkimKey<K extends SelectorName>(keys: readonly K[], domain: string, selector: string): K | undefined {
  return dkimIndex(keys).get(`${selector}._domainkey.${domain}`) as K | undefined;
}

export interface HostCertificate {
  /** PEM of the host certificate, issued by the fleet CA. */
  certPem: string;
  /** PEM private key. Secret. */
  keyPem: string;
}

/**
 * One password per client of rspamd's shared state, so each has only its own rights: the Valkey users
 * (render/valkey.ts) and `learn`, the stores' login to the edges' rspamd controller (render/dovecot/learn.ts).
 */
export const STATE_USERS = ["rspamd", "replica", "sentinel", "learn"] as const;
export type StateUser = (typeof STATE_USERS)[number];
export type StatePasswords = Record<StateUser, string>;

export interface FleetKeys {
  dkim: DkimKey[];
  /** The fleet's bootstrap CA, trusted between the fleet's own hosts (store-to-store proxy). */
  caCertPem: string;
  /** Host name -> its certificate. */
  hosts: Record<string, HostCertificate>;
  /**
   * Host name -> base64 of its TSIG key (HMAC-SHA256, 256 bits): what the host signs its DNS-01
   * updates to the zone backend's Knot with. Secret.
   */
  tsig: Record<string, string>;
  /** Forwarding: the ARC sealing key of the edges (a DKIM-style RSA key at the forwarding domain). Secret. */
  arc: DkimKey;
  /** postsrsd's secrets in forwarding.srsKeys order: the first signs, all verify. Secret. */
  srs: string[];
  /** The shared state's passwords (Valkey ACL users and Sentinel), made once like the TSIG keys. Secret. */
  state: StatePasswords;
  /** dns: cloudflare with tls.mode acme: the API token the hosts' certbot edits the zones with. Secret. */
  cloudflareAcmeToken?: string;
}
