/** nft itself (Debian 13) checks and loads every rendered rule set (what they hold: firewall.test.ts). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { withDebian13Host } from "../support/debian13";
import { build, input, natted, overlappingAdmins, rulesOf } from "./firewall.fixtures";

/** Loads each rule set with nft in a fresh network namespace; throws with nft's message on failure. */
function loadAll(ruleSets: string[]): void {
  withDebian13Host([], (host) => {
    for (const rules of ruleSets) {
      const r = host.run(["sh", "-c", "cat > /tmp/rules.nft && nft -c -f /tmp/rules.nft && nft -f /tmp/rules.nft"], rules);
      assert.equal(r.code, 0, `${r.stderr}\n${rules}`);
    }
  });
}

test("nft loads the rule set of an admin network that overlaps another (merged)", () => {
  loadAll([rulesOf(overlappingAdmins().hostFiles.mx1)]);
});

test("nft checks and loads the rule set of every host and the nameserver, with and without private addresses and IPv6", () => {
  const fleets = [build(input.addresses), build(natted), build(input.addresses, (s) => ({ ...s, ipv6: false }))];
  loadAll(fleets.flatMap((f) => [...Object.values(f.hostFiles).map(rulesOf), rulesOf(f.dnsServerFiles)]));
});

test("the loaded rule set admits the admin network and no other source to SSH (nft's own set lookup)", () => {
  const rules = rulesOf(build(input.addresses).hostFiles.store1);
  withDebian13Host([], (host) => {
    const lookup = (set: string, address: string) =>
      host.run(["sh", "-c", 'nft -f - && nft get element inet mailfleet "$1" "{ $2 }"', "sh", set, address], rules).code;
    assert.equal(lookup("admin_v4", "192.0.2.2"), 0);
    assert.notEqual(lookup("admin_v4", "203.0.113.25"), 0);
    assert.notEqual(lookup("edge_v4", "203.0.113.25"), 0);
  });
});
