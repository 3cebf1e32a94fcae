/** Rules for `forwarding`: SRS key names listed once. */
import { problem, repeats, Rule } from "./input";

export const srsKeysListedOnce: Rule = ({ c, ok }) =>
  ok("forwarding") ? repeats(c.forwarding.srsKeys).map((i) => problem(["forwarding", "srsKeys", i], `"${c.forwarding.srsKeys[i]}" is listed twice`)) : [];
