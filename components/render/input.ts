import { FleetKeys } from "../keys/material";
import { AddressBook, PlacedHost, placeHosts, PlacedHosts } from "../topology/addresses";
import { Host, Topology } from "../topology";

/** Everything a host's files are made from. Plain data: the Pulumi layer resolves Outputs first. */
export interface RenderInput {
  topology: Topology;
  addresses: AddressBook;
  keys: FleetKeys;
  /** Every host joined with its addresses (placeHosts). */
  hosts: PlacedHosts;
  /** The MTA-STS policy body the record set's id was made from (RecordSet.mtaSts). */
  mtaStsPolicy: string;
  /**
   * aws: where the stores' restic repositories live unless backup.repository says otherwise (the
   * stack's bucket, `s3:…/<bucket>`); each store's is `<base>/<store>` (render/backup.ts).
   */
  backupRepositoryBase?: string;
}

export function renderInput(topology: Topology, addresses: AddressBook, keys: FleetKeys, mtaStsPolicy: string): RenderInput {
  return { topology, addresses, keys, hosts: placeHosts(topology, addresses), mtaStsPolicy };
}

/** The host joined with its addresses. */
export function placed(input: RenderInput, host: Host): PlacedHost {
  return input.hosts[host.name];
}

/** Where each host keeps its certificate; one layout for every role. */
export const TLS_PATHS = {
  cert: "/etc/mailfleet/tls/host.crt",
  key: "/etc/mailfleet/tls/host.key",
  ca: "/etc/mailfleet/tls/ca.crt",
} as const;

/** rspamd's proxy worker in milter mode, on the same host as Postfix. */
export const RSPAMD_MILTER = "inet:127.0.0.1:11332";
