/** What the stack must get right about the names topology gives: unique host names, mailboxes on stores that exist, state on hosts that exist. */
import { ConfigProblem, configProblem as problem } from "../config/errors";
import { FleetSpec, MAIL_ROLES } from "../config/spec";
import { namedHosts } from "./naming";

/** A Sentinel quorum is a majority: with three Sentinels the loss of any one host leaves two that agree. */
export const MIN_STATE_HOSTS = 3;

function stateProblems(names: string[], given: string[] | undefined): ConfigProblem[] {
  if (given === undefined) return [];
  const known = new Set(names);
  const seen = new Set<string>();
  return [
    ...given.flatMap((name, i) => {
      if (!known.has(name)) return [problem(["state", "hosts", i], `host "${name}" is not a mail host (edge, outbound or store)`, `mail hosts: ${names.join(", ")}`)];
      return seen.has(name) || !seen.add(name) ? [problem(["state", "hosts", i], `host "${name}" is listed twice`, "list each state host once")] : [];
    }),
    ...(given.length < MIN_STATE_HOSTS
      ? [problem(["state", "hosts"], `${given.length} host(s): a Sentinel quorum needs at least ${MIN_STATE_HOSTS}`, "list three hosts, on different machines, so the loss of any one keeps the state up (or leave state.hosts out)")]
      : []),
  ];
}

export function topologyProblems(spec: Pick<FleetSpec, "hosts" | "mailboxes"> & Partial<Pick<FleetSpec, "state">>): ConfigProblem[] {
  const hosts = namedHosts(spec).map((n) => n.host);
  const seen = new Set<string>();
  const twice = hosts.filter((h) => seen.has(h.name) || !seen.add(h.name));
  const stores = hosts.filter((h) => h.role === "store").map((h) => h.name);
  const storeSet = new Set(stores);
  return [
    ...stateProblems(hosts.filter((h) => MAIL_ROLES.includes(h.role)).map((h) => h.name), spec.state?.hosts),
    ...twice.map((h) => problem(["hosts", h.role], `host name "${h.name}" is used twice`, "host names must be unique across roles")),
    ...spec.mailboxes.flatMap((m, i) => {
      const path = ["mailboxes", i, "store"];
      if (m.store === undefined) return stores.length === 1 ? [] : [problem(path, `is required when there are ${stores.length} stores`, `one of ${stores.join(", ")}`)];
      return storeSet.has(m.store) ? [] : [problem(path, `store "${m.store}" does not exist`, `stores: ${stores.join(", ") || "none"}`)];
    }),
  ];
}
