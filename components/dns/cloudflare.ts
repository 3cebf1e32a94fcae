/**
 * DNS backend `cloudflare`: one cloudflare.DnsRecord per record of the record set. The mapping
 * from a record to the resource's arguments is the pure function below; the resources take it
 * for every record the core produced, and nothing else.
 */
import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import { DnsRecord, txtStrings } from "../records";
import { FleetSpec } from "../config/spec";
import { Topology } from "../topology";
import type { DnsBackend, DnsInput } from "./types";
import { DsByZone, dsLine } from "./ds";
import { dnsNextSteps } from "./nextSteps";
import { recordResourceName, recordsAsPlanned } from "./plan";

/** The Cloudflare arguments of one record, apart from the zone id. */
export interface CloudflareRecordArgs {
  name: string;
  type: DnsRecord["type"];
  ttl: number;
  /** Mail hosts must be reached directly: Cloudflare's proxy speaks HTTP only and would hide the hosts' addresses. */
  proxied: false;
  content?: string;
  priority?: number;
  data?: { priority: number; weight: number; port: number; target: string } | { usage: number; selector: number; matchingType: number; certificate: string };
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
    case "TLSA":
      return { ...base, data: { usage: record.usage, selector: record.selector, matchingType: record.matchingType, certificate: record.digest } };
  }
}

/** Each zone's id: given in the stack, or looked up by name once. */
function zoneIdLookup(spec: FleetSpec, parent: pulumi.Resource): (zone: string) => pulumi.Input<string> {
  const zoneIds = new Map<string, pulumi.Input<string>>();
  return (zone) => {
    if (!zoneIds.has(zone)) {
      zoneIds.set(zone, spec.cloudflare?.zoneIds[zone] ?? cloudflare.getZoneOutput({ filter: { name: zone } }, { parent }).id);
    }
    return zoneIds.get(zone)!;
  };
}

/** Cloudflare's permission group for editing DNS records (the dashboard's Zone:DNS:Edit), all certbot-dns-cloudflare needs. */
export const DNS_WRITE_PERMISSION_GROUP = "DNS Write";

/** The one policy of the hosts' DNS-01 token: DNS Write on the stack's zones, nothing else (no other zone, no account setting). */
export function acmeTokenPolicy(permissionGroupId: string, zoneIds: string[]) {
  return {
    effect: "allow",
    permissionGroups: [{ id: permissionGroupId }],
    resources: JSON.stringify(Object.fromEntries(zoneIds.map((id) => [`com.cloudflare.api.account.zone.${id}`, "*"]))),
  };
}

/**
 * The API token the hosts' certbot answers DNS-01 with: the stack's own (cloudflare.acmeApiToken),
 * else one this stack creates scoped to its zones (the provider's token then needs the permission
 * to create API tokens). Secret.
 */
export function cloudflareAcmeToken(spec: FleetSpec, parent: pulumi.Resource): pulumi.Output<string> {
  if (spec.cloudflare?.acmeApiToken) return pulumi.secret(spec.cloudflare.acmeApiToken);
  const zoneId = zoneIdLookup(spec, parent);
  const group = cloudflare
    .getApiTokenPermissionGroupsListOutput({ name: encodeURIComponent(DNS_WRITE_PERMISSION_GROUP), scope: "com.cloudflare.api.account.zone" }, { parent })
    .apply((list) => {
      const found = list.results.find((g) => g.name === DNS_WRITE_PERMISSION_GROUP);
      if (!found) throw new Error(`Cloudflare has no permission group "${DNS_WRITE_PERMISSION_GROUP}"`);
      return found.id;
    });
  const token = new cloudflare.ApiToken(
    "acme-dns01",
    {
      name: `mailfleet ${spec.serverDomain} DNS-01`,
      policies: [pulumi.all([group, pulumi.all(spec.dnsZones.map(zoneId))]).apply(([id, zones]) => acmeTokenPolicy(id, zones))],
    },
    { parent, additionalSecretOutputs: ["value"] },
  );
  return pulumi.secret(token.value);
}

export function cloudflareDns(topology: Topology, input: DnsInput, parent: pulumi.Resource): DnsBackend {
  const zoneId = zoneIdLookup(topology.spec, parent);
  // The real records, one per planned resource in the plan's order.
  const actual = pulumi
    .all([input.recordSet, input.addresses])
    .apply(([set, addresses]) => recordsAsPlanned(input.plan, set.records, addresses).map(cloudflareRecordArgs));

  const addressRecords = new Map<string, pulumi.Resource[]>();
  input.plan.forEach((record, i) => {
    const args = actual.apply((all) => all[i]);
    const resource = new cloudflare.DnsRecord(
      recordResourceName(record.key),
      {
        zoneId: zoneId(record.zone),
        // What a record is (name, type, TTL) is known at preview; what it holds may wait for addresses and keys.
        name: record.name,
        type: record.type,
        ttl: record.ttl,
        proxied: false,
        content: args.apply((a) => a.content),
        priority: args.apply((a) => a.priority),
        data: args.apply((a) => a.data),
      },
      { parent },
    );
    // A host's own address records: what its reverse DNS must wait for.
    if ("host" in record.owner && (record.type === "A" || record.type === "AAAA")) {
      addressRecords.set(record.owner.host, [...(addressRecords.get(record.owner.host) ?? []), resource]);
    }
  });

  return { addressRecords, nextSteps: dnsNextSteps(topology.spec), ...(topology.spec.dnssec ? { ds: zoneDnssec(topology.spec, zoneId, parent) } : {}) };
}

/** Cloudflare's DNSSEC in the form the parent takes (the same lines the Knot backend gives). */
export function cloudflareDsLine(zone: string, d: { keyTag: number; algorithm: string; digestType: string; digest: string }): string {
  return dsLine({ zone, keyTag: d.keyTag, algorithm: Number(d.algorithm), digestType: Number(d.digestType), digest: d.digest });
}

/** DNSSEC on for every zone: Cloudflare signs (ECDSA P-256) and gives the DS for the parent. */
function zoneDnssec(spec: FleetSpec, zoneId: (zone: string) => pulumi.Input<string>, parent: pulumi.Resource): pulumi.Output<DsByZone> {
  const entries = spec.dnsZones.map((zone) => {
    const dnssec = new cloudflare.ZoneDnssec(`dnssec-${zone}`, { zoneId: zoneId(zone), status: "active" }, { parent });
    return pulumi
      .all([dnssec.keyTag, dnssec.algorithm, dnssec.digestType, dnssec.digest])
      .apply(([keyTag, algorithm, digestType, digest]): [string, string[]] => [zone, [cloudflareDsLine(zone, { keyTag, algorithm, digestType, digest })]]);
  });
  return pulumi.all(entries).apply((pairs) => Object.fromEntries(pairs));
}
