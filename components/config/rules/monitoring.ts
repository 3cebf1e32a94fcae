/** Rules for what the monitoring hosts watch. */
import { blocklistZones } from "../dnsList";
import { hostCount } from "../schema";
import { problem, Rule } from "./input";

/**
 * The most blocklist probes a fleet may have: each asks its list about one sending address every
 * probe interval (render/monitoring/targets.ts blocklistProbes), and lists limit free queries.
 */
export const MAX_BLOCKLIST_PROBES = 500;

/** One probe per sending address (the edges' and outbound hosts' IPv4, and IPv6 when on) and list zone. */
export const blocklistProbesBounded: Rule = ({ c, ok }) => {
  if (!ok("hosts", "spam", "ipv6")) return [];
  const addresses = (hostCount(c.hosts.edge) + hostCount(c.hosts.outbound)) * (c.ipv6 ? 2 : 1);
  const zones = blocklistZones(c.spam.dnsbls).length;
  return addresses * zones > MAX_BLOCKLIST_PROBES
    ? [
        problem(
          ["spam", "dnsbls"],
          `${addresses} sending addresses × ${zones} list zones make ${addresses * zones} blocklist probes, more than ${MAX_BLOCKLIST_PROBES}: the monitoring hosts would query the lists too often`,
          "list fewer zones (the lists that matter to your receivers)",
        ),
      ]
    : [];
};
