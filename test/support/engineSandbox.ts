/**
 * A throwaway place for the real engine: a work folder holding copies of Pulumi.yaml and the lab
 * stack file (so no test touches the repo's files) and a file state backend beside it.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { readStackSpec } from "../../components/build";
import { daneGenerations, holdsDaneKeys, STATE_USERS } from "../../components/keys/material";
import { buildTopology, hostsOf } from "../../components/topology";
import { pulumiBinDir, REPO_ROOT } from "../../scripts/engine";

export const LAB_PASSPHRASE = "mailfleet-lab";

/**
 * What an `up` of the lab stack makes, read from the stack file (so a host or a key more is no edit
 * here): its hosts and domains, and its resources: the stack, the MailFleet component, the fleet CA,
 * a DKIM key per domain and selector, a certificate and a TSIG key per host, the state service's
 * passwords, forwarding's ARC key and SRS secrets (the engine leaves its default provider out of the counts).
 */
export function labStackShape(): { hosts: string[]; domains: string[]; resources: number } {
  const { spec } = readStackSpec("lab", { passphrase: LAB_PASSPHRASE });
  const topology = buildTopology(spec);
  const hosts = topology.hosts.map((h) => h.name).sort();
  const daneKeys = holdsDaneKeys(spec) ? hostsOf(topology, "edge").length * daneGenerations(spec.tls.daneKeyGeneration).length : 0;
  const resources = 2 + 1 + spec.domains.length * spec.dkim.selectors.length + 2 * hosts.length + STATE_USERS.length + 1 + spec.forwarding.srsKeys.length + daneKeys;
  return { hosts, domains: [...spec.domains].sort(), resources };
}

export interface Sandbox {
  /** Holds Pulumi.yaml and stacks/Pulumi.lab.yaml. */
  workDir: string;
  /** The file backend's folder (the engine's state, as it lands on disk). */
  stateDir: string;
  backendUrl: string;
  stackFile: string;
  remove(): void;
}

export function labSandbox(): Sandbox {
  const root = mkdtempSync(join(tmpdir(), "mailfleet-engine-"));
  const workDir = join(root, "work");
  const stateDir = join(root, "state");
  mkdirSync(join(workDir, "stacks"), { recursive: true });
  copyFileSync(join(REPO_ROOT, "Pulumi.yaml"), join(workDir, "Pulumi.yaml"));
  const stackFile = join(workDir, "stacks", "Pulumi.lab.yaml");
  copyFileSync(join(REPO_ROOT, "stacks", "Pulumi.lab.yaml"), stackFile);
  return { workDir, stateDir, backendUrl: `file://${stateDir}`, stackFile, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/**
 * The lab sandbox as an operator's project folder for the CLI: beside the copied Pulumi.yaml and
 * stack file, the repo's own program (index.ts, components/, package.json, tsconfig.json and the
 * node_modules it runs with) linked in, so `pulumi up` runs the project's entry point.
 */
export function projectSandbox(): Sandbox {
  const box = labSandbox();
  for (const name of ["index.ts", "components", "package.json", "tsconfig.json", "node_modules"]) {
    symlinkSync(join(REPO_ROOT, name), join(box.workDir, name));
  }
  return box;
}

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `pulumi` as an operator would, in the sandbox's project folder, in a network
 * namespace of its own with only loopback (the engine and its plugins talk over it): nothing it
 * does can reach for the network. Plugin downloads are off by the CLI's own setting, PULUMI_HOME is
 * the sandbox's (no plugin or credential of this machine's user is seen), and `node` on PATH is
 * the project's Node 24 unless `node` names another one.
 */
let cliBin: string | undefined;

export function pulumi(box: Sandbox, args: string[], options: { input?: string; node?: string; cwd?: string } = {}): CliRun {
  // The set-up script runs once per test process: its answer does not change.
  const bin = (cliBin ??= pulumiBinDir());
  const env = {
    PATH: [dirname(options.node ?? process.execPath), bin, "/usr/sbin", "/usr/bin", "/sbin", "/bin"].join(":"),
    HOME: process.env.HOME ?? "/root",
    PULUMI_HOME: join(dirname(box.stateDir), "pulumi-home"),
    PULUMI_BACKEND_URL: box.backendUrl,
    PULUMI_CONFIG_PASSPHRASE: LAB_PASSPHRASE,
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    // The dynamic-provider plugin runs the key resources with this checkout's SDK and node-forge.
    MAILFLEET_ROOT: REPO_ROOT,
  };
  mkdirSync(box.stateDir, { recursive: true });
  const result = spawnSync("unshare", ["--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", join(bin, "pulumi"), "--non-interactive", ...args], {
    cwd: options.cwd ?? box.workDir,
    env,
    input: options.input,
    encoding: "utf8",
    timeout: 5 * 60 * 1000,
    // A stack export holds every host's files: past Node's 1 MB default the CLI would be killed mid-write.
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Every file under a folder, with its content: the whole state backend as it lies on disk. */
export function filesUnder(dir: string): { path: string; content: string }[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())
    .map((path) => ({ path, content: readFileSync(path, "utf8") }));
}

/** Runs one of the repo's TypeScript scripts as an operator would (tsx, Node 24), in `cwd`. */
export function runScript(script: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [join(REPO_ROOT, "node_modules/tsx/dist/cli.mjs"), join(REPO_ROOT, script), ...args], {
    cwd,
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 10 * 60 * 1000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `pulumi stack export --show-secrets` marks each secret with this signature key and its plaintext as JSON. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
/** An exported deployment (or part of one) with every secret replaced by its plaintext value. */
export function reveal(value: unknown): any {
  if (Array.isArray(value)) return value.map(reveal);
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (SECRET_SIG in o) return reveal(JSON.parse(o.plaintext as string));
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, reveal(v)]));
  }
  return value;
}
