import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseFleetConfig, readStackConfig } from "../../components/config";
import { testStackConfig } from "../../scripts/teardown/testStack";
import { checkPrefix, protectedWord } from "../../components/stackName";
import {
  creationTags,
  Decision,
  expiry,
  selectStacks,
  StackInfo,
  TAG_CREATED,
  TAG_TTL_HOURS,
} from "../../scripts/teardown/select";

const NOW = new Date("2026-03-10T12:00:00Z");
const tagged = (name: string, created: string, ttl: string): StackInfo => ({ name, tags: { [TAG_CREATED]: created, [TAG_TTL_HOURS]: ttl } });
const run = (stacks: StackInfo[], explicit: string[] = [], prefix = "test-"): Decision[] => selectStacks(stacks, { prefix, now: NOW, explicit });
const actions = (decisions: Decision[]) => Object.fromEntries(decisions.map((d) => [d.stack, d.action]));

describe("teardown selection by TTL", () => {
  it("destroys a test stack past created + ttl and keeps one before it", () => {
    const decisions = run([
      tagged("test-pr-1", "2026-03-09T11:00:00Z", "24"), // expired 1 h ago
      tagged("test-pr-2", "2026-03-09T13:00:00Z", "24"), // expires in 1 h
    ]);
    assert.deepEqual(actions(decisions), { "test-pr-1": "destroy", "test-pr-2": "keep" });
    assert.match(decisions[0].reason, /expired 1\.0 h ago \(2026-03-10T11:00:00\.000Z\)/);
    assert.match(decisions[1].reason, /expires in 1\.0 h/);
  });

  it("destroys exactly at the expiry instant (the TTL is a maximum age)", () => {
    assert.equal(run([tagged("test-a", "2026-03-10T10:00:00Z", "2")])[0].action, "destroy");
    assert.equal(run([tagged("test-a", "2026-03-10T10:00:01Z", "2")])[0].action, "keep");
  });

  it("never mentions stacks without the prefix, whatever their tags", () => {
    const decisions = run([tagged("dev", "2020-01-01T00:00:00Z", "1"), tagged("lab", "2020-01-01T00:00:00Z", "1"), tagged("mytest-x", "2020-01-01T00:00:00Z", "1")]);
    assert.deepEqual(decisions, []);
  });

  it("refuses an expired prefixed stack whose name says prod or staging", () => {
    const decisions = run([
      tagged("test-prod", "2020-01-01T00:00:00Z", "1"),
      tagged("test-staging-copy", "2020-01-01T00:00:00Z", "1"),
      tagged("test-Stage2", "2020-01-01T00:00:00Z", "1"),
      tagged("test-production_db", "2020-01-01T00:00:00Z", "1"),
    ]);
    assert.deepEqual(actions(decisions), { "test-prod": "refuse", "test-staging-copy": "refuse", "test-Stage2": "refuse", "test-production_db": "refuse" });
    assert.match(decisions[0].reason, /contains "prod"/);
  });

  it("does not mistake words that merely contain a protected word", () => {
    const decisions = run([tagged("test-product-page", "2020-01-01T00:00:00Z", "1"), tagged("test-backstage", "2020-01-01T00:00:00Z", "1")]);
    assert.deepEqual(actions(decisions), { "test-product-page": "destroy", "test-backstage": "destroy" });
  });

  it("keeps a stack whose tags are missing or malformed, and says which", () => {
    const cases: [StackInfo, RegExp][] = [
      [{ name: "test-none", tags: {} }, /has no mailfleet:created and mailfleet:ttl-hours tags/],
      [{ name: "test-nottl", tags: { [TAG_CREATED]: "2020-01-01T00:00:00Z" } }, /has no/],
      [tagged("test-local", "2020-01-01T00:00:00", "1"), /not an ISO 8601 UTC time/],
      [tagged("test-date", "2020-01-01", "1"), /not an ISO 8601 UTC time/],
      [tagged("test-junk", "yesterday", "1"), /not an ISO 8601 UTC time/],
      [tagged("test-badmonth", "2020-13-01T00:00:00Z", "1"), /not an ISO 8601 UTC time/],
      [tagged("test-zero", "2020-01-01T00:00:00Z", "0"), /ttl-hours "0" is not a whole number of hours from 1 to 720/],
      [tagged("test-neg", "2020-01-01T00:00:00Z", "-5"), /not a whole number/],
      [tagged("test-frac", "2020-01-01T00:00:00Z", "1.5"), /not a whole number/],
      [tagged("test-huge", "2020-01-01T00:00:00Z", "24000"), /not a whole number/],
      [tagged("test-word", "2020-01-01T00:00:00Z", "a day"), /not a whole number/],
    ];
    for (const [stack, reason] of cases) {
      const [decision] = run([stack]);
      assert.equal(decision.action, "keep", stack.name);
      assert.match(decision.reason, reason, stack.name);
      assert.match(decision.reason, /name it explicitly to destroy it/);
    }
  });

  it("keeps a stack created in the future (clock skew), it has not expired", () => {
    assert.equal(run([tagged("test-future", "2026-03-11T00:00:00Z", "1")])[0].action, "keep");
  });

  it("matches the prefix on the stack's own name of a qualified name", () => {
    const decisions = run([tagged("organization/mailfleet/test-pr-3", "2020-01-01T00:00:00Z", "1"), tagged("organization/mailfleet/dev", "2020-01-01T00:00:00Z", "1")]);
    assert.deepEqual(actions(decisions), { "organization/mailfleet/test-pr-3": "destroy" });
  });

  it("honours another prefix", () => {
    const stacks = [tagged("ci-7", "2020-01-01T00:00:00Z", "1"), tagged("test-7", "2020-01-01T00:00:00Z", "1")];
    assert.deepEqual(actions(run(stacks, [], "ci-")), { "ci-7": "destroy" });
  });
});

describe("teardown selection of named stacks", () => {
  const stacks = [tagged("test-pr-5", "2026-03-10T11:00:00Z", "48"), { name: "test-untagged", tags: {} }, tagged("prod", "2020-01-01T00:00:00Z", "1"), tagged("dev", "2020-01-01T00:00:00Z", "1")];

  it("destroys a named test stack before its TTL and without tags", () => {
    assert.deepEqual(actions(run(stacks, ["test-pr-5", "test-untagged"])), { "test-pr-5": "destroy", "test-untagged": "destroy" });
  });

  it("considers only the named stacks", () => {
    const decisions = run([...stacks, tagged("test-old", "2020-01-01T00:00:00Z", "1")], ["test-pr-5"]);
    assert.deepEqual(decisions.map((d) => d.stack), ["test-pr-5"]);
  });

  it("refuses prod, staging and unprefixed names outright, listed or not", () => {
    for (const name of ["prod", "production", "staging", "stage", "PROD", "test-prod", "test-stage", "dev", "lab", "organization/mailfleet/prod"]) {
      const [decision] = run(stacks, [name]);
      assert.equal(decision.action, "refuse", name);
    }
    assert.match(run(stacks, ["prod"])[0].reason, /contains "prod"/);
    assert.match(run(stacks, ["dev"])[0].reason, /does not start with the test prefix "test-"/);
  });

  it("refuses a named stack the backend does not have", () => {
    const [decision] = run(stacks, ["test-gone"]);
    assert.deepEqual(decision, { stack: "test-gone", action: "refuse", reason: "no such stack in this backend" });
  });

  it("accepts the short name of a qualified stack and reports the qualified one", () => {
    const [decision] = run([tagged("org/mailfleet/test-pr-9", "2026-03-10T11:00:00Z", "48")], ["test-pr-9"]);
    assert.deepEqual(decision, { stack: "org/mailfleet/test-pr-9", action: "destroy", reason: "named explicitly" });
  });

  it("decides a name given twice once", () => {
    assert.equal(run(stacks, ["test-pr-5", "test-pr-5"]).length, 1);
  });
});

describe("teardown prefix, words and tags", () => {
  it("rejects prefixes that would match too much or name a real environment", () => {
    for (const bad of ["", "t", "test", "-", "prod-", "staging_", "test prod-", "../"]) assert.ok(checkPrefix(bad), JSON.stringify(bad));
    for (const good of ["test-", "ci_", "tmp.", "test-pr-"]) assert.equal(checkPrefix(good), undefined, good);
    assert.throws(() => run([], [], "prod-"), /names a real environment/);
  });

  it("finds protected words at separators and letter/digit boundaries only", () => {
    assert.equal(protectedWord("test-prod"), "prod");
    assert.equal(protectedWord("test.PRD.1"), "prd");
    assert.equal(protectedWord("test-live2"), "live");
    assert.equal(protectedWord("test-pr-12"), undefined);
    assert.equal(protectedWord("test-deliver"), undefined);
  });

  it("creation tags round-trip through expiry", () => {
    const tags = creationTags(new Date("2026-03-10T12:34:56.789Z"), 6);
    assert.deepEqual(tags, { [TAG_CREATED]: "2026-03-10T12:34:56Z", [TAG_TTL_HOURS]: "6" });
    assert.deepEqual(expiry(tags), { at: new Date("2026-03-10T18:34:56Z") });
    assert.throws(() => creationTags(NOW, 0), /TTL/);
    assert.throws(() => creationTags(NOW, 1.5), /TTL/);
  });

  it("property: an unprefixed or protected stack is never destroyed, with or without naming it", () => {
    const word = fc.constantFrom("prod", "production", "staging", "stage", "Prod", "STG", "live");
    const label = fc.stringMatching(/^[a-z0-9]{1,8}$/);
    const name = fc.oneof(
      fc.tuple(label, label).map(([a, b]) => `${a}-${b}`),
      fc.tuple(label, word).map(([a, w]) => `test-${a}-${w}`),
      word,
      label.map((l) => `test-${l}`),
    );
    const stack = fc.record({ name, tags: fc.constant({ [TAG_CREATED]: "2000-01-01T00:00:00Z", [TAG_TTL_HOURS]: "1" }) });
    fc.assert(
      fc.property(fc.array(stack, { maxLength: 8 }), fc.boolean(), (stacks, named) => {
        const decisions = run(stacks, named ? stacks.map((s) => s.name) : []);
        for (const d of decisions.filter((d) => d.action === "destroy")) {
          assert.ok(d.stack.startsWith("test-") && !protectedWord(d.stack), d.stack);
        }
      }),
    );
  });
});

describe("test stack settings derived from another stack", () => {
  /** The derived stack file, read back the way every tool reads a stack (decrypted, validated). */
  function derive(from: string, passphrase: string, stack: string) {
    const dir = mkdtempSync(join(tmpdir(), "mailfleet-teststack-"));
    try {
      writeFileSync(join(dir, `Pulumi.${stack}.yaml`), testStackConfig(readFileSync(`stacks/Pulumi.${from}.yaml`, "utf8"), stack));
      return parseFleetConfig(readStackConfig(stack, { dir, passphrase }).raw);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("moves dev's mail namespace under the stack's label and keeps its zones, secrets and the rest", () => {
    const dev = parseFleetConfig(readStackConfig("dev", { passphrase: "mailfleet-example" }).raw);
    const test = derive("dev", "mailfleet-example", "test-pr-12");
    assert.equal(dev.serverDomain, "mail.example.com");
    assert.equal(test.serverDomain, "test-pr-12.mail.example.com");
    assert.deepEqual(test.domains, ["test-pr-12.example.com", "test-pr-12.example.org"]);
    assert.deepEqual(test.dnsZones, ["example.com", "example.org"]);
    assert.equal(test.admin, "postmaster-team@test-pr-12.example.com");
    assert.equal(test.dmarc.rua, "dmarc-reports@test-pr-12.example.com");
    assert.equal(test.tlsRpt.rua, "tls-reports@test-pr-12.example.com");
    assert.deepEqual(test.aliases["info@test-pr-12.example.org"], ["alice@test-pr-12.example.com", "bob@test-pr-12.example.org"]);
    assert.deepEqual(
      test.mailboxes.map((m) => [m.address, m.passwordHash]),
      dev.mailboxes.map((m) => [m.address.replace("@", "@test-pr-12."), m.passwordHash]),
    );
    assert.deepEqual({ ...test, serverDomain: 0, domains: 0, dnsZones: 0, admin: 0, dmarc: 0, tlsRpt: 0, aliases: 0, mailboxes: 0 }, {
      ...dev, serverDomain: 0, domains: 0, dnsZones: 0, admin: 0, dmarc: 0, tlsRpt: 0, aliases: 0, mailboxes: 0,
    });
  });

  it("renames catch-alls of the lab and leaves foreign names alone", () => {
    const test = derive("lab", "mailfleet-lab", "test-x");
    assert.deepEqual(test.catchAll, { "test-x.example.org": "bob@test-x.example.org" });
    assert.deepEqual(Object.keys(test.bimi), ["test-x.example.com"]);
    assert.deepEqual(test.zone?.nameservers.map((n) => n.name), ["ns1.example.com"]);
  });

  it("refuses a stack name that is not a DNS label", () => {
    assert.throws(() => testStackConfig("config: {}", "test_pr.1"), /must be a DNS label/);
    assert.throws(() => testStackConfig("config: {}", "test-1"), /no mailfleet:serverDomain/);
  });
});
