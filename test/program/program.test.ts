/**
 * The program entry (`index.ts` and the Automation API driver run it): the stack's config as the
 * engine hands it over, parsed before anything is created.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, readStackConfig } from "../../components/config";
import { fleetConfig, mailfleetProgram } from "../../components/program";
import { settleUnderMocks, underMocks } from "../support/harness";

/** A stack's config as Pulumi's runtime holds it: `mailfleet:<key>` -> text, structured values as JSON. */
function engineConfig(raw: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [`mailfleet:${k}`, typeof v === "string" ? v : JSON.stringify(v)]));
}

function labRaw(): Record<string, unknown> {
  return readStackConfig("lab", { passphrase: "mailfleet-lab" }).raw;
}

describe("mailfleetProgram", () => {
  it("reads the stack's config as the engine gives it: JSON where it is JSON, text otherwise", () => {
    const raw = fleetConfig({
      "mailfleet:serverDomain": "mail.example.com",
      "mailfleet:domains": '["example.com"]',
      "mailfleet:dnsTtl": "300",
      "mailfleet:ssh": '{"user":"admin"}',
      "mailfleet:admin": "alice@example.com",
      "aws:region": "eu-central-1",
    });
    assert.deepEqual(raw, { serverDomain: "mail.example.com", domains: ["example.com"], dnsTtl: 300, ssh: { user: "admin" }, admin: "alice@example.com" });
  });

  it("creates the fleet from a good config and returns its outputs", async () => {
    pulumi.runtime.setAllConfig(engineConfig(labRaw()));
    const { resources, result } = await underMocks(() => mailfleetProgram());
    assert.deepEqual(Object.keys(result).sort(), ["dkimTxt", "dnsRecords", "dnsServerFiles", "hostAddresses", "hostFiles", "monitoring", "mtaStsPolicy", "mxHosts", "nextSteps"]);
    assert.ok(resources.some((r) => r.type === "mailfleet:index:MailFleet"));
  });

  for (const [what, change] of [
    ["an unknown compute backend", (raw: Record<string, unknown>) => (raw.compute = "gcp")],
    ["dns: zone without its nameservers", (raw: Record<string, unknown>) => delete raw.zone],
    ["compute: aws without the SSH key new hosts need", (raw: Record<string, unknown>) => {
      raw.compute = "aws";
      raw.hosts = { edge: { count: 1 }, outbound: { count: 1 }, store: { count: 1 } };
      raw.mailboxes = (raw.mailboxes as Record<string, unknown>[]).map((m) => ({ ...m, store: "store1" }));
    }],
    ["a Cloudflare zone id for a zone the fleet does not use", (raw: Record<string, unknown>) => {
      raw.dns = "cloudflare";
      raw.cloudflare = { zoneIds: { "example.net": "0123456789abcdef0123456789abcdef" } };
    }],
  ] as const) {
    it(`fails on ${what} before registering any resource`, async () => {
      const raw = labRaw();
      change(raw);
      pulumi.runtime.setAllConfig(engineConfig(raw));
      const { resources, error } = await settleUnderMocks(() => mailfleetProgram());
      assert.ok(error instanceof ConfigError, `a ConfigError, not ${error}`);
      assert.deepEqual(resources, [], "nothing registered");
    });
  }
});
