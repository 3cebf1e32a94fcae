/**
 * The Automation API side of the one mailfleet program: runs `mailfleetProgram` inline (the Node
 * SDK serves it in this process, so no Node.js language host is needed) against a stack whose
 * config lives in `stacks/`, with a file state backend and the passphrase secrets provider. The
 * stack driver (scripts/stack.ts), the teardown tool and the engine tests all open stacks here.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { mailfleetProgram } from "../components/program";
import { readStackSpec } from "../components/build";
import { FleetSpec } from "../components/config/spec";

/** The checkout this file belongs to: Pulumi.yaml, stacks/ and the node_modules the engine uses. */
export const REPO_ROOT = resolve(__dirname, "..");
/** Where stacks keep their state on this machine unless PULUMI_BACKEND_URL says otherwise. */
const DEFAULT_STATE_DIR = "/var/lib/mailfleet/state";

export interface StackOptions {
  /** Folder with Pulumi.yaml and its stackConfigDir (stacks/); the repo root by default. */
  workDir?: string;
  /** State backend; stateBackendUrl picks PULUMI_BACKEND_URL, else file://DEFAULT_STATE_DIR. */
  backendUrl?: string;
  /** Passphrase of the stack's secrets; PULUMI_CONFIG_PASSPHRASE when not given. */
  passphrase?: string;
}

/**
 * The bin directory of the CLI that scripts/setup/pulumi-cli.sh provides: a complete `pulumi` on
 * PATH, or the pinned build it caches (built on the first call on a fresh machine). It also holds
 * the language hosts and the dynamic-provider plugin that the key resources need.
 */
export function pulumiBinDir(): string {
  return execFileSync("bash", [join(REPO_ROOT, "scripts/setup/pulumi-cli.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  })
    .trim()
    .split("\n")
    .pop()!;
}

function pulumiCli(): Promise<PulumiCommand> {
  // pulumi-cli.sh has checked the version already: one `pulumi version` less per run.
  return PulumiCommand.get({ root: dirname(pulumiBinDir()), skipVersionCheck: true });
}

/** The state backend a stack command uses: the option, else PULUMI_BACKEND_URL, else the file folder here. */
export function stateBackendUrl(options: Pick<StackOptions, "backendUrl"> = {}): string {
  return options.backendUrl ?? process.env.PULUMI_BACKEND_URL ?? `file://${DEFAULT_STATE_DIR}`;
}

/** The folder of a file backend URL (file:///abs/path or file://~/path), as the CLI reads it. */
function fileBackendDir(backendUrl: string): string | undefined {
  return backendUrl.startsWith("file://") ? backendUrl.slice("file://".length).replace(/^~(?=\/|$)/, homedir()) : undefined;
}

/** Creates the stack on first use (its config file in stacks/ must exist) or selects it. */
export async function openStack(stackName: string, options: StackOptions = {}): Promise<Stack> {
  const workDir = resolve(options.workDir ?? REPO_ROOT);
  const backendUrl = stateBackendUrl(options);
  const stateDir = fileBackendDir(backendUrl);
  // The file backend refuses a folder that does not exist yet.
  if (stateDir) mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const passphrase = options.passphrase ?? process.env.PULUMI_CONFIG_PASSPHRASE;
  return LocalWorkspace.createOrSelectStack(
    { stackName, projectName: "mailfleet", program: mailfleetProgram },
    {
      workDir,
      pulumiCommand: await pulumiCli(),
      secretsProvider: "passphrase",
      envVars: {
        PULUMI_BACKEND_URL: backendUrl,
        ...(passphrase === undefined ? {} : { PULUMI_CONFIG_PASSPHRASE: passphrase }),
        // Read by the dynamic-provider plugin: the checkout whose SDK and node-forge run the keys.
        MAILFLEET_ROOT: REPO_ROOT,
        // Otherwise the CLI asks api.pulumi.com for a newer version on every run.
        PULUMI_SKIP_UPDATE_CHECK: "true",
      },
    },
  );
}

/**
 * Validates the stack file the way the offline render does, before the engine is started, so a
 * bad file fails with the same ConfigError and no resource is ever registered.
 */
export function checkStackFile(stackName: string, options: Pick<StackOptions, "workDir" | "passphrase"> = {}): FleetSpec {
  return readStackSpec(stackName, {
    dir: join(resolve(options.workDir ?? REPO_ROOT), "stacks"),
    passphrase: options.passphrase ?? process.env.PULUMI_CONFIG_PASSPHRASE,
  }).spec;
}
