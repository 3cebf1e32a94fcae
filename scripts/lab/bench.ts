/**
 * Measures the lab's bring-up and tear-down: `tsx scripts/lab/bench.ts [runs]` prints a Markdown
 * table of each step's seconds (the numbers in scripts/lab/BENCH.md come from here).
 */
import { cpus, loadavg } from "node:os";
import { markdownTable } from "../../components/table";
import { down, up, UpTimings } from "./index";

async function main(runs: number): Promise<void> {
  const rows: { up: UpTimings; down: number }[] = [];
  for (let i = 0; i < runs; i++) {
    const timings = await up();
    const start = Date.now();
    await down();
    rows.push({ up: timings, down: (Date.now() - start) / 1000 });
  }
  const steps = Object.keys(rows[0].up);
  console.log(`${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the end\n`);
  const head = ["run", ...steps, "down"];
  const cells = rows.map((r, i) => [String(i + 1), ...steps.map((s) => r.up[s].toFixed(1)), r.down.toFixed(1)]);
  console.log(markdownTable(head, cells, head.map((_, i) => i > 0)));
}

main(Number(process.argv[2] ?? 2)).catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
