/** Two labs on one machine: each instance's namespaces and state stay apart from every other's. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { labInstance } from "../../scripts/lab/plan";

test("no lab's namespace prefix or state directory is the prefix of another's", () => {
  const labs = ["", "2", "22", "obs", "net", "a1b2c3"].map(labInstance);
  for (const a of labs) {
    for (const b of labs) {
      if (a === b) continue;
      assert.ok(!`${b.prefix}mx1`.startsWith(a.prefix), `${b.prefix} starts with ${a.prefix}`);
      assert.ok(!`${b.dir}/hosts`.startsWith(`${a.dir}/`), `${b.dir} lies under ${a.dir}`);
    }
  }
  assert.deepEqual(labInstance(""), { dir: "/var/lib/mailfleet-lab", prefix: "mflab-" });
});

test("an instance name that could reach outside the lab's names is refused", () => {
  for (const bad of ["-", "../x", "A", "toolongname", "a b"]) assert.throws(() => labInstance(bad), /MAILFLEET_LAB_INSTANCE/);
});
