/**
 * The engine side of test stacks: create one from another stack's settings (stamped with its
 * creation tags), list the backend's stacks with their tags, destroy and remove one. Everything
 * that decides *which* stack is in select.ts; this file only does what it is told.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { stackFilePath } from "../../components/config";
import { TEST_STACK_PREFIX, testStackRefusal } from "../../components/stackName";
import { openStack, REPO_ROOT, StackOptions, stateBackendUrl } from "../engine";
import { creationTags, StackInfo, TAG_CREATED } from "./select";
import { testStackConfig } from "./testStack";

export interface CreateOptions extends StackOptions {
  /** The stack whose settings the test stack copies (its file in stacks/ must exist). */
  from: string;
  stack: string;
  ttlHours: number;
  now?: Date;
}

/**
 * Writes stacks/Pulumi.<stack>.yaml from the source stack's file, creates the stack (or selects
 * it, when a later push to the same pull request runs again) and stamps the creation tags once:
 * a re-run keeps the first creation time, so the TTL counts from when the stack first existed.
 */
export async function createTestStack(options: CreateOptions): Promise<Stack> {
  const refused = testStackRefusal(options.stack, TEST_STACK_PREFIX);
  if (refused) throw new Error(`will not create ${options.stack} as a test stack: ${refused}`);
  const tags = creationTags(options.now ?? new Date(), options.ttlHours);
  const stacksDir = join(resolve(options.workDir ?? REPO_ROOT), "stacks");
  mkdirSync(stacksDir, { recursive: true });
  const source = readFileSync(stackFilePath(options.from, stacksDir), "utf8");
  writeFileSync(stackFilePath(options.stack, stacksDir), testStackConfig(source, options.stack));
  const stack = await openStack(options.stack, options);
  const existing = await stack.listTags();
  if (existing[TAG_CREATED] === undefined) {
    for (const [key, value] of Object.entries(tags)) await stack.setTag(key, value);
  }
  return stack;
}

/** Every stack of the project in the backend, with its tags. */
export async function listStacks(options: StackOptions = {}): Promise<StackInfo[]> {
  // Listing needs neither the program nor the secrets: a plain workspace over the same backend,
  // with the `pulumi` on PATH (./mf teardown and the workflows put it there).
  const workspace = await LocalWorkspace.create({
    workDir: resolve(options.workDir ?? REPO_ROOT),
    envVars: { PULUMI_BACKEND_URL: stateBackendUrl(options), PULUMI_SKIP_UPDATE_CHECK: "true" },
  });
  const summaries = await workspace.listStacks();
  return Promise.all(summaries.map(async (s) => ({ name: s.name, tags: await workspace.listTags(s.name) })));
}

/**
 * Destroys every resource of the stack, then removes the stack and its history from the backend.
 * Removal without --force: the CLI refuses a stack that still has resources, so a partial destroy
 * fails loudly instead of orphaning cloud resources that nothing tracks any more.
 */
export async function destroyStack(name: string, options: StackOptions & { log: (line: string) => void }): Promise<void> {
  const stack = await openStack(name, options);
  await stack.destroy({ onOutput: options.log });
  await stack.workspace.removeStack(name);
}
