/**
 * No config value, however hostile, adds a line or a directive to any rendered file or zone file.
 * Each property swaps one token of a valid config (a domain, a local part, a selector, a relay
 * password …) for a generated string, everywhere it occurs. When the parser accepts the config:
 * the build succeeds; every file has the baseline's lines (split into lines first, then the value
 * swapped back per line, so a value that breaks a line shows); and wherever the value lands, it
 * carries none of that file's structural characters (separators, quotes, comment and brace
 * characters), so it cannot add a list element, a field or a directive within a line either.
 */
import { TEST_FORWARDING_KEYS, TEST_STATE_PASSWORDS } from "../support/fixtures";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { buildFleet, givenAddresses } from "../../components/build";
import { ConfigError, FleetSpec, parseFleetConfig } from "../../components/config";
import { createFleetCa, issueHostCertificate } from "../../components/keys/generate";
import { arcKeyName, daneGenerations, FleetKeys, holdsDaneKeys } from "../../components/keys/material";
import { validRaw } from "../support/fixtures";
import { buildTopology, hostsOf } from "../../components/topology";
import { FQDN_RE } from "../../components/config/formats";
import { hostNamePattern } from "../../components/render/postfix/format";

const dkimPair = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ca = createFleetCa("mail.example.com");
const cert = issueHostCertificate(ca, "host.mail.example.com", []);

/** The same key material for every name, so that only the swapped token can change the output. */
function keysFor(spec: FleetSpec): FleetKeys {
  const pair = {
    publicKey: dkimPair.publicKey.export({ type: "spki", format: "der" }).toString("base64"),
    privateKeyPem: dkimPair.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
  return {
    dkim: spec.domains.flatMap((domain) => spec.dkim.selectors.map((selector) => ({ domain, selector, ...pair }))),
    arc: { ...arcKeyName(spec), ...pair },
    srs: TEST_FORWARDING_KEYS.srs,
    caCertPem: ca.certPem,
    hosts: Object.fromEntries(buildTopology(spec).hosts.map((h) => [h.name, cert])),
    tsig: Object.fromEntries(buildTopology(spec).hosts.map((h) => [h.name, "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="])),
    state: TEST_STATE_PASSWORDS,
    dane: Object.fromEntries(
      (holdsDaneKeys(spec) ? hostsOf(buildTopology(spec), "edge") : []).map((h) => [h.name, daneGenerations(spec.tls.daneKeyGeneration).map((generation) => ({ generation, keyPem: pair.privateKeyPem }))]),
    ),
  };
}

function baselineRaw(): Record<string, any> {
  return {
    ...validRaw(),
    dkim: { selectors: ["sel1"] },
    dmarc: { policy: "reject", rua: "dmarc-reports@example.com" },
    smarthost: { host: "relay.example.net", username: "relayuser", password: "relay-password-1", spfInclude: "_spf.example.net" },
    spam: { dnsbls: ["zen.spamhaus.org*3"], warnOnly: false },
    aliases: { "sales@example.com": ["alice@example.com", "bob@example.org"], "dmarc-reports@example.com": "alice@example.com" },
  };
}

/** Every string (and object key) of value with token replaced by replacement. */
function swap(value: unknown, token: string, replacement: string): any {
  if (typeof value === "string") return value.split(token).join(replacement);
  if (Array.isArray(value)) return value.map((v) => swap(v, token, replacement));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [swap(k, token, replacement), swap(v, token, replacement)]));
  }
  return value;
}

interface Output {
  path: string;
  content: string;
}

/** Every output file, in build order: host files, then zone files, then the DNS server's files. */
function outputs(raw: Record<string, unknown>): Output[] {
  const spec = parseFleetConfig(raw);
  const build = buildFleet(spec, givenAddresses(spec), keysFor(spec));
  return [
    ...Object.values(build.hostFiles).flat(),
    ...build.zoneFiles.map((z) => ({ path: `${z.origin}.zone`, content: z.content })),
    ...build.dnsServerFiles,
  ];
}

/**
 * What may not occur inside a value in each kind of file. Passwd-file fields are split at ':';
 * the relay password is the rest of a Postfix table line; everything else (main.cf lists, zone
 * files, nginx, Dovecot, rspamd, XML) treats white space, quotes, ';', ',', braces, '#' and
 * friends as structure.
 */
function structuralCharacters(path: string): RegExp {
  if (path === "/etc/dovecot/users") return /[\s:]/;
  if (path === "/etc/postfix/sasl_passwd") return /\s/;
  return /[\s;,{}()<>"'`\\#$|&=:[\]]/;
}

/** A line's structure: its words folded away, its separators and quoting kept. */
const shape = (line: string) => line.replace(/[A-Za-z0-9]+/g, "w");
const shapes = (lines: string[]) => lines.map(shape).sort();

const CHARS = [..."abcxyz019-._@+", "\n", "\r", "\0", " ", "\t", ";", '"', "'", "\\", "$", "{", "}", "#", "=", ",", ":", "/", "`", "(", ")", "[", "]", "%", "*", "<", ">", "|", "&"];
const hostile = fc.string({ unit: fc.constantFrom(...CHARS), minLength: 1, maxLength: 20 });
// Mostly well-formed values, so that accepted configs (and their renders) are reached often.
const plausible = fc
  .array(fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/), { minLength: 1, maxLength: 3 })
  .chain((labels) => fc.constantFrom(labels.join("."), labels.join("-"), `${labels.join(".")}.example`, `${labels.join(".")}.example.com`));

const STRUCTURAL = ["\n", "\r", "\0", " ", "\t", ";", '"', "'", "\\", "$", "{", "}", "#", "=", ",", ":", "`"];
/** The likeliest attack: the valid value itself with hostile characters spliced in. */
function splicedInto(token: string) {
  const splice = (v: string, [c, at]: [string, number]) => v.slice(0, at % (v.length + 1)) + c + v.slice(at % (v.length + 1));
  return fc.array(fc.tuple(fc.constantFrom(...STRUCTURAL), fc.nat()), { minLength: 1, maxLength: 2 }).map((cuts) => cuts.reduce(splice, token));
}

const TOKENS = ["example.org", "mail.example.com", "bob", "sales", "dmarc-reports", "sel1", "mx1", "store2", "relayuser", "relay-password-1", "zen.spamhaus.org", "_spf.example.net"];

describe("rendered files take config values as data only", () => {
  const baseline = outputs(baselineRaw());
  const baselineShapes = baseline.map((f) => shapes(f.content.split("\n")));
  const baselineText = baseline.map((f) => f.content).join("\n");

  for (const token of TOKENS) {
    it(`holds for any value in place of "${token}"`, () => {
      let accepted = 0;
      fc.assert(
        fc.property(fc.oneof(hostile, plausible, { arbitrary: splicedInto(token), weight: 4 }), (value) => {
          // Swapping back is exact only for a value that occurs nowhere else (not in a key's base64).
          fc.pre(!baselineText.includes(value) && !TOKENS.some((t) => t !== token && (t.includes(value) || value.includes(t))));
          // A hosted domain inside another hosted zone is delegated from it: more lines, by design.
          fc.pre(token !== "example.org" || !value.endsWith(".example.com"));
          let raw: Record<string, unknown>;
          try {
            raw = swap(baselineRaw(), token, value);
            parseFleetConfig(raw);
          } catch (error) {
            if (error instanceof ConfigError) return; // refused with a message: nothing rendered
            throw error;
          }
          accepted++;
          const files = outputs(raw);
          assert.equal(files.length, baseline.length, "a different number of files");
          files.forEach((f, i) => {
            // A host name also lands as a regexp pattern (the edge's SRS address table), its dots escaped.
            const back = (line: string) => line.split(hostNamePattern(value)).join(hostNamePattern(token)).split(value).join(token);
            const lines = f.content.split("\n").map((line) => (FQDN_RE.test(value) && FQDN_RE.test(token) ? back(line) : line.split(value).join(token)));
            assert.deepEqual(shapes(lines), baselineShapes[i], `${f.path} changed structure:\n${f.content}`);
            if (f.content.includes(value)) assert.doesNotMatch(value, structuralCharacters(f.path), `${JSON.stringify(value)} lands in ${f.path}`);
          });
        }),
        { numRuns: 200, seed: 20261123 },
      );
      assert.ok(accepted > 0, "no generated value was accepted, so nothing was rendered");
    });
  }
});
