/**
 * What the check's tests share: a resolver over a hand-written zone, RSA keys of three sizes, and
 * the lab's fleet as it should be published, with probes that find every endpoint good; `check`
 * runs every check over that fleet after an edit of the zone or a probe.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { parseFleetConfig, readStackConfig } from "../../components/config";
import { publishedKeyNames } from "../../components/keys/material";
import { buildRecordSet } from "../../components/records";
import { buildTopology } from "../../components/topology";
import { givenAddresses } from "../../components/build";
import { runChecks } from "../../scripts/check/checks";
import { fakeDane } from "../support/labRecords";
import { Dns } from "../../scripts/check/dns";
import { Expected } from "../../scripts/check/expect";
import { PolicyFetch, Probes, TlsProbe } from "../../scripts/check/probes";
import { CheckResult, formatTable } from "../../scripts/check/result";

/** A resolver over a hand-written zone: name -> type -> answers. CNAMEs are followed for A/AAAA/TXT. */
export type Zone = Record<string, Partial<Record<"A" | "AAAA" | "TXT" | "MX" | "CNAME" | "SRV" | "PTR" | "TLSA", string[]>>>;
export function fakeDns(zone: Zone, failing: Set<string> = new Set()): Dns & { queries: string[] } {
  const queries: string[] = [];
  const get = (type: keyof Zone[string], name: string, depth = 0): string[] => {
    queries.push(`${type} ${name}`);
    if (failing.has(name)) throw new Error(`${type} ${name}: ETIMEOUT`);
    const node = zone[name.toLowerCase()];
    if (!node) return [];
    if (type !== "CNAME" && node.CNAME && depth < 8) return get(type, node.CNAME[0], depth + 1);
    return node[type] ?? [];
  };
  return {
    queries,
    txt: async (n) => get("TXT", n),
    a: async (n) => get("A", n),
    aaaa: async (n) => get("AAAA", n),
    mx: async (n) => get("MX", n).map((m) => ({ priority: Number(m.split(" ")[0]), exchange: m.split(" ")[1] })),
    ptr: async (ip) => get("PTR", ip),
    cname: async (n) => get("CNAME", n),
    tlsa: async (n) => get("TLSA", n),
    srv: async (n) => get("SRV", n).map((s) => {
      const [priority, weight, port, target] = s.split(" ");
      return { priority: Number(priority), weight: Number(weight), port: Number(port), target };
    }),
  };
}

export const RSA2048 = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "der" }).toString("base64");
export const RSA1024 = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "der" }).toString("base64");
export const RSA512 = generateKeyPairSync("rsa", { modulusLength: 512 }).publicKey.export({ type: "spki", format: "der" }).toString("base64");

export const spec = parseFleetConfig(readStackConfig("lab", { passphrase: "mailfleet-lab" }).raw);
export const topology = buildTopology(spec);
const keys = publishedKeyNames(spec).map((name) => ({ ...name, publicKey: RSA2048 }));
/** The key every good MX certificate carries here, and so the TLSA record's hash. */
export const SPKI_SHA256 = "ab".repeat(32);
export const recordSet = buildRecordSet(topology, givenAddresses(spec), keys, fakeDane(topology));
export const EXPECTED: Expected = { stack: "test", topology, recordSet, dkimKeysKnown: true, dnsbls: ["bl.example.net"] };
export const NOW = new Date("2026-03-10T12:00:00Z");

/** The lab zone as it should be published: the record set, plus the PTRs of the reverse zones. */
export function publishedZone(): Zone {
  const zone: Zone = {};
  const add = (name: string, type: keyof Zone[string], value: string) => {
    const node = (zone[name] ??= {});
    (node[type] ??= []).push(value);
  };
  for (const r of recordSet.records) {
    if (r.type === "A" || r.type === "AAAA") add(r.name, r.type, r.address);
    if (r.type === "MX") add(r.name, "MX", `${r.priority} ${r.exchange}`);
    if (r.type === "TXT") add(r.name, "TXT", r.text);
    if (r.type === "CNAME") add(r.name, "CNAME", r.target);
    if (r.type === "SRV") add(r.name, "SRV", `${r.priority} ${r.weight} ${r.port} ${r.target}`);
    if (r.type === "TLSA") add(r.name, "TLSA", `${r.usage} ${r.selector} ${r.matchingType} ${r.digest}`);
  }
  for (const p of recordSet.ptr) add(p.address, "PTR", p.name);
  return zone;
}

export const goodTls = (host: string): TlsProbe => ({
  banner: `220 ${host} ESMTP`,
  starttls: true,
  tls: { protocol: "TLSv1.3", names: [host, "smtp.mail.example.com"], spkiSha256: SPKI_SHA256, validTo: new Date("2027-01-01T00:00:00Z"), trusted: true },
});
export const goodPolicy: PolicyFetch = { status: 200, contentType: "text/plain", body: recordSet.mtaSts.policy };

export async function check(
  edit: (zone: Zone) => void = () => {},
  probes: Partial<Probes> = {},
): Promise<CheckResult[]> {
  const zone = publishedZone();
  edit(zone);
  return runChecks(EXPECTED, { dns: fakeDns(zone), starttls: async (h) => goodTls(h), tls: async (ep) => goodTls(ep.name), policy: async () => goodPolicy, now: NOW, ...probes });
}
export const failures = (results: CheckResult[]) => results.filter((r) => r.status === "fail");
/** Exactly one failing line, of this check and subject; its detail and fix. */
export function onlyFailure(results: CheckResult[], check: string, subject: string): CheckResult {
  const bad = failures(results);
  assert.deepEqual(bad.map((r) => [r.check, r.subject]), [[check, subject]], formatTable(bad));
  assert.ok(bad[0].fix, "a failure carries its fix");
  return bad[0];
}
