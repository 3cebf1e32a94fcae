/** What every compute backend hands the fleet; aws.ts and byo.ts implement it, index.ts picks one. */
import * as pulumi from "@pulumi/pulumi";
import { AddressBook } from "../topology/addresses";
import type { FleetPtr } from "./nextSteps";

export interface Compute {
  /** Every host's published addresses, once the backend has them. */
  addresses: pulumi.Output<AddressBook>;
  /** Where the push reaches each host over SSH. */
  sshHosts: Record<string, pulumi.Input<string>>;
  /** What a host's push must wait for: the machine and the way in. */
  machines: Record<string, pulumi.Resource[]>;
  /**
   * Sets reverse DNS for the hosts' addresses, a step after DNS: each host's PTR waits for the
   * resources that publish its address records (addressRecords, host name -> resources).
   */
  publishReverseDns(addressRecords: ReadonlyMap<string, pulumi.Resource[]>): void;
  /**
   * The stack's own backup storage (aws: the S3 bucket); a store's restic repository is
   * `<repositoryBase>/<store name>`. byo has none: the stack names its repository.
   */
  backup?: { bucket: pulumi.Output<string>; repositoryBase: pulumi.Output<string> };
  /** What the operator still has to do outside this stack. */
  nextSteps(build: FleetPtr): string[];
}
