/**
 * The component package's provider under Pulumi mocks: construct takes the stack file's keys as
 * inputs (secrets as secret Outputs), builds the MailFleet the program builds, and returns the
 * outputs the schema declares; bad inputs fail as a bad stack file does.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { readStackConfig } from "../../components/config";
import { scalarFromString } from "../../components/config/schema";
import { MAILFLEET_TYPE, OUTPUTS } from "../../components/package/schema";
import { MailFleetProvider } from "../../components/package/provider";
import { settleUnderMocks, underMocks } from "../support/harness";

/** The lab stack's values as a program passes them: typed, the password hashes as secret Outputs. */
function labInputs(): Record<string, unknown> {
  const { raw } = readStackConfig("lab", { passphrase: "mailfleet-lab" });
  const inputs: Record<string, unknown> = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, scalarFromString(v)]));
  inputs.mailboxes = (raw.mailboxes as Record<string, unknown>[]).map((m) => ({ ...m, passwordHash: pulumi.secret(m.passwordHash as string) }));
  return inputs;
}

const construct = (inputs: Record<string, unknown>, type = MAILFLEET_TYPE) => new MailFleetProvider("0.1.0").construct("fleet", type, inputs as pulumi.Inputs, {});

describe("MailFleetProvider", () => {
  it("constructs the fleet from the stack's keys and returns exactly the outputs the schema declares", async () => {
    const { resources, result } = await underMocks(() => construct(labInputs()));
    assert.ok(resources.some((r) => r.type === MAILFLEET_TYPE && r.name === "fleet"));
    const returned = Object.keys(result.state);
    const required = Object.keys(OUTPUTS).filter((k) => !OUTPUTS[k].optional);
    assert.deepEqual(returned.filter((k) => !(k in OUTPUTS)), [], "an output the schema does not declare");
    assert.deepEqual(required.filter((k) => !returned.includes(k)), [], "a required output missing");
    // push: none with dns: zone: the files are outputs here.
    assert.ok(returned.includes("hostFiles") && returned.includes("dnsServerFiles"));
  });

  it("fails on bad inputs with every problem by key path, before registering anything", async () => {
    const inputs = { ...labInputs(), dmarc: { policy: "rejekt" }, dnsTtl: 5 };
    const { resources, error } = await settleUnderMocks(() => construct(inputs));
    assert.ok(error instanceof pulumi.RunError, `a RunError, not ${error}`);
    assert.match((error as Error).message, /^invalid mailfleet:index:MailFleet inputs \(2 problems\):\n {2}- dmarc\.policy: .*\n {2}- dnsTtl: /);
    assert.deepEqual(resources, []);
  });

  it("refuses an input still unknown at preview, and a type it does not have", async () => {
    const unknown = pulumi.output(pulumi.unknown);
    const { error } = await settleUnderMocks(() => construct({ ...labInputs(), serverDomain: unknown }));
    assert.match(String(error), /every input must be known at preview/);
    await assert.rejects(construct(labInputs(), "mailfleet:index:Other"), /unknown resource type mailfleet:index:Other/);
  });
});
