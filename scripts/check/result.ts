/** One line of the check's verdict, and the table an operator reads. */

export type Status = "pass" | "warn" | "fail";

export const CHECKS = ["mx", "address", "cname", "srv", "ptr", "spf", "dkim", "dmarc", "mta-sts", "tls-rpt", "starttls", "tls", "dnsbl", "backup"] as const;
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

const RANK: Record<Status, number> = { pass: 0, warn: 1, fail: 2 };

export function worst(statuses: Status[]): Status {
  return statuses.reduce<Status>((a, b) => (RANK[b] > RANK[a] ? b : a), "pass");
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
