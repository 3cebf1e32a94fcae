/**
 * What an operator must do besides `pulumi up`, per DNS backend. Pure, so the offline plan prints
 * the same steps the stack exports.
 */
import { FleetSpec } from "../config/spec";

/** `zone`: the registrar must delegate the zones to the nameservers; Cloudflare already serves its zones. Then the DS, when signed. */
export function dnsNextSteps(spec: FleetSpec): string[] {
  return [...delegationSteps(spec), ...(spec.dnssec ? [dsStep(spec)] : [])];
}

function delegationSteps(spec: FleetSpec): string[] {
  if (spec.dns !== "zone") return [];
  if (!spec.zone) throw new Error("dns: zone needs the zone settings (nameservers)");
  const nameservers = spec.zone.nameservers.map((ns) => `${ns.name} (${[ns.ipv4, ...(ns.ipv6 ? [ns.ipv6] : [])].join(", ")})`).join(", ");
  return [
    `Delegation: at the registrar of ${spec.dnsZones.join(", ")}, set the NS records to ${nameservers}, ` +
      "with glue records where a nameserver lies inside the zone it serves.",
  ];
}

/** Validating resolvers trust a signed zone only once its parent publishes the DS. */
function dsStep(spec: FleetSpec): string {
  const zones = spec.dnsZones.join(", ");
  if (spec.dns === "cloudflare") {
    return `DNSSEC: Cloudflare signs ${zones}; at each zone's registrar publish its DS record from the stack output \`dnssecDs\` (Cloudflare Registrar does so itself).`;
  }
  return (
    `DNSSEC: Knot signs ${zones} and the reverse zones it serves; at each zone's registrar (for a reverse zone, whoever delegates ` +
    "the addresses to you) publish its DS record from the stack output `dnssecDs` (on the nameserver: `keymgr <zone> ds`), " +
    "then confirm it to Knot with `knotc zone-ksk-submitted <zone>`. `./mf check` shows each zone's chain of trust."
  );
}
