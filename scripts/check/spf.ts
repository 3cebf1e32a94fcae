/**
 * SPF (RFC 7208) as a receiver sees it: check_host() for one address is mailauth's; the lint of the
 * record (errors and harmful terms, each named) and the worst-case lookup count over every include
 * and redirect branch are the check's own, since an evaluation only walks the branch one address
 * takes. Pure apart from the injected DNS lookups, so every rule is tested with a hand-written zone.
 */
import ipaddr from "ipaddr.js";
import type { DNSResolver } from "mailauth";
import { spf } from "mailauth/lib/spf";
import { SPF_LOOKUP_LIMIT } from "../../components/config";

/** The DNS answers SPF needs; empty for NXDOMAIN/NODATA, a thrown error for a failed query. */
export interface SpfDns {
  txt(name: string): Promise<string[]>;
  a(name: string): Promise<string[]>;
  aaaa(name: string): Promise<string[]>;
  mx(name: string): Promise<{ priority: number; exchange: string }[]>;
}

export type Qualifier = "+" | "-" | "~" | "?";
export type Mechanism = "all" | "include" | "a" | "mx" | "ptr" | "ip4" | "ip6" | "exists";
export type Term =
  | { kind: "mechanism"; qualifier: Qualifier; mechanism: Mechanism; domain?: string; cidr4?: number; cidr6?: number; network?: string; text: string }
  | { kind: "modifier"; name: string; value: string; text: string };

export interface ParsedSpf {
  terms: Term[];
  /** Syntax errors: any one makes the record a permerror for every receiver. */
  errors: string[];
  /** Legal but harmful or pointless. */
  warnings: string[];
}

const DOMAIN_SPEC = /^(?=.{1,253}$)(?:%\{[a-z][0-9]*r?[.\-+,/_=]*\}|%[%_-]|[a-z0-9_-])(?:[a-z0-9_.-]|%\{[a-z][0-9]*r?[.\-+,/_=]*\}|%[%_-])*$/i;
/** Mechanisms that cost one DNS lookup each (RFC 7208 §4.6.4); `redirect` costs one too. */
const LOOKUP_MECHANISMS: readonly Mechanism[] = ["include", "a", "mx", "ptr", "exists"];

/** Parses one SPF record (already joined from its character-strings). */
export function parseSpf(record: string): ParsedSpf {
  const errors: string[] = [];
  const warnings: string[] = [];
  const terms: Term[] = [];
  const words = record.trim().split(/ +/);
  if (words[0]?.toLowerCase() !== "v=spf1") return { terms, errors: [`does not start with "v=spf1"`], warnings };
  for (const text of words.slice(1)) {
    const modifier = /^([a-z][a-z0-9_.-]*)=(.*)$/i.exec(text);
    if (modifier) {
      const name = modifier[1].toLowerCase();
      if ((name === "redirect" || name === "exp") && terms.some((t) => t.kind === "modifier" && t.name === name)) errors.push(`"${name}=" appears twice`);
      if ((name === "redirect" || name === "exp") && !DOMAIN_SPEC.test(modifier[2])) errors.push(`"${text}" has no valid domain`);
      terms.push({ kind: "modifier", name, value: modifier[2], text });
      continue;
    }
    const m = /^([+\-~?]?)([a-z0-9]+)(?::([^/]*))?((?:\/[0-9]+)?(?:\/\/[0-9]+)?)$/i.exec(text);
    const mechanism = m?.[2].toLowerCase() as Mechanism | undefined;
    if (!m || !mechanism || !["all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"].includes(mechanism)) {
      errors.push(`"${text}" is not an SPF mechanism or modifier`);
      continue;
    }
    const qualifier = (m[1] || "+") as Qualifier;
    const arg = m[3];
    const cidr = /^(?:\/([0-9]+))?(?:\/\/([0-9]+))?$/.exec(m[4])!;
    const term = { kind: "mechanism" as const, qualifier, mechanism, text };
    const bad = (why: string) => errors.push(`"${text}" ${why}`);
    switch (mechanism) {
      case "all":
        if (arg !== undefined || m[4]) bad("takes no argument");
        terms.push(term);
        break;
      case "ip4":
      case "ip6": {
        const bits = cidr[1] === undefined ? undefined : Number(cidr[1]);
        const max = mechanism === "ip4" ? 32 : 128;
        const valid = mechanism === "ip4" ? ipaddr.IPv4.isValidFourPartDecimal(arg ?? "") : ipaddr.IPv6.isValid(arg ?? "");
        if (!valid || cidr[2] !== undefined || (bits !== undefined && bits > max)) bad(`is not a valid ${mechanism} network`);
        else terms.push({ ...term, network: arg, ...(mechanism === "ip4" ? { cidr4: bits ?? 32 } : { cidr6: bits ?? 128 }) });
        break;
      }
      case "include":
      case "exists":
        if (!arg || !DOMAIN_SPEC.test(arg)) bad("needs a domain");
        else terms.push({ ...term, domain: arg });
        if (m[4]) bad("takes no prefix length");
        break;
      default: {
        // a, mx, ptr: optional domain; a and mx take dual CIDR lengths.
        if (arg !== undefined && !DOMAIN_SPEC.test(arg)) bad("has no valid domain");
        const cidr4 = cidr[1] === undefined ? 32 : Number(cidr[1]);
        const cidr6 = cidr[2] === undefined ? 128 : Number(cidr[2]);
        if (cidr4 > 32 || cidr6 > 128 || (mechanism === "ptr" && m[4])) bad("has an invalid prefix length");
        terms.push({ ...term, ...(arg ? { domain: arg } : {}), cidr4, cidr6 });
        if (mechanism === "ptr") warnings.push(`"${text}": RFC 7208 §5.5 says ptr SHOULD NOT be used (slow, and many receivers skip it)`);
      }
    }
  }
  const mechanisms = terms.filter((t) => t.kind === "mechanism");
  const allAt = mechanisms.findIndex((t) => t.mechanism === "all");
  if (allAt >= 0 && allAt < mechanisms.length - 1) warnings.push(`terms after "all" are never evaluated`);
  if (allAt >= 0 && terms.some((t) => t.kind === "modifier" && t.name === "redirect")) warnings.push(`"redirect=" is ignored because the record has "all"`);
  if (allAt < 0 && !terms.some((t) => t.kind === "modifier" && t.name === "redirect")) {
    warnings.push(`no "all" term: unlisted senders get "neutral", which protects nothing; end with "-all" or "~all"`);
  }
  const all = mechanisms[allAt];
  if (all?.kind === "mechanism" && all.qualifier === "+") errors.push(`"+all" authorises every host on the Internet`);
  return { terms, errors, warnings };
}

/** The single SPF record at a name (RFC 7208 §4.5), or why there is none usable. */
export async function fetchSpf(dns: SpfDns, domain: string): Promise<{ record: string } | { problem: string; none: boolean }> {
  const records = (await dns.txt(domain)).filter((t) => /^v=spf1( |$)/i.test(t));
  if (records.length === 0) return { problem: `${domain} has no SPF record`, none: true };
  if (records.length > 1) return { problem: `${domain} has ${records.length} SPF records; receivers treat that as a permerror (RFC 7208 §4.5)`, none: false };
  return { record: records[0] };
}

export interface SpfLookups {
  /** DNS-querying terms in the whole tree (includes and redirects followed). */
  count: number;
  /** Each counted term with where it sits, e.g. `example.com → include:_spf.relay.example`. */
  trail: string[];
  errors: string[];
}

/**
 * Counts every DNS-querying term across the record and everything it includes or redirects to,
 * the way receivers count them (the worst case: every branch). Over SPF_LOOKUP_LIMIT, receivers
 * return permerror and the domain's mail fails SPF everywhere.
 */
export async function countSpfLookups(dns: SpfDns, domain: string): Promise<SpfLookups> {
  const result: SpfLookups = { count: 0, trail: [], errors: [] };
  const walk = async (name: string, path: string[]): Promise<void> => {
    if (path.includes(name)) {
      result.errors.push(`loop: ${[...path, name].join(" → ")}`);
      return;
    }
    const fetched = await fetchSpf(dns, name);
    if ("problem" in fetched) {
      if (path.length > 0) result.errors.push(`${[...path, name].join(" → ")}: ${fetched.problem}`);
      else result.errors.push(fetched.problem);
      return;
    }
    const parsed = parseSpf(fetched.record);
    parsed.errors.forEach((e) => result.errors.push(`${name}: ${e}`));
    const here = [...path, name];
    const hasAll = parsed.terms.some((t) => t.kind === "mechanism" && t.mechanism === "all");
    for (const t of parsed.terms) {
      const counts = (t.kind === "mechanism" && LOOKUP_MECHANISMS.includes(t.mechanism)) || (t.kind === "modifier" && t.name === "redirect" && !hasAll);
      if (!counts) continue;
      result.count++;
      result.trail.push(`${here.join(" → ")}: ${t.text}`);
      const target = t.kind === "mechanism" ? (t.mechanism === "include" ? t.domain : undefined) : t.value;
      // Macros expand per message; their targets cannot be followed ahead of time.
      if (target && !target.includes("%")) await walk(target.toLowerCase(), here);
    }
  };
  await walk(domain.toLowerCase(), []);
  return result;
}

export type SpfResult = "pass" | "fail" | "softfail" | "neutral" | "none" | "permerror" | "temperror";

/** mailauth's resolver contract over the check's Dns: node:dns answer shapes, ENODATA for an empty answer. */
function mailauthResolver(dns: SpfDns): DNSResolver {
  const empty = () => Object.assign(new Error("no records"), { code: "ENODATA" });
  const nonEmpty = <T>(answers: T[]): T[] => {
    if (answers.length === 0) throw empty();
    return answers;
  };
  return async (name, type) => {
    switch (type) {
      case "TXT":
        return nonEmpty((await dns.txt(name)).map((t) => [t]));
      case "A":
        return nonEmpty(await dns.a(name));
      case "AAAA":
        return nonEmpty(await dns.aaaa(name));
      case "MX":
        // node:dns shape ({ exchange, priority }), which mailauth reads although its type says string[].
        return nonEmpty(await dns.mx(name)) as unknown as string[];
      default:
        // ptr is left unmatched, as RFC 7208 §5.5 advises; the fleet never publishes it.
        throw empty();
    }
  };
}

const QUALIFIER: Partial<Record<SpfResult, Qualifier>> = { pass: "+", fail: "-", softfail: "~", neutral: "?" };

/** The term that decided a result: the one term of the record with that qualifier, if there is only one. */
function decidingTerm(domain: string, record: string | undefined, result: SpfResult): string {
  const qualifier = QUALIFIER[result];
  const terms = (record ?? "").split(/ +/).slice(1).filter((t) => !t.includes("=") && (/^[+\-~?]/.test(t) ? t[0] : "+") === qualifier);
  if (terms.length === 1) return `${domain}: ${terms[0]}`;
  if (terms.length === 0 && result === "neutral") return `${domain}: no term matched`;
  return `${domain}: "${record}"`;
}

/**
 * RFC 7208 §4 check_host(ip, domain) for a sender address, by mailauth (strict RFC mode, the lookup
 * limit of SPF_LOOKUP_LIMIT). Used to prove the published record authorises every address the fleet
 * sends from.
 */
export async function checkHost(dns: SpfDns, ip: string, domain: string): Promise<{ result: SpfResult; why: string }> {
  const verdict = await spf({
    ip,
    sender: `postmaster@${domain}`,
    mta: "check",
    resolver: mailauthResolver(dns),
    strict: true,
    maxResolveCount: SPF_LOOKUP_LIMIT,
    // Void lookups (RFC 7208 §4.6.4's SHOULD of 2) are not the verdict's business: the lookup limit is.
    maxVoidCount: Infinity,
  });
  const result = verdict.status.result as SpfResult;
  if (QUALIFIER[result]) return { result, why: decidingTerm(domain, verdict.rr, result) };
  if (result === "none") return { result, why: `${domain} has no SPF record` };
  const text = /during lookup of \S+?: (.*)$/.exec(verdict.status.comment ?? "")?.[1] ?? verdict.status.comment ?? result;
  return { result, why: text === "Too many DNS requests" ? `more than ${SPF_LOOKUP_LIMIT} DNS lookups` : text };
}
