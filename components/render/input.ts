import { FleetKeys } from "../keys/material";
import { AddressBook } from "../topology/addresses";
import { Topology } from "../topology";

/** Everything a host's files are made from. Plain data: the Pulumi layer resolves Outputs first. */
export interface RenderInput {
  topology: Topology;
  addresses: AddressBook;
  keys: FleetKeys;
}

/** Where each host keeps its certificate; one layout for every role. */
export const TLS_PATHS = {
  cert: "/etc/mailfleet/tls/host.crt",
  key: "/etc/mailfleet/tls/host.key",
  ca: "/etc/mailfleet/tls/ca.crt",
} as const;

/** rspamd's proxy worker in milter mode, on the same host as Postfix. */
export const RSPAMD_MILTER = "inet:127.0.0.1:11332";
