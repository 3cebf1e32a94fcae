/** Rules for `mailboxes`, `admin` and `catchAll`. Which store holds a mailbox is topology's to check: it names the stores. */
import { domainOf, repeats, problem, Rule } from "./input";

export const mailboxesListedOnce: Rule = ({ c }) => {
  const addresses = c.mailboxes.map((m) => m.address);
  return repeats(addresses).map((i) => problem(["mailboxes", i, "address"], `"${addresses[i]}" is listed twice`));
};

/** Each mailbox is in a hosted domain, and its local part cannot be read as an extension. */
export const mailboxAddresses: Rule = ({ c, ok, hosted }) =>
  c.mailboxes.flatMap((m, i) => {
    const path = ["mailboxes", i, "address"];
    const domain = domainOf(m.address);
    return [
      ...(ok("domains") && !hosted.has(domain) ? [problem(path, `domain "${domain}" is not a hosted domain`, `hosted: ${c.domains.join(", ")}`)] : []),
      ...(c.recipientDelimiter && m.address.slice(0, m.address.lastIndexOf("@")).includes(c.recipientDelimiter)
        ? [problem(path, `contains the recipient delimiter "${c.recipientDelimiter}"`, "mail to it would be read as an extension; choose another address")]
        : []),
    ];
  });

export const adminIsMailbox: Rule = ({ c, ok, mailboxes }) =>
  ok("admin", "mailboxes") && !mailboxes.has(c.admin)
    ? [problem(["admin"], `${c.admin} is not a mailbox`, "postmaster@ and abuse@ are delivered there; add it under mailboxes")]
    : [];

export const catchAllsDeliver: Rule = ({ c, ok, hosted, mailboxes }) =>
  Object.entries(c.catchAll).flatMap(([domain, target]) => [
    ...(ok("domains") && !hosted.has(domain) ? [problem(["catchAll", domain], "is not a hosted domain", `hosted: ${c.domains.join(", ")}`)] : []),
    ...(ok("mailboxes") && !mailboxes.has(target) ? [problem(["catchAll", domain], `${target} is not a mailbox`, "a catch-all must deliver to a mailbox")] : []),
  ]);
