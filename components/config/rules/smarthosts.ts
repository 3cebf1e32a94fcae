/** Rules for the relays: a domain's relay serves a hosted domain, and no relay is one of the fleet's own names. */
import { problem, Rule } from "./input";

export const domainSmarthostsHosted: Rule = ({ c, ok, hosted }) =>
  ok("domainSmarthosts", "domains")
    ? Object.keys(c.domainSmarthosts)
        .filter((domain) => !hosted.has(domain))
        .map((domain) =>
          problem(["domainSmarthosts", domain], `"${domain}" is not a hosted domain`, `list it under mailfleet:domains, or remove its relay (hosted: ${[...hosted].join(", ")})`),
        )
    : [];

/**
 * A relay named under serverDomain is one of the fleet's own hosts: the outbound MTA would send the
 * mail back to the fleet, and alert mail would depend on the fleet it reports on.
 */
export const relaysOutsideFleet: Rule = ({ c, ok }) => {
  if (!ok("serverDomain")) return [];
  const own = (host: string) => host === c.serverDomain || host.endsWith(`.${c.serverDomain}`);
  const relays: [PropertyKey[], string][] = [
    ...(ok("smarthost") && c.smarthost ? [[["smarthost", "host"], c.smarthost.host] as [PropertyKey[], string]] : []),
    ...(ok("domainSmarthosts") ? Object.entries(c.domainSmarthosts).map(([domain, r]) => [["domainSmarthosts", domain, "host"], r.host] as [PropertyKey[], string]) : []),
    ...(ok("monitoring") && c.monitoring.email ? [[["monitoring", "email", "relay", "host"], c.monitoring.email.relay.host] as [PropertyKey[], string]] : []),
  ];
  return relays
    .filter(([, host]) => own(host))
    .map(([path, host]) => problem(path, `"${host}" is one of the fleet's own names (under ${c.serverDomain})`, "name the relay provider's host: the fleet cannot relay through itself"));
};

/** Postfix keys a relay's TLS policy by `[host]:port`: two domains relaying there must trust it alike. */
export const sharedRelaysTrustAlike: Rule = ({ c, ok }) => {
  if (!ok("domainSmarthosts")) return [];
  const first = new Map<string, string | undefined>();
  return Object.entries(c.domainSmarthosts).flatMap(([domain, r]) => {
    const place = `${r.host}:${r.port}`;
    if (!first.has(place)) return (first.set(place, r.caCertificate), []);
    return first.get(place) === r.caCertificate
      ? []
      : [problem(["domainSmarthosts", domain, "caCertificate"], `differs from that of another domain relaying through ${place}`, "give every domain that uses this relay the same caCertificate (or none)")];
  });
};
