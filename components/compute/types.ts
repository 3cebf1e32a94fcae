/** What every compute backend hands the fleet; aws.ts and byo.ts implement it, index.ts picks one. */
import * as pulumi from "@pulumi/pulumi";
import { AddressBook } from "../topology/addresses";
import type { FleetPtr } from "./nextSteps";

export interface Compute {
  /** Every host's published addresses, once the backend has them. */
  addresses: pulumi.Output<AddressBook>;
  /**
   * Which hosts have which address families, known before any address is (real addresses for
   * byo, stand-ins for aws): the DNS backend plans one resource per record with it.
   */
  addressShape: AddressBook;
  /** Where the push reaches each host over SSH. */
  sshHosts: Record<string, pulumi.Input<string>>;
  /** What a host's push must wait for: the machine and the way in. */
  machines: Record<string, pulumi.Resource[]>;
  /** Sets reverse DNS for the hosts' addresses; forwardRecords(host) are the records it must follow. */
  publishReverseDns(forwardRecords: (host: string) => pulumi.Resource[]): void;
  /**
   * The stack's own backup storage (aws: the S3 bucket); a store's restic repository is
   * `<repositoryBase>/<store name>`. byo has none: the stack names its repository.
   */
  backup?: { bucket: pulumi.Output<string>; repositoryBase: pulumi.Output<string> };
  /** What the operator still has to do outside this stack. */
  nextSteps(build: FleetPtr): string[];
}
