/**
 * MailFleet: the one component a stack creates. It composes the keys, the hosts (compute
 * backend), the pure build of records and files (one thin adapter: pulumi.all(...).apply), the
 * DNS backend and the push, and exports what an operator needs.
 */
import * as pulumi from "@pulumi/pulumi";
import { buildFleet } from "../build";
import { createCompute } from "../compute";
import { FleetSpec } from "../config/spec";
import { createDns } from "../dns";
import { cloudflareAcmeToken } from "../dns/cloudflare";
import type { DsByZone } from "../dns/ds";
import { recordPlan } from "../dns/plan";
import { fleetKeyResources } from "../keys/resources";
import { sshPush } from "../push/ssh";
import { DnsRecord } from "../records";
import { RenderedFile } from "../render/file";
import { MonitoringOutputs, monitoringOutputs } from "../render/monitoring";
import { buildTopology, hostsOf } from "../topology";
import { AddressBook, placeHosts } from "../topology/addresses";

export interface MailFleetArgs {
  /** The validated stack config (components/build.ts parseFleet). */
  spec: FleetSpec;
}

export class MailFleet extends pulumi.ComponentResource {
  /** The edge hosts' names: every hosted domain's MX, all at one priority. */
  readonly mxHosts: pulumi.Output<string[]>;
  readonly hostAddresses: pulumi.Output<AddressBook>;
  /** Every record the fleet publishes (the same set either DNS backend publishes). */
  readonly dnsRecords: pulumi.Output<DnsRecord[]>;
  /** `<selector>._domainkey.<domain>` -> the TXT value. */
  readonly dkimTxt: pulumi.Output<Record<string, string>>;
  /** Served at https://mta-sts.<domain>/.well-known/mta-sts.txt. */
  readonly mtaStsPolicy: pulumi.Output<string>;
  readonly nextSteps: pulumi.Output<string[]>;
  /** push: none only — host name -> its files, secret (keys, password hashes). */
  readonly hostFiles?: pulumi.Output<Record<string, RenderedFile[]>>;
  /** push: none with dns: zone only — the nameserver's Knot config and zone files. */
  readonly dnsServerFiles?: pulumi.Output<RenderedFile[]>;
  /** dnssec: zone -> the DS records its parent must publish (dns: zone with push ssh, or cloudflare). */
  readonly dnssecDs?: pulumi.Output<DsByZone>;
  /** For an operator's own Prometheus: file_sd targets with host and role labels, the rule file, the blackbox modules. */
  readonly monitoring: pulumi.Output<MonitoringOutputs>;
  /** aws only — the S3 bucket the stores' restic backups go to. */
  readonly backupBucket?: pulumi.Output<string>;

  constructor(name: string, args: MailFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mailfleet:index:MailFleet", name, {}, opts);
    const { spec } = args;
    const topology = buildTopology(spec);

    const fleetKeys = fleetKeyResources(topology, this);
    const keys =
      spec.dns === "cloudflare" && spec.tls.mode === "acme"
        ? pulumi.all([fleetKeys, cloudflareAcmeToken(spec, this)]).apply(([k, cloudflareAcmeToken]) => ({ ...k, cloudflareAcmeToken }))
        : fleetKeys;
    const compute = createCompute(topology, this);
    // The one adapter between Outputs and the pure core. The build is secret as a whole (it holds
    // the keys); what is public by nature is unwrapped below, one value at a time.
    const build = pulumi
      .all([compute.addresses, keys, compute.backup?.repositoryBase])
      .apply(([addresses, resolved, backupBase]) => buildFleet(spec, addresses, resolved, backupBase));
    const recordSet = pulumi.unsecret(build.apply((b) => b.recordSet));
    const dns = createDns(
      topology,
      { plan: recordPlan(topology), recordSet, addresses: compute.addresses, dnsServerFiles: pulumi.secret(build.apply((b) => b.dnsServerFiles)) },
      this,
    );
    // Reverse DNS, a step of its own once DNS is planned: a PTR waits for its host's address records.
    compute.publishReverseDns(dns.addressRecords);

    if (spec.push === "ssh") {
      for (const host of topology.hosts) {
        // With ACME, a host's first push starts certbot at once: its DNS-01 updates need the
        // nameserver to know the host's TSIG key (zone) and its names to exist.
        const dnsFirst = spec.tls.mode === "acme" ? (dns.addressRecords.get(host.name) ?? []) : [];
        sshPush(
          spec,
          `push-${host.name}`,
          { role: host.role, host: compute.sshHosts[host.name], files: build.apply((b) => () => b.hostFiles[host.name]) },
          { parent: this, dependsOn: [...(compute.machines[host.name] ?? []), ...dnsFirst] },
        );
      }
    } else {
      // Spread once into plain data: each read of a build's hostFiles entry renders that host again.
      this.hostFiles = pulumi.secret(build.apply((b) => ({ ...b.hostFiles })));
      this.dnsServerFiles = dns.dnsServerFiles;
    }

    this.mxHosts = pulumi.output(hostsOf(topology, "edge").map((h) => h.fqdn));
    this.hostAddresses = compute.addresses;
    this.dnsRecords = recordSet.apply((set) => set.records);
    this.dkimTxt = recordSet.apply((set) =>
      Object.fromEntries(set.records.flatMap((r) => (r.type === "TXT" && r.text.startsWith("v=DKIM1;") ? [[r.name, r.text]] : []))),
    );
    this.mtaStsPolicy = recordSet.apply((set) => set.mtaSts.policy);
    this.nextSteps = pulumi.unsecret(build.apply((b) => [...compute.nextSteps(b), ...dns.nextSteps]));
    this.backupBucket = compute.backup?.bucket;
    this.dnssecDs = dns.ds;
    this.monitoring = compute.addresses.apply((addresses) => monitoringOutputs(topology, placeHosts(topology, addresses)));

    this.registerOutputs(this.outputs());
  }

  /** The stack outputs: every output this fleet has. */
  outputs(): Record<string, pulumi.Output<unknown>> {
    return {
      mxHosts: this.mxHosts,
      hostAddresses: this.hostAddresses,
      dnsRecords: this.dnsRecords,
      dkimTxt: this.dkimTxt,
      mtaStsPolicy: this.mtaStsPolicy,
      nextSteps: this.nextSteps,
      monitoring: this.monitoring,
      ...(this.hostFiles ? { hostFiles: this.hostFiles } : {}),
      ...(this.dnsServerFiles ? { dnsServerFiles: this.dnsServerFiles } : {}),
      ...(this.backupBucket ? { backupBucket: this.backupBucket } : {}),
      ...(this.dnssecDs ? { dnssecDs: this.dnssecDs } : {}),
    };
  }
}
