/**
 * Pure readers of what DNS and the servers publish: DKIM key records, DMARC, TLS-RPT, MTA-STS
 * TXT and policy, certificate names, DNSBL answers. Each returns what a receiver would conclude,
 * with problems in words an operator can act on.
 */
import { createPublicKey } from "node:crypto";
import { MTASTSPolicy } from "mailauth";
import { parsePolicy } from "mailauth/lib/mta-sts";

/** RFC 6376 §3.2 tag=value list (also DMARC, TLS-RPT, MTA-STS TXT): tags lowercased, values trimmed. */
export function tagList(text: string): { tags: Map<string, string>; problems: string[] } {
  const tags = new Map<string, string>();
  const problems: string[] = [];
  for (const part of text.split(";")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    if (eq < 0) {
      problems.push(`"${part.trim()}" is not tag=value`);
      continue;
    }
    const tag = part.slice(0, eq).trim().toLowerCase();
    if (tags.has(tag)) problems.push(`tag "${tag}" appears twice`);
    tags.set(tag, part.slice(eq + 1).trim());
  }
  return { tags, problems };
}

export interface DkimKey {
  /** Base64 of the SubjectPublicKeyInfo, whitespace removed. */
  publicKey: string;
  bits: number;
}

/** A DKIM key record (RFC 6376 §3.6.1) as a verifier reads it: the key, or why it cannot verify. */
export function parseDkimRecord(text: string): { key: DkimKey } | { problem: string } {
  const { tags, problems } = tagList(text);
  if (problems.length > 0) return { problem: problems.join("; ") };
  if (tags.has("v") && !/^v\s*=/i.test(text.trim())) return { problem: "v= must be the first tag" };
  if (tags.has("v") && tags.get("v") !== "DKIM1") return { problem: `v=${tags.get("v")} is not DKIM1` };
  const k = tags.get("k") ?? "rsa";
  if (k !== "rsa") return { problem: `k=${k}: the fleet signs with RSA keys` };
  const p = (tags.get("p") ?? "").replace(/\s+/g, "");
  if (p === "") return { problem: tags.has("p") ? "p= is empty: the key is revoked" : "no p= (public key)" };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(p)) return { problem: "p= is not base64" };
  try {
    const key = createPublicKey({ key: Buffer.from(p, "base64"), format: "der", type: "spki" });
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (key.asymmetricKeyType !== "rsa") return { problem: `p= holds a ${key.asymmetricKeyType} key, not RSA` };
    return { key: { publicKey: p, bits } };
  } catch {
    return { problem: "p= is not an RSA public key (SubjectPublicKeyInfo)" };
  }
}

export interface Dmarc {
  p: string;
  sp?: string;
  rua: string[];
  adkim: string;
  aspf: string;
  pct: number;
}

/** A DMARC record (RFC 7489 §6.3), or why receivers ignore it. */
export function parseDmarc(text: string): { dmarc: Dmarc } | { problem: string } {
  if (!/^v\s*=\s*DMARC1\s*(;|$)/.test(text.trim())) return { problem: `does not start with "v=DMARC1"` };
  const { tags, problems } = tagList(text);
  if (problems.length > 0) return { problem: problems.join("; ") };
  const p = tags.get("p");
  if (!p || !["none", "quarantine", "reject"].includes(p)) return { problem: p ? `p=${p} is not none, quarantine or reject` : "has no p= policy" };
  const rua = (tags.get("rua") ?? "").split(",").map((u) => u.trim()).filter((u) => u !== "");
  const badUri = rua.find((u) => !/^mailto:[^@\s]+@[^@\s]+$/i.test(u));
  if (badUri) return { problem: `rua "${badUri}" is not a mailto: URI` };
  return {
    dmarc: {
      p,
      ...(tags.has("sp") ? { sp: tags.get("sp") } : {}),
      rua: rua.map((u) => u.slice("mailto:".length).replace(/!.*$/, "").toLowerCase()),
      adkim: tags.get("adkim") ?? "r",
      aspf: tags.get("aspf") ?? "r",
      pct: Number(tags.get("pct") ?? "100"),
    },
  };
}

/** A TLS-RPT record (RFC 8460 §3): its report addresses, or why senders ignore it. */
export function parseTlsRpt(text: string): { rua: string[] } | { problem: string } {
  if (!/^v\s*=\s*TLSRPTv1\s*(;|$)/.test(text.trim())) return { problem: `does not start with "v=TLSRPTv1"` };
  const { tags, problems } = tagList(text);
  if (problems.length > 0) return { problem: problems.join("; ") };
  const rua = (tags.get("rua") ?? "").split(",").map((u) => u.trim()).filter((u) => u !== "");
  if (rua.length === 0) return { problem: "has no rua=" };
  const bad = rua.find((u) => !/^(mailto:[^@\s]+@[^@\s]+|https:\/\/\S+)$/i.test(u));
  if (bad) return { problem: `rua "${bad}" is neither mailto: nor https:` };
  return { rua: rua.map((u) => (u.toLowerCase().startsWith("mailto:") ? u.slice(7).toLowerCase() : u)) };
}

/** The MTA-STS TXT record (RFC 8461 §3.1): its policy id. */
export function parseMtaStsTxt(text: string): { id: string } | { problem: string } {
  if (!/^v\s*=\s*STSv1\s*(;|$)/.test(text.trim())) return { problem: `does not start with "v=STSv1"` };
  const { tags, problems } = tagList(text);
  if (problems.length > 0) return { problem: problems.join("; ") };
  const id = tags.get("id") ?? "";
  if (!/^[A-Za-z0-9]{1,32}$/.test(id)) return { problem: id ? `id "${id}" is not 1-32 letters and digits` : "has no id=" };
  return { id };
}

export interface MtaStsPolicy {
  version: string;
  mode: MTASTSPolicy["mode"];
  mx: string[];
  maxAge: number;
}

/** Why mailauth refused a policy, quoting the line that was served. */
function policyProblem(body: string, error: Error & { code?: string }): string {
  const served = (key: string) => body.split(/\r?\n/).filter((l) => l.startsWith(`${key}:`)).map((l) => l.slice(key.length + 1).trim());
  switch (error.code) {
    case "invalid_sts_version":
      return `version is ${served("version")[0] ?? "missing"}, not STSv1`;
    case "invalid_sts_mode":
      return `mode is ${served("mode")[0] ?? "missing"}`;
    case "invalid_sts_max_age":
      return `max_age is ${served("max_age")[0] ?? "missing"}, not 0-31557600 seconds`;
    case "invalid_sts_mx":
      return served("mx").length === 0 ? "has no mx: line" : `mx ${served("mx").join(", ")}: each must be a host name or *.<domain>`;
    default:
      return error.message;
  }
}

/** An MTA-STS policy file (RFC 8461 §3.2) read by mailauth's strict parser, or why senders reject it. */
export function parseMtaStsPolicy(body: string): { policy: MtaStsPolicy; warnings: string[] } | { problem: string } {
  const warnings: string[] = [];
  if (/[^\r]\n/.test(body) || body.startsWith("\n")) warnings.push("lines end in LF, not CRLF as RFC 8461 §3.2 says");
  let policy: MTASTSPolicy;
  try {
    policy = parsePolicy(body, { strict: true });
  } catch (error) {
    return { problem: policyProblem(body, error as Error) };
  }
  return { policy: { version: policy.version ?? "STSv1", mode: policy.mode, mx: policy.mx ?? [], maxAge: policy.maxAge ?? 0 }, warnings };
}

/** Equal as sets: the order of DNS answers and of a policy's mx lines carries no meaning. */
export const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

export function samePolicy(a: MtaStsPolicy, b: MtaStsPolicy): boolean {
  return a.mode === b.mode && a.maxAge === b.maxAge && sameSet(a.mx, b.mx);
}

/**
 * Whether a host name matches a certificate name: exactly, or as a wildcard `*.example.com` that
 * stands for one leftmost label (RFC 6125 §6.4.3).
 */
export function nameMatches(host: string, pattern: string): boolean {
  const h = host.toLowerCase();
  const p = pattern.toLowerCase();
  if (p.startsWith("*.")) {
    const dot = h.indexOf(".");
    return dot > 0 && h.slice(dot + 1) === p.slice(2);
  }
  return h === p;
}

/** The DNS names a certificate is valid for, from Node's `subjectaltname` ("DNS:a, DNS:b, IP Address:…"). */
export function certificateNames(subjectAltName: string | undefined): string[] {
  return (subjectAltName ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.startsWith("DNS:"))
    .map((s) => s.slice(4).toLowerCase());
}

/**
 * What a DNSBL's A answer says. 127.255.255.0/24 are Spamhaus-style error codes (refused because the
 * query came through a public resolver, rate limited, bad query): they say nothing about the
 * address. A listing is an answer in 127.0.0.0/8; anything else is a resolver that rewrites
 * NXDOMAIN (a captive portal or ad-serving resolver) and makes the answer worthless.
 */
export function dnsblVerdict(answers: string[]): { listed: false } | { listed: true; codes: string[] } | { unknown: string } {
  if (answers.length === 0) return { listed: false };
  const errors = answers.filter((a) => a.startsWith("127.255.255."));
  if (errors.length > 0) return { unknown: `the list refused the query (${errors.join(", ")}): query it through your own resolver, not a public one` };
  if (answers.some((a) => !a.startsWith("127."))) return { unknown: `answer ${answers.join(", ")} is not a DNSBL code: the resolver rewrites NXDOMAIN` };
  return { listed: true, codes: answers };
}
