import { FleetKeys } from "../keys/material";
import { PlacedHost, PlacedHosts } from "../topology/addresses";
import { Host, Topology } from "../topology";

/** Everything a host's files are made from. Plain data: the Pulumi layer resolves Outputs first. */
export interface RenderInput {
  topology: Topology;
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

/** hosts: every host joined with its addresses (placeHosts), once for the whole build. */
export function renderInput(topology: Topology, hosts: PlacedHosts, keys: FleetKeys, mtaStsPolicy: string, backupRepositoryBase?: string): RenderInput {
  return { topology, keys, hosts, mtaStsPolicy, ...(backupRepositoryBase ? { backupRepositoryBase } : {}) };
}

/** The host joined with its addresses. */
export function placed(input: RenderInput, host: Host): PlacedHost {
  return input.hosts[host.name];
}

/** Where the push puts each host's bootstrap certificate (from the fleet CA); one layout for every role. */
export const TLS_PATHS = {
  cert: "/etc/mailfleet/tls/host.crt",
  key: "/etc/mailfleet/tls/host.key",
  ca: "/etc/mailfleet/tls/ca.crt",
} as const;

/**
 * What the daemons read: each certificate lineage's files, never written by the push itself.
 * mailfleet-cert-deploy installs them: from the bootstrap certificate when deploy.sh finds none
 * (and on every push with tls.mode fleet-ca), from certbot's lineage when it issues or renews one.
 */
export const TLS_LIVE_DIR = "/etc/mailfleet/tls/live";
export function liveTls(lineage: string) {
  return {
    cert: `${TLS_LIVE_DIR}/${lineage}.crt`,
    key: `${TLS_LIVE_DIR}/${lineage}.key`,
    /** Key then chain in one file, replaced by one rename: Postfix reads both from it (smtpd_tls_chain_files). */
    chain: `${TLS_LIVE_DIR}/${lineage}.pem`,
  };
}
/** `<mode> <lineage> <daemon>…` per line: what deploy.sh seeds and the deploy hook reloads. */
export const TLS_LINEAGES = "/etc/mailfleet/tls/lineages";
/** certbot's deploy hook, and deploy.sh's installer of the bootstrap certificate. */
export const CERT_DEPLOY_HOOK = "/usr/local/sbin/mailfleet-cert-deploy";
/** The CAs a store checks another store's certificate with: the fleet CA and the system's trust store (deploy.sh joins them). */
export const TLS_PEERS_CA = `${TLS_LIVE_DIR}/peers.crt`;

/** rspamd's proxy worker in milter mode, on the same host as Postfix. */
export const RSPAMD_MILTER = "inet:127.0.0.1:11332";
