/**
 * Reputation: every sending address looked up in each DNSBL zone (RFC 5782); a listing names the
 * zone's reason and the way out.
 */
import { addressesOf, Expected } from "./expect";
import { dnsblQuery } from "../../components/records";
import { dnsblVerdict } from "./parse";
import { Probes } from "./probes";
import { CheckResult, each, fail, Finding, line, merge, warn } from "./result";

export async function checkDnsbl(e: Expected, p: Probes): Promise<CheckResult[]> {
  if (e.dnsbls.length === 0) return [line("dnsbl", "-", warn("no DNSBL zones to check", "set mailfleet:spam.dnsbls or pass --dnsbl <zone>"))];
  const sending = e.topology.hosts.filter((h) => h.sends).flatMap((host) => addressesOf(e, host).map((address) => ({ host, address })));
  return each("dnsbl", sending, ({ address }) => address, async ({ host, address }) => {
    const findings: Finding[] = [];
    for (const zone of e.dnsbls) {
      const verdict = dnsblVerdict(await p.dns.a(dnsblQuery(address, zone)));
      if ("unknown" in verdict) findings.push(warn(`${zone}: ${verdict.unknown}`));
      else if (verdict.listed) {
        const reason = (await p.dns.txt(dnsblQuery(address, zone)))[0];
        findings.push(
          fail(
            `listed in ${zone} (${verdict.codes.join(", ")}${reason ? `: ${reason}` : ""}): receivers using it reject mail from ${host.fqdn}`,
            `find out why (open relay? a compromised account?), stop it, then request delisting from ${zone}`,
          ),
        );
      }
    }
    return merge(findings, `${host.fqdn} not listed in ${e.dnsbls.join(", ")}`);
  });
}
