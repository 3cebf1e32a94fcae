/**
 * DNS backend `zone`: the forward and reverse zone files and the Knot config, pushed over SSH to
 * the primary nameserver with the same deploy script as the mail hosts (role "dns": it checks
 * the config and every zone with knotc and kzonecheck before swapping them in, then reloads Knot).
 * With dnssec, Knot signs the zones with keys it makes and keeps itself; once the push has run, the
 * DS records for the parents are read from it with keymgr.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { asRoot } from "../push/bundle";
import { sshPush } from "../push/ssh";
import { KNOT_CONF, servedZones } from "../render/knot";
import { Topology } from "../topology";
import { keymgrDsScript, parseKeymgrDs } from "./ds";
import { dnsNextSteps } from "./nextSteps";
import type { DnsBackend, DnsInput } from "./types";

/** The command that reads the DS records from the primary (not a push: it changes nothing there). */
export const DS_COMMAND = "zone-ds";

export function zoneDns(topology: Topology, input: DnsInput, parent: pulumi.Resource): DnsBackend {
  const { spec } = topology;
  const nextSteps = dnsNextSteps(spec);
  // dnsNextSteps has refused a zone backend without its settings.
  const zone = spec.zone!;
  if (spec.push === "none") return { addressRecords: new Map(), nextSteps, dnsServerFiles: input.dnsServerFiles };
  const host = zone.sshHost ?? zone.nameservers[0].ipv4;
  const push = sshPush(spec, "zone-push", { role: "dns", host, files: input.dnsServerFiles }, { parent });
  // Every host's address records are published by the one push of the zone files.
  const addressRecords = new Map(topology.hosts.map((h) => [h.name, [push]]));
  if (!spec.dnssec) return { addressRecords, nextSteps };
  const zones = pulumi.unsecret(input.dnsServerFiles.apply(servedZones));
  // Read-only and idempotent; a new zone (trigger) asks again. A KSK rolled by hand: `pulumi up --refresh`.
  const ds = new command.remote.Command(
    DS_COMMAND,
    {
      connection: { host, user: spec.ssh.user, privateKey: pulumi.secret(spec.ssh.privateKey ?? "") },
      create: zones.apply((z) => asRoot(`sh -c '${keymgrDsScript(KNOT_CONF, z)}'`)),
      triggers: [zones],
    },
    { parent, dependsOn: [push] },
  );
  return { addressRecords, nextSteps, ds: ds.stdout.apply(parseKeymgrDs) };
}
