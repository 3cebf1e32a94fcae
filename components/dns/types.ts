/** What the DNS backends take and give; cloudflare.ts and zone.ts implement it, index.ts picks one. */
import * as pulumi from "@pulumi/pulumi";
import { RecordSet } from "../records";
import { RenderedFile } from "../render/file";

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
