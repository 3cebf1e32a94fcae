/**
 * DNS backends: where the record set is published. `cloudflare` makes one record resource per
 * record; `zone` pushes RFC 1035 zone files and the Knot config to an authoritative server.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Compute } from "../compute";
import { RecordSet } from "../records";
import { RenderedFile } from "../render/file";
import { Topology } from "../topology";
import { cloudflareDns } from "./cloudflare";
import { zoneDns } from "./zone";

/** What the DNS backends publish: public data only (the record set carries no secret). */
export interface DnsInput {
  recordSet: pulumi.Output<RecordSet>;
  /** The authoritative server's config and zone files (dns: zone). */
  dnsServerFiles: pulumi.Output<RenderedFile[]>;
}

export interface DnsBackend {
  /** The resources that publish a host's own A/AAAA records: its reverse DNS waits for them. */
  forwardRecords(host: string): pulumi.Resource[];
  nextSteps: string[];
  /** With push none, the nameserver's files for the operator's own tool to install. */
  dnsServerFiles?: pulumi.Output<RenderedFile[]>;
}

export function createDns(topology: Topology, compute: Compute, input: DnsInput, parent: pulumi.Resource): DnsBackend {
  return topology.spec.dns === "cloudflare" ? cloudflareDns(topology, compute, input, parent) : zoneDns(topology, input, parent);
}
