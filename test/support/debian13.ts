/**
 * A throwaway Debian 13 host for conformance checks: an overlay over the cached trixie root
 * (scripts/setup/debian13-root.sh), with a host's rendered files written at their real paths,
 * their owners and modes applied, so that `postfix check`, `doveconf -n` and friends read them
 * exactly as they would on a mail host. Every command runs in private mount and network
 * namespaces (with only loopback up): nothing stays mounted, and a daemon a test starts can
 * bind its ports without touching this machine's network.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { RenderedFile } from "../../components/render/file";
import { VMAIL } from "../../components/topology/vmail";
import { requireTier } from "./tier";

export const DEBIAN13_ROOT = process.env.MAILFLEET_DEBIAN13_ROOT ?? "/var/cache/mailfleet/trixie-root";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const ENV = ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"];

/** argv run as a daemon's own user and group (no supplementary groups), as a compromised daemon would. */
export function asUser(user: string, argv: string[]): string[] {
  return ["setpriv", "--reuid", user, "--regid", user, "--clear-groups", ...argv];
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * A store's files as a fresh host can take them: the vmail group does not exist yet when files are
 * placed (deploy.sh makes it first; a test makes it after boot), so its files start as root's.
 */
export const beforeVmail = (files: RenderedFile[]): RenderedFile[] => files.map((f) => (f.group === VMAIL.group ? { ...f, group: "root" } : f));

export class Debian13Host {
  private readonly dir = mkdtempSync(join(tmpdir(), "mailfleet-debian13-"));
  private readonly upper = join(this.dir, "upper");
  /** After boot(): the booted host's pid 1 (unshare's child), as this machine numbers it. */
  private booted?: { init: number };

  constructor(files: RenderedFile[]) {
    requireTier(["daemon", "engine", "lab"], "the Debian 13 root");
    mkdirSync(join(this.dir, "work"));
    mkdirSync(this.upper);
    mkdirSync(join(this.dir, "merged"));
    for (const f of files) {
      const target = join(this.upper, f.path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, f.content);
    }
    for (const f of files) {
      const set = this.run(["sh", "-c", 'chown "$1" "$3" && chmod "$2" "$3"', "sh", `${f.owner}:${f.group}`, f.mode.toString(8), f.path]);
      if (set.code !== 0) throw new Error(`cannot set owner/mode of ${f.path}: ${set.stderr}`);
    }
  }

  /** Runs argv inside the host's root (as root) and returns its exit code and output. */
  run(argv: string[], input?: string): RunResult {
    const merged = join(this.dir, "merged");
    const script =
      'ip link set lo up && mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4" && mount -t proc proc "$4/proc" && ' +
      'root=$4 && shift 4 && exec chroot "$root" "$@"';
    const result = spawnSync(
      "unshare",
      ["--mount", "--net", "--propagation", "private", "--", "sh", "-c", script, "sh", DEBIAN13_ROOT, this.upper, join(this.dir, "work"), merged, ...ENV, ...argv],
      { encoding: "utf8", input, timeout: 300_000 },
    );
    if (result.error) throw result.error;
    return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
  }

  /**
   * Boots the host: one set of mount, network and pid namespaces that lives until dispose(), so a
   * daemon that one exec() starts is still running for the next; dispose() ends every process in it.
   */
  boot(): this {
    const script =
      'ip link set lo up && mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4" && mount -t proc proc "$4/proc" && ' +
      'exec chroot "$4" sleep infinity';
    const merged = join(this.dir, "merged");
    const unshare = spawn(
      "unshare",
      ["--mount", "--net", "--pid", "--fork", "--propagation", "private", "--", "sh", "-c", script, "sh", DEBIAN13_ROOT, this.upper, join(this.dir, "work"), merged],
      { stdio: "ignore" },
    );
    for (let i = 0; i < 200; i++) {
      const children = existsSync(`/proc/${unshare.pid}/task/${unshare.pid}/children`) ? readFileSync(`/proc/${unshare.pid}/task/${unshare.pid}/children`, "utf8").trim() : "";
      const init = Number(children.split(" ")[0]);
      if (init && readlinkSync(`/proc/${init}/root`, { encoding: "utf8" }) === merged) {
        this.booted = { init };
        return this;
      }
      if (unshare.exitCode !== null) break;
      pause(50);
    }
    unshare.kill("SIGKILL");
    throw new Error("the Debian 13 host did not boot");
  }

  /** The booted host's pid 1 as this machine numbers it: `nsenter -t` it to join its namespaces. */
  pid(): number {
    if (!this.booted) throw new Error("pid() needs boot() first");
    return this.booted.init;
  }

  /** Runs argv as root inside the booted host (see boot()). */
  exec(argv: string[], input?: string): RunResult {
    if (!this.booted) throw new Error("exec() needs boot() first");
    const result = spawnSync("nsenter", ["-t", String(this.booted.init), "-m", "-n", "-p", "-r", "-w", ...ENV, ...argv], { encoding: "utf8", input, timeout: 300_000 });
    if (result.error) throw result.error;
    return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
  }

  dispose(): void {
    if (this.booted) {
      // SIGKILL to the pid namespace's init ends every process in it.
      process.kill(this.booted.init, "SIGKILL");
      for (let i = 0; i < 200 && existsSync(`/proc/${this.booted.init}`); i++) pause(50);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs fn on a fresh host with files and disposes of the host afterwards. */
export function withDebian13Host<T>(files: RenderedFile[], fn: (host: Debian13Host) => T): T {
  const host = new Debian13Host(files);
  try {
    return fn(host);
  } finally {
    host.dispose();
  }
}
