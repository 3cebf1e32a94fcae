/**
 * What every config rule reads: the keys that parsed, and a few views of them made once.
 * A rule is a pure function from this to the problems it finds; ./index.ts lists them all.
 */
import { ConfigProblem } from "../errors";
import { HostKeys, Parsed } from "../schema";

export interface RuleInput {
  /** Every key; one that failed its schema stands in as an empty value, so read it only after ok(key). */
  c: Parsed;
  /** Whether all these keys parsed. A rule checks only what its keys let it, so one bad key hides no other problem. */
  ok(...keys: (keyof Parsed)[]): boolean;
  /** The keys each host sets, whatever their format (schema.ts hostKeysGiven). */
  hostKeys: HostKeys;
  hosted: Set<string>;
  mailboxes: Set<string>;
  /** Alias address → its targets, for the alias keys that are mail addresses. */
  aliases: Record<string, string[]>;
}

export type Rule = (input: RuleInput) => ConfigProblem[];

export { configProblem as problem } from "../errors";

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf("@") + 1);
}

/** Indexes of entries that repeat an earlier one. */
export function repeats(values: readonly string[]): number[] {
  const seen = new Set<string>();
  return values.flatMap((v, i) => (seen.has(v) ? [i] : (seen.add(v), [])));
}

/** What a stack file's hosts say for one role: the listed servers, or one entry for a count. */
export function roleEntries<T>(given: T | T[], path: PropertyKey[]): [PropertyKey[], T][] {
  return Array.isArray(given) ? given.map((h, i) => [[...path, i], h]) : [[path, given]];
}
