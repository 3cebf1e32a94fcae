/** What the DNS backends take and give; cloudflare.ts and zone.ts implement it, index.ts picks one. */
import * as pulumi from "@pulumi/pulumi";
import { RecordSet } from "../records";
import { RenderedFile } from "../render/file";
import { AddressBook } from "../topology/addresses";
import type { DsByZone } from "./ds";
import type { PlannedRecord } from "./plan";

/** What the DNS backends publish: public data only (the record set carries no secret). */
export interface DnsInput {
  /** The records by key, known before addresses and keys are: one resource each (recordPlan). */
  plan: PlannedRecord[];
  recordSet: pulumi.Output<RecordSet>;
  /** The hosts' addresses the record set was built with: its address records must be theirs. */
  addresses: pulumi.Output<AddressBook>;
  /** The authoritative server's config and zone files (dns: zone). */
  dnsServerFiles: pulumi.Output<RenderedFile[]>;
}

export interface DnsBackend {
  /** Host name -> the resources that publish its own A/AAAA records: its reverse DNS waits for them. */
  addressRecords: ReadonlyMap<string, pulumi.Resource[]>;
  nextSteps: string[];
  /** dnssec: each signed zone's DS records for its parent, once the signer has made its keys. */
  ds?: pulumi.Output<DsByZone>;
  /** With push none, the nameserver's files for the operator's own tool to install. */
  dnsServerFiles?: pulumi.Output<RenderedFile[]>;
}
