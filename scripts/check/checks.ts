/**
 * The deliverability checks: the stack's expected record set against what DNS answers and what the
 * MX hosts and the MTA-STS host serve. Every failure names the fix. The network is reached only
 * through Probes, so the same code runs against a hand-written zone in the unit tests.
 *
 * The table below is the index: each check, in the order of CHECKS, and the module of its concern.
 */
import { checkBackup } from "./backup";
import { checkDkim, checkDmarc, checkSpf, checkTlsRpt } from "./authentication";
import { Expected } from "./expect";
import { checkAddresses, checkCnames, checkMx, checkPtr, checkSrv } from "./names";
import { Probes } from "./probes";
import { checkDnsbl } from "./reputation";
import { CheckName, CHECKS, CheckResult, guarded } from "./result";
import { checkMtaSts, checkStartTls, checkTls } from "./transport";

const RUNNERS: Record<CheckName, (e: Expected, p: Probes) => Promise<CheckResult[]>> = {
  // names and addresses
  mx: checkMx,
  address: checkAddresses,
  cname: checkCnames,
  srv: checkSrv,
  ptr: checkPtr,
  // authentication records
  spf: checkSpf,
  dkim: checkDkim,
  dmarc: checkDmarc,
  // transport: the TXT (authentication) and the policy served over HTTPS
  "mta-sts": checkMtaSts,
  // authentication records
  "tls-rpt": checkTlsRpt,
  // transport and certificates
  starttls: checkStartTls,
  tls: checkTls,
  // reputation
  dnsbl: checkDnsbl,
  backup: checkBackup,
};

/** Every check not skipped, in a fixed order (the order of CHECKS). */
export async function runChecks(expected: Expected, probes: Probes, skip: ReadonlySet<CheckName> = new Set()): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const name of CHECKS) {
    if (!skip.has(name)) out.push(...(await guarded(name, "-", () => RUNNERS[name](expected, probes))));
  }
  return out;
}
