/**
 * One line of the check's verdict, how a check makes its lines (findings, merged per subject, one
 * guarded run per subject), and the table an operator reads.
 */
import type { Expected } from "./expect";

export type Status = "pass" | "warn" | "fail";

export const CHECKS = ["dnssec", "mx", "address", "cname", "srv", "ptr", "spf", "dkim", "dmarc", "mta-sts", "tls-rpt", "starttls", "tls", "dnsbl", "backup"] as const;
export type CheckName = (typeof CHECKS)[number];

export interface CheckResult {
  check: CheckName;
  /** The name, address or host the line is about. */
  subject: string;
  status: Status;
  /** What was found. */
  detail: string;
  /** What to do about a warn or fail. */
  fix?: string;
}

/** What a check found about its subject: a whole line's verdict, or one part of it (see merge). */
export interface Finding {
  status: Status;
  text: string;
  fix?: string;
}

export const finding = (status: Status, text: string, fix?: string): Finding => (fix === undefined ? { status, text } : { status, text, fix });
export const pass = (text: string): Finding => finding("pass", text);
export const warn = (text: string, fix?: string): Finding => finding("warn", text, fix);
export const fail = (text: string, fix?: string): Finding => finding("fail", text, fix);

/** The line of `check` about `subject`. */
export function line(check: CheckName, subject: string, found: Finding): CheckResult {
  return { check, subject, status: found.status, detail: found.text, ...(found.fix !== undefined ? { fix: found.fix } : {}) };
}

const RANK: Record<Status, number> = { pass: 0, warn: 1, fail: 2 };

export function worst(statuses: Status[]): Status {
  return statuses.reduce<Status>((a, b) => (RANK[b] > RANK[a] ? b : a), "pass");
}

/** One verdict from several findings: the worst status, every text, every fix (or passText when all pass). */
export function merge(findings: Finding[], passText: string): Finding {
  const bad = findings.filter((f) => f.status !== "pass");
  const fixes = [...new Set(bad.map((f) => f.fix).filter((f): f is string => !!f))];
  const text = bad.length > 0 ? bad.map((f) => f.text).join("; ") : [passText, ...findings.map((f) => f.text)].filter((t) => t).join("; ");
  return finding(worst(findings.map((f) => f.status)), text, fixes.length > 0 ? fixes.join("; ") : undefined);
}

/** Runs one check or one subject of it; a failed DNS query or connection becomes a fail that says so. */
export async function guarded(check: CheckName, subject: string, run: () => Promise<CheckResult[]>): Promise<CheckResult[]> {
  try {
    return await run();
  } catch (error) {
    return [line(check, subject, fail(`query failed: ${(error as Error).message}`, "make the zone's nameservers answer (and --dns point at one of them)"))];
  }
}

/**
 * One line per item, in order, each judged on its own: a query that fails fails that item's line,
 * not the whole check. One item after the other, so a nameserver is never asked in a burst.
 */
export async function each<T>(
  check: CheckName,
  items: Iterable<T>,
  subjectOf: (item: T) => string,
  judge: (item: T) => Promise<Finding>,
): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const item of items) {
    const subject = subjectOf(item);
    out.push(...(await guarded(check, subject, async () => [line(check, subject, await judge(item))])));
  }
  return out;
}

/** One line per domain of the stack, the domain its subject. */
export function perDomain(check: CheckName, e: Expected, judge: (domain: string) => Promise<Finding>): Promise<CheckResult[]> {
  return each(check, e.topology.spec.domains, (domain) => domain, judge);
}

/** The table: one row per result, its fix on the line below; a summary line last. */
export function formatTable(results: CheckResult[]): string {
  const subjectWidth = Math.min(44, Math.max(7, ...results.map((r) => r.subject.length)));
  const checkWidth = Math.max(5, ...results.map((r) => r.check.length));
  const lines = [`${"STATUS".padEnd(6)}  ${"CHECK".padEnd(checkWidth)}  ${"SUBJECT".padEnd(subjectWidth)}  DETAIL`];
  for (const r of results) {
    lines.push(
      `${(r.status === "pass" ? "pass" : r.status.toUpperCase()).padEnd(6)}  ${r.check.padEnd(checkWidth)}  ${r.subject.padEnd(subjectWidth)}  ${r.detail}`,
    );
    if (r.fix && r.status !== "pass") lines.push(`${" ".repeat(8 + checkWidth + 2 + subjectWidth + 2)}fix: ${r.fix}`);
  }
  const count = (s: Status) => results.filter((r) => r.status === s).length;
  lines.push("", `checks: ${count("pass")} pass, ${count("warn")} warn, ${count("fail")} fail`);
  return lines.join("\n");
}
