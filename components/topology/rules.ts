/** What the stack must get right about the names topology gives: unique host names, mailboxes on stores that exist. */
import { ConfigProblem, configProblem as problem } from "../config/errors";
import { FleetSpec } from "../config/spec";
import { namedHosts } from "./naming";

export function topologyProblems(spec: Pick<FleetSpec, "hosts" | "mailboxes">): ConfigProblem[] {
  const hosts = namedHosts(spec).map((n) => n.host);
  const seen = new Set<string>();
  const twice = hosts.filter((h) => seen.has(h.name) || !seen.add(h.name));
  const stores = hosts.filter((h) => h.role === "store").map((h) => h.name);
  const storeSet = new Set(stores);
  return [
    ...twice.map((h) => problem(["hosts", h.role], `host name "${h.name}" is used twice`, "host names must be unique across roles")),
    ...spec.mailboxes.flatMap((m, i) => {
      const path = ["mailboxes", i, "store"];
      if (m.store === undefined) return stores.length === 1 ? [] : [problem(path, `is required when there are ${stores.length} stores`, `one of ${stores.join(", ")}`)];
      return storeSet.has(m.store) ? [] : [problem(path, `store "${m.store}" does not exist`, `stores: ${stores.join(", ") || "none"}`)];
    }),
  ];
}
