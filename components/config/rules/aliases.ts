/** Rules for `aliases`: real addresses in hosted domains, targets that exist, no loops. */
import { email } from "../formats";
import { domainOf, problem, Rule } from "./input";

/** The aliases whose keys are mail addresses, each with its targets as a list. */
export function aliasMap(aliases: Record<string, string | string[]>): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(aliases)
      .filter(([from]) => email.safeParse(from).success)
      .map(([from, to]) => [from, Array.isArray(to) ? to : [to]]),
  );
}

export const aliasAddresses: Rule = ({ c, ok, hosted, mailboxes }) =>
  Object.keys(c.aliases).flatMap((from) => {
    if (!email.safeParse(from).success) return [problem(["aliases", from], "is not a mail address", "alias keys are full addresses like sales@example.com")];
    return [
      ...(ok("domains") && !hosted.has(domainOf(from))
        ? [problem(["aliases", from], `domain "${domainOf(from)}" is not a hosted domain`, `hosted: ${c.domains.join(", ")}`)]
        : []),
      ...(mailboxes.has(from) ? [problem(["aliases", from], "is also a mailbox", "an address is either a mailbox or an alias")] : []),
    ];
  });

/** A target in a hosted domain must be delivered somewhere. */
export const aliasTargetsExist: Rule = ({ ok, hosted, mailboxes, aliases }) =>
  Object.entries(aliases).flatMap(([from, targets]) =>
    targets.flatMap((t, i) =>
      ok("mailboxes") && hosted.has(domainOf(t)) && !mailboxes.has(t) && !Object.hasOwn(aliases, t)
        ? [problem(["aliases", from, i], `${t} is in a hosted domain but is no mailbox or alias`, "add the mailbox, or fix the address")]
        : [],
    ),
  );

export const aliasesWithoutLoops: Rule = ({ aliases }) =>
  aliasLoops(aliases).map((loop) =>
    problem(
      ["aliases", loop[0]],
      loop.length === 2 ? "is an alias of itself" : `forms a loop: ${loop.join(" → ")}`,
      "mail to it would circle until it bounces; point it at a mailbox or a foreign address",
    ),
  );

/**
 * Alias chains that come back to where they started (a → b → a, or a → a), each as the addresses
 * along it. An iterative depth-first walk: each alias and target is visited once.
 */
function aliasLoops(aliases: Record<string, string[]>): string[][] {
  const state = new Map<string, "open" | "done">();
  const loops: string[][] = [];
  for (const start of Object.keys(aliases)) {
    if (state.has(start)) continue;
    const path = [start];
    const next = [0];
    state.set(start, "open");
    while (path.length > 0) {
      const top = path[path.length - 1];
      const target = aliases[top][next[next.length - 1]++];
      if (target === undefined) {
        state.set(top, "done");
        path.pop();
        next.pop();
      } else if (state.get(target) === "open") {
        loops.push([...path.slice(path.lastIndexOf(target)), target]);
      } else if (!state.has(target) && Object.hasOwn(aliases, target)) {
        state.set(target, "open");
        path.push(target);
        next.push(0);
      }
    }
  }
  return loops;
}
