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

/** An MX host's key a TLSA record pins: the SPKI hash of a key its port-25 certificate carries (or will). */
export interface DaneKey {
  host: string;
  generation: number;
  spkiSha256: string;
}

/** One of an edge's DANE keys (tls.mode acme). Secret. */
export interface DaneKeyPem {
  generation: number;
  keyPem: string;
}

/**
 * The DANE key generations an edge holds and publishes TLSA for while it is asked to serve
 * `generation`: the previous one (until the next rollover: an edge whose switch is still gated
 * serves it, and DNS may change before or after the push), the served one, and the next one (so
 * its TLSA is in every cache long before the switch).
 */
export function daneGenerations(generation: number): number[] {
  return [...(generation > 1 ? [generation - 1] : []), generation, generation + 1];
}

/** Whether the edges have DANE keys of their own: with signed zones and ACME certificates. */
export function holdsDaneKeys(spec: Pick<FleetSpec, "tls" | "dnssec">): boolean {
  return spec.dnssec && spec.tls.mode === "acme";
}

/** The generations each edge's TLSA records pin: its own DANE keys' (acme), or the one host key's (fleet-ca). */
export function pinnedGenerations(spec: Pick<FleetSpec, "tls" | "dnssec">): number[] {
  return holdsDaneKeys(spec) ? daneGenerations(spec.tls.daneKeyGeneration) : [spec.tls.daneKeyGeneration];
}

/**
 * dnssec: the keys each edge's TLSA records pin. With tls.mode acme, each edge's own DANE keys
 * (ACME lineages carry them: render/acme.ts); with fleet-ca, the host key its certificate carries.
 */
export function daneKeys(spec: Pick<FleetSpec, "tls">, edges: readonly { name: string }[], keys: Pick<FleetKeys, "hosts" | "dane">): DaneKey[] {
  return edges.flatMap((h) => {
    if (spec.tls.mode === "fleet-ca") {
      const cert = keys.hosts[h.name];
      if (!cert) throw new Error(`no host key for ${h.name}`);
      return [{ host: h.name, generation: spec.tls.daneKeyGeneration, spkiSha256: spkiSha256(cert.keyPem) }];
    }
    const held = keys.dane[h.name];
    if (!held) throw new Error(`no DANE keys for ${h.name}`);
    return held.map((k) => ({ host: h.name, generation: k.generation, spkiSha256: spkiSha256(k.keyPem) }));
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
  /** tls.mode acme with dnssec: edge name -> its DANE keys of daneGenerations(tls.daneKeyGeneration). Secret. */
  dane: Record<string, DaneKeyPem[]>;
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
