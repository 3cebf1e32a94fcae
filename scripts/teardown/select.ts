/**
 * Which test stacks the teardown may destroy: pure, so every rule is unit-tested without an engine.
 *
 * The creating side (the pull-request workflow, the engine tests) stamps each test stack with two
 * stack tags when it creates it; a stack expires TTL hours after its creation. Anything that is not
 * clearly a test stack is left alone: no prefix, a protected word in the name, missing or malformed
 * tags all mean "keep" (and say why), never "destroy". What a name says (the test prefix, protected
 * words) is components/stackName.ts.
 */
import { checkPrefix, shortName, testStackRefusal } from "../../components/stackName";

/** When the stack was created: ISO 8601 UTC, e.g. 2026-03-01T02:00:00Z. Set once, never changed. */
export const TAG_CREATED = "mailfleet:created";
/** How long the stack may live after its creation, in whole hours. */
export const TAG_TTL_HOURS = "mailfleet:ttl-hours";
/** A month: a longer-lived stack is not a test stack, and a typo like 24000 should not pin one forever. */
export const MAX_TTL_HOURS = 720;

export interface StackInfo {
  /** As the backend lists it; may be qualified (`organization/mailfleet/test-pr-12`). */
  name: string;
  tags: Record<string, string>;
}

export type Action = "destroy" | "keep" | "refuse";

export interface Decision {
  stack: string;
  action: Action;
  /** Why, in words an operator reads in the nightly log. */
  reason: string;
}

export interface SelectOptions {
  prefix: string;
  now: Date;
  /** Stacks named on the command line: only these are considered, destroyed regardless of TTL. */
  explicit: string[];
}

/** When the stack expires, or why that cannot be told from its tags. */
export function expiry(tags: Record<string, string>): { at: Date } | { problem: string } {
  const created = tags[TAG_CREATED];
  const ttl = tags[TAG_TTL_HOURS];
  if (created === undefined || ttl === undefined) return { problem: `has no ${TAG_CREATED} and ${TAG_TTL_HOURS} tags` };
  // Only the full UTC form the creating side writes: a local time or a bare date would shift the
  // expiry by the runner's time zone.
  const createdMs = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/.test(created) ? Date.parse(created) : NaN;
  if (Number.isNaN(createdMs)) return { problem: `${TAG_CREATED} "${created}" is not an ISO 8601 UTC time like 2026-03-01T02:00:00Z` };
  if (!/^[0-9]{1,4}$/.test(ttl) || Number(ttl) < 1 || Number(ttl) > MAX_TTL_HOURS) {
    return { problem: `${TAG_TTL_HOURS} "${ttl}" is not a whole number of hours from 1 to ${MAX_TTL_HOURS}` };
  }
  return { at: new Date(createdMs + Number(ttl) * 3_600_000) };
}

function hours(ms: number): string {
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/**
 * The decision for every stack the run is about. Without explicit names: every listed stack with
 * the prefix (stacks without it are not mentioned at all: they are none of this tool's business).
 * With explicit names: exactly those, in the order given; a name that is not listed is refused.
 */
export function selectStacks(stacks: StackInfo[], options: SelectOptions): Decision[] {
  const prefixProblem = checkPrefix(options.prefix);
  if (prefixProblem) throw new Error(prefixProblem);

  if (options.explicit.length > 0) {
    return [...new Set(options.explicit)].map((wanted): Decision => {
      const stack = stacks.find((s) => s.name === wanted || shortName(s.name) === wanted);
      const name = stack?.name ?? wanted;
      const refused = testStackRefusal(name, options.prefix);
      if (refused) return { stack: name, action: "refuse", reason: refused };
      if (!stack) return { stack: name, action: "refuse", reason: "no such stack in this backend" };
      return { stack: name, action: "destroy", reason: "named explicitly" };
    });
  }

  return stacks
    .filter((s) => shortName(s.name).startsWith(options.prefix))
    .map((s): Decision => {
      const refused = testStackRefusal(s.name, options.prefix);
      if (refused) return { stack: s.name, action: "refuse", reason: refused };
      const when = expiry(s.tags);
      if ("problem" in when) return { stack: s.name, action: "keep", reason: `${when.problem}; name it explicitly to destroy it` };
      const left = when.at.getTime() - options.now.getTime();
      if (left > 0) return { stack: s.name, action: "keep", reason: `expires in ${hours(left)} (${when.at.toISOString()})` };
      return { stack: s.name, action: "destroy", reason: `expired ${hours(-left)} ago (${when.at.toISOString()})` };
    });
}

/** The tags the creating side sets on a new test stack. */
export function creationTags(now: Date, ttlHours: number): Record<string, string> {
  if (!Number.isInteger(ttlHours) || ttlHours < 1 || ttlHours > MAX_TTL_HOURS) {
    throw new Error(`a test stack's TTL must be a whole number of hours from 1 to ${MAX_TTL_HOURS}, not ${ttlHours}`);
  }
  // Whole seconds: the form expiry() accepts and `date -u +%Y-%m-%dT%H:%M:%SZ` writes.
  return { [TAG_CREATED]: now.toISOString().replace(/\.\d{3}Z$/, "Z"), [TAG_TTL_HOURS]: String(ttlHours) };
}
