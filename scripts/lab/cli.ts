/**
 * `./mf lab up | down | status | bench | exec <host> <command…>`: the local lab (see ./index.ts).
 */
// First, before anything that needs a newer Node: says which Node this needs on an older one.
import "../../components/nodeVersion";
import { spawnSync } from "node:child_process";
import { down, status, up } from "./index";
import { formatResults, mailBench } from "./mailBench";
import { enterArgv } from "./host";

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "up": {
      const timings = await up({ log: (line) => console.log(line) });
      console.log(`lab: up in ${timings.total.toFixed(1)} s\n`);
      console.log(status());
      return 0;
    }
    case "down":
      await down();
      console.log("lab: down (no namespace, mount or process left)");
      return 0;
    case "bench": {
      const results = await mailBench();
      console.log(`\n${formatResults(results)}`);
      return 0;
    }
    case "status":
      console.log(status());
      return 0;
    case "exec": {
      const [host, ...cmd] = rest[0] === "--" ? rest.slice(1) : rest;
      if (!host || cmd.length === 0) break;
      const args = cmd[0] === "--" ? cmd.slice(1) : cmd;
      const r = spawnSync("nsenter", enterArgv(host, args), { stdio: "inherit" });
      return r.status ?? 1;
    }
  }
  console.error("usage: ./mf lab up | down | status | bench | exec <host> <command…>");
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(error.message);
    process.exit(1);
  },
);
