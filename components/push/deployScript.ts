/**
 * The deploy script that goes over the wire: its parts (components/push/deploy/*.sh, one concern
 * each) joined in a fixed order under a generated header, which writes the facts the script
 * shares with TypeScript as bash assignments from their one TypeScript home. The script feeds the
 * push's content hash, so joining is pure and byte-for-byte the same for the same inputs.
 */
import { readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { TlsMode } from "../config/spec";
import { ACME_PATHS } from "../render/acme";
import { BACKUP_PATHS } from "../render/backup";
import { FIREWALL_TABLE, NFTABLES_CONF } from "../render/firewall";
import { CERT_DEPLOY_HOOK, TLS_LINEAGES, TLS_LIVE_DIR, TLS_PATHS, TLS_PEERS_CA } from "../render/input";
import { KNOT_CONF, KNOT_ZONE_DIR } from "../render/knot";
import { RESOLVER_PATHS, ROOT_KEY } from "../render/resolver";
import { OUTBOUND_TLS_PATHS, STS_USER } from "../render/outboundTls";
import { LOCK_PATHS } from "../render/lock";
import { LEARN_PATHS } from "../render/dovecot/learn";
import { RSPAMD_DKIM_DIR, RSPAMD_GROUP } from "../render/rspamd";
import { SENTINEL_STATE_FILE, VALKEY_GROUP, VALKEY_PATHS, VALKEY_UNITS } from "../render/valkey";
import { DANE_FIRST_PORT, TlsDaemon } from "../topology";
import { VMAIL } from "../topology/vmail";
import { BUNDLE_ALPHABET, BUNDLE_BASE64, BUNDLE_COUNT, BUNDLE_LINE, BUNDLE_MAGIC, BUNDLE_PATH } from "./bundleGrammar";
import { MONITORING_PATHS, MTAIL_PROGRAM, TEXTFILE_DIR } from "../render/monitoring";
import { POSTFIX_LOG } from "../render/postfix/common";
import { AllowedFile, DEPLOY_ROLES, DeployRole, ROLE_ALLOWLIST, ROLE_DAEMONS, ROLE_PACKAGES } from "./roles";

/**
 * The parts in the order they run: arguments and the role's tables, the bundle (and --check),
 * then the functions of each concern, then the steps that use them.
 */
export const DEPLOY_PARTS = ["start", "bundle", "directories", "daemons", "certificates", "journal", "validate", "main"] as const;
export const DEPLOY_PARTS_DIR = join(__dirname, "deploy");

/** A bash value: a string, an indexed array, or an associative array (by role). */
export type BashValue = string | readonly string[] | Readonly<Record<string, string>>;

/** A single-quoted bash word: nothing inside is expanded; a quote is closed, escaped and reopened. */
export function bashQuote(value: string): string {
  return "'" + value.replaceAll("'", "'\\''") + "'";
}

const VARIABLE_RE = /^[A-Z][A-Z0-9_]*$/;
const KEY_RE = /^[a-z][a-z0-9_-]*$/;

/** One assignment per fact, in the order given; arrays and maps are declared global (-g) so a function could hold them too. */
export function bashAssignments(facts: Readonly<Record<string, BashValue>>): string {
  return Object.entries(facts)
    .map(([name, value]) => {
      if (!VARIABLE_RE.test(name)) throw new Error(`not a bash variable name for the deploy header: ${name}`);
      if (typeof value === "string") return `${name}=${bashQuote(value)}`;
      if (Array.isArray(value)) return `declare -ga ${name}=(${value.map(bashQuote).join(" ")})`;
      const entries = Object.entries(value as Record<string, string>).map(([key, v]) => {
        if (!KEY_RE.test(key)) throw new Error(`not a plain key for ${name}: ${key}`);
        return `[${key}]=${bashQuote(v)}`;
      });
      return `declare -gA ${name}=(${entries.join(" ")})`;
    })
    .join("\n");
}

// Every TLS mode and every daemon a certificate lineage names: the compiler holds each list to its type.
const TLS_MODES = Object.keys({ acme: true, "fleet-ca": true } satisfies Record<TlsMode, true>);
const TLS_DAEMONS = Object.keys({ postfix: true, dovecot: true, nginx: true } satisfies Record<TlsDaemon, true>);
/** A line of the lineages file (render/tls.ts): `<tls mode> <lineage> <daemon>…`. */
export const LINEAGE_LINE = `^(${TLS_MODES.join("|")}) ([a-z0-9-]{1,63})( (${TLS_DAEMONS.join("|")}))*$`;

const byRole = (value: (role: DeployRole) => string): Record<string, string> => Object.fromEntries(DEPLOY_ROLES.map((role) => [role, value(role)]));
const allowLine = (a: AllowedFile) => `${a.path} 0${a.maxMode.toString(8).padStart(3, "0")} ${a.owner}:${a.group}`;

/** What the script shares with TypeScript, each from its home. */
export function deployFacts(): Record<string, BashValue> {
  return {
    DEPLOY_ROLES,
    ROLE_PACKAGES: byRole((role) => ROLE_PACKAGES[role].join(" ")),
    ROLE_DAEMONS: byRole((role) => ROLE_DAEMONS[role].join(" ")),
    ROLE_ALLOWLIST: byRole((role) => ROLE_ALLOWLIST[role].map(allowLine).join("\n")),
    BUNDLE_MAGIC,
    BUNDLE_COUNT,
    BUNDLE_ALPHABET,
    BUNDLE_LINE,
    BUNDLE_BASE64,
    BUNDLE_PATH,
    VMAIL_USER: VMAIL.user,
    VMAIL_GROUP: VMAIL.group,
    VMAIL_UID: String(VMAIL.uid),
    VMAIL_GID: String(VMAIL.gid),
    VMAIL_HOME: VMAIL.home,
    NFT_CONF: NFTABLES_CONF,
    // Two words, as nft takes them: family and name.
    FIREWALL_TABLE: FIREWALL_TABLE.split(" "),
    TLS_CA: TLS_PATHS.ca,
    TLS_CERT: TLS_PATHS.cert,
    TLS_KEY: TLS_PATHS.key,
    TLS_LINEAGES,
    LINEAGE_LINE,
    TLS_LIVE: TLS_LIVE_DIR,
    TLS_PEERS: TLS_PEERS_CA,
    CERT_DEPLOY: CERT_DEPLOY_HOOK,
    CERTS: ACME_PATHS.script,
    CERTS_LOG: ACME_PATHS.log,
    CERTS_UNIT: basename(ACME_PATHS.unit),
    BACKUP_DIR: dirname(BACKUP_PATHS.env),
    BACKUP_SCRIPT: BACKUP_PATHS.script,
    BACKUP_TIMER: BACKUP_PATHS.timer,
    BACKUP_TIMER_UNIT: basename(BACKUP_PATHS.timer),
    KNOT_CONF,
    KNOT_ZONE_DIR,
    UNBOUND_ROOT_KEY: ROOT_KEY,
    UNBOUND_ROOT_SEED: RESOLVER_PATHS.rootAnchorSeed,
    MTA_STS_CONF: OUTBOUND_TLS_PATHS.stsConf,
    STS_USER,
    DANE_FIRST: OUTBOUND_TLS_PATHS.daneFirst,
    DANE_FIRST_UNIT: OUTBOUND_TLS_PATHS.daneFirstUnit,
    DANE_FIRST_PORT: String(DANE_FIRST_PORT),
    PROMETHEUS_CONFIG: MONITORING_PATHS.prometheusConfig,
    ALERTMANAGER_CONFIG: MONITORING_PATHS.alertmanagerConfig,
    TEXTFILE_DIR,
    POSTFIX_LOG,
    // The directory Debian's mtail unit reads its programs from (--progs).
    MTAIL_PROGRAMS: dirname(MTAIL_PROGRAM),
    RSPAMD_DKIM_DIR,
    RSPAMD_GROUP,
    VALKEY_CONF: VALKEY_PATHS.server,
    SENTINEL_CONF: VALKEY_PATHS.sentinel,
    SENTINEL_STATE: SENTINEL_STATE_FILE,
    VALKEY_PID: VALKEY_UNITS.server.pidFile,
    SENTINEL_PID: VALKEY_UNITS.sentinel.pidFile,
    VALKEY_DROP_IN: VALKEY_UNITS.server.dropIn,
    SENTINEL_DROP_IN: VALKEY_UNITS.sentinel.dropIn,
    VALKEY_UNIT: VALKEY_UNITS.server.unit,
    SENTINEL_UNIT: VALKEY_UNITS.sentinel.unit,
    VALKEY_GROUP,
    LOCK_LIST: LOCK_PATHS.list,
    SIEVE_DIR: LEARN_PATHS.sieveDir,
  };
}

/** The joined script: the interpreter line, the generated header, then each part as it is. */
export function joinDeployScript(facts: Readonly<Record<string, BashValue>>, parts: readonly string[]): string {
  const header = [
    "#!/usr/bin/env bash",
    "# Generated by components/push/deployScript.ts: the header from the TypeScript homes of these",
    "# facts, then the parts in components/push/deploy/. Edit those, not this.",
    bashAssignments(facts),
    "",
  ].join("\n");
  return [header, ...parts.map((part) => (part.endsWith("\n") ? part : `${part}\n`))].join("\n");
}

let joined: string | undefined;
/** The script for every host (the role is its argument), read and joined once per process. */
export function deployScript(): string {
  joined ??= joinDeployScript(
    deployFacts(),
    DEPLOY_PARTS.map((part) => readFileSync(join(DEPLOY_PARTS_DIR, `${part}.sh`), "utf8")),
  );
  return joined;
}
