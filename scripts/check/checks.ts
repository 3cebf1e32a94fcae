/**
 * The deliverability checks: the stack's expected record set against what DNS answers and what the
 * MX hosts and the MTA-STS host serve. Every failure names the fix. The network is reached only
 * through Probes, so the same code runs against a hand-written zone in the unit tests.
 *
 * RUNNERS below is the index: each check, and the module of its concern (dnssec, names,
 * authentication, transport, reputation, backup). A check makes its lines with the helpers of result.ts.
 */
import { checkBackup } from "./backup";
import { checkDnssec } from "./dnssec";
import { checkDkim, checkDmarc, checkSpf, checkTlsRpt } from "./authentication";
import { Expected } from "./expect";
import { checkAddresses, checkCnames, checkMx, checkPtr, checkSrv } from "./names";
import { Probes } from "./probes";
import { checkDnsbl } from "./reputation";
import { CheckName, CHECKS, CheckResult, guarded } from "./result";
import { checkMtaSts, checkStartTls, checkTls } from "./transport";

/** Every check, in the order of CHECKS; the module of its concern after each. */
const RUNNERS: Record<CheckName, (e: Expected, p: Probes) => Promise<CheckResult[]>> = {
  dnssec: checkDnssec, // dnssec: each zone's chain of trust from the trust anchor, by delv
  mx: checkMx, // names: each domain's MX, all at one priority
  address: checkAddresses, // names: A/AAAA of every host and service name
  cname: checkCnames, // names
  srv: checkSrv, // names
  ptr: checkPtr, // names: PTR and FCrDNS of every host address
  spf: checkSpf, // authentication: every domain and HELO name
  dkim: checkDkim, // authentication: every selector of every domain
  dmarc: checkDmarc, // authentication
  "mta-sts": checkMtaSts, // transport: the policy each edge serves over HTTPS, after the TXT (authentication)
  "tls-rpt": checkTlsRpt, // authentication
  starttls: checkStartTls, // transport: port 25 of every MX, certificates
  tls: checkTls, // transport: every client TLS endpoint, certificates
  dnsbl: checkDnsbl, // reputation: every sending address in each DNSBL
  backup: checkBackup, // backup: each store's newest snapshot, over SSH
};

/** Every check not skipped, in a fixed order (the order of CHECKS). */
export async function runChecks(expected: Expected, probes: Probes, skip: ReadonlySet<CheckName> = new Set()): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const name of CHECKS) {
    if (!skip.has(name)) out.push(...(await guarded(name, "-", () => RUNNERS[name](expected, probes))));
  }
  return out;
}
