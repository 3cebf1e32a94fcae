/**
 * Render scale benchmark: writes a generated stack file (scaleStack.ts) for each size and shape,
 * then runs the offline render `./mf start` runs (scripts/render.ts renderStack) on it, phase by
 * phase, in a process of its own per run, so that peak RSS is that run's own:
 *   node --import tsx scripts/bench/renderScale.ts [--sizes small,medium,large] [--shapes plain,aliases]
 *        [--keys made,exist] [--flags "start;none"] [--push]
 * Each size and shape is rendered into a fresh folder with no keys ("made": every DKIM key, the CA
 * and every host certificate are made) and then again into the same folder ("exist": all reused).
 * --flags compares V8 flag sets side by side ("start": the flags of package.json's start script,
 * "none": none, or flags written out): keys are made under the first set, and every set then
 * renders with them. Phases: read (the YAML stack
 * file read and validated), keys, build (topology, records, zones), write (each host rendered and
 * written, then the plan); with --push, after an "exist" run, every host's SSH push registered
 * under Pulumi mocks and the size of what the state would keep of it (pushState.ts).
 * Bounded: each run gets at most RUN_TIMEOUT_MS.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Role } from "../../components/config/spec";
import { renderStack, RenderPhase } from "../render";
import type { PushState } from "./pushState";
import { benchStack, findShape, findSize, Shape, Size, SIZES, writeStackFile } from "./scaleStack";

const RUN_TIMEOUT_MS = 900_000;
const STACK = "scale";
/** The V8 flags `./mf start` runs the render with: package.json's start script, between `node` and `--import`. */
const START_FLAGS = (JSON.parse(readFileSync(join(__dirname, "../../package.json"), "utf8")).scripts.start as string)
  .split(" --import")[0]
  .split(" ")
  .slice(1);

type Keys = "made" | "exist";

export interface Phase {
  phase: RenderPhase | "push (mocks)";
  seconds: number;
  /** Peak RSS of the process so far, MB. */
  peakRssMb: number;
}

export interface RunResult {
  size: Size;
  shape: Shape;
  keys: Keys;
  flags: string;
  phases: Phase[];
  /** Peak RSS of the render (before any push measurement), MB. */
  peakRssMb: number;
  seconds: number;
  push?: PushState;
  files: { total: number; perHost: Record<Role, number>; bytes: number; dkimKeys: number };
}

/** One render in this process: the child side of a run. */
async function runOnce(stacksDir: string, outDir: string, push: boolean): Promise<Omit<RunResult, "size" | "shape" | "keys" | "flags">> {
  const phases: Phase[] = [];
  const timed = <T>(phase: Phase["phase"], step: () => T): T => {
    const start = performance.now();
    const record = () => {
      const done = { phase, seconds: (performance.now() - start) / 1000, peakRssMb: process.resourceUsage().maxRSS / 1024 };
      phases.push(done);
      // Progress on stderr, so a run that runs out of time still shows how far it got.
      process.stderr.write(`${phase}: ${done.seconds.toFixed(2)} s, ${done.peakRssMb.toFixed(0)} MB\n`);
    };
    const result = step();
    if (result instanceof Promise) return result.finally(record) as T;
    record();
    return result;
  };
  const { spec, build } = await renderStack({ stack: STACK, stacksDir, outDir }, timed);
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  const seconds = phases.reduce((s, p) => s + p.seconds, 0);
  // Loaded only now: @pulumi/pulumi alone adds about 100 MB to the process, which the render does not need.
  const pushState = push ? await timed("push (mocks)", async () => (await import("./pushState")).measurePush(spec, build)) : undefined;
  const written = build.topology.hosts.map((h) => ({ role: h.role, files: filesUnder(join(outDir, "hosts", h.name)) }));
  const roles = [...new Set(written.map((w) => w.role))];
  const perHost = Object.fromEntries(roles.map((role) => [role, written.find((w) => w.role === role)!.files.length])) as Record<Role, number>;
  const all = written.flatMap((w) => w.files);
  const bytes = all.reduce((sum, f) => sum + statSync(f).size, 0);
  const dkimKeys = readdirSync(join(outDir, "keys", "dkim")).length;
  return { phases, peakRssMb, seconds, ...(pushState ? { push: pushState } : {}), files: { total: all.length, perHost, bytes, dkimKeys } };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
}

function flagsOf(set: string): string[] {
  if (set === "start") return START_FLAGS;
  if (set === "none") return [];
  return set.split(" ").filter(Boolean);
}

function runChild(stacksDir: string, outDir: string, flags: string, push: boolean): Omit<RunResult, "size" | "shape" | "keys" | "flags"> {
  const args = [...flagsOf(flags), ...process.execArgv, __filename, "--child", stacksDir, "--out", outDir, ...(push ? ["--push"] : [])];
  const run = spawnSync(process.execPath, args, { encoding: "utf8", timeout: RUN_TIMEOUT_MS, maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`render of ${stacksDir} failed (${run.signal ?? run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout);
}

const hostsOf = (s: Size) => `${s.hosts.edge + s.hosts.outbound + s.hosts.store} (${s.hosts.edge}/${s.hosts.outbound}/${s.hosts.store})`;
const markdown = (rows: string[][]) => rows.map((r) => `| ${r.join(" | ")} |`).join("\n");

function table(results: RunResult[]): string {
  const phases: RenderPhase[] = ["read", "keys", "build", "write"];
  const header = ["domains × hosts (edge/out/store) × mailboxes", "shape", "keys", "flags", ...phases, "total", "peak RSS", "files per host", "files", "bytes"];
  const rows = results.map((r) => {
    const p = Object.fromEntries(r.phases.map((x) => [x.phase, x]));
    return [
      `${r.size.domains} × ${hostsOf(r.size)} × ${r.size.mailboxes}`,
      r.shape.name,
      `${r.keys} (${r.files.dkimKeys} DKIM)`,
      r.flags,
      ...phases.map((name) => `${p[name].seconds.toFixed(2)} s`),
      `${r.seconds.toFixed(1)} s`,
      `${r.peakRssMb.toFixed(0)} MB`,
      `${r.files.perHost.edge}/${r.files.perHost.outbound}/${r.files.perHost.store}`,
      `${r.files.total}`,
      `${(r.files.bytes / 1e6).toFixed(1)} MB`,
    ];
  });
  return markdown([header, header.map(() => "---"), ...rows]);
}

function pushTable(results: RunResult[]): string {
  const header = ["domains × hosts × mailboxes", "shape", "push resources", "push inputs in state", "bundles uploaded (the state's share before)"];
  const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
  const rows = results
    .filter((r) => r.push)
    .map((r) => [`${r.size.domains} × ${hostsOf(r.size)} × ${r.size.mailboxes}`, r.shape.name, `${r.push!.resources}`, mb(r.push!.stateBytes), mb(r.push!.bundleBytes)]);
  return rows.length ? `\n\n${markdown([header, header.map(() => "---"), ...rows])}` : "";
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: "string", default: SIZES.map((s) => s.name).join(",") },
      shapes: { type: "string", default: "plain" },
      keys: { type: "string", default: "made,exist" },
      flags: { type: "string", default: "start" },
      push: { type: "boolean", default: false },
      child: { type: "string" },
      out: { type: "string" },
    },
  });
  if (values.child) {
    process.stdout.write(JSON.stringify(await runOnce(values.child, values.out!, values.push!)));
    return;
  }
  const keys = values.keys!.split(",") as Keys[];
  const results: RunResult[] = [];
  for (const size of values.sizes!.split(",").map(findSize)) {
    for (const shape of values.shapes!.split(",").map(findShape)) {
      const dir = mkdtempSync(join(tmpdir(), "mailfleet-bench-"));
      try {
        writeStackFile(dir, STACK, benchStack(size, shape));
        const out = join(dir, "out");
        // "exist" alone still needs the keys: a first render makes them, unmeasured.
        if (!keys.includes("made")) runChild(dir, out, "start", false);
        for (const [i, flags] of values.flags!.split(";").entries()) {
          for (const k of keys.filter((k) => i === 0 || k === "exist")) {
            const run = runChild(dir, out, flags, values.push! && k === "exist");
            results.push({ size, shape, keys: k, flags: flagsOf(flags).join(" ") || "(none)", ...run });
            process.stderr.write(`${size.name} ${shape.name} keys ${k} [${flags}]: ${run.seconds.toFixed(1)} s, ${run.peakRssMb.toFixed(0)} MB\n`);
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const note = `time per phase, total, peak RSS of the render's process; Node ${process.version}, ${new Date().toISOString()}`;
  process.stdout.write(`${table(results)}${pushTable(results)}\n\n${note}\n`);
}

if (require.main === module) void main();
