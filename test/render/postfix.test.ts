/** Postfix's tables and formats (the whole configs go through Debian 13's Postfix in postfix.daemon.test.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderEdgePostfix } from "../../components/render/postfix";
import { dnsblThreshold } from "../../components/render/postfix/edge";
import { renderTable } from "../../components/render/postfix/format";
import { srsAddressTable } from "../../components/render/postfix/forwarding";
import { hostedAliases, senderLogins } from "../../components/render/postfix/tables";
import { hostsOf } from "../../components/topology";
import { forwardingDomain } from "../../components/topology/naming";
import { lab } from "../support/labRecords";
import { labInput, srsAddressCases } from "./postfix.fixtures";

describe("postfix tables and formats", () => {
  it("sender logins follow nested aliases to hosted mailboxes, and skip foreign-only aliases", () => {
    const { spec } = lab((raw) => {
      raw.aliases = { ...raw.aliases, "team@example.com": ["sales@example.com", "carol@example.com"], "ext@example.com": "x@example.net" };
    });
    const logins = new Map(senderLogins(spec));
    assert.deepEqual(logins.get("team@example.com"), ["alice@example.com", "bob@example.org", "carol@example.com"]);
    assert.deepEqual(logins.get("alice@example.com"), ["alice@example.com"]);
    assert.equal(logins.has("ext@example.com"), false);
  });

  it("a catch-all domain lists its mailboxes as themselves, so the catch-all does not take their mail", () => {
    const aliases = new Map(hostedAliases(lab().spec));
    assert.deepEqual(aliases.get("bob@example.org"), ["bob@example.org"]);
    assert.deepEqual(aliases.get("@example.org"), ["bob@example.org"]);
    assert.equal(aliases.has("alice@example.com"), false, "example.com has no catch-all");
  });

  it("DNSBL threshold: 3, or the total weight when the lists weigh less", () => {
    assert.equal(dnsblThreshold(["zen.spamhaus.org*3", "bl.spamcop.net"]), 3);
    assert.equal(dnsblThreshold(["bl.spamcop.net"]), 1);
    assert.equal(dnsblThreshold(["a.example.org*2", "list.dnswl.org*-5"]), 2);
  });

  it("a table line cannot be split or commented out", () => {
    assert.throws(() => renderTable("t", [["a@example.com", ["b@example.com\nc"]]]));
    assert.throws(() => renderTable("t", [["#a", ["b"]]]));
    assert.throws(() => renderTable("t", [["a b", ["c"]]]));
  });

  it("a table of a host's own entries and a shared list holds both, and a key in both is refused", () => {
    const shared = [["@example.com", ["alice@example.com"]]] as const;
    assert.match(renderTable("t", [["postmaster@mx1.example.com", ["root"]]], shared), /^postmaster@mx1\.example\.com root\n@example\.com alice@example\.com\n$/m);
    assert.throws(() => renderTable("t", [["@example.com", ["bob@example.org"]]], shared), /@example\.com appears twice/);
    assert.throws(() => renderTable("t", [["a", ["b"]], ["a", ["c"]]]), /a appears twice/);
  });

  it("the SRS address table passes through only SRS addresses of the forwarding domain, as they are", () => {
    const { spec } = lab();
    const rules = srsAddressTable(spec).split("\n").filter((line) => line && !line.startsWith("#"));
    assert.equal(rules.length, 1);
    const [, pattern, result] = /^\/(.*)\/ (.*)$/.exec(rules[0]) ?? assert.fail(`not a regexp table rule: ${rules[0]}`);
    assert.equal(result, "${1}");
    // Postfix's regexp: tables ignore case unless a rule's flags say otherwise.
    const re = new RegExp(pattern, "i");
    const { srs, other } = srsAddressCases(forwardingDomain(spec));
    for (const address of srs) assert.equal(re.exec(address)?.[1], address, address);
    for (const address of other) assert.doesNotMatch(address, re);
    assert.throws(() => srsAddressTable({ ...spec, serverDomain: "mail.example.com)|(.*" }), /refusing to render/);
  });

  it("refuses a host of the wrong role", () => {
    const input = labInput();
    assert.throws(() => renderEdgePostfix(input, hostsOf(input.topology, "outbound")[0]), /not edge/);
  });
});
