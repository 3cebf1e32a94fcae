/**
 * The stack driver: `./mf stack preview|up|destroy|outputs|rm --stack <env> [--dir <folder>]`.
 * Runs the mailfleet program through the Automation API (scripts/engine.ts) and prints the
 * engine's own progress output. The stack's config is <folder>/stacks/Pulumi.<env>.yaml (the
 * repo by default); state: PULUMI_BACKEND_URL (a file folder by default); secrets:
 * PULUMI_CONFIG_PASSPHRASE. `outputs` masks secret outputs unless --show-secrets is given.
 */
// First, before anything that needs a newer Node: says which Node this needs on an older one.
import "../components/nodeVersion";
import { parseArgs } from "node:util";
import { CommandError, OutputMap } from "@pulumi/pulumi/automation";
import { ConfigError } from "../components/config";
import { checkStackFile, openStack } from "./engine";

const COMMANDS = ["preview", "up", "destroy", "outputs", "rm"] as const;
type Command = (typeof COMMANDS)[number];
/** The operations whose engine output is streamed as it runs. */
const STREAMED = new Set<Command>(["preview", "up", "destroy"]);
const USAGE = `usage: ./mf stack ${COMMANDS.join("|")} --stack <env> [--dir <folder>] [--show-secrets]`;

/** The outputs as plain JSON; secret values stay hidden unless asked for. */
function printableOutputs(outputs: OutputMap, showSecrets: boolean): Record<string, unknown> {
  return Object.fromEntries(Object.entries(outputs).map(([k, o]) => [k, o.secret && !showSecrets ? "[secret]" : o.value]));
}

async function run(command: Command, stackName: string, workDir: string | undefined, showSecrets: boolean): Promise<void> {
  // Only a run of the program needs a valid stack file; destroy and rm must work on a broken one.
  if (command === "preview" || command === "up") checkStackFile(stackName, { workDir });
  const stack = await openStack(stackName, { workDir });
  const stream = { onOutput: (s: string) => process.stdout.write(s), onError: (s: string) => process.stderr.write(s) };
  switch (command) {
    case "preview":
      await stack.preview(stream);
      return;
    case "up":
      await stack.up(stream);
      return;
    case "destroy":
      await stack.destroy(stream);
      return;
    case "outputs":
      console.log(JSON.stringify(printableOutputs(await stack.outputs(), showSecrets), null, 2));
      return;
    case "rm":
      // Without --force the CLI refuses a stack that still has resources: destroy first. The CLI
      // would also delete stacks/Pulumi.<env>.yaml, the operator's committed config: keep it.
      await stack.workspace.removeStack(stackName, { preserveConfig: true });
      console.log(`stack ${stackName} removed`);
      return;
  }
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { stack: { type: "string" }, dir: { type: "string" }, "show-secrets": { type: "boolean", default: false } },
  });
  const command = positionals[0] as Command;
  if (positionals.length !== 1 || !COMMANDS.includes(command) || !values.stack) {
    console.error(USAGE);
    return 2;
  }
  try {
    await run(command, values.stack, values.dir, values["show-secrets"]);
    return 0;
  } catch (error) {
    // A ConfigError reads, and exits, exactly as in the offline render. The engine's own errors
    // were already streamed through onError, so they are not repeated.
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    if (error instanceof CommandError && STREAMED.has(command)) console.error(`stack ${command} failed (the engine's output above says why)`);
    else console.error(`stack ${command} failed: ${(error as Error).message}`);
    return 1;
  }
}

main().then((code) => (process.exitCode = code));
