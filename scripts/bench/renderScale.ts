/**
 * Render scale benchmark: generates a stack in memory at three sizes (domains × hosts × mailboxes)
 * and runs the offline render's real pipeline on it, phase by phase, each size in its own process
 * so that peak RSS is that size's own:
 *   node --import tsx scripts/bench/renderScale.ts [--sizes small,medium,large] [--out DIR]
 * Phases: parse (parseFleetConfig of the generated stack values), build (buildFleet: topology,
 * records, zones), render + write (each host's files rendered and written as `./mf start` does,
 * scripts/render.ts writeBuild), and push (mocks): every host's SSH push registered under Pulumi
 * mocks, its bundle staged, and the size of what the state would keep of the push (pushState.ts). Key generation is not measured:
 * one DKIM key and one host certificate, made once, stand in for every domain's and host's.
 * Bounded: each size gets at most SIZE_TIMEOUT_MS.
 */
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildFleet, givenAddresses } from "../../components/build";
import { parseFleetConfig } from "../../components/config";
import { FleetSpec, Role } from "../../components/config/spec";
import { createFleetCa, generateDkimKey, generateTsigSecret, issueHostCertificate } from "../../components/keys/generate";
import { FleetKeys } from "../../components/keys/material";
import { buildTopology } from "../../components/topology";
import { writeBuild } from "../render";
import type { PushState } from "./pushState";

export interface Size {
  name: string;
  domains: number;
  hosts: Record<Role, number>;
  mailboxes: number;
}

export const SIZES: Size[] = [
  { name: "small", domains: 10, hosts: { edge: 2, outbound: 1, store: 2 }, mailboxes: 500 },
  { name: "medium", domains: 100, hosts: { edge: 8, outbound: 4, store: 8 }, mailboxes: 5000 },
  { name: "large", domains: 1000, hosts: { edge: 40, outbound: 10, store: 40 }, mailboxes: 50_000 },
];
const SIZE_TIMEOUT_MS = 180_000;
/**
 * The V8 flags `./mf start` runs the render with (package.json's start script), so each size is
 * measured as an operator's render runs: a small young generation (--max-semi-space-size) keeps the
 * peak near the live data, which is small, instead of letting rendered files pile up as garbage.
 */
const RENDER_NODE_FLAGS = (JSON.parse(readFileSync(join(__dirname, "../../package.json"), "utf8")).scripts.start as string)
  .split(" ")
  .filter((word) => word.startsWith("--max-"));

/** A SHA512-CRYPT-shaped hash, different per mailbox (so no two users files share their lines). */
function hashOf(n: number): string {
  const body = n.toString(36).padStart(86, "x");
  return `{SHA512-CRYPT}$6$bench${(n % 1000).toString().padStart(11, "0")}$${body}`;
}

/**
 * The raw `mailfleet:` values of a byo + zone stack of the given size: mailboxes spread evenly over
 * the domains and the stores, one alias and one catch-all per domain. Documentation addresses only.
 */
export function benchStack(size: Size): Record<string, unknown> {
  const domains = Array.from({ length: size.domains }, (_, i) => `d${i}.example`);
  const prefix: Record<Role, string> = { edge: "mx", outbound: "out", store: "store" };
  let n = 0;
  const hosts = Object.fromEntries(
    (Object.keys(size.hosts) as Role[]).map((role) => [
      role,
      Array.from({ length: size.hosts[role] }, (_, i) => {
        n++;
        return { name: `${prefix[role]}${i + 1}`, ipv4: `192.0.2.${n}`, ipv6: `2001:db8::${n.toString(16)}` };
      }),
    ]),
  );
  const mailboxes = Array.from({ length: size.mailboxes }, (_, i) => ({
    address: `user${i}@${domains[i % size.domains]}`,
    passwordHash: hashOf(i),
    store: `store${(i % size.hosts.store) + 1}`,
  }));
  return {
    serverDomain: "mail.d0.example",
    domains,
    admin: "user0@d0.example",
    compute: "byo",
    dns: "zone",
    push: "ssh",
    ssh: { user: "admin", privateKey: generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString() },
    hosts,
    zone: { nameservers: [{ name: "ns1.d0.example", ipv4: "198.51.100.53" }] },
    mailboxes,
    aliases: Object.fromEntries(domains.map((d, i) => [`info@${d}`, [`user${i}@${d}`]])),
    catchAll: Object.fromEntries(domains.map((d, i) => [d, `user${i}@${d}`])),
  };
}

/** One DKIM key and one host certificate, reused for every domain and host (keys are not what is measured). */
export function sharedKeys(spec: FleetSpec): FleetKeys {
  const topology = buildTopology(spec);
  const dkim = generateDkimKey(spec.domains[0], spec.dkim.active);
  const ca = createFleetCa(spec.serverDomain);
  const cert = issueHostCertificate(ca, topology.hosts[0].fqdn, [topology.hosts[0].fqdn]);
  return {
    dkim: spec.domains.flatMap((domain) => spec.dkim.selectors.map((selector) => ({ ...dkim, domain, selector }))),
    caCertPem: ca.certPem,
    hosts: Object.fromEntries(topology.hosts.map((h) => [h.name, cert])),
    tsig: Object.fromEntries(topology.hosts.map((h) => [h.name, generateTsigSecret()])),
  };
}

export interface Phase {
  phase: string;
  seconds: number;
  /** Peak RSS of the process so far, MB. */
  peakRssMb: number;
}

export interface SizeResult {
  size: Size;
  phases: Phase[];
  push: PushState;
  files: { total: number; perHost: Record<Role, number>; bytes: number };
}

async function timed<T>(phases: Phase[], phase: string, run: () => T | Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await run();
  const done = { phase, seconds: (performance.now() - start) / 1000, peakRssMb: process.resourceUsage().maxRSS / 1024 };
  phases.push(done);
  // Progress on stderr, so a size that runs out of time still shows how far it got.
  process.stderr.write(`${phase}: ${done.seconds.toFixed(2)} s, ${done.peakRssMb.toFixed(0)} MB\n`);
  return result;
}

/** Runs one size in this process. */
async function runSize(size: Size, outDir: string): Promise<SizeResult> {
  const raw = benchStack(size);
  const phases: Phase[] = [];
  const spec = await timed(phases, "parse", () => parseFleetConfig(raw));
  const keys = sharedKeys(spec);
  const build = await timed(phases, "build", () => buildFleet(spec, givenAddresses(spec), keys));
  // Host files are rendered as the writer reads them (FleetBuild.hostFiles): one phase.
  await timed(phases, "render+write", () => writeBuild(outDir, build));
  // The push renders them again, as a `pulumi up` would, and stages each host's bundle. Loaded only
  // now: @pulumi/pulumi alone adds about 100 MB to the process, which the render does not need.
  const push = await timed(phases, "push (mocks)", async () => (await import("./pushState")).measurePush(spec, build));
  // Counted from what was written, so the files need not be rendered again.
  const written = build.topology.hosts.map((h) => ({ role: h.role, files: filesUnder(join(outDir, "hosts", h.name)) }));
  const perHost = Object.fromEntries((Object.keys(size.hosts) as Role[]).map((role) => [role, written.find((w) => w.role === role)!.files.length]));
  const all = written.flatMap((w) => w.files);
  const bytes = all.reduce((sum, f) => sum + statSync(f).size, 0);
  return { size, phases, push, files: { total: all.length, perHost: perHost as Record<Role, number>, bytes } };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

function table(results: SizeResult[]): string {
  const hosts = (s: Size) => `${s.hosts.edge + s.hosts.outbound + s.hosts.store} (${s.hosts.edge}/${s.hosts.outbound}/${s.hosts.store})`;
  const rows = results.map((r) => {
    const p = Object.fromEntries(r.phases.map((x) => [x.phase, x]));
    const total = r.phases.filter((x) => x.phase !== "push (mocks)").reduce((s, x) => s + x.seconds, 0);
    return [
      `${r.size.domains} × ${hosts(r.size)} × ${r.size.mailboxes}`,
      ...["parse", "build", "render+write", "push (mocks)"].map((name) => `${p[name].seconds.toFixed(2)} s / ${p[name].peakRssMb.toFixed(0)} MB`),
      `${total.toFixed(2)} s`,
      `${r.files.perHost.edge}/${r.files.perHost.outbound}/${r.files.perHost.store}`,
      `${r.files.total}`,
      `${(r.files.bytes / 1e6).toFixed(1)} MB`,
    ];
  });
  const header = ["domains × hosts (edge/out/store) × mailboxes", "parse", "build", "render + write", "push (mocks)", "total (render)"];
  header.push("files per host", "files", "bytes");
  return [header, header.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

function pushTable(results: SizeResult[]): string {
  const header = ["domains × hosts × mailboxes", "push resources", "push inputs in state", "bundles uploaded (the state's share before)"];
  const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
  const rows = results.map((r) => [
    `${r.size.domains} × ${r.size.hosts.edge + r.size.hosts.outbound + r.size.hosts.store} × ${r.size.mailboxes}`,
    `${r.push.resources}`,
    mb(r.push.stateBytes),
    mb(r.push.bundleBytes),
  ]);
  return [header, header.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sizes: { type: "string" }, child: { type: "string" }, out: { type: "string" } } });
  if (values.child) {
    const size = SIZES.find((s) => s.name === values.child)!;
    process.stdout.write(JSON.stringify(await runSize(size, values.out!)));
    return;
  }
  const wanted = values.sizes?.split(",") ?? SIZES.map((s) => s.name);
  const results: SizeResult[] = [];
  for (const size of SIZES.filter((s) => wanted.includes(s.name))) {
    const out = values.out ?? mkdtempSync(join(tmpdir(), "mailfleet-bench-"));
    const run = spawnSync(process.execPath, [...RENDER_NODE_FLAGS, ...process.execArgv, __filename, "--child", size.name, "--out", out], {
      encoding: "utf8",
      timeout: SIZE_TIMEOUT_MS,
      maxBuffer: 1 << 24,
    });
    if (!values.out) rmSync(out, { recursive: true, force: true });
    if (run.status !== 0) throw new Error(`size ${size.name} failed (${run.signal ?? run.status}): ${run.stderr}`);
    results.push(JSON.parse(run.stdout) as SizeResult);
    process.stderr.write(`${size.name} done\n`);
  }
  const note = `time per phase / peak RSS of the process after it; Node ${process.version}, ${new Date().toISOString()}`;
  process.stdout.write(`${table(results)}\n\n${pushTable(results)}\n\n${note}\n`);
}

if (require.main === module) void main();
