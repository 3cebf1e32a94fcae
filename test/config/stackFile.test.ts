import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readStackSpec } from "../../components/build";
import { ConfigError, parseFleetConfig, readStackConfig, REDACTED_SECRET } from "../../components/config";

// stacks/Pulumi.lab.yaml was written by the pulumi CLI (`pulumi config set --secret`), so these
// tests show that the offline reader decrypts exactly what the CLI encrypts.
describe("readStackConfig", () => {
  it("decrypts the CLI's passphrase secrets", () => {
    const { raw, redacted } = readStackConfig("lab", { passphrase: "mailfleet-lab" });
    assert.equal(redacted, false);
    const spec = parseFleetConfig(raw);
    assert.match(spec.mailboxes[0].passwordHash, /^\{SHA512-CRYPT\}\$6\$/);
    assert.equal(spec.mailboxes.length, 3);
  });

  it("redacts secrets when no passphrase is given, and the plan still parses", () => {
    const { raw, redacted } = readStackConfig("prod");
    assert.equal(redacted, true);
    const spec = parseFleetConfig(raw, { allowRedacted: redacted });
    assert.ok(spec.mailboxes.every((m) => m.passwordHash === REDACTED_SECRET));
    assert.equal(spec.ssh.privateKey, REDACTED_SECRET);
  });

  it("refuses a wrong passphrase with an error that names it", () => {
    assert.throws(() => readStackConfig("lab", { passphrase: "not-it" }), (e: unknown) => e instanceof ConfigError && e.problems[0].path === "PULUMI_CONFIG_PASSPHRASE");
  });

  it("names a missing stack file and rejects a stack name that could escape the folder", () => {
    assert.throws(() => readStackConfig("nope"), /stacks\/Pulumi\.nope\.yaml: cannot be read/);
    assert.throws(() => readStackConfig("../etc/passwd"), /is not a stack name/);
  });

  it("keeps only the mailfleet namespace", () => {
    const dir = mkdtempSync(join(tmpdir(), "mailfleet-stack-"));
    writeFileSync(join(dir, "Pulumi.x.yaml"), "config:\n  aws:region: eu-west-1\n  mailfleet:dnsTtl: \"600\"\n");
    assert.deepEqual(readStackConfig("x", { dir }).raw, { dnsTtl: "600" });
  });
  it("refuses a key given twice in one map, at its line, in a nested map too and in a large one", () => {
    const dir = mkdtempSync(join(tmpdir(), "mailfleet-stack-"));
    const twice = (aliases: string) => {
      writeFileSync(join(dir, "Pulumi.x.yaml"), `config:\n  mailfleet:aliases:\n${aliases}`);
      return () => readStackConfig("x", { dir });
    };
    const refused = (line: number) => (e: unknown) => e instanceof ConfigError && new RegExp(`is not valid YAML at line ${line}, column 5 \\(DUPLICATE_KEY\\)`).test(e.message);
    assert.throws(twice("    a@example.com: [b@example.com]\n    c@example.com: [d@example.com]\n    a@example.com: [e@example.com]\n"), refused(5));
    // 20 000 distinct keys and then one again: refused where it stands, read in one pass.
    const many = Array.from({ length: 20_000 }, (_, i) => `    a${i}@example.com: [b@example.com]\n`).join("");
    assert.throws(twice(`${many}    a7@example.com: [c@example.com]\n`), refused(20_003));
    assert.equal(Object.keys(twice(many)().raw.aliases as object).length, 20_000);
  });
});

describe("readStackSpec", () => {
  it("reads and validates: the lab stack's spec with its secrets", () => {
    const { spec, redacted } = readStackSpec("lab", { passphrase: "mailfleet-lab" });
    assert.equal(redacted, false);
    assert.deepEqual(spec, parseFleetConfig(readStackConfig("lab", { passphrase: "mailfleet-lab" }).raw));
  });

  it("lets placeholders stand for undecrypted secrets only when the use is read-only", () => {
    const { spec, redacted } = readStackSpec("prod", { allowRedacted: true });
    assert.equal(redacted, true);
    assert.equal(spec.ssh.privateKey, REDACTED_SECRET);
    assert.throws(() => readStackSpec("prod"), (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.path === "ssh.privateKey"));
  });

  it("fails on a bad stack file with the ConfigError naming the key", () => {
    const dir = mkdtempSync(join(tmpdir(), "mailfleet-stack-"));
    writeFileSync(join(dir, "Pulumi.x.yaml"), "config:\n  mailfleet:dnsTtl: \"600\"\n");
    assert.throws(() => readStackSpec("x", { dir }), (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.path === "serverDomain"));
  });
});
