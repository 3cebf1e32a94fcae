/**
 * Config refusals and acceptances that need what Debian 13 holds: its system accounts and the hashes
 * its doveadm writes (the table of refusals: refusals.test.ts).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DEBIAN13_ROOT, withDebian13Host } from "../support/debian13";
import { ADMIN_USER, HASH, problemsOf, validRaw } from "../support/fixtures";

describe("config refusals", () => {
  it("refuses every system account of Debian 13's own passwd file but root", () => {
    const system = readFileSync(join(DEBIAN13_ROOT, "etc/passwd"), "utf8")
      .trim()
      .split("\n")
      .map((line) => line.split(":"))
      .filter(([user, , uid]) => user !== "root" && (Number(uid) < 1000 || Number(uid) === 65534))
      .map(([user]) => user);
    assert.ok(system.includes("_rspamd") && system.includes("dovenull"), "the root holds the daemons' accounts");
    for (const user of system) assert.match(problemsOf({ ...validRaw(), ssh: { user } }).get("ssh.user") ?? "", ADMIN_USER, user);
  });
});

describe("config that must keep passing", () => {
  it("accepts every hash scheme as Debian 13's doveadm writes it", () => {
    const hashes = withDebian13Host([], (host) =>
      ["SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "ARGON2ID", "ARGON2I"].map((scheme) => {
        const made = host.run(["doveadm", "pw", "-s", scheme, "-p", "lab-password"]);
        assert.equal(made.code, 0, made.stderr);
        return made.stdout.trim();
      }),
    );
    const raw = validRaw();
    raw.mailboxes = hashes.map((passwordHash, i) => ({ address: `user${i}@example.com`, passwordHash, store: "store1" }));
    raw.mailboxes.push({ address: "alice@example.com", passwordHash: HASH, store: "store1" });
    raw.aliases = {};
    assert.deepEqual([...problemsOf(raw)], []);
  });
});
