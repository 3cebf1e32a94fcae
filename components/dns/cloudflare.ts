/**
 * DNS backend `cloudflare`: one cloudflare.DnsRecord per record of the record set. The mapping
 * from a record to the resource's arguments is the pure function below; the resources take it
 * for every record the core produced, and nothing else.
 */
import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import { buildRecordSet, DnsRecord, txtStrings } from "../records";
import { Topology } from "../topology";
import type { Compute } from "../compute/types";
import type { DnsBackend, DnsInput } from "./types";
import { dnsNextSteps } from "./nextSteps";
import { recordKeys, recordResourceName } from "./plan";

/** The Cloudflare arguments of one record, apart from the zone id. */
export interface CloudflareRecordArgs {
  name: string;
  type: DnsRecord["type"];
  ttl: number;
  /** Mail hosts must be reached directly: Cloudflare's proxy speaks HTTP only and would hide the hosts' addresses. */
  proxied: false;
  content?: string;
  priority?: number;
  data?: { priority: number; weight: number; port: number; target: string };
}

/** A TXT value as Cloudflare wants it: RFC 1035 quoted character-strings of at most 255 bytes. */
export function cloudflareTxtContent(text: string): string {
  return txtStrings(text)
    .map((s) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`)
    .join(" ");
}

export function cloudflareRecordArgs(record: DnsRecord): CloudflareRecordArgs {
  const base = { name: record.name, type: record.type, ttl: record.ttl, proxied: false as const };
  switch (record.type) {
    case "A":
    case "AAAA":
      return { ...base, content: record.address };
    case "CNAME":
      return { ...base, content: record.target };
    case "MX":
      return { ...base, content: record.exchange, priority: record.priority };
    case "TXT":
      return { ...base, content: cloudflareTxtContent(record.text) };
    case "SRV":
      return { ...base, data: { priority: record.priority, weight: record.weight, port: record.port, target: record.target } };
  }
}

/** Stand-ins for the DKIM public keys, for planning only: a record's key never depends on its content. */
function plannedDkim(topology: Topology) {
  const { spec } = topology;
  return spec.domains.flatMap((domain) => spec.dkim.selectors.map((selector) => ({ domain, selector, publicKey: "planned" })));
}

export function cloudflareDns(topology: Topology, compute: Compute, input: DnsInput, parent: pulumi.Resource): DnsBackend {
  const { spec } = topology;
  const zoneIds = new Map<string, pulumi.Input<string>>();
  const zoneId = (zone: string): pulumi.Input<string> => {
    if (!zoneIds.has(zone)) {
      zoneIds.set(zone, spec.cloudflare?.zoneIds[zone] ?? cloudflare.getZoneOutput({ filter: { name: zone } }, { parent }).id);
    }
    return zoneIds.get(zone)!;
  };

  const planned = buildRecordSet(topology, compute.addressShape, plannedDkim(topology)).records;
  const plannedKeys = recordKeys(planned, compute.addressShape);
  // The real record set, by the same keys; it must be the planned set exactly, or a record
  // would be published without a resource or a resource left without a record.
  const actual = pulumi.all([input.recordSet, compute.addresses]).apply(([set, addresses]) => {
    const keys = recordKeys(set.records, addresses);
    const missing = plannedKeys.filter((k) => !keys.includes(k));
    const extra = keys.filter((k) => !plannedKeys.includes(k));
    if (missing.length || extra.length)
      throw new Error(`the record set differs from its plan: missing ${missing.join(", ") || "none"}; unplanned ${extra.join(", ") || "none"}`);
    return new Map(keys.map((k, i) => [k, cloudflareRecordArgs(set.records[i])]));
  });

  const byHost = new Map<string, pulumi.Resource[]>();
  planned.forEach((record, i) => {
    const key = plannedKeys[i];
    const known = cloudflareRecordArgs(record);
    const args = actual.apply((m) => m.get(key)!);
    const resource = new cloudflare.DnsRecord(
      recordResourceName(key),
      {
        zoneId: zoneId(record.zone),
        // What a record is (name, type, TTL) is known at preview; what it holds may wait for addresses and keys.
        name: known.name,
        type: known.type,
        ttl: known.ttl,
        proxied: known.proxied,
        content: args.apply((a) => a.content),
        priority: args.apply((a) => a.priority),
        data: args.apply((a) => a.data),
      },
      { parent },
    );
    // A host's own address records: what its reverse DNS must wait for.
    if ("host" in record.owner && (record.type === "A" || record.type === "AAAA")) {
      byHost.set(record.owner.host, [...(byHost.get(record.owner.host) ?? []), resource]);
    }
  });

  return { forwardRecords: (host) => byHost.get(host) ?? [], nextSteps: dnsNextSteps(topology.spec) };
}
