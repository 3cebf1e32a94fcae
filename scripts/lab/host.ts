/**
 * Lab hosts as Linux namespaces: each host is a network namespace plus a UTS namespace (its own
 * host name), with its own filesystem: an overlay of the read-only Debian 13 root and a per-host
 * upper directory, so a file written to /etc/postfix/main.cf on mx1 exists on mx1 only. A host's
 * processes run as `nsenter --net --uts chroot <merged>`; every process of the lab is therefore
 * in one of the lab's network namespaces, which is how `down` finds them all (and nothing else).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BRIDGE_NS, DOC_ROUTES, LAB_DIR, LabHost, NS_PREFIX, netnsName, prefixOf } from "./plan";

export const DEBIAN13_ROOT = process.env.MAILFLEET_DEBIAN13_ROOT ?? "/var/cache/mailfleet/trixie-root";
const UTS_DIR = join(LAB_DIR, "uts");

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command on this machine (root namespace) and throws with its output when it fails. */
export function sh(script: string, args: string[] = [], timeoutMs = 60_000): string {
  const r = spawnSync("bash", ["-euo", "pipefail", "-c", script, "lab", ...args], { encoding: "utf8", timeout: timeoutMs });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`lab: command failed (${r.status}): ${script.slice(0, 200)}\n${r.stderr}`);
  return r.stdout;
}

/** sh, without blocking: hosts are built side by side. */
export function shAsync(script: string, args: string[] = [], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-euo", "pipefail", "-c", script, "lab", ...args], { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`lab: command failed (${code}): ${script.slice(0, 200)}\n${stderr}`))));
  });
}

/**
 * A directory (for PATH) of wrappers that run these Debian 13 tools on this machine, with the
 * Debian 13 root's own loader and libraries: an operator's tool the lab runs from this machine's
 * side (`./mf check`'s delv in client's namespace), which this machine may lack or have in another version.
 */
export function debianToolDir(tools: string[]): string {
  const dir = join(LAB_DIR, "debian13-tools");
  const [multiarch] = readdirSync(join(DEBIAN13_ROOT, "usr/lib")).filter((d) => d.endsWith("-linux-gnu"));
  const libs = join(DEBIAN13_ROOT, "usr/lib", multiarch);
  const [loader] = readdirSync(libs).filter((f) => /^ld-linux.*\.so\.\d$/.test(f));
  mkdirSync(dir, { recursive: true });
  for (const tool of tools) {
    writeFileSync(join(dir, tool), `#!/bin/sh\nexec '${join(libs, loader)}' --library-path '${libs}' '${join(DEBIAN13_ROOT, "usr/bin", tool)}' "$@"\n`, { mode: 0o755 });
  }
  return dir;
}

export function hostDir(name: string): string {
  return join(LAB_DIR, "hosts", name);
}

/** Where a host's files are seen from this machine (while the lab is up). */
export function hostRoot(name: string): string {
  return join(hostDir(name), "merged");
}

/** nsenter arguments that run argv as root on a lab host. */
export function enterArgv(name: string, argv: string[]): string[] {
  return [
    `--net=/run/netns/${netnsName(name)}`,
    `--uts=${join(UTS_DIR, name)}`,
    "--",
    "chroot",
    hostRoot(name),
    "/usr/bin/env",
    "-i",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "LANG=C.UTF-8",
    ...argv,
  ];
}

/** Runs argv on a lab host as root and waits for it. */
export function exec(name: string, argv: string[], options: { input?: string; timeoutMs?: number } = {}): ExecResult {
  const r = spawnSync("nsenter", enterArgv(name, argv), { encoding: "utf8", input: options.input, timeout: options.timeoutMs ?? 60_000 });
  // Named, so a timeout says which host and command (spawnSync's own error names only nsenter).
  if (r.error) throw new Error(`${name}: ${argv.join(" ")}: ${r.error.message}`);
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** exec, but throws unless the command succeeds; returns its stdout. */
export function execOk(name: string, argv: string[], options: { input?: string; timeoutMs?: number } = {}): string {
  const r = exec(name, argv, options);
  if (r.code !== 0) throw new Error(`${name}: ${argv.join(" ")} exited ${r.code}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/**
 * Runs a daemon's start command on a host (postfix start, dovecot, …). The daemon gets a log file
 * for the descriptors it inherits, never exec's pipes, which would stay open as long as it runs.
 */
export function startService(name: string, argv: string[]): void {
  execOk(name, ["sh", "-c", '"$@" </dev/null >>/var/log/lab-start.log 2>&1', "start", ...argv]);
}

/** Starts a long-running process on a host, detached from this one (it outlives the CLI). */
export function startDetached(name: string, argv: string[]): void {
  const child = spawn("nsenter", enterArgv(name, argv), { detached: true, stdio: "ignore" });
  child.unref();
}

/**
 * Starts argv on a lab host without waiting for it; `stop`, or the time limit, kills it with its
 * whole process group (nsenter, chroot and what they exec), so no load generator outlives its run.
 */
export function startOn(host: string, argv: string[], limitMs: number): { done: Promise<ExecResult>; stop: () => void } {
  const child = spawn("nsenter", enterArgv(host, argv), { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const stop = () => {
    if (child.exitCode === null) process.kill(-child.pid!, "SIGKILL");
  };
  const timer = setTimeout(stop, limitMs);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const done = new Promise<ExecResult>((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    }),
  );
  return { done, stop };
}

/** The bridge every host hangs off, in a namespace of its own (not this machine's). */
export function createBridge(): void {
  sh(
    `ip netns add "$1"
     ip -n "$1" link set lo up
     ip -n "$1" link add br0 type bridge
     ip -n "$1" link set br0 up
     mkdir -p "$2" && mount --bind "$2" "$2" && mount --make-private "$2"`,
    [BRIDGE_NS, UTS_DIR],
  );
}

/**
 * Creates one host: filesystem (overlay, /proc, /sys, a minimal /dev with its own /dev/pts), identity
 * (host name, /etc/hosts, resolv.conf pointing at the lab DNS) and network (a veth into the
 * bridge, its documentation-range addresses, on-link routes for the documentation ranges only).
 */
export async function createHost(host: LabHost, nameservers: string[]): Promise<void> {
  const dir = hostDir(host.name);
  const resolv = nameservers.map((n) => `nameserver ${n}`).join("\n");
  await shAsync(
    `name=$1 fqdn=$2 v4=$3 v6=$4 dir=$5 root=$6 ns=$7 br=$8 uts=$9 resolv=\${10} routes=\${11}
     rm -rf "$dir"; mkdir -p "$dir/upper" "$dir/work" "$dir/merged"
     m=$dir/merged
     mount -t overlay "$ns" -o "lowerdir=$root,upperdir=$dir/upper,workdir=$dir/work" "$m"
     mount -t proc proc "$m/proc"
     # Read-only, as a real host's would be to its daemons: the node exporter reads its CPUs there.
     mount -t sysfs -o ro sysfs "$m/sys"
     mount -t tmpfs -o mode=0755,size=4m dev "$m/dev"
     mknod -m 666 "$m/dev/null" c 1 3; mknod -m 666 "$m/dev/zero" c 1 5; mknod -m 666 "$m/dev/full" c 1 7
     mknod -m 666 "$m/dev/random" c 1 8; mknod -m 666 "$m/dev/urandom" c 1 9; mknod -m 666 "$m/dev/tty" c 5 0
     mkdir "$m/dev/pts" "$m/dev/shm"
     mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$m/dev/pts"
     ln -s pts/ptmx "$m/dev/ptmx"; ln -s /proc/self/fd "$m/dev/fd"
     ln -s /proc/self/fd/0 "$m/dev/stdin"; ln -s /proc/self/fd/1 "$m/dev/stdout"; ln -s /proc/self/fd/2 "$m/dev/stderr"
     echo "$fqdn" > "$m/etc/hostname"
     printf '127.0.0.1 localhost\\n::1 localhost\\n%s %s %s\\n%s %s %s\\n' "$v4" "$fqdn" "$name" "$v6" "$fqdn" "$name" > "$m/etc/hosts"
     rm -f "$m/etc/resolv.conf"; printf '%s\\n' "$resolv" > "$m/etc/resolv.conf"
     ip netns add "$ns"
     ip -n "$br" link add "$name" type veth peer name eth0 netns "$ns"
     ip -n "$br" link set "$name" master br0 up
     ip -n "$ns" link set lo up
     ip -n "$ns" addr add "$v4/${prefixOf(host.ipv4)}" dev eth0
     ip -n "$ns" addr add "$v6/${prefixOf(host.ipv6)}" dev eth0 nodad
     ip -n "$ns" link set eth0 up
     for r in $routes; do ip -n "$ns" route replace "$r" dev eth0; done
     touch "$uts/$name"
     unshare --uts="$uts/$name" hostname "$fqdn"`,
    [host.name, host.fqdn, host.ipv4, host.ipv6, dir, DEBIAN13_ROOT, netnsName(host.name), BRIDGE_NS, UTS_DIR, resolv, DOC_ROUTES.join(" ")],
  );
}

/** A tiny syslog for a host (the lab's, not the fleet's): /dev/log lines go to /var/log/syslog. */
const SYSLOG_PY = `
import os, select, socket
socks = []
# Postfix's chrooted daemons log through the socket inside their chroot.
for path in ("/dev/log", "/var/spool/postfix/dev/log"):
    if not os.path.isdir(os.path.dirname(path)): continue
    try: os.unlink(path)
    except FileNotFoundError: pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path); os.chmod(path, 0o666); socks.append(s)
with open("/var/log/syslog", "ab", buffering=0) as f:
    while True:
        for s in select.select(socks, [], [])[0]:
            f.write(s.recv(65536).rstrip(b"\\0\\n") + b"\\n")
`;

export function startSyslog(name: string): void {
  startDetached(name, ["python3", "-c", SYSLOG_PY]);
}

export function labNamespaces(): string[] {
  const r = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
  return (r.stdout ?? "")
    .split("\n")
    .map((l) => l.split(" ")[0])
    .filter((n) => n.startsWith(NS_PREFIX));
}

/**
 * Lets every process of the given lab namespaces (all their threads) run only on `cpus` (a taskset
 * list such as "1" or "0-1"); what they fork later inherits it. A process that ended since it was
 * listed is skipped.
 */
export function pinNamespaces(namespaces: string[], cpus: string): void {
  for (const pid of namespaces.flatMap(namespacePids)) spawnSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
}

/** Processes inside a lab namespace: the only ones `down` may end. */
export function namespacePids(ns: string): number[] {
  const r = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" });
  return (r.stdout ?? "").split("\n").filter(Boolean).map(Number);
}

function labMounts(): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((p): p is string => !!p && (p === LAB_DIR || p.startsWith(`${LAB_DIR}/`)));
}

/** Ends every process in the lab's namespaces, unmounts everything under LAB_DIR, deletes the namespaces. */
export async function destroyLab(): Promise<void> {
  const namespaces = labNamespaces();
  const pids = () => namespaces.flatMap(namespacePids);
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    for (const pid of pids()) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
    for (let i = 0; i < 25 && pids().length > 0; i++) await sleep(200);
  }
  const survivors = pids();
  if (survivors.length > 0) throw new Error(`lab: processes ${survivors.join(" ")} did not end`);
  // Deepest first; a mount that stays busy is detached lazily so it leaves the table anyway.
  for (const mount of labMounts().sort((a, b) => b.length - a.length)) {
    if (spawnSync("umount", [mount]).status !== 0) spawnSync("umount", ["-l", mount]);
  }
  const stuck = labMounts();
  if (stuck.length > 0) throw new Error(`lab: still mounted: ${stuck.join(" ")}`);
  for (const ns of namespaces) spawnSync("ip", ["netns", "delete", ns]);
  const left = labNamespaces();
  if (left.length > 0) throw new Error(`lab: namespaces left: ${left.join(" ")}`);
  rmSync(join("/etc/netns", netnsName("client")), { recursive: true, force: true });
}

const LOCK = join(LAB_DIR, "lock");

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * One lab per machine: a test run (or an operator) that finds the lab held by another live
 * process waits for it (bounded) instead of tearing it down under the other's feet. The CLI's
 * `up` exits and leaves a lock whose process is gone: the next user takes the lab over.
 */
export async function acquireLabLock(timeoutMs = 20 * 60_000): Promise<void> {
  mkdirSync(LAB_DIR, { recursive: true, mode: 0o700 });
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      writeFileSync(LOCK, String(process.pid), { flag: "wx" });
      return;
    } catch {
      // held: by us, by a live process, or stale
    }
    const holder = Number(readFileSync(LOCK, "utf8").trim());
    if (holder === process.pid) return;
    if (!holder || !running(holder)) {
      rmSync(LOCK, { force: true });
      continue;
    }
    if (Date.now() > until) throw new Error(`lab: in use by process ${holder} (waited ${timeoutMs / 1000} s)`);
    await sleep(2000);
  }
}

/** Another live process that holds the lab, if any. */
export function otherLabHolder(): number | undefined {
  if (!existsSync(LOCK)) return undefined;
  const holder = Number(readFileSync(LOCK, "utf8").trim());
  return holder && holder !== process.pid && running(holder) ? holder : undefined;
}

export function releaseLabLock(): void {
  if (otherLabHolder() === undefined) rmSync(LOCK, { force: true });
}

/** Hosts whose directory exists (the last `up`'s hosts, running or not). */
export function knownHosts(): string[] {
  const dir = join(LAB_DIR, "hosts");
  return existsSync(dir) ? readdirSync(dir) : [];
}
