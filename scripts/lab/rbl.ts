/**
 * The lab's DNS blocklist and allowlist: Debian's rbldnsd on the rbl host, serving bl.example.net
 * and wl.example.net from one dataset file each (/var/lib/rbldnsd/<zone>, loaded both as ip4set and
 * ip6trie, each skipping the other family's lines), answering 127.0.0.2 for a listed address. The
 * lab's resolvers (client's, ext's, and the fleet's own on the edges, outbound and monitoring hosts)
 * reach them by stub zones (peers.ts labResolverSettings).
 */
import { readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dnsblQuery } from "../../components/records";
import { exec, execOk, hostRoot, startService } from "./host";
import { waitUntil } from "./clients";
import { RBL, RBL_ZONES } from "./peers";

const DATA_DIR = "/var/lib/rbldnsd";
const PID_FILE = "/run/rbldnsd.pid";
/** rbldnsd's answer (A and TXT) for every listed address. */
export const LISTED = "127.0.0.2";
type ListZone = (typeof RBL_ZONES)[keyof typeof RBL_ZONES];

const dataFile = (zone: ListZone) => join(hostRoot(RBL.name), DATA_DIR, zone);

/** Starts rbldnsd on the rbl host with empty lists; it rereads a list within a second of its change. */
export function startRbldnsd(): void {
  execOk(RBL.name, ["install", "-d", "-m", "0755", DATA_DIR]);
  for (const zone of Object.values(RBL_ZONES)) writeFileSync(dataFile(zone), `:${LISTED}:listed in the mailfleet lab ${zone}\n`);
  const datasets = Object.values(RBL_ZONES).flatMap((zone) => [`${zone}:ip4set:${zone}`, `${zone}:ip6trie:${zone}`]);
  // -c 1: check the files every second; -t 60: the TTL of a public list's answers (postscreen keeps at least 60 s).
  startService(RBL.name, ["rbldnsd", "-u", "rbldns", "-r", DATA_DIR, "-p", PID_FILE, "-c", "1", "-t", "60", "-b", `${RBL.ipv4}/53`, "-b", `${RBL.ipv6}/53`, ...datasets]);
}

/** Stops rbldnsd (a blocklist outage), by its pid file: other labs' rbldnsd share this machine's process table. */
export function stopRbldnsd(): void {
  execOk(RBL.name, ["sh", "-c", 'kill "$(cat "$1")" && while [ -e "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; do sleep 0.1; done; rm -f "$1"', "stop", PID_FILE]);
}

export function rbldnsdRunning(): boolean {
  return exec(RBL.name, ["sh", "-c", 'kill -0 "$(cat "$1")"', "running", PID_FILE]).code === 0;
}

async function setListed(address: string, zone: ListZone, listed: boolean): Promise<void> {
  const path = dataFile(zone);
  const lines = readFileSync(path, "utf8").split("\n").filter((line) => line !== "" && line !== address);
  const before = statSync(path).mtimeMs;
  writeFileSync(path, [...lines, ...(listed ? [address] : []), ""].join("\n"));
  // rbldnsd compares whole seconds: a second change within the same second would go unseen.
  const seconds = Math.max(Date.now(), before + 1000) / 1000;
  utimesSync(path, seconds, seconds);
  if (!rbldnsdRunning()) return;
  const answered = () => exec(RBL.name, ["kdig", "+short", `@${RBL.ipv4}`, dnsblQuery(address, zone), "A"]).stdout.trim();
  const answer = await waitUntil(answered, (a) => (a === LISTED) === listed, 10_000, 200);
  if ((answer === LISTED) !== listed) throw new Error(`rbldnsd: ${address} still ${listed ? "not listed" : "listed"} in ${zone}`);
}

/** Lists an address in a zone (the blocklist by default) and waits until rbldnsd answers for it. */
export function listAddress(address: string, zone: ListZone = RBL_ZONES.block): Promise<void> {
  return setListed(address, zone, true);
}

/** Takes an address off a zone's list and waits until rbldnsd no longer answers for it. */
export function unlistAddress(address: string, zone: ListZone = RBL_ZONES.block): Promise<void> {
  return setListed(address, zone, false);
}

