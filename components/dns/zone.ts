/**
 * DNS backend `zone`: the forward and reverse zone files and the Knot config, pushed over SSH to
 * the primary nameserver with the same deploy script as the mail hosts (role "dns": it checks
 * the config and every zone with knotc and kzonecheck before swapping them in, then reloads Knot).
 */
import * as pulumi from "@pulumi/pulumi";
import { sshPush } from "../push/ssh";
import { Topology } from "../topology";
import { dnsNextSteps } from "./nextSteps";
import type { DnsBackend, DnsInput } from "./types";

export function zoneDns(topology: Topology, input: DnsInput, parent: pulumi.Resource): DnsBackend {
  const { spec } = topology;
  const nextSteps = dnsNextSteps(spec);
  // dnsNextSteps has refused a zone backend without its settings.
  const zone = spec.zone!;
  if (spec.push === "none") return { addressRecords: new Map(), nextSteps, dnsServerFiles: input.dnsServerFiles };
  const push = sshPush(spec, "zone-push", { role: "dns", host: zone.sshHost ?? zone.nameservers[0].ipv4, files: input.dnsServerFiles }, { parent });
  // Every host's address records are published by the one push of the zone files.
  return { addressRecords: new Map(topology.hosts.map((h) => [h.name, [push]])), nextSteps };
}
