/**
 * DNS backend `zone`: the forward and reverse zone files and the Knot config, pushed over SSH to
 * the primary nameserver with the same deploy script as the mail hosts (role "dns": it checks
 * the config and every zone with knotc and kzonecheck before swapping them in, then reloads Knot).
 */
import * as pulumi from "@pulumi/pulumi";
import { sshPush } from "../push/ssh";
import { Topology } from "../topology";
import type { DnsBackend, DnsInput } from "./types";

export function zoneDns(topology: Topology, input: DnsInput, parent: pulumi.Resource): DnsBackend {
  const { spec } = topology;
  const zone = spec.zone;
  if (!zone) throw new Error("dns: zone needs the zone settings (nameservers)");
  const nameservers = zone.nameservers.map((ns) => `${ns.name} (${[ns.ipv4, ...(ns.ipv6 ? [ns.ipv6] : [])].join(", ")})`).join(", ");
  const nextSteps = [
    `Delegation: at the registrar of ${spec.dnsZones.join(", ")}, set the NS records to ${nameservers}, with glue records where a nameserver lies inside the zone it serves.`,
  ];
  if (spec.push === "none") return { forwardRecords: () => [], nextSteps, dnsServerFiles: input.dnsServerFiles };
  const push = sshPush(spec, "zone-push", { role: "dns", host: zone.sshHost ?? zone.nameservers[0].ipv4, files: input.dnsServerFiles }, { parent });
  return { forwardRecords: () => [push], nextSteps };
}
