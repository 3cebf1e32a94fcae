/** Rules for what the fleet publishes in DNS: domains, DKIM selectors, SPF's lookup budget, the zones. */
import { spfIncludes, SPF_LOOKUP_LIMIT, spfLookups } from "../spf";
import { hostCount, zonesOf } from "../schema";
import { repeats, problem, Rule } from "./input";

export const domainsListedOnce: Rule = ({ c }) => repeats(c.domains).map((i) => problem(["domains", i], `"${c.domains[i]}" is listed twice`));

export const dkimSelectors: Rule = ({ c, ok }) => {
  if (!ok("dkim")) return [];
  const { selectors, active = selectors[selectors.length - 1] } = c.dkim;
  return [
    ...repeats(selectors).map((i) => problem(["dkim", "selectors", i], `"${selectors[i]}" is listed twice`)),
    ...(selectors.includes(active) ? [] : [problem(["dkim", "active"], `"${active}" is not one of the selectors`, `selectors: ${selectors.join(", ")}`)]),
  ];
};

/** The hosted domains' SPF must stay within RFC 7208's lookup limit, counted as the record set writes it (../spf.ts). */
export const spfWithinLookupLimit: Rule = ({ c, ok }) => {
  const includes = spfIncludes({ spfIncludes: c.spfIncludes, smarthost: ok("smarthost") ? c.smarthost : undefined });
  const edges = ok("hosts") ? hostCount(c.hosts.edge) : 0;
  const lookups = spfLookups(edges, includes.length);
  return lookups > SPF_LOOKUP_LIMIT
    ? [problem(["spfIncludes"], `SPF for the hosted domains would need ${lookups} DNS lookups, over the limit of ${SPF_LOOKUP_LIMIT} (RFC 7208 §4.6.4)`, "drop includes, or flatten them into ip4:/ip6: terms")]
    : [];
};

/** Every name the fleet publishes falls in one of the DNS zones it writes to. */
export const namesInZones: Rule = ({ c, ok }) => {
  if (!ok("dnsZones", "domains")) return [];
  const zones = zonesOf(c);
  const zoneSet = new Set(zones);
  // Walks up the name's labels: a lookup per label, not a scan of every zone per name.
  const inZone = (name: string) => name.split(".").some((_, i, labels) => zoneSet.has(labels.slice(i).join(".")));
  const outside = (path: PropertyKey[], name: string) => problem(path, `${name} is in none of the DNS zones (${zones.join(", ")})`, "add its zone to mailfleet:dnsZones");
  return [
    ...(ok("serverDomain") && !inZone(c.serverDomain) ? [outside(["serverDomain"], c.serverDomain)] : []),
    ...c.domains.flatMap((d, i) => (inZone(d) ? [] : [outside(["domains", i], d)])),
  ];
};

/**
 * BIMI for hosted domains only, and only under an enforced DMARC policy: receivers ignore a logo
 * unless DMARC is quarantine or reject for every message (the fleet publishes no pct, so 100).
 */
export const bimiNeedsEnforcedDmarc: Rule = ({ c, ok, hosted }) =>
  Object.keys(c.bimi).flatMap((domain) => [
    ...(ok("domains") && !hosted.has(domain) ? [problem(["bimi", domain], "is not a hosted domain", `hosted: ${c.domains.join(", ")}`)] : []),
    ...(ok("dmarc") && c.dmarc.policy === "none"
      ? [problem(["bimi", domain], "has a logo but DMARC is p=none, so receivers show no logo", "set dmarc.policy to quarantine or reject (after its reports show your mail passes), or remove the logo")]
      : []),
  ]);
