import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseFleet } from "../../components/build";
import { ConfigError, parseFleetConfig } from "../../components/config";
import { HASH, validRaw } from "../support/fixtures";

/** The problems parseFleet (config, topology and record names in one error) reports for raw, as "path: message — hint" strings. */
function problemsOf(raw: Record<string, unknown>): { path: string; text: string }[] {
  try {
    parseFleet(raw);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.problems.map((p) => ({ path: p.path, text: `${p.message}${p.hint ? ` — ${p.hint}` : ""}` }));
  }
  return [];
}

type Case = [title: string, change: (raw: Record<string, any>) => void, path: string, says: RegExp];
const CASES: Case[] = [
  ["non-FQDN server domain", (r) => (r.serverDomain = "mail"), "serverDomain", /fully qualified/],
  ["dnssec that is no boolean", (r) => (r.dnssec = "yes"), "dnssec", /true or false: whether the fleet's zones are DNSSEC-signed/],
  ["upper-case domain", (r) => (r.domains[1] = "Example.org"), "domains[1]", /lowercase/],
  ["domain with a trailing dot", (r) => (r.domains[0] = "example.com."), "domains[0]", /fully qualified/],
  ["duplicate domain", (r) => r.domains.push("example.com"), "domains[2]", /listed twice/],
  ["duplicate host", (r) => (r.hosts.store[1].name = "mx1"), "hosts.store", /"mx1" is used twice/],
  ["duplicate mailbox", (r) => r.mailboxes.push({ address: "alice@example.com", passwordHash: HASH, store: "store1" }), "mailboxes[2].address", /listed twice/],
  ["zero edge MX", (r) => (r.hosts.edge = []), "hosts.edge", /no edge MX host — MX records need at least one target/],
  ["mailbox in an unhosted domain", (r) => (r.mailboxes[1].address = "bob@exmple.com"), "mailboxes[1].address", /"exmple.com" is not a hosted domain — hosted: example.com, example.org/],
  ["store that does not exist", (r) => (r.mailboxes[0].store = "store9"), "mailboxes[0].store", /store "store9" does not exist — stores: store1, store2/],
  ["store missing with two stores", (r) => delete r.mailboxes[0].store, "mailboxes[0].store", /required when there are 2 stores/],
  ["AAAA wanted but IPv6 disabled", (r) => (r.ipv6 = false), "hosts.edge[0].ipv6", /ipv6 is false/],
  ["IPv6 missing for byo with ipv6 on", (r) => delete r.hosts.outbound[0].ipv6, "hosts.outbound[0].ipv6", /required when ipv6 is true/],
  ["count instead of servers for byo", (r) => (r.hosts.store = { count: 2 }), "hosts.store", /list of existing servers/],
  ["addresses given to aws", (r) => Object.assign(r, { compute: "aws", dns: "cloudflare", ssh: { publicKey: "ssh-ed25519 AAAAC3Nza a@b" } }), "hosts.edge[0]", /aws backend allocates/],
  ["SPF over 10 lookups", (r) => (r.spfIncludes = Array.from({ length: 10 }, (_, i) => `_spf${i}.relay.example.net`)), "spfIncludes", /11 DNS lookups, over the limit of 10/],
  ["weak password hash", (r) => (r.mailboxes[0].passwordHash = "{PLAIN}secret-password-123456789"), "mailboxes[0].passwordHash", /strong password hash/],
  ["newline in a domain", (r) => (r.domains[0] = "example.com\nmydestination = evil"), "domains[0]", /control character/],
  ["NUL in an alias target", (r) => (r.aliases["sales@example.com"][0] = "alice@example.com\u0000"), 'aliases["sales@example.com"][0]', /control character/],
  ["quote in a local part", (r) => (r.mailboxes[0].address = 'al"ice@example.com'), "mailboxes[0].address", /not a mail address/],
  ["semicolon in a DMARC report address", (r) => (r.dmarc = { policy: "reject", rua: "a@example.com;ruf=x" }), "dmarc.rua", /not a mail address/],
  ["shell in a host name", (r) => (r.hosts.edge[0].name = "mx1;reboot"), "hosts.edge[0].name", /not a host label/],
  ["space in a relay password", (r) => (r.smarthost = { host: "relay.example.net", username: "u", password: "a b" }), "smarthost.password", /printable ASCII characters without spaces/],
  ["directive in a DNSBL", (r) => (r.spam = { dnsbls: ["zen.spamhaus.org permit"] }), "spam.dnsbls[0]", /not a DNSBL site/],
  ["DNSBL reply octet out of range", (r) => (r.spam = { dnsbls: ["bl.example.net=127.0.0.[2..300]"] }), "spam.dnsbls[0]", /not within 0\.\.255/],
  ["negative allowlist weight", (r) => (r.spam = { dnsbls: [], dnswls: ["list.dnswl.org*-3"] }), "spam.dnswls[0]", /give it positive/],
  ["bad CIDR", (r) => (r.relayNetworks = ["10.0.0.0/33"]), "relayNetworks[0]", /CIDR/],
  ["SSH open to the world", (r) => (r.adminSshCidrs = ["0.0.0.0/0"]), "adminSshCidrs[0]", /whole Internet/],
  ["admin is not a mailbox", (r) => (r.admin = "ops@example.com"), "admin", /not a mailbox/],
  ["alias to a missing local mailbox", (r) => (r.aliases["sales@example.com"] = ["nobody@example.com"]), 'aliases["sales@example.com"][0]', /no mailbox or alias/],
  ["alias that is also a mailbox", (r) => (r.aliases["alice@example.com"] = "bob@example.org"), 'aliases["alice@example.com"]', /also a mailbox/],
  ["catch-all for a foreign domain", (r) => (r.catchAll = { "example.net": "alice@example.com" }), 'catchAll["example.net"]', /not a hosted domain/],
  ["malformed DKIM selector", (r) => (r.dkim = { selectors: ["a.example"] }), "dkim.selectors[0]", /not a DKIM selector/],
  ["active DKIM selector not listed", (r) => (r.dkim = { selectors: ["s1"], active: "s2" }), "dkim.active", /not one of the selectors/],
  ["server domain outside the DNS zones", (r) => (r.serverDomain = "mail.example.net"), "serverDomain", /none of the DNS zones/],
  ["zone backend without nameservers", (r) => delete r.zone, "zone", /required with dns: zone/],
  ["push over SSH without a key", (r) => (r.push = "ssh"), "ssh.privateKey", /required when push is ssh/],
  ["unknown key", (r) => (r.domain = "example.com"), "domain", /unknown key/],
  ["missing required key", (r) => delete r.serverDomain, "serverDomain", /is required — set it with `pulumi config set/],
  ["mailbox with the recipient delimiter", (r) => {
    r.recipientDelimiter = "-";
    r.mailboxes[0].address = "alice-x@example.com";
  }, "mailboxes[0].address", /recipient delimiter "-"/],
  ["plus sign in a local part", (r) => (r.mailboxes[0].address = "alice+x@example.com"), "mailboxes[0].address", /not a mail address/],
  ["out-of-range MTA-STS max_age", (r) => (r.mtaSts = { mode: "enforce", maxAge: 60 }), "mtaSts.maxAge", /86400/],
];

describe("parseFleetConfig", () => {
  it("accepts the valid fixture and fills defaults", () => {
    const spec = parseFleetConfig(validRaw());
    assert.equal(spec.recipientDelimiter, "+");
    assert.deepEqual(spec.dkim, { selectors: ["mf1"], active: "mf1" });
    assert.deepEqual(spec.aliases["postmaster@example.org"], ["alice@example.com"]);
    assert.deepEqual(spec.aliases["abuse@example.com"], ["alice@example.com"]);
    assert.equal(spec.tlsRpt.rua, "alice@example.com");
    assert.deepEqual(spec.dnsZones, ["example.com", "example.org"]);
    assert.equal(spec.zone?.hostmaster, "hostmaster@example.com");
  });

  it("keeps postmaster@ when the operator routes it", () => {
    const raw = validRaw();
    raw.aliases["postmaster@example.com"] = "bob@example.org";
    assert.deepEqual(parseFleetConfig(raw).aliases["postmaster@example.com"], ["bob@example.org"]);
  });

  it("reads Pulumi's string-typed top-level scalars", () => {
    const spec = parseFleetConfig({ ...validRaw(), dnsTtl: "600", ipv6: "true", pop3: "false", dnssec: "false" });
    assert.equal(spec.dnsTtl, 600);
    assert.equal(spec.dnssec, false);
    assert.equal(parseFleetConfig(validRaw()).dnssec, true, "signed unless the stack opts out");
    assert.equal(spec.ipv6, true);
    assert.equal(spec.pop3, false);
  });

  for (const [title, change, path, says] of CASES) {
    it(`rejects ${title} at ${path}`, () => {
      const raw = validRaw();
      change(raw);
      const problems = problemsOf(raw);
      const hit = problems.find((p) => p.path === path);
      assert.ok(hit, `no problem at ${path}; got ${JSON.stringify(problems)}`);
      assert.match(hit.text, says);
    });
  }

  it("lists the keys' problems and the names' (topology, record set) in the same error", () => {
    const raw = validRaw();
    raw.relayNetworks = ["nonsense"];
    raw.mailboxes[0].store = "store9";
    raw.hosts.store[1].name = "mx1";
    // store2 is renamed, so bob@example.org's store is gone too.
    assert.deepEqual(problemsOf(raw).map((p) => p.path).sort(), ["hosts.store", "mailboxes[0].store", "mailboxes[1].store", "relayNetworks[0]"]);
    assert.deepEqual(problemsOf(Object.assign(validRaw(), { relayNetworks: ["nonsense"] })).map((p) => p.path), ["relayNetworks[0]"]);
  });

  it("lists every problem of a file in one error", () => {
    const raw = validRaw();
    raw.serverDomain = "mail";
    raw.mailboxes[1].address = "bob@exmple.com";
    raw.relayNetworks = ["nonsense"];
    raw.hosts.edge = [];
    const paths = problemsOf(raw).map((p) => p.path);
    // The alias to bob@example.org is reported too: that mailbox is gone from the hosted domains.
    const expected = ["hosts.edge", "mailboxes[1].address", "relayNetworks[0]", "serverDomain", 'aliases["sales@example.com"][1]'];
    assert.deepEqual(paths.sort(), expected.sort());
  });
});
