/**
 * Teardown of test stacks: `./mf teardown [--prefix test-] [--stack <name>]... [--dry-run]`.
 * Without --stack: destroys and removes every stack with the prefix whose TTL (its creation tags,
 * see scripts/teardown/select.ts) has run out. With --stack: exactly the named stacks, whatever
 * their TTL. Never touches a stack without the prefix, and refuses prod/staging-like names.
 * State: PULUMI_BACKEND_URL; secrets: PULUMI_CONFIG_PASSPHRASE (as for every stack command).
 * Exit status: 0 when everything decided was done, 1 when a destroy failed or a named stack was
 * refused, 2 on a usage error.
 */
// First, before anything that needs a newer Node: says which Node this needs on an older one.
import "../components/nodeVersion";
import { parseArgs } from "node:util";
import { TEST_STACK_PREFIX } from "../components/stackName";
import { Decision, selectStacks } from "./teardown/select";
import { destroyStack, listStacks } from "./teardown/stacks";

const USAGE = "usage: ./mf teardown [--prefix test-] [--stack <name>]... [--missing-ok] [--dry-run]";

function line(d: Decision): string {
  return `${d.action.padEnd(8)} ${d.stack.padEnd(32)} ${d.reason}`;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        prefix: { type: "string", default: TEST_STACK_PREFIX },
        stack: { type: "string", multiple: true, default: [] },
        // A pull request's stack may never have been created (the label came and went).
        "missing-ok": { type: "boolean", default: false },
        "dry-run": { type: "boolean", default: false },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const dryRun = values["dry-run"];
  // The project folder npm runs scripts in: its Pulumi.yaml names the project whose stacks these are.
  const workDir = process.cwd();
  let decisions = selectStacks(await listStacks({ workDir }), { prefix: values.prefix, now: new Date(), explicit: values.stack });
  if (values["missing-ok"]) {
    decisions = decisions.filter((d) => {
      const missing = d.action === "refuse" && d.reason === "no such stack in this backend";
      if (missing) console.log(`${"skip".padEnd(8)} ${d.stack.padEnd(32)} no such stack (--missing-ok)`);
      return !missing;
    });
  }
  if (decisions.length === 0) console.log(`no stacks with the prefix "${values.prefix}"`);
  decisions.forEach((d) => console.log(line(d)));

  let failed = decisions.some((d) => d.action === "refuse" && values.stack.length > 0);
  for (const d of decisions.filter((d) => d.action === "destroy")) {
    if (dryRun) {
      console.log(`would destroy and remove ${d.stack}`);
      continue;
    }
    console.log(`destroying ${d.stack} …`);
    try {
      await destroyStack(d.stack, { workDir, log: (s) => process.stdout.write(s) });
      console.log(`destroyed and removed ${d.stack}`);
    } catch (error) {
      // Go on with the others: one stuck stack must not keep the rest alive (and billed).
      console.error(`FAILED to destroy ${d.stack}: ${(error as Error).message}`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error((error as Error).message);
    process.exit(1);
  },
);
