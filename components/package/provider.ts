/**
 * The component package's provider: serves MailFleet to programs in other languages (YAML,
 * Python, Go, C#) through the engine. Its schema is the stack config's (./schema.ts); `construct`
 * validates the inputs exactly as a stack file is validated (parseFleet) and builds the same
 * MailFleet the TypeScript program builds.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConstructResult, Provider } from "@pulumi/pulumi/provider";
import { parseFleet } from "../build";
import { MailFleet } from "../fleet";
import { configErrorsAsRunError } from "../program";
import { MAILFLEET_TYPE, OUTPUTS, packageSchema } from "./schema";

/**
 * The inputs as plain values. The engine hands secrets over as secret Outputs; the fleet is
 * planned from its config (which hosts, which records), so every input must be known at preview.
 * `isKnown` and `promise` are the SDK's own Output internals: there is no public way to await one.
 */
async function plainInputs(inputs: pulumi.Inputs): Promise<Record<string, unknown>> {
  const all = pulumi.output(inputs) as unknown as { isKnown: Promise<boolean>; promise(): Promise<Record<string, unknown>> };
  if (!(await all.isKnown)) {
    throw new pulumi.RunError(`${MAILFLEET_TYPE}: every input must be known at preview (the fleet's hosts and records are planned from them), not an output of a resource still to be created`);
  }
  return all.promise();
}

export class MailFleetProvider implements Provider {
  constructor(readonly version: string) {}

  async getSchema(): Promise<string> {
    return JSON.stringify(packageSchema(this.version));
  }

  async construct(name: string, type: string, inputs: pulumi.Inputs, options: pulumi.ComponentResourceOptions): Promise<ConstructResult> {
    if (type !== MAILFLEET_TYPE) throw new Error(`unknown resource type ${type}: this package has ${MAILFLEET_TYPE} only`);
    // The problems as the stack file's (key paths are the input names).
    const spec = await configErrorsAsRunError(async () => parseFleet(await plainInputs(inputs)), `${MAILFLEET_TYPE} inputs`);
    const fleet = new MailFleet(name, { spec }, options);
    const outputs = fleet.outputs();
    // Outputs a backend does not make (hostFiles with push: ssh, …) are absent, as in the schema.
    return { urn: fleet.urn, state: Object.fromEntries(Object.keys(OUTPUTS).filter((k) => k in outputs).map((k) => [k, outputs[k]])) };
  }
}
