/** Tables for people: the offline plan, the lab's status, the benchmark's report. */

/** Columns padded to their widest cell, two spaces apart; the first row is the header. */
export function textTable(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

/** A GitHub-flavoured Markdown table; the columns marked in `right` are right-aligned (numbers). */
export function markdownTable(head: string[], rows: string[][], right: boolean[] = []): string {
  const rule = `|${head.map((_, i) => (right[i] ? "---:" : "---")).join("|")}|`;
  return [`| ${head.join(" | ")} |`, rule, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}
