import assert from "node:assert/strict";
import { parseFleet } from "../../components/build";
import { ConfigError } from "../../components/config";

/** A small valid stack config (byo + zone), as the raw `mailfleet:` keys of a stack file. */
export const HASH = "{SHA512-CRYPT}$6$ffnBOymffUSxS6/3$lXkpxRiR7mWSuq7DDgVbTKGV/wI3VFndmtf5w44E2OsiMRD5.I20LlKCpJqMAs9/Bh8c.NzAWqYn2OEh/OPod/";

export function validRaw(): Record<string, any> {
  return {
    serverDomain: "mail.example.com",
    domains: ["example.com", "example.org"],
    admin: "alice@example.com",
    compute: "byo",
    dns: "zone",
    push: "none",
    hosts: {
      edge: [
        { name: "mx1", ipv4: "192.0.2.11", ipv6: "2001:db8::11" },
        { name: "mx2", ipv4: "192.0.2.12", ipv6: "2001:db8::12" },
      ],
      outbound: [{ name: "out1", ipv4: "192.0.2.21", ipv6: "2001:db8::21" }],
      store: [
        { name: "store1", ipv4: "192.0.2.31", ipv6: "2001:db8::31" },
        { name: "store2", ipv4: "192.0.2.32", ipv6: "2001:db8::32" },
      ],
    },
    zone: { nameservers: [{ name: "ns1.example.com", ipv4: "192.0.2.53" }] },
    mailboxes: [
      { address: "alice@example.com", passwordHash: HASH, store: "store1" },
      { address: "bob@example.org", passwordHash: HASH, store: "store2", quotaMb: 2048 },
    ],
    aliases: { "sales@example.com": ["alice@example.com", "bob@example.org"] },
  };
}

/** Every problem parseFleet (config, topology and record names in one error) reports for raw, as "message — hint". */
export function problemsOf(raw: Record<string, unknown>, options = {}): Map<string, string> {
  try {
    parseFleet(raw, options);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return new Map(error.problems.map((p) => [p.path, `${p.message}${p.hint ? ` — ${p.hint}` : ""}`]));
  }
  return new Map();
}

/** What a refusal of a system account as ssh.user says (the fix it names). */
export const ADMIN_USER = /system account.*use a dedicated admin user such as mailfleet/;

/** Stand-in passwords of the state service's users, for renders that need keys but test none of them. */
export const TEST_STATE_PASSWORDS = { rspamd: "a".repeat(64), replica: "b".repeat(64), sentinel: "c".repeat(64), learn: "d".repeat(64) };
/** Forwarding's keys for renders that need no real ones: the ARC key of the fixtures' forwarding domain and one SRS secret. */
export const TEST_FORWARDING_KEYS = {
  arc: { domain: "fwd.mail.example.com", selector: "arc1", publicKey: "AA==", privateKeyPem: "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n" },
  srs: ["e".repeat(64)],
};
