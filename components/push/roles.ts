/**
 * What each role's host is, as the deploy script sees it: the Debian packages it makes sure of,
 * the daemons it validates and reloads, and the files a bundle may write there. The script gets
 * these as its generated header (deployScript.ts), so they live on the host's side: no bundle can
 * widen them.
 */
import { dirname } from "node:path";
import { ACME_PATHS } from "../render/acme";
import { BACKUP_PATHS } from "../render/backup";
import { USERS_PATH } from "../render/dovecot/users";
import { LEARN_PATHS } from "../render/dovecot/learn";
import { HostRole } from "../topology";
import { VMAIL } from "../topology/vmail";
import { argsPath, EXPORTER_UNITS, KNOT_EXPORTER_UNIT, MONITORING_PATHS, MTAIL_PROGRAM, PROMETHEUS_GROUP } from "../render/monitoring";
import { NFTABLES_CONF } from "../render/firewall";
import { CERT_DEPLOY_HOOK, TLS_LINEAGES, TLS_PATHS } from "../render/input";
import { KNOT_CONF, KNOT_ZONE_DIR } from "../render/knot";
import { LOCK_PATHS } from "../render/lock";
import { CONFIG_DIR as POSTFIX_DIR, VIRTUAL_TABLE } from "../render/postfix/common";
import { SRS_ADDRESS_TABLE } from "../render/postfix/forwarding";
import { RELAY_CA_DIR, SMARTHOST_CA } from "../render/postfix/outbound";
import { POSTSRSD_PATHS } from "../render/postsrsd";
import { RESOLVER_PATHS } from "../render/resolver";
import { OUTBOUND_TLS_PATHS } from "../render/outboundTls";
import { ARC_KEY, RSPAMD_DKIM_DIR, RSPAMD_GROUP } from "../render/rspamd";
import { VALKEY_GROUP, VALKEY_PATHS, VALKEY_UNITS } from "../render/valkey";
import { NGINX_CONF, WEB_ROOT } from "../render/web";

export type DeployRole = HostRole;
export const DEPLOY_ROLES: readonly DeployRole[] = ["edge", "outbound", "store", "monitoring", "dns"];

/** rspamd's shared state: any mail host may be a state host (topology.state), so every mail role has the packages. */
const VALKEY = ["valkey-server", "valkey-sentinel", "valkey-tools"];
/** certbot and the DNS-01 plugins of both DNS backends: every role gets its certificates by ACME (tls.mode acme). */
// kdig: mailfleet-certs asks every nameserver for an edge's next TLSA before a DANE key switch (render/acme.ts).
const CERTBOT = ["certbot", "python3-certbot-dns-rfc2136", "python3-certbot-dns-cloudflare", "knot-dnsutils"];

/**
 * Outbound TLS policy on the hosts that send to the Internet (render/outboundTls.ts): Debian's
 * MTA-STS resolver, and dnspython for the DANE-first socketmap in front of it.
 */
const OUTBOUND_TLS = ["postfix-mta-sts-resolver", "python3-dnspython"];
/** Every fleet host's own metrics (render/monitoring): the node exporter, with its flags in /etc/default. */
const NODE_EXPORTER = EXPORTER_UNITS.node;
const MONITORING_UNITS = [EXPORTER_UNITS.prometheus, EXPORTER_UNITS.alertmanager, EXPORTER_UNITS.blackbox];
/** An MTA's queue and delivery metrics (render/monitoring renderMtaExporters). */
const MTA_EXPORTERS = [EXPORTER_UNITS.postfix, EXPORTER_UNITS.mtail];

/**
 * The packages the deploy script makes sure of for each role; the mail roles' are installed at
 * first boot already (compute/userData.ts), so the first push has nothing to fetch.
 */
export const ROLE_PACKAGES: Record<DeployRole, readonly string[]> = {
  // nftables: every role loads its rule set, /etc/nftables.conf, with `nft -f`.
  // unbound: the validating resolver of the hosts that send to the Internet (render/resolver.ts).
  // postsrsd: the SRS addresses of forwarded mail (render/postsrsd.ts).
  edge: ["postfix", "postfix-lmdb", "postsrsd", "rspamd", "unbound", ...OUTBOUND_TLS, "nginx-light", "nftables", NODE_EXPORTER, ...MTA_EXPORTERS, ...VALKEY, ...CERTBOT],
  // libsasl2-modules: the PLAIN/LOGIN mechanisms Postfix needs to log in to a smarthost.
  // nginx-light: rspamd's metrics path for the scrapers (render/web/metrics.ts), on the edges too.
  outbound: ["postfix", "postfix-lmdb", "rspamd", "unbound", ...OUTBOUND_TLS, "libsasl2-modules", "nginx-light", "nftables", NODE_EXPORTER, ...MTA_EXPORTERS, ...VALKEY, ...CERTBOT],
  // restic: the store's backups (render/backup.ts); installed whether or not the stack configures them.
  // curl: the Junk reports to the edges' rspamd (render/dovecot/learn.ts).
  store: ["curl", "dovecot-imapd", "dovecot-lmtpd", "dovecot-pop3d", "dovecot-sieve", "dovecot-managesieved", "restic", "nftables", NODE_EXPORTER, ...VALKEY, ...CERTBOT],
  // unbound: the resolver the blocklist probes ask (render/resolver.ts).
  monitoring: [...MONITORING_UNITS, "unbound", "nftables", NODE_EXPORTER, ...CERTBOT],
  dns: ["knot", "knot-dnsutils", "knot-dnssecutils", EXPORTER_UNITS.knot, "nftables", NODE_EXPORTER],
};

/**
 * The daemons each role validates and reloads, in this order (each has a check_ and a reload_ function
 * in the script). valkey does nothing on a host that is not a state host (its files say which).
 */
export const ROLE_DAEMONS: Record<DeployRole, readonly string[]> = {
  // unbound first: Postfix and rspamd resolve through it from their start; postsrsd and the TLS
  // policy tables (dane_first, mta_sts) before postfix: its lookups need them answering. The MTA exporters after Postfix: its log
  // file exists before they open it.
  edge: ["unbound", "valkey", "postsrsd", "dane_first", "mta_sts", "postfix", ...MTA_EXPORTERS, "rspamd", "nginx", NODE_EXPORTER],
  outbound: ["unbound", "valkey", "dane_first", "mta_sts", "postfix", ...MTA_EXPORTERS, "rspamd", "nginx", NODE_EXPORTER],
  store: ["valkey", "dovecot", NODE_EXPORTER],
  // unbound first: the blackbox exporter's probes resolve the fleet's names and ask the blocklists through it.
  monitoring: ["unbound", EXPORTER_UNITS.blackbox, EXPORTER_UNITS.alertmanager, EXPORTER_UNITS.prometheus, NODE_EXPORTER],
  // knot-exporter after Knot: it asks knotd's control socket at every scrape.
  dns: ["knot", EXPORTER_UNITS.knot, NODE_EXPORTER],
};

/** One file a bundle may write, or with a path ending in "/" any file below that directory. */
export interface AllowedFile {
  path: string;
  /** The highest mode: a file may drop permissions, never add any. */
  maxMode: number;
  owner: string;
  group: string;
}
const allow = (path: string, maxMode = 0o644, group = "root"): AllowedFile => ({ path, maxMode, owner: "root", group });
const below = (dir: string, maxMode = 0o644, group = "root"): AllowedFile => allow(`${dir}/`, maxMode, group);

/** A state host's Valkey and Sentinel files (any mail host may be one). */
const ALLOW_STATE = [...Object.values(VALKEY_PATHS).map((path) => allow(path, 0o640, VALKEY_GROUP)), ...Object.values(VALKEY_UNITS).map((u) => allow(u.dropIn))];
/** Every host's (the nameserver's too): its firewall and its node exporter's flags. */
const ALLOW_ALL = [allow(NFTABLES_CONF), allow(argsPath(NODE_EXPORTER))];
/** The bootstrap certificate, the lineages, and certbot's side (tls.mode acme); the daemons read /etc/mailfleet/tls/live/, which no bundle writes. */
const ALLOW_TLS = [
  allow(TLS_PATHS.ca),
  allow(TLS_PATHS.cert),
  allow(TLS_PATHS.key, 0o600),
  allow(TLS_LINEAGES),
  allow(CERT_DEPLOY_HOOK, 0o755),
  allow(ACME_PATHS.script, 0o755),
  allow(ACME_PATHS.credentials, 0o600),
  allow(ACME_PATHS.eabHmac, 0o600),
  allow(ACME_PATHS.caBundle),
  allow(ACME_PATHS.unit),
  allow(ACME_PATHS.renewDropIn),
  below(ACME_PATHS.daneKeys, 0o600),
];
/** The host's own resolver (render/resolver.ts): the MTAs' and the monitoring hosts'. */
const ALLOW_RESOLVER = Object.values(RESOLVER_PATHS).map((path) => allow(path));
const RSPAMD_LOCAL = "/etc/rspamd/local.d";
const ALLOW_MTA = [
  ...ALLOW_RESOLVER,
  allow(OUTBOUND_TLS_PATHS.stsConf),
  allow(OUTBOUND_TLS_PATHS.daneFirst, 0o755),
  allow(OUTBOUND_TLS_PATHS.daneFirstUnit),
  ...MTA_EXPORTERS.map((unit) => allow(argsPath(unit))),
  allow(MTAIL_PROGRAM),
  allow(`${POSTFIX_DIR}/main.cf`),
  allow(`${POSTFIX_DIR}/master.cf`),
  allow(`${POSTFIX_DIR}/${VIRTUAL_TABLE}`),
  ...["actions.conf", "dkim_signing.conf", "logging.inc", "worker-normal.inc", "worker-proxy.inc", "ratelimit.conf"].map((f) => allow(`${RSPAMD_LOCAL}/${f}`)),
  allow(`${RSPAMD_LOCAL}/redis.conf`, 0o640, RSPAMD_GROUP),
  allow(`${RSPAMD_LOCAL}/worker-controller.inc`, 0o640, RSPAMD_GROUP),
];

/**
 * The files a role's bundle may write: what the role's renderers produce (test/push/bundle.test.ts
 * renders every example stack against these lists).
 */
export const ROLE_ALLOWLIST: Record<DeployRole, readonly AllowedFile[]> = {
  edge: [
    ...ALLOW_ALL,
    ...ALLOW_STATE,
    ...ALLOW_TLS,
    ...ALLOW_MTA,
    allow(`${POSTFIX_DIR}/mailboxes`),
    allow(`${POSTFIX_DIR}/${SRS_ADDRESS_TABLE}`),
    ...["milter_headers.conf", "rbl_group.conf", "greylist.conf", "classifier-bayes.conf", "arc.conf"].map((f) => allow(`${RSPAMD_LOCAL}/${f}`)),
    allow(ARC_KEY, 0o640, RSPAMD_GROUP),
    allow(POSTSRSD_PATHS.settings),
    allow(POSTSRSD_PATHS.secrets, 0o600),
    allow("/etc/rspamd/override.d/rbl.conf"),
    below(dirname(NGINX_CONF)),
    below(dirname(WEB_ROOT)),
  ],
  outbound: [
    ...ALLOW_ALL,
    ...ALLOW_STATE,
    ...ALLOW_TLS,
    ...ALLOW_MTA,
    allow(`${POSTFIX_DIR}/sender_login`),
    allow(`${POSTFIX_DIR}/sasl_passwd`, 0o600),
    allow(`${POSTFIX_DIR}/${SMARTHOST_CA}`),
    allow(`${POSTFIX_DIR}/sender_relay`),
    allow(`${POSTFIX_DIR}/tls_policy`),
    below(RELAY_CA_DIR),
    allow(`${RSPAMD_LOCAL}/sender_login.map`),
    allow("/etc/rspamd/lua.local.d/sender_login.lua"),
    below(RSPAMD_DKIM_DIR, 0o640, RSPAMD_GROUP),
    // rspamd's metrics path only (render/web/metrics.ts).
    allow(NGINX_CONF),
  ],
  store: [
    ...ALLOW_ALL,
    ...ALLOW_STATE,
    ...ALLOW_TLS,
    allow("/etc/dovecot/dovecot.conf"),
    allow(USERS_PATH, 0o640, "dovecot"),
    allow(BACKUP_PATHS.env, 0o600),
    allow(BACKUP_PATHS.password, 0o600),
    allow(BACKUP_PATHS.script, 0o755),
    allow(BACKUP_PATHS.service),
    allow(BACKUP_PATHS.timer),
    allow(LOCK_PATHS.script, 0o755),
    ...[LEARN_PATHS.reportSpam, LEARN_PATHS.reportHam, LEARN_PATHS.fileJunk].map((path) => allow(path)),
    allow(LEARN_PATHS.program, 0o755),
    allow(LEARN_PATHS.passwordHeader, 0o640, VMAIL.group),
  ],
  monitoring: [...ALLOW_ALL, ...ALLOW_TLS, ...ALLOW_RESOLVER, ...MONITORING_UNITS.map((unit) => allow(argsPath(unit))), allow(MONITORING_PATHS.prometheusConfig), allow(MONITORING_PATHS.rules), allow(MONITORING_PATHS.blackboxConfig), allow(MONITORING_PATHS.alertmanagerConfig, 0o640, PROMETHEUS_GROUP), allow(MONITORING_PATHS.alertRelayCa)],
  dns: [...ALLOW_ALL, allow(KNOT_CONF, 0o640, "knot"), below(KNOT_ZONE_DIR, 0o640, "knot"), allow(argsPath(EXPORTER_UNITS.knot)), allow(KNOT_EXPORTER_UNIT)],
};
