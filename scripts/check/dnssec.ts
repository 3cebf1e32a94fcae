/**
 * The chain of trust of every zone the fleet publishes, as a validating resolver judges it: BIND's
 * `delv` (Node's resolver cannot ask for DS or DNSKEY) validates each zone's SOA from the trust anchor
 * (the real root's, built into delv, or the operator's own with --trust-anchor) down through each
 * parent's DS. The verdict is judged against the stack's `dnssec` setting: signed zones need their DS
 * at the parent; with `dnssec: false` a DS left at the parent is what breaks the zone.
 */
import { zoneFiles } from "../../components/records";
import { Expected } from "./expect";
import { DelvRun, Probes } from "./probes";
import { CheckResult, each, fail, Finding, line, pass, warn } from "./result";

/** What delv made of a zone's SOA. `said`: delv's own words, for the line's detail. */
export type Chain =
  | { verdict: "valid" }
  /** Provably unsigned: no DS at the parent (or above it). */
  | { verdict: "insecure" }
  /** The zone does not exist below the anchor: not delegated. */
  | { verdict: "absent"; said: string }
  /** The records do not validate against the parent's DS. */
  | { verdict: "bogus"; said: string }
  /** delv got no answer to judge (resolver unreachable, bad trust anchor file). */
  | { verdict: "unresolved"; said: string };

/** delv's reasons that mean the data came but does not validate (lib/dns/validator.c, resolver.c). */
const BOGUS = /broken trust chain|insecurity proof failed|no valid (signature|DS|KEY)|bogus|must-be-secure/;

/**
 * delv's verdict from its output (stderr and stdout together): its first answer line says
 * "; fully validated", "; unsigned answer" or "; negative response, …"; without an answer,
 * ";; resolution failed: <reason>", after ";; validating <name>/<type>: <why>" lines when validation failed.
 */
export function parseDelv(output: string): Chain {
  const lines = output.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  if (lines.includes("; fully validated")) return { verdict: "valid" };
  if (lines.includes("; unsigned answer")) return { verdict: "insecure" };
  const negative = lines.find((l) => l.startsWith("; negative response"));
  if (negative) return { verdict: "absent", said: negative.slice(2) };
  const failed = lines.find((l) => l.startsWith(";; resolution failed: "));
  const words = (l: string) => l.replace(/^;+\s*/, "");
  const validating = lines.filter((l) => /^;;\s+validating /.test(l));
  if (failed && (validating.length > 0 || BOGUS.test(failed))) return { verdict: "bogus", said: [...validating, failed].map(words).join("; ") };
  return { verdict: "unresolved", said: lines.map(words).join("; ") || "no output" };
}

/** Every zone the fleet publishes: the forward zones, and the reverse zones where its own nameservers serve them (dns: zone). */
export function publishedZones(e: Expected): string[] {
  const spec = e.topology.spec;
  return spec.dns === "zone" ? zoneFiles(e.recordSet, spec).map((z) => z.origin) : spec.dnsZones;
}

const isReverse = (zone: string) => /\.(in-addr|ip6)\.arpa$/.test(zone);

/** Where a zone's DS goes: its registrar, or for a reverse zone whoever delegates the addresses. */
const parentOf = (zone: string) => (isReverse(zone) ? `whoever delegates ${zone} to you (your address provider)` : `${zone}'s registrar`);

/** One zone's line from delv's verdict, judged against the stack's dnssec setting. */
export function chainFinding(zone: string, chain: Chain, dnssec: boolean): Finding {
  const ds = `the DS from the stack output \`dnssecDs\` (\`pulumi stack output dnssecDs\`; on a Knot nameserver \`keymgr ${zone} ds\`)`;
  const twoStep = `remove ${zone}'s DS at ${parentOf(zone)} and let its TTL pass twice before signing stops (README: Signed zones, turning it off)`;
  switch (chain.verdict) {
    case "valid":
      return dnssec
        ? pass("signed, chain of trust valid from the trust anchor")
        : fail("signed, with a DS at the parent, but the stack says dnssec: false: once signing stops the zone is bogus", twoStep);
    case "insecure":
      if (!dnssec) return pass("unsigned, no DS at the parent (dnssec: false)");
      // Nothing in mail rests on a signed PTR; DANE rests on the forward zones' TLSA.
      return (isReverse(zone) ? warn : fail)(
        `the parent has no DS for ${zone}: validating resolvers take it as unsigned${isReverse(zone) ? "" : ", and DANE senders ignore its TLSA records"}`,
        `publish ${ds} at ${parentOf(zone)}; with dns: zone then run \`knotc zone-ksk-submitted ${zone}\` on the primary`,
      );
    case "bogus":
      return dnssec
        ? fail(`bogus: ${chain.said}`, `the parent's DS does not match ${zone}'s key: replace the DS at ${parentOf(zone)} with ${ds}`)
        : fail(`bogus: ${chain.said}: the parent still has a DS for a zone dnssec: false leaves unsigned`, `remove ${zone}'s DS at ${parentOf(zone)} now: until then validating resolvers answer SERVFAIL for every name in it`);
    case "absent":
      return fail(`${zone} does not exist from the trust anchor down (delv: ${chain.said})`, `delegate ${zone} to the nameservers that serve it at ${parentOf(zone)}`);
    case "unresolved":
      return fail(`delv could not resolve ${zone}: ${chain.said}`, "give delv a recursive resolver that answers (--resolver <ip>, else the system's); with --trust-anchor, a readable trust-anchors file");
  }
}

/** The delv probe's answer, or why there is none. */
function chainOf(run: DelvRun): Chain {
  if ("output" in run) return parseDelv(run.output);
  return { verdict: "unresolved", said: "missing" in run ? DELV_MISSING : run.error };
}

const DELV_MISSING = "delv not found: the chain of trust is not checked";
const DELV_INSTALL = "install delv: Debian/Ubuntu bind9-dnsutils, Fedora/RHEL bind-utils, Homebrew bind";

/** One line per published zone; without delv on this machine, one warning that says where to get it. */
export async function checkDnssec(e: Expected, p: Probes): Promise<CheckResult[]> {
  const delv = p.delv;
  if (!delv) return [];
  const zones = publishedZones(e);
  // One zone first: without delv every other run would say the same.
  const first = await delv(zones[0]);
  if ("missing" in first) return [line("dnssec", "-", warn(DELV_MISSING, DELV_INSTALL))];
  return each("dnssec", zones, (zone) => zone, async (zone) => chainFinding(zone, chainOf(zone === zones[0] ? first : await delv(zone)), e.topology.spec.dnssec));
}
