/**
 * Creates a short-lived test stack from another stack's settings, stamped with its creation tags
 * so the nightly teardown finds it: `npx tsx scripts/teardown/create.ts --from dev --stack
 * test-pr-12 [--ttl-hours 48]`. The pull-request workflow runs it before `pulumi up`.
 */
import { parseArgs } from "node:util";
import { createTestStack } from "./stacks";
import { TAG_CREATED, TAG_TTL_HOURS } from "./select";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { from: { type: "string" }, stack: { type: "string" }, "ttl-hours": { type: "string", default: "48" } },
  });
  if (!values.from || !values.stack) throw new Error("usage: create.ts --from <stack> --stack <test-stack> [--ttl-hours 48]");
  const stack = await createTestStack({ from: values.from, stack: values.stack, ttlHours: Number(values["ttl-hours"]) });
  const tags = await stack.listTags();
  console.log(`test stack ${values.stack} from ${values.from}: ${TAG_CREATED}=${tags[TAG_CREATED]} ${TAG_TTL_HOURS}=${tags[TAG_TTL_HOURS]}`);
}

main().catch((error) => {
  console.error((error as Error).message);
  process.exit(1);
});
