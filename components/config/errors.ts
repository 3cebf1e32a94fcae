import { formatPath } from "./formats";

/** One problem in the operator's stack config: where it is, what is wrong, how to fix it. */
export interface ConfigProblem {
  path: string;
  message: string;
  hint?: string;
}

/**
 * The one error type for bad operator input. It carries every problem found, so an operator
 * fixes the whole stack file in one pass instead of one `pulumi up` per typo.
 */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];

  /** subject: what was read (the component package's inputs say so instead of "stack config"). */
  constructor(problems: ConfigProblem[], subject = "mailfleet stack config") {
    super(
      `invalid ${subject} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p.path}: ${p.message}${p.hint ? ` — ${p.hint}` : ""}`).join("\n"),
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/**
 * The first problem at each key path. The first is the cause: a control character or a placeholder
 * is reported before the format errors, unknown stores and the like that it also causes downstream.
 */
export function firstPerPath(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => !seen.has(p.path) && seen.add(p.path));
}

/** A problem at a key path given as its segments: `["mailboxes", 3, "store"]` is `mailboxes[3].store`. */
export function configProblem(path: readonly PropertyKey[], message: string, hint?: string): ConfigProblem {
  return { path: formatPath(path), message, ...(hint ? { hint } : {}) };
}
