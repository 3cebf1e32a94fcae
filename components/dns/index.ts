/**
 * DNS backends: where the record set is published. `cloudflare` makes one record resource per
 * record; `zone` pushes RFC 1035 zone files and the Knot config to an authoritative server.
 */
import * as pulumi from "@pulumi/pulumi";
import { Topology } from "../topology";
import { cloudflareDns } from "./cloudflare";
import type { DnsBackend, DnsInput } from "./types";
import { zoneDns } from "./zone";

export function createDns(topology: Topology, input: DnsInput, parent: pulumi.Resource): DnsBackend {
  return topology.spec.dns === "cloudflare" ? cloudflareDns(topology, input, parent) : zoneDns(topology, input, parent);
}
