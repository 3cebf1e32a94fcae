/**
 * Names and addresses: each domain's MX (exactly the edge hosts, at one priority), the A/AAAA of
 * every host and service name, the CNAMEs and SRV records, and the PTR of every host address (its
 * HELO name, which resolves back: FCrDNS).
 */
import { isIPv4 } from "node:net";
import { reverseDnsPlan } from "../../components/compute/nextSteps";
import { DnsRecord, RecordSet } from "../../components/records";
import { normalAddress } from "./dns";
import { Expected } from "./expect";
import { sameSet } from "./parse";
import { Probes } from "./probes";
import { CheckResult, each, fail, Finding, line, merge, pass, perDomain, warn } from "./result";

function recordsNamed(recordSet: RecordSet, type: DnsRecord["type"]): Map<string, DnsRecord[]> {
  const map = new Map<string, DnsRecord[]>();
  for (const r of recordSet.records.filter((r) => r.type === type)) map.set(r.name, [...(map.get(r.name) ?? []), r]);
  return map;
}

/** A/AAAA of every host and service name: exactly the published addresses. */
export async function checkAddresses(e: Expected, p: Probes): Promise<CheckResult[]> {
  const names = new Set([...recordsNamed(e.recordSet, "A").keys(), ...recordsNamed(e.recordSet, "AAAA").keys()]);
  return each("address", names, (name) => name, async (name) => {
    const want = e.recordSet.records.flatMap((r) => (r.name === name && (r.type === "A" || r.type === "AAAA") ? [normalAddress(r.address)] : []));
    const have = [...(await p.dns.a(name)), ...(await p.dns.aaaa(name))];
    const missing = want.filter((a) => !have.includes(a));
    const extra = have.filter((a) => !want.includes(a));
    if (missing.length === 0 && extra.length === 0) return pass(want.join(", "));
    const type = (a: string) => (isIPv4(a) ? "A" : "AAAA");
    return fail(
      [missing.length ? `missing ${missing.join(", ")}` : "", extra.length ? `unexpected ${extra.join(", ")}` : ""].filter((x) => x).join("; "),
      [...missing.map((a) => `publish ${name} ${type(a)} ${a}`), ...extra.map((a) => `remove ${name} ${type(a)} ${a}`)].join("; "),
    );
  });
}

export async function checkCnames(e: Expected, p: Probes): Promise<CheckResult[]> {
  return each("cname", recordsNamed(e.recordSet, "CNAME"), ([name]) => name, async ([name, records]) => {
    const target = records[0].type === "CNAME" ? records[0].target : "";
    const have = await p.dns.cname(name);
    return have.length === 1 && have[0] === target
      ? pass(`→ ${target}`)
      : fail(have.length ? `points to ${have.join(", ")}` : "no CNAME", `publish ${name} CNAME ${target}`);
  });
}

export async function checkSrv(e: Expected, p: Probes): Promise<CheckResult[]> {
  const text = (s: { priority: number; weight: number; port: number; target: string }) => `${s.priority} ${s.weight} ${s.port} ${s.target}`;
  return each("srv", recordsNamed(e.recordSet, "SRV"), ([name]) => name, async ([name, records]) => {
    const want = records.map((r) => (r.type === "SRV" ? text(r) : ""));
    const have = (await p.dns.srv(name)).map(text);
    return sameSet(want, have)
      ? pass(want.join(", "))
      : warn(have.length ? `is ${have.join(", ")}` : "no SRV record", `publish ${name} SRV ${want.join(" and ")} (mail clients use it to find the servers)`);
  });
}

/** MX of every domain: exactly the edge hosts, all at one priority so senders spread over them. */
export async function checkMx(e: Expected, p: Probes): Promise<CheckResult[]> {
  return perDomain("mx", e, async (domain) => {
    const want = e.recordSet.records.flatMap((r) => (r.type === "MX" && r.name === domain ? [r] : []));
    const wantText = want.map((r) => `${r.priority} ${r.exchange}`).join(", ");
    const have = await p.dns.mx(domain);
    const fix = `publish exactly: ${want.map((r) => `${domain} MX ${r.priority} ${r.exchange}`).join(", ")}`;
    if (have.length === 0) return fail("no MX record: senders fall back to the domain's A record or bounce", fix);
    const findings: Finding[] = [];
    const missing = want.filter((w) => !have.some((h) => h.exchange === w.exchange));
    const extra = have.filter((h) => !want.some((w) => w.exchange === h.exchange));
    if (missing.length) findings.push(fail(`missing ${missing.map((m) => m.exchange).join(", ")}`, fix));
    if (extra.length) findings.push(fail(`unexpected ${extra.map((m) => `${m.priority} ${m.exchange}`).join(", ")}`, fix));
    const priorities = [...new Set(have.map((h) => h.priority))];
    if (priorities.length > 1) {
      findings.push(
        fail(
          `priorities differ (${have.map((h) => `${h.priority} ${h.exchange}`).join(", ")}): senders use the higher numbers ` +
            "only when the lowest fails, so the edge hosts do not share the load",
          fix,
        ),
      );
    }
    for (const h of have) {
      if ((await p.dns.cname(h.exchange)).length > 0) findings.push(fail(`${h.exchange} is a CNAME, which RFC 2181 §10.3 forbids for an MX target`, fix));
    }
    return merge(findings, have.map((h) => `${h.priority} ${h.exchange}`).join(", ") || wantText);
  });
}

function ptrFix(e: Expected, address: string, name: string): string {
  const { spec } = e.topology;
  if (spec.compute === "aws")
    return (
      `set the reverse DNS of Elastic IP ${address} to ${name} ` +
      `(aws ec2 modify-address-attribute --domain-name ${name}; AWS checks that ${name} resolves to it first)`
    );
  if (spec.dns === "zone") return `publish the PTR ${address} → ${name} in the reverse zone, and make sure the reverse zone is delegated to your nameservers`;
  return `ask the provider of ${address} to set its reverse DNS to ${name}`;
}

/** PTR of every host address: the host's name (its HELO name), which resolves back (FCrDNS). */
export async function checkPtr(e: Expected, p: Probes): Promise<CheckResult[]> {
  const reverse = reverseDnsPlan(e);
  // Addresses the backend cannot give a PTR (IPv6 on AWS): the hosts do not send from them.
  const none = reverse.none.map((wish) => line("ptr", wish.address, pass(`no PTR expected: ${reverse.noneWhy}`)));
  const set = await each("ptr", reverse.set, (wish) => wish.address, async (wish) => {
    const host = e.topology.hosts.find((h) => h.name === wish.host);
    // Receivers judge senders by FCrDNS; for a host that never sends, a wrong PTR is only untidy.
    const severity = host?.sends ? fail : warn;
    const names = await p.dns.ptr(wish.address);
    const fix = ptrFix(e, wish.address, wish.name);
    if (names.length === 0) return severity(`no PTR (should be ${wish.name}); many receivers reject mail from addresses without reverse DNS`, fix);
    if (!names.includes(wish.name)) return severity(`PTR is ${names.join(", ")}, not the HELO name ${wish.name}`, fix);
    const forward = isIPv4(wish.address) ? await p.dns.a(wish.name) : await p.dns.aaaa(wish.name);
    if (!forward.includes(normalAddress(wish.address)))
      return severity(`${wish.name} does not resolve back to ${wish.address} (FCrDNS fails)`, `publish ${wish.name} ${isIPv4(wish.address) ? "A" : "AAAA"} ${wish.address}`);
    if (names.length > 1) return warn(`several PTR records (${names.join(", ")}); receivers pick one at random`, `keep only ${wish.name}`);
    return pass(`${wish.name}, which resolves back (FCrDNS)`);
  });
  return [...none, ...set];
}
