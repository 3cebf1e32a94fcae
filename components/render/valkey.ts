/**
 * rspamd's shared state (issue 23): Debian's valkey-server and valkey-sentinel on the state hosts
 * (topology.state). One primary, the other state hosts its replicas, a Sentinel on each: the loss of
 * any one host leaves a quorum that promotes a replica, and rspamd follows the new primary through
 * the Sentinels. Listeners are on the host's private address only (and loopback); nftables admits
 * them from the edges, the outbound hosts and the state hosts (render/firewall.ts).
 */
import { createHash } from "node:crypto";
import { StatePasswords } from "../keys/material";
import { Host, SENTINEL_PORT, Topology, VALKEY_PORT } from "../topology";
import { internalIpv4 } from "../topology/addresses";
import { file, RenderedFile } from "./file";
import { RenderInput } from "./input";

/** The group Debian's valkey packages run as: it reads the rendered files, never writes them. */
export const VALKEY_GROUP = "valkey";
/**
 * What the push writes. Sentinel rewrites its own config file as it learns (the current primary, the
 * other Sentinels), so it runs from a copy under /var/lib/valkey that deploy.sh makes from this one
 * whenever this one changes.
 */
export const VALKEY_PATHS = {
  server: "/etc/mailfleet/valkey/valkey.conf",
  sentinel: "/etc/mailfleet/valkey/sentinel.conf",
} as const;
/** Sentinel's own copy of its config, which it rewrites (deploy.sh makes it from VALKEY_PATHS.sentinel). */
export const SENTINEL_STATE_FILE = "/var/lib/valkey/sentinel.conf";
/**
 * On a systemd host Debian's own units run the daemons (started at boot, restarted when they die),
 * pointed at the fleet's files by a drop-in each. The units' sandbox lets them write only
 * /var/lib/valkey, /var/log/valkey and their runtime directory: the data, the logs, Sentinel's copy
 * and the pid files (the units' PIDFile=) are there.
 */
export const VALKEY_UNITS = {
  server: { daemon: "valkey-server", unit: "valkey-server.service", dropIn: "/etc/systemd/system/valkey-server.service.d/mailfleet.conf", pidFile: "/run/valkey/valkey-server.pid", config: VALKEY_PATHS.server },
  sentinel: { daemon: "valkey-sentinel", unit: "valkey-sentinel.service", dropIn: "/etc/systemd/system/valkey-sentinel.service.d/mailfleet.conf", pidFile: "/run/sentinel/valkey-sentinel.pid", config: SENTINEL_STATE_FILE },
} as const;
/** The master name the Sentinels monitor and rspamd asks them for. */
export const STATE_MASTER = "mailfleet";

/** An ACL password as Valkey stores it: SHA-256 in hex, so the server's file holds no password of rspamd's or Sentinel's. */
function hashed(password: string): string {
  if (!/^[0-9a-f]{64}$/.test(password)) throw new Error("a state password must be 64 hex digits (keys/generate.ts generatePassword)");
  return `#${createHash("sha256").update(password).digest("hex")}`;
}

/** The address a state host's Valkey and Sentinel listen on, and the others reach it at. */
export function stateAddress(input: RenderInput, name: string): string {
  return internalIpv4(input.hosts[name].addresses);
}

/** Sentinel's down-after: the primary is failed over after this many seconds of silence. */
function sentinelTimings(topology: Topology): { downAfterMs: number; failoverTimeoutMs: number } {
  const downAfterMs = topology.spec.state.failoverAfterSeconds * 1000;
  // A failover that stalls is retried after failover-timeout; a few down-after periods, at least 10 s.
  return { downAfterMs, failoverTimeoutMs: Math.max(10_000, 6 * downAfterMs) };
}

/**
 * The ACL users: rspamd reads and writes keys and runs its Lua scripts, but no admin or dangerous
 * command (no FLUSHALL, CONFIG, DEBUG, SHUTDOWN); the replicas only sync; Sentinel gets exactly the
 * commands Valkey's documentation lists for it. The default user is off: no unauthenticated access.
 */
function serverUsers(passwords: StatePasswords): string[] {
  return [
    "user default off",
    `user rspamd on ${hashed(passwords.rspamd)} ~* &* +@all -@admin -@dangerous +info +keys`,
    `user replica on ${hashed(passwords.replica)} -@all +psync +replconf +ping`,
    `user sentinel on ${hashed(passwords.sentinel)} &* -@all +multi +slaveof +replicaof +ping +exec +subscribe +config|rewrite +role +publish +info +client|setname +client|kill +script|kill`,
  ];
}

/**
 * Where a daemon listens and keeps its files; deploy.sh finds it by the pid file. Daemonized where
 * deploy.sh starts it itself (no systemd); the units' command line says --daemonize no.
 */
function runtime(address: string, port: number, which: keyof typeof VALKEY_UNITS): string[] {
  const { daemon, pidFile } = VALKEY_UNITS[which];
  return [`bind ${address} 127.0.0.1`, `port ${port}`, "daemonize yes", `pidfile ${pidFile}`, `logfile /var/log/valkey/${daemon}.log`, "dir /var/lib/valkey"];
}

/** A drop-in that makes Debian's unit run the fleet's file, as Debian's own ExecStart does its own. */
function dropIn(which: keyof typeof VALKEY_UNITS): RenderedFile {
  const { daemon, unit, dropIn, config } = VALKEY_UNITS[which];
  return file(dropIn, [`# Rendered by mailfleet: Debian's ${unit} with the fleet's file (render/valkey.ts).`, "[Service]", "ExecStart=", `ExecStart=/usr/bin/${daemon} ${config} --supervised systemd --daemonize no`, ""].join("\n"));
}

export function renderValkey(input: RenderInput, host: Host): RenderedFile[] {
  const { topology } = input;
  const { state } = topology;
  if (!state.hosts.includes(host.name)) return [];
  const own = stateAddress(input, host.name);
  const primary = stateAddress(input, state.primary);
  const passwords = input.keys.state;
  const { downAfterMs, failoverTimeoutMs } = sentinelTimings(topology);
  const server = [
    `# Rendered by mailfleet: rspamd's shared state on ${host.fqdn} (Valkey; Sentinel picks the primary).`,
    "# The private address only (and loopback for the host's own checks); nftables admits the fleet's users.",
    ...runtime(own, VALKEY_PORT, "server"),
    "protected-mode yes",
    "# Persistence: an append-only file synced every second plus snapshots, so a restart keeps",
    "# greylisting, rate limits and Bayes (a replica also resyncs from the primary).",
    "appendonly yes",
    "appendfsync everysec",
    "save 3600 1 300 100 60 10000",
    `maxmemory ${topology.spec.state.maxMemoryMb}mb`,
    "# noeviction: when memory is full, writes fail loudly (rspamd logs the error) instead of Valkey",
    "# silently dropping greylist or rate-limit keys, which all carry a TTL and would be the first",
    "# victims of a volatile-* policy. Raise state.maxMemoryMb when the log says so.",
    "maxmemory-policy noeviction",
    ...serverUsers(passwords),
    "# Replication authenticates as the replica user, on every host: any of them may become a replica.",
    "masteruser replica",
    `masterauth ${passwords.replica}`,
    ...(host.name === state.primary ? [] : [`replicaof ${primary} ${VALKEY_PORT}`]),
    "",
  ];
  const sentinel = [
    `# Rendered by mailfleet: the Sentinel on ${host.fqdn}. deploy.sh copies it to ${SENTINEL_STATE_FILE},`,
    "# which Sentinel rewrites as it learns the current primary and the other Sentinels.",
    ...runtime(own, SENTINEL_PORT, "sentinel"),
    "sentinel deny-scripts-reconfig yes",
    `sentinel monitor ${STATE_MASTER} ${primary} ${VALKEY_PORT} ${state.quorum}`,
    `sentinel down-after-milliseconds ${STATE_MASTER} ${downAfterMs}`,
    `sentinel failover-timeout ${STATE_MASTER} ${failoverTimeoutMs}`,
    `sentinel parallel-syncs ${STATE_MASTER} 1`,
    `sentinel auth-user ${STATE_MASTER} sentinel`,
    `sentinel auth-pass ${STATE_MASTER} ${passwords.sentinel}`,
    "sentinel sentinel-user sentinel",
    `sentinel sentinel-pass ${passwords.sentinel}`,
    `user sentinel on ${hashed(passwords.sentinel)} &* +@all`,
    "# Without a login only where the primary and its replicas are (private addresses) may be asked:",
    "# rspamd 3.12 cannot log in to a Sentinel (render/rspamd redis.conf). No failover, no reconfiguration.",
    "user default on nopass resetchannels -@all +ping +sentinel|masters +sentinel|slaves +sentinel|replicas +sentinel|get-master-addr-by-name",
    "",
  ];
  const secret = { secret: true, mode: 0o640, group: VALKEY_GROUP } as const;
  return [file(VALKEY_PATHS.server, server.join("\n"), secret), file(VALKEY_PATHS.sentinel, sentinel.join("\n"), secret), dropIn("server"), dropIn("sentinel")];
}
