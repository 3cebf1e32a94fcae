/**
 * What an operator must do besides `pulumi up`, per DNS backend. Pure, so the offline plan prints
 * the same steps the stack exports.
 */
import { FleetSpec } from "../config/spec";

/** `zone`: the registrar must delegate the zones to the nameservers; Cloudflare already serves its zones. */
export function dnsNextSteps(spec: FleetSpec): string[] {
  if (spec.dns !== "zone") return [];
  if (!spec.zone) throw new Error("dns: zone needs the zone settings (nameservers)");
  const nameservers = spec.zone.nameservers.map((ns) => `${ns.name} (${[ns.ipv4, ...(ns.ipv6 ? [ns.ipv6] : [])].join(", ")})`).join(", ");
  return [
    `Delegation: at the registrar of ${spec.dnsZones.join(", ")}, set the NS records to ${nameservers}, ` +
      "with glue records where a nameserver lies inside the zone it serves.",
  ];
}
